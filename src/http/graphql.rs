//! GraphQL over HTTP, written to the GraphQL-over-HTTP specification rather than with the
//! stock `async_graphql_axum::GraphQL` service, which runs mutations over GET, parses any
//! content type (a CSRF hole) and ignores `Accept` (see `../shared/STACK.md`).

use std::time::Instant;

use async_graphql::{
    ServerError, Variables,
    parser::types::{DocumentOperations, OperationType},
};
use axum::{
    body::{Body, Bytes},
    extract::{
        Query, State, WebSocketUpgrade, rejection::QueryRejection,
        ws::rejection::WebSocketUpgradeRejection,
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    AppState,
    auth::{Caller, Client},
    multipart::{self, MultipartError},
    negotiate::{ResponseType, negotiate},
    ws,
};
use crate::{
    graphql::{
        batch::Driven,
        context::{ClientInfo, RequestCaller},
        extension::{ExecutionStarted, assign_request_code},
    },
    service::actor::Actor,
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
    Caller(actor): Caller,
    Client(client): Client,
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
            .max_message_size(state.ws_max_message_bytes)
            .max_frame_size(state.ws_max_message_bytes)
            // Memory per idle socket: tungstenite's 128 KiB default read buffer is allocated
            // (and zeroed) for every connection. Its write buffer only batches frames until a
            // flush, and the writer flushes each message (`SinkExt::send`), so no buffering is
            // lost by writing at once; it holds at most the message being written, so it needs
            // no cap of its own (a slow client is bounded per subscription in `ws`).
            .read_buffer_size(ws::READ_BUFFER_BYTES)
            .write_buffer_size(0)
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
    let refused = token_refused(&headers, actor.as_ref());
    let mut response = execute(state, actor, client, request, response_type).await;
    if refused {
        mark_refused(&mut response);
    }
    response
}

/// `POST /graphql` with a JSON body `{query, variables, operationName}` (at most
/// `THREADLINE_MAX_BODY_BYTES`: a larger body gets 413, refused from its `Content-Length` when
/// there is one, else as soon as the stream passes the limit), or a multipart upload.
pub async fn post_graphql(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Client(client): Client,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(response_type) = negotiate(header_str(&headers, header::ACCEPT)) else {
        return not_acceptable();
    };
    let mime = header_str(&headers, header::CONTENT_TYPE)
        .and_then(|ct| ct.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if mime == "multipart/form-data" {
        return post_multipart(state, actor, client, headers, body, response_type).await;
    }
    if mime != "application/json" {
        return request_error(
            response_type,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request body as `Content-Type: application/json`",
        );
    }
    let body = match read_body(body, &headers, state.max_body_bytes).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return body_too_large(response_type, state.max_body_bytes),
        Err(BodyError::Unreadable(error)) => {
            return request_error(
                response_type,
                StatusCode::BAD_REQUEST,
                &format!("the body could not be read: {error}"),
            );
        }
    };
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
    let request = match request_from_json(body) {
        Ok(request) => request,
        Err(message) => return request_error(response_type, StatusCode::BAD_REQUEST, &message),
    };
    let refused = token_refused(&headers, actor.as_ref());
    let mut response = execute(state, actor, client, request, response_type).await;
    if refused {
        mark_refused(&mut response);
    }
    response
}

/// Whether the request sent an `Authorization` header that named nobody: a token that is
/// malformed, badly signed, expired, of a deactivated user or an ended session (or another
/// scheme than `Bearer`).
///
/// Such a request is answered as an anonymous one, as the public contract says (`API.md`: a
/// request without a valid token gets `UNAUTHENTICATED` for every field but the introspection
/// ones), so `{ __typename }` and the playground's schema still answer with a stale token in
/// its headers. What the client sent is not ignored silently either: the answer carries
/// `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750), and every other field answers
/// `UNAUTHENTICATED`.
fn token_refused(headers: &HeaderMap, actor: Option<&Actor>) -> bool {
    actor.is_none() && headers.contains_key(header::AUTHORIZATION)
}

/// Adds the RFC 6750 `invalid_token` challenge to an answer (see [`token_refused`]).
fn mark_refused(response: &mut Response) {
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
}

/// The GraphQL request in a JSON body `{query, variables, operationName}` (a `POST` body, or a
/// multipart request's `operations`); else what is wrong with it.
pub(super) fn request_from_json(body: Value) -> Result<async_graphql::Request, String> {
    let Value::Object(mut body) = body else {
        return Err("the body must be a JSON object".to_owned());
    };
    let query = match body.remove("query") {
        Some(Value::String(q)) if !q.trim().is_empty() => q,
        _ => return Err("`query` must be a non-empty string".to_owned()),
    };
    let variables = match body.remove("variables") {
        None | Some(Value::Null) => Value::Null,
        Some(v @ Value::Object(_)) => v,
        Some(_) => return Err("`variables` must be an object".to_owned()),
    };
    let mut request = async_graphql::Request::new(query).variables(Variables::from_json(variables));
    match body.remove("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => request = request.operation_name(name),
        Some(_) => return Err("`operationName` must be a string".to_owned()),
    }
    Ok(request)
}

/// Why a request body was not read.
enum BodyError {
    /// It is (or declares itself) larger than the limit.
    TooLarge,
    /// The connection failed while it was read.
    Unreadable(axum::Error),
}

/// The declared `Content-Length`, when there is a valid one.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    header_str(headers, header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok())
}

/// Reads a body of at most `limit` bytes: refused from `Content-Length` before reading anything
/// when it declares more, and otherwise (chunked bodies) as soon as the stream passes the limit.
async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, BodyError> {
    let declared = content_length(headers);
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    // Reserve what is declared, but not more than 64 KiB up front: a declared length costs the
    // sender nothing until the bytes arrive.
    let capacity = declared.map_or(0, |n| usize::try_from(n).unwrap_or(limit));
    let mut buffer = Vec::with_capacity(capacity.min(limit).min(64 * 1024));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyError::Unreadable)?;
        if buffer.len().saturating_add(chunk.len()) > limit {
            return Err(BodyError::TooLarge);
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buffer))
}

/// 413 with a body that says the limit.
fn body_too_large(response_type: ResponseType, limit: usize) -> Response {
    request_error(
        response_type,
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "the request body is larger than {limit} bytes (THREADLINE_MAX_BODY_BYTES); send a \
             smaller document or variables"
        ),
    )
}

/// A GraphQL multipart request (file uploads). A browser sends `multipart/form-data` across
/// sites without a preflight, so it is accepted only with a header a cross-site form cannot
/// set: `Authorization` (which every mutation needs anyway) or `GraphQL-Require-Preflight`.
///
/// The bearer token is checked from the headers before any of the body is read: without a
/// valid one the answer is `UNAUTHENTICATED` (401) and no file part is read or stored; a
/// customer user gets 403, and a user who already has
/// `THREADLINE_MAX_CONCURRENT_UPLOADS_PER_USER` uploads in flight on this process gets 429
/// `RATE_LIMITED`, both before the body is read. The body is then streamed through
/// [`multipart::read_request`] (files go to temporary files, not memory): `operations` and `map`
/// of at most `THREADLINE_MAX_BODY_BYTES` each, at most ten files of
/// `THREADLINE_MAX_UPLOAD_BYTES` each; a part over its limit gets 413 naming the limit.
async fn post_multipart(
    state: AppState,
    actor: Option<Actor>,
    client: ClientInfo,
    headers: HeaderMap,
    body: Body,
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
    let Some(actor) = actor else {
        return unauthenticated(response_type);
    };
    // Customer users may never attach files: refuse before their files are read at all.
    if !actor.is_staff() {
        return coded_error(
            response_type,
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "customer users cannot upload files",
        );
    }
    // Held until the request has run and its temporary files are closed.
    let max = state.max_concurrent_uploads_per_user;
    let Some(_slot) = state.uploads.acquire(actor.user_id, max) else {
        let mut response = coded_error(
            response_type,
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            &format!(
                "too many uploads at once: at most {max} multipart requests per user may be in \
                 flight (THREADLINE_MAX_CONCURRENT_UPLOADS_PER_USER); wait for one to finish"
            ),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    let limits = multipart::Limits {
        max_body: u64::try_from(state.max_body_bytes).unwrap_or(u64::MAX),
        max_file: state.storage.max_bytes,
    };
    let declared = content_length(&headers).filter(|n| *n > limits.whole());
    let read = match declared {
        Some(_) => Err(limits.whole_too_large()),
        None => {
            let content_type = header_str(&headers, header::CONTENT_TYPE).unwrap_or_default();
            multipart::read_request(body, content_type, limits).await
        }
    };
    let request = match read {
        Ok(request) => request,
        Err(error @ MultipartError::TooLarge(_)) => {
            return request_error(
                response_type,
                StatusCode::PAYLOAD_TOO_LARGE,
                &error.to_string(),
            );
        }
        Err(error @ MultipartError::Invalid(_)) => {
            return request_error(response_type, StatusCode::BAD_REQUEST, &error.to_string());
        }
        Err(error @ MultipartError::Spool(_)) => {
            tracing::error!(%error, "reading a multipart request");
            return internal_error(response_type);
        }
    };
    execute(state, Some(actor), client, request, response_type).await
}

/// 401 `UNAUTHENTICATED`: a request that needs a valid token (an upload) came without one.
fn unauthenticated(response_type: ResponseType) -> Response {
    let mut response = coded_error(
        response_type,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
        "send a valid `Authorization: Bearer <token>` header to upload files",
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// 500 `INTERNAL` (the database failed, a response could not be written); details are logged.
fn internal_error(response_type: ResponseType) -> Response {
    coded_error(
        response_type,
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
        "internal error",
    )
}

/// An answer with one error carrying `code`, for requests refused before GraphQL runs.
fn coded_error(
    response_type: ResponseType,
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    respond(response_type, status, &body)
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The operation the request selects, chosen the way the executor chooses it: by
/// `operationName` when one is given, else the document's only operation, named or not; with
/// its name and type. `None` for a document the executor would refuse (a parse error, an
/// unknown name, several operations and no name): execution reports it as a request error
/// without running anything.
fn selected_operation(
    request: &mut async_graphql::Request,
) -> Option<(Option<String>, OperationType)> {
    let operation_name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), None) => Some((None, op.node.ty)),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(ops), Some(name)) => {
            let ty = ops.get(name.as_str())?.node.ty;
            Some((Some(name), ty))
        }
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops
            .iter()
            .next()
            .map(|(name, op)| (Some(name.to_string()), op.node.ty)),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Whether the operation the request selects is a mutation (see [`selected_operation`]).
fn is_mutation(request: &mut async_graphql::Request) -> bool {
    selected_operation(request).is_some_and(|(_, ty)| ty == OperationType::Mutation)
}

/// The operation's name for metrics: the requested `operationName`, else the name of the
/// operation the document selects.
fn operation_label(request: &mut async_graphql::Request) -> Option<String> {
    if let Some(name) = &request.operation_name {
        return Some(name.clone());
    }
    selected_operation(request).and_then(|(name, _)| name)
}

/// Runs a request as `actor` (resolved once, by the caller, from the request's headers).
async fn execute(
    state: AppState,
    actor: Option<Actor>,
    client: ClientInfo,
    request: async_graphql::Request,
    response_type: ResponseType,
) -> Response {
    let started = Instant::now();
    let mut request = request;
    // Only a signed-in caller names a metrics series: anonymous requests cannot use up the
    // bounded set of operation labels and push real operations into "other".
    let operation = match actor {
        Some(_) => operation_label(&mut request),
        None => Some("unauthenticated".to_owned()),
    };
    let executed = ExecutionStarted::default();
    let caller = RequestCaller::new(&state.db, actor).with_client(client);
    let dispatcher = caller.dispatcher();
    let request = request.data(caller).data(executed.clone());
    let mut response = Driven::new(dispatcher, state.schema.execute(request)).await;
    let ok = response.errors.is_empty();
    state
        .metrics
        .record_request(operation.as_deref(), ok, started.elapsed());
    if executed.get() {
        // Serialized straight from the response (fields in the order async-graphql resolved them).
        return match serde_json::to_string(&response) {
            Ok(body) => respond_text(response_type, StatusCode::OK, body),
            Err(error) => {
                tracing::error!(%error, "serializing a GraphQL response");
                internal_error(response_type)
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
