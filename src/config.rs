//! Configuration: every setting is a command-line flag and an environment variable (clap's
//! `env` support), with defaults that work on a fresh machine; `threadline serve --help`
//! lists them all.
//!
//! One definition serves the binary and the tests: [`parse_from`] reads the variables through
//! a lookup function instead of clap's own `std::env` reads, so tests configure a gateway
//! without touching (or being touched by) the process environment, and a blank variable
//! counts as unset, as it always has.

use std::{ffi::OsString, net::SocketAddr, path::PathBuf, time::Duration};

use clap::error::{ContextKind, ContextValue, ErrorKind};

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
/// The default time between two safety reads of the live-updates bus: 30 s.
pub const DEFAULT_SUBSCRIPTION_POLL_MS: u64 = 30_000;
/// The default longest sleep of the reminder scheduler without looking: 30 s.
pub const DEFAULT_REMINDER_POLL_MS: u64 = 30_000;
/// The default time one webhook delivery attempt may take: 15 s.
pub const DEFAULT_WEBHOOK_TIMEOUT_SECS: u64 = 15;
/// The default time between two looks of the delivery worker when nothing woke it: 1 s.
pub const DEFAULT_WEBHOOK_POLL_MS: u64 = 1000;
/// The default number of webhook deliveries one process sends at once.
pub const DEFAULT_WEBHOOK_CONCURRENCY: u64 = 32;
/// The default number of days the webhook delivery log is kept.
pub const DEFAULT_WEBHOOK_RETENTION_DAYS: u64 = 30;
/// The default number of callers each process remembers (see `auth::cache`).
pub const DEFAULT_CALLER_CACHE_ENTRIES: u64 = 10_000;
/// The default longest time a remembered caller is used without asking the database: 30 s.
pub const DEFAULT_CALLER_CACHE_TTL_SECS: u64 = 30;
/// The default time a WebSocket client has to send `connection_init`: 10 s.
pub const DEFAULT_WS_INIT_TIMEOUT_MS: u64 = 10_000;
/// The default time between two keep-alive pings on an acknowledged WebSocket: 30 s (below
/// the 60 s idle timeout of common load balancers and proxies).
pub const DEFAULT_WS_PING_INTERVAL_SECS: u64 = 30;
/// The default time a WebSocket with no subscription and no message from its client stays
/// open: 5 minutes.
pub const DEFAULT_WS_IDLE_TIMEOUT_SECS: u64 = 300;
/// The default number of messages one subscription may have waiting for a slow client before
/// it is ended as fallen behind.
pub const DEFAULT_WS_SUBSCRIPTION_BUFFER: u64 = 128;
/// The default time shutdown waits for requests, WebSockets and background jobs to finish: 20 s.
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 20;
/// The default lifetime of an access token from `signIn`.
pub const DEFAULT_ACCESS_TOKEN_TTL: &str = "15m";
/// The default time a sign-in session lives without a refresh.
pub const DEFAULT_REFRESH_TOKEN_TTL: &str = "30d";
/// The default window failed sign-ins are counted in.
pub const DEFAULT_SIGN_IN_FAILURE_WINDOW: &str = "15m";
/// The default failed sign-ins one account may have in the window.
pub const DEFAULT_SIGN_IN_MAX_FAILURES_PER_ACCOUNT: u64 = 10;
/// The default failed sign-ins one client address may have in the window.
pub const DEFAULT_SIGN_IN_MAX_FAILURES_PER_IP: u64 = 100;
/// The default claim of an identity provider's token that holds the user's email.
pub const DEFAULT_OIDC_USER_CLAIM: &str = "email";
/// The default shortest time between two fetches of the provider's keys for an unknown `kid`.
pub const DEFAULT_OIDC_JWKS_MIN_REFETCH: &str = "30s";

/// Everything the gateway reads from its command line and environment. Each field is a flag
/// (`--listen`) and a variable (`THREADLINE_LISTEN`); the flag wins when both are given.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "Configuration (each flag may be set by its environment variable)")]
pub struct Config {
    /// The database: `sqlite://FILE?mode=rwc` or `postgres://USER@HOST/DB`.
    // Hidden values: a URL may carry a password.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true,
          default_value = DEFAULT_DATABASE_URL, value_parser = database_url)]
    pub database_url: String,
    /// The HTTP listen address.
    #[arg(long, global = true, env = "THREADLINE_LISTEN", default_value = DEFAULT_LISTEN,
          value_parser = listen_address)]
    pub listen: SocketAddr,
    /// The HS256 token secret (32+ characters); when unset, one is generated on first start
    /// and kept in the database.
    #[arg(long, global = true, env = "THREADLINE_JWT_SECRET", hide_env_values = true,
          value_parser = jwt_secret)]
    pub jwt_secret: Option<String>,
    /// Where files (attachments) are kept.
    #[arg(long, global = true, env = "THREADLINE_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// The largest attachment accepted, in bytes (at most 4 GiB).
    #[arg(long, global = true, env = "THREADLINE_MAX_UPLOAD_BYTES",
          default_value_t = DEFAULT_MAX_UPLOAD_BYTES, value_parser = upload_bytes)]
    pub max_upload_bytes: u64,
    /// The most bytes of attachments one organization may keep.
    #[arg(long, global = true, env = "THREADLINE_ORG_UPLOAD_QUOTA_BYTES",
          default_value_t = DEFAULT_ORG_UPLOAD_QUOTA_BYTES, value_parser = bytes)]
    pub org_upload_quota_bytes: u64,
    /// How often the live-updates bus reads what was written since its last read, in case a
    /// signal was lost (subscriptions are woken by the bus, not by this): milliseconds, or a
    /// duration such as `30s`.
    #[arg(long, global = true, env = "THREADLINE_SUBSCRIPTION_POLL_MS",
          default_value = DEFAULT_SUBSCRIPTION_POLL_MS.to_string(), value_parser = millis)]
    pub subscription_poll: Duration,
    /// The longest the reminder scheduler sleeps without looking (it sleeps until the next
    /// reminder is due, and is woken when one is scheduled): milliseconds, or a duration such
    /// as `30s`.
    #[arg(long, global = true, env = "THREADLINE_REMINDER_POLL_MS",
          default_value = DEFAULT_REMINDER_POLL_MS.to_string(), value_parser = millis)]
    pub reminder_poll: Duration,
    /// How long a WebSocket client has to send `connection_init`: milliseconds, or a duration
    /// such as `10s`.
    #[arg(long, global = true, env = "THREADLINE_WS_INIT_TIMEOUT_MS",
          default_value = DEFAULT_WS_INIT_TIMEOUT_MS.to_string(), value_parser = millis)]
    pub ws_init_timeout: Duration,
    /// The largest JSON request body, in bytes; larger bodies get 413 before they are read in
    /// full.
    #[arg(long, global = true, env = "THREADLINE_MAX_BODY_BYTES",
          default_value_t = DEFAULT_MAX_BODY_BYTES, value_parser = bytes)]
    pub max_body_bytes: u64,
    /// The largest WebSocket message or frame, in bytes; a larger one closes the connection
    /// with 1009.
    #[arg(long, global = true, env = "THREADLINE_WS_MAX_MESSAGE_BYTES",
          default_value_t = DEFAULT_WS_MAX_MESSAGE_BYTES, value_parser = bytes)]
    pub ws_max_message_bytes: u64,
    /// How many WebSocket connections one user may hold open on one gateway process; one more
    /// is closed with 4429.
    #[arg(long, global = true, env = "THREADLINE_WS_MAX_SOCKETS_PER_USER",
          default_value_t = DEFAULT_WS_MAX_SOCKETS_PER_USER, value_parser = connections)]
    pub ws_max_sockets_per_user: u64,
    /// How often the gateway sends a `graphql-transport-ws` `ping` on an acknowledged
    /// WebSocket: seconds, or a duration such as `30s`. A client that sends nothing at all
    /// between two pings (it must answer each with `pong`) is closed with 4408.
    #[arg(long, global = true, env = "THREADLINE_WS_PING_INTERVAL_SECS",
          default_value = DEFAULT_WS_PING_INTERVAL_SECS.to_string(), value_parser = seconds)]
    pub ws_ping_interval: Duration,
    /// How long a WebSocket with no subscription running and no message from its client
    /// (answers to pings do not count) stays open before it is closed with 1000: seconds, or a
    /// duration such as `5m`.
    #[arg(long, global = true, env = "THREADLINE_WS_IDLE_TIMEOUT_SECS",
          default_value = DEFAULT_WS_IDLE_TIMEOUT_SECS.to_string(), value_parser = seconds)]
    pub ws_idle_timeout: Duration,
    /// How many messages one subscription may have waiting to be written to a client that
    /// reads too slowly; one more ends the subscription with a `RATE_LIMITED` error.
    #[arg(long, global = true, env = "THREADLINE_WS_SUBSCRIPTION_BUFFER",
          default_value_t = DEFAULT_WS_SUBSCRIPTION_BUFFER, value_parser = messages)]
    pub ws_subscription_buffer: u64,
    /// How long shutdown (SIGTERM, Ctrl-C) waits for requests in flight, WebSockets to close
    /// and background jobs to finish their pass before dropping what is left and exiting:
    /// seconds, or a duration such as `20s`.
    #[arg(long, global = true, env = "THREADLINE_SHUTDOWN_GRACE_SECS",
          default_value = DEFAULT_SHUTDOWN_GRACE_SECS.to_string(), value_parser = seconds)]
    pub shutdown_grace: Duration,
    /// How often the gateway removes attachment files that no attachment names (left by
    /// requests that never finished): seconds, or a duration such as `1h`.
    #[arg(long, global = true, env = "THREADLINE_ATTACHMENT_SWEEP_SECS",
          default_value = DEFAULT_ATTACHMENT_SWEEP_SECS.to_string(), value_parser = seconds)]
    pub attachment_sweep_interval: Duration,
    /// How long an unreferenced attachment file (or a temporary upload file) is left alone
    /// after it last changed: seconds, or a duration such as `1h`.
    #[arg(long, global = true, env = "THREADLINE_ATTACHMENT_SWEEP_GRACE_SECS",
          default_value = DEFAULT_ATTACHMENT_SWEEP_GRACE_SECS.to_string(), value_parser = seconds)]
    pub attachment_sweep_grace: Duration,
    /// How many multipart requests (uploads) one user may have in flight on one gateway
    /// process; one more gets 429 `RATE_LIMITED` before its body is read.
    #[arg(long, global = true, env = "THREADLINE_MAX_CONCURRENT_UPLOADS_PER_USER",
          default_value_t = DEFAULT_MAX_CONCURRENT_UPLOADS_PER_USER, value_parser = requests)]
    pub max_concurrent_uploads_per_user: u64,
    /// How long a client has to send a request's complete headers before the connection is
    /// closed: seconds, or a duration such as `10s`.
    #[arg(long, global = true, env = "THREADLINE_HEADER_READ_TIMEOUT_SECS",
          default_value = DEFAULT_HEADER_READ_TIMEOUT_SECS.to_string(), value_parser = seconds)]
    pub header_read_timeout: Duration,
    /// The most connections served at once; past it new connections wait to be accepted. Keep
    /// it below the process's file limit (`ulimit -n`).
    #[arg(long, global = true, env = "THREADLINE_MAX_CONNECTIONS",
          default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = connections)]
    pub max_connections: u64,
    /// Whether webhook URLs may reach loopback, private, link-local, CGNAT, multicast and
    /// cloud-metadata addresses (refused by default, at registration and at every delivery).
    #[arg(long, global = true, env = "THREADLINE_WEBHOOK_ALLOW_PRIVATE", default_value_t = false,
          value_parser = flag, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,
    /// How long one webhook delivery attempt may take (connect, send, read the answer's start):
    /// seconds, or a duration such as `15s`. A process that dies mid-attempt leaves it to
    /// another after twice this.
    #[arg(long, global = true, env = "THREADLINE_WEBHOOK_TIMEOUT_SECS",
          default_value = DEFAULT_WEBHOOK_TIMEOUT_SECS.to_string(), value_parser = seconds)]
    pub webhook_timeout: Duration,
    /// How often the delivery worker looks for due webhook deliveries when nothing woke it
    /// (PostgreSQL wakes it at once on a new event): milliseconds, or a duration such as `1s`.
    #[arg(long, global = true, env = "THREADLINE_WEBHOOK_POLL_MS",
          default_value = DEFAULT_WEBHOOK_POLL_MS.to_string(), value_parser = millis)]
    pub webhook_poll: Duration,
    /// How many webhook deliveries one gateway process sends at once (each endpoint also caps
    /// its own, 4 by default).
    #[arg(long, global = true, env = "THREADLINE_WEBHOOK_CONCURRENCY",
          default_value_t = DEFAULT_WEBHOOK_CONCURRENCY, value_parser = requests)]
    pub webhook_concurrency: u64,
    /// How many days the delivery log (every attempt) is kept.
    #[arg(long, global = true, env = "THREADLINE_WEBHOOK_RETENTION_DAYS",
          default_value_t = DEFAULT_WEBHOOK_RETENTION_DAYS, value_parser = days)]
    pub webhook_retention_days: u64,
    /// What `GET /` serves: `auto` (GraphiQL from its CDN when the browser reaches it within
    /// two seconds, else the built-in console), `builtin` (always the built-in console, no
    /// third-party code) or `off` (nothing: 404).
    #[arg(long, global = true, env = "THREADLINE_PLAYGROUND", default_value = "auto",
          value_parser = playground)]
    pub playground: Playground,
    /// How long an access token from `signIn` or `refreshSession` lasts: a duration such as
    /// `15m`.
    #[arg(long, global = true, env = "THREADLINE_ACCESS_TOKEN_TTL",
          default_value = DEFAULT_ACCESS_TOKEN_TTL, value_parser = human_duration)]
    pub access_token_ttl: Duration,
    /// How long a sign-in session lives without a refresh (each refresh starts it again): a
    /// duration such as `30d`.
    #[arg(long, global = true, env = "THREADLINE_REFRESH_TOKEN_TTL",
          default_value = DEFAULT_REFRESH_TOKEN_TTL, value_parser = human_duration)]
    pub refresh_token_ttl: Duration,
    /// The window failed sign-ins are counted in (from an account's or address's first
    /// failure): a duration such as `15m`.
    #[arg(long, global = true, env = "THREADLINE_SIGN_IN_FAILURE_WINDOW",
          default_value = DEFAULT_SIGN_IN_FAILURE_WINDOW, value_parser = human_duration)]
    pub sign_in_failure_window: Duration,
    /// How many failed sign-ins one account (email) may have in the window; then
    /// `RATE_LIMITED` until it ends.
    #[arg(long, global = true, env = "THREADLINE_SIGN_IN_MAX_FAILURES_PER_ACCOUNT",
          default_value_t = DEFAULT_SIGN_IN_MAX_FAILURES_PER_ACCOUNT, value_parser = attempts)]
    pub sign_in_max_failures_per_account: u64,
    /// How many failed sign-ins one client address (an IPv6 /64) may have in the window; then
    /// `RATE_LIMITED` until it ends.
    #[arg(long, global = true, env = "THREADLINE_SIGN_IN_MAX_FAILURES_PER_IP",
          default_value_t = DEFAULT_SIGN_IN_MAX_FAILURES_PER_IP, value_parser = attempts)]
    pub sign_in_max_failures_per_ip: u64,
    /// How many callers (one per user and sign-in session) each gateway process remembers, so
    /// that a request need not read its caller's user and session from the database; `0` reads
    /// them on every request. The bus keeps the cache right across processes (see the README's
    /// *Caller cache*).
    #[arg(long, global = true, env = "THREADLINE_CALLER_CACHE_ENTRIES",
          default_value_t = DEFAULT_CALLER_CACHE_ENTRIES, value_parser = entries)]
    pub caller_cache_entries: u64,
    /// The longest a remembered caller is used without the database being asked again, the
    /// backstop for changes made outside the gateway: seconds, or a duration such as `30s`.
    #[arg(long, global = true, env = "THREADLINE_CALLER_CACHE_TTL_SECS",
          default_value = DEFAULT_CALLER_CACHE_TTL_SECS.to_string(), value_parser = cache_ttl)]
    pub caller_cache_ttl: Duration,
    /// The identity provider's issuer (`iss`); with the audience and the JWKS URL, its tokens
    /// are accepted beside the gateway's own.
    #[arg(long, global = true, env = "THREADLINE_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The audience (`aud`) the identity provider's tokens must carry: the gateway's client id
    /// there.
    #[arg(long, global = true, env = "THREADLINE_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,
    /// Where the identity provider publishes its signing keys (its `jwks_uri`).
    #[arg(long, global = true, env = "THREADLINE_OIDC_JWKS_URL", value_parser = http_url)]
    pub oidc_jwks_url: Option<String>,
    /// The claim of the identity provider's tokens that holds the user's email (with `email`,
    /// only tokens with `email_verified: true` are accepted).
    #[arg(long, global = true, env = "THREADLINE_OIDC_USER_CLAIM",
          default_value = DEFAULT_OIDC_USER_CLAIM)]
    pub oidc_user_claim: String,
    /// Whether a valid identity-provider token for an unknown email creates a `MEMBER` (in the
    /// instance's only organization); otherwise it is refused.
    #[arg(long, global = true, env = "THREADLINE_OIDC_AUTO_CREATE", default_value_t = false,
          value_parser = flag, action = clap::ArgAction::Set)]
    pub oidc_auto_create: bool,
    /// The shortest time between two fetches of the identity provider's keys made for a token
    /// with an unknown `kid`: a duration such as `30s`.
    #[arg(long, global = true, env = "THREADLINE_OIDC_JWKS_MIN_REFETCH",
          default_value = DEFAULT_OIDC_JWKS_MIN_REFETCH, value_parser = human_duration)]
    pub oidc_jwks_min_refetch: Duration,
}

impl Config {
    /// The identity provider's settings, when its issuer, audience and JWKS URL are all set;
    /// an error naming what is missing when only some are.
    pub fn oidc(&self) -> Result<Option<crate::auth::oidc::OidcConfig>, ConfigError> {
        match (&self.oidc_issuer, &self.oidc_audience, &self.oidc_jwks_url) {
            (None, None, None) => Ok(None),
            (Some(issuer), Some(audience), Some(jwks_url)) => {
                Ok(Some(crate::auth::oidc::OidcConfig {
                    issuer: issuer.clone(),
                    audience: audience.clone(),
                    jwks_url: jwks_url.clone(),
                    user_claim: self.oidc_user_claim.clone(),
                    auto_create: self.oidc_auto_create,
                    min_refetch: self.oidc_jwks_min_refetch,
                }))
            }
            _ => Err(ConfigError {
                name: "THREADLINE_OIDC_ISSUER".into(),
                message: "set THREADLINE_OIDC_ISSUER, THREADLINE_OIDC_AUDIENCE and \
                          THREADLINE_OIDC_JWKS_URL together (or none of them)"
                    .into(),
            }),
        }
    }
}

/// What `GET /` serves (`THREADLINE_PLAYGROUND`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum Playground {
    /// GraphiQL from its CDN when reachable within two seconds, else the built-in console.
    Auto,
    /// The built-in console only.
    Builtin,
    /// No playground.
    Off,
}

fn playground(text: &str) -> Result<Playground, String> {
    text.trim()
        .to_ascii_lowercase()
        .parse()
        .map_err(|_| format!("`{text}` is not auto, builtin or off"))
}

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    /// The environment variable (or, for a value given on the command line, the flag).
    pub name: String,
    /// What is wrong with it.
    pub message: String,
}

/// Why the command line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A setting has a value that cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Anything else clap reports: an unknown flag, or `--help` and `--version`, whose text is
    /// in the error (`clap::Error::exit` prints it).
    #[error(transparent)]
    Usage(#[from] clap::Error),
}

/// The command line of [`Config::from_lookup`]: the configuration and nothing else.
#[derive(clap::Parser)]
#[command(name = "threadline")]
struct ConfigOnly {
    #[command(flatten)]
    config: Config,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests), with the
    /// same variables, defaults and checks as the command line.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        match parse_from::<ConfigOnly>(["threadline"], lookup) {
            Ok(only) => Ok(only.config),
            Err(CliError::Config(error)) => Err(error),
            // No flags were given, so only a value can be wrong; keep clap's words otherwise.
            Err(CliError::Usage(error)) => Err(ConfigError {
                name: "command line".into(),
                message: error.to_string(),
            }),
        }
    }
}

/// Parses the command line `args` (the program name first) into `P`, reading each setting's
/// environment variable through `lookup` (blank values count as unset); a flag given in `args`
/// wins over its variable.
pub fn parse_from<P: clap::Parser>(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<P, CliError> {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // The variables' values become the flags' defaults, and clap's own reads of the process
    // environment are switched off: one path for the binary and for tests.
    let mut from_env = Vec::new();
    let command = P::command().mut_args(|arg| {
        let Some(name) = arg.get_env().and_then(|n| n.to_str()).map(str::to_owned) else {
            return arg;
        };
        let long = arg.get_long().map(|l| format!("--{l}"));
        let arg = arg.env(None);
        match lookup(&name).filter(|v| !v.trim().is_empty()) {
            Some(value) => {
                from_env.extend(long.map(|flag| FromEnv { flag, name }));
                arg.default_value(value)
            }
            None => arg,
        }
    });
    let matches = match command.try_get_matches_from(&args) {
        Ok(matches) => matches,
        // Help and version are rendered from the untouched definitions, so they name the
        // variables (and show the real defaults, not the values just read).
        Err(error) if !error.use_stderr() => {
            return Err(P::command()
                .try_get_matches_from(&args)
                .err()
                .unwrap_or(error)
                .into());
        }
        Err(error) => return Err(value_error(error, &args, &from_env)),
    };
    Ok(P::from_arg_matches(&matches)?)
}

/// A setting whose value was read from its variable.
struct FromEnv {
    /// `--listen`.
    flag: String,
    /// `THREADLINE_LISTEN`.
    name: String,
}

/// Names the setting of a value that failed its check: its flag when given on the command
/// line, else its variable. Other errors stay clap's.
fn value_error(error: clap::Error, args: &[OsString], from_env: &[FromEnv]) -> CliError {
    if !matches!(
        error.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        return error.into();
    }
    let context = |kind| match error.get(kind) {
        Some(ContextValue::String(text)) => Some(text.clone()),
        _ => None,
    };
    let (Some(arg), Some(value)) = (
        context(ContextKind::InvalidArg),
        context(ContextKind::InvalidValue),
    ) else {
        return error.into();
    };
    // `arg` reads like `--listen <LISTEN>`.
    let flag = arg.split_whitespace().next().unwrap_or(&arg).to_owned();
    let on_command_line = args.iter().filter_map(|a| a.to_str()).any(|a| {
        a == flag
            || a.strip_prefix(flag.as_str())
                .is_some_and(|rest| rest.starts_with('='))
    });
    let name = match from_env.iter().find(|s| s.flag == flag) {
        Some(setting) if !on_command_line => setting.name.clone(),
        _ => flag,
    };
    let message = std::error::Error::source(&error)
        .map(ToString::to_string)
        .unwrap_or_else(|| format!("`{value}` is not a valid value"));
    ConfigError { name, message }.into()
}

fn database_url(text: &str) -> Result<String, String> {
    if text.starts_with("sqlite:") || text.starts_with("postgres") {
        Ok(text.to_owned())
    } else {
        Err("use sqlite://FILE?mode=rwc or postgres://USER@HOST/DB".into())
    }
}

fn listen_address(text: &str) -> Result<SocketAddr, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("`{text}` is not an address such as 127.0.0.1:8080"))
}

fn http_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.starts_with("https://") || text.starts_with("http://") {
        Ok(text.to_owned())
    } else {
        Err(format!("`{text}` is not an http(s) URL"))
    }
}

fn jwt_secret(text: &str) -> Result<String, String> {
    if text.len() < 32 {
        return Err("use at least 32 characters (or unset it to have one generated)".into());
    }
    Ok(text.to_owned())
}

/// A positive whole number of `unit`.
fn positive(text: &str, unit: &str) -> Result<u64, String> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is not a positive number of {unit}"))
}

fn bytes(text: &str) -> Result<u64, String> {
    positive(text, "bytes")
}

fn upload_bytes(text: &str) -> Result<u64, String> {
    let n = bytes(text)?;
    // A multipart request may carry ten files; past 4 GiB a file is a mistake, not a need.
    if n > MAX_UPLOAD_BYTES_LIMIT {
        return Err(format!(
            "at most {MAX_UPLOAD_BYTES_LIMIT} bytes (4 GiB) a file"
        ));
    }
    Ok(n)
}

fn flag(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(format!("`{other}` is not true or false")),
    }
}

/// A count that may be zero (`0` turns the feature off).
fn entries(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<u64>()
        .map_err(|_| format!("`{text}` is not a number of entries (0 or more)"))
}

fn connections(text: &str) -> Result<u64, String> {
    positive(text, "connections")
}

fn days(text: &str) -> Result<u64, String> {
    positive(text, "days")
}

fn requests(text: &str) -> Result<u64, String> {
    positive(text, "requests")
}

fn messages(text: &str) -> Result<u64, String> {
    positive(text, "messages")
}

fn attempts(text: &str) -> Result<u64, String> {
    positive(text, "attempts")
}

/// A positive duration: a bare number counts in `unit` (what the `_MS` and `_SECS` variables
/// always took), anything else is read by `humantime` (`500ms`, `2s`, `1h 30m`).
fn duration_in(text: &str, unit: fn(u64) -> Duration, unit_name: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let duration = if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        trimmed.parse::<u64>().ok().map(unit)
    } else {
        humantime::parse_duration(trimmed).ok()
    };
    duration.filter(|d| !d.is_zero()).ok_or_else(|| {
        format!("`{text}` is not a positive number of {unit_name} (or a duration such as 2s)")
    })
}

fn millis(text: &str) -> Result<Duration, String> {
    duration_in(text, Duration::from_millis, "milliseconds")
}

fn seconds(text: &str) -> Result<Duration, String> {
    duration_in(text, Duration::from_secs, "seconds")
}

/// The longest caller-cache time to live: one day. Longer would only widen what a change
/// made outside the gateway can leave stale (and a far-off instant overflows the clock).
pub const MAX_CALLER_CACHE_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses the caller cache's time to live: [`seconds`], at most [`MAX_CALLER_CACHE_TTL`].
fn cache_ttl(text: &str) -> Result<Duration, String> {
    let ttl = seconds(text)?;
    if ttl > MAX_CALLER_CACHE_TTL {
        return Err(format!(
            "`{text}` is longer than the {} s (one day) a remembered caller may be used",
            MAX_CALLER_CACHE_TTL.as_secs()
        ));
    }
    Ok(ttl)
}

/// Parses a lifetime meant for people, such as a token's: `90s`, `15m`, `12h`, `30d`, `2w`, or
/// `1h 30m` (`humantime`'s units); it must be more than zero.
pub fn human_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(duration) if duration.is_zero() => Err("a lifetime must be more than zero".into()),
        Ok(duration) => Ok(duration),
        Err(error) => Err(format!(
            "`{text}` is not a duration such as 15m, 12h or 30d ({error})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn defaults_work_and_bad_values_are_named() {
        let config = Config::from_lookup(|_| None).expect("defaults");
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        let err = Config::from_lookup(|n| (n == "THREADLINE_LISTEN").then(|| "nope".into()))
            .expect_err("bad listen");
        assert_eq!(err.name, "THREADLINE_LISTEN");
        assert_eq!(
            err.message,
            "`nope` is not an address such as 127.0.0.1:8080"
        );
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
    fn every_default_matches_the_old_reader() {
        let config = Config::from_lookup(|_| None).expect("defaults");
        assert_eq!(config.jwt_secret, None);
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(config.max_upload_bytes, DEFAULT_MAX_UPLOAD_BYTES);
        assert_eq!(config.subscription_poll, Duration::from_secs(30));
        assert_eq!(config.reminder_poll, Duration::from_secs(30));
        assert_eq!(config.ws_init_timeout, Duration::from_secs(10));
        assert_eq!(config.ws_max_message_bytes, DEFAULT_WS_MAX_MESSAGE_BYTES);
        assert_eq!(
            config.ws_max_sockets_per_user,
            DEFAULT_WS_MAX_SOCKETS_PER_USER
        );
        assert_eq!(config.access_token_ttl, Duration::from_secs(15 * 60));
        assert_eq!(config.refresh_token_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(config.sign_in_failure_window, Duration::from_secs(15 * 60));
        assert_eq!(config.sign_in_max_failures_per_account, 10);
        assert_eq!(config.sign_in_max_failures_per_ip, 100);
        assert_eq!(config.caller_cache_entries, 10_000);
        assert_eq!(config.caller_cache_ttl, Duration::from_secs(30));
        let off =
            Config::from_lookup(|n| (n == "THREADLINE_CALLER_CACHE_ENTRIES").then(|| "0".into()))
                .expect("zero turns the cache off");
        assert_eq!(off.caller_cache_entries, 0);
        let err =
            Config::from_lookup(|n| (n == "THREADLINE_CALLER_CACHE_TTL_SECS").then(|| "0".into()))
                .expect_err("a zero time to live");
        assert_eq!(err.name, "THREADLINE_CALLER_CACHE_TTL_SECS");
        // A time to live past a day is refused, not left to overflow the clock on a request.
        for huge in ["86401", "18446744073709551615"] {
            let err = Config::from_lookup(|n| {
                (n == "THREADLINE_CALLER_CACHE_TTL_SECS").then(|| huge.into())
            })
            .expect_err("a time to live past a day");
            assert_eq!(err.name, "THREADLINE_CALLER_CACHE_TTL_SECS");
        }
        let day = Config::from_lookup(|n| {
            (n == "THREADLINE_CALLER_CACHE_TTL_SECS").then(|| "86400".into())
        })
        .expect("a day is allowed");
        assert_eq!(day.caller_cache_ttl, MAX_CALLER_CACHE_TTL);
    }

    #[test]
    fn blank_variables_count_as_unset() {
        let config = Config::from_lookup(|_| Some("  ".into())).expect("all blank");
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.jwt_secret, None);
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    }

    #[test]
    fn durations_take_their_unit_or_humantime() {
        let read = |name: &'static str, value: &'static str| {
            Config::from_lookup(move |n| (n == name).then(|| value.to_owned()))
        };
        let config = read("THREADLINE_REMINDER_POLL_MS", "250").expect("bare millis");
        assert_eq!(config.reminder_poll, Duration::from_millis(250));
        let config = read("THREADLINE_REMINDER_POLL_MS", "2s").expect("humantime");
        assert_eq!(config.reminder_poll, Duration::from_secs(2));
        let config = read("THREADLINE_ATTACHMENT_SWEEP_SECS", "30").expect("bare seconds");
        assert_eq!(config.attachment_sweep_interval, Duration::from_secs(30));
        let config = read("THREADLINE_ATTACHMENT_SWEEP_SECS", "1h 30m").expect("humantime");
        assert_eq!(config.attachment_sweep_interval, Duration::from_secs(5400));
        for bad in ["0", "0s", "-5", "soon"] {
            let err = read("THREADLINE_WS_INIT_TIMEOUT_MS", bad).expect_err(bad);
            assert_eq!(err.name, "THREADLINE_WS_INIT_TIMEOUT_MS");
            assert!(err.message.contains("milliseconds"), "{}", err.message);
        }
    }

    #[test]
    fn token_lifetimes_read_humantime() {
        assert_eq!(human_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(human_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(human_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(human_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert!(human_duration("0h").is_err());
        assert!(human_duration("h").is_err());
        assert!(human_duration("7 parsecs").is_err());
    }

    #[test]
    fn a_flag_wins_over_its_variable_and_is_named_when_wrong() {
        let lookup = |n: &str| (n == "THREADLINE_LISTEN").then(|| "127.0.0.1:9000".to_owned());
        let only: ConfigOnly =
            parse_from(["threadline", "--listen", "127.0.0.1:9001"], lookup).expect("flag");
        assert_eq!(only.config.listen.port(), 9001);
        let only: ConfigOnly = parse_from(["threadline"], lookup).expect("variable");
        assert_eq!(only.config.listen.port(), 9000);
        let Err(CliError::Config(err)) =
            parse_from::<ConfigOnly>(["threadline", "--max-connections=0"], |_| None)
        else {
            panic!("a zero flag is refused");
        };
        assert_eq!(err.name, "--max-connections");
    }

    #[test]
    fn help_names_every_variable() {
        let Err(CliError::Usage(help)) = parse_from::<ConfigOnly>(["threadline", "--help"], |_| {
            Some("secret-that-must-not-be-shown-in-help".into())
        }) else {
            panic!("help");
        };
        let text = help.render().to_string();
        let command = ConfigOnly::command();
        for arg in command.get_arguments() {
            if let Some(env) = arg.get_env().and_then(|e| e.to_str()) {
                assert!(text.contains(env), "{env} missing from help:\n{text}");
            }
        }
        assert!(text.contains("THREADLINE_REMINDER_POLL_MS"));
        assert!(!text.contains("secret-that-must-not-be-shown-in-help"));
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
    fn websocket_and_shutdown_settings_default_and_must_be_positive() {
        let config = Config::from_lookup(|_| None).expect("defaults");
        assert_eq!(config.ws_ping_interval, Duration::from_secs(30));
        assert_eq!(config.ws_idle_timeout, Duration::from_secs(300));
        assert_eq!(
            config.ws_subscription_buffer,
            DEFAULT_WS_SUBSCRIPTION_BUFFER
        );
        assert_eq!(config.shutdown_grace, Duration::from_secs(20));
        let read = |name: &'static str, value: &'static str| {
            Config::from_lookup(move |n| (n == name).then(|| value.to_owned()))
        };
        let config = read("THREADLINE_WS_PING_INTERVAL_SECS", "500ms").expect("humantime");
        assert_eq!(config.ws_ping_interval, Duration::from_millis(500));
        let config = read("THREADLINE_WS_IDLE_TIMEOUT_SECS", "60").expect("bare seconds");
        assert_eq!(config.ws_idle_timeout, Duration::from_secs(60));
        let config = read("THREADLINE_WS_SUBSCRIPTION_BUFFER", "16").expect("a count");
        assert_eq!(config.ws_subscription_buffer, 16);
        let config = read("THREADLINE_SHUTDOWN_GRACE_SECS", "2m").expect("humantime");
        assert_eq!(config.shutdown_grace, Duration::from_secs(120));
        for name in [
            "THREADLINE_WS_PING_INTERVAL_SECS",
            "THREADLINE_WS_IDLE_TIMEOUT_SECS",
            "THREADLINE_WS_SUBSCRIPTION_BUFFER",
            "THREADLINE_SHUTDOWN_GRACE_SECS",
        ] {
            let err = read(name, "0").expect_err("zero");
            assert_eq!(err.name, name);
        }
    }

    #[test]
    fn the_identity_provider_needs_all_three_settings() {
        let config = Config::from_lookup(|_| None).expect("defaults");
        assert!(config.oidc().expect("no provider").is_none());
        let partial = Config::from_lookup(|n| {
            (n == "THREADLINE_OIDC_ISSUER").then(|| "https://idp.test".into())
        })
        .expect("parsed");
        let err = partial.oidc().expect_err("issuer alone");
        assert!(
            err.message.contains("THREADLINE_OIDC_JWKS_URL"),
            "{}",
            err.message
        );
        let full = Config::from_lookup(|n| match n {
            "THREADLINE_OIDC_ISSUER" => Some("https://idp.test".into()),
            "THREADLINE_OIDC_AUDIENCE" => Some("threadline".into()),
            "THREADLINE_OIDC_JWKS_URL" => Some("https://idp.test/jwks".into()),
            _ => None,
        })
        .expect("parsed");
        let oidc = full.oidc().expect("valid").expect("a provider");
        assert_eq!(oidc.user_claim, "email");
        assert!(!oidc.auto_create);
        assert_eq!(oidc.min_refetch, Duration::from_secs(30));
        let err =
            Config::from_lookup(|n| (n == "THREADLINE_OIDC_JWKS_URL").then(|| "ftp://x".into()))
                .expect_err("not http");
        assert_eq!(err.name, "THREADLINE_OIDC_JWKS_URL");
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
