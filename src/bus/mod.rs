//! The live-updates bus: how a committed change reaches the subscriptions and background jobs
//! of every gateway process that share its database, without any of them polling.
//!
//! **Publishing.** A change publishes a small [`Signal`] (organization, contact, user, event id:
//! never content) on its own transaction with [`publish`]. On PostgreSQL that is
//! `pg_notify('threadline_bus', ...)`, which PostgreSQL delivers to every listening process when
//! the transaction commits, and never when it rolls back. On SQLite (one process owns the file)
//! the same call runs a no-op statement that the connection's statement hook hands to an
//! in-process broadcast ([`local`]); the one pooled SQLite connection is held by the
//! transaction until it commits or rolls back, so a subscriber woken by the signal cannot read
//! before the change is visible (and finds nothing after a rollback).
//!
//! **Listening.** Each process runs one listener ([`run`]): on PostgreSQL one `LISTEN`ing
//! connection, reconnecting after a drop; on SQLite the broadcast. Every signal is handed to
//! the process's [`Hub`], an in-memory index of who is interested in what ([`Key`]: a contact,
//! a user's reminders or notifications, a user's account, the reminder schedule, the webhook
//! outbox). Only the registrations under the signal's keys are woken, and each woken
//! subscriber re-reads through the normal access-checked service code, so the access rules
//! stay in one place and a signal carries no data anyone could misuse.
//!
//! **Fallbacks.** A slow safety read (`THREADLINE_SUBSCRIPTION_POLL_MS`, 30 s by default) and
//! a catch-up read after every (re)connection look for timeline events and notifications
//! written since the last one seen ([`catch_up`]) and wake their keys, so a lost notification
//! or a dropped listening connection delays an update, never loses it. Both are one query per
//! process, whatever the number of subscribers: an idle subscriber costs no database work.
//!
//! **Another broker.** The transport is the [`Broker`] trait; when one PostgreSQL's
//! notification queue becomes the limit, a broker such as NATS can carry the signals instead
//! (it must then also be fed after commit, for example by relaying what `LISTEN` receives from
//! one process, or from an outbox table).

pub mod catch_up;
pub mod hub;
pub mod local;
pub mod postgres;
mod signal;

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio_util::sync::CancellationToken;

pub use self::{
    hub::{Hub, Key, Registration},
    signal::Signal,
};
use crate::error::ApiResult;

/// The PostgreSQL channel signals travel on.
pub const CHANNEL: &str = "threadline_bus";

/// The statement that publishes on SQLite: it does nothing in the database; the connection's
/// statement hook ([`local::Tap`]) recognises it and broadcasts its parameter.
pub const SQLITE_PUBLISH: &str = "SELECT $1 AS threadline_bus";

/// The statement that publishes on PostgreSQL (channel, then signal); the connection's
/// statement hook ([`local::Tap`]) recognises it too, to tell the process's own hub what its
/// transaction is about to change ([`Hub::published`]).
pub const POSTGRES_PUBLISH: &str = "SELECT pg_notify($1, $2)";

/// Publishes `signal` on `db`'s transaction (or at once outside one): it reaches the listeners
/// when the transaction commits, and never if it rolls back.
pub async fn publish<C: ConnectionTrait>(db: &C, signal: &Signal) -> ApiResult<()> {
    publish_all(db, std::slice::from_ref(signal)).await
}

/// Publishes `signals` as [`publish`] does, in one statement (one `NOTIFY`) for as many as fit
/// in a payload: a write that records several timeline events and their webhook deliveries
/// tells the other processes once.
pub async fn publish_all<C: ConnectionTrait>(db: &C, signals: &[Signal]) -> ApiResult<()> {
    let backend = db.get_database_backend();
    for text in signal::payloads(signals) {
        let statement = match backend {
            DbBackend::Postgres => Statement::from_sql_and_values(
                backend,
                POSTGRES_PUBLISH,
                [CHANNEL.into(), text.into()],
            ),
            _ => Statement::from_sql_and_values(backend, SQLITE_PUBLISH, [text.into()]),
        };
        db.execute_raw(statement).await?;
    }
    Ok(())
}

/// A stream of rows that subscribers read in order (`> the last one sent`).
#[derive(Clone, Copy, Debug)]
pub enum Stream {
    /// The timeline events of one contact.
    Contact(i64),
    /// The notifications of one user.
    Notifications(i64),
    /// Fired reminders, read by `(fired_at, id)`: the passes of every gateway, one at a time
    /// (a pass is one short transaction), so that a later pass's `fired_at` is later.
    FiredReminders,
}

/// Makes the rows of `stream` written on `db`'s transaction take their ids in commit order.
///
/// On PostgreSQL ids are handed out when a row is inserted, not when it commits: with two
/// writers, id 11 may commit before id 10, and a subscriber that already sent 11 would never
/// send 10. A transaction-level advisory lock per stream, taken before the insert and held
/// until commit, serialises the writers of one stream (writers of different contacts or users
/// do not wait for each other; two streams sharing a lock key only wait, never mix). SQLite
/// has one writer at a time already.
pub async fn order<C: ConnectionTrait>(db: &C, stream: Stream) -> ApiResult<()> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    // The two-int4 form: a key space apart from the single-bigint migration lock.
    let (space, id): (i32, i64) = match stream {
        Stream::Contact(id) => (0x7464, id),
        Stream::Notifications(id) => (0x6e74, id),
        Stream::FiredReminders => (0x7266, 0),
    };
    let key = i32::try_from(id.rem_euclid(i64::from(i32::MAX))).unwrap_or_default();
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1, $2)",
        [space.into(), key.into()],
    ))
    .await?;
    Ok(())
}

/// A transport for signals: delivers what is published to a process's hub.
pub trait Broker: Send + Sync + 'static {
    /// Hands every signal published from now on to `hub` until `cancel` fires. Calls
    /// `connected` after each (re)connection, once the broker is listening, so that what was
    /// published while it was not is caught up; returns an error when the connection is lost
    /// (the caller reconnects).
    fn listen<'a>(
        &'a self,
        hub: &'a Hub,
        connected: &'a (dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> + Sync),
        cancel: &'a CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// The broker for `db`: `LISTEN/NOTIFY` on PostgreSQL, the in-process broadcast on SQLite.
pub fn default_broker(db: &DatabaseConnection, tap: &local::Tap) -> Arc<dyn Broker> {
    if db.get_database_backend() == DbBackend::Postgres {
        Arc::new(postgres::Notify::new(db))
    } else {
        Arc::new(tap.broker())
    }
}

/// Runs the process's listener until `cancel` fires: hands signals to `hub`, catches up after
/// every (re)connection and every `safety` interval, and reconnects a second after a drop.
/// `listening` turns true once the broker listens and the catch-up read after it connected has
/// run (and false while it reconnects).
pub async fn run(
    hub: Arc<Hub>,
    db: DatabaseConnection,
    broker: Arc<dyn Broker>,
    safety: Duration,
    listening: tokio::sync::watch::Sender<bool>,
    cancel: CancellationToken,
) {
    let reader = Arc::new(catch_up::Reader::default());
    // The safety read, beside whichever connection is up.
    let safety_task = {
        let (hub, db, reader, cancel) = (hub.clone(), db.clone(), reader.clone(), cancel.clone());
        async move {
            let mut tick = tokio::time::interval(safety);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if let Err(error) = reader.catch_up(&db, &hub).await {
                    tracing::warn!(%error, "the bus's safety read failed");
                }
            }
        }
    };
    let listen_loop = async {
        let mut first = true;
        while !cancel.is_cancelled() {
            let reconnect = !first;
            let connected = || {
                let (hub, db, reader, listening) =
                    (hub.clone(), db.clone(), reader.clone(), listening.clone());
                Box::pin(async move {
                    if let Err(error) = reader.catch_up(&db, &hub).await {
                        tracing::warn!(%error, "the bus's catch-up read failed");
                    }
                    // Called once the broker listens: what was published before is not heard,
                    // so the caller cache starts empty from here. Only after the catch-up read:
                    // the broker hands nothing to the hub until this returns, and a user's
                    // signal held back meanwhile must not find the cache trusted.
                    hub.set_listening(true);
                    listening.send_replace(true);
                    if reconnect {
                        // What cannot be caught up by reading (a changed user, a new reminder
                        // time, a delivery due) is re-checked by whoever registered for it.
                        hub.wake_after_reconnect();
                    }
                }) as Pin<Box<dyn Future<Output = ()> + Send>>
            };
            let result = broker.listen(&hub, &connected, &cancel).await;
            hub.set_listening(false);
            listening.send_replace(false);
            first = false;
            match result {
                Ok(()) => return,
                Err(error) => tracing::warn!(%error, "the bus lost its connection; reconnecting"),
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    };
    tokio::join!(safety_task, listen_loop);
}
