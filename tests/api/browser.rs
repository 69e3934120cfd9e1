//! The playground in a real browser (issues 13 and 14): `tests/browser/console.mjs` drives
//! Debian's Chromium through Playwright against a gateway with the demo data on a loopback
//! listener (so the console offers the demo sign-in), with the browser's network limited to
//! loopback. See that script for what it checks.
//!
//! It needs Node.js, Chromium (`apt-get install -y chromium`) and `npm ci --prefix
//! tests/browser`. Without them the test says so and passes, so `cargo test` works on a machine
//! with only the Rust toolchain; `.ci/run` installs them and sets
//! `THREADLINE_BROWSER_TESTS=required`, which turns a missing piece into a failure.
//! `THREADLINE_UPDATE_SCREENSHOT=1` also saves the console with a result as
//! `docs/console.png` (the picture the README shows).

use std::path::{Path, PathBuf};

use serde_json::json;
use threadline::config::Playground;

use crate::helpers::spawn_demo_app_with_config;

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

fn node_available() -> bool {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What is missing to run the browser test, if anything.
fn missing(dir: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    if !node_available() {
        missing.push("Node.js (`node`)".to_owned());
    }
    if !chromium().exists() {
        missing.push(format!(
            "Chromium at {} (`apt-get install -y chromium`, or set CHROMIUM)",
            chromium().display()
        ));
    }
    if !dir.join("node_modules/playwright-core").exists() {
        missing.push(format!(
            "playwright-core (`npm ci --prefix {}`)",
            dir.display()
        ));
    }
    missing
}

#[tokio::test]
async fn the_console_runs_a_query_and_a_subscription_in_a_browser_without_internet() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/browser");
    let missing = missing(&dir);
    if !missing.is_empty() {
        let required = std::env::var("THREADLINE_BROWSER_TESTS").as_deref() == Ok("required");
        assert!(
            !required,
            "THREADLINE_BROWSER_TESTS=required, but missing: {}",
            missing.join(", ")
        );
        eprintln!("skipping the browser test; missing: {}", missing.join(", "));
        return;
    }
    // Auto mode, the default: the page must notice the CDN is unreachable and open the console.
    let app = spawn_demo_app_with_config(|c| c.playground = Playground::Auto).await;
    let token = app.demo_token.clone().expect("the demo owner's token");
    let contacts = app
        .gql(
            Some(&token),
            "{ contacts(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let contact = contacts.data()["contacts"]["edges"][0]["node"]["id"]
        .as_str()
        .expect("a demo contact")
        .to_owned();
    // An admin changed Ben's password: the picker still offers him (it does not check
    // passwords), and the console must show why `signIn` refuses.
    let users = app
        .gql(
            Some(&token),
            "{ users(first: 20) { edges { node { id email } } } }",
            json!({}),
        )
        .await;
    let ben = users.data()["users"]["edges"]
        .as_array()
        .expect("users")
        .iter()
        .find(|e| e["node"]["email"] == "ben@demo.test")
        .expect("Ben")["node"]["id"]
        .clone();
    app.gql(
        Some(&token),
        "mutation ($id: ID!) { setUserPassword(userId: $id, password: \"changed-by-an-admin\") { id } }",
        json!({ "id": ben }),
    )
    .await
    .data();
    let out = tempfile::tempdir().expect("temp dir");
    let mut command = std::process::Command::new("node");
    command
        .arg(dir.join("console.mjs"))
        .current_dir(&dir)
        .env("GATEWAY_URL", &app.address)
        .env("TOKEN", &token)
        .env("CONTACT_ID", &contact)
        .env("OUT_DIR", out.path())
        .env("CHROMIUM", chromium());
    if std::env::var("THREADLINE_UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        command.env("SCREENSHOT", root.join("docs/console.png"));
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the node task")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        // Keep the failure screenshot: the temporary directory would remove it.
        let kept = out.keep();
        panic!(
            "the browser test failed ({}); screenshots in {}\n{stdout}\n{stderr}",
            output.status,
            kept.display()
        );
    }
    assert!(stdout.contains("ok"), "{stdout}\n{stderr}");
}
