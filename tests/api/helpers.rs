//! The test harness: each test gets the real server on a free port with its own database (a
//! temporary SQLite file, or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set, dropped
//! afterwards), and a typed GraphQL client over real HTTP.

use std::{
    sync::{Arc, Once},
    time::Duration,
};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use threadline::{
    auth::{self, Actor, Role, TokenKeys},
    config::Config,
    jobs::Jobs,
    service::{
        access::AccessLevel,
        attachments::SweepReport,
        collaborators,
        contacts::{self, CreateContact, EmailInput, PhoneInput},
        users::{self, CreateUser, NewUserKind},
    },
    startup::{Application, StartOptions},
};
use tokio::{sync::oneshot, task::JoinHandle};

static INIT: Once = Once::new();

fn init() {
    INIT.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        if std::env::var_os("TEST_LOG").is_some() {
            threadline::telemetry::init();
        }
    });
}

/// A PostgreSQL database made for one test and dropped with it.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs outside any async context we can rely on: use a small runtime of our own.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(db) = Database::connect(&admin_url).await {
                    let _ = db
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    let _ = db.close().await;
                }
            });
        })
        .join();
    }
}

/// A running gateway with its own database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// A plain HTTP client.
    pub client: reqwest::Client,
    /// The gateway's database (for fixtures and for checking what was written).
    pub db: DatabaseConnection,
    keys: TokenKeys,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    /// The gateway's periodic jobs; tests run their passes through the helpers below (the
    /// timers are off unless started with [`spawn_app_with_timers`]).
    pub jobs: Jobs,
    /// The gateway's data directory (attachments).
    pub data_dir: tempfile::TempDir,
    /// The demo owner's token, when this instance created the demo organization.
    pub demo_token: Option<String>,
    /// The demo users' password as the banner prints it, when this instance created the demo
    /// organization or replaced its documented password.
    pub demo_password: Option<String>,
    /// The demo users whose documented password this instance replaced at start-up.
    pub demo_password_replaced: Vec<String>,
    /// The gateway's bus hub (who waits for which signals).
    pub hub: Arc<threadline::bus::Hub>,
    /// How many times [`TestApp::statements`] scraped `/metrics`.
    scrapes: std::sync::atomic::AtomicU64,
    _db: Arc<DbGuard>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts the gateway on port 0 with a fresh database and no demo data.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(false).await
}

/// Keeps a test database alive while any gateway uses it: a temporary SQLite directory, or a
/// PostgreSQL database dropped with the last holder.
pub struct DbGuard {
    _sqlite_dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

/// Creates an empty database for a test: a fresh PostgreSQL database when `TEST_DATABASE_URL`
/// is set, otherwise an SQLite file in a temporary directory.
pub async fn fresh_database() -> (String, Arc<DbGuard>) {
    init();
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("t_{}", random_suffix());
            let admin = Database::connect(&admin_url)
                .await
                .expect("TEST_DATABASE_URL: cannot connect to PostgreSQL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create the test database");
            let _ = admin.close().await;
            let base = admin_url.split('?').next().unwrap_or(&admin_url);
            let (server, _) = base
                .rsplit_once('/')
                .expect("TEST_DATABASE_URL names a database");
            let url = format!("{server}/{name}");
            let guard = DbGuard {
                _sqlite_dir: None,
                _pg: Some(PgDatabase { admin_url, name }),
            };
            (url, Arc::new(guard))
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            let guard = DbGuard {
                _sqlite_dir: Some(dir),
                _pg: None,
            };
            (url, Arc::new(guard))
        }
    }
}

/// Starts the gateway, with the demo organization when `demo` is true.
pub async fn spawn_app_with(demo: bool) -> TestApp {
    let (url, guard) = fresh_database().await;
    start(&url, demo, guard).await
}

/// Starts the gateway (no demo data) with its periodic jobs on their timers, as `serve` runs
/// them.
pub async fn spawn_app_with_timers() -> TestApp {
    let (url, guard) = fresh_database().await;
    start_with(&url, Timers::On, false, guard, |_| {}).await
}

/// Starts a gateway (no demo data) against `database_url` (which `guard` keeps alive) with its
/// periodic jobs on their timers, as `serve` runs them, and the test configuration changed by
/// `tweak`: several of these on one database are several gateway processes sharing it.
pub async fn start_with_timers(
    database_url: &str,
    guard: Arc<DbGuard>,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    start_with(database_url, Timers::On, false, guard, tweak).await
}

/// Whether a test gateway runs its periodic jobs on their timers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Timers {
    /// As `serve` does.
    On,
    /// Tests run passes themselves (`fire_due_reminders`, `sweep_attachments`), so nothing
    /// runs behind their back: no statement counted, no reminder fired, no file swept.
    Off,
}

/// Starts a gateway on port 0 against `database_url` (which `guard` keeps alive).
pub async fn start(database_url: &str, demo: bool, guard: Arc<DbGuard>) -> TestApp {
    start_with(database_url, Timers::Off, demo, guard, |_| {}).await
}

/// Starts a gateway with the test configuration changed by `tweak`.
async fn start_with(
    database_url: &str,
    timers: Timers,
    demo: bool,
    guard: Arc<DbGuard>,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    init();
    let data_dir = tempfile::tempdir().expect("data dir");
    // The gateway's own defaults, then what tests need: a free port, their own database and
    // data directory, small uploads and a quick `connection_init` timeout. The bus's safety read
    // and the reminder scheduler keep their 30 s defaults, so tests see what wakes them.
    let mut config = Config::from_lookup(|_| None).expect("the default configuration");
    config.database_url = database_url.to_owned();
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.data_dir = data_dir.path().to_path_buf();
    config.max_upload_bytes = 64 * 1024;
    config.ws_init_timeout = Duration::from_millis(500);
    tweak(&mut config);
    let options = StartOptions {
        demo,
        timers: timers == Timers::On,
    };
    let app = Application::build(&config, options)
        .await
        .expect("the application starts");
    let address = format!("http://{}", app.local_addr().expect("bound"));
    let db = app.db().clone();
    let keys = app.keys().clone();
    let demo_token = app.demo_token.clone();
    let demo_password = app.demo_password.clone();
    let demo_password_replaced = app.demo_password_replaced.clone();
    let jobs = app.jobs().clone();
    let hub = app.hub().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        db,
        keys,
        shutdown: Some(tx),
        server: Some(server),
        jobs,
        data_dir,
        demo_token,
        demo_password,
        demo_password_replaced,
        hub,
        scrapes: std::sync::atomic::AtomicU64::new(0),
        _db: guard,
    }
}

/// A GraphQL response, with helpers for the parts tests look at.
#[derive(Debug)]
pub struct Gql {
    /// The whole body.
    pub body: Value,
}

impl Gql {
    /// `data`, failing the test when there were errors.
    pub fn data(&self) -> &Value {
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {}",
            self.body
        );
        &self.body["data"]
    }

    /// The first error's `extensions.code`, or `None` when there were no errors.
    pub fn code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }

    /// The first error's `extensions.field`.
    pub fn field(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["field"].as_str()
    }

    /// Asserts the first error has `code` and returns its message.
    pub fn expect_code(&self, code: &str) -> String {
        assert_eq!(self.code(), Some(code), "expected {code}: {}", self.body);
        self.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl TestApp {
    /// Fires every reminder due now, as one pass of the gateway's reminder job would; returns
    /// how many.
    pub async fn fire_due_reminders(&self) -> usize {
        self.jobs
            .fire_due_reminders()
            .await
            .expect("firing reminders")
    }

    /// Fires every reminder due at `at`, standing in for waiting until then; returns how many.
    pub async fn fire_reminders_due_at(&self, at: chrono::DateTime<chrono::Utc>) -> usize {
        self.jobs
            .fire_reminders_due_at(at)
            .await
            .expect("firing reminders")
    }

    /// Sweeps attachment storage once, as the gateway's sweep job would; returns what it
    /// removed.
    pub async fn sweep_attachments(&self) -> SweepReport {
        self.jobs.sweep_attachments().await.expect("sweeping")
    }

    /// Stops the gateway as a shutdown signal would and waits until it has stopped (server
    /// and periodic jobs).
    pub async fn stop(&mut self) -> std::io::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.server.take() {
            Some(server) => server.await.expect("the server task"),
            None => Ok(()),
        }
    }

    /// A token for a user row.
    pub fn token(&self, user: &entity::user::Model) -> String {
        self.keys
            .issue(user.id, user.organization_id, Duration::from_secs(3600))
    }

    /// A token for any (user, organization) pair, signed with the gateway's key.
    pub fn issue(&self, user: i64, org: i64, ttl: Duration) -> String {
        self.keys.issue(user, org, ttl)
    }

    /// A token with a chosen lifetime (zero makes an expired one).
    pub fn token_with_ttl(&self, user: &entity::user::Model, ttl: Duration) -> String {
        self.keys.issue(user.id, user.organization_id, ttl)
    }

    /// Runs a GraphQL operation over `POST /graphql` as the holder of `token`.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Gql {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        let body: Value = response.json().await.expect("JSON body");
        Gql { body }
    }

    /// Makes the gateway know the caller of `token` (its caller cache, `auth::cache`), so that
    /// the statements a test counts next are the request's own: the first request of a caller
    /// also reads their user, later ones do not.
    pub async fn know(&self, token: &str) {
        self.gql(Some(token), "{ __typename }", json!({}))
            .await
            .data();
    }

    /// How many SQL statements the gateway has run, read from `/metrics`, not counting the
    /// one each scrape itself runs (the webhook backlog) for the scrapes made here.
    pub async fn statements(&self) -> u64 {
        let scrapes = self
            .scrapes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        self.raw_statements().await - scrapes
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    async fn raw_statements(&self) -> u64 {
        self.metrics()
            .await
            .lines()
            .find_map(|l| l.strip_prefix("threadline_sql_statements_total "))
            .and_then(|n| n.trim().parse().ok())
            .expect("the statement counter")
    }

    /// Counts the rows of a table.
    pub async fn count_rows(&self, table: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("n")
    }
}

/// The people of the access matrix.
pub struct World {
    /// Org A's owner.
    pub owner: entity::user::Model,
    /// Org A's admin.
    pub admin: entity::user::Model,
    /// A member with no grant on `contact`.
    pub member_none: entity::user::Model,
    /// A member with `READ` on `contact`.
    pub member_read: entity::user::Model,
    /// A member with `WRITE` on `contact`.
    pub member_write: entity::user::Model,
    /// A member with `ADMIN` on `contact`.
    pub member_admin: entity::user::Model,
    /// The customer user of `contact`.
    pub customer: entity::user::Model,
    /// The owner of another organization.
    pub other_owner: entity::user::Model,
    /// Org A's contact the grants are on.
    pub contact: i64,
    /// Another contact of org A, with no grants to members.
    pub other_contact: i64,
    /// A contact of the other organization.
    pub foreign_contact: i64,
}

/// Creates an organization (with its default settings).
pub async fn new_org(db: &DatabaseConnection, name: &str) -> i64 {
    threadline::service::organizations::create(db, name)
        .await
        .expect("organization")
        .id
}

/// Inserts a staff user.
pub async fn staff(
    db: &DatabaseConnection,
    org: i64,
    email: &str,
    role: Role,
) -> entity::user::Model {
    users::insert_unchecked(
        db,
        org,
        &CreateUser {
            email: email.into(),
            name: email.split('@').next().unwrap_or(email).into(),
            kind: NewUserKind::Staff(role),
        },
    )
    .await
    .expect("user")
}

/// The actor a user row acts as.
pub fn actor(user: &entity::user::Model) -> Actor {
    auth::actor_of(user).expect("actor")
}

/// Creates a contact with one email and phone, as `creator`.
pub async fn contact(db: &DatabaseConnection, creator: &entity::user::Model, name: &str) -> i64 {
    contacts::create(
        db,
        &actor(creator),
        CreateContact {
            name: name.into(),
            emails: vec![EmailInput {
                email: format!("{}@example.com", name.to_lowercase().replace(' ', ".")),
                label: None,
                primary: true,
            }],
            phones: vec![PhoneInput {
                number: "+14155550100".into(),
                label: None,
                primary: true,
            }],
            ..Default::default()
        },
    )
    .await
    .expect("contact")
    .contact
    .id
}

/// Builds the access-matrix world: two organizations and one user per role and grant.
pub async fn world(app: &TestApp) -> World {
    let db = &app.db;
    let org = new_org(db, "Acme").await;
    let other_org = new_org(db, "Other").await;
    let owner = staff(db, org, "owner@acme.test", Role::Owner).await;
    let admin = staff(db, org, "admin@acme.test", Role::Admin).await;
    let member_none = staff(db, org, "none@acme.test", Role::Member).await;
    let member_read = staff(db, org, "read@acme.test", Role::Member).await;
    let member_write = staff(db, org, "write@acme.test", Role::Member).await;
    let member_admin = staff(db, org, "madmin@acme.test", Role::Member).await;
    let other_owner = staff(db, other_org, "owner@other.test", Role::Owner).await;
    let contact_id = contact(db, &owner, "Grace Hopper").await;
    let other_contact = contact(db, &owner, "Alan Turing").await;
    let foreign_contact = contact(db, &other_owner, "Foreign Person").await;
    let owner_actor = actor(&owner);
    for (user, level) in [
        (&member_read, AccessLevel::Read),
        (&member_write, AccessLevel::Write),
        (&member_admin, AccessLevel::Admin),
    ] {
        collaborators::grant(db, &owner_actor, contact_id, user.id, level)
            .await
            .expect("grant");
    }
    let customer = users::insert_unchecked(
        db,
        org,
        &CreateUser {
            email: "grace@customer.test".into(),
            name: "Grace Hopper".into(),
            kind: NewUserKind::Customer(contact_id),
        },
    )
    .await
    .expect("customer");
    World {
        owner,
        admin,
        member_none,
        member_read,
        member_write,
        member_admin,
        customer,
        other_owner,
        contact: contact_id,
        other_contact,
        foreign_contact,
    }
}

/// The opaque ID of a contact row.
pub fn contact_id(id: i64) -> String {
    threadline::ids::encode(threadline::ids::Kind::Contact, id)
}

/// The opaque ID of a user row.
pub fn user_id(id: i64) -> String {
    threadline::ids::encode(threadline::ids::Kind::User, id)
}

/// The opaque ID of a channel row.
pub fn channel_id(id: i64) -> String {
    threadline::ids::encode(threadline::ids::Kind::Channel, id)
}

/// A phone channel of `owner`'s organization at `address`, named `Line <address>`.
pub async fn phone_channel(app: &TestApp, owner: &entity::user::Model, address: &str) -> i64 {
    threadline::service::channels::create(
        &app.db,
        &actor(owner),
        threadline::service::channels::ChannelKind::Phone,
        address,
        &format!("Line {address}"),
    )
    .await
    .expect("channel")
    .channel
    .id
}

/// Starts the gateway (no demo data) on a fresh database with the test configuration changed
/// by `tweak` (a small upload quota, say).
pub async fn spawn_app_with_config(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let (url, guard) = fresh_database().await;
    start_with(&url, Timers::Off, false, guard, tweak).await
}

/// Starts the gateway with the demo organization and the test configuration changed by
/// `tweak`.
pub async fn spawn_demo_app_with_config(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let (url, guard) = fresh_database().await;
    start_with(&url, Timers::Off, true, guard, tweak).await
}

/// A `graphql-transport-ws` client connection to a test gateway.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a WebSocket to the gateway's `/graphql` offering `graphql-transport-ws`, and checks
/// the server chose that subprotocol.
pub async fn ws_connect(app: &TestApp) -> Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = app.address.replace("http://", "ws://") + "/graphql";
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    socket
}
