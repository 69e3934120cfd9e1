//! Builds the application: database, migrations, secret, demo data and the HTTP server. Tests
//! build it the same way on port 0.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    auth::{
        TokenKeys,
        cache::{CacheSettings, CallerCache, SqliteOwner},
    },
    bus::{self, Broker, Hub, local::Tap},
    config::Config,
    db, demo,
    graphql::{
        self,
        context::{AppData, PollInterval},
    },
    http::{self, AppState},
    jobs::Jobs,
    metrics::Metrics,
    service::{attachments::Storage, sessions::SignInConfig},
};

/// How the application starts.
#[derive(Clone, Copy, Debug)]
pub struct StartOptions {
    /// Create the demo organization when the database has no organization yet.
    pub demo: bool,
    /// Run the periodic jobs (reminders, attachment sweep) on their timers. Tests turn this
    /// off and run passes when they need them, through [`Application::jobs`].
    pub timers: bool,
}

/// What the command line asked about the demo organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoChoice {
    /// Neither `--demo` nor `--no-demo`: the demo only on a loopback listener.
    Default,
    /// `--demo`: create the demo organization on an empty database, on any listener.
    Demo,
    /// `--no-demo`: never create it.
    NoDemo,
}

/// Why `serve` refuses to start with the options it was given.
#[derive(Debug, thiserror::Error)]
pub enum StartRefused {
    /// A non-loopback listener without an explicit choice about the demo organization.
    #[error(
        "THREADLINE_LISTEN is {0}, which is not a loopback address, and neither --demo nor \
         --no-demo was given. On an empty database the default would create a demo organization \
         and print a 30-day owner token. For production, set THREADLINE_JWT_SECRET (32+ \
         characters) and pass --no-demo; to serve the demo data on purpose, pass --demo."
    )]
    DemoUndecided(SocketAddr),
    /// A non-loopback production listener with a secret generated into the database.
    #[error(
        "THREADLINE_LISTEN is {0}, which is not a loopback address: set THREADLINE_JWT_SECRET \
         (32+ characters) to serve with --no-demo (or pass --demo to serve the demo data on \
         purpose)."
    )]
    SecretMissing(SocketAddr),
}

/// Decides whether `serve` may create the demo organization: the zero-set-up demo is kept for
/// a loopback listener; any other listener needs `--demo`, or `--no-demo` together with
/// `THREADLINE_JWT_SECRET`, so that a production deployment never starts with a demo owner
/// and a printed token by accident.
pub fn decide_demo(
    listen: SocketAddr,
    choice: DemoChoice,
    jwt_secret_set: bool,
) -> Result<bool, StartRefused> {
    let loopback = listen.ip().is_loopback();
    match choice {
        DemoChoice::Demo => Ok(true),
        DemoChoice::Default if loopback => Ok(true),
        DemoChoice::Default => Err(StartRefused::DemoUndecided(listen)),
        DemoChoice::NoDemo if loopback || jwt_secret_set => Ok(false),
        DemoChoice::NoDemo => Err(StartRefused::SecretMissing(listen)),
    }
}

/// A built application, bound to its port and ready to serve.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// The demo owner's token, when the demo organization was created on this start.
    pub demo_token: Option<String>,
    /// The demo users' password, when the demo organization was created on this start:
    /// [`demo::DEMO_PASSWORD`] on a loopback listener, a random one elsewhere; or the random
    /// one that replaced the documented password on this start (see
    /// [`Application::demo_password_replaced`]).
    pub demo_password: Option<String>,
    /// The demo users whose documented password ([`demo::DEMO_PASSWORD`]) was replaced by
    /// [`Application::demo_password`] on this start: a listener that is not loopback serving a
    /// database first seeded on loopback (their sessions were ended too).
    pub demo_password_replaced: Vec<String>,
    connection_limits: http::serve::ConnectionLimits,
    jobs: Jobs,
    timers: bool,
    bus: BusParts,
    /// Tells the server and the WebSockets that the process is stopping.
    shutdown: http::serve::Shutdown,
    /// How long shutdown waits before dropping what is left.
    shutdown_grace: Duration,
}

/// The process's end of the live-updates bus (see [`crate::bus`]).
struct BusParts {
    hub: Arc<Hub>,
    broker: Arc<dyn Broker>,
    safety: Duration,
}

/// How long start-up waits for the bus to listen before serving anyway (subscriptions then
/// rely on the catch-up read until it does).
pub const BUS_START_TIMEOUT: Duration = Duration::from_secs(10);

/// The lifetime of the token printed in the start-up banner.
pub const BANNER_TOKEN_TTL: Duration = Duration::from_secs(30 * 86_400);

/// How long shutdown waits for the periodic jobs to finish the pass they are in before
/// abandoning them (a pass's transaction is then rolled back, not half applied).
pub const JOBS_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Connects to the database and migrates it; counts statements into `metrics` and hands the
/// bus's statements to `tap`.
pub async fn open_database(
    config: &Config,
    metrics: Arc<Metrics>,
    tap: Tap,
) -> anyhow::Result<DatabaseConnection> {
    let db = db::connect(&config.database_url, metrics, tap)
        .await
        .with_context(|| {
            format!(
                "connecting to the database at {}",
                redact(&config.database_url)
            )
        })?;
    db::migrate(&db).await.context("migrating the database")?;
    Ok(db)
}

/// The token keys: `THREADLINE_JWT_SECRET`, or a secret generated on first start and kept in
/// the database so that `threadline token` and every instance agree.
pub async fn token_keys(config: &Config, db: &DatabaseConnection) -> anyhow::Result<TokenKeys> {
    let secret = match &config.jwt_secret {
        Some(secret) => secret.clone(),
        None => db::setting_or_insert(db, "jwt_secret", || {
            STANDARD.encode(db::random_bytes::<48>())
        })
        .await
        .context("reading the generated JWT secret")?,
    };
    Ok(TokenKeys::new(&secret))
}

/// The sign-in settings of `config`, signing with `keys`.
pub fn sign_in_config(config: &Config, keys: TokenKeys) -> SignInConfig {
    SignInConfig {
        keys,
        access_ttl: config.access_token_ttl,
        refresh_ttl: config.refresh_token_ttl,
        failure_window: config.sign_in_failure_window,
        max_failures_per_account: config.sign_in_max_failures_per_account,
        max_failures_per_ip: config.sign_in_max_failures_per_ip,
    }
}

impl Application {
    /// Opens the database, prepares the secret and demo data, and binds the listen address.
    pub async fn build(config: &Config, options: StartOptions) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let callers = CallerCache::new(
            CacheSettings {
                entries: usize::try_from(config.caller_cache_entries).unwrap_or(usize::MAX),
                ttl: config.caller_cache_ttl,
            },
            SqliteOwner::register(&config.database_url),
        );
        let hub = Arc::new(Hub::new(Arc::new(callers)));
        // The tap tells the hub what this process's transactions publish (the caller cache).
        let tap = Tap::for_hub(hub.clone());
        let db = open_database(config, metrics.clone(), tap.clone()).await?;
        let broker = bus::default_broker(&db, &tap);
        let keys = token_keys(config, &db).await?;
        crate::service::notes::reclean_stored_html_once(&db)
            .await
            .context("removing remote image sources from stored notes")?;
        // A documented password is only for a demo this machine alone can reach.
        let password = if config.listen.ip().is_loopback() {
            demo::DEMO_PASSWORD.to_owned()
        } else {
            URL_SAFE_NO_PAD.encode(db::random_bytes::<12>())
        };
        let (demo_token, mut demo_password) = if options.demo {
            demo::seed_if_empty(&db, &password)
                .await
                .context("creating the demo organization")?
                .map(|owner| {
                    let token = keys.issue(owner.id, owner.organization_id, BANNER_TOKEN_TTL);
                    (token, password.clone())
                })
                .unzip()
        } else {
            (None, None)
        };
        // A database first seeded on loopback, served elsewhere, must not keep the documented
        // password (whatever --demo says: the users exist already).
        let mut demo_password_replaced = Vec::new();
        if !config.listen.ip().is_loopback() && demo_token.is_none() {
            demo_password_replaced = demo::retire_documented_password(&db, &password)
                .await
                .context("replacing the demo users' documented password")?;
            if !demo_password_replaced.is_empty() {
                tracing::warn!(
                    listen = %config.listen,
                    users = %demo_password_replaced.join(", "),
                    "the demo users had the documented demo password, which only a loopback \
                     listener may keep: replaced it by a random one (printed in the banner) and \
                     ended their sessions"
                );
                demo_password = Some(password);
            }
        }
        let oidc = match config.oidc()? {
            Some(settings) => Some(
                crate::auth::oidc::Oidc::new(settings)
                    .context("preparing the identity provider's token check")?,
            ),
            None => None,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let storage = Arc::new(Storage {
            dir: config.data_dir.clone(),
            max_bytes: config.max_upload_bytes,
            org_quota_bytes: config.org_upload_quota_bytes,
        });
        let jobs = Jobs::new(
            db.clone(),
            config,
            storage.clone(),
            metrics.clone(),
            hub.clone(),
        )
        .context("starting the webhook delivery worker")?;
        let shutdown = http::serve::Shutdown::default();
        let state = AppState {
            schema: graphql::build(AppData {
                db: db.clone(),
                storage: storage.clone(),
                poll: PollInterval(config.subscription_poll),
                hub: hub.clone(),
                webhook_guard: Arc::new(webhooks::ssrf::Guard::new(config.webhook_allow_private)),
                sign_in: Arc::new(sign_in_config(config, keys.clone())),
            }),
            db,
            keys,
            oidc,
            metrics,
            storage,
            subscription_poll: config.subscription_poll,
            hub: hub.clone(),
            playground: config.playground,
            demo_sign_in: http::console::demo::offered_on(config.listen),
            ws: http::ws::WsSettings {
                init_timeout: config.ws_init_timeout,
                ping_interval: config.ws_ping_interval,
                idle_timeout: config.ws_idle_timeout,
                subscription_buffer: usize::try_from(config.ws_subscription_buffer)
                    .unwrap_or(usize::MAX),
            },
            ws_open: http::ws::OpenSockets::new(
                shutdown.not_accepting.clone(),
                shutdown.expired.clone(),
            ),
            ws_watchlist: Arc::default(),
            max_body_bytes: usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX),
            ws_max_message_bytes: usize::try_from(config.ws_max_message_bytes)
                .unwrap_or(usize::MAX),
            ws_max_sockets_per_user: usize::try_from(config.ws_max_sockets_per_user)
                .unwrap_or(usize::MAX),
            ws_sockets: Arc::default(),
            max_concurrent_uploads_per_user: usize::try_from(
                config.max_concurrent_uploads_per_user,
            )
            .unwrap_or(usize::MAX),
            uploads: Arc::default(),
        };
        Ok(Self {
            listener,
            state,
            demo_token,
            demo_password,
            demo_password_replaced,
            connection_limits: http::serve::ConnectionLimits {
                header_read_timeout: config.header_read_timeout,
                max_connections: usize::try_from(config.max_connections).unwrap_or(usize::MAX),
            },
            jobs,
            timers: options.timers,
            bus: BusParts {
                hub,
                broker,
                safety: config.subscription_poll,
            },
            shutdown,
            shutdown_grace: config.shutdown_grace,
        })
    }

    /// The bound address (the real port when configured with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The database pool (tests seed fixtures through it).
    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    /// The token keys (tests issue tokens with them).
    pub fn keys(&self) -> &TokenKeys {
        &self.state.keys
    }

    /// The process's bus hub (tests count its registrations).
    pub fn hub(&self) -> &Arc<Hub> {
        &self.bus.hub
    }

    /// The periodic jobs (tests run their passes through it when the timers are off).
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// Serves until `shutdown` completes, with the periodic jobs (reminders, the sweep of
    /// unreferenced attachment files) beside the server when their timers are on.
    ///
    /// Shutdown stops accepting connections and cancels the jobs at once; then, at the same
    /// time, the server finishes the requests in flight, every WebSocket completes its
    /// subscriptions and closes with 1001, and the jobs finish the pass they are in (for at
    /// most [`JOBS_SHUTDOWN_GRACE`]). Whatever is still running when
    /// `THREADLINE_SHUTDOWN_GRACE_SECS` has passed since the signal is dropped, and this
    /// returns.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let cancel = CancellationToken::new();
        // The bus runs whether or not the timers do: subscriptions depend on it. Serving starts
        // once it listens, so a subscription never misses a change made right after it began.
        let (listening_tx, mut listening) = tokio::sync::watch::channel(false);
        let bus_task = tokio::spawn(bus::run(
            self.bus.hub.clone(),
            self.state.db.clone(),
            self.bus.broker.clone(),
            self.bus.safety,
            listening_tx,
            cancel.child_token(),
        ));
        if tokio::time::timeout(BUS_START_TIMEOUT, listening.wait_for(|up| *up))
            .await
            .is_err()
        {
            tracing::warn!("the live-updates bus is not listening yet; serving anyway");
        }
        // Several instances may run the jobs at once: each pass is safe with that.
        let mut workers = if self.timers {
            self.jobs.spawn(&cancel)
        } else {
            tokio::task::JoinSet::new()
        };
        let stopping = self.shutdown.clone();
        let sockets = self.state.ws_open.clone();
        let grace = self.shutdown_grace;
        let jobs = cancel.clone();
        // Starts the shutdown on the signal (or when serving ended on its own), and ends the
        // grace period after it.
        let clock = tokio::spawn(async move {
            tokio::select! {
                () = shutdown => {}
                () = stopping.begun.cancelled() => {}
            }
            tracing::info!(
                grace = ?grace,
                sockets = sockets.count(),
                "shutting down: finishing requests, closing WebSockets, stopping jobs"
            );
            stopping.begun.cancel();
            jobs.cancel();
            tokio::time::sleep(grace).await;
            stopping.expired.cancel();
        });
        let rechecks = tokio::spawn(http::ws::recheck_sockets(
            self.state.clone(),
            self.shutdown.expired.clone(),
        ));
        let router = http::router(self.state.clone());
        let served = http::serve::serve(
            self.listener,
            router,
            self.connection_limits,
            self.shutdown.clone(),
        )
        .await;
        // Also when serving failed: the jobs and sockets must not outlive the server.
        self.shutdown.begun.cancel();
        self.shutdown.not_accepting.cancel();
        cancel.cancel();
        let expired = self.shutdown.expired.clone();
        let sockets = self.state.ws_open.clone();
        let sockets_closed = async {
            tokio::select! {
                () = sockets.all_closed() => {}
                () = expired.cancelled() => tracing::warn!(
                    open = sockets.count(),
                    "WebSockets still open at the end of the shutdown grace; dropping them"
                ),
            }
        };
        let jobs_stopped = async {
            let stopped = tokio::select! {
                stopped = tokio::time::timeout(JOBS_SHUTDOWN_GRACE, async {
                    while let Some(joined) = workers.join_next().await {
                        if let Err(error) = joined {
                            tracing::error!(%error, "a background job ended abnormally");
                        }
                    }
                }) => stopped.is_ok(),
                () = expired.cancelled() => false,
            };
            if !stopped {
                tracing::warn!(
                    grace = ?JOBS_SHUTDOWN_GRACE,
                    "background jobs did not finish their pass in time; abandoning them"
                );
                workers.abort_all();
            }
        };
        tokio::join!(sockets_closed, jobs_stopped);
        // Anything left (a request or socket past the grace) is dropped now, not later.
        self.shutdown.expired.cancel();
        clock.abort();
        rechecks.abort();
        let _ = bus_task.await;
        served
    }
}

/// A database URL with any password replaced, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_needs_an_explicit_choice_off_loopback() {
        let at = |a: &str| a.parse::<SocketAddr>().expect("address");
        let decide = |a: &str, c, s| decide_demo(at(a), c, s).ok();
        assert_eq!(
            decide("127.0.0.1:8080", DemoChoice::Default, false),
            Some(true)
        );
        assert_eq!(decide("[::1]:8080", DemoChoice::Default, false), Some(true));
        assert_eq!(
            decide("127.0.0.1:8080", DemoChoice::NoDemo, false),
            Some(false)
        );
        assert_eq!(decide("0.0.0.0:8080", DemoChoice::Default, true), None);
        assert_eq!(decide("[::]:8080", DemoChoice::Default, false), None);
        assert_eq!(decide("10.0.0.5:8080", DemoChoice::Demo, false), Some(true));
        assert_eq!(decide("0.0.0.0:8080", DemoChoice::NoDemo, false), None);
        assert_eq!(
            decide("0.0.0.0:8080", DemoChoice::NoDemo, true),
            Some(false)
        );
        let message = decide_demo(at("0.0.0.0:8080"), DemoChoice::Default, false)
            .expect_err("refused")
            .to_string();
        assert!(message.contains("--demo") && message.contains("--no-demo"));
        assert!(message.contains("THREADLINE_JWT_SECRET"));
    }
}
