//! The bus on SQLite: an in-process broadcast, fed by the connection's statement hook.
//!
//! Service code publishes with only a connection in hand (often a transaction), so the
//! publishing side must travel with the connection: [`Tap::observe`] runs for every statement
//! the database connection executes (it is installed with the statement counter in
//! `db::connect`), and broadcasts the parameter of the bus's own no-op statement
//! ([`super::SQLITE_PUBLISH`]). Each database has its own tap, so two gateways in one process
//! (as in the tests) never hear each other.
//!
//! On every database the tap also tells the process's own hub, at once, what one of its
//! transactions is publishing ([`Hub::published`]; on PostgreSQL the statement is
//! [`super::POSTGRES_PUBLISH`]): the caller cache must not serve a user whose change is about
//! to commit while the notification has not come back yet.

use std::{future::Future, pin::Pin, sync::Arc};

use sea_orm::Statement;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use super::{Broker, Hub, POSTGRES_PUBLISH, SQLITE_PUBLISH, Signal, signal::parse_payload};

/// How many signals may wait for a slow listener before it must catch up by reading.
const BUFFER: usize = 4096;

/// The publishing end of one database's in-process bus, and the way to the process's hub.
#[derive(Clone, Debug)]
pub struct Tap {
    sender: broadcast::Sender<Signal>,
    /// Told of every signal a transaction on this database publishes (none for the gateway's
    /// command-line tools).
    hub: Option<Arc<Hub>>,
}

impl Default for Tap {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(BUFFER).0,
            hub: None,
        }
    }
}

impl Tap {
    /// A tap that also tells `hub` what this database's transactions publish.
    pub fn for_hub(hub: Arc<Hub>) -> Self {
        Self {
            hub: Some(hub),
            ..Self::default()
        }
    }

    /// Hands the signals `statement` publishes, if it is one of the bus's statements, to the
    /// hub, and on SQLite broadcasts them.
    pub fn observe(&self, statement: &Statement) {
        let (local, position) = match statement.sql.as_str() {
            SQLITE_PUBLISH => (true, 0),
            POSTGRES_PUBLISH => (false, 1),
            _ => return,
        };
        let text = statement
            .values
            .as_ref()
            .and_then(|values| values.0.get(position))
            .and_then(|value| match value {
                sea_orm::Value::String(Some(text)) => Some(text.to_string()),
                _ => None,
            });
        let Some(text) = text else {
            tracing::warn!("ignoring a bus statement without its signal");
            return;
        };
        for signal in parse_payload(&text) {
            match signal {
                Ok(signal) => {
                    if let Some(hub) = &self.hub {
                        hub.published(signal);
                    }
                    if local {
                        // Nobody listening (not started yet, or stopping) is not an error.
                        let _ = self.sender.send(signal);
                    }
                }
                Err(error) => tracing::warn!(%error, "ignoring a malformed bus signal"),
            }
        }
    }

    /// The broker that listens to this tap.
    pub fn broker(&self) -> Local {
        Local(self.sender.clone())
    }
}

/// The in-process broker of one SQLite database.
#[derive(Debug)]
pub struct Local(broadcast::Sender<Signal>);

impl Broker for Local {
    fn listen<'a>(
        &'a self,
        hub: &'a Hub,
        connected: &'a (dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> + Sync),
        cancel: &'a CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let mut receiver = self.0.subscribe();
            connected().await;
            loop {
                let received = tokio::select! {
                    () = cancel.cancelled() => return Ok(()),
                    received = receiver.recv() => received,
                };
                match received {
                    Ok(signal) => hub.deliver(signal),
                    // Some were missed: read what they were about.
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "the in-process bus fell behind; catching up");
                        // The missed signals may have named users: the cache is not trusted
                        // until `connected` has caught up and emptied it.
                        hub.set_listening(false);
                        connected().await;
                        hub.wake_after_reconnect();
                    }
                    Err(RecvError::Closed) => return Ok(()),
                }
            }
        })
    }
}
