//! HTTP routes: `/graphql`, the playground at `/`, `/healthz` and `/metrics`.

mod attachments;
pub mod auth;
pub mod console;
mod graphql;
mod limits;
mod multipart;
mod negotiate;
mod ops;
pub mod serve;
pub mod ws;

use std::sync::Arc;

use axum::{
    Router,
    http::{Method, header},
    routing::get,
};
use sea_orm::DatabaseConnection;
use tower_http::{cors::CorsLayer, trace::TraceLayer};

pub use limits::{PerUserCounter, PerUserSlot};

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
    /// The identity provider's token verifier, when one is configured.
    pub oidc: Option<Arc<crate::auth::oidc::Oidc>>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Attachment storage.
    pub storage: Arc<Storage>,
    /// How often the bus's safety read runs.
    pub subscription_poll: std::time::Duration,
    /// The process's bus hub (for `/metrics`).
    pub hub: Arc<crate::bus::Hub>,
    /// What `GET /` serves.
    pub playground: crate::config::Playground,
    /// Whether the console may offer the demo sign-in: the listener is a loopback address
    /// (see [`console::demo`]).
    pub demo_sign_in: bool,
    /// What every WebSocket connection runs with: timeouts, keep-alive, buffers.
    pub ws: ws::WsSettings,
    /// The open WebSocket connections, as shutdown sees them.
    pub ws_open: ws::OpenSockets,
    /// The callers of the acknowledged WebSocket connections, re-checked together.
    pub ws_watchlist: Arc<ws::Watchlist>,
    /// The largest JSON request body, in bytes (larger ones get 413 before being read in full).
    pub max_body_bytes: usize,
    /// The largest WebSocket message or frame, in bytes.
    pub ws_max_message_bytes: usize,
    /// How many WebSocket connections one user may hold open on this process.
    pub ws_max_sockets_per_user: usize,
    /// The open WebSocket connections per user, on this process.
    pub ws_sockets: Arc<PerUserCounter>,
    /// How many multipart requests (uploads) one user may have in flight on this process.
    pub max_concurrent_uploads_per_user: usize,
    /// The multipart requests in flight per user, on this process.
    pub uploads: Arc<PerUserCounter>,
}

/// The application's router.
///
/// CORS admits any origin on the API (`/graphql`, `/attachments`, `/healthz`, `/metrics`): it
/// authenticates with bearer tokens, never cookies, so a cross-site page cannot act as a user,
/// and browser apps on other origins need it. The console's routes (the page, its assets,
/// `examples.json`, `demo.json`) carry no CORS headers at all: no other origin has any business
/// reading them, and `demo.json` holds the demo password. The layer is a route layer, so an
/// unknown path (`/console/demo.json` where it is not offered) gets a plain 404 without them.
pub fn router(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("graphql-require-preflight"),
        ])
        // A browser app may read why its token was refused (see `graphql::token_refused`).
        .expose_headers([header::WWW_AUTHENTICATE]);
    // `/graphql` reads its bodies itself, as streams with their own limits (see `graphql`);
    // no other route reads a body.
    let api = Router::new()
        .route(
            "/graphql",
            get(graphql::get_graphql).post(graphql::post_graphql),
        )
        .route("/attachments/{id}", get(attachments::download))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route_layer(cors);
    Router::new()
        .merge(console::routes(state.playground, state.demo_sign_in))
        .merge(api)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
