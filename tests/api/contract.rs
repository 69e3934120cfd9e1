//! Error messages are part of the public contract: a reshape must leave them word for word.

use serde_json::json;

use crate::helpers::{spawn_app, user_id, world};

/// The message of the first error, failing the test when there is none.
fn message(body: &serde_json::Value) -> &str {
    body["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {body}"))
}

#[tokio::test]
async fn conflict_messages_are_unchanged() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);

    let create_user =
        "mutation { createUser(input: { email: \"owner@acme.test\", name: \"Again\" }) { id } }";
    let taken = app.gql(Some(&owner), create_user, json!({})).await;
    taken.expect_code("CONFLICT");
    assert_eq!(
        message(&taken.body),
        "a user with email owner@acme.test already exists"
    );

    let update_user =
        "mutation ($id: ID!) { updateUser(id: $id, input: { email: \"owner@acme.test\" }) { id } }";
    let taken = app
        .gql(
            Some(&owner),
            update_user,
            json!({ "id": user_id(w.admin.id) }),
        )
        .await;
    taken.expect_code("CONFLICT");
    assert_eq!(
        message(&taken.body),
        "a user with email owner@acme.test already exists"
    );

    let channel = "mutation { createChannel(input: { kind: EMAIL, address: \"support@acme.test\", displayName: \"Support\" }) { id } }";
    app.gql(Some(&owner), channel, json!({})).await.data();
    let again = app.gql(Some(&owner), channel, json!({})).await;
    again.expect_code("CONFLICT");
    assert_eq!(
        message(&again.body),
        "the organization already has a channel with that address"
    );

    let outcome = "mutation { createOutcome(input: { name: \"Won it\" }) { id } }";
    app.gql(Some(&owner), outcome, json!({})).await.data();
    let again = app.gql(Some(&owner), outcome, json!({})).await;
    again.expect_code("CONFLICT");
    assert_eq!(
        message(&again.body),
        "a outcome named `Won it` already exists"
    );
}
