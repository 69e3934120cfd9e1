//! Webhook delivery across processes: two gateways with their workers on sharing one
//! PostgreSQL database and 1,000 events without ever sending one delivery twice at once; and
//! the real `threadline` binary killed with SIGKILL while deliveries are in flight, then
//! restarted on the same database, losing none of them.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use futures_util::{StreamExt, stream};
use sea_orm::{ConnectionTrait, Database, EntityTrait, Statement};
use serde_json::{Value, json};
use threadline::auth::Role;
use tokio::sync::watch;

use crate::{
    helpers::{TestApp, fresh_database, new_org, staff, start_with_timers},
    receiver::Received,
};

/// How many events the shared-work test makes: half `contact.created`, half `contact.updated`
/// of the same contacts (so per-record order is at stake across the two processes too).
const EVENTS: usize = 1_000;
/// Mutations per request (the gateway allows 30 aliases).
const BATCH: usize = 25;

/// Waits until `done` holds, checking every 50 ms, or fails with `what` after `limit`.
async fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn webhook_id(headers: &HeaderMap) -> String {
    headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// Two gateways, one PostgreSQL database.

/// A delivery as the receiver tells them apart: the endpoint (its path) and the `webhook-id`
/// (one event to two endpoints shares the id).
type Key = (String, String);

/// One request the checking receiver answered.
#[derive(Clone, Debug)]
struct Answered {
    key: Key,
    request: Received,
    /// The receiver's clock when the request arrived and when its answer was decided.
    arrived: u64,
    answered: u64,
    status: u16,
}

#[derive(Default)]
struct Ledger {
    /// A logical clock: one tick per arrival and per answer.
    clock: u64,
    in_flight: HashMap<Key, usize>,
    attempts: HashMap<Key, usize>,
    answered: Vec<Answered>,
    /// Requests that arrived while another with the same key was still unanswered.
    overlaps: Vec<String>,
}

/// A receiver that answers after a short delay, notes any request arriving while another for
/// the same delivery is still in flight, and fails the first attempt of one delivery in ten.
#[derive(Clone)]
struct Checking {
    base: String,
    ledger: Arc<Mutex<Ledger>>,
}

async fn check(
    State(ledger): State<Arc<Mutex<Ledger>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = (uri.path().to_owned(), webhook_id(&headers));
    let (arrived, fail) = {
        let mut ledger = ledger.lock().expect("ledger");
        ledger.clock += 1;
        let arrived = ledger.clock;
        let in_flight = ledger.in_flight.entry(key.clone()).or_insert(0);
        *in_flight += 1;
        if *in_flight > 1 {
            let overlap = format!("{key:?} arrived while {in_flight} were in flight");
            ledger.overlaps.push(overlap);
        }
        let distinct = ledger.attempts.len();
        let attempt = ledger.attempts.entry(key.clone()).or_insert(0);
        *attempt += 1;
        // One delivery in ten fails its first attempt: its retry (5 s later) goes to whichever
        // process claims it, and its record's later event waits for it.
        (arrived, *attempt == 1 && distinct % 10 == 3)
    };
    // 5 to 20 ms: long enough for the two processes' attempts to overlap in time.
    tokio::time::sleep(Duration::from_millis(5 + (arrived % 4) * 5)).await;
    let status = if fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    let mut ledger = ledger.lock().expect("ledger");
    ledger.clock += 1;
    let answered = ledger.clock;
    if let Some(n) = ledger.in_flight.get_mut(&key) {
        *n -= 1;
    }
    ledger.answered.push(Answered {
        key,
        request: Received {
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        },
        arrived,
        answered,
        status: status.as_u16(),
    });
    status.into_response()
}

impl Checking {
    async fn start() -> Self {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a receiver");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let app = Router::new().fallback(check).with_state(ledger.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, ledger }
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("ledger")
    }

    /// The deliveries answered 2xx so far.
    fn delivered(&self) -> usize {
        let ledger = self.ledger();
        ledger
            .answered
            .iter()
            .filter(|a| a.status == 200)
            .map(|a| &a.key)
            .collect::<HashSet<_>>()
            .len()
    }
}

/// The attempts a gateway counted on its `/metrics` (every outcome).
async fn attempts_counted(app: &TestApp) -> u64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with("threadline_webhook_attempts_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Creates `names` as contacts through one aliased `createContact` request; returns their IDs.
async fn create_contacts(app: &TestApp, token: &str, names: &[String]) -> Vec<String> {
    let fields: String = names
        .iter()
        .enumerate()
        .map(|(i, name)| format!("c{i}: createContact(input: {{ name: {name:?} }}) {{ id }} "))
        .collect();
    let created = app
        .gql(Some(token), &format!("mutation {{ {fields} }}"), json!({}))
        .await;
    let data = created.data();
    (0..names.len())
        .map(|i| {
            data[format!("c{i}")]["id"]
                .as_str()
                .expect("a contact ID")
                .to_owned()
        })
        .collect()
}

/// Renames `ids` through one aliased `updateContact` request.
async fn rename_contacts(app: &TestApp, token: &str, ids: &[String]) {
    let params: Vec<String> = (0..ids.len()).map(|i| format!("$u{i}: ID!")).collect();
    let fields: String = (0..ids.len())
        .map(|i| {
            format!("u{i}: updateContact(id: $u{i}, input: {{ name: \"Renamed {i}\" }}) {{ id }} ")
        })
        .collect();
    let variables: serde_json::Map<String, Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (format!("u{i}"), json!(id)))
        .collect();
    app.gql(
        Some(token),
        &format!("mutation ({}) {{ {fields} }}", params.join(", ")),
        Value::Object(variables),
    )
    .await
    .data();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_postgresql_deliver_every_event_and_never_one_twice_at_once() {
    let (url, guard) = fresh_database().await;
    if !url.starts_with("postgres") {
        println!(
            "skipped: two gateway processes share PostgreSQL only (an SQLite file belongs to \
             one process, see src/service/deliveries.rs); set TEST_DATABASE_URL to run it"
        );
        return;
    }
    let started = Instant::now();
    // Each process sends at most 8 at once while the two endpoints admit 16 each: neither
    // process can take all the work, the other has to claim its share.
    let tweak = |c: &mut threadline::config::Config| {
        c.webhook_allow_private = true;
        c.webhook_concurrency = 8;
        c.webhook_poll = Duration::from_millis(200);
    };
    let (mut a, mut b) = tokio::join!(
        start_with_timers(&url, guard.clone(), tweak),
        start_with_timers(&url, guard.clone(), tweak)
    );
    let org = new_org(&a.db, "Acme").await;
    let owner = staff(&a.db, org, "owner@acme.test", Role::Owner).await;
    let token = a.token(&owner);
    let receiver = Checking::start().await;
    let mut secrets = HashMap::new();
    for (app, path) in [(&a, "/first"), (&b, "/second")] {
        let created = app
            .gql(
                Some(&token),
                "mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret } }",
                json!({ "input": { "url": format!("{}{path}", receiver.base), "eventTypes": ["contact.*"], "maxInFlight": 16 } }),
            )
            .await;
        let secret = created.data()["createWebhookEndpoint"]["secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        secrets.insert(path.to_owned(), secret);
    }

    // The events, through both gateways' GraphQL, four requests at a time.
    let apps = [&a, &b];
    let names: Vec<String> = (0..EVENTS / 2).map(|i| format!("Contact {i}")).collect();
    let created: Vec<Vec<String>> = stream::iter(names.chunks(BATCH).enumerate())
        .map(|(i, chunk)| create_contacts(apps[i % 2], &token, chunk))
        .buffered(4)
        .collect()
        .await;
    let contacts: Vec<String> = created.into_iter().flatten().collect();
    stream::iter(contacts.chunks(BATCH).enumerate())
        .map(|(i, chunk)| rename_contacts(apps[(i + 1) % 2], &token, chunk))
        .buffer_unordered(4)
        .collect::<Vec<()>>()
        .await;
    let written = started.elapsed();
    assert_eq!(
        a.count_rows("webhook_deliveries").await,
        i64::try_from(EVENTS * 2).expect("small"),
        "one delivery per event and endpoint"
    );

    // Every delivery answered 2xx and settled.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let open =
            a.db.query_one_raw(Statement::from_string(
                a.db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status <> 'SUCCEEDED'",
            ))
            .await
            .expect("count")
            .expect("a row")
            .try_get::<i64>("", "n")
            .expect("n");
        if open == 0 && receiver.delivered() == EVENTS * 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} deliveries still open, {} of {} delivered",
            receiver.delivered(),
            EVENTS * 2
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let delivered_after = started.elapsed();
    let by_a = attempts_counted(&a).await;
    let by_b = attempts_counted(&b).await;
    let attempt_rows = a.count_rows("webhook_attempts").await;
    let rows = entity::webhook_delivery::Entity::find()
        .all(&a.db)
        .await
        .expect("deliveries");
    let endpoints: HashMap<i64, String> = entity::webhook_endpoint::Entity::find()
        .all(&a.db)
        .await
        .expect("endpoints")
        .into_iter()
        .map(|e| {
            let path = e
                .url
                .strip_prefix(&receiver.base)
                .expect("a receiver URL")
                .to_owned();
            (e.id, path)
        })
        .collect();
    a.stop().await.expect("the first gateway stops");
    b.stop().await.expect("the second gateway stops");

    let ledger = receiver.ledger();
    assert!(
        ledger.overlaps.is_empty(),
        "deliveries sent twice at once: {:?}",
        ledger.overlaps
    );
    let mut requests: HashMap<&Key, Vec<&Answered>> = HashMap::new();
    for answered in &ledger.answered {
        requests.entry(&answered.key).or_default().push(answered);
    }
    // Each delivery row: settled, its every attempt seen by the receiver and none more.
    assert_eq!(rows.len(), EVENTS * 2);
    let mut ids_by_event: HashMap<String, HashSet<String>> = HashMap::new();
    for row in &rows {
        let key = (endpoints[&row.endpoint_id].clone(), row.message_id.clone());
        let seen = requests.get(&key).map_or(0, Vec::len);
        assert_eq!(row.status, "SUCCEEDED", "{key:?}");
        assert_eq!(
            usize::try_from(row.attempts).expect("attempts"),
            seen,
            "attempts recorded for {key:?} against requests received"
        );
        ids_by_event
            .entry(row.message_id.clone())
            .or_default()
            .insert(key.0);
    }
    assert_eq!(ids_by_event.len(), EVENTS, "one webhook-id per event");
    assert!(
        ids_by_event.values().all(|paths| paths.len() == 2),
        "each event's id went to both endpoints"
    );
    // What arrived: every event of every contact, signed, the same bytes on every attempt,
    // failures retried until answered 2xx, and a record's update only after its creation was
    // delivered.
    let mut retried = 0;
    let mut events: HashMap<(String, String, String), &Answered> = HashMap::new();
    for (key, attempts) in &requests {
        let first = attempts[0];
        for attempt in attempts {
            assert_eq!(attempt.request.body, first.request.body, "{key:?}");
            assert!(
                attempt.request.signed_with(&secrets[&key.0]),
                "signature of {key:?}"
            );
        }
        let last = attempts.last().expect("an attempt");
        assert_eq!(last.status, 200, "{key:?} ended delivered");
        retried += attempts.iter().filter(|a| a.status == 500).count();
        let body = first.request.json();
        let event = (
            key.0.clone(),
            body["type"].as_str().expect("type").to_owned(),
            body["data"]["id"].as_str().expect("data.id").to_owned(),
        );
        assert!(
            events.insert(event, last).is_none(),
            "{key:?} repeats an event"
        );
    }
    assert!(
        retried >= EVENTS / 10,
        "a tenth of the first attempts failed and were retried: {retried}"
    );
    for path in ["/first", "/second"] {
        for contact in &contacts {
            let at = |kind: &str| {
                events
                    .get(&(path.to_owned(), kind.to_owned(), contact.clone()))
                    .unwrap_or_else(|| panic!("{path} missed {kind} of {contact}"))
            };
            let (created, updated) = (at("contact.created"), at("contact.updated"));
            let update_first_arrived = requests[&updated.key]
                .iter()
                .map(|a| a.arrived)
                .min()
                .expect("an attempt");
            assert!(
                created.answered < update_first_arrived,
                "{path}: the update of {contact} arrived before its creation was delivered"
            );
        }
    }
    // The work was shared: each process sent some, and together exactly what arrived.
    let received = u64::try_from(ledger.answered.len()).expect("count");
    assert!(
        by_a > 0 && by_b > 0,
        "both processes sent: {by_a} and {by_b}"
    );
    assert_eq!(by_a + by_b, received);
    assert_eq!(attempt_rows, i64::try_from(received).expect("count"));
    println!(
        "{EVENTS} events written in {written:?}, all {} deliveries done after {delivered_after:?} \
         ({received} attempts: {by_a} from one process, {by_b} from the other, {retried} retried)",
        EVENTS * 2
    );
}

// ---------------------------------------------------------------------------------------------
// SIGKILL mid-delivery.

/// One request the holding receiver got.
#[derive(Clone, Debug)]
struct Held {
    request: Received,
    /// Whether it arrived before the gateway was killed.
    before_kill: bool,
    /// Whether it was answered 2xx to a gateway that was alive to read it.
    delivered: bool,
}

/// A receiver that holds every request open, unanswered, until released; after that it
/// answers 200 at once.
#[derive(Clone)]
struct Holding {
    url: String,
    requests: Arc<Mutex<Vec<Held>>>,
    release: Arc<watch::Sender<bool>>,
}

#[derive(Clone)]
struct HoldingState {
    requests: Arc<Mutex<Vec<Held>>>,
    released: watch::Receiver<bool>,
}

async fn hold(State(state): State<HoldingState>, headers: HeaderMap, body: Bytes) -> Response {
    let mut released = state.released.clone();
    let before_kill = !*released.borrow();
    let index = {
        let mut requests = state.requests.lock().expect("requests");
        requests.push(Held {
            request: Received {
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            },
            before_kill,
            delivered: false,
        });
        requests.len() - 1
    };
    if before_kill {
        // Held until the gateway that sent it is dead: whatever is answered then reaches
        // nobody, so it does not count as delivered.
        let _ = released.wait_for(|r| *r).await;
    } else {
        state.requests.lock().expect("requests")[index].delivered = true;
    }
    StatusCode::OK.into_response()
}

impl Holding {
    async fn start() -> Self {
        let (release, released) = watch::channel(false);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let app = Router::new().fallback(hold).with_state(HoldingState {
            requests: requests.clone(),
            released,
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            requests,
            release: Arc::new(release),
        }
    }

    fn requests(&self) -> Vec<Held> {
        self.requests.lock().expect("requests").clone()
    }

    /// Lets the held requests go; every later one is answered at once.
    fn release(&self) {
        self.release.send_replace(true);
    }
}

/// The `threadline` binary run as a child process, killed (SIGKILL) when dropped.
pub(crate) struct Gateway {
    pub(crate) child: Child,
    /// `http://127.0.0.1:PORT`, as its banner printed it.
    pub(crate) address: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Gateway {
    /// Runs `threadline serve` with exactly `env` (nothing inherited), its output in files
    /// under `dir` named after `name`, and waits for its banner.
    pub(crate) async fn serve(dir: &Path, name: &str, env: &[(&str, String)]) -> Self {
        let stdout = dir.join(format!("{name}.out"));
        let stderr = dir.join(format!("{name}.err"));
        let child = Command::new(env!("CARGO_BIN_EXE_threadline"))
            .arg("serve")
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("the threadline binary starts");
        let mut gateway = Self {
            child,
            address: String::new(),
            stdout,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let printed = std::fs::read_to_string(&gateway.stdout).unwrap_or_default();
            if let Some(rest) = printed.split("serving GraphQL at ").nth(1) {
                let url = rest.split_whitespace().next().unwrap_or_default();
                gateway.address = url.trim_end_matches("/graphql").to_owned();
                return gateway;
            }
            if let Ok(Some(status)) = gateway.child.try_wait() {
                panic!("the gateway exited with {status}:\n{}", gateway.output());
            }
            assert!(
                Instant::now() < deadline,
                "no banner within a minute:\n{}",
                gateway.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reaps the process.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// Everything it printed, for failure messages.
    pub(crate) fn output(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    /// Runs a GraphQL operation as `token`, failing on errors; returns `data`.
    async fn gql(&self, client: &reqwest::Client, token: &str, query: &str, vars: Value) -> Value {
        let body: Value = client
            .post(format!("{}/graphql", self.address))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": vars }))
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("JSON body");
        assert!(body.get("errors").is_none(), "errors: {body}");
        body["data"].clone()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `threadline token --user EMAIL` with `env`: a token for that user.
pub(crate) async fn token_for(env: &[(&str, String)], email: &str) -> String {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let email = email.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_threadline"))
            .args(["token", "--user", &email])
            .env_clear()
            .envs(env)
            .env("RUST_LOG", "off")
            .output()
            .expect("threadline token runs")
    })
    .await
    .expect("the token command");
    assert!(
        output.status.success(),
        "threadline token failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .expect("a token")
        .trim()
        .to_owned()
}

const DELIVERIES: &str = "query ($id: ID!) { webhookDeliveries(endpointId: $id, first: 100) {
    edges { node { messageId status attemptCount payload } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_mid_delivery_delivers_everything_after_a_restart() {
    let started = Instant::now();
    let (url, _guard) = fresh_database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let receiver = Holding::start().await;
    // A 3 s attempt limit: a dead sender's lease (twice that) runs out soon after the restart.
    let env = [
        ("DATABASE_URL", url.clone()),
        ("THREADLINE_LISTEN", "127.0.0.1:0".to_owned()),
        (
            "THREADLINE_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("THREADLINE_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
        ("THREADLINE_WEBHOOK_TIMEOUT_SECS", "3".to_owned()),
        ("THREADLINE_WEBHOOK_POLL_MS", "100".to_owned()),
        (
            "RUST_LOG",
            "info,sqlx=warn,sea_orm=warn,threadline=debug".to_owned(),
        ),
    ];
    // The first start creates the demo organization (loopback listener, empty database).
    let mut first = Gateway::serve(dir.path(), "first", &env).await;
    let token = token_for(&env, "owner@demo.test").await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let created = first
        .gql(
            &client,
            &token,
            "mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { id maxInFlight } } }",
            json!({ "input": { "url": receiver.url, "eventTypes": ["contact.created"] } }),
        )
        .await;
    let endpoint = created["createWebhookEndpoint"]["endpoint"]["id"].clone();
    let cap = created["createWebhookEndpoint"]["endpoint"]["maxInFlight"]
        .as_u64()
        .expect("maxInFlight");
    let secret = created["createWebhookEndpoint"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    // Three times the endpoint's cap: some deliveries in flight at the kill, the rest waiting.
    let events = usize::try_from(cap * 3).expect("small");
    let fields: String = (0..events)
        .map(|i| format!("c{i}: createContact(input: {{ name: \"Killed {i}\" }}) {{ id }} "))
        .collect();
    let data = first
        .gql(
            &client,
            &token,
            &format!("mutation {{ {fields} }}"),
            json!({}),
        )
        .await;
    let contacts: HashSet<String> = (0..events)
        .map(|i| data[format!("c{i}")]["id"].as_str().expect("id").to_owned())
        .collect();

    // Kill it with the endpoint's cap of requests in flight.
    let in_flight = usize::try_from(cap).expect("small");
    wait_until(
        Duration::from_secs(20),
        "the first gateway's deliveries reach the receiver",
        || receiver.requests().len() >= in_flight,
    )
    .await;
    first.kill();
    let killed_at = started.elapsed();
    receiver.release();
    let held: Vec<Held> = receiver.requests();
    assert!(held.iter().all(|h| h.before_kill && !h.delivered));
    let held_ids: HashSet<String> = held
        .iter()
        .map(|h| webhook_id(&h.request.headers))
        .collect();

    // What the dead gateway left: its in-flight deliveries still marked as being sent.
    {
        let db = Database::connect(&url)
            .await
            .expect("the test's connection");
        let rows = entity::webhook_delivery::Entity::find()
            .all(&db)
            .await
            .expect("deliveries");
        assert_eq!(rows.len(), events, "every event is in the outbox");
        let sending: HashSet<String> = rows
            .iter()
            .filter(|r| r.status == "SENDING")
            .map(|r| r.message_id.clone())
            .collect();
        assert!(
            !sending.is_empty(),
            "killed while sending: {:?}",
            rows.iter().map(|r| &r.status).collect::<Vec<_>>()
        );
        assert!(
            sending.is_subset(&held_ids),
            "a delivery marked as being sent never reached the receiver"
        );
        assert!(rows.iter().all(|r| r.status != "SUCCEEDED"));
        db.close().await.expect("closed");
    }

    // Restarted on the same database: everything arrives, answered 2xx.
    let second = Gateway::serve(dir.path(), "second", &env).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let log = loop {
        let log = second
            .gql(&client, &token, DELIVERIES, json!({ "id": endpoint }))
            .await;
        let edges = log["webhookDeliveries"]["edges"]
            .as_array()
            .expect("edges")
            .clone();
        let delivered = receiver.requests().iter().filter(|r| r.delivered).count();
        if edges.iter().all(|e| e["node"]["status"] == "SUCCEEDED") && delivered >= events {
            break edges;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered a minute after the restart ({delivered} of {events}): {log}\n{}",
            second.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let took = started.elapsed();

    let after: Vec<Held> = receiver
        .requests()
        .into_iter()
        .filter(|r| !r.before_kill)
        .collect();
    assert!(after.iter().all(|r| r.delivered));
    for request in &after {
        assert!(request.request.signed_with(&secret), "{request:?}");
    }
    // Every event once in the log, delivered after the restart under its logged id with its
    // logged body.
    assert_eq!(log.len(), events);
    let mut seen = HashSet::new();
    for edge in &log {
        let node = &edge["node"];
        let id = node["messageId"].as_str().expect("messageId");
        let payload = node["payload"].as_str().expect("payload");
        let body: Value = serde_json::from_str(payload).expect("JSON payload");
        assert_eq!(body["type"], "contact.created");
        let contact = body["data"]["id"].as_str().expect("data.id").to_owned();
        assert!(seen.insert(contact), "one delivery per event");
        assert!(
            after
                .iter()
                .any(|r| webhook_id(&r.request.headers) == id && r.request.body == payload),
            "{id} delivered after the restart with its body"
        );
        // The attempt the kill cut short still counts.
        if held_ids.contains(id) {
            assert!(node["attemptCount"].as_i64().expect("count") >= 2, "{node}");
        }
    }
    assert_eq!(seen, contacts, "every event delivered");
    // The deliveries cut short by the kill went again with the same id and the same bytes.
    for cut in &held {
        let id = webhook_id(&cut.request.headers);
        assert!(
            after
                .iter()
                .any(|r| webhook_id(&r.request.headers) == id && r.request.body == cut.request.body),
            "{id}, in flight at the kill, was never delivered again with the same body"
        );
    }
    println!(
        "{events} events, killed with {} in flight after {killed_at:?}, all delivered after the \
         restart at {took:?}",
        held.len()
    );
}
