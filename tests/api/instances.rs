//! Several gateways on one database: they migrate once, create one demo organization, share
//! the generated token secret, and see each other's writes (what a process remembers, its
//! caller cache, is kept right by the notifications every change sends).

use serde_json::json;

use crate::helpers::{fresh_database, start};

#[tokio::test]
async fn two_instances_share_one_database() {
    let (url, guard) = fresh_database().await;
    // PostgreSQL is the multi-instance backend: start both at once, racing for the migrations
    // and the demo. Two processes on one SQLite file start one after the other here.
    let (a, b) = if url.starts_with("postgres") {
        tokio::join!(
            start(&url, true, guard.clone()),
            start(&url, true, guard.clone())
        )
    } else {
        let a = start(&url, true, guard.clone()).await;
        let b = start(&url, true, guard.clone()).await;
        (a, b)
    };
    assert_eq!(
        a.count_rows("organizations").await,
        1,
        "one demo organization"
    );
    assert!(
        a.demo_token.is_some() != b.demo_token.is_some(),
        "exactly one instance created the demo"
    );
    let token = a
        .demo_token
        .clone()
        .or(b.demo_token.clone())
        .expect("a demo token");
    // A token printed by one instance works on the other: the secret is shared in the database.
    for app in [&a, &b] {
        let me = app.gql(Some(&token), "{ me { email } }", json!({})).await;
        assert_eq!(me.data()["me"]["email"], "owner@demo.test");
    }
    // A write through one instance is read through the other at once.
    let created = a
        .gql(
            Some(&token),
            "mutation { createContact(input: { name: \"Through A\" }) { id } }",
            json!({}),
        )
        .await;
    let id = created.data()["createContact"]["id"].clone();
    let read = b
        .gql(
            Some(&token),
            "query ($id: ID!) { contact(id: $id) { name } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(read.data()["contact"]["name"], "Through A");
    // Deactivating a user on one instance locks them out on the other.
    let ana = b
        .gql(
            Some(&token),
            "{ users(first: 100) { edges { node { id email } } } }",
            json!({}),
        )
        .await;
    let ana_id = ana.data()["users"]["edges"]
        .as_array()
        .expect("users")
        .iter()
        .find(|e| e["node"]["email"] == "ana@demo.test")
        .expect("ana")["node"]["id"]
        .clone();
    let ana_user = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::user::Entity::find()
            .filter(entity::user::Column::Email.eq("ana@demo.test"))
            .one(&a.db)
            .await
            .expect("query")
            .expect("ana")
    };
    let ana_token = b.token(&ana_user);
    a.gql(Some(&ana_token), "{ me { email } }", json!({}))
        .await
        .data();
    b.gql(
        Some(&token),
        "mutation ($id: ID!) { deactivateUser(id: $id) { active } }",
        json!({ "id": ana_id }),
    )
    .await
    .data();
    // A knows Ana (its caller cache); B's change reaches it with B's notification, so allow
    // that latency, no more (see `caller_cache.rs`).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while a
        .gql(Some(&ana_token), "{ me { email } }", json!({}))
        .await
        .code()
        != Some("UNAUTHENTICATED")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the deactivation through B never reached A"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
