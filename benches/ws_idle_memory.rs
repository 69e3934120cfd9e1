//! Gateway memory per idle WebSocket: opens `BENCH_SOCKETS` (default 1,000) idle
//! `graphql-transport-ws` connections to a real `threadline serve` process, each with one
//! `reminders` subscription, and reads the process's resident memory (`VmRSS` in
//! `/proc/<pid>/status`) before and after to report KiB per socket. Target: at most 32 KiB per
//! idle socket (issue 12); exits non-zero when it is missed or a socket was refused or closed.
//!
//! ```sh
//! cargo bench --bench ws_idle_memory                                                  # SQLite
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench ws_idle_memory
//! BENCH_SOCKETS=5000 cargo bench --bench ws_idle_memory
//! BENCH_SUBSCRIPTIONS=0 cargo bench --bench ws_idle_memory       # bare connections
//! ```
//!
//! What runs: the `threadline` binary of this build as a child process on a fresh database (an
//! SQLite file, or a PostgreSQL database created and dropped here), with the demo organization
//! (its owner's token from the banner). Every socket is that owner's, so the per-user socket
//! limit is raised to fit; subscriptions poll the database every 10 minutes
//! (`THREADLINE_SUBSCRIPTION_POLL_MS`), so that polling neither runs nor allocates during the
//! measurement. Other `THREADLINE_*` variables pass through to the gateway (a keep-alive
//! interval, say). The clients run in this process, each answering the gateway's keep-alive
//! pings, so the gateway's number holds the server side of the sockets only (the kernel's
//! socket buffers are not in a process's resident memory).
//!
//! The first socket (a warm-up, so that pools, caches and the allocator's arenas are in place)
//! is in the baseline; then half of the sockets are opened and memory read, then the other
//! half. Each socket is counted once its `pong` to a `ping` sent after `subscribe` arrived: the
//! gateway handles a connection's messages in order, so the subscription has started by then.
//! Allocator caveat: the resident size moves in pages and with the allocator's arenas, so
//! small runs are noisy; a thousand sockets or more give a stable number.
//!
//! Measured on the 2-core development machine, 1,000 sockets: 158 KiB a socket before issue 12
//! (debug build; tungstenite's 128 KiB read buffer, allocated and zeroed per socket, was most
//! of it), 26 KiB after (release and debug alike; SQLite and PostgreSQL alike; 5,000 sockets
//! alike). Of those, a bare acknowledged connection (`BENCH_SUBSCRIPTIONS=0`) is about 10 KiB
//! and each subscription about 17 KiB, mostly the request's loaders (6.5 KB) and
//! async-graphql's state of the running subscription with its parsed query.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tokio::{sync::Semaphore, task::JoinSet};
use tokio_tungstenite::tungstenite::{
    Message, client::IntoClientRequest, protocol::WebSocketConfig,
};
use tokio_util::sync::CancellationToken;

/// Sockets opened, unless `BENCH_SOCKETS` says otherwise.
const DEFAULT_SOCKETS: usize = 1_000;
/// The target: gateway memory per idle socket with one subscription.
const TARGET_KIB: f64 = 32.0;
/// Sockets being opened at once.
const CONNECTING: usize = 64;
/// How long the gateway is left alone before memory is read.
const SETTLE: Duration = Duration::from_secs(2);

fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
        _ => default,
    }
}

/// A fresh database: `(url, the admin connection and name to drop it with)`.
async fn fresh_database(dir: &Path) -> (String, Option<(DatabaseConnection, String)>) {
    match std::env::var("BENCH_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("bench_ws_{}", std::process::id());
            let admin = Database::connect(&admin_url).await.expect("connect");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create the bench database");
            let (base, query) = admin_url
                .split_once('?')
                .map_or((admin_url.as_str(), String::new()), |(b, q)| {
                    (b, format!("?{q}"))
                });
            let (server, _) = base.rsplit_once('/').expect("a database in the URL");
            (format!("{server}/{name}{query}"), Some((admin, name)))
        }
        _ => (
            format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
            None,
        ),
    }
}

/// The gateway child process, killed when dropped.
struct Gateway {
    child: Child,
    /// `ws://127.0.0.1:PORT/graphql`.
    url: String,
    /// The demo owner's token from the banner.
    token: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    async fn start(dir: &Path, database_url: &str, sockets: usize) -> Self {
        let stdout = dir.join("gateway.out");
        let mut command = Command::new(env!("CARGO_BIN_EXE_threadline"));
        command
            .arg("serve")
            .env_clear()
            .envs(std::env::vars().filter(|(k, _)| k.starts_with("THREADLINE_")))
            .env("DATABASE_URL", database_url)
            .env("THREADLINE_LISTEN", "127.0.0.1:0")
            .env("THREADLINE_DATA_DIR", dir.join("data"))
            .env("THREADLINE_SUBSCRIPTION_POLL_MS", "600000")
            .env(
                "THREADLINE_WS_MAX_SOCKETS_PER_USER",
                (sockets + 10).to_string(),
            )
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("the threadline binary starts");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let printed = std::fs::read_to_string(&stdout).unwrap_or_default();
            let address = printed
                .split("serving GraphQL at ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next());
            // The token is the banner's one line that is a bare JWT.
            let token = printed
                .lines()
                .map(str::trim)
                .find(|l| l.matches('.').count() == 2 && !l.contains(' '));
            if let (Some(address), Some(token)) = (address, token) {
                return Self {
                    url: address.replace("http://", "ws://"),
                    token: token.to_owned(),
                    child,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the gateway exited with {status}:\n{printed}");
            }
            assert!(Instant::now() < deadline, "no banner within a minute");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The gateway's resident memory, in KiB.
    fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

/// How the clients fared.
#[derive(Default)]
struct Tally {
    ready: AtomicUsize,
    closed: AtomicUsize,
    pings: AtomicUsize,
}

/// One idle client: connects, subscribes to `reminders`, confirms with a ping, then answers
/// the gateway's pings until `stop`.
async fn client(
    url: String,
    token: String,
    tally: Arc<Tally>,
    connecting: Arc<Semaphore>,
    stop: CancellationToken,
    subscriptions: usize,
) {
    let permit = connecting.acquire_owned().await.expect("semaphore");
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    // Small client buffers: many clients share this process.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .expect("websocket");
    let send = |value: Value| Message::text(value.to_string());
    socket
        .send(send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })))
        .await
        .expect("init");
    for i in 0..subscriptions {
        socket
            .send(send(json!({ "type": "subscribe", "id": format!("r{i}"), "payload": { "query": "subscription { reminders { id } }" } })))
            .await
            .expect("subscribe");
    }
    socket
        .send(send(json!({ "type": "ping" })))
        .await
        .expect("ping");
    let mut permit = Some(permit);
    loop {
        let message = tokio::select! {
            () = stop.cancelled() => break,
            message = socket.next() => message,
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                eprintln!("closed by the gateway: {frame:?}");
                tally.closed.fetch_add(1, Ordering::SeqCst);
                return;
            }
            Some(Ok(_)) => continue,
            Some(Err(error)) => {
                eprintln!("socket error: {error}");
                tally.closed.fetch_add(1, Ordering::SeqCst);
                return;
            }
            None => {
                tally.closed.fetch_add(1, Ordering::SeqCst);
                return;
            }
        };
        let message: Value = serde_json::from_str(&text).expect("JSON");
        match message["type"].as_str() {
            Some("pong") if permit.is_some() => {
                permit = None;
                tally.ready.fetch_add(1, Ordering::SeqCst);
            }
            Some("ping") => {
                tally.pings.fetch_add(1, Ordering::SeqCst);
                if socket.send(send(json!({ "type": "pong" }))).await.is_err() {
                    tally.closed.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            }
            Some("connection_ack" | "pong") => {}
            _ => panic!("unexpected message: {message}"),
        }
    }
    let _ = socket.close(None).await;
}

/// `reminders` subscriptions per socket: `BENCH_SUBSCRIPTIONS`, 1 by default (0 measures a
/// bare acknowledged connection; more show what each further subscription costs).
fn subscriptions() -> usize {
    env_number("BENCH_SUBSCRIPTIONS", 1)
}

/// Opens `n` more clients and waits until all of them are ready.
async fn open(
    n: usize,
    gateway: &Gateway,
    tally: &Arc<Tally>,
    clients: &mut JoinSet<()>,
    stop: &CancellationToken,
) -> Duration {
    let started = Instant::now();
    let target = tally.ready.load(Ordering::SeqCst) + n;
    let connecting = Arc::new(Semaphore::new(CONNECTING));
    for _ in 0..n {
        clients.spawn(client(
            gateway.url.clone(),
            gateway.token.clone(),
            tally.clone(),
            connecting.clone(),
            stop.clone(),
            subscriptions(),
        ));
    }
    while tally.ready.load(Ordering::SeqCst) < target {
        assert_eq!(
            tally.closed.load(Ordering::SeqCst),
            0,
            "a socket was closed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "sockets not ready after 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let sockets = env_number("BENCH_SOCKETS", DEFAULT_SOCKETS).max(2);
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, admin) = fresh_database(dir.path()).await;
    let gateway = Gateway::start(dir.path(), &url, sockets).await;
    let tally = Arc::new(Tally::default());
    let stop = CancellationToken::new();
    let mut clients = JoinSet::new();

    open(1, &gateway, &tally, &mut clients, &stop).await;
    tokio::time::sleep(SETTLE).await;
    let baseline = gateway.rss_kib();
    let half = sockets / 2;
    let first = open(half - 1, &gateway, &tally, &mut clients, &stop).await;
    tokio::time::sleep(SETTLE).await;
    let middle = gateway.rss_kib();
    let second = open(sockets - half, &gateway, &tally, &mut clients, &stop).await;
    tokio::time::sleep(SETTLE).await;
    let end = gateway.rss_kib();
    let closed = tally.closed.load(Ordering::SeqCst);

    let per = |kib: u64, n: usize| kib as f64 / n as f64;
    let overall = per(end.saturating_sub(baseline), sockets - 1);
    println!(
        "idle graphql-transport-ws sockets, {} `reminders` subscription(s) each",
        subscriptions()
    );
    println!(
        "  database        {}",
        if admin.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    println!("  gateway RSS     {baseline} KiB with 1 socket (baseline)");
    println!(
        "                  {middle} KiB with {half} ({:.1} KiB per socket; opened in {first:.1?})",
        per(middle.saturating_sub(baseline), half - 1)
    );
    println!(
        "                  {end} KiB with {sockets} ({:.1} KiB per socket for the second half; opened in {second:.1?})",
        per(end.saturating_sub(middle), sockets - half)
    );
    println!("  per idle socket {overall:.1} KiB (target <= {TARGET_KIB} KiB)");
    println!(
        "  keep-alive pings answered by the clients: {}; sockets closed by the gateway: {closed}",
        tally.pings.load(Ordering::SeqCst)
    );

    stop.cancel();
    while clients.join_next().await.is_some() {}
    drop(gateway);
    if let Some((admin, name)) = admin {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
    if overall > TARGET_KIB || closed > 0 {
        std::process::exit(1);
    }
}
