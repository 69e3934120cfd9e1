//! Authentication at the edge: the one place a request's bearer token becomes an [`Actor`].
//!
//! `/graphql` (GET and POST), `/attachments` and the WebSocket upgrade take the [`Caller`]
//! extractor; a WebSocket's `connection_init` (browsers cannot set headers on a WebSocket) and
//! each `subscribe` call [`authenticate_token`]. Both end in `auth::authenticate`, which checks
//! the signature (CPU only) and then the user and the sign-in session, from the process's
//! caller cache when it knows them (no statement) or from the database: a deactivated or
//! demoted user, or a signed-out session, is locked out at once, on every gateway process (see
//! `auth::cache`).

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{
    AppState,
    negotiate::{ResponseType, negotiate},
};
use crate::{auth, error::ApiError, graphql::context::ClientInfo, service::actor::Actor};

/// The caller of a request: `None` when it carried no valid token. An invalid or expired token
/// leaves the request anonymous, as `API.md` has it: every field answers `UNAUTHENTICATED`
/// except the introspection ones (`__typename`, `__schema`, `__type`), which still answer, and
/// `/graphql` adds `WWW-Authenticate: Bearer error="invalid_token"` to its answer.
#[derive(Clone, Debug)]
pub struct Caller(pub Option<Actor>);

/// The database failed while checking the caller's token: answered `500` with an `INTERNAL`
/// GraphQL error, in the response type the request accepts.
#[derive(Debug)]
pub struct AuthUnavailable(ResponseType);

impl IntoResponse for AuthUnavailable {
    fn into_response(self) -> Response {
        let body = json!({ "errors": [{
            "message": "internal error",
            "extensions": { "code": "INTERNAL" },
        }] });
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, self.0.content_type())],
            body.to_string(),
        )
            .into_response()
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AuthUnavailable;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        caller_of(state, &parts.headers).await.map_err(|error| {
            tracing::error!(%error, "authentication failed on the database");
            let accept = parts
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            AuthUnavailable(negotiate(accept).unwrap_or(ResponseType::Json))
        })
    }
}

/// Where a request came from: the connection's peer address (set by the accept loop), the
/// `User-Agent` header, and whether it comes from this machine (see
/// [`super::console::local`]). Never fails; what is unknown is `None` (and not local).
#[derive(Clone, Debug, Default)]
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let local = super::console::local::is_local_request(ip, &parts.uri, &parts.headers);
        Ok(Client(ClientInfo {
            ip,
            user_agent,
            local,
        }))
    }
}

/// The caller behind a request's `Authorization: Bearer` header (`None` when anonymous).
async fn caller_of(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::bearer_token);
    match token {
        Some(token) => Ok(Caller(authenticate_token(state, token).await?)),
        None => Ok(Caller(None)),
    }
}

/// The actor a bearer token stands for now: `None` when the token is invalid or expired or its
/// user is deactivated; an error only when the database cannot be asked.
pub async fn authenticate_token(state: &AppState, token: &str) -> Result<Option<Actor>, ApiError> {
    let callers = state.hub.callers();
    match auth::authenticate_any(
        &state.db,
        &state.keys,
        callers,
        state.oidc.as_deref(),
        token,
    )
    .await
    {
        Ok(actor) => Ok(Some(actor)),
        Err(ApiError::Unauthenticated) => Ok(None),
        Err(other) => Err(other),
    }
}
