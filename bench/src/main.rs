//! `threadline-bench`: generate a benchmark dataset (`seed`), run the workloads against a
//! gateway on it (`run`), or both on a fresh database at the `small` scale (`smoke`, for CI).

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use threadline_bench::{database, scale::Scale, seed};

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
}

fn parse_scale(name: &str) -> Result<Scale, String> {
    Scale::named(name).ok_or_else(|| format!("no scale {name:?}: use small, standard or large"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
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
            let seeded = seed::seed(&db, scale, seed).await?;
            for (table, rows) in &seeded.rows {
                println!("  {table:<24} {rows:>10}");
            }
            println!("done in {:.1?}", seeded.elapsed);
            Ok(())
        }
    }
}
