//! The gateway under test: a real `threadline serve` process started on the dataset's
//! database (or one already running, given its URL), and its statement counter.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context as _;

/// A gateway the driver sends requests to.
pub struct Gateway {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its process id, when known (for CPU and memory).
    pub pid: Option<u32>,
    child: Option<Child>,
    _data: Option<tempfile::TempDir>,
    client: reqwest::Client,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `threadline` binary next to this one (both are built into the same target directory).
pub fn default_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("threadline")))
        .unwrap_or_else(|| PathBuf::from("threadline"))
}

impl Gateway {
    /// Starts `binary serve --no-demo` on `database_url` on a free loopback port, with its
    /// default settings (its JWT secret is the one stored in the database unless
    /// `THREADLINE_JWT_SECRET` is set, as for `threadline token`), and waits until it is
    /// healthy.
    pub async fn spawn(binary: &Path, database_url: &str) -> anyhow::Result<Self> {
        if !binary.exists() {
            anyhow::bail!(
                "no gateway binary at {}: build it first (cargo build --release --bin threadline), \
                 or pass --gateway-bin or --gateway-url",
                binary.display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let data = tempfile::Builder::new()
            .prefix("threadline-bench-data")
            .tempdir()?;
        let child = Command::new(binary)
            .args(["serve", "--no-demo"])
            .env("DATABASE_URL", database_url)
            .env("THREADLINE_LISTEN", format!("127.0.0.1:{port}"))
            .env("THREADLINE_DATA_DIR", data.path())
            .env(
                "RUST_LOG",
                std::env::var("BENCH_GATEWAY_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id();
        let mut gateway = Self {
            base: format!("http://127.0.0.1:{port}"),
            pid: Some(pid),
            child: Some(child),
            _data: Some(data),
            client: reqwest::Client::new(),
        };
        gateway.wait_ready(Duration::from_secs(120)).await?;
        Ok(gateway)
    }

    /// A gateway already running at `base` (`http://host:port`), with its process id when it
    /// runs on this machine (for CPU and memory).
    pub async fn attach(base: &str, pid: Option<u32>) -> anyhow::Result<Self> {
        let mut gateway = Self {
            base: base.trim_end_matches('/').to_owned(),
            pid,
            child: None,
            _data: None,
            client: reqwest::Client::new(),
        };
        gateway.wait_ready(Duration::from_secs(10)).await?;
        Ok(gateway)
    }

    async fn wait_ready(&mut self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(child) = &mut self.child
                && let Some(status) = child.try_wait()?
            {
                anyhow::bail!("the gateway exited at start-up ({status}); see its log above");
            }
            let healthy = self
                .client
                .get(format!("{}/healthz", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if healthy {
                return Ok(());
            }
            if Instant::now() >= deadline {
                anyhow::bail!("the gateway at {} did not become healthy", self.base);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `http://.../graphql`.
    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.base)
    }

    /// The process id as `/proc` names it.
    pub fn proc_id(&self) -> Option<String> {
        self.pid.map(|p| p.to_string())
    }

    /// The gateway's SQL statement counter (`threadline_sql_statements_total` on `/metrics`;
    /// reading it runs statements of its own, see [`Gateway::scrape_cost`]).
    pub async fn statements(&self) -> anyhow::Result<u64> {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        text.lines()
            .find_map(|l| l.strip_prefix("threadline_sql_statements_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
            .context("no threadline_sql_statements_total on /metrics")
    }

    /// Statements one read of the counter adds (the smallest step of three reads in a row).
    pub async fn scrape_cost(&self) -> anyhow::Result<u64> {
        let a = self.statements().await?;
        let b = self.statements().await?;
        let c = self.statements().await?;
        Ok((b - a).min(c - b))
    }
}
