//! `threadline-bench`: generate a benchmark dataset (`seed`), run the workloads against a
//! gateway on it (`run`), or both on a fresh database at the `small` scale (`smoke`, for CI).

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use threadline_bench::{
    database::{self, Fresh},
    driver::{self, Options, Target},
    gateway,
    load::Stop,
    scale::{self, Scale},
    seed,
    workload::{self, Workload},
};

/// Threadline's benchmark suite (see BENCHMARKS.md).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate an empty database and fill it with the dataset of a named scale.
    Seed {
        /// The database (`sqlite://path?mode=rwc` or `postgres://...`), empty.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
        /// `small`, `standard` or `large`.
        #[arg(long, default_value = "standard", value_parser = parse_scale)]
        scale: Scale,
        /// The generator's seed: the same seed gives the same rows.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Run workloads against a gateway on a generated dataset, each beside its plain-SQL
    /// baseline; prints a Markdown table and fails when any request failed.
    Run {
        /// The dataset's database (generated with `seed`).
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// CI's smoke test: a fresh database (SQLite, or PostgreSQL with --postgres), the `small`
    /// dataset, every workload once for a few requests; fails on any error, times nothing.
    Smoke {
        /// A PostgreSQL server URL to create (and drop) the database on; SQLite without it.
        #[arg(long)]
        postgres: Option<String>,
        /// Requests per workload and side.
        #[arg(long, default_value_t = 64)]
        requests: u64,
        /// The `threadline` binary (default: the one next to this program).
        #[arg(long)]
        gateway_bin: Option<PathBuf>,
    },
}

#[derive(Args)]
struct LoadArgs {
    /// Workloads, comma-separated: typename, w1-owner, w1-member, w2, w3, w4, w5 (default:
    /// all).
    #[arg(long, value_delimiter = ',', value_parser = parse_workload)]
    workloads: Vec<Workload>,
    /// Concurrent clients, each with its own keep-alive connection.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// How long each side of each workload runs, over all rounds ("30s", "2m").
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Run this many requests per side instead of a duration.
    #[arg(long)]
    requests: Option<u64>,
    /// Rounds the gateway and the baseline alternate in.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Warm-up requests per side before measuring.
    #[arg(long, default_value_t = 256)]
    warmup: u64,
    /// The seed requests draw their variables with.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// The `threadline` binary to start (default: the one next to this program).
    #[arg(long, conflicts_with = "gateway_url")]
    gateway_bin: Option<PathBuf>,
    /// Measure a gateway already running here instead of starting one (it must use the same
    /// database, and the same THREADLINE_JWT_SECRET if one is set).
    #[arg(long)]
    gateway_url: Option<String>,
    /// The running gateway's process id (for its CPU and memory), with --gateway-url.
    #[arg(long, requires = "gateway_url")]
    gateway_pid: Option<u32>,
}

fn parse_scale(name: &str) -> Result<Scale, String> {
    Scale::named(name).ok_or_else(|| format!("no scale {name:?}: use small, standard or large"))
}

fn parse_workload(key: &str) -> Result<Workload, String> {
    Workload::parse(key).ok_or_else(|| {
        let keys: Vec<&str> = workload::ALL.iter().map(|w| w.key()).collect();
        format!("no workload {key:?}: use {}", keys.join(", "))
    })
}

/// Runs `work` until it ends or the process is asked to stop (Ctrl-C, SIGTERM): then `work`
/// is dropped, which stops the gateway it started, and the caller can still clean up.
async fn interruptible<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        result = work => result,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
        () = terminate => anyhow::bail!("terminated"),
    }
}

async fn run(options: &Options) -> anyhow::Result<()> {
    let report = interruptible(driver::run(options)).await?;
    println!();
    println!("{}", report.markdown());
    let errors = report.errors();
    if errors > 0 {
        anyhow::bail!(
            "{errors} request(s) failed: a benchmark counts only when every request succeeds"
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    database::init_tls();
    let cli = Cli::parse();
    match cli.command {
        Command::Seed {
            database_url,
            scale,
            seed,
        } => {
            let db = database::connect(&database_url)
                .await
                .context("connecting to the database")?;
            println!("generating {scale}, seed {seed}");
            let seeded = interruptible(seed::seed(&db, scale, seed)).await?;
            for (table, rows) in &seeded.rows {
                println!("  {table:<24} {rows:>10}");
            }
            println!("done in {:.1?}", seeded.elapsed);
            Ok(())
        }
        Command::Run { database_url, load } => {
            let target = match load.gateway_url {
                Some(url) => Target::Attach {
                    url,
                    pid: load.gateway_pid,
                },
                None => Target::Spawn(load.gateway_bin.unwrap_or_else(gateway::default_binary)),
            };
            let options = Options {
                database_url,
                target,
                clients: load.clients.max(1),
                stop: load
                    .requests
                    .map_or(Stop::After(load.duration), Stop::Requests),
                rounds: load.rounds.max(1),
                warmup: load.warmup,
                workloads: if load.workloads.is_empty() {
                    workload::ALL.to_vec()
                } else {
                    load.workloads
                },
                seed: load.seed,
            };
            run(&options).await
        }
        Command::Smoke {
            postgres,
            requests,
            gateway_bin,
        } => {
            let fresh = Fresh::create(postgres.as_deref()).await?;
            let outcome = async {
                let db = database::connect(&fresh.url).await?;
                let seeded = interruptible(seed::seed(&db, scale::SMALL, 1)).await?;
                let _ = db.close().await;
                println!("generated {} in {:.1?}", scale::SMALL, seeded.elapsed);
                let options = Options {
                    database_url: fresh.url.clone(),
                    target: Target::Spawn(gateway_bin.unwrap_or_else(gateway::default_binary)),
                    clients: 32,
                    stop: Stop::Requests(requests),
                    rounds: 1,
                    warmup: 32,
                    workloads: workload::ALL.to_vec(),
                    seed: 7,
                };
                run(&options).await
            }
            .await;
            fresh.remove().await?;
            outcome
        }
    }
}
