//! Builds the application: database, migrations, secret, demo data and the HTTP server. Tests
//! build it the same way on port 0.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use base64::{Engine, engine::general_purpose::STANDARD};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::{
    auth::TokenKeys,
    config::Config,
    db, demo, graphql,
    http::{self, AppState},
    metrics::Metrics,
    service::attachments::Storage,
};

/// How the application starts.
#[derive(Clone, Copy, Debug)]
pub struct StartOptions {
    /// Create the demo organization when the database has no organization yet.
    pub demo: bool,
}

/// A built application, bound to its port and ready to serve.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// The demo owner's token, when the demo organization was created on this start.
    pub demo_token: Option<String>,
    reminder_poll: Duration,
}

/// The lifetime of the token printed in the start-up banner.
pub const BANNER_TOKEN_TTL: Duration = Duration::from_secs(30 * 86_400);

/// Connects to the database and migrates it; counts statements into `metrics`.
pub async fn open_database(
    config: &Config,
    metrics: Arc<Metrics>,
) -> anyhow::Result<DatabaseConnection> {
    let db = db::connect(&config.database_url, metrics)
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

impl Application {
    /// Opens the database, prepares the secret and demo data, and binds the listen address.
    pub async fn build(config: &Config, options: StartOptions) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let db = open_database(config, metrics.clone()).await?;
        let keys = token_keys(config, &db).await?;
        let demo_token = if options.demo {
            demo::seed_if_empty(&db)
                .await
                .context("creating the demo organization")?
                .map(|owner| keys.issue(owner.id, owner.organization_id, BANNER_TOKEN_TTL))
        } else {
            None
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let state = AppState {
            schema: graphql::build_schema(),
            db,
            keys,
            metrics,
            storage: Arc::new(Storage {
                dir: config.data_dir.clone(),
                max_bytes: config.max_upload_bytes,
                org_quota_bytes: config.org_upload_quota_bytes,
            }),
            subscription_poll: config.subscription_poll,
            ws_init_timeout: config.ws_init_timeout,
        };
        Ok(Self {
            listener,
            state,
            demo_token,
            reminder_poll: config.reminder_poll,
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

    /// Serves until `shutdown` completes, with the reminder worker beside the server.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // The reminder worker runs beside the server; several instances may run it at once.
        let worker = tokio::spawn(crate::service::reminders::run_worker(
            self.state.db.clone(),
            self.reminder_poll,
        ));
        let router = http::router(self.state);
        let served = axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
        worker.abort();
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
