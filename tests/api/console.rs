//! The playground served by the gateway (issue 14): the built-in console and its assets, the
//! three `THREADLINE_PLAYGROUND` modes, the page's security headers, and the demo sign-in the
//! console offers on a loopback listener only (issue 13). The console itself is driven in a
//! real browser by `browser.rs`.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use threadline::{config::Playground, demo::DEMO_PASSWORD};

use crate::helpers::{
    TestApp, fresh_database, spawn_app_with_config, spawn_demo_app_with_config, start,
    start_with_timers, user_id,
};

const SIGN_IN: &str = "mutation ($email: String!, $password: String!) {
  signIn(email: $email, password: $password) { accessToken user { email role } }
}";

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .expect("sent")
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_builtin_console_is_served_from_the_gateway_alone() {
    let app = spawn_app_with_config(|c| c.playground = Playground::Builtin).await;
    let page = get(&app, "/").await;
    assert_eq!(page.status(), 200);
    assert!(header(&page, "content-type").starts_with("text/html"));
    let policy = header(&page, "content-security-policy").to_owned();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(
        !policy.contains("unpkg"),
        "no CDN in builtin mode: {policy}"
    );
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    assert_eq!(header(&page, "referrer-policy"), "no-referrer");
    let html = page.text().await.expect("html");
    assert!(html.contains("data-mode=\"builtin\""), "{html}");
    assert!(
        !html.contains("https://"),
        "the page loads nothing from elsewhere"
    );
    assert!(
        !html.contains("<script>"),
        "no inline script (the policy forbids it)"
    );

    let script = get(&app, "/console/console.js").await;
    assert_eq!(script.status(), 200);
    assert!(header(&script, "content-type").starts_with("text/javascript"));
    assert!(
        script
            .text()
            .await
            .expect("js")
            .contains("graphql-transport-ws")
    );
    let style = get(&app, "/console/console.css").await;
    assert!(header(&style, "content-type").starts_with("text/css"));

    let examples: Value = get(&app, "/console/examples.json")
        .await
        .json()
        .await
        .expect("json");
    let examples = examples.as_array().expect("a list");
    let me = examples
        .iter()
        .find(|e| e["name"] == "Me")
        .expect("playground.md's first example");
    assert_eq!(me["kind"], "query");
    assert!(me["document"].as_str().expect("text").contains("me {"));
    assert!(
        examples.iter().any(|e| e["kind"] == "subscription"),
        "the live examples too"
    );
    assert!(
        examples
            .iter()
            .any(|e| !e["variables"].as_str().unwrap_or_default().is_empty()),
        "variables come with their operation"
    );
}

#[tokio::test]
async fn auto_mode_admits_the_graphiql_cdn_and_off_serves_nothing() {
    let app = spawn_app_with_config(|c| c.playground = Playground::Auto).await;
    let page = get(&app, "/").await;
    let policy = header(&page, "content-security-policy").to_owned();
    assert!(
        policy.contains("script-src 'self' https://unpkg.com"),
        "{policy}"
    );
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("data-mode=\"auto\"")
    );

    let off = spawn_demo_app_with_config(|c| c.playground = Playground::Off).await;
    assert_eq!(get(&off, "/").await.status(), 404);
    assert_eq!(get(&off, "/console/console.js").await.status(), 404);
    assert_eq!(get(&off, "/console/demo.json").await.status(), 404);
    // The API itself is unaffected.
    assert_eq!(get(&off, "/healthz").await.status(), 200);
}

/// The demo users `/console/demo.json` offers, as (name, email, role).
fn offered(body: &Value) -> Vec<(String, String, String)> {
    body["users"]
        .as_array()
        .expect("a list of users")
        .iter()
        .map(|u| {
            let field = |name: &str| u[name].as_str().expect("a string").to_owned();
            (field("name"), field("email"), field("role"))
        })
        .collect()
}

#[tokio::test]
async fn a_loopback_console_offers_the_demo_users_and_their_password() {
    let app = spawn_demo_app_with_config(|c| c.playground = Playground::Builtin).await;
    let answer = get(&app, "/console/demo.json").await;
    assert_eq!(answer.status(), 200);
    assert!(header(&answer, "content-type").starts_with("application/json"));
    assert_eq!(header(&answer, "cache-control"), "no-store");
    assert!(
        header(&answer, "content-security-policy").contains("default-src 'none'"),
        "the console's headers too"
    );
    let body: Value = answer.json().await.expect("json");
    assert_eq!(body["password"], DEMO_PASSWORD);
    let users = offered(&body);
    let expected = [
        ("Olivia Owner", "owner@demo.test", "OWNER"),
        ("Adam Admin", "admin@demo.test", "ADMIN"),
        ("Ana Member", "ana@demo.test", "MEMBER"),
        ("Ben Member", "ben@demo.test", "MEMBER"),
    ];
    assert_eq!(
        users,
        expected.map(|(n, e, r)| (n.to_owned(), e.to_owned(), r.to_owned())),
        "the staff demo users, in order (not the customer user)"
    );
    // What the picker does with a click: the real `signIn` with what the server offered.
    let password = body["password"].as_str().expect("password");
    for (_, email, role) in &users {
        let signed = app
            .gql(
                None,
                SIGN_IN,
                json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(signed.data()["signIn"]["user"]["email"], email.as_str());
        assert_eq!(signed.data()["signIn"]["user"]["role"], role.as_str());
    }
    // Here the examples keep the password, so the SignIn example runs as it is.
    assert!(
        get(&app, "/console/examples.json")
            .await
            .text()
            .await
            .expect("json")
            .contains(DEMO_PASSWORD)
    );

    // Only users who can still sign in are offered: a deactivated one is not, nor one whose
    // password was removed.
    let owner = app.demo_token.clone().expect("the demo owner's token");
    let ben = user_by_email(&app, "ben@demo.test").await;
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { deactivateUser(id: $id) { active } }",
        json!({ "id": user_id(ben.id) }),
    )
    .await
    .data();
    let admin = user_by_email(&app, "admin@demo.test").await;
    app.db
        .execute_unprepared(&format!(
            "DELETE FROM user_passwords WHERE user_id = {}",
            admin.id
        ))
        .await
        .expect("deleted");
    let body: Value = get(&app, "/console/demo.json")
        .await
        .json()
        .await
        .expect("json");
    let emails: Vec<String> = offered(&body).into_iter().map(|u| u.1).collect();
    assert_eq!(emails, ["owner@demo.test", "ana@demo.test"]);

    // A changed password is not checked here (the picker stays), and `signIn` then says why
    // it refuses: that answer is what the console shows.
    let ana = user_by_email(&app, "ana@demo.test").await;
    app.gql(
        Some(&owner),
        "mutation ($id: ID!, $p: String!) { setUserPassword(userId: $id, password: $p) { id } }",
        json!({ "id": user_id(ana.id), "p": "a-new-password-for-ana" }),
    )
    .await
    .data();
    let refused = app
        .gql(
            None,
            SIGN_IN,
            json!({ "email": "ana@demo.test", "password": DEMO_PASSWORD }),
        )
        .await;
    let message = refused.expect_code("UNAUTHENTICATED");
    assert!(!message.is_empty());
}

async fn user_by_email(app: &TestApp, email: &str) -> entity::user::Model {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::user::Entity::find()
        .filter(entity::user::Column::Email.eq(email))
        .one(&app.db)
        .await
        .expect("query")
        .expect("the user")
}

#[tokio::test]
async fn without_the_demo_organization_there_is_no_demo_sign_in() {
    let app = spawn_app_with_config(|c| c.playground = Playground::Builtin).await;
    assert_eq!(get(&app, "/").await.status(), 200);
    assert_eq!(get(&app, "/console/demo.json").await.status(), 404);
}

#[tokio::test]
async fn a_public_listener_has_no_demo_sign_in_and_never_shows_the_password() {
    // The risky case: a database whose demo was created on a loopback listener (the users
    // have the documented password), then served on every address.
    let (url, guard) = fresh_database().await;
    let local = start(&url, true, guard.clone()).await;
    assert!(local.demo_token.is_some(), "the demo organization");
    assert_eq!(get(&local, "/console/demo.json").await.status(), 200);
    let local_examples: Value = get(&local, "/console/examples.json")
        .await
        .json()
        .await
        .expect("json");
    // A session opened on loopback with the documented password.
    let early = local
        .gql(
            None,
            SIGN_IN,
            json!({ "email": "ana@demo.test", "password": DEMO_PASSWORD }),
        )
        .await;
    let early = early.data()["signIn"]["accessToken"]
        .as_str()
        .expect("an access token")
        .to_owned();

    let mut public = start_with_timers(&url, guard.clone(), |c| {
        c.listen = "0.0.0.0:0".parse().expect("address");
        c.playground = Playground::Builtin;
    })
    .await;
    assert!(public.address.contains("0.0.0.0"), "{}", public.address);
    public.address = public.address.replace("0.0.0.0", "127.0.0.1");

    // Start-up replaced the documented password of every demo user, and says so.
    assert_eq!(
        public.demo_password_replaced,
        [
            "owner@demo.test",
            "admin@demo.test",
            "ana@demo.test",
            "ben@demo.test",
            "customer@demo.test"
        ]
    );
    let fresh = public
        .demo_password
        .clone()
        .expect("the banner's new password");
    assert_ne!(fresh, DEMO_PASSWORD);
    assert!(fresh.len() >= 16, "{fresh}");
    for app in [&public, &local] {
        let refused = app
            .gql(
                None,
                SIGN_IN,
                json!({ "email": "owner@demo.test", "password": DEMO_PASSWORD }),
            )
            .await
            .expect_code("UNAUTHENTICATED");
        assert_eq!(refused, threadline::service::sessions::WRONG_CREDENTIALS);
    }
    let signed = public
        .gql(
            None,
            SIGN_IN,
            json!({ "email": "owner@demo.test", "password": fresh }),
        )
        .await;
    assert_eq!(signed.data()["signIn"]["user"]["role"], "OWNER");
    // The session opened with the documented password ended with it.
    public
        .gql(Some(&early), "{ me { email } }", json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    // Another process started the same way finds nothing left to replace.
    let again = start_with_timers(&url, guard, |c| {
        c.listen = "0.0.0.0:0".parse().expect("address");
    })
    .await;
    assert!(again.demo_password_replaced.is_empty());
    assert_eq!(again.demo_password, None);
    let signed = public
        .gql(
            None,
            SIGN_IN,
            json!({ "email": "ana@demo.test", "password": fresh }),
        )
        .await;
    assert_eq!(signed.data()["signIn"]["user"]["role"], "MEMBER");

    let answer = get(&public, "/console/demo.json").await;
    assert_eq!(answer.status(), 404);
    assert!(
        answer
            .headers()
            .get("content-type")
            .is_none_or(|t| t != "application/json")
    );
    // What the README promises: no page, script, style or picker answer names the demo users,
    // and no example holds the password (the examples keep playground.md's demo emails).
    for path in CONSOLE_PATHS {
        let body = get(&public, path).await.text().await.expect("text");
        for secret in [DEMO_PASSWORD, fresh.as_str()] {
            assert!(
                !body.contains(secret),
                "{path} shows a demo password on a public listener"
            );
        }
        for name in ["Olivia Owner", "Adam Admin", "Ana Member", "Ben Member"] {
            assert!(!body.contains(name), "{path} lists the demo user {name}");
        }
        if path != "/console/examples.json" {
            assert!(!body.contains("@demo.test"), "{path} names a demo user");
        }
    }
    // The examples are those of loopback, with a placeholder for the password.
    let examples: Value = get(&public, "/console/examples.json")
        .await
        .json()
        .await
        .expect("json");
    let placeholder = serde_json::to_string(&local_examples)
        .expect("json")
        .replace(
            DEMO_PASSWORD,
            threadline::http::console::PASSWORD_PLACEHOLDER,
        );
    assert_eq!(serde_json::to_string(&examples).expect("json"), placeholder);
    let sign_in = examples
        .as_array()
        .expect("a list")
        .iter()
        .find(|e| e["name"] == "SignIn")
        .expect("the SignIn example");
    assert!(
        sign_in["variables"]
            .as_str()
            .expect("text")
            .contains("\"password\": \"your password\""),
        "{sign_in}"
    );
}

/// `GET path` with extra request headers.
async fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.client.get(format!("{}{path}", app.address));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("sent")
}

/// The test gateway's `host:port`, as a browser on this machine names it in `Host`.
fn authority(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

const CONSOLE_PATHS: [&str; 5] = [
    "/",
    "/console/console.js",
    "/console/console.css",
    "/console/examples.json",
    "/console/demo.json",
];

#[tokio::test]
async fn the_console_answers_no_other_origin_and_the_api_still_does() {
    let app = spawn_demo_app_with_config(|c| c.playground = Playground::Builtin).await;
    let evil = [("origin", "https://evil.example")];
    for path in CONSOLE_PATHS {
        let answer = get_with(&app, path, &evil).await;
        assert!(
            answer
                .headers()
                .keys()
                .all(|name| !name.as_str().starts_with("access-control-")),
            "{path} answers another origin with CORS headers: {:?}",
            answer.headers()
        );
        // A preflight for it gets none either.
        let preflight = app
            .client
            .request(reqwest::Method::OPTIONS, format!("{}{path}", app.address))
            .header("origin", "https://evil.example")
            .header("access-control-request-method", "GET")
            .send()
            .await
            .expect("sent");
        assert!(
            preflight
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "a preflight for {path} is admitted: {:?}",
            preflight.headers()
        );
    }
    // Where the password is, another origin is not even told it exists.
    let demo = get_with(&app, "/console/demo.json", &evil).await;
    assert_eq!(demo.status(), 404);
    assert!(!demo.text().await.expect("text").contains(DEMO_PASSWORD));

    // The API keeps CORS for frontends on other origins, preflight included.
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(header(&preflight, "access-control-allow-origin"), "*");
    assert!(
        header(&preflight, "access-control-allow-headers").contains("authorization"),
        "{:?}",
        preflight.headers()
    );
    let query = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("origin", "https://app.example")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(header(&query, "access-control-allow-origin"), "*");
    let health = get_with(&app, "/healthz", &[("origin", "https://app.example")]).await;
    assert_eq!(header(&health, "access-control-allow-origin"), "*");
}

#[tokio::test]
async fn the_demo_sign_in_is_offered_to_this_machine_only() {
    let app = spawn_demo_app_with_config(|c| c.playground = Playground::Builtin).await;
    let port = authority(&app)
        .rsplit_once(':')
        .expect("a port")
        .1
        .to_owned();
    let at = |host: &str| format!("{host}:{port}");
    let offered = |answer: reqwest::Response| async move {
        let status = answer.status();
        let body = answer.text().await.expect("text");
        assert_eq!(
            status == 200,
            body.contains(DEMO_PASSWORD),
            "{status}: {body}"
        );
        status == 200
    };

    // A browser on this machine: the page's own origin, or a local frontend's.
    let same_origin = format!("http://{}", authority(&app));
    for headers in [
        vec![],
        vec![("origin", same_origin.as_str())],
        vec![("origin", "http://localhost:5173")],
        vec![("host", "localhost")],
    ] {
        let answer = get_with(&app, "/console/demo.json", &headers).await;
        assert!(offered(answer).await, "{headers:?}");
    }
    let localhost = at("localhost");
    let ipv6 = at("[::1]");
    let other_loopback = at("127.0.0.2");
    for host in [&localhost, &ipv6, &other_loopback] {
        let answer = get_with(&app, "/console/demo.json", &[("host", host.as_str())]).await;
        assert!(offered(answer).await, "Host: {host}");
    }

    // DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 asks with its
    // own name in Host (and in Origin, when the browser sends one).
    let rebound = at("evil.example");
    let refused: Vec<Vec<(&str, &str)>> = vec![
        vec![("host", rebound.as_str())],
        vec![
            ("host", rebound.as_str()),
            ("origin", "http://evil.example"),
        ],
        vec![("host", "127.0.0.1.nip.io")],
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        // A reverse proxy in front of the loopback listener, passing the public name or not.
        vec![("x-forwarded-for", "203.0.113.9")],
        vec![("forwarded", "for=203.0.113.9;proto=https")],
        vec![("x-real-ip", "203.0.113.9")],
        vec![("host", "crm.example.com"), ("x-forwarded-proto", "https")],
        vec![("x-forwarded-host", "crm.example.com")],
        vec![("via", "1.1 proxy")],
    ];
    for headers in refused {
        let answer = get_with(&app, "/console/demo.json", &headers).await;
        assert_eq!(answer.status(), 404, "{headers:?}");
        assert!(!offered(answer).await, "{headers:?}");
    }
}
