//! Databases for the benchmark: connecting the way the gateway does, and making a fresh one
//! (a temporary SQLite file, or a PostgreSQL database created on a server and dropped after).

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// Installs the TLS crypto provider the database driver and HTTP client need (once).
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Connects to `url` as the gateway does (`threadline::db::connect`: the same pool size,
/// SQLite pragmas and driver), so the baseline's SQL meets the same connection set-up.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    init_tls();
    Ok(threadline::db::connect(url, Default::default(), Default::default()).await?)
}

/// A database made for one run: dropped (PostgreSQL) or deleted (SQLite) by [`Fresh::remove`].
pub struct Fresh {
    /// The database's URL.
    pub url: String,
    postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Fresh {
    /// A new empty database: on the PostgreSQL server of `postgres_admin_url` when given (a
    /// database named `bench_<random>`), else an SQLite file in a temporary directory.
    pub async fn create(postgres_admin_url: Option<&str>) -> anyhow::Result<Self> {
        init_tls();
        match postgres_admin_url.filter(|u| !u.trim().is_empty()) {
            Some(admin_url) => {
                let mut bytes = [0u8; 6];
                random_bytes(&mut bytes);
                let name = format!(
                    "bench_{}",
                    bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
                );
                let admin = Database::connect(admin_url).await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await?;
                let _ = admin.close().await;
                let base = admin_url.split('?').next().unwrap_or(admin_url);
                let (server, _) = base
                    .rsplit_once('/')
                    .ok_or_else(|| anyhow::anyhow!("{admin_url} names no database"))?;
                Ok(Self {
                    url: format!("{server}/{name}"),
                    postgres: Some((admin_url.to_owned(), name)),
                    _dir: None,
                })
            }
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("threadline-bench")
                    .tempdir()?;
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                );
                Ok(Self {
                    url,
                    postgres: None,
                    _dir: Some(dir),
                })
            }
        }
    }

    /// Drops the PostgreSQL database (closing its connections) or deletes the SQLite file.
    pub async fn remove(self) -> anyhow::Result<()> {
        if let Some((admin_url, name)) = &self.postgres {
            let admin = Database::connect(admin_url).await?;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await?;
            let _ = admin.close().await;
        }
        Ok(())
    }
}

/// Random bytes for a database name: the clock and the process id are enough to keep two
/// runs on one server apart, without another dependency.
fn random_bytes(buf: &mut [u8]) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut rng = crate::rng::Rng::new(nanos as u64, u64::from(std::process::id()));
    for b in buf {
        *b = rng.next_u64() as u8;
    }
}
