//! Built-in sign-in (issue 13): passwords, sessions with rotating refresh tokens, sign-out,
//! throttling, set-password tokens, through the real server.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use threadline::{auth::Role, service::sessions};

use crate::helpers::{
    Gql, TestApp, fresh_database, spawn_app, spawn_app_with_config, staff, start_with_timers,
    user_id, world,
};

const SIGN_IN: &str = "mutation ($email: String!, $password: String!) {
  signIn(email: $email, password: $password) {
    accessToken refreshToken expiresAt refreshExpiresAt user { id email role }
  }
}";
const REFRESH: &str = "mutation ($token: String!) {
  refreshSession(refreshToken: $token) { accessToken refreshToken expiresAt user { email } }
}";
const SIGN_OUT: &str = "mutation ($token: String!) { signOut(refreshToken: $token) }";
const SET_PASSWORD: &str = "mutation ($id: ID!, $password: String!) {
  setUserPassword(userId: $id, password: $password) { id email }
}";
const ME: &str = "{ me { email } }";
const PASSWORD: &str = "correct horse battery staple";

/// Runs an operation with a chosen `User-Agent`.
async fn gql_from(
    app: &TestApp,
    token: Option<&str>,
    user_agent: &str,
    query: &str,
    variables: Value,
) -> Gql {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .header("user-agent", user_agent)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    Gql {
        body: response.json().await.expect("JSON body"),
    }
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> Gql {
    app.gql(
        None,
        SIGN_IN,
        json!({ "email": email, "password": password }),
    )
    .await
}

/// The access and refresh tokens of a successful `signIn` or `refreshSession`.
fn tokens(response: &Gql, field: &str) -> (String, String) {
    let session = &response.data()[field];
    (
        session["accessToken"].as_str().expect("access").to_owned(),
        session["refreshToken"]
            .as_str()
            .expect("refresh")
            .to_owned(),
    )
}

async fn refresh(app: &TestApp, token: &str) -> Gql {
    app.gql(None, REFRESH, json!({ "token": token })).await
}

/// Gives `user` a password, set by `by` (an owner or admin) through the API.
async fn set_password(app: &TestApp, by: &entity::user::Model, user: &entity::user::Model) {
    app.gql(
        Some(&app.token(by)),
        SET_PASSWORD,
        json!({ "id": user_id(user.id), "password": PASSWORD }),
    )
    .await
    .data();
}

#[tokio::test]
async fn sign_in_refresh_rotation_and_reuse_detection() {
    let app = spawn_app().await;
    let w = world(&app).await;
    set_password(&app, &w.owner, &w.member_read).await;

    let signed_in = sign_in(&app, " READ@acme.test ", PASSWORD).await;
    let session = &signed_in.data()["signIn"];
    assert_eq!(session["user"]["email"], "read@acme.test");
    // The answer is read as the user who signed in (an anonymous request otherwise).
    assert_eq!(session["user"]["role"], "MEMBER");
    let expires: chrono::DateTime<chrono::Utc> = session["expiresAt"]
        .as_str()
        .expect("expiresAt")
        .parse()
        .expect("a time");
    let minutes = (expires - chrono::Utc::now()).num_minutes();
    assert!(
        (13..=15).contains(&minutes),
        "15 minutes by default: {minutes}"
    );
    let (access, first_refresh) = tokens(&signed_in, "signIn");
    assert!(first_refresh.starts_with("rt_"));
    // Only a hash of the refresh token is stored.
    let stored = app.count_rows("refresh_tokens").await;
    assert_eq!(stored, 1);
    let hashes = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT token_hash FROM refresh_tokens",
        ))
        .await
        .expect("hashes");
    let hash: String = hashes[0].try_get("", "token_hash").expect("hash");
    assert_eq!(hash.len(), 64);
    assert!(!hash.contains(&first_refresh[3..]));

    let me = app.gql(Some(&access), ME, json!({})).await;
    assert_eq!(me.data()["me"]["email"], "read@acme.test");

    // A refresh rotates: new tokens, and the old refresh token stops working.
    let refreshed = refresh(&app, &first_refresh).await;
    let (second_access, second_refresh) = tokens(&refreshed, "refreshSession");
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(
        app.gql(Some(&second_access), ME, json!({})).await.data()["me"]["email"],
        "read@acme.test"
    );
    let (third_access, third_refresh) =
        tokens(&refresh(&app, &second_refresh).await, "refreshSession");

    // Reusing a rotated token (a stolen copy) revokes the whole family: the newest refresh
    // token and every access token of the session stop working.
    let reused = refresh(&app, &first_refresh).await;
    let message = reused.expect_code("UNAUTHENTICATED");
    assert!(message.contains("refresh token"), "{message}");
    refresh(&app, &third_refresh)
        .await
        .expect_code("UNAUTHENTICATED");
    for token in [&access, &second_access, &third_access] {
        app.gql(Some(token), ME, json!({}))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    let reason = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT revoked_reason FROM sessions",
        ))
        .await
        .expect("query")
        .expect("the session");
    assert_eq!(
        reason
            .try_get::<String>("", "revoked_reason")
            .expect("reason"),
        "REFRESH_TOKEN_REUSED"
    );
    // Signing in again opens a new, working session.
    let (again, _) = tokens(&sign_in(&app, "read@acme.test", PASSWORD).await, "signIn");
    app.gql(Some(&again), ME, json!({})).await.data();
}

#[tokio::test]
async fn two_concurrent_refreshes_with_one_token_end_the_session() {
    let app = spawn_app().await;
    let w = world(&app).await;
    set_password(&app, &w.owner, &w.member_read).await;
    let (_, refresh_token) = tokens(&sign_in(&app, "read@acme.test", PASSWORD).await, "signIn");
    let (a, b) = tokio::join!(refresh(&app, &refresh_token), refresh(&app, &refresh_token));
    let winners: Vec<&Gql> = [&a, &b]
        .into_iter()
        .filter(|r| r.body.get("errors").is_none())
        .collect();
    assert!(winners.len() <= 1, "{} and {}", a.body, b.body);
    // Whichever won, its tokens died with the family when the other use was seen.
    for winner in winners {
        let (access, next) = tokens(winner, "refreshSession");
        refresh(&app, &next).await.expect_code("UNAUTHENTICATED");
        app.gql(Some(&access), ME, json!({}))
            .await
            .expect_code("UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn wrong_password_unknown_email_and_no_password_are_indistinguishable() {
    let app = spawn_app().await;
    let w = world(&app).await;
    set_password(&app, &w.owner, &w.member_read).await;
    set_password(&app, &w.owner, &w.member_write).await;
    app.gql(
        Some(&app.token(&w.owner)),
        "mutation ($id: ID!) { deactivateUser(id: $id) { active } }",
        json!({ "id": user_id(w.member_write.id) }),
    )
    .await
    .data();
    let mut answers = Vec::new();
    for (what, email, password) in [
        (
            "wrong password",
            "read@acme.test",
            "not the password at all",
        ),
        ("unknown email", "nobody@acme.test", PASSWORD),
        ("no password set", "none@acme.test", PASSWORD),
        ("deactivated", "write@acme.test", PASSWORD),
        ("empty password", "read@acme.test", ""),
    ] {
        let response = sign_in(&app, email, password).await;
        assert!(response.body["data"].is_null(), "{what}: {}", response.body);
        let error = &response.body["errors"][0];
        answers.push((what, error["message"].clone(), error["extensions"].clone()));
    }
    let (_, message, extensions) = answers[0].clone();
    assert_eq!(extensions, json!({ "code": "UNAUTHENTICATED" }));
    assert_eq!(message, sessions::WRONG_CREDENTIALS);
    for (what, other_message, other_extensions) in &answers {
        assert_eq!(other_message, &message, "{what}");
        assert_eq!(other_extensions, &extensions, "{what}");
    }
    // The password is never echoed or stored as given.
    let stored = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT password_hash FROM user_passwords",
        ))
        .await
        .expect("hashes");
    for row in stored {
        let hash: String = row.try_get("", "password_hash").expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(!hash.contains(PASSWORD));
    }
}

#[tokio::test]
async fn repeated_failures_are_throttled_per_account_and_per_address_across_processes() {
    let (url, guard) = fresh_database().await;
    let limits = |c: &mut threadline::config::Config| {
        c.sign_in_max_failures_per_account = 3;
        c.sign_in_max_failures_per_ip = 8;
    };
    let one = start_with_timers(&url, guard.clone(), limits).await;
    let two = start_with_timers(&url, guard, limits).await;
    let w = world(&one).await;
    set_password(&one, &w.owner, &w.member_read).await;
    set_password(&one, &w.owner, &w.member_none).await;

    // A success forgets the account's earlier failures.
    for _ in 0..2 {
        sign_in(&one, "read@acme.test", "wrong guess 1")
            .await
            .expect_code("UNAUTHENTICATED");
    }
    sign_in(&two, "read@acme.test", PASSWORD).await.data();
    // Three failures, spread over both gateways, reach the account's limit.
    sign_in(&one, "read@acme.test", "wrong guess 2")
        .await
        .expect_code("UNAUTHENTICATED");
    sign_in(&two, "read@acme.test", "wrong guess 3")
        .await
        .expect_code("UNAUTHENTICATED");
    sign_in(&one, "read@acme.test", "wrong guess 4")
        .await
        .expect_code("UNAUTHENTICATED");
    // Now even the right password is refused, on either gateway, before it is checked.
    for app in [&one, &two] {
        let limited = sign_in(app, "read@acme.test", PASSWORD).await;
        let message = limited.expect_code("RATE_LIMITED");
        assert!(message.contains("try again in"), "{message}");
        let retry = limited.body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .expect("retryAfter");
        assert!((1..=15 * 60).contains(&retry), "{retry}");
    }
    // An unknown email is counted like a known one (no enumeration through the limit).
    for _ in 0..3 {
        sign_in(&two, "ghost@acme.test", "whatever it is")
            .await
            .expect_code("UNAUTHENTICATED");
    }
    sign_in(&two, "ghost@acme.test", "whatever it is")
        .await
        .expect_code("RATE_LIMITED");
    // Eight failures from this address (the two the success forgave the account still count
    // for the address; refused attempts are not failures): another account with the right
    // password is refused too.
    sign_in(&one, "none@acme.test", PASSWORD)
        .await
        .expect_code("RATE_LIMITED");
    // The counters live in the database, not in either process.
    assert!(one.count_rows("sign_in_failures").await >= 2);
}

#[tokio::test]
async fn sign_out_and_sign_out_everywhere_end_sessions_and_their_access_tokens() {
    let app = spawn_app().await;
    let w = world(&app).await;
    set_password(&app, &w.owner, &w.member_read).await;
    let laptop = sign_in(&app, "read@acme.test", PASSWORD).await;
    let (laptop_access, laptop_refresh) = tokens(&laptop, "signIn");
    let (phone_access, phone_refresh) =
        tokens(&sign_in(&app, "read@acme.test", PASSWORD).await, "signIn");

    let out = app
        .gql(None, SIGN_OUT, json!({ "token": laptop_refresh }))
        .await;
    assert_eq!(out.data()["signOut"], true);
    // Signed out: its refresh token and its access token stop at once; the phone goes on.
    refresh(&app, &laptop_refresh)
        .await
        .expect_code("UNAUTHENTICATED");
    app.gql(Some(&laptop_access), ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    app.gql(Some(&phone_access), ME, json!({})).await.data();
    // Signing out twice changes nothing.
    let again = app
        .gql(None, SIGN_OUT, json!({ "token": laptop_refresh }))
        .await;
    assert_eq!(again.data()["signOut"], false);

    let (tablet_access, tablet_refresh) =
        tokens(&sign_in(&app, "read@acme.test", PASSWORD).await, "signIn");
    let everywhere = app
        .gql(
            Some(&tablet_access),
            "mutation { signOutEverywhere }",
            json!({}),
        )
        .await;
    assert_eq!(everywhere.data()["signOutEverywhere"], true);
    for token in [&phone_refresh, &tablet_refresh] {
        refresh(&app, token).await.expect_code("UNAUTHENTICATED");
    }
    for token in [&phone_access, &tablet_access] {
        app.gql(Some(token), ME, json!({}))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    // Tokens printed by `threadline token` belong to no session and keep working.
    app.gql(Some(&app.token(&w.member_read)), ME, json!({}))
        .await
        .data();
}

#[tokio::test]
async fn a_deactivated_users_refresh_token_is_refused_even_after_reactivation() {
    let app = spawn_app().await;
    let w = world(&app).await;
    set_password(&app, &w.owner, &w.member_read).await;
    let (access, refresh_token) =
        tokens(&sign_in(&app, "read@acme.test", PASSWORD).await, "signIn");
    let owner = app.token(&w.owner);
    for mutation in ["deactivateUser", "reactivateUser"] {
        app.gql(
            Some(&owner),
            &format!("mutation ($id: ID!) {{ {mutation}(id: $id) {{ active }} }}"),
            json!({ "id": user_id(w.member_read.id) }),
        )
        .await
        .data();
        refresh(&app, &refresh_token)
            .await
            .expect_code("UNAUTHENTICATED");
        app.gql(Some(&access), ME, json!({}))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    // Reactivated, the user signs in afresh.
    sign_in(&app, "read@acme.test", PASSWORD).await.data();
}

#[tokio::test]
async fn my_sessions_lists_devices_and_one_can_be_revoked() {
    let app = spawn_app().await;
    let w = world(&app).await;
    set_password(&app, &w.owner, &w.member_read).await;
    let vars = json!({ "email": "read@acme.test", "password": PASSWORD });
    let laptop = gql_from(&app, None, "Laptop Browser/1.0", SIGN_IN, vars.clone()).await;
    let (laptop_access, _) = tokens(&laptop, "signIn");
    let phone = gql_from(&app, None, "Phone App/2.0", SIGN_IN, vars).await;
    let (phone_access, phone_refresh) = tokens(&phone, "signIn");

    let listed = app
        .gql(
            Some(&laptop_access),
            "{ mySessions { id createdAt lastUsedAt userAgent current } }",
            json!({}),
        )
        .await;
    let sessions = listed.data()["mySessions"]
        .as_array()
        .expect("a list")
        .clone();
    assert_eq!(sessions.len(), 2);
    let by_agent = |agent: &str| {
        sessions
            .iter()
            .find(|s| s["userAgent"] == agent)
            .unwrap_or_else(|| panic!("{agent} in {sessions:?}"))
            .clone()
    };
    assert_eq!(by_agent("Laptop Browser/1.0")["current"], true);
    let phone_session = by_agent("Phone App/2.0");
    assert_eq!(phone_session["current"], false);

    // Another user cannot revoke it (it looks missing).
    let other = app
        .gql(
            Some(&app.token(&w.owner)),
            "mutation ($id: ID!) { revokeSession(id: $id) }",
            json!({ "id": phone_session["id"] }),
        )
        .await;
    other.expect_code("NOT_FOUND");
    let revoked = app
        .gql(
            Some(&laptop_access),
            "mutation ($id: ID!) { revokeSession(id: $id) }",
            json!({ "id": phone_session["id"] }),
        )
        .await;
    assert_eq!(revoked.data()["revokeSession"], true);
    refresh(&app, &phone_refresh)
        .await
        .expect_code("UNAUTHENTICATED");
    app.gql(Some(&phone_access), ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    let left = app
        .gql(
            Some(&laptop_access),
            "{ mySessions { current } }",
            json!({}),
        )
        .await;
    assert_eq!(left.data()["mySessions"], json!([{ "current": true }]));
}

#[tokio::test]
async fn passwords_are_set_by_admins_and_changed_with_the_old_one() {
    let app = spawn_app_with_config(|c| c.sign_in_max_failures_per_account = 50).await;
    let w = world(&app).await;
    let second_owner = staff(
        &app.db,
        w.owner.organization_id,
        "owner2@acme.test",
        Role::Owner,
    )
    .await;
    let set = |by: &entity::user::Model, target: &entity::user::Model, password: &str| {
        let token = app.token(by);
        let vars = json!({ "id": user_id(target.id), "password": password });
        let app = &app;
        async move { app.gql(Some(&token), SET_PASSWORD, vars).await }
    };
    // Members may not set others' passwords; admins may not set owners'.
    set(&w.member_read, &w.member_none, PASSWORD)
        .await
        .expect_code("FORBIDDEN");
    set(&w.admin, &w.owner, PASSWORD)
        .await
        .expect_code("FORBIDDEN");
    // Another organization's user looks missing.
    set(&w.other_owner, &w.member_read, PASSWORD)
        .await
        .expect_code("NOT_FOUND");
    // The policy: at least 8 characters.
    let short = set(&w.admin, &w.member_read, "short").await;
    short.expect_code("BAD_USER_INPUT");
    assert_eq!(short.body["errors"][0]["extensions"]["field"], "password");
    // An admin sets a member's; an owner another owner's; anyone their own first one.
    assert_eq!(
        set(&w.admin, &w.member_read, PASSWORD).await.data()["setUserPassword"]["email"],
        "read@acme.test"
    );
    set(&w.owner, &second_owner, PASSWORD).await.data();
    set(&w.member_none, &w.member_none, PASSWORD).await.data();
    // ...but not again without the old one.
    set(&w.member_none, &w.member_none, "another password")
        .await
        .expect_code("FORBIDDEN");

    // changePassword: the old password is checked; the other sessions end, this one stays.
    let (this_access, this_refresh) =
        tokens(&sign_in(&app, "none@acme.test", PASSWORD).await, "signIn");
    let (other_access, _) = tokens(&sign_in(&app, "none@acme.test", PASSWORD).await, "signIn");
    let change = "mutation ($old: String!, $new: String!) {
      changePassword(oldPassword: $old, newPassword: $new)
    }";
    let wrong = app
        .gql(
            Some(&this_access),
            change,
            json!({ "old": "not my password", "new": "a brand new secret" }),
        )
        .await;
    wrong.expect_code("BAD_USER_INPUT");
    assert_eq!(
        wrong.body["errors"][0]["extensions"]["field"],
        "oldPassword"
    );
    let changed = app
        .gql(
            Some(&this_access),
            change,
            json!({ "old": PASSWORD, "new": "a brand new secret" }),
        )
        .await;
    assert_eq!(changed.data()["changePassword"], true);
    app.gql(Some(&this_access), ME, json!({})).await.data();
    refresh(&app, &this_refresh).await.data();
    app.gql(Some(&other_access), ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    sign_in(&app, "none@acme.test", PASSWORD)
        .await
        .expect_code("UNAUTHENTICATED");
    sign_in(&app, "none@acme.test", "a brand new secret")
        .await
        .data();

    // An admin setting a password ends the user's sessions.
    let (read_access, _) = tokens(&sign_in(&app, "read@acme.test", PASSWORD).await, "signIn");
    set(&w.admin, &w.member_read, "reset by the admin")
        .await
        .data();
    app.gql(Some(&read_access), ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
}

#[tokio::test]
async fn a_set_password_token_works_once() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let made = app
        .gql(
            Some(&app.token(&w.admin)),
            "mutation ($id: ID!) { createPasswordToken(userId: $id) { token expiresAt user { email } } }",
            json!({ "id": user_id(w.member_read.id) }),
        )
        .await;
    let token = made.data()["createPasswordToken"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        made.data()["createPasswordToken"]["user"]["email"],
        "read@acme.test"
    );
    // Members cannot make them for others.
    app.gql(
        Some(&app.token(&w.member_write)),
        "mutation ($id: ID!) { createPasswordToken(userId: $id) { token } }",
        json!({ "id": user_id(w.member_read.id) }),
    )
    .await
    .expect_code("FORBIDDEN");
    let use_token = "mutation ($token: String!, $password: String!) {
      setPasswordWithToken(token: $token, password: $password)
    }";
    let used = app
        .gql(
            None,
            use_token,
            json!({ "token": token, "password": PASSWORD }),
        )
        .await;
    assert_eq!(used.data()["setPasswordWithToken"], true);
    sign_in(&app, "read@acme.test", PASSWORD).await.data();
    let message = app
        .gql(
            None,
            use_token,
            json!({ "token": token, "password": "someone else's choice" }),
        )
        .await
        .expect_code("UNAUTHENTICATED");
    assert_eq!(message, sessions::INVALID_PASSWORD_TOKEN);
    sign_in(&app, "read@acme.test", PASSWORD).await.data();

    // What `threadline password-token` prints works the same way.
    let cli = sessions::create_password_token_unchecked(
        &app.db,
        "NONE@acme.test",
        std::time::Duration::from_secs(60),
    )
    .await
    .expect("a token");
    app.gql(
        None,
        use_token,
        json!({ "token": cli.token, "password": PASSWORD }),
    )
    .await
    .data();
    sign_in(&app, "none@acme.test", PASSWORD).await.data();
}

#[tokio::test]
async fn the_demo_users_sign_in_with_the_demo_password() {
    let app = crate::helpers::spawn_app_with(true).await;
    for email in ["owner@demo.test", "ana@demo.test", "customer@demo.test"] {
        let signed_in = sign_in(&app, email, threadline::demo::DEMO_PASSWORD).await;
        let (access, _) = tokens(&signed_in, "signIn");
        assert_eq!(
            app.gql(Some(&access), ME, json!({})).await.data()["me"]["email"],
            email
        );
    }
}

/// Runs `signIn` with extra request headers (an `Origin`, a `Host`, a proxy's headers).
async fn sign_in_with(app: &TestApp, email: &str, password: &str, headers: &[(&str, &str)]) -> Gql {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({
            "query": SIGN_IN,
            "variables": { "email": email, "password": password },
        }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request sent");
    Gql {
        body: response.json().await.expect("JSON body"),
    }
}

#[tokio::test]
async fn the_demo_password_signs_in_only_from_this_machine() {
    use threadline::demo::DEMO_PASSWORD;

    let app = crate::helpers::spawn_app_with(true).await;
    let port = app.address.rsplit_once(':').expect("a port").1.to_owned();
    let rebound = format!("evil.example:{port}");
    let page = format!("http://127.0.0.1:{port}");
    // Any web page may post to a loopback gateway (CORS admits every origin); a page of
    // another site, a rebound host name, a proxy: none gets in with the documented password,
    // whatever the email (so the answer tells nothing about the account).
    let elsewhere: [&[(&str, &str)]; 7] = [
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[("host", &rebound)],
        &[("host", &rebound), ("origin", "http://evil.example")],
        &[("x-forwarded-for", "203.0.113.9")],
        &[("forwarded", "for=203.0.113.9")],
        &[("x-real-ip", "203.0.113.9")],
    ];
    for headers in elsewhere {
        for email in ["owner@demo.test", "nobody@demo.test"] {
            let message = sign_in_with(&app, email, DEMO_PASSWORD, headers)
                .await
                .expect_code("UNAUTHENTICATED");
            assert_eq!(message, sessions::DEMO_PASSWORD_NOT_LOCAL, "{headers:?}");
        }
    }
    // The console's own page, a frontend served on this machine, a client with no Origin.
    let here: [&[(&str, &str)]; 4] = [
        &[("origin", &page)],
        &[("origin", "http://localhost:5173")],
        &[("host", "localhost")],
        &[],
    ];
    for headers in here {
        let signed = sign_in_with(&app, "ana@demo.test", DEMO_PASSWORD, headers).await;
        assert_eq!(
            signed.data()["signIn"]["user"]["email"],
            "ana@demo.test",
            "{headers:?}"
        );
    }
    // A real password is not concerned: a frontend on another origin signs in as usual.
    let owner = app.demo_token.clone().expect("the owner's token");
    let ben = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::user::Entity::find()
            .filter(entity::user::Column::Email.eq("ben@demo.test"))
            .one(&app.db)
            .await
            .expect("query")
            .expect("Ben")
    };
    app.gql(
        Some(&owner),
        SET_PASSWORD,
        json!({ "id": user_id(ben.id), "password": PASSWORD }),
    )
    .await
    .data();
    let signed = sign_in_with(
        &app,
        "ben@demo.test",
        PASSWORD,
        &[("origin", "https://app.example")],
    )
    .await;
    assert_eq!(signed.data()["signIn"]["user"]["email"], "ben@demo.test");
}
