//! Operational routes: health and metrics.

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};

use super::AppState;

/// `GET /healthz`: 200 when the database answers, 503 otherwise.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(error) => {
            tracing::warn!(%error, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
        }
    }
}

/// `GET /metrics`: Prometheus text exposition. The webhook backlog is read from the database
/// now (one statement), so every process reports the queue they share.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    match crate::service::deliveries::backlog(&state.db).await {
        Ok(backlog) => {
            let age = backlog
                .oldest
                .and_then(|t| (crate::service::now() - t).to_std().ok())
                .unwrap_or_default();
            state.metrics.set_webhook_backlog(backlog.depth, age);
        }
        Err(error) => tracing::warn!(%error, "reading the webhook backlog for /metrics"),
    }
    state
        .metrics
        .set_bus(state.hub.registrations(), state.hub.signals_delivered());
    let callers = state.hub.callers();
    let (hits, misses) = callers.hits_and_misses();
    state.metrics.set_caller_cache(callers.len(), hits, misses);
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
}
