//! The playground served by the gateway (issue 14): the built-in console and its assets, the
//! three `THREADLINE_PLAYGROUND` modes and the page's security headers. The console itself is
//! driven in a real browser by `browser.rs`.

use serde_json::Value;
use threadline::config::Playground;

use crate::helpers::{TestApp, spawn_app_with_config};

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

    let off = spawn_app_with_config(|c| c.playground = Playground::Off).await;
    assert_eq!(get(&off, "/").await.status(), 404);
    assert_eq!(get(&off, "/console/console.js").await.status(), 404);
    // The API itself is unaffected.
    assert_eq!(get(&off, "/healthz").await.status(), 200);
}
