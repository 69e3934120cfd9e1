//! The bus on SQLite: an in-process broadcast, fed by the connection's statement hook.
//!
//! Service code publishes with only a connection in hand (often a transaction), so the
//! publishing side must travel with the connection: [`Tap::observe`] runs for every statement
//! the database connection executes (it is installed with the statement counter in
//! `db::connect`), and broadcasts the parameter of the bus's own no-op statement
//! ([`super::SQLITE_PUBLISH`]). Each database has its own tap, so two gateways in one process
//! (as in the tests) never hear each other.

use std::{future::Future, pin::Pin};

use sea_orm::Statement;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use super::{Broker, Hub, SQLITE_PUBLISH, Signal, signal::parse_payload};

/// How many signals may wait for a slow listener before it must catch up by reading.
const BUFFER: usize = 4096;

/// The publishing end of one database's in-process bus.
#[derive(Clone, Debug)]
pub struct Tap(broadcast::Sender<Signal>);

impl Default for Tap {
    fn default() -> Self {
        Self(broadcast::channel(BUFFER).0)
    }
}

impl Tap {
    /// Broadcasts the signals `statement` publishes, if it is the bus's statement.
    pub fn observe(&self, statement: &Statement) {
        if statement.sql != SQLITE_PUBLISH {
            return;
        }
        let text = statement
            .values
            .as_ref()
            .and_then(|values| values.0.first())
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
                // Nobody listening (not started yet, or stopping) is not an error.
                Ok(signal) => {
                    let _ = self.0.send(signal);
                }
                Err(error) => tracing::warn!(%error, "ignoring a malformed bus signal"),
            }
        }
    }

    /// The broker that listens to this tap.
    pub fn broker(&self) -> Local {
        Local(self.0.clone())
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
                        connected().await;
                        hub.wake_after_reconnect();
                    }
                    Err(RecvError::Closed) => return Ok(()),
                }
            }
        })
    }
}
