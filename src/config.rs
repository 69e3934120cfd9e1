//! Configuration from the environment, with defaults that work on a fresh machine.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

/// The default database: an SQLite file in the working directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://threadline.db?mode=rwc";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default data directory (attachments and other files).
pub const DEFAULT_DATA_DIR: &str = "threadline-data";
/// The default largest attachment: 25 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 25 * 1024 * 1024;
/// The default largest JSON request body: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1024 * 1024;
/// The default largest WebSocket message (and frame): 64 KiB.
pub const DEFAULT_WS_MAX_MESSAGE_BYTES: u64 = 64 * 1024;
/// The default number of WebSocket connections one user may hold open on one gateway process.
pub const DEFAULT_WS_MAX_SOCKETS_PER_USER: u64 = 20;
/// The default number of multipart requests (uploads) one user may have in flight on one
/// gateway process.
pub const DEFAULT_MAX_CONCURRENT_UPLOADS_PER_USER: u64 = 2;
/// The default time a client has to send a request's headers: 10 s.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// The default number of connections served at once: 4,096.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 4096;
/// The largest `THREADLINE_MAX_UPLOAD_BYTES` accepted: 4 GiB.
pub const MAX_UPLOAD_BYTES_LIMIT: u64 = 4 * 1024 * 1024 * 1024;
/// The default upload quota of one organization: 5 GiB of attachments.
pub const DEFAULT_ORG_UPLOAD_QUOTA_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// The default time between two sweeps of unreferenced attachment files: an hour.
pub const DEFAULT_ATTACHMENT_SWEEP_SECS: u64 = 3600;
/// The default age an unreferenced attachment file must reach before a sweep removes it: an
/// hour.
pub const DEFAULT_ATTACHMENT_SWEEP_GRACE_SECS: u64 = 3600;

/// Everything the gateway reads from its environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// `DATABASE_URL`: `sqlite://...` (default) or `postgres://...`.
    pub database_url: String,
    /// `THREADLINE_LISTEN`: the HTTP listen address.
    pub listen: SocketAddr,
    /// `THREADLINE_JWT_SECRET`: the HS256 secret; generated and kept in the database when unset.
    pub jwt_secret: Option<String>,
    /// `THREADLINE_DATA_DIR`: where files (attachments) are kept.
    pub data_dir: PathBuf,
    /// `THREADLINE_MAX_UPLOAD_BYTES`: the largest attachment accepted (default 25 MiB).
    pub max_upload_bytes: u64,
    /// `THREADLINE_ORG_UPLOAD_QUOTA_BYTES`: the most bytes of attachments one organization may
    /// keep (default 5 GiB).
    pub org_upload_quota_bytes: u64,
    /// `THREADLINE_SUBSCRIPTION_POLL_MS`: how often live subscriptions look for new rows
    /// (default 500 ms).
    pub subscription_poll: Duration,
    /// `THREADLINE_REMINDER_POLL_MS`: how often the reminder worker looks for due reminders
    /// (default 1000 ms).
    pub reminder_poll: Duration,
    /// `THREADLINE_WS_INIT_TIMEOUT_MS`: how long a WebSocket client has to send
    /// `connection_init` (default 10 s).
    pub ws_init_timeout: Duration,
    /// `THREADLINE_MAX_BODY_BYTES`: the largest JSON request body (default 1 MiB); larger
    /// bodies get 413 before they are read in full.
    pub max_body_bytes: u64,
    /// `THREADLINE_WS_MAX_MESSAGE_BYTES`: the largest WebSocket message or frame (default
    /// 64 KiB); a larger one closes the connection with 1009.
    pub ws_max_message_bytes: u64,
    /// `THREADLINE_WS_MAX_SOCKETS_PER_USER`: how many WebSocket connections one user may hold
    /// open on one gateway process (default 20); one more is closed with 4429.
    pub ws_max_sockets_per_user: u64,
    /// `THREADLINE_ATTACHMENT_SWEEP_SECS`: how often the gateway removes attachment files that
    /// no attachment names (left by requests that never finished; default an hour).
    pub attachment_sweep_interval: Duration,
    /// `THREADLINE_ATTACHMENT_SWEEP_GRACE_SECS`: how long an unreferenced attachment file (or a
    /// temporary upload file) is left alone after it last changed (default an hour).
    pub attachment_sweep_grace: Duration,
    /// `THREADLINE_MAX_CONCURRENT_UPLOADS_PER_USER`: how many multipart requests (uploads) one
    /// user may have in flight on one gateway process (default 2); one more gets 429
    /// `RATE_LIMITED` before its body is read.
    pub max_concurrent_uploads_per_user: u64,
    /// `THREADLINE_HEADER_READ_TIMEOUT_SECS`: how long a client has to send a request's
    /// complete headers before the connection is closed (default 10 s).
    pub header_read_timeout: Duration,
    /// `THREADLINE_MAX_CONNECTIONS`: the most connections served at once (default 4,096); past
    /// it new connections wait to be accepted. Keep it below the process's file limit
    /// (`ulimit -n`).
    pub max_connections: u64,
}

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    /// The environment variable.
    pub name: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let listen_text = get("THREADLINE_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = listen_text.parse().map_err(|_| ConfigError {
            name: "THREADLINE_LISTEN",
            message: format!("`{listen_text}` is not an address such as 127.0.0.1:8080"),
        })?;
        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres")) {
            return Err(ConfigError {
                name: "DATABASE_URL",
                message: "use sqlite://FILE?mode=rwc or postgres://USER@HOST/DB".into(),
            });
        }
        let jwt_secret = get("THREADLINE_JWT_SECRET");
        if let Some(secret) = &jwt_secret
            && secret.len() < 32
        {
            return Err(ConfigError {
                name: "THREADLINE_JWT_SECRET",
                message: "use at least 32 characters (or unset it to have one generated)".into(),
            });
        }
        let positive = |name: &'static str, default: u64, unit: &str| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(text) => text
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError {
                        name,
                        message: format!("`{text}` is not a positive number of {unit}"),
                    }),
            }
        };
        let max_upload_bytes = positive(
            "THREADLINE_MAX_UPLOAD_BYTES",
            DEFAULT_MAX_UPLOAD_BYTES,
            "bytes",
        )?;
        // A multipart request may carry ten files; past 4 GiB a file is a mistake, not a need.
        if max_upload_bytes > MAX_UPLOAD_BYTES_LIMIT {
            return Err(ConfigError {
                name: "THREADLINE_MAX_UPLOAD_BYTES",
                message: format!("at most {MAX_UPLOAD_BYTES_LIMIT} bytes (4 GiB) a file"),
            });
        }
        let org_upload_quota_bytes = positive(
            "THREADLINE_ORG_UPLOAD_QUOTA_BYTES",
            DEFAULT_ORG_UPLOAD_QUOTA_BYTES,
            "bytes",
        )?;
        let millis = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match get(name) {
                None => Ok(Duration::from_millis(default)),
                Some(text) => text
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Duration::from_millis)
                    .ok_or_else(|| ConfigError {
                        name,
                        message: format!("`{text}` is not a positive number of milliseconds"),
                    }),
            }
        };
        Ok(Self {
            subscription_poll: millis("THREADLINE_SUBSCRIPTION_POLL_MS", 500)?,
            ws_init_timeout: millis("THREADLINE_WS_INIT_TIMEOUT_MS", 10_000)?,
            reminder_poll: millis("THREADLINE_REMINDER_POLL_MS", 1000)?,
            max_upload_bytes,
            max_body_bytes: positive("THREADLINE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, "bytes")?,
            ws_max_message_bytes: positive(
                "THREADLINE_WS_MAX_MESSAGE_BYTES",
                DEFAULT_WS_MAX_MESSAGE_BYTES,
                "bytes",
            )?,
            ws_max_sockets_per_user: positive(
                "THREADLINE_WS_MAX_SOCKETS_PER_USER",
                DEFAULT_WS_MAX_SOCKETS_PER_USER,
                "connections",
            )?,
            attachment_sweep_interval: Duration::from_secs(positive(
                "THREADLINE_ATTACHMENT_SWEEP_SECS",
                DEFAULT_ATTACHMENT_SWEEP_SECS,
                "seconds",
            )?),
            attachment_sweep_grace: Duration::from_secs(positive(
                "THREADLINE_ATTACHMENT_SWEEP_GRACE_SECS",
                DEFAULT_ATTACHMENT_SWEEP_GRACE_SECS,
                "seconds",
            )?),
            max_concurrent_uploads_per_user: positive(
                "THREADLINE_MAX_CONCURRENT_UPLOADS_PER_USER",
                DEFAULT_MAX_CONCURRENT_UPLOADS_PER_USER,
                "requests",
            )?,
            header_read_timeout: Duration::from_secs(positive(
                "THREADLINE_HEADER_READ_TIMEOUT_SECS",
                DEFAULT_HEADER_READ_TIMEOUT_SECS,
                "seconds",
            )?),
            max_connections: positive(
                "THREADLINE_MAX_CONNECTIONS",
                DEFAULT_MAX_CONNECTIONS,
                "connections",
            )?,
            org_upload_quota_bytes,
            database_url,
            listen,
            jwt_secret,
            data_dir: get("THREADLINE_DATA_DIR")
                .unwrap_or_else(|| DEFAULT_DATA_DIR.into())
                .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_and_bad_values_are_named() {
        let config = Config::from_lookup(|_| None).expect("defaults");
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        let err = Config::from_lookup(|n| (n == "THREADLINE_LISTEN").then(|| "nope".into()))
            .expect_err("bad listen");
        assert_eq!(err.name, "THREADLINE_LISTEN");
        let err = Config::from_lookup(|n| (n == "THREADLINE_JWT_SECRET").then(|| "short".into()))
            .expect_err("short secret");
        assert_eq!(err.name, "THREADLINE_JWT_SECRET");
        assert_eq!(config.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        let err = Config::from_lookup(|n| (n == "THREADLINE_MAX_BODY_BYTES").then(|| "0".into()))
            .expect_err("zero body limit");
        assert_eq!(err.name, "THREADLINE_MAX_BODY_BYTES");
        let err = Config::from_lookup(|n| {
            (n == "THREADLINE_MAX_UPLOAD_BYTES").then(|| u64::MAX.to_string())
        })
        .expect_err("an upload limit past 4 GiB");
        assert_eq!(err.name, "THREADLINE_MAX_UPLOAD_BYTES");
        assert_eq!(
            config.org_upload_quota_bytes,
            DEFAULT_ORG_UPLOAD_QUOTA_BYTES
        );
        let err = Config::from_lookup(|n| {
            (n == "THREADLINE_ORG_UPLOAD_QUOTA_BYTES").then(|| "lots".into())
        })
        .expect_err("bad quota");
        assert_eq!(err.name, "THREADLINE_ORG_UPLOAD_QUOTA_BYTES");
        assert_eq!(
            config.attachment_sweep_interval,
            Duration::from_secs(DEFAULT_ATTACHMENT_SWEEP_SECS)
        );
        assert_eq!(
            config.attachment_sweep_grace,
            Duration::from_secs(DEFAULT_ATTACHMENT_SWEEP_GRACE_SECS)
        );
        let config = Config::from_lookup(|n| {
            (n == "THREADLINE_ATTACHMENT_SWEEP_GRACE_SECS").then(|| "600".into())
        })
        .expect("a grace period");
        assert_eq!(config.attachment_sweep_grace, Duration::from_secs(600));
        for name in [
            "THREADLINE_ATTACHMENT_SWEEP_SECS",
            "THREADLINE_ATTACHMENT_SWEEP_GRACE_SECS",
        ] {
            let err = Config::from_lookup(|n| (n == name).then(|| "0".into()))
                .expect_err("a zero sweep setting");
            assert_eq!(err.name, name);
        }
    }

    #[test]
    fn connection_bounds_default_and_must_be_positive() {
        let config = Config::from_lookup(|_| None).expect("defaults");
        assert_eq!(config.header_read_timeout, Duration::from_secs(10));
        assert_eq!(config.max_connections, DEFAULT_MAX_CONNECTIONS);
        for name in [
            "THREADLINE_HEADER_READ_TIMEOUT_SECS",
            "THREADLINE_MAX_CONNECTIONS",
        ] {
            let err = Config::from_lookup(|n| (n == name).then(|| "0".into())).expect_err("zero");
            assert_eq!(err.name, name);
        }
    }

    #[test]
    fn concurrent_uploads_per_user_default_and_must_be_positive() {
        let config = Config::from_lookup(|_| None).expect("defaults");
        assert_eq!(
            config.max_concurrent_uploads_per_user,
            DEFAULT_MAX_CONCURRENT_UPLOADS_PER_USER
        );
        let name = "THREADLINE_MAX_CONCURRENT_UPLOADS_PER_USER";
        let config = Config::from_lookup(|n| (n == name).then(|| " 5 ".into())).expect("five");
        assert_eq!(config.max_concurrent_uploads_per_user, 5);
        for bad in ["0", "-1", "many"] {
            let err = Config::from_lookup(|n| (n == name).then(|| bad.into()))
                .expect_err("not a positive count");
            assert_eq!(err.name, name);
            assert!(err.message.contains(bad), "{}", err.message);
        }
    }
}
