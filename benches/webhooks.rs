//! Webhook delivery benchmark: deliveries per second from the gateway's real delivery worker to
//! a local receiver, beside a plain reqwest loop posting the same bodies to the same receiver
//! at the same concurrency. Target: the worker reaches at least half the loop's rate; exits
//! non-zero when it does not, or when any event was not delivered exactly once.
//!
//! ```sh
//! cargo bench --bench webhooks                                                     # SQLite
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench webhooks
//! BENCH_EVENTS=20000 BENCH_MAX_IN_FLIGHT=4 cargo bench --bench webhooks
//! ```
//!
//! What runs: a receiver (axum on 127.0.0.1, answering 200 at once); the gateway built by
//! `Application::build` on a fresh database (an SQLite file, or a PostgreSQL database created
//! and dropped here), serving HTTP; one endpoint registered over GraphQL with `maxInFlight`;
//! `BENCH_EVENTS` notes (default 5,000) written through `service::notes::create`, the code
//! path `createNote` runs, which writes the outbox in the note's transaction. Each note is its
//! own record, so the per-record order rule never holds a delivery back and the endpoint's cap
//! is what limits concurrency. The notes are spread over 50 contacts.
//!
//! The gateway reads the `THREADLINE_*` variables as `serve` does (so
//! `THREADLINE_WEBHOOK_CONCURRENCY=64` changes the process's sending slots), except for the
//! database, the listen address, the data directory and the private-address guard, which the
//! benchmark sets.
//!
//! Then, with the backlog in place:
//! 1. the plain loop: as many tasks as the worker may have in flight to the endpoint
//!    (`maxInFlight`, or the process's slots when fewer) posting the stored bodies with one
//!    reqwest client;
//! 2. the worker as `serve` runs it (`Jobs::spawn`: claim, sign, send, record the attempt,
//!    woken by each finished send), timed until the receiver has every event and the worker
//!    has recorded every attempt; the ratio of this rate to the loop's is the target;
//! 3. for information, the same backlog again (reset to pending) through
//!    `DeliverWebhooks::drain_at`, the path tests use, which waits for each claimed batch.
//!
//! The endpoint cap defaults to 16 (`BENCH_MAX_IN_FLIGHT`, 1..=64): an integration receiving
//! bursts like this one would be registered above the default of 4, and 16 stays below the
//! process's `THREADLINE_WEBHOOK_CONCURRENCY` (32), so the endpoint's cap is the one that binds.
//!
//! Machine caveat: the receiver, the loop and the gateway (and PostgreSQL, when used) share
//! the machine's cores, and the loop measures nothing but HTTP on loopback, so both rates and
//! the ratio move with the machine and whatever else runs on it; compare runs made on the same
//! machine. Run it in release mode (`cargo bench` does) on an otherwise idle machine.
//!
//! `BENCH_SMOKE=1` makes it a smoke run (`.ci/run` uses it, with few events and in the dev
//! profile): a lost or doubled delivery still fails it, a missed ratio is only printed.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use entity::webhook_delivery;
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Statement,
};
use serde_json::{Value, json};
use threadline::{
    auth::{self, Role},
    config::Config,
    service::{
        contacts::{self, CreateContact},
        notes::{self, CreateNote},
        organizations,
        users::{self, CreateUser, NewUserKind},
    },
    startup::{Application, StartOptions},
};
use tokio::{net::TcpListener, sync::Notify, task::JoinSet};
use tokio_util::sync::CancellationToken;

/// Events written and delivered, unless `BENCH_EVENTS` says otherwise.
const DEFAULT_EVENTS: usize = 5_000;
/// The endpoint's `maxInFlight`, unless `BENCH_MAX_IN_FLIGHT` says otherwise.
const DEFAULT_MAX_IN_FLIGHT: usize = 16;
/// Contacts the notes are spread over.
const CONTACTS: usize = 50;
/// The worker's rate must be at least this share of the plain loop's.
const TARGET_RATIO: f64 = 0.5;
/// The longest one delivery phase may take before the run counts as failed.
const PHASE_LIMIT: Duration = Duration::from_secs(300);

/// The receiver: counts what it gets and says when it has had `target` requests.
#[derive(Default)]
struct Tally {
    received: AtomicUsize,
    target: AtomicUsize,
    reached: Notify,
}

impl Tally {
    /// Starts counting again, towards `target`.
    fn expect(&self, target: usize) {
        self.received.store(0, Ordering::SeqCst);
        self.target.store(target, Ordering::SeqCst);
    }

    /// Waits until the receiver has had its target (a permit left from an earlier round only
    /// makes it look again).
    async fn all_received(&self) {
        while self.received.load(Ordering::SeqCst) < self.target.load(Ordering::SeqCst) {
            self.reached.notified().await;
        }
    }
}

async fn hook(State(tally): State<Arc<Tally>>, body: Bytes) -> StatusCode {
    if body.is_empty() {
        return StatusCode::BAD_REQUEST;
    }
    let n = tally.received.fetch_add(1, Ordering::SeqCst) + 1;
    if n == tally.target.load(Ordering::SeqCst) {
        tally.reached.notify_one();
    }
    StatusCode::OK
}

/// Starts the receiver on a free port; returns its URL.
async fn start_receiver(tally: Arc<Tally>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("receiver address");
    let app = Router::new().route("/hook", post(hook)).with_state(tally);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hook")
}

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
async fn fresh_database(dir: &std::path::Path) -> (String, Option<(DatabaseConnection, String)>) {
    match std::env::var("BENCH_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("bench_webhooks_{}", std::process::id());
            let admin = Database::connect(&admin_url).await.expect("connect");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create the bench database");
            // The same server and parameters (`?options=...`, `sslmode=...`), another database.
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

/// The gateway's statement counter from `/metrics` (each scrape runs one statement of its own,
/// the backlog query, counted in the number it returns).
async fn statements(client: &reqwest::Client, gateway: &str) -> u64 {
    let text = client
        .get(format!("{gateway}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix("threadline_sql_statements_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the statement counter")
}

/// Posts every body to `url` from `concurrency` tasks sharing one client; returns the time.
async fn plain_loop(url: &str, bodies: &Arc<Vec<String>>, concurrency: usize) -> Duration {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, bodies, next) =
            (client.clone(), url.to_owned(), bodies.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    return;
                };
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("post");
                assert_eq!(response.status(), reqwest::StatusCode::OK);
                // Read the answer, as the worker does for the delivery log.
                response.bytes().await.expect("the answer");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a loop task");
    }
    started.elapsed()
}

/// Counts deliveries in `status`.
async fn count_status(db: &DatabaseConnection, status: &str) -> u64 {
    webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(status))
        .count(db)
        .await
        .expect("count deliveries")
}

/// Counts the rows of a table.
async fn count_rows(db: &DatabaseConnection, table: &str) -> i64 {
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        format!("SELECT COUNT(*) AS n FROM {table}"),
    ))
    .await
    .expect("count")
    .expect("a row")
    .try_get("", "n")
    .expect("n")
}

/// Checks that every event was delivered exactly once and recorded as such.
async fn check_delivered(db: &DatabaseConnection, tally: &Tally, events: usize, what: &str) {
    let received = tally.received.load(Ordering::SeqCst);
    let succeeded = count_status(db, "SUCCEEDED").await;
    let attempts = count_rows(db, "webhook_attempts").await;
    assert_eq!(received, events, "{what}: requests the receiver got");
    assert_eq!(
        usize::try_from(succeeded).ok(),
        Some(events),
        "{what}: deliveries recorded as succeeded"
    );
    assert_eq!(
        usize::try_from(attempts).ok(),
        Some(events),
        "{what}: attempts recorded (one each)"
    );
}

fn rate(n: usize, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // `BENCH_LOG=1 RUST_LOG=threadline::delivery=debug` shows every pass of the worker.
    if std::env::var_os("BENCH_LOG").is_some() {
        threadline::telemetry::init();
    }
    let events = env_number("BENCH_EVENTS", DEFAULT_EVENTS).max(1);
    let cap = env_number("BENCH_MAX_IN_FLIGHT", DEFAULT_MAX_IN_FLIGHT);
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, cleanup) = fresh_database(dir.path()).await;

    let tally = Arc::new(Tally::default());
    let receiver = start_receiver(tally.clone()).await;

    // The gateway as `serve` builds it, on port 0, with webhook URLs allowed to reach this
    // machine; its background jobs are started below, once the backlog is written.
    let mut config = Config::from_env().expect("the configuration");
    config.database_url = url;
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.data_dir = dir.path().join("data");
    std::fs::create_dir_all(&config.data_dir).expect("data dir");
    config.webhook_allow_private = true;
    let app = Application::build(
        &config,
        StartOptions {
            demo: false,
            timers: false,
        },
    )
    .await
    .expect("the gateway starts");
    let gateway = format!("http://{}", app.local_addr().expect("bound"));
    let db = app.db().clone();
    let keys = app.keys().clone();
    let jobs = app.jobs().clone();
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = server_stopped.await;
    }));
    let backend = db.get_database_backend();

    // An organization, its owner and the contacts the notes are about.
    let org = organizations::create(&db, "Bench")
        .await
        .expect("organization")
        .id;
    let owner = users::insert_unchecked(
        &db,
        org,
        &CreateUser {
            email: "owner@bench.test".into(),
            name: "Owner".into(),
            kind: NewUserKind::Staff(Role::Owner),
        },
    )
    .await
    .expect("owner");
    let actor = auth::actor_of(&owner).expect("actor");
    let mut contact_ids = Vec::with_capacity(CONTACTS);
    for i in 0..CONTACTS {
        let created = contacts::create(
            &db,
            &actor,
            CreateContact {
                name: format!("Contact {i}"),
                ..Default::default()
            },
        )
        .await
        .expect("contact");
        contact_ids.push(created.contact.id);
    }

    // The endpoint, over GraphQL as an owner registers it.
    let client = reqwest::Client::new();
    let token = keys.issue(owner.id, org, Duration::from_secs(3600));
    let created: Value = client
        .post(format!("{gateway}/graphql"))
        .bearer_auth(&token)
        .json(&json!({
            "query": "mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id maxInFlight } } }",
            "variables": { "input": {
                "url": receiver,
                "eventTypes": ["note.created"],
                "description": "benchmark receiver",
                "maxInFlight": cap,
            } },
        }))
        .send()
        .await
        .expect("createWebhookEndpoint")
        .json()
        .await
        .expect("a GraphQL answer");
    assert!(
        created.get("errors").is_none(),
        "createWebhookEndpoint: {created}"
    );
    assert_eq!(
        created["data"]["createWebhookEndpoint"]["endpoint"]["maxInFlight"],
        json!(cap)
    );

    // The backlog: one note.created event (and delivery) per note, each its own record.
    let writing = Instant::now();
    for i in 0..events {
        notes::create(
            &db,
            &actor,
            CreateNote {
                contact_id: contact_ids[i % CONTACTS],
                subject: Some(format!("Call {i}")),
                body: Some(format!(
                    "Spoke about the renewal of contract {i}; they want the annual plan and a \
                     second seat for their operations lead. Follow up with the quote on Monday."
                )),
                ..Default::default()
            },
        )
        .await
        .expect("note");
    }
    let wrote = writing.elapsed();
    let bodies: Vec<String> = webhook_delivery::Entity::find()
        .order_by_asc(webhook_delivery::Column::Id)
        .all(&db)
        .await
        .expect("the deliveries")
        .into_iter()
        .map(|d| d.payload)
        .collect();
    assert_eq!(bodies.len(), events, "one delivery per note");
    let mean_body = bodies.iter().map(String::len).sum::<usize>() / bodies.len();
    let bodies = Arc::new(bodies);
    println!(
        "{backend:?}: wrote {events} notes with their outbox rows in {wrote:.2?} \
         ({:.0} notes/s); bodies {mean_body} bytes on average; endpoint maxInFlight {cap}, \
         THREADLINE_WEBHOOK_CONCURRENCY {}",
        rate(events, wrote),
        config.webhook_concurrency
    );

    // 1. The plain loop, as many at once as the worker may send to the endpoint.
    let concurrency = cap.min(usize::try_from(config.webhook_concurrency).unwrap_or(usize::MAX));
    tally.expect(events);
    let looped = plain_loop(&receiver, &bodies, concurrency).await;
    assert_eq!(tally.received.load(Ordering::SeqCst), events);
    let loop_rate = rate(events, looped);
    println!(
        "plain reqwest loop, {concurrency:>2} at once:       {events} posts in {looped:>9.2?}  {loop_rate:>8.0} /s"
    );

    // 2. The worker as the gateway runs it.
    tally.expect(events);
    let before = statements(&client, &gateway).await;
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let mut workers = jobs.spawn(&cancel);
    tokio::time::timeout(PHASE_LIMIT, tally.all_received())
        .await
        .expect("the worker delivered every event in time");
    // Stopping lets the worker finish (record) the sends it started.
    cancel.cancel();
    while let Some(done) = workers.join_next().await {
        done.expect("a background job");
    }
    let served = started.elapsed();
    let after = statements(&client, &gateway).await;
    check_delivered(&db, &tally, events, "worker").await;
    let worker_rate = rate(events, served);
    // The difference includes the second scrape's own statement and the other jobs' first
    // passes (reminders, attachment sweep, log pruning: a handful).
    let per_delivery = after.saturating_sub(before + 1) as f64 / events as f64;
    println!(
        "worker (Jobs::spawn, as served):      {events} deliveries in {served:>9.2?}  {worker_rate:>8.0} /s, \
         {per_delivery:.2} SQL statements per delivery"
    );

    // 3. The same backlog through the drain tests use (for information).
    db.execute_unprepared(
        "UPDATE webhook_deliveries SET status = 'PENDING', attempts = 0, lease_until = NULL, \
         last_status_code = NULL, finished_at = NULL",
    )
    .await
    .expect("reset the deliveries");
    db.execute_unprepared("DELETE FROM webhook_attempts")
        .await
        .expect("clear the attempts");
    tally.expect(events);
    let started = Instant::now();
    let drained = tokio::time::timeout(PHASE_LIMIT, jobs.deliver_webhooks())
        .await
        .expect("the drain finished in time")
        .expect("the drain");
    let drain_took = started.elapsed();
    assert_eq!(drained.succeeded, events, "{drained:?}");
    check_delivered(&db, &tally, events, "drain").await;
    println!(
        "worker (DeliverWebhooks::drain_at):   {events} deliveries in {drain_took:>9.2?}  {:>8.0} /s (batches of {concurrency}, each waited for)",
        rate(events, drain_took)
    );

    let ratio = worker_rate / loop_rate;
    let ok = ratio >= TARGET_RATIO;
    println!(
        "worker / plain loop: {ratio:.2} (target >= {TARGET_RATIO}) {}",
        if ok { "ok" } else { "MISSED" }
    );

    let _ = stop_server.send(());
    let _ = server.await;
    let _ = db.close().await;
    if let Some((admin, name)) = cleanup {
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .expect("drop the bench database");
    }
    if !ok {
        if std::env::var("BENCH_SMOKE").is_ok_and(|v| v == "1") {
            println!("smoke run: the ratio is not checked, every event was delivered once");
            return;
        }
        std::process::exit(1);
    }
}
