//! Logging set-up.

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the log subscriber: `RUST_LOG` when set, else info for Threadline and warnings
/// for the libraries (sqlx logs every statement at info).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,tower_http=warn"));
    let _ = fmt().with_env_filter(filter).with_target(false).try_init();
}
