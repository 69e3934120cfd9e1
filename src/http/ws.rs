//! GraphQL over WebSocket with the `graphql-transport-ws` protocol (the `graphql-ws` library's),
//! driven here rather than by async-graphql's stock handler so that every protocol violation
//! closes with the protocol's code (see `../shared/STACK.md`): 4400 bad message, 4401
//! subscribe before acknowledgement, 4403 rejected credentials, 4408 no `connection_init` in
//! time, 4409 duplicate subscription id, 4429 a second `connection_init` (and, with a reason
//! saying so, one connection more than a user may hold open).
//!
//! Limits: a message or frame larger than `THREADLINE_WS_MAX_MESSAGE_BYTES` (64 KiB by default)
//! is refused from its frame header, before its payload is read, and closes the connection with
//! 1009. A user may hold `THREADLINE_WS_MAX_SOCKETS_PER_USER` (20 by default) acknowledged
//! connections at once; the count is kept per gateway process (it is a resource limit for this
//! process, not a quota across instances), so behind a load balancer with N instances a user
//! may hold up to N times as many.
//!
//! Keep-alive: every `THREADLINE_WS_PING_INTERVAL_SECS` (30 s) an acknowledged connection gets
//! the protocol's `{"type":"ping"}` message, not a WebSocket ping frame: the protocol requires
//! every client to answer it with `pong`, and unlike a ping frame (which browsers answer in
//! their network stack and never show to JavaScript) it reaches the client application, so a
//! `graphql-ws` client sees the server is alive (`on: { ping }`) and notices a half-open
//! connection without a keep-alive timer of its own; its answer proves the client's protocol
//! handler runs, not just its TCP stack. Either kind of traffic keeps proxies and load
//! balancers from timing the connection out. A client that sends nothing at all between two
//! pings is gone or stuck and is closed with 4408 (the code `graphql-ws`'s own ping/pong
//! timeout recipe uses). The client's own pings (messages or frames) are answered as before.
//!
//! Idle timeout: a connection with no subscription running and no message from its client
//! (answers to our pings do not count) for `THREADLINE_WS_IDLE_TIMEOUT_SECS` (5 min) is closed
//! with 1000 and a reason saying so; a lazy `graphql-ws` client reconnects when it next needs
//! one.
//!
//! Slow clients: each subscription has its own queue of at most
//! `THREADLINE_WS_SUBSCRIPTION_BUFFER` (128) messages waiting for the connection's writer,
//! which takes from the queues in turn, so a busy subscription cannot hold back the others.
//! When a client reads too slowly for a subscription's events, its queue fills and that
//! subscription is ended with an `error` (`RATE_LIMITED`, "fell behind"; the protocol sends no
//! `complete` after an `error`), instead of memory growing or the other operations waiting
//! behind it. What is queued before the error is still delivered.
//!
//! Shutdown: when the process stops (see [`OpenSockets`]), each connection stops reading new
//! operations, sends `complete` for every operation still running (after what they had
//! queued), then a close frame 1001, and waits briefly for the client's close.
//!
//! Memory: an idle connection holds one task (this handler), a writer task, the WebSocket's
//! read buffer ([`READ_BUFFER_BYTES`], set on the upgrade instead of tungstenite's 128 KiB
//! default, which was most of an idle socket's memory; a larger message grows it as needed)
//! and one small queue per operation; the rarely taken steps (authentication, the periodic
//! re-check) run in boxed futures so the handler's own state stays small while it waits.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use async_graphql::Variables;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{
    SinkExt, StreamExt,
    stream::{SplitSink, SplitStream},
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::{
    sync::{Notify, watch},
    task::AbortHandle,
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::{AppState, auth::authenticate_token, limits::PerUserSlot};
use crate::{
    auth::{self, ActorKind},
    error::ApiError,
    graphql::{AppSchema, batch::Driven, context::RequestCaller},
    metrics::Metrics,
    service::actor::Actor,
};

/// The subprotocol name.
pub const PROTOCOL: &str = "graphql-transport-ws";

/// The WebSocket read buffer, in bytes, set on the upgrade (tungstenite allocates 128 KiB per
/// connection by default and fills it with zeroes, so each idle socket kept that much resident).
/// Client messages are small; a larger one (up to `THREADLINE_WS_MAX_MESSAGE_BYTES`) grows the
/// buffer to fit.
pub const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Operations that may run at once on one connection; more get a `RATE_LIMITED` error.
const MAX_OPERATIONS: usize = 50;

/// Control messages (pongs, pings) that may wait for the writer; past it, pongs to a client
/// that pings without reading are dropped rather than queued.
const MAX_CONTROL: usize = 16;

/// How long a closing connection waits for its close frame to be written and the client's
/// close to arrive before it drops the connection.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the open connections' callers are checked to be still active, with the same role,
/// and their tokens unexpired (all of this process's connections together, see [`Watchlist`]);
/// a connection that fails the check is closed with 4403. Every `subscribe` checks as well, so a
/// new operation never runs on stale rights.
pub const RECHECK_EVERY: Duration = Duration::from_secs(5);

/// Users read by one statement of a re-check round.
const RECHECK_CHUNK: usize = 1000;

/// The close reason when the caller's rights changed under an open connection.
const STALE: &str =
    "Forbidden: the user was deactivated, their role changed or the token expired; reconnect";

/// The settings every WebSocket connection runs with.
#[derive(Clone, Copy, Debug)]
pub struct WsSettings {
    /// How long a client has to send `connection_init`.
    pub init_timeout: Duration,
    /// How often an acknowledged connection gets a keep-alive `ping`.
    pub ping_interval: Duration,
    /// How long a connection with no operation and no client message stays open.
    pub idle_timeout: Duration,
    /// How many messages one operation may have waiting for the writer.
    pub subscription_buffer: usize,
}

/// The WebSocket connections open on this process, as shutdown sees them: it tells them to
/// close, and waits until they have.
#[derive(Clone, Debug)]
pub struct OpenSockets {
    /// Cancelled when shutdown has begun and the listener is closed.
    closing: CancellationToken,
    /// Cancelled when the shutdown grace is over: connections still open are dropped.
    expired: CancellationToken,
    /// Each open connection holds a receiver; the sender sees when none is left.
    open: Arc<watch::Sender<()>>,
}

impl OpenSockets {
    /// Tracks the connections of a process that stops when `closing` is cancelled and drops
    /// what is left when `expired` is.
    pub fn new(closing: CancellationToken, expired: CancellationToken) -> Self {
        let (open, _) = watch::channel(());
        Self {
            closing,
            expired,
            open: Arc::new(open),
        }
    }

    /// How many connections are open.
    pub fn count(&self) -> usize {
        self.open.receiver_count()
    }

    /// Waits until every connection has closed.
    pub async fn all_closed(&self) {
        self.open.closed().await;
    }
}

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

/// The caller behind `token` as they are now: `Some` while they are active, unchanged since
/// `before` and the token is valid; `None` when the connection must close with 4403 (another
/// role or kind means the subscriptions running with the old rights must end).
async fn current(state: &AppState, before: &Actor, token: &str) -> Result<Option<Actor>, ApiError> {
    Ok(authenticate_token(state, token).await?.filter(|now| {
        now.user_id == before.user_id && now.org_id == before.org_id && now.kind == before.kind
    }))
}

// ---------------------------------------------------------------------------------------------
// The outbox: what the connection's operations and its reader queue for the one writer.

/// The messages waiting to be written on one connection: control messages first, then the
/// operations' queues in turn, then (once closing) the close frame.
struct Outbox {
    queues: Mutex<Queues>,
    /// Wakes the writer when something was queued.
    queued: Notify,
    /// Wakes the connection: an operation ended (its idle clock may start), or the caller lost
    /// their rights.
    wake: Notify,
    /// The caller lost their rights (see [`Watchlist`]): the connection closes with 4403.
    revoked: AtomicBool,
    /// How many messages one operation may have waiting.
    capacity: usize,
}

struct Queues {
    control: VecDeque<Message>,
    operations: Vec<Operation>,
    /// Where the writer's turn over the operations goes on.
    turn: usize,
    /// The close frame, written once everything queued before it is.
    close: Option<Message>,
    /// Nothing more is taken: the connection is closing or the writer stopped.
    shut: bool,
    /// When the last operation ended (the idle clock starts there too).
    last_ended: Instant,
}

/// One operation's queue.
struct Operation {
    id: Box<str>,
    messages: VecDeque<Message>,
    /// Its last message (`complete` or `error`) is queued: it ends once that is written.
    finished: bool,
    /// The task running it.
    task: Option<AbortHandle>,
}

/// Whether an operation could be registered.
enum Opened {
    Yes,
    /// One with the same id is still running.
    Duplicate,
    /// `MAX_OPERATIONS` are running.
    TooMany,
}

/// What became of a message an operation queued.
enum Queued {
    /// It will be written.
    Yes,
    /// The operation's queue is full: the client fell behind.
    Full,
    /// The operation was completed by the client, or the connection is closing.
    Gone,
}

/// What the writer does next.
enum Next {
    Write(Message),
    Close(Message),
    Wait,
    Done,
}

impl Outbox {
    fn new(capacity: usize) -> Self {
        Self {
            queues: Mutex::new(Queues {
                control: VecDeque::new(),
                operations: Vec::new(),
                turn: 0,
                close: None,
                shut: false,
                last_ended: Instant::now(),
            }),
            queued: Notify::new(),
            wake: Notify::new(),
            revoked: AtomicBool::new(false),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        // Only pushes and pops happen under the lock: the queues stay valid if a holder panicked.
        self.queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a control message (an acknowledgement, a ping or a pong); `false` when the
    /// connection is closing or too many are waiting already.
    fn control(&self, message: Message) -> bool {
        let mut queues = self.lock();
        if queues.shut || queues.control.len() >= MAX_CONTROL {
            return false;
        }
        queues.control.push_back(message);
        drop(queues);
        self.queued.notify_one();
        true
    }

    /// When the connection's operations all ended, `None` while one runs.
    fn idle_since(&self) -> Option<Instant> {
        let queues = self.lock();
        queues.operations.is_empty().then_some(queues.last_ended)
    }

    /// Registers operation `id`, unless one with that id is still running or has messages
    /// waiting, or `MAX_OPERATIONS` are.
    fn open(&self, id: &str) -> Opened {
        let mut queues = self.lock();
        if queues.operations.iter().any(|o| &*o.id == id) {
            return Opened::Duplicate;
        }
        if queues.operations.len() >= MAX_OPERATIONS {
            return Opened::TooMany;
        }
        queues.operations.push(Operation {
            id: id.into(),
            messages: VecDeque::new(),
            finished: false,
            task: None,
        });
        Opened::Yes
    }

    /// Notes the task running operation `id`, so that `complete` and closing can stop it.
    fn running(&self, id: &str, task: AbortHandle) {
        let mut queues = self.lock();
        match queues.operations.iter_mut().find(|o| &*o.id == id) {
            Some(operation) if !operation.finished => operation.task = Some(task),
            // It already ended (or was completed) before we got here.
            _ => {}
        }
    }

    /// Queues one of operation `id`'s results, unless its queue is full.
    fn next(&self, id: &str, message: Message) -> Queued {
        let mut queues = self.lock();
        if queues.shut {
            return Queued::Gone;
        }
        let Some(operation) = queues.operations.iter_mut().find(|o| &*o.id == id) else {
            return Queued::Gone;
        };
        if operation.messages.len() >= self.capacity {
            return Queued::Full;
        }
        operation.messages.push_back(message);
        drop(queues);
        self.queued.notify_one();
        Queued::Yes
    }

    /// Queues operation `id`'s last message (beyond its queue's capacity: it always fits),
    /// unless it has one already.
    fn finish(&self, id: &str, message: Message) {
        let mut queues = self.lock();
        if queues.shut {
            return;
        }
        if let Some(operation) = queues
            .operations
            .iter_mut()
            .find(|o| &*o.id == id && !o.finished)
        {
            operation.messages.push_back(message);
            operation.finished = true;
            operation.task = None;
        }
        drop(queues);
        self.queued.notify_one();
    }

    /// The client completed operation `id`: stops it and drops what it had queued.
    fn cancel(&self, id: &str) {
        let mut queues = self.lock();
        if let Some(at) = queues.operations.iter().position(|o| &*o.id == id) {
            let operation = queues.operations.remove(at);
            if let Some(task) = operation.task {
                task.abort();
            }
            queues.last_ended = Instant::now();
        }
    }

    /// Stops taking messages and stops every operation's task; with `complete`, each operation
    /// that had not ended gets `complete` after what it had queued. The writer then writes what
    /// is queued and `close` (when given) last.
    fn shut(&self, close: Option<Message>, complete: bool) {
        let mut queues = self.lock();
        queues.shut = true;
        for operation in &mut queues.operations {
            if let Some(task) = operation.task.take() {
                task.abort();
            }
            if complete && !operation.finished {
                let id = operation.id.to_string();
                operation
                    .messages
                    .push_back(text(json!({ "id": id, "type": "complete" })));
                operation.finished = true;
            }
        }
        queues.close = close;
        drop(queues);
        self.queued.notify_one();
    }

    /// The caller lost their rights: wakes the connection to close it with 4403.
    fn revoke(&self) {
        self.revoked.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// The writer stopped (the client went away): nothing queued will be written.
    fn writer_stopped(&self) {
        let mut queues = self.lock();
        queues.shut = true;
        queues.control.clear();
        for operation in queues.operations.drain(..) {
            if let Some(task) = operation.task {
                task.abort();
            }
        }
        queues.close = None;
        drop(queues);
        self.wake.notify_one();
    }

    /// The next message to write: control messages first, then one message of each operation
    /// in turn, then the close frame once closing.
    fn take(&self) -> Next {
        let mut queues = self.lock();
        if let Some(message) = queues.control.pop_front() {
            return Next::Write(message);
        }
        let count = queues.operations.len();
        for step in 0..count {
            let at = (queues.turn + step) % count;
            let operation = &mut queues.operations[at];
            let Some(message) = operation.messages.pop_front() else {
                continue;
            };
            if operation.messages.is_empty() {
                // A burst is over: give its memory back.
                operation.messages.shrink_to(4);
            }
            if operation.finished && operation.messages.is_empty() {
                queues.operations.remove(at);
                queues.last_ended = Instant::now();
                queues.turn = at;
                drop(queues);
                self.wake.notify_one();
            } else {
                queues.turn = at + 1;
            }
            return Next::Write(message);
        }
        if !queues.shut {
            return Next::Wait;
        }
        match queues.close.take() {
            Some(close) => Next::Close(close),
            None => Next::Done,
        }
    }
}

/// Writes what the outbox holds until the connection closes or the client goes away.
async fn write(mut sink: SplitSink<WebSocket, Message>, outbox: Arc<Outbox>) {
    loop {
        match outbox.take() {
            Next::Write(message) => {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            Next::Close(message) => {
                let _ = sink.send(message).await;
                break;
            }
            Next::Wait => outbox.queued.notified().await,
            Next::Done => break,
        }
    }
    outbox.writer_stopped();
    let _ = sink.close().await;
}

// ---------------------------------------------------------------------------------------------
// The watchlist: every acknowledged connection's caller, re-checked together.

/// The callers of this process's acknowledged connections, re-checked together every
/// [`RECHECK_EVERY`] by [`recheck_sockets`]: one statement for up to 1,000 users instead of one
/// per connection, so idle sockets add nothing per socket to the database's load. (Each
/// connection used to run its own check every 5 s: 1,000 idle sockets were 200 statements a
/// second.) The check reads the database, so a change made through any gateway process counts.
#[derive(Default)]
pub struct Watchlist {
    next: AtomicU64,
    watched: Mutex<HashMap<u64, Watched>>,
}

/// One connection's caller as it was acknowledged.
struct Watched {
    user_id: i64,
    org_id: i64,
    kind: ActorKind,
    /// When the token expires (Unix seconds), read from it once its signature was checked at
    /// `connection_init` (ours or the identity provider's: signatures do not change later).
    expires_at: Option<i64>,
    /// The sign-in session the token belongs to: signing it out closes the connection.
    session_id: Option<i64>,
    outbox: Arc<Outbox>,
}

/// The `exp` claim of a token whose signature was already verified.
fn token_expiry(token: &str) -> Option<i64> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()?
        .get("exp")?
        .as_i64()
}

/// A connection's place on the watchlist; dropping it takes the connection off.
struct Watching {
    list: Arc<Watchlist>,
    id: u64,
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.list.lock().remove(&self.id);
    }
}

impl Watchlist {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Watched>> {
        self.watched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Watches the caller of the connection whose outbox is `outbox`.
    fn watch(self: &Arc<Self>, actor: &Actor, token: Arc<str>, outbox: &Arc<Outbox>) -> Watching {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(
            id,
            Watched {
                user_id: actor.user_id,
                org_id: actor.org_id,
                kind: actor.kind,
                expires_at: token_expiry(&token),
                session_id: actor.session_id,
                outbox: outbox.clone(),
            },
        );
        Watching {
            list: self.clone(),
            id,
        }
    }

    /// One round: reads every watched user (one statement per [`RECHECK_CHUNK`] users) and
    /// the sign-in sessions their tokens belong to (likewise; none for tokens without one), and
    /// closes, with 4403, each connection whose user is gone, deactivated, moved or changed
    /// role or kind, whose session was signed out, or whose token expired. Returns how many it
    /// closed.
    pub async fn recheck(&self, db: &DatabaseConnection) -> Result<usize, sea_orm::DbErr> {
        let (mut users, mut sessions): (Vec<i64>, Vec<i64>) = {
            let watched = self.lock();
            (
                watched.values().map(|w| w.user_id).collect(),
                watched.values().filter_map(|w| w.session_id).collect(),
            )
        };
        for ids in [&mut users, &mut sessions] {
            ids.sort_unstable();
            ids.dedup();
        }
        let mut now = HashMap::with_capacity(users.len());
        for chunk in users.chunks(RECHECK_CHUNK) {
            let rows = entity::user::Entity::find()
                .filter(entity::user::Column::Id.is_in(chunk.iter().copied()))
                .all(db)
                .await?;
            now.extend(rows.into_iter().map(|row| (row.id, row)));
        }
        let mut open = std::collections::HashSet::with_capacity(sessions.len());
        for chunk in sessions.chunks(RECHECK_CHUNK) {
            let rows: Vec<i64> = entity::session::Entity::find()
                .select_only()
                .column(entity::session::Column::Id)
                .filter(entity::session::Column::Id.is_in(chunk.iter().copied()))
                .filter(entity::session::Column::RevokedAt.is_null())
                .into_tuple()
                .all(db)
                .await?;
            open.extend(rows);
        }
        let mut revoked = 0;
        for watched in self.lock().values() {
            if users.binary_search(&watched.user_id).is_err()
                || watched
                    .session_id
                    .is_some_and(|s| sessions.binary_search(&s).is_err())
            {
                // Acknowledged since this round read the users: the next round checks it.
                continue;
            }
            // As `auth::authenticate` decides, with the same kind as at `connection_init`.
            let unexpired = watched
                .expires_at
                .is_none_or(|exp| exp > chrono::Utc::now().timestamp());
            let signed_in = watched.session_id.is_none_or(|s| open.contains(&s));
            let still = unexpired
                && signed_in
                && now
                    .get(&watched.user_id)
                    .filter(|u| u.active && u.organization_id == watched.org_id)
                    .and_then(auth::actor_of)
                    .is_some_and(|a| a.kind == watched.kind);
            if !still && !watched.outbox.revoked.load(Ordering::Acquire) {
                watched.outbox.revoke();
                revoked += 1;
            }
        }
        Ok(revoked)
    }
}

/// Re-checks the callers of every open connection each [`RECHECK_EVERY`] until `stop` is
/// cancelled (see [`Watchlist`]).
pub async fn recheck_sockets(state: AppState, stop: CancellationToken) {
    let mut every = tokio::time::interval(RECHECK_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = stop.cancelled() => return,
        }
        if let Err(error) = state.ws_watchlist.recheck(&state.db).await {
            tracing::warn!(%error, "re-checking the websockets' users failed");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The connection.

/// How a connection's session ended.
enum Ending {
    /// The server closes it with this frame.
    Close(Message),
    /// The process is shutting down: complete the operations, then close with 1001.
    Shutdown,
    /// The client closed it or went away.
    Gone,
}

/// Serves one WebSocket connection until either side closes it.
pub async fn serve(socket: WebSocket, state: AppState) {
    let sockets = state.ws_open.clone();
    let _open = sockets.open.subscribe();
    if sockets.closing.is_cancelled() {
        // Upgraded while the process began to stop.
        let (mut sink, _) = socket.split();
        let _ = sink.send(close(1001, "Server shutting down")).await;
        return;
    }
    state.metrics.websocket_opened();
    let (sink, mut stream) = socket.split();
    let outbox = Arc::new(Outbox::new(state.ws.subscription_buffer));
    let mut writer = tokio::spawn(write(sink, outbox.clone()));
    let ending = {
        let mut session = Session {
            state: &state,
            outbox: &outbox,
            actor: None,
            token: None,
            slot: None,
            watching: None,
        };
        session.run(&mut stream).await
    };
    let closing = match ending {
        Ending::Close(frame) => {
            outbox.shut(Some(frame), false);
            true
        }
        Ending::Shutdown => {
            state.metrics.websocket_closed_by_server("shutdown");
            outbox.shut(Some(close(1001, "Server shutting down")), true);
            true
        }
        Ending::Gone => {
            outbox.shut(None, false);
            false
        }
    };
    // Write what is queued and the close frame, then read until the client's close (the
    // closing handshake), within bounds: a client that reads nothing never takes them.
    let finish = async {
        let _ = (&mut writer).await;
        if closing {
            while let Some(Ok(message)) = stream.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        }
    };
    tokio::select! {
        () = finish => {}
        () = tokio::time::sleep(CLOSE_TIMEOUT) => {}
        () = sockets.expired.cancelled() => {}
    }
    writer.abort();
    state.metrics.websocket_closed();
}

/// What woke the connection.
enum Event {
    /// A deadline passed.
    Due,
    /// An operation ended, or the caller lost their rights.
    Woken,
    /// The process is shutting down.
    Shutdown,
    /// A frame from the client (or the end of its stream).
    Incoming(Option<Result<Message, axum::Error>>),
}

/// One connection's protocol state, owned by its reading side.
struct Session<'a> {
    state: &'a AppState,
    outbox: &'a Arc<Outbox>,
    /// The caller, once `connection_init` was accepted.
    actor: Option<Actor>,
    /// Their token, re-checked at each `subscribe` (and with every socket's, periodically).
    token: Option<Arc<str>>,
    /// Held while the connection is open, so the user's count drops when it ends.
    slot: Option<PerUserSlot>,
    /// The connection's place on the watchlist, held while it is open.
    watching: Option<Watching>,
}

/// The connection's clocks.
struct Clocks {
    /// When `connection_init` must have arrived by.
    init_deadline: Instant,
    /// The next keep-alive ping (once acknowledged).
    next_ping: Option<Instant>,
    /// A ping went out and nothing came from the client since.
    unanswered: bool,
    /// The client's last message, answers to pings aside.
    last_message: Instant,
}

impl Session<'_> {
    /// Reads and answers the client's messages until the connection must end.
    async fn run(&mut self, stream: &mut SplitStream<WebSocket>) -> Ending {
        let settings = self.state.ws;
        let opened = Instant::now();
        let mut clocks = Clocks {
            init_deadline: opened + settings.init_timeout,
            next_ping: None,
            unanswered: false,
            last_message: opened,
        };
        let timer = tokio::time::sleep_until(clocks.init_deadline);
        tokio::pin!(timer);
        loop {
            let deadline = self.deadline(&clocks);
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            let event = tokio::select! {
                () = &mut timer => Event::Due,
                () = self.outbox.wake.notified() => Event::Woken,
                () = self.state.ws_open.closing.cancelled() => Event::Shutdown,
                incoming = stream.next() => Event::Incoming(incoming),
            };
            let incoming = match event {
                Event::Due => match self.on_timer(&mut clocks) {
                    Some(ending) => return ending,
                    None => continue,
                },
                Event::Woken if self.outbox.revoked.load(Ordering::Acquire) => {
                    return Ending::Close(close(4403, STALE));
                }
                // An operation ended: the idle clock may start.
                Event::Woken => continue,
                Event::Shutdown => return Ending::Shutdown,
                Event::Incoming(incoming) => incoming,
            };
            let incoming = match incoming {
                Some(Ok(incoming)) => incoming,
                Some(Err(error)) if is_too_big(&error) => {
                    let reason = format!(
                        "Message too big: at most {} bytes",
                        self.state.ws_max_message_bytes
                    );
                    return Ending::Close(close(1009, &reason));
                }
                Some(Err(_)) | None => return Ending::Gone,
            };
            // Anything from the client answers an outstanding ping.
            clocks.unanswered = false;
            let raw = match incoming {
                Message::Text(text) => text,
                Message::Binary(_) => {
                    return Ending::Close(close(4400, "Binary messages are not supported"));
                }
                Message::Close(_) => return Ending::Gone,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            let message: ClientMessage = match serde_json::from_str(raw.as_str()) {
                Ok(message) => message,
                Err(error) => {
                    return Ending::Close(close(4400, &format!("Invalid message: {error}")));
                }
            };
            if !matches!(message, ClientMessage::Pong {}) {
                clocks.last_message = Instant::now();
            }
            if let Some(ending) = self.on_message(message, &mut clocks).await {
                return ending;
            }
        }
    }

    /// The next time something is due: the `connection_init` deadline before it arrived;
    /// then the next ping, and the idle timeout while no operation runs.
    fn deadline(&self, clocks: &Clocks) -> Instant {
        if self.actor.is_none() {
            return clocks.init_deadline;
        }
        let mut at = clocks.next_ping.unwrap_or(clocks.init_deadline);
        if let Some(since) = self.outbox.idle_since() {
            at = at.min(since.max(clocks.last_message) + self.state.ws.idle_timeout);
        }
        at
    }

    /// Does what is due.
    fn on_timer(&mut self, clocks: &mut Clocks) -> Option<Ending> {
        let now = Instant::now();
        let settings = self.state.ws;
        if self.actor.is_none() {
            if now >= clocks.init_deadline {
                return Some(Ending::Close(close(
                    4408,
                    "Connection initialisation timeout",
                )));
            }
            return None;
        }
        if let Some(since) = self.outbox.idle_since() {
            let idle_for = now.saturating_duration_since(since.max(clocks.last_message));
            if idle_for >= settings.idle_timeout {
                self.state.metrics.websocket_closed_by_server("idle");
                let reason = format!(
                    "Idle timeout: no subscription and no message for {}s",
                    settings.idle_timeout.as_secs_f32()
                );
                return Some(Ending::Close(close(1000, &reason)));
            }
        }
        if clocks.next_ping.is_some_and(|at| now >= at) {
            if clocks.unanswered {
                self.state.metrics.websocket_closed_by_server("no_pong");
                let reason = format!(
                    "Pong timeout: nothing from the client for {}s after a ping",
                    settings.ping_interval.as_secs_f32()
                );
                return Some(Ending::Close(close(4408, &reason)));
            }
            // When the ping cannot even be queued, the client reads nothing: unanswered too.
            self.outbox.control(text(json!({ "type": "ping" })));
            clocks.unanswered = true;
            clocks.next_ping = Some(now + settings.ping_interval);
        }
        None
    }

    /// Handles one client message.
    async fn on_message(&mut self, message: ClientMessage, clocks: &mut Clocks) -> Option<Ending> {
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.token.is_some() || self.actor.is_some() {
                    return Some(Ending::Close(close(
                        4429,
                        "Too many initialisation requests",
                    )));
                }
                let offered = bearer(payload.as_ref());
                // The same check as the HTTP routes' `Caller` extractor; boxed, as it is large
                // and runs once.
                let checked = match &offered {
                    Some(t) => Box::pin(authenticate_token(self.state, t))
                        .await
                        .and_then(|a| a.ok_or(ApiError::Unauthenticated)),
                    None => Err(ApiError::Unauthenticated),
                };
                match checked {
                    Ok(actor) => {
                        let max = self.state.ws_max_sockets_per_user;
                        let Some(slot) = self.state.ws_sockets.acquire(actor.user_id, max) else {
                            let reason = format!(
                                "Too many open connections: at most {max} per user; close one"
                            );
                            return Some(Ending::Close(close(4429, &reason)));
                        };
                        let token: Arc<str> = offered.unwrap_or_default().into();
                        self.watching = Some(self.state.ws_watchlist.watch(
                            &actor,
                            token.clone(),
                            self.outbox,
                        ));
                        self.slot = Some(slot);
                        self.actor = Some(actor);
                        self.token = Some(token);
                        clocks.next_ping = Some(Instant::now() + self.state.ws.ping_interval);
                        self.outbox
                            .control(text(json!({ "type": "connection_ack" })));
                        None
                    }
                    Err(ApiError::Unauthenticated) => Some(Ending::Close(close(
                        4403,
                        "Forbidden: send {\"authorization\": \"Bearer <token>\"} in connection_init",
                    ))),
                    Err(error) => {
                        tracing::error!(%error, "websocket authentication failed");
                        Some(Ending::Close(close(1011, "Internal error")))
                    }
                }
            }
            ClientMessage::Ping { payload } => {
                let mut pong = json!({ "type": "pong" });
                if let Some(payload) = payload {
                    pong["payload"] = payload;
                }
                self.outbox.control(text(pong));
                None
            }
            ClientMessage::Pong {} => None,
            ClientMessage::Subscribe { id, payload } => self.subscribe(id, payload).await,
            ClientMessage::Complete { id } => {
                self.outbox.cancel(&id);
                None
            }
        }
    }

    /// Starts operation `id`.
    async fn subscribe(&mut self, id: String, payload: SubscribePayload) -> Option<Ending> {
        let (Some(before), Some(token)) = (&self.actor, &self.token) else {
            return Some(Ending::Close(close(4401, "Unauthorized")));
        };
        // Each operation runs with the caller as they are now, not as they were at
        // `connection_init`: a deactivated, demoted or expired caller is closed out.
        let actor = match Box::pin(current(self.state, before, token)).await {
            Ok(Some(now)) => now,
            Ok(None) => return Some(Ending::Close(close(4403, STALE))),
            Err(error) => {
                tracing::error!(%error, "websocket authentication failed");
                return Some(Ending::Close(close(1011, "Internal error")));
            }
        };
        match self.outbox.open(&id) {
            Opened::Yes => {}
            Opened::Duplicate => {
                return Some(Ending::Close(close(
                    4409,
                    &format!("Subscriber for {id} already exists"),
                )));
            }
            Opened::TooMany => {
                let error = json!([{
                    "message": format!("at most {MAX_OPERATIONS} operations may run on one connection"),
                    "extensions": { "code": "RATE_LIMITED" },
                }]);
                self.outbox
                    .control(text(json!({ "id": id, "type": "error", "payload": error })));
                return None;
            }
        }
        let task = tokio::spawn(run_operation(
            Operating {
                schema: self.state.schema.clone(),
                db: self.state.db.clone(),
                metrics: self.state.metrics.clone(),
                outbox: self.outbox.clone(),
            },
            actor,
            id.clone(),
            payload,
        ));
        self.outbox.running(&id, task.abort_handle());
        None
    }
}

/// What an operation's task needs of the application (not all of [`AppState`]: the task is
/// kept while its subscription lives).
struct Operating {
    schema: AppSchema,
    db: DatabaseConnection,
    metrics: Arc<Metrics>,
    outbox: Arc<Outbox>,
}

/// Ends an operation that stopped without its last message (its task panicked) with an
/// `INTERNAL` error; does nothing when it has ended, was completed, or the connection closes.
struct Ended<'a> {
    outbox: &'a Outbox,
    id: &'a str,
}

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        let error = json!([{ "message": "internal error", "extensions": { "code": "INTERNAL" } }]);
        self.outbox.finish(
            self.id,
            text(json!({ "id": self.id, "type": "error", "payload": error })),
        );
    }
}

/// The `error` payload of a subscription whose client fell behind.
fn fell_behind(capacity: usize) -> Value {
    json!([{
        "message": format!(
            "the subscription fell behind: {capacity} of its messages were waiting for the client \
             to read them; subscribe again (and query what was missed)"
        ),
        "extensions": { "code": "RATE_LIMITED" },
    }])
}

/// Runs one operation and queues its results as `next` messages, then `complete`. A result
/// without data (the operation failed: parse or validation errors, a subscription that cannot
/// start, or one that lost its access) ends the operation with one `error` message instead, as
/// does a full queue (the client fell behind).
async fn run_operation(with: Operating, actor: Actor, id: String, payload: SubscribePayload) {
    let Operating {
        schema,
        db,
        metrics,
        outbox,
    } = with;
    // Should the operation's task panic, its client still learns that it ended.
    let _ended = Ended {
        outbox: &outbox,
        id: &id,
    };
    let caller = RequestCaller::new(&db, Some(actor));
    let dispatcher = caller.dispatcher();
    let mut request = async_graphql::Request::new(payload.query)
        .variables(Variables::from_json(
            payload.variables.unwrap_or(Value::Null),
        ))
        .data(caller);
    if let Some(name) = payload.operation_name {
        request = request.operation_name(name);
    }
    let mut responses = Driven::new(dispatcher, schema.execute_stream(request));
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
            outbox.finish(
                &id,
                text(json!({ "id": id, "type": "error", "payload": errors })),
            );
            return;
        }
        let payload = serde_json::to_value(&response).unwrap_or(Value::Null);
        let next = text(json!({ "id": id, "type": "next", "payload": payload }));
        match outbox.next(&id, next) {
            Queued::Yes => {}
            Queued::Gone => return,
            Queued::Full => {
                metrics.subscription_fell_behind();
                tracing::info!(operation = %id, "a websocket subscription fell behind its client");
                let payload = fell_behind(outbox.capacity);
                outbox.finish(
                    &id,
                    text(json!({ "id": id, "type": "error", "payload": payload })),
                );
                return;
            }
        }
    }
    outbox.finish(&id, text(json!({ "id": id, "type": "complete" })));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Message {
        Message::Text(Utf8Bytes::from(text.to_owned()))
    }

    /// What the writer takes next, as text (`close` for the close frame, `wait`, `done`).
    fn take(outbox: &Outbox) -> String {
        match outbox.take() {
            Next::Write(Message::Text(text)) => text.to_string(),
            Next::Write(other) => format!("{other:?}"),
            Next::Close(_) => "close".into(),
            Next::Wait => "wait".into(),
            Next::Done => "done".into(),
        }
    }

    #[test]
    fn control_first_then_each_operation_in_turn() {
        let outbox = Outbox::new(8);
        assert!(matches!(outbox.open("a"), Opened::Yes));
        assert!(matches!(outbox.open("b"), Opened::Yes));
        assert!(matches!(outbox.open("a"), Opened::Duplicate));
        for text in ["a1", "a2", "a3"] {
            assert!(matches!(outbox.next("a", message(text)), Queued::Yes));
        }
        assert!(matches!(outbox.next("b", message("b1")), Queued::Yes));
        assert!(outbox.control(message("pong")));
        let order: Vec<String> = (0..6).map(|_| take(&outbox)).collect();
        assert_eq!(order, ["pong", "a1", "b1", "a2", "a3", "wait"]);
        assert!(matches!(outbox.next("nope", message("x")), Queued::Gone));
    }

    #[test]
    fn a_full_queue_ends_its_operation_after_what_it_holds() {
        let outbox = Outbox::new(2);
        assert!(matches!(outbox.open("a"), Opened::Yes));
        assert!(matches!(outbox.open("b"), Opened::Yes));
        assert!(matches!(outbox.next("a", message("a1")), Queued::Yes));
        assert!(matches!(outbox.next("a", message("a2")), Queued::Yes));
        assert!(matches!(outbox.next("a", message("a3")), Queued::Full));
        // The other operation is not affected.
        assert!(matches!(outbox.next("b", message("b1")), Queued::Yes));
        // The last message fits beyond the capacity.
        outbox.finish("a", message("a-error"));
        // Only the first last message counts (a task that panicked after it adds nothing).
        outbox.finish("a", message("a-internal"));
        assert_eq!(outbox.idle_since(), None);
        let order: Vec<String> = (0..5).map(|_| take(&outbox)).collect();
        assert_eq!(order, ["a1", "b1", "a2", "a-error", "wait"]);
        // "a" ended once its error was written: its id is free again; "b" still runs.
        assert!(matches!(outbox.open("a"), Opened::Yes));
        assert!(matches!(outbox.open("b"), Opened::Duplicate));
        outbox.cancel("a");
        outbox.cancel("b");
        assert!(outbox.idle_since().is_some());
    }

    #[test]
    fn cancelling_drops_what_was_queued() {
        let outbox = Outbox::new(4);
        assert!(matches!(outbox.open("a"), Opened::Yes));
        assert!(matches!(outbox.next("a", message("a1")), Queued::Yes));
        outbox.cancel("a");
        assert!(matches!(outbox.next("a", message("a2")), Queued::Gone));
        assert_eq!(take(&outbox), "wait");
    }

    #[test]
    fn shutting_down_completes_each_operation_then_closes() {
        let outbox = Outbox::new(4);
        for id in ["a", "b", "c"] {
            assert!(matches!(outbox.open(id), Opened::Yes));
        }
        assert!(matches!(outbox.next("a", message("a1")), Queued::Yes));
        // "c" had already ended with an error: no `complete` after it.
        outbox.finish("c", message("c-error"));
        outbox.shut(Some(close(1001, "Server shutting down")), true);
        assert!(matches!(outbox.next("b", message("late")), Queued::Gone));
        assert!(!outbox.control(message("pong")));
        let order: Vec<String> = (0..6).map(|_| take(&outbox)).collect();
        assert_eq!(
            order,
            [
                "a1",
                r#"{"id":"b","type":"complete"}"#,
                "c-error",
                r#"{"id":"a","type":"complete"}"#,
                "close",
                "done"
            ]
        );
    }

    #[test]
    fn close_reasons_fit_a_close_frame() {
        let Message::Close(Some(frame)) = close(4400, &"é".repeat(100)) else {
            panic!("a close frame");
        };
        assert!(frame.reason.len() <= 123);
    }
}
