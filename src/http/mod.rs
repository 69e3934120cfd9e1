//! HTTP routes: `/graphql`, the playground at `/`, `/healthz` and `/metrics`.

mod attachments;
mod graphql;
mod negotiate;
mod ops;
mod ws;

use std::sync::Arc;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{Method, header},
    routing::get,
};
use sea_orm::DatabaseConnection;
use tower_http::{cors::CorsLayer, trace::TraceLayer};

use crate::{auth::TokenKeys, graphql::AppSchema, metrics::Metrics, service::attachments::Storage};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The GraphQL schema.
    pub schema: AppSchema,
    /// The database pool.
    pub db: DatabaseConnection,
    /// Token signing keys.
    pub keys: TokenKeys,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Attachment storage.
    pub storage: Arc<Storage>,
    /// How often live subscriptions poll for new rows.
    pub subscription_poll: std::time::Duration,
    /// How long a WebSocket client has to send `connection_init`.
    pub ws_init_timeout: std::time::Duration,
}

/// The application's router.
///
/// CORS admits any origin: the API authenticates with bearer tokens, never cookies, so a
/// cross-site page cannot act as a user, and browser apps on other origins need it.
pub fn router(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("graphql-require-preflight"),
        ]);
    // Multipart uploads may carry up to ten files of the configured size, plus the operation.
    let body_limit = usize::try_from(
        state
            .storage
            .max_bytes
            .saturating_mul(10)
            .saturating_add(1 << 20),
    )
    .unwrap_or(usize::MAX);
    Router::new()
        .route("/", get(ops::playground))
        .route(
            "/graphql",
            get(graphql::get_graphql)
                .post(graphql::post_graphql)
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/attachments/{id}", get(attachments::download))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .layer(cors)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
