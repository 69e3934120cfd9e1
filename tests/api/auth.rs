//! Tokens: only a valid, unexpired token of an active user authenticates.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::json;
use threadline::auth::TokenKeys;

use crate::helpers::{spawn_app, user_id, world};

const ME: &str = "{ me { id email } }";

#[tokio::test]
async fn bad_tokens_are_unauthenticated() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let good = app.token(&w.owner);
    let me = app.gql(Some(&good), ME, json!({})).await;
    assert_eq!(me.data()["me"]["id"], user_id(w.owner.id));

    let forged = TokenKeys::new("a different secret entirely, 32+ chars").issue(
        w.owner.id,
        w.owner.organization_id,
        Duration::from_secs(3600),
    );
    let expired = app.token_with_ttl(&w.owner, Duration::ZERO);
    let (header, rest) = good.split_once('.').expect("a JWT");
    let none_alg = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        rest
    );
    // Correctly signed, but naming a real user with another organization's id.
    let wrong_org = app.issue(
        w.owner.id,
        w.other_owner.organization_id,
        Duration::from_secs(60),
    );
    let _ = header;
    for (what, token) in [
        ("missing", None),
        ("garbage", Some("not-a-token".to_owned())),
        ("forged", Some(forged)),
        ("expired", Some(expired)),
        ("alg none", Some(none_alg)),
        ("wrong org", Some(wrong_org)),
    ] {
        let response = app.gql(token.as_deref(), ME, json!({})).await;
        assert_eq!(
            response.code(),
            Some("UNAUTHENTICATED"),
            "{what}: {:?}",
            response.body
        );
    }

    // Deactivating a user stops their existing token at once.
    let member = app.token(&w.member_read);
    app.gql(Some(&member), ME, json!({})).await.data();
    let deactivated = app
        .gql(
            Some(&good),
            "mutation ($id: ID!) { deactivateUser(id: $id) { active } }",
            json!({ "id": user_id(w.member_read.id) }),
        )
        .await;
    assert_eq!(deactivated.data()["deactivateUser"]["active"], false);
    app.gql(Some(&member), ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
}

#[tokio::test]
async fn introspection_needs_no_token_but_data_does() {
    let app = spawn_app().await;
    let response = app
        .gql(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(
        response.data()["__schema"]["queryType"]["name"],
        "QueryRoot"
    );
    for query in ["{ users { totalCount } }", "{ contacts { totalCount } }"] {
        app.gql(None, query, json!({}))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    app.gql(
        None,
        "mutation { createContact(input: { name: \"X\" }) { id } }",
        json!({}),
    )
    .await
    .expect_code("UNAUTHENTICATED");
}
