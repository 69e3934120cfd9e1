//! The accept loop: what `axum::serve` does, plus the two bounds a public listener needs and
//! axum's loop does not set. Without them an anonymous client opening connections that never
//! finish their headers held every one of them (and its file descriptor) forever, until the
//! gateway could accept nothing else.
//!
//! - **Header read timeout** (`THREADLINE_HEADER_READ_TIMEOUT_SECS`, 10 s): a connection must
//!   send a request's complete headers within it (counted from when the gateway starts waiting
//!   for them: at accept, and after each answer on a kept-alive connection), or it is closed.
//! - **Connection cap** (`THREADLINE_MAX_CONNECTIONS`, 4,096): past it the gateway stops
//!   accepting (new connections wait in the kernel's backlog) until one closes, instead of
//!   failing with "too many open files". A connection upgraded to a WebSocket leaves the count
//!   when the upgrade completes; WebSockets have their own bounds (`connection_init` timeout,
//!   sockets per user).
//!
//! Shutdown ([`Shutdown`]): the loop stops accepting, each connection finishes the request it
//! is serving (an idle kept-alive one is closed at once), and connections still busy when the
//! grace period (`THREADLINE_SHUTDOWN_GRACE_SECS`) expires are dropped.

use std::{sync::Arc, time::Duration};

use axum::{Router, body::Body, extract::Request};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, watch},
};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The bounds on connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// How long a client has to send a request's headers.
    pub header_read_timeout: Duration,
    /// The most connections served at once.
    pub max_connections: usize,
}

/// How the server learns that the process is stopping.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    /// Cancelled when shutdown begins: stop accepting and let the requests in flight finish
    /// (and WebSockets complete their subscriptions and close, see `ws`).
    pub begun: CancellationToken,
    /// Cancelled when the grace period is over: every connection left is dropped.
    pub expired: CancellationToken,
    /// Cancelled by [`serve`] once the listener is closed (after `begun`): WebSockets close
    /// only then, so a client that sees its socket closed for shutdown and reconnects is
    /// refused instead of reaching a process that is going away.
    pub not_accepting: CancellationToken,
}

/// Serves `router` on `listener` until shutdown begins, then stops accepting and waits for the
/// requests in flight (graceful shutdown, as `axum::serve` does) until the grace expires.
/// Upgraded connections (WebSockets) are not waited for here: `ws::OpenSockets` tracks them.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    // Every connection task holds a receiver; the loop waits for all of them at the end.
    let (close_tx, close_rx) = watch::channel(());
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = shutdown.begun.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.begun.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(
            router
                .clone()
                // The peer's address, for handlers that take `ConnectInfo` (sign-in throttling).
                .map_request(move |request: Request<hyper::body::Incoming>| {
                    let mut request = request.map(Body::new);
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    request
                }),
        );
        let shutdown = shutdown.clone();
        let close_rx = close_rx.clone();
        tokio::spawn(async move {
            // HTTP/1.1 only, as axum's loop served it here. (A protocol-sniffing builder would
            // wait, with no timeout, for a silent connection's first bytes.)
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                }
                () = shutdown.begun.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    tokio::select! {
                        _ = connection.as_mut() => {}
                        () = shutdown.expired.cancelled() => {
                            tracing::warn!("dropping a connection still busy at the end of the shutdown grace");
                        }
                    }
                }
            }
            drop(permit);
            drop(close_rx);
        });
    }
    drop(close_rx);
    drop(listener);
    shutdown.not_accepting.cancel();
    tokio::select! {
        () = close_tx.closed() => {}
        () = shutdown.expired.cancelled() => {}
    }
    Ok(())
}
