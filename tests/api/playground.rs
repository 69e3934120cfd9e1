//! Every operation in `playground.md` runs, as written, against the demo organization.

use serde_json::Value;

use crate::helpers::spawn_demo_app_with_config;

/// The (operation, variables) pairs of the page: each ```graphql block, with the ```json block
/// right after it as its variables.
fn operations(markdown: &str) -> Vec<(String, Value)> {
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let Some(lang) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        let lang = lang.trim().to_owned();
        let mut body = String::new();
        for inner in lines.by_ref() {
            if inner.trim_start().starts_with("```") {
                break;
            }
            body.push_str(inner);
            body.push('\n');
        }
        blocks.push((lang, body));
    }
    let mut ops = Vec::new();
    for (i, (lang, body)) in blocks.iter().enumerate() {
        if lang != "graphql" {
            continue;
        }
        let variables = match blocks.get(i + 1) {
            Some((next, json)) if next == "json" => {
                serde_json::from_str(json).expect("variables are JSON")
            }
            _ => Value::Object(Default::default()),
        };
        ops.push((body.clone(), variables));
    }
    ops
}

#[tokio::test]
async fn every_playground_operation_runs_on_the_demo_data() {
    // As the page says to run it for a receiver on this machine.
    let app = spawn_demo_app_with_config(|c| c.webhook_allow_private = true).await;
    // The page starts by signing in (as the demo owner); every later operation runs with the
    // access token it returns.
    let mut token = String::new();
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/playground.md"))
        .expect("playground.md");
    let ops = operations(&page);
    assert!(
        ops.len() >= 6,
        "playground.md shows {} operations",
        ops.len()
    );
    assert!(
        ops[0].0.contains("signIn("),
        "playground.md starts with signing in"
    );
    for (i, (query, variables)) in ops.into_iter().enumerate() {
        // Subscriptions need a WebSocket: tests/api/subscriptions.rs covers them.
        if query.trim_start().starts_with("subscription") {
            continue;
        }
        let response = match i {
            0 => app.gql(None, &query, variables).await,
            _ => app.gql(Some(&token), &query, variables).await,
        };
        assert!(
            response.body.get("errors").is_none(),
            "{query}\n=> {}",
            response.body
        );
        assert!(!response.body["data"].is_null());
        if i == 0 {
            token = response.body["data"]["signIn"]["accessToken"]
                .as_str()
                .expect("the access token")
                .to_owned();
        }
    }
    // The demo is what the docs promise: 20 contacts, Ana's and Ben's grants, a customer user.
    let ana = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::user::Entity::find()
            .filter(entity::user::Column::Email.eq("ana@demo.test"))
            .one(&app.db)
            .await
            .expect("query")
            .expect("ana")
    };
    let seen = app
        .gql(
            Some(&app.token(&ana)),
            "{ contacts { totalCount } }",
            Value::Null,
        )
        .await;
    assert_eq!(seen.data()["contacts"]["totalCount"], 10);
}
