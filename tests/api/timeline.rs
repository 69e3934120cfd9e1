//! The timeline: newest first, keyset pages, filters, access, and a fixed statement count.

use serde_json::{Value, json};

use crate::helpers::{contact_id, spawn_app, world};

const TIMELINE: &str = "query ($id: ID!, $first: Int, $after: String, $filter: TimelineFilter) {
  timeline(contactId: $id, first: $first, after: $after, filter: $filter) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id kind summary occurredAt actor { email } subject { __typename ... on Contact { name } } } }
  }
}";

fn kinds(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn newest_first_with_pages_and_filters() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let cid = contact_id(w.contact);
    for name in ["Grace B. Hopper", "Grace Brewster Hopper"] {
        app.gql(Some(&owner), "mutation ($id: ID!, $n: String!) { updateContact(id: $id, input: { name: $n }) { id } }", json!({ "id": cid, "n": name }))
            .await
            .data();
    }
    let all = app.gql(Some(&owner), TIMELINE, json!({ "id": cid })).await;
    let all = all.data()["timeline"].clone();
    assert_eq!(
        kinds(&all),
        [
            "CONTACT_UPDATED",
            "CONTACT_UPDATED",
            "COLLABORATOR_GRANTED",
            "COLLABORATOR_GRANTED",
            "COLLABORATOR_GRANTED",
            "CONTACT_CREATED"
        ]
    );
    let newest = &all["edges"][0]["node"];
    assert_eq!(
        newest["summary"],
        "owner updated name of Grace Brewster Hopper"
    );
    assert_eq!(newest["actor"]["email"], "owner@acme.test");
    assert_eq!(
        newest["subject"],
        json!({ "__typename": "Contact", "name": "Grace Brewster Hopper" })
    );

    // Pages of four and two, continuing where the cursor points.
    let first = app
        .gql(Some(&owner), TIMELINE, json!({ "id": cid, "first": 4 }))
        .await;
    let first = first.data()["timeline"].clone();
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let second = app
        .gql(
            Some(&owner),
            TIMELINE,
            json!({ "id": cid, "first": 4, "after": first["pageInfo"]["endCursor"] }),
        )
        .await;
    let second = second.data()["timeline"].clone();
    assert_eq!(second["pageInfo"]["hasNextPage"], false);
    let mut paged = kinds(&first);
    paged.extend(kinds(&second));
    assert_eq!(paged, kinds(&all));

    let only = app
        .gql(
            Some(&owner),
            TIMELINE,
            json!({ "id": cid, "filter": { "kinds": ["CONTACT_CREATED", "CONTACT_UPDATED"] } }),
        )
        .await;
    assert_eq!(
        kinds(&only.data()["timeline"]),
        ["CONTACT_UPDATED", "CONTACT_UPDATED", "CONTACT_CREATED"]
    );
    let newest_time = newest["occurredAt"].clone();
    let since = app
        .gql(
            Some(&owner),
            TIMELINE,
            json!({ "id": cid, "filter": { "since": newest_time } }),
        )
        .await;
    assert_eq!(kinds(&since.data()["timeline"]), ["CONTACT_UPDATED"]);
    let until = app
        .gql(
            Some(&owner),
            TIMELINE,
            json!({ "id": cid, "filter": { "until": newest_time } }),
        )
        .await;
    assert_eq!(kinds(&until.data()["timeline"]).len(), 5);
    let backwards = app
        .gql(
            Some(&owner),
            TIMELINE,
            json!({ "id": cid, "filter": { "since": newest_time, "until": newest_time } }),
        )
        .await;
    assert_eq!(backwards.field(), Some("filter.until"));

    // The same through the contact.
    let via_contact = app
        .gql(Some(&owner), "query ($id: ID!) { contact(id: $id) { timeline(first: 2) { edges { node { kind } } } } }", json!({ "id": cid }))
        .await;
    assert_eq!(
        kinds(&via_contact.data()["contact"]["timeline"]),
        ["CONTACT_UPDATED", "CONTACT_UPDATED"]
    );
}

#[tokio::test]
async fn the_timeline_follows_contact_access() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    for user in [&w.member_none, &w.other_owner] {
        app.gql(Some(&app.token(user)), TIMELINE, json!({ "id": cid }))
            .await
            .expect_code("NOT_FOUND");
    }
    let reader = app
        .gql(
            Some(&app.token(&w.member_read)),
            TIMELINE,
            json!({ "id": cid }),
        )
        .await;
    assert_eq!(kinds(&reader.data()["timeline"]).len(), 4);
    // Contact and grant events are for the team; the customer user sees none of them.
    let customer = app
        .gql(
            Some(&app.token(&w.customer)),
            TIMELINE,
            json!({ "id": cid }),
        )
        .await;
    assert!(kinds(&customer.data()["timeline"]).is_empty());
}

#[tokio::test]
async fn a_timeline_page_takes_a_fixed_number_of_statements() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let users = [&w.owner, &w.admin, &w.member_write, &w.member_admin];
    for i in 0..48 {
        let token = app.token(users[i % users.len()]);
        app.gql(Some(&token), "mutation ($id: ID!, $f: JSON) { updateContact(id: $id, input: { customFields: $f }) { id } }", json!({ "id": cid, "f": { "n": i } }))
            .await
            .data();
    }
    let token = app.token(&w.member_read);
    app.know(&token).await;
    let mut counts = Vec::new();
    for n in [5, 50] {
        let before = app.statements().await;
        let page = app
            .gql(Some(&token), TIMELINE, json!({ "id": cid, "first": n }))
            .await;
        counts.push(app.statements().await - before);
        assert_eq!(
            page.data()["timeline"]["edges"].as_array().map(Vec::len),
            Some(n as usize)
        );
    }
    assert_eq!(counts[0], counts[1], "statements for 5 vs 50 events");
    assert!(counts[1] <= 5, "{} statements", counts[1]);
}
