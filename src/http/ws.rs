//! GraphQL over WebSocket with the `graphql-transport-ws` protocol (the `graphql-ws`
//! library's), driven here rather than by async-graphql's stock handler so that every protocol
//! violation closes with the protocol's code (see `../shared/STACK.md`): 4400 bad message,
//! 4401 subscribe before acknowledgement, 4403 rejected credentials, 4408 no
//! `connection_init` in time, 4409 duplicate subscription id, 4429 a second `connection_init`
//! (and, with a reason saying so, one connection more than a user may hold open).
//!
//! Limits: a message or frame larger than `THREADLINE_WS_MAX_MESSAGE_BYTES` (64 KiB by default)
//! is refused from its frame header, before its payload is read, and closes the connection with
//! 1009. A user may hold `THREADLINE_WS_MAX_SOCKETS_PER_USER` (20 by default) acknowledged
//! connections at once; the count is kept per gateway process (it is a resource limit for this
//! process, not a quota across instances), so behind a load balancer with N instances a user
//! may hold up to N times as many.

use std::{collections::HashMap, time::Duration};

use async_graphql::Variables;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::{sync::mpsc, task::JoinHandle};

use super::{AppState, auth::authenticate_token, limits::PerUserSlot};
use crate::{
    auth,
    error::ApiError,
    graphql::{batch::Driven, context::RequestCaller},
    service::actor::Actor,
};

/// The subprotocol name.
pub const PROTOCOL: &str = "graphql-transport-ws";

/// Operations that may run at once on one connection; more get a `RATE_LIMITED` error.
const MAX_OPERATIONS: usize = 50;

/// Whether a read error is the message-size limit (tungstenite's capacity error, which axum
/// hands over boxed; its text is the only stable handle without depending on tungstenite).
fn is_too_big(error: &axum::Error) -> bool {
    let text = error.to_string();
    text.contains("Space limit exceeded") || text.contains("Message too long")
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<Value>,
    },
    Pong {},
    Subscribe {
        id: String,
        payload: SubscribePayload,
    },
    Complete {
        id: String,
    },
}

#[derive(Deserialize)]
struct SubscribePayload {
    query: String,
    #[serde(default)]
    variables: Option<Value>,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
}

fn close(code: u16, reason: &str) -> Message {
    // A close frame's reason may hold at most 123 bytes.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason[..end].to_owned()),
    }))
}

fn text(value: Value) -> Message {
    Message::Text(Utf8Bytes::from(value.to_string()))
}

/// The bearer token in `connection_init`'s payload `{"authorization": "Bearer <token>"}`.
fn bearer(payload: Option<&Value>) -> Option<String> {
    let header = payload
        .and_then(|p| p.get("authorization").or_else(|| p.get("Authorization")))
        .and_then(Value::as_str)?;
    auth::bearer_token(header).map(str::to_owned)
}

/// How often an open connection checks that its user is still active, with the same role, and
/// that the token has not expired; a connection that fails the check is closed with 4403.
/// Every `subscribe` checks as well, so a new operation never runs on stale rights.
const RECHECK_EVERY: Duration = Duration::from_secs(5);

/// The close reason when the caller's rights changed under an open connection.
const STALE: &str =
    "Forbidden: the user was deactivated, their role changed or the token expired; reconnect";

/// The caller behind `token` as they are now: `Some` while they are active, unchanged since
/// `before` and the token is valid; `None` when the connection must close with 4403 (another
/// role or kind means the subscriptions running with the old rights must end).
async fn current(state: &AppState, before: &Actor, token: &str) -> Result<Option<Actor>, ApiError> {
    Ok(authenticate_token(state, token).await?.filter(|now| {
        now.user_id == before.user_id && now.org_id == before.org_id && now.kind == before.kind
    }))
}

/// Serves one WebSocket connection until either side closes it.
pub async fn serve(socket: WebSocket, state: AppState) {
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(64);
    // One writer task: subscriptions and the reader send through the channel.
    let writer = tokio::spawn(async move {
        while let Some(message) = out_rx.recv().await {
            let closing = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || closing {
                break;
            }
        }
        let _ = sink.close().await;
    });

    let init_timeout = state.ws_init_timeout;
    let mut actor: Option<Actor> = None;
    let mut token: Option<String> = None;
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Held while the connection is open, so the user's count drops when it ends.
    let mut _slot: Option<PerUserSlot> = None;
    let mut init_seen = false;
    let mut subscriptions: HashMap<String, JoinHandle<()>> = HashMap::new();
    let deadline = tokio::time::sleep(init_timeout);
    tokio::pin!(deadline);

    loop {
        let incoming = tokio::select! {
            () = &mut deadline, if !init_seen => {
                let _ = out_tx.send(close(4408, "Connection initialisation timeout")).await;
                break;
            }
            _ = recheck.tick(), if actor.is_some() => {
                let (Some(before), Some(token)) = (&actor, &token) else { continue };
                match current(&state, before, token).await {
                    Ok(Some(_)) => continue,
                    Ok(None) => {
                        let _ = out_tx.send(close(4403, STALE)).await;
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "re-checking a websocket's user failed");
                        continue;
                    }
                }
            }
            incoming = stream.next() => incoming,
        };
        let incoming = match incoming {
            Some(Ok(incoming)) => incoming,
            Some(Err(error)) if is_too_big(&error) => {
                let reason = format!(
                    "Message too big: at most {} bytes",
                    state.ws_max_message_bytes
                );
                let _ = out_tx.send(close(1009, &reason)).await;
                break;
            }
            Some(Err(_)) | None => break,
        };
        let raw = match incoming {
            Message::Text(text) => text.to_string(),
            Message::Binary(_) => {
                let _ = out_tx
                    .send(close(4400, "Binary messages are not supported"))
                    .await;
                break;
            }
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let message: ClientMessage = match serde_json::from_str(&raw) {
            Ok(message) => message,
            Err(error) => {
                let _ = out_tx
                    .send(close(4400, &format!("Invalid message: {error}")))
                    .await;
                break;
            }
        };
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if init_seen {
                    let _ = out_tx
                        .send(close(4429, "Too many initialisation requests"))
                        .await;
                    break;
                }
                init_seen = true;
                let offered = bearer(payload.as_ref());
                // The same check as the HTTP routes' `Caller` extractor.
                let checked = match &offered {
                    Some(t) => authenticate_token(&state, t)
                        .await
                        .and_then(|a| a.ok_or(ApiError::Unauthenticated)),
                    None => Err(ApiError::Unauthenticated),
                };
                match checked {
                    Ok(a) => {
                        let max = state.ws_max_sockets_per_user;
                        let Some(slot) = state.ws_sockets.acquire(a.user_id, max) else {
                            let reason = format!(
                                "Too many open connections: at most {max} per user; close one"
                            );
                            let _ = out_tx.send(close(4429, &reason)).await;
                            break;
                        };
                        _slot = Some(slot);
                        actor = Some(a);
                        token = offered;
                        recheck.reset();
                        let _ = out_tx.send(text(json!({ "type": "connection_ack" }))).await;
                    }
                    Err(ApiError::Unauthenticated) => {
                        let _ = out_tx.send(close(4403, "Forbidden: send {\"authorization\": \"Bearer <token>\"} in connection_init")).await;
                        break;
                    }
                    Err(error) => {
                        tracing::error!(%error, "websocket authentication failed");
                        let _ = out_tx.send(close(1011, "Internal error")).await;
                        break;
                    }
                }
            }
            ClientMessage::Ping { payload } => {
                let mut pong = json!({ "type": "pong" });
                if let Some(payload) = payload {
                    pong["payload"] = payload;
                }
                let _ = out_tx.send(text(pong)).await;
            }
            ClientMessage::Pong {} => {}
            ClientMessage::Subscribe { id, payload } => {
                let (Some(before), Some(token)) = (actor.clone(), token.as_deref()) else {
                    let _ = out_tx.send(close(4401, "Unauthorized")).await;
                    break;
                };
                // Each operation runs with the caller as they are now, not as they were at
                // `connection_init`: a deactivated, demoted or expired caller is closed out.
                let actor = match current(&state, &before, token).await {
                    Ok(Some(now)) => now,
                    Ok(None) => {
                        let _ = out_tx.send(close(4403, STALE)).await;
                        break;
                    }
                    Err(error) => {
                        tracing::error!(%error, "websocket authentication failed");
                        let _ = out_tx.send(close(1011, "Internal error")).await;
                        break;
                    }
                };
                subscriptions.retain(|_, task| !task.is_finished());
                if subscriptions.contains_key(&id) {
                    let _ = out_tx
                        .send(close(4409, &format!("Subscriber for {id} already exists")))
                        .await;
                    break;
                }
                if subscriptions.len() >= MAX_OPERATIONS {
                    let error = json!([{
                        "message": format!("at most {MAX_OPERATIONS} operations may run on one connection"),
                        "extensions": { "code": "RATE_LIMITED" },
                    }]);
                    let _ = out_tx
                        .send(text(json!({ "id": id, "type": "error", "payload": error })))
                        .await;
                    continue;
                }
                let task = tokio::spawn(run_operation(
                    state.clone(),
                    actor,
                    id.clone(),
                    payload,
                    out_tx.clone(),
                ));
                subscriptions.insert(id, task);
            }
            ClientMessage::Complete { id } => {
                if let Some(task) = subscriptions.remove(&id) {
                    task.abort();
                }
            }
        }
    }
    for task in subscriptions.into_values() {
        task.abort();
    }
    drop(out_tx);
    let _ = writer.await;
}

/// Runs one operation and streams its results as `next` messages, then `complete`. A result
/// without data (the operation failed: parse or validation errors, a subscription that cannot
/// start, or one that lost its access) ends the operation with one `error` message instead.
async fn run_operation(
    state: AppState,
    actor: Actor,
    id: String,
    payload: SubscribePayload,
    out: mpsc::Sender<Message>,
) {
    let caller = RequestCaller::new(&state.db, Some(actor));
    let dispatcher = caller.dispatcher();
    let mut request = async_graphql::Request::new(payload.query)
        .variables(Variables::from_json(
            payload.variables.unwrap_or(Value::Null),
        ))
        .data(caller);
    if let Some(name) = payload.operation_name {
        request = request.operation_name(name);
    }
    let mut responses = Driven::new(dispatcher, state.schema.execute_stream(request));
    let mut first = true;
    while let Some(response) = responses.next().await {
        let failed_to_start =
            first && response.data == async_graphql::Value::Null && !response.errors.is_empty();
        first = false;
        if failed_to_start {
            let mut errors = response.errors;
            for error in &mut errors {
                let has_code = error
                    .extensions
                    .as_ref()
                    .is_some_and(|e| e.get("code").is_some());
                if !has_code {
                    crate::graphql::extension::assign_request_code(error);
                }
            }
            let _ = out
                .send(text(
                    json!({ "id": id, "type": "error", "payload": errors }),
                ))
                .await;
            return;
        }
        let payload = serde_json::to_value(&response).unwrap_or(Value::Null);
        if out
            .send(text(
                json!({ "id": id, "type": "next", "payload": payload }),
            ))
            .await
            .is_err()
        {
            return;
        }
    }
    let _ = out
        .send(text(json!({ "id": id, "type": "complete" })))
        .await;
}
