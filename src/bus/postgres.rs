//! The bus on PostgreSQL: `LISTEN threadline_bus` on one connection per process.

use std::{future::Future, pin::Pin};

use sea_orm::{
    DatabaseConnection,
    sqlx::{PgPool, postgres::PgListener},
};
use tokio_util::sync::CancellationToken;

use super::{Broker, CHANNEL, Hub, signal::parse_payload};

/// Listens for the signals every process publishes with `pg_notify`.
#[derive(Debug)]
pub struct Notify {
    pool: PgPool,
}

impl Notify {
    /// A broker listening through a connection of `db`'s pool's server (a dedicated
    /// connection, not one of the pool's).
    pub fn new(db: &DatabaseConnection) -> Self {
        Self {
            pool: db.get_postgres_connection_pool().clone(),
        }
    }
}

impl Broker for Notify {
    fn listen<'a>(
        &'a self,
        hub: &'a Hub,
        connected: &'a (dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> + Sync),
        cancel: &'a CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let listening = async {
                let mut listener = PgListener::connect_with(&self.pool).await?;
                listener.listen(CHANNEL).await?;
                connected().await;
                loop {
                    let Some(notification) = listener.try_recv().await? else {
                        // The connection was lost and has been re-established (listening
                        // again): what was published in between was not heard. The caller
                        // cache was trusted until now; `connected` empties it and reads what
                        // the timelines missed.
                        tracing::warn!("the bus's listening connection was re-established");
                        hub.set_listening(false);
                        connected().await;
                        hub.wake_after_reconnect();
                        continue;
                    };
                    for signal in parse_payload(notification.payload()) {
                        match signal {
                            Ok(signal) => hub.deliver(signal),
                            Err(error) => {
                                tracing::warn!(%error, "ignoring a malformed bus signal");
                            }
                        }
                    }
                }
                #[allow(unreachable_code)]
                Ok::<(), sea_orm::sqlx::Error>(())
            };
            tokio::select! {
                () = cancel.cancelled() => Ok(()),
                result = listening => result.map_err(|e| e.to_string()),
            }
        })
    }
}
