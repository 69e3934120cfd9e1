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
                let mut listener = PgListener::connect_with(&self.pool)
                    .await
                    .map_err(|e| e.to_string())?;
                // A lost connection is reported as soon as it is found, not once a new one is
                // listening: re-establishing it waits for a connection of the pool (up to its
                // acquire timeout when the pool is busy), and the caller cache must not be
                // trusted meanwhile, since nothing published then is heard. `run` reconnects.
                listener.eager_reconnect(false);
                listener.listen(CHANNEL).await.map_err(|e| e.to_string())?;
                connected().await;
                loop {
                    let Some(notification) =
                        listener.try_recv().await.map_err(|e| e.to_string())?
                    else {
                        return Err("the listening connection was lost".to_owned());
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
            };
            tokio::select! {
                () = cancel.cancelled() => Ok(()),
                result = listening => result,
            }
        })
    }
}
