//! GraphQL over HTTP, written to the GraphQL-over-HTTP specification rather than with the
//! stock `async_graphql_axum::GraphQL` service, which runs mutations over GET, parses any
//! content type (a CSRF hole) and ignores `Accept` (see `../shared/STACK.md`).

use std::time::Instant;

use async_graphql::{
    ParseRequestError, ServerError, Variables,
    http::MultipartOptions,
    parser::types::{DocumentOperations, OperationType},
};
use axum::{
    body::Bytes,
    extract::{
        Query, State, WebSocketUpgrade, rejection::QueryRejection,
        ws::rejection::WebSocketUpgradeRejection,
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    AppState,
    negotiate::{ResponseType, negotiate},
    ws,
};
use crate::{
    auth::{self, Actor},
    error::ApiError,
    graphql::{
        context::RequestState,
        extension::{ExecutionStarted, assign_request_code},
    },
};

/// The parameters of `GET /graphql`.
#[derive(Deserialize)]
pub struct GetParams {
    query: Option<String>,
    variables: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
}

/// `GET /graphql?query=...`: queries only; a mutation gets 405 with `Allow: POST`.
pub async fn get_graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    if headers.contains_key(header::UPGRADE) {
        let Ok(upgrade) = upgrade else {
            return (StatusCode::BAD_REQUEST, "not a valid WebSocket upgrade").into_response();
        };
        let offered = header_str(&headers, header::SEC_WEBSOCKET_PROTOCOL)
            .is_some_and(|p| p.split(',').any(|p| p.trim() == ws::PROTOCOL));
        if !offered {
            return (
                StatusCode::BAD_REQUEST,
                "use the graphql-transport-ws subprotocol",
            )
                .into_response();
        }
        return upgrade
            .protocols([ws::PROTOCOL])
            .on_upgrade(move |socket| ws::serve(socket, state));
    }
    let Some(response_type) = negotiate(header_str(&headers, header::ACCEPT)) else {
        return not_acceptable();
    };
    let Ok(Query(params)) = params else {
        return request_error(
            response_type,
            StatusCode::BAD_REQUEST,
            "the query string could not be read",
        );
    };
    let Some(query) = params.query.filter(|q| !q.trim().is_empty()) else {
        return request_error(
            response_type,
            StatusCode::BAD_REQUEST,
            "a `query` parameter is required",
        );
    };
    let variables = match params.variables.as_deref().filter(|v| !v.is_empty()) {
        None => Value::Null,
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(v @ (Value::Object(_) | Value::Null)) => v,
            _ => {
                return request_error(
                    response_type,
                    StatusCode::BAD_REQUEST,
                    "`variables` must be a JSON object",
                );
            }
        },
    };
    let mut request = async_graphql::Request::new(query).variables(Variables::from_json(variables));
    if let Some(name) = params.operation_name.filter(|n| !n.is_empty()) {
        request = request.operation_name(name);
    }
    if is_mutation(&mut request) {
        let mut response = request_error(
            response_type,
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    execute(state, &headers, request, response_type).await
}

/// `POST /graphql` with a JSON body `{query, variables, operationName}`.
pub async fn post_graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(response_type) = negotiate(header_str(&headers, header::ACCEPT)) else {
        return not_acceptable();
    };
    let mime = header_str(&headers, header::CONTENT_TYPE)
        .and_then(|ct| ct.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if mime == "multipart/form-data" {
        return post_multipart(state, headers, body, response_type).await;
    }
    if mime != "application/json" {
        return request_error(
            response_type,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request body as `Content-Type: application/json`",
        );
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(error) => {
            return request_error(
                response_type,
                StatusCode::BAD_REQUEST,
                &format!("the body is not valid JSON: {error}"),
            );
        }
    };
    let Value::Object(mut body) = body else {
        return request_error(
            response_type,
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
        );
    };
    let query = match body.remove("query") {
        Some(Value::String(q)) if !q.trim().is_empty() => q,
        _ => {
            return request_error(
                response_type,
                StatusCode::BAD_REQUEST,
                "`query` must be a non-empty string",
            );
        }
    };
    let variables = match body.remove("variables") {
        None | Some(Value::Null) => Value::Null,
        Some(v @ Value::Object(_)) => v,
        Some(_) => {
            return request_error(
                response_type,
                StatusCode::BAD_REQUEST,
                "`variables` must be an object",
            );
        }
    };
    let mut request = async_graphql::Request::new(query).variables(Variables::from_json(variables));
    match body.remove("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => request = request.operation_name(name),
        Some(_) => {
            return request_error(
                response_type,
                StatusCode::BAD_REQUEST,
                "`operationName` must be a string",
            );
        }
    }
    execute(state, &headers, request, response_type).await
}

/// A GraphQL multipart request (file uploads). A browser sends `multipart/form-data` across
/// sites without a preflight, so it is accepted only with a header a cross-site form cannot
/// set: `Authorization` (which every mutation needs anyway) or `GraphQL-Require-Preflight`.
async fn post_multipart(
    state: AppState,
    headers: HeaderMap,
    body: Bytes,
    response_type: ResponseType,
) -> Response {
    let preflighted = headers.contains_key(header::AUTHORIZATION)
        || headers.contains_key("graphql-require-preflight");
    if !preflighted {
        return request_error(
            response_type,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "multipart requests need an Authorization or GraphQL-Require-Preflight header",
        );
    }
    let options = MultipartOptions::default()
        .max_file_size(usize::try_from(state.storage.max_bytes).unwrap_or(usize::MAX))
        .max_num_files(10);
    let content_type = header_str(&headers, header::CONTENT_TYPE).map(str::to_owned);
    let request = match async_graphql::http::receive_body(
        content_type,
        futures_util::io::Cursor::new(body),
        options,
    )
    .await
    {
        Ok(request) => request,
        Err(ParseRequestError::PayloadTooLarge) => {
            let message = format!("files may be at most {} bytes", state.storage.max_bytes);
            return request_error(response_type, StatusCode::PAYLOAD_TOO_LARGE, &message);
        }
        Err(error) => {
            return request_error(
                response_type,
                StatusCode::BAD_REQUEST,
                &format!("the multipart request could not be read: {error}"),
            );
        }
    };
    execute(state, &headers, request, response_type).await
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether the operation the request selects is a mutation (a parse error is not: it is
/// reported by execution as a request error).
fn is_mutation(request: &mut async_graphql::Request) -> bool {
    let operation_name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    match &document.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
        DocumentOperations::Multiple(ops) => operation_name
            .as_deref()
            .and_then(|name| ops.get(name))
            .is_some_and(|op| op.node.ty == OperationType::Mutation),
    }
}

/// The operation's name for metrics: the requested `operationName`, else the name of the
/// document's only operation.
fn operation_label(request: &mut async_graphql::Request) -> Option<String> {
    if let Some(name) = &request.operation_name {
        return Some(name.clone());
    }
    match &request.parsed_query().ok()?.operations {
        DocumentOperations::Multiple(ops) if ops.len() == 1 => {
            ops.keys().next().map(|n| n.to_string())
        }
        _ => None,
    }
}

/// Resolves the bearer token (if any) to an actor. An invalid token leaves the request
/// anonymous, so every field but introspection answers `UNAUTHENTICATED`.
pub(super) async fn actor_for(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Actor>, ApiError> {
    let Some(value) = header_str(headers, header::AUTHORIZATION) else {
        return Ok(None);
    };
    let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    else {
        return Ok(None);
    };
    match auth::authenticate(&state.db, &state.keys, token.trim()).await {
        Ok(actor) => Ok(Some(actor)),
        Err(ApiError::Unauthenticated) => Ok(None),
        Err(other) => Err(other),
    }
}

async fn execute(
    state: AppState,
    headers: &HeaderMap,
    request: async_graphql::Request,
    response_type: ResponseType,
) -> Response {
    let started = Instant::now();
    let mut request = request;
    let operation = operation_label(&mut request);
    let actor = match actor_for(&state, headers).await {
        Ok(actor) => actor,
        Err(error) => {
            tracing::error!(%error, "authentication failed on the database");
            state
                .metrics
                .record_request(operation.as_deref(), false, started.elapsed());
            let body = json!({ "errors": [{ "message": "internal error", "extensions": { "code": "INTERNAL" } }] });
            return respond(response_type, StatusCode::INTERNAL_SERVER_ERROR, &body);
        }
    };
    let executed = ExecutionStarted::default();
    let request = request
        .data(RequestState::new(state.db.clone(), actor))
        .data(state.storage.clone())
        .data(executed.clone());
    let mut response = state.schema.execute(request).await;
    let ok = response.errors.is_empty();
    state
        .metrics
        .record_request(operation.as_deref(), ok, started.elapsed());
    if executed.get() {
        // Serialized straight from the response, so fields keep the order the query asked for.
        return match serde_json::to_string(&response) {
            Ok(body) => respond_text(response_type, StatusCode::OK, body),
            Err(error) => {
                tracing::error!(%error, "serializing a GraphQL response");
                let body = json!({ "errors": [{ "message": "internal error", "extensions": { "code": "INTERNAL" } }] });
                respond(response_type, StatusCode::INTERNAL_SERVER_ERROR, &body)
            }
        };
    }
    // A request error: the operation never ran, so there is no `data` at all.
    response.errors.iter_mut().for_each(assign_request_code);
    let body = json!({ "errors": response.errors });
    let status = match response_type {
        ResponseType::GraphqlResponseJson => StatusCode::BAD_REQUEST,
        ResponseType::Json => StatusCode::OK,
    };
    respond(response_type, status, &body)
}

fn respond(response_type: ResponseType, status: StatusCode, body: &Value) -> Response {
    respond_text(response_type, status, body.to_string())
}

fn respond_text(response_type: ResponseType, status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, response_type.content_type())],
        body,
    )
        .into_response()
}

/// A request the server could not even read (not JSON, no query...): 4xx with an error body.
fn request_error(response_type: ResponseType, status: StatusCode, message: &str) -> Response {
    let mut error = ServerError::new(message, None);
    assign_request_code(&mut error);
    respond(response_type, status, &json!({ "errors": [error] }))
}

fn not_acceptable() -> Response {
    (
        StatusCode::NOT_ACCEPTABLE,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        json!({ "errors": [{ "message": "accept application/graphql-response+json or application/json", "extensions": { "code": "BAD_USER_INPUT" } }] }).to_string(),
    )
        .into_response()
}
