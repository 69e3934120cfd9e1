//! The load driver: for each workload, the gateway and the baseline side by side, in
//! alternating rounds (so that whatever else the shared machine does falls on both), with the
//! gateway's statements per request, CPU seconds and peak memory, and the database's and the
//! driver's own CPU seconds.

use std::{
    collections::HashMap,
    future::Future,
    path::PathBuf,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{DatabaseConnection, DbBackend};
use serde_json::json;

use crate::{
    database,
    gateway::Gateway,
    load::{self, Operation, Outcome, Sample, Stop},
    plan::{Marks, Plan},
    procfs,
    rng::Rng,
    workload::Workload,
};

/// Which gateway to measure.
#[derive(Clone, Debug)]
pub enum Target {
    /// Start this `threadline` binary on the dataset's database.
    Spawn(PathBuf),
    /// One already running at this URL (with its process id when it runs here).
    Attach {
        /// `http://host:port`.
        url: String,
        /// Its process id, for CPU and memory.
        pid: Option<u32>,
    },
}

/// How to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// The dataset's database.
    pub database_url: String,
    /// The gateway.
    pub target: Target,
    /// Concurrent clients (each with its own keep-alive connection).
    pub clients: usize,
    /// How long (or how many requests) each side of each workload runs, over all rounds.
    pub stop: Stop,
    /// Rounds the gateway and the baseline alternate in.
    pub rounds: usize,
    /// Requests per side before measuring (not counted, but their errors are).
    pub warmup: u64,
    /// The workloads to run.
    pub workloads: Vec<Workload>,
    /// The seed requests draw their variables with.
    pub seed: u64,
}

/// The measures of one side of a workload.
#[derive(Clone, Debug, Default)]
pub struct Measure {
    /// Latencies, errors and wall time.
    pub sample: Sample,
    /// SQL statements per request.
    pub statements_per_request: Option<f64>,
    /// The gateway's CPU seconds while this side ran.
    pub gateway_cpu: Option<f64>,
    /// PostgreSQL's CPU seconds while this side ran (local server only).
    pub database_cpu: Option<f64>,
    /// The driver's own CPU seconds while this side ran.
    pub driver_cpu: Option<f64>,
    /// The gateway's largest resident memory while this side ran, KiB.
    pub gateway_peak_rss_kib: Option<u64>,
}

/// One workload's result.
#[derive(Clone, Debug)]
pub struct Row {
    /// The workload.
    pub workload: Workload,
    /// Through the gateway.
    pub gateway: Measure,
    /// The same data with plain SQL.
    pub baseline: Option<Measure>,
}

impl Row {
    /// Gateway throughput over baseline throughput.
    pub fn ratio(&self) -> Option<f64> {
        let base = self.baseline.as_ref()?.sample.throughput();
        (base > 0.0).then(|| self.gateway.sample.throughput() / base)
    }

    /// Errors on both sides.
    pub fn errors(&self) -> u64 {
        self.gateway.sample.errors + self.baseline.as_ref().map_or(0, |b| b.sample.errors)
    }
}

/// A whole run's results.
#[derive(Clone, Debug)]
pub struct Report {
    /// Per workload.
    pub rows: Vec<Row>,
    /// `SQLite` or `PostgreSQL`.
    pub database: &'static str,
    /// The dataset as recorded by the generator.
    pub dataset: Option<String>,
    /// Concurrent clients.
    pub clients: usize,
    /// Rounds per workload.
    pub rounds: usize,
    /// The gateway's statements per second while idle (background jobs), subtracted.
    pub idle_statements_per_second: f64,
    /// The gateway's peak resident memory over the whole run (`VmHWM`), KiB.
    pub gateway_peak_rss_kib: Option<u64>,
    /// Processors online and the load average when the run started.
    pub machine: String,
}

impl Report {
    /// Errors over every workload and side.
    pub fn errors(&self) -> u64 {
        self.rows.iter().map(Row::errors).sum()
    }
}

/// Requests through the gateway: one HTTP client (one keep-alive connection) per load client.
struct GatewayOp {
    workload: Workload,
    plan: Arc<Plan>,
    tokens: Arc<HashMap<i64, String>>,
    url: String,
    clients: Vec<reqwest::Client>,
}

impl Operation for GatewayOp {
    fn call<'a>(
        &'a self,
        client: usize,
        rng: &'a mut Rng,
    ) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>> {
        Box::pin(async move {
            let draw = self.workload.draw(&self.plan, rng);
            let (query, operation) = self.workload.document();
            let body = json!({
                "query": query,
                "operationName": operation,
                "variables": self.workload.variables(&draw),
            });
            let token = self
                .tokens
                .get(&draw.user.id)
                .ok_or_else(|| format!("no token for user {}", draw.user.id))?;
            let response = self.clients[client % self.clients.len()]
                .post(&self.url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .map_err(|e| format!("{}: {e}", self.workload.key()))?;
            let status = response.status();
            let bytes = response
                .bytes()
                .await
                .map_err(|e| format!("{}: {e}", self.workload.key()))?;
            let answer: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| format!("{}: HTTP {status}, not JSON: {e}", self.workload.key()))?;
            if let Some(errors) = answer.get("errors").filter(|e| !e.is_null()) {
                return Err(format!("{}: HTTP {status}: {errors}", self.workload.key()));
            }
            if !status.is_success() {
                return Err(format!("{}: HTTP {status}", self.workload.key()));
            }
            self.workload.check(&answer["data"], &draw)?;
            Ok(0)
        })
    }
}

/// The same data with plain SQL on the driver's own pool (the gateway's pool settings).
struct BaselineOp {
    workload: Workload,
    plan: Arc<Plan>,
    db: DatabaseConnection,
}

impl Operation for BaselineOp {
    fn call<'a>(
        &'a self,
        _client: usize,
        rng: &'a mut Rng,
    ) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>> {
        Box::pin(async move {
            let draw = self.workload.draw(&self.plan, rng);
            self.workload.baseline(&self.db, &draw).await
        })
    }
}

/// CPU readings of the gateway, the database server and the driver.
#[derive(Clone, Copy)]
struct Cpu {
    gateway: Option<f64>,
    database: Option<f64>,
    driver: Option<f64>,
}

impl Cpu {
    fn now(gateway: Option<&str>, postgres: bool) -> Self {
        Self {
            gateway: gateway.and_then(procfs::cpu_seconds),
            // SQLite runs inside the gateway or the driver: its time is theirs.
            database: postgres.then(procfs::postgres_cpu_seconds).flatten(),
            driver: procfs::cpu_seconds("self"),
        }
    }
}

fn add(total: &mut Option<f64>, before: Option<f64>, after: Option<f64>) {
    if let (Some(a), Some(b)) = (before, after) {
        *total = Some(total.unwrap_or(0.0) + (b - a).max(0.0));
    }
}

/// Runs `op` once with the CPU and memory of the processes involved recorded into `into`.
async fn measured(
    op: Arc<dyn Operation>,
    clients: usize,
    stop: Stop,
    seed: u64,
    gateway_pid: Option<&str>,
    postgres: bool,
    into: &mut Measure,
) {
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = gateway_pid.map(|pid| {
        let (pid, peak, done) = (pid.to_owned(), peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if let Some(rss) = procfs::rss_kib(&pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    });
    let before = Cpu::now(gateway_pid, postgres);
    let sample = load::run(op, clients, stop, seed).await;
    let after = Cpu::now(gateway_pid, postgres);
    done.store(true, Ordering::Relaxed);
    if let Some(sampler) = sampler {
        let _ = sampler.await;
        let rss = peak.load(Ordering::Relaxed);
        into.gateway_peak_rss_kib = Some(into.gateway_peak_rss_kib.unwrap_or(0).max(rss));
    }
    add(&mut into.gateway_cpu, before.gateway, after.gateway);
    add(&mut into.database_cpu, before.database, after.database);
    add(&mut into.driver_cpu, before.driver, after.driver);
    into.sample.merge(sample);
}

fn split(stop: Stop, rounds: usize) -> Stop {
    let rounds = rounds.max(1);
    match stop {
        Stop::After(d) => Stop::After(d / u32::try_from(rounds).unwrap_or(1)),
        Stop::Requests(n) => Stop::Requests((n / rounds as u64).max(1)),
    }
}

/// Runs the workloads of `options` and returns the report (printing progress as it goes).
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    let db = database::connect(&options.database_url).await?;
    let backend = db.get_database_backend();
    let postgres = backend == DbBackend::Postgres;
    let plan = Arc::new(Plan::load(&db).await?);
    // Tokens as `threadline token` makes them: the configured secret, or the database's.
    let config = threadline::config::Config::from_lookup(|name| std::env::var(name).ok())?;
    let keys = threadline::startup::token_keys(&config, &db).await?;
    let tokens: Arc<HashMap<i64, String>> = Arc::new(
        plan.users()
            .map(|u| {
                (
                    u.id,
                    keys.issue(u.id, u.org_id, Duration::from_secs(86_400)),
                )
            })
            .collect(),
    );
    let gateway = match &options.target {
        Target::Spawn(binary) => Gateway::spawn(binary, &options.database_url).await?,
        Target::Attach { url, pid } => Gateway::attach(url, *pid).await?,
    };
    let pid = gateway.proc_id();
    let machine = machine();

    // What reading the counter costs, and what the background jobs run while nothing else
    // does: both come off the statements counted for a workload.
    let scrape_cost = gateway.scrape_cost().await?;
    let idle_from = gateway.statements().await?;
    let idle_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_to = gateway.statements().await?;
    let idle_rate = (idle_to.saturating_sub(idle_from + scrape_cost)) as f64
        / idle_started.elapsed().as_secs_f64();

    let http: Vec<reqwest::Client> = (0..options.clients)
        .map(|_| {
            reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .tcp_nodelay(true)
                .build()
        })
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for (index, &workload) in options.workloads.iter().enumerate() {
        let seed = options.seed.wrapping_add(index as u64 * 7_919);
        let through_gateway: Arc<dyn Operation> = Arc::new(GatewayOp {
            workload,
            plan: plan.clone(),
            tokens: tokens.clone(),
            url: gateway.graphql_url(),
            clients: http.clone(),
        });
        let baseline: Option<Arc<dyn Operation>> = workload.has_baseline().then(|| {
            Arc::new(BaselineOp {
                workload,
                plan: plan.clone(),
                db: db.clone(),
            }) as Arc<dyn Operation>
        });
        let mut row = Row {
            workload,
            gateway: Measure::default(),
            baseline: baseline.as_ref().map(|_| Measure::default()),
        };

        // What a writing workload adds is removed afterwards: every run meets the dataset as
        // generated.
        let marks = if workload.writes() {
            Some(Marks::take(&db).await?)
        } else {
            None
        };

        // Warm up both sides (errors count; latencies do not).
        let warm = load::run(
            through_gateway.clone(),
            options.clients,
            Stop::Requests(options.warmup),
            seed ^ 1,
        )
        .await;
        row.gateway.sample.errors += warm.errors;
        row.gateway
            .sample
            .error_examples
            .extend(warm.error_examples);
        if let (Some(op), Some(measure)) = (&baseline, &mut row.baseline) {
            let warm = load::run(
                op.clone(),
                options.clients,
                Stop::Requests(options.warmup),
                seed ^ 1,
            )
            .await;
            measure.sample.errors += warm.errors;
            measure.sample.error_examples.extend(warm.error_examples);
        }

        // Statements per request: 20 requests one after another between two readings.
        let before = gateway.statements().await?;
        let started = Instant::now();
        let exact = load::run(through_gateway.clone(), 1, Stop::Requests(20), seed ^ 2).await;
        let after = gateway.statements().await?;
        let background = idle_rate * started.elapsed().as_secs_f64();
        row.gateway.statements_per_request = Some(
            ((after.saturating_sub(before + scrape_cost)) as f64 - background).max(0.0)
                / exact.requests().max(1) as f64,
        );
        row.gateway.sample.errors += exact.errors;
        row.gateway
            .sample
            .error_examples
            .extend(exact.error_examples);

        let slice = split(options.stop, options.rounds);
        for round in 0..options.rounds.max(1) {
            let seed = seed.wrapping_add(round as u64 * 104_729);
            measured(
                through_gateway.clone(),
                options.clients,
                slice,
                seed,
                pid.as_deref(),
                postgres,
                &mut row.gateway,
            )
            .await;
            if let (Some(op), Some(measure)) = (&baseline, &mut row.baseline) {
                measured(
                    op.clone(),
                    options.clients,
                    slice,
                    seed,
                    None,
                    postgres,
                    measure,
                )
                .await;
            }
        }
        if let Some(measure) = &mut row.baseline {
            let requests = measure.sample.requests().max(1) as f64;
            measure.statements_per_request = Some(measure.sample.statements as f64 / requests);
        }
        println!("{}", progress(&row));
        if let Some(marks) = marks {
            let removed = marks.restore(&db).await?;
            println!("    (removed the {removed} rows it wrote)");
        }
        rows.push(row);
    }
    let peak = pid.as_deref().and_then(procfs::peak_rss_kib);
    drop(gateway);
    let _ = db.close().await;
    Ok(Report {
        rows,
        database: match backend {
            DbBackend::Postgres => "PostgreSQL",
            _ => "SQLite",
        },
        dataset: plan.dataset.clone(),
        clients: options.clients,
        rounds: options.rounds,
        idle_statements_per_second: idle_rate,
        gateway_peak_rss_kib: peak,
        machine,
    })
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    format!("{cpus} processors, load average {load} at the start")
}

fn progress(row: &Row) -> String {
    let g = &row.gateway.sample;
    let mut line = format!(
        "  {:<32} gateway {:>8.0} req/s p50 {:>7.2} ms p99 {:>7.2} ms errors {}",
        row.workload.title(),
        g.throughput(),
        ms(g.percentile(0.5)),
        ms(g.percentile(0.99)),
        g.errors
    );
    if let Some(b) = &row.baseline {
        line.push_str(&format!(
            " | baseline {:>8.0} req/s errors {} | ratio {:.2}",
            b.sample.throughput(),
            b.sample.errors,
            row.ratio().unwrap_or(0.0)
        ));
    }
    let examples = row.gateway.sample.error_examples.iter().chain(
        row.baseline
            .iter()
            .flat_map(|b| b.sample.error_examples.iter()),
    );
    for e in examples.take(3) {
        line.push_str(&format!("\n    error: {e}"));
    }
    line
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

fn per_request_ms(cpu: Option<f64>, sample: &Sample) -> String {
    match cpu {
        Some(s) if sample.requests() > 0 => {
            format!("{:.2}", s * 1_000.0 / sample.requests() as f64)
        }
        _ => "–".into(),
    }
}

impl Report {
    /// The results as a Markdown table, with a line that says what was measured where.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "{} · dataset {} · {} clients · {} rounds · {} · gateway idle: {:.1} statements/s · \
             gateway peak RSS (VmHWM) {}\n\n",
            self.database,
            self.dataset
                .as_deref()
                .unwrap_or("(not generated by threadline-bench)"),
            self.clients,
            self.rounds,
            self.machine,
            self.idle_statements_per_second,
            self.gateway_peak_rss_kib
                .map_or_else(|| "–".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
        );
        out.push_str(
            "| Workload | Side | Requests | Req/s | p50 ms | p99 ms | Errors | Statements/req | \
             Gateway CPU ms/req | DB CPU ms/req | Driver CPU ms/req | Gateway peak RSS MiB | \
             Gateway/baseline |\n",
        );
        out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        for row in &self.rows {
            let sides = std::iter::once(("gateway", &row.gateway))
                .chain(row.baseline.iter().map(|b| ("SQL", b)));
            for (side, m) in sides {
                let s = &m.sample;
                out.push_str(&format!(
                    "| {} | {side} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {} |\n",
                    row.workload.title(),
                    s.requests(),
                    s.throughput(),
                    ms(s.percentile(0.5)),
                    ms(s.percentile(0.99)),
                    s.errors,
                    m.statements_per_request
                        .map_or_else(|| "–".into(), |v| format!("{v:.1}")),
                    per_request_ms(m.gateway_cpu, s),
                    per_request_ms(m.database_cpu, s),
                    per_request_ms(m.driver_cpu, s),
                    m.gateway_peak_rss_kib
                        .map_or_else(|| "–".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
                    if side == "gateway" {
                        row.ratio().map_or_else(|| "–".into(), |r| format!("{r:.2}"))
                    } else {
                        String::new()
                    },
                ));
            }
        }
        for row in &self.rows {
            let examples = row.gateway.sample.error_examples.iter().chain(
                row.baseline
                    .iter()
                    .flat_map(|b| b.sample.error_examples.iter()),
            );
            for e in examples.take(3) {
                out.push_str(&format!("\nerror in {}: {e}", row.workload.title()));
            }
        }
        out
    }
}
