//! The caller cache (issue 15): a request whose caller this process already knows sends no
//! statement to check them, yet a deactivated or demoted user, or a signed-out session, is
//! refused on the very next request, on this gateway and (within the notification's latency)
//! on another one sharing the PostgreSQL database, and a dropped listening connection empties
//! the cache instead of leaving it stale.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use serde_json::{Value, json};
use threadline::auth::{Role, TokenKeys};

use crate::helpers::{
    Gql, TestApp, fresh_database, new_org, spawn_app, staff, start, user_id, world,
};

const ME: &str = "{ me { email role } }";
const TYPENAME: &str = "{ __typename }";
const PASSWORD: &str = "correct horse battery staple";

/// How long a change made through another gateway may take to arrive (its notification).
const NOTIFY_DEADLINE: Duration = Duration::from_secs(5);

/// Runs `query` as `token` and counts the statements the gateway sent for it.
async fn costed(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> (Gql, u64) {
    let before = app.statements().await;
    let answer = app.gql(token, query, variables).await;
    (answer, app.statements().await - before)
}

/// The statements `{ __typename }` costs as `token` (or anonymous): 0 when the cache knows the
/// caller. The counter is the whole gateway's, and the bus reads on its own now and then (a
/// catch-up after it connects, the safety read): the least of three tries is the request's
/// own cost, since what runs beside it can only add.
async fn typename_cost_as(app: &TestApp, token: Option<&str>) -> u64 {
    let mut least = u64::MAX;
    for _ in 0..3 {
        let (answer, cost) = costed(app, token, TYPENAME, json!({})).await;
        assert_eq!(answer.data()["__typename"], "QueryRoot");
        least = least.min(cost);
    }
    least
}

async fn typename_cost(app: &TestApp, token: &str) -> u64 {
    typename_cost_as(app, Some(token)).await
}

/// Waits until the gateway runs nothing on its own (the bus's catch-up read after it
/// connected), so that a count taken next is the request's.
async fn settle(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = app.statements().await;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = app.statements().await;
        if now == seen {
            return;
        }
        assert!(Instant::now() < deadline, "the gateway never settled");
        seen = now;
    }
}

/// Waits until the gateway knows the caller of `token`: `{ __typename }` costs nothing. Not
/// always at the first try: a read in flight while any user's change arrives is not kept (see
/// `auth::cache`), and a change made just before may still be on its way back.
async fn known(app: &TestApp, token: &str) {
    eventually(NOTIFY_DEADLINE, "the caller is known", || async {
        typename_cost(app, token).await == 0
    })
    .await;
}

/// Asks `ask` until it returns true, for at most `limit` (a change made through another
/// gateway arrives with its notification, not with the answer to the change).
async fn eventually<F, Fut>(limit: Duration, what: &str, mut ask: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !ask().await {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn is_postgres(app: &TestApp) -> bool {
    app.db.get_database_backend() == sea_orm::DbBackend::Postgres
}

async fn sign_in(app: &TestApp, email: &str) -> (String, String) {
    let answer = app
        .gql(
            None,
            "mutation ($email: String!, $password: String!) {
               signIn(email: $email, password: $password) { accessToken refreshToken }
             }",
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    let session = &answer.data()["signIn"];
    (
        session["accessToken"].as_str().expect("access").to_owned(),
        session["refreshToken"]
            .as_str()
            .expect("refresh")
            .to_owned(),
    )
}

async fn set_password(app: &TestApp, by: &str, user: &entity::user::Model) {
    app.gql(
        Some(by),
        "mutation ($id: ID!, $p: String!) { setUserPassword(userId: $id, password: $p) { id } }",
        json!({ "id": user_id(user.id), "p": PASSWORD }),
    )
    .await
    .data();
}

async fn set_active(app: &TestApp, by: &str, user: &entity::user::Model, active: bool) {
    let field = if active {
        "reactivateUser"
    } else {
        "deactivateUser"
    };
    let answer = app
        .gql(
            Some(by),
            &format!("mutation ($id: ID!) {{ {field}(id: $id) {{ active }} }}"),
            json!({ "id": user_id(user.id) }),
        )
        .await;
    assert_eq!(answer.data()[field]["active"], active);
}

async fn set_role(app: &TestApp, by: &str, user: &entity::user::Model, role: &str) {
    let answer = app
        .gql(
            Some(by),
            "mutation ($id: ID!, $role: Role!) { updateUser(id: $id, input: { role: $role }) { role } }",
            json!({ "id": user_id(user.id), "role": role }),
        )
        .await;
    assert_eq!(answer.data()["updateUser"]["role"], role);
}

/// An admin-only write: `None` when it succeeded, else the error code.
async fn create_label(app: &TestApp, token: &str, name: &str) -> Option<String> {
    let answer = app
        .gql(
            Some(token),
            "mutation ($n: String!) { createLabel(input: { name: $n }) { id } }",
            json!({ "n": name }),
        )
        .await;
    answer.code().map(str::to_owned)
}

#[tokio::test]
async fn typename_sends_no_statement_and_a_known_caller_none_either() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let token = app.token(&w.member_read);
    assert_eq!(typename_cost_as(&app, None).await, 0, "anonymous");
    // The first request of a caller reads them; from then on they are known.
    settle(&app).await;
    let (me, cold) = costed(&app, Some(&token), ME, json!({})).await;
    assert_eq!(me.data()["me"]["email"], "read@acme.test");
    assert_eq!(typename_cost(&app, &token).await, 0);
    let mut warm = u64::MAX;
    for _ in 0..2 {
        let (me, cost) = costed(&app, Some(&token), ME, json!({})).await;
        assert_eq!(me.data()["me"]["role"], "MEMBER");
        warm = warm.min(cost);
    }
    assert_eq!(warm, cold - 1, "the caller check is the statement saved");
    // Another token of the same user (same user, no session) is known too.
    let again = app.token_with_ttl(&w.member_read, Duration::from_secs(600));
    assert_eq!(typename_cost(&app, &again).await, 0);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("threadline_caller_cache_entries 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("threadline_caller_cache_hits "),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_refused_token_still_gets_introspection_but_is_told_so() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let expired = app.token_with_ttl(&w.owner, Duration::ZERO);
    let forged = TokenKeys::new("another gateway's secret, not this one's").issue(
        w.owner.id,
        w.owner.organization_id,
        Duration::from_secs(600),
    );
    for token in [expired.as_str(), forged.as_str(), "not-a-token"] {
        // A bad signature or expiry is found without the database.
        assert_eq!(typename_cost(&app, token).await, 0, "{token}");
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("content-type", "application/json")
            .bearer_auth(token)
            .json(&json!({ "query": TYPENAME }))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["data"]["__typename"], "QueryRoot", "{body}");
        app.gql(Some(token), ME, json!({}))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    // A valid token carries no challenge.
    let response = app
        .client
        .get(format!("{}/graphql?query={{__typename}}", app.address))
        .bearer_auth(app.token(&w.owner))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("www-authenticate").is_none());
}

#[tokio::test]
async fn deactivation_role_changes_and_sign_out_take_effect_on_the_very_next_request() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let member = app.token(&w.member_read);

    // Deactivated: refused at once; the refusal is remembered too; reactivated: back at once.
    app.gql(Some(&member), ME, json!({})).await.data();
    known(&app, &member).await;
    set_active(&app, &owner, &w.member_read, false).await;
    app.gql(Some(&member), ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    // Once the change's own notification is back (at once on SQLite), the refusal is known.
    known(&app, &member).await;
    set_active(&app, &owner, &w.member_read, true).await;
    assert_eq!(
        app.gql(Some(&member), ME, json!({})).await.data()["me"]["email"],
        "read@acme.test"
    );

    // Demoted: the next admin-only write is forbidden; promoted: the next one succeeds.
    let admin = app.token(&w.admin);
    assert_eq!(create_label(&app, &admin, "Before").await, None);
    known(&app, &admin).await;
    set_role(&app, &owner, &w.admin, "MEMBER").await;
    assert_eq!(
        create_label(&app, &admin, "After").await.as_deref(),
        Some("FORBIDDEN")
    );
    let writer = app.token(&w.member_write);
    assert_eq!(
        create_label(&app, &writer, "Not yet").await.as_deref(),
        Some("FORBIDDEN")
    );
    known(&app, &writer).await;
    set_role(&app, &owner, &w.member_write, "ADMIN").await;
    assert_eq!(create_label(&app, &writer, "Now").await, None);

    // Signed out: that session's access token is refused at once, another session goes on.
    set_password(&app, &owner, &w.member_none).await;
    let (laptop, laptop_refresh) = sign_in(&app, "none@acme.test").await;
    let (phone, _) = sign_in(&app, "none@acme.test").await;
    for token in [&laptop, &phone] {
        app.gql(Some(token), ME, json!({})).await.data();
        known(&app, token).await;
    }
    let out = app
        .gql(
            None,
            "mutation ($t: String!) { signOut(refreshToken: $t) }",
            json!({ "t": laptop_refresh }),
        )
        .await;
    assert_eq!(out.data()["signOut"], true);
    app.gql(Some(&laptop), ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    app.gql(Some(&phone), ME, json!({})).await.data();
    // Everywhere: the phone too, and the token `threadline token` printed goes on.
    let everywhere = app
        .gql(Some(&phone), "mutation { signOutEverywhere }", json!({}))
        .await;
    assert_eq!(everywhere.data()["signOutEverywhere"], true);
    app.gql(Some(&phone), ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    app.gql(Some(&app.token(&w.member_none)), ME, json!({}))
        .await
        .data();
}

#[tokio::test]
async fn a_change_through_one_gateway_is_refused_on_the_other() {
    let (url, guard) = fresh_database().await;
    let a = start(&url, false, guard.clone()).await;
    let b = start(&url, false, guard.clone()).await;
    let org = new_org(&a.db, "Two").await;
    let owner = staff(&a.db, org, "owner@two.test", Role::Owner).await;
    let member = staff(&a.db, org, "member@two.test", Role::Member).await;
    let admin = staff(&a.db, org, "admin@two.test", Role::Admin).await;
    let (owner_token, member_token, admin_token) =
        (a.token(&owner), a.token(&member), a.token(&admin));
    b.gql(Some(&member_token), ME, json!({})).await.data();
    assert_eq!(create_label(&b, &admin_token, "Before").await, None);
    // On PostgreSQL each gateway keeps its cache, kept right by the notifications. Two
    // gateways of one process on one SQLite file cannot hear each other: they read the
    // database every time instead.
    let postgres = is_postgres(&b);
    for token in [&member_token, &admin_token] {
        if postgres {
            known(&b, token).await;
        } else {
            assert_eq!(typename_cost(&b, token).await, 1);
        }
    }

    set_active(&a, &owner_token, &member, false).await;
    eventually(NOTIFY_DEADLINE, "the deactivation reaches B", || async {
        b.gql(Some(&member_token), ME, json!({})).await.code() == Some("UNAUTHENTICATED")
    })
    .await;
    set_active(&a, &owner_token, &member, true).await;
    eventually(NOTIFY_DEADLINE, "the reactivation reaches B", || async {
        b.gql(Some(&member_token), ME, json!({}))
            .await
            .code()
            .is_none()
    })
    .await;
    set_role(&a, &owner_token, &admin, "MEMBER").await;
    eventually(NOTIFY_DEADLINE, "the demotion reaches B", || async {
        create_label(&b, &admin_token, "After").await.as_deref() == Some("FORBIDDEN")
    })
    .await;

    // A session signed out through A.
    set_password(&a, &owner_token, &member).await;
    let (access, refresh) = sign_in(&a, "member@two.test").await;
    b.gql(Some(&access), ME, json!({})).await.data();
    if postgres {
        known(&b, &access).await;
    } else {
        assert_eq!(typename_cost(&b, &access).await, 1);
    }
    a.gql(
        None,
        "mutation ($t: String!) { signOut(refreshToken: $t) }",
        json!({ "t": refresh }),
    )
    .await
    .data();
    eventually(NOTIFY_DEADLINE, "the sign-out reaches B", || async {
        b.gql(Some(&access), ME, json!({})).await.code() == Some("UNAUTHENTICATED")
    })
    .await;
}

#[tokio::test]
async fn a_dropped_listening_connection_empties_the_cache() {
    let app = spawn_app().await;
    if !is_postgres(&app) {
        // SQLite's bus is in process: there is no connection to drop.
        return;
    }
    let org = new_org(&app.db, "Drop").await;
    let owner = staff(&app.db, org, "owner@drop.test", Role::Owner).await;
    let member = staff(&app.db, org, "member@drop.test", Role::Member).await;
    let token = app.token(&member);
    app.gql(Some(&token), ME, json!({})).await.data();
    assert_eq!(typename_cost(&app, &token).await, 0);
    // A change whose notification is lost: written behind the gateway's back, as if it had
    // been published while the listening connection was down. The cache cannot know...
    app.db
        .execute_raw(Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "UPDATE users SET active = false WHERE id = $1",
            [member.id.into()],
        ))
        .await
        .expect("update");
    app.gql(Some(&token), ME, json!({})).await.data();
    // ...until its listening connection drops: then it trusts nothing it held.
    let terminated = app
        .db
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN %'",
        ))
        .await
        .expect("terminate")
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("n");
    assert_eq!(terminated, 1, "the gateway's one listening connection");
    eventually(NOTIFY_DEADLINE, "the drop empties the cache", || async {
        app.gql(Some(&token), ME, json!({})).await.code() == Some("UNAUTHENTICATED")
    })
    .await;
    // Listening again, the cache is used again, and signals reach it again.
    let owner_token = app.token(&owner);
    known(&app, &owner_token).await;
    set_active(&app, &owner_token, &member, true).await;
    app.gql(Some(&token), ME, json!({})).await.data();
}

/// The backends `LISTEN`ing on the test database (each gateway has one).
async fn listener_pids(db: &sea_orm::DatabaseConnection) -> Vec<i32> {
    db.query_all_raw(Statement::from_string(
        sea_orm::DbBackend::Postgres,
        "SELECT pid FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN %' ORDER BY pid",
    ))
    .await
    .expect("pg_stat_activity")
    .iter()
    .map(|row| row.try_get::<i32>("", "pid").expect("pid"))
    .collect()
}

/// How many backends of the test database wait for a lock in a statement containing `text`.
async fn waiting_on_lock(db: &sea_orm::DatabaseConnection, text: &str) -> i64 {
    db.query_one_raw(Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock' AND position($1 in query) > 0",
        [text.into()],
    ))
    .await
    .expect("pg_stat_activity")
    .expect("a row")
    .try_get::<i64>("", "n")
    .expect("n")
}

async fn terminate(db: &sea_orm::DatabaseConnection, pid: i32) {
    db.execute_raw(Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT pg_terminate_backend($1)",
        [pid.into()],
    ))
    .await
    .expect("terminate");
}

/// Two gateways on one PostgreSQL database; A knows the member's token; B's listener is
/// started after A's, so `a_listener` is A's own.
struct TwoGateways {
    a: TestApp,
    b: TestApp,
    a_listener: i32,
    member: entity::user::Model,
    owner_token: String,
    member_token: String,
}

async fn two_gateways_a_knowing_the_member() -> Option<TwoGateways> {
    let (url, guard) = fresh_database().await;
    let a = start(&url, false, guard.clone()).await;
    if !is_postgres(&a) {
        return None;
    }
    eventually(NOTIFY_DEADLINE, "A listens", || async {
        listener_pids(&a.db).await.len() == 1
    })
    .await;
    let a_listener = listener_pids(&a.db).await[0];
    let b = start(&url, false, guard.clone()).await;
    let org = new_org(&a.db, "Reconnect").await;
    let owner = staff(&a.db, org, "owner@reconnect.test", Role::Owner).await;
    let member = staff(&a.db, org, "member@reconnect.test", Role::Member).await;
    let (owner_token, member_token) = (a.token(&owner), a.token(&member));
    a.gql(Some(&member_token), ME, json!({})).await.data();
    known(&a, &member_token).await;
    known(&a, &owner_token).await;
    Some(TwoGateways {
        a,
        b,
        a_listener,
        member,
        owner_token,
        member_token,
    })
}

/// Whether `token` is answered by `app` as a valid caller within `wait` (`{ __typename }`
/// tells without a statement when the cache knows the caller: a refused token gets the
/// `invalid_token` challenge). `None`: no answer within `wait`.
async fn accepted_within(app: &TestApp, token: &str, wait: Duration) -> Option<bool> {
    let request = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .bearer_auth(token)
        .json(&json!({ "query": TYPENAME }))
        .send();
    let response = tokio::time::timeout(wait, request)
        .await
        .ok()?
        .expect("sent");
    Some(response.headers().get("www-authenticate").is_none())
}

#[tokio::test]
async fn a_listener_reconnecting_behind_a_busy_pool_serves_nothing_from_the_cache() {
    let Some(t) = two_gateways_a_knowing_the_member().await else {
        // SQLite's bus is in process: there is no connection to lose.
        return;
    };
    let (a, b) = (&t.a, &t.b);
    // Every connection of A's pool busy, and more requests queued for one: writes of labels,
    // held by a lock, so that A's listener, once its connection is lost, waits for a new one.
    let lock = b.db.begin().await.expect("begin");
    lock.execute_unprepared("LOCK TABLE labels IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let writes: Vec<_> = (0..24)
        .map(|i| {
            let (client, address, token) =
                (a.client.clone(), a.address.clone(), t.owner_token.clone());
            tokio::spawn(async move {
                client
                    .post(format!("{address}/graphql"))
                    .bearer_auth(token)
                    .json(&json!({
                        "query": "mutation ($n: String!) { createLabel(input: { name: $n }) { id } }",
                        "variables": { "n": format!("Busy {i}") },
                    }))
                    .send()
                    .await
            })
        })
        .collect();
    eventually(Duration::from_secs(10), "A's pool is busy", || async {
        waiting_on_lock(&b.db, "labels").await >= 15
    })
    .await;
    // A's listening connection is lost; while it waits for a connection, it hears nothing.
    terminate(&b.db, t.a_listener).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    set_active(b, &t.owner_token, &t.member, false).await;
    // Not listening: A must not answer from its cache (it may wait for its busy pool).
    let answer = accepted_within(a, &t.member_token, Duration::from_secs(2)).await;
    lock.rollback().await.expect("unlock");
    for write in writes {
        let _ = write.await;
    }
    assert_ne!(
        answer,
        Some(true),
        "A served the deactivated member from its cache while its listener was down"
    );
    eventually(NOTIFY_DEADLINE, "A refuses the member", || async {
        a.gql(Some(&t.member_token), ME, json!({})).await.code() == Some("UNAUTHENTICATED")
    })
    .await;
    // Listening again, A uses its cache again.
    known(a, &t.owner_token).await;
}

#[tokio::test]
async fn signals_held_up_by_the_catch_up_read_leave_nothing_stale() {
    let Some(t) = two_gateways_a_knowing_the_member().await else {
        return;
    };
    let (a, b) = (&t.a, &t.b);
    // The catch-up read that follows a reconnection is slow (here: held by a lock; in life, a
    // long backlog of events): the signals that arrive meanwhile wait for it.
    let lock = b.db.begin().await.expect("begin");
    lock.execute_unprepared("LOCK TABLE timeline_events IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    terminate(&b.db, t.a_listener).await;
    eventually(Duration::from_secs(10), "A's catch-up waits", || async {
        waiting_on_lock(&b.db, "timeline_events").await >= 1
    })
    .await;
    a.gql(Some(&t.member_token), ME, json!({})).await.data();
    a.gql(Some(&t.member_token), ME, json!({})).await.data();
    set_active(b, &t.owner_token, &t.member, false).await;
    let refused = tokio::time::timeout(NOTIFY_DEADLINE, async {
        loop {
            if a.gql(Some(&t.member_token), ME, json!({})).await.code() == Some("UNAUTHENTICATED") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    lock.rollback().await.expect("unlock");
    assert!(
        refused.is_ok(),
        "A served the deactivated member from its cache while its catch-up read held the \
         signal back"
    );
    known(a, &t.owner_token).await;
}
