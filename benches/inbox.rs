//! Inbox benchmark: a member who sees 3,000 of 100,000 contacts reads inbox pages, and the
//! owner reads the whole organization's inbox. Prints the query plan and timings against the
//! targets; exits non-zero when a target is missed.
//!
//! ```sh
//! cargo bench --bench inbox                                                     # SQLite
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench inbox
//! ```

use std::time::{Duration, Instant};

use chrono::SecondsFormat;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use threadline::{
    auth::{Actor, ActorKind, Role},
    db,
    service::conversations::{self, ConversationFilter},
};

const CONTACTS: i64 = 100_000;
const GRANTED: i64 = 3_000;
const CONVERSATIONS: i64 = 30_000;
const RUNS: usize = 50;
/// p95 target for one inbox page of 50, in a release build.
const TARGET_P95: Duration = Duration::from_millis(50);

async fn exec(db: &impl ConnectionTrait, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", &sql[..sql.len().min(200)]));
}

async fn insert_rows(db: &impl ConnectionTrait, head: &str, rows: impl Iterator<Item = String>) {
    let rows: Vec<String> = rows.collect();
    for chunk in rows.chunks(1000) {
        exec(db, &format!("{head} VALUES {}", chunk.join(","))).await;
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (url, cleanup) = match std::env::var("BENCH_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            let name = format!("bench_{}", std::process::id());
            let conn = Database::connect(&admin).await.expect("connect");
            exec(&conn, &format!("CREATE DATABASE {name}")).await;
            let base = admin.split('?').next().unwrap_or(&admin);
            let (server, _) = base.rsplit_once('/').expect("a database in the URL");
            (format!("{server}/{name}"), Some((conn, name)))
        }
        _ => {
            let dir = std::env::temp_dir().join(format!("threadline-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            (
                format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
                None,
            )
        }
    };
    let conn = db::connect(&url, Default::default(), Default::default())
        .await
        .expect("connect");
    db::migrate(&conn).await.expect("migrate");
    let backend = conn.get_database_backend();
    let t = |secs: i64| {
        (chrono::DateTime::UNIX_EPOCH + chrono::Duration::seconds(1_700_000_000 + secs))
            .to_rfc3339_opts(SecondsFormat::AutoSi, false)
    };

    let seed = Instant::now();
    exec(
        &conn,
        &format!(
            "INSERT INTO organizations (id, name, created_at) VALUES (1, 'Bench', '{}')",
            t(0)
        ),
    )
    .await;
    for (id, role) in [(1, "OWNER"), (2, "MEMBER")] {
        exec(&conn, &format!("INSERT INTO users (id, organization_id, email, name, kind, role, active, created_at, updated_at) VALUES ({id}, 1, 'u{id}@bench.test', 'U{id}', 'STAFF', '{role}', TRUE, '{0}', '{0}')", t(0))).await;
    }
    insert_rows(&conn, "INSERT INTO contacts (id, organization_id, name, custom_fields, archived, created_by, created_at, updated_at)", (1..=CONTACTS).map(|i| format!("({i}, 1, 'Contact {i}', '{{}}', FALSE, 1, '{0}', '{0}')", t(i)))).await;
    // The member holds grants on every 33rd contact: about 3,000 scattered over the table.
    insert_rows(&conn, "INSERT INTO contact_collaborators (organization_id, contact_id, user_id, access, granted_by, granted_at)", (1..=GRANTED).map(|i| format!("(1, {}, 2, 'READ', 1, '{}')", i * (CONTACTS / GRANTED), t(i)))).await;
    exec(&conn, &format!("INSERT INTO channels (id, organization_id, kind, address, display_name, created_at, updated_at) VALUES (1, 1, 'PHONE', '+14155550000', 'Line', '{0}', '{0}')", t(0))).await;
    exec(&conn, &format!("INSERT INTO channel_collaborators (organization_id, channel_id, user_id, access, granted_by, granted_at) VALUES (1, 1, 2, 'READ', 1, '{}')", t(0))).await;
    // Conversations with every third contact, each with one message.
    let step = CONTACTS / CONVERSATIONS;
    insert_rows(&conn, "INSERT INTO conversations (id, organization_id, contact_id, channel_id, last_message_id, last_message_at, created_at)", (1..=CONVERSATIONS).map(|i| format!("({i}, 1, {}, 1, {i}, '{1}', '{1}')", i * step, t(i * 7)))).await;
    insert_rows(&conn, "INSERT INTO messages (id, organization_id, conversation_id, direction, body, sent_at, status, created_at, updated_at)", (1..=CONVERSATIONS).map(|i| format!("({i}, 1, {i}, 'INBOUND', 'hello {i}', '{0}', 'DELIVERED', '{0}', '{0}')", t(i * 7)))).await;
    if backend == DbBackend::Postgres {
        for table in [
            "contacts",
            "contact_collaborators",
            "conversations",
            "messages",
            "channel_collaborators",
        ] {
            exec(&conn, &format!("ANALYZE {table}")).await;
        }
    } else {
        exec(&conn, "ANALYZE").await;
    }
    println!(
        "seeded {CONTACTS} contacts, {GRANTED} grants, {CONVERSATIONS} conversations in {:?} ({backend:?})",
        seed.elapsed()
    );

    let member = Actor {
        user_id: 2,
        org_id: 1,
        kind: ActorKind::Staff(Role::Member),
        name: "U2".into(),
        session_id: None,
    };
    let owner = Actor {
        user_id: 1,
        org_id: 1,
        kind: ActorKind::Staff(Role::Owner),
        name: "U1".into(),
        session_id: None,
    };
    let explain = match backend {
        DbBackend::Postgres => "EXPLAIN (ANALYZE, COSTS OFF) ",
        _ => "EXPLAIN QUERY PLAN ",
    };
    let plan_sql = format!(
        "{explain}SELECT cv.* FROM conversations cv JOIN contact_collaborators g ON g.organization_id = cv.organization_id AND g.contact_id = cv.contact_id AND g.user_id = 2 JOIN channel_collaborators cg ON cg.organization_id = cv.organization_id AND cg.channel_id = cv.channel_id AND cg.user_id = 2 WHERE cv.organization_id = 1 ORDER BY cv.last_message_at DESC, cv.id DESC LIMIT 51"
    );
    println!("\nplan of the member's inbox query:");
    for row in conn
        .query_all_raw(Statement::from_string(backend, plan_sql))
        .await
        .expect("explain")
    {
        let line: String = row
            .try_get_by_index(0)
            .or_else(|_| row.try_get_by_index::<String>(3))
            .unwrap_or_default();
        println!("  {line}");
    }

    let mut failed = false;
    for (who, actor) in [
        ("member (3,000 of 100,000 contacts)", &member),
        ("owner (whole organization)", &owner),
    ] {
        let mut samples = Vec::with_capacity(RUNS);
        let mut after = None;
        for _ in 0..RUNS {
            let start = Instant::now();
            let page = conversations::list(&conn, actor, &ConversationFilter::default(), after, 50)
                .await
                .expect("inbox");
            let ids: Vec<i64> = page.rows.iter().map(|c| c.id).collect();
            conversations::unread_counts(&conn, actor, &ids)
                .await
                .expect("unread");
            samples.push(start.elapsed());
            // Walk a few pages deep, then start over.
            after = if page.has_next && samples.len() % 5 != 0 {
                page.rows.last().map(|c| conversations::InboxCursor {
                    at: c.last_message_at,
                    id: c.id,
                })
            } else {
                None
            };
        }
        let (p50, p95) = (
            percentile(&mut samples, 0.5),
            percentile(&mut samples, 0.95),
        );
        let ok = p95 <= TARGET_P95;
        failed |= !ok;
        println!(
            "{who}: inbox page of 50 + unread counts: p50 {p50:?}, p95 {p95:?} (target p95 <= {TARGET_P95:?}) {}",
            if ok { "ok" } else { "MISSED" }
        );
    }
    if let Some((admin, name)) = cleanup {
        let _ = conn.close().await;
        exec(
            &admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await;
    }
    if failed {
        std::process::exit(1);
    }
}
