//! No N+1: a page of contacts with their emails, phones, consultant and collaborators takes
//! the same number of SQL statements for 5 contacts as for 50.

use serde_json::{Value, json};
use threadline::{
    auth::Role,
    service::{access::AccessLevel, collaborators},
};

use crate::helpers::{TestApp, actor, contact, contact_id, spawn_app, staff, world};

const PAGE: &str = "query ($n: Int!) { contacts(first: $n) { edges { node {
    id name emails { email } phones { number } addresses { city }
    consultant { name } createdBy { name }
    collaborators { access user { name } grantedBy { email } }
} } } }";

#[tokio::test]
async fn a_contact_page_takes_a_fixed_number_of_statements() {
    let app = spawn_app().await;
    let org = crate::helpers::new_org(&app.db, "Q").await;
    let owner = staff(&app.db, org, "owner@q.test", Role::Owner).await;
    let member = staff(&app.db, org, "member@q.test", Role::Member).await;
    let helper = staff(&app.db, org, "helper@q.test", Role::Member).await;
    for i in 0..50 {
        let id = contact(&app.db, &owner, &format!("Contact {i}")).await;
        for user in [&member, &helper] {
            collaborators::grant(&app.db, &actor(&owner), id, user.id, AccessLevel::Write)
                .await
                .expect("grant");
        }
    }
    for user in [&owner, &member] {
        let token = app.token(user);
        app.know(&token).await;
        let mut counts = Vec::new();
        for n in [5, 50] {
            let before = app.statements().await;
            let page = app.gql(Some(&token), PAGE, json!({ "n": n })).await;
            let after = app.statements().await;
            let edges = page.data()["contacts"]["edges"]
                .as_array()
                .expect("edges")
                .len();
            assert_eq!(edges, n);
            counts.push(after - before);
        }
        assert_eq!(
            counts[0], counts[1],
            "statements for 5 vs 50 contacts as {}",
            user.email
        );
        // The page, then one batch each for emails, phones, addresses, collaborators and two
        // levels of users (the caller is known: no statement checks them).
        assert!(counts[1] <= 7, "{} statements as {}", counts[1], user.email);
    }
}

/// Runs a mutation as `token` and returns the `id` of what its one root field answered.
async fn id_of(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let answer = app.gql(Some(token), query, variables).await;
    let data = answer.data();
    let root = data
        .as_object()
        .and_then(|o| o.values().next())
        .expect("root");
    root["id"].clone()
}

/// The statements `query` takes for pages of 5 and of 50 (each page must be full).
async fn counts(app: &TestApp, token: &str, query: &str) -> [u64; 2] {
    let mut counts = [0; 2];
    for (i, n) in [5, 50].into_iter().enumerate() {
        let before = app.statements().await;
        let page = app.gql(Some(token), query, json!({ "n": n })).await;
        counts[i] = app.statements().await - before;
        let data = page.data();
        let root = data
            .as_object()
            .and_then(|o| o.values().next())
            .expect("root");
        assert_eq!(root["edges"].as_array().map(Vec::len), Some(n), "{query}");
    }
    counts
}

#[tokio::test]
async fn note_and_task_pages_with_their_links_take_a_fixed_number_of_statements() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let token = app.token(&w.owner);
    let cid = contact_id(w.contact);
    let label = id_of(
        &app,
        &token,
        "mutation { createLabel(input: { name: \"Hot\" }) { id } }",
        json!({}),
    )
    .await;
    let kind = id_of(
        &app,
        &token,
        "mutation { createTaskType(input: { name: \"Call\" }) { id } }",
        json!({}),
    )
    .await;
    let template = id_of(&app, &token, "mutation { createMessageTemplate(input: { name: \"Hello\", subject: \"Hi\", body: \"Hello there\" }) { id } }", json!({})).await;
    let outcomes = app
        .gql(Some(&token), "{ outcomes { id code } }", json!({}))
        .await;
    let sold = outcomes.data()["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .find(|o| o["code"] == "SOLD")
        .expect("seeded")["id"]
        .clone();
    let create_note =
        "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id tasks { id } } }";
    for i in 0..50 {
        let note = app
            .gql(
                Some(&token),
                create_note,
                json!({ "input": {
                "contactId": cid, "body": format!("Note {i}"), "labelIds": [label], "typeId": kind,
                "templateId": template, "task": { "description": format!("Task {i}") },
            } }),
            )
            .await;
        let task = note.data()["createNote"]["tasks"][0]["id"].clone();
        // Every task gets a follow-up (CONTINUE), a closing note, or a copy.
        let link = match i % 3 {
            0 => json!({ "outcomeId": sold, "action": "CONTINUE" }),
            1 => {
                json!({ "outcomeId": sold, "action": "CLOSE_WITH_NOTE", "note": { "body": "Done" } })
            }
            _ => Value::Null,
        };
        if link.is_null() {
            id_of(
                &app,
                &token,
                "mutation ($id: ID!) { copyTask(id: $id) { id } }",
                json!({ "id": task }),
            )
            .await;
        } else {
            app.gql(Some(&token), "mutation ($id: ID!, $input: CompleteTaskInput!) { completeTask(id: $id, input: $input) { task { id } } }", json!({ "id": task, "input": link }))
                .await
                .data();
        }
    }
    let notes = "query ($n: Int!) { notes(first: $n) { edges { node { subject author { name } contact { name } labels { name } type { name } template { name } attachments { filename } tasks { description followUp { description } } } } } }";
    let tasks = "query ($n: Int!) { tasks(first: $n) { edges { node { description note { body author { name } } closingNote { body } continuedFrom { description } followUp { description } copiedFrom { description } outcome { name } } } } }";
    for query in [notes, tasks] {
        let [five, fifty] = counts(&app, &token, query).await;
        assert_eq!(five, fifty, "statements for 5 vs 50: {query}");
        // The page, then one statement per kind of linked row: at most 10 (notes: author,
        // contact, labels, type, template, attachments, tasks, their follow-up links and the
        // follow-ups themselves); the caller is known by then, so no statement checks them.
        assert!(fifty <= 10, "{fifty} statements: {query}");
    }
}
