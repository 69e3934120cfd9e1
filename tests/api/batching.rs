//! The request's batched loaders (`graphql/batch.rs`, `graphql/loaders.rs`), attacked from
//! outside: links read through a batch still hide what the caller may not see, a batch that
//! fails still gives every field waiting on it its code, over HTTP and over WebSocket, and a
//! burst of live events (or of fired reminders) does not read its rows one event at a time.

use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, World, contact_id, spawn_app, spawn_app_with_config, world},
    subscriptions::{prime, ready, receive, send},
};

/// The `id` of what a one-root mutation answered, failing on errors.
async fn created(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let answer = app.gql(Some(token), query, variables).await;
    let data = answer.data();
    let root = data
        .as_object()
        .and_then(|o| o.values().next())
        .expect("root");
    root["id"].clone()
}

/// The seeded `SOLD` outcome's ID.
async fn sold(app: &TestApp, token: &str) -> Value {
    let outcomes = app
        .gql(Some(token), "{ outcomes { id code } }", json!({}))
        .await;
    outcomes.data()["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .find(|o| o["code"] == "SOLD")
        .expect("seeded")["id"]
        .clone()
}

const CREATE_NOTE: &str =
    "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id tasks { id } } }";

/// Links that used to be read one row at a time, as the caller, now come through batches, some
/// of which read rows by key alone (follow-ups, grants, a note's attachments). The rule still
/// holds through every link: what the caller may not see looks missing.
#[tokio::test]
async fn links_read_through_batches_hide_what_the_caller_may_not_see() {
    let app = spawn_app().await;
    let w: World = world(&app).await;
    let owner = app.token(&w.owner);
    let reader = app.token(&w.member_read);
    let seen = contact_id(w.contact);

    let team = app
        .gql(
            Some(&owner),
            CREATE_NOTE,
            json!({ "input": { "contactId": seen, "subject": "team", "visibility": "TEAM",
                "task": { "description": "from a team note" } } }),
        )
        .await;
    let from_team = team.data()["createNote"]["tasks"][0]["id"].clone();
    // A private note's task: the reader sees the task (it is about a contact they see), not
    // the note; the task is continued, and its closing links are read through batches too.
    let private = app
        .gql(
            Some(&owner),
            CREATE_NOTE,
            json!({ "input": { "contactId": seen, "subject": "secret", "visibility": "PRIVATE",
                "task": { "description": "from a private note" } } }),
        )
        .await;
    let from_private = private.data()["createNote"]["tasks"][0]["id"].clone();
    let done = app
        .gql(
            Some(&owner),
            "mutation ($id: ID!, $input: CompleteTaskInput!) { completeTask(id: $id, input: $input) { followUp { id } } }",
            json!({ "id": from_private, "input": { "outcomeId": sold(&app, &owner).await, "action": "CONTINUE",
                "followUp": { "description": "continued" } } }),
        )
        .await;
    let follow_up = done.data()["completeTask"]["followUp"]["id"].clone();

    let page = app
        .gql(
            Some(&reader),
            "{ tasks(first: 20) { nodes { id note { id subject tasks { id } } followUp { id note { id } } continuedFrom { id note { id } } contact { collaborators { id } } } }
               notes(first: 20) { nodes { subject tasks { id note { subject } } contact { collaborators { id } } } } }",
            json!({}),
        )
        .await;
    let data = page.data();
    let tasks = data["tasks"]["nodes"].as_array().expect("tasks");
    let task = |id: &Value| {
        tasks
            .iter()
            .find(|t| &t["id"] == id)
            .unwrap_or_else(|| panic!("{id} listed: {data}"))
    };
    assert_eq!(tasks.len(), 3, "{data}");
    assert_eq!(task(&from_team)["note"]["subject"], "team");
    assert_eq!(
        task(&from_team)["note"]["tasks"],
        json!([{ "id": from_team }])
    );
    assert_eq!(
        task(&from_private)["note"],
        Value::Null,
        "the private note looks missing"
    );
    assert_eq!(
        task(&from_private)["followUp"],
        json!({ "id": follow_up, "note": null })
    );
    assert_eq!(
        task(&follow_up)["continuedFrom"],
        json!({ "id": from_private, "note": null })
    );
    for t in tasks {
        assert_eq!(t["contact"]["collaborators"], json!([]), "READ: {data}");
    }
    let notes = data["notes"]["nodes"].as_array().expect("notes");
    assert_eq!(notes.len(), 1, "the private note is not listed: {data}");
    assert_eq!(notes[0]["subject"], "team");
    assert_eq!(
        notes[0]["tasks"],
        json!([{ "id": from_team, "note": { "subject": "team" } }])
    );
    assert_eq!(notes[0]["contact"]["collaborators"], json!([]));

    // The owner sees every link, so the rows hidden above exist.
    let all = app
        .gql(
            Some(&owner),
            "query ($id: ID!) { task(id: $id) { note { subject } followUp { id } contact { collaborators { id } } } }",
            json!({ "id": from_private }),
        )
        .await;
    assert_eq!(all.data()["task"]["note"]["subject"], "secret");
    assert_eq!(
        all.data()["task"]["contact"]["collaborators"]
            .as_array()
            .map(Vec::len),
        Some(4),
        "the creator's grant and the three members'"
    );
    // Without a grant, not even through `node`.
    let outsider = app.token(&w.member_none);
    let node = app
        .gql(
            Some(&outsider),
            "query ($id: ID!) { node(id: $id) { id } tasks(first: 5) { nodes { id } } }",
            json!({ "id": from_team }),
        )
        .await;
    assert_eq!(
        node.data(),
        &json!({ "node": null, "tasks": { "nodes": [] } })
    );

    // A reminder outlives its author's access: its links look missing then.
    let writer = app.token(&w.member_write);
    let at = chrono::Utc::now() + chrono::Duration::hours(1);
    created(
        &app,
        &writer,
        CREATE_NOTE,
        json!({ "input": { "contactId": seen, "subject": "call back", "remindAt": at.to_rfc3339(),
            "task": { "description": "call back" } } }),
    )
    .await;
    app.gql(
        Some(&owner),
        "mutation ($c: ID!, $u: ID!) { revokeCollaborator(contactId: $c, userId: $u) }",
        json!({ "c": seen, "u": crate::helpers::user_id(w.member_write.id) }),
    )
    .await
    .data();
    let reminders = app
        .gql(
            Some(&writer),
            "{ reminders(first: 5) { nodes { contact { id } note { id } task { id } } } }",
            json!({}),
        )
        .await;
    let nodes = &reminders.data()["reminders"]["nodes"];
    assert_eq!(nodes.as_array().map(Vec::len), Some(1), "{nodes}");
    assert_eq!(
        nodes[0],
        json!({ "contact": null, "note": null, "task": null })
    );

    // The contact's customer user: no grants, no tasks, through any link.
    let customer = app
        .gql(
            Some(&app.token(&w.customer)),
            "{ me { contact { collaborators { id } notes(first: 10) { nodes { tasks { id } } } } } }",
            json!({}),
        )
        .await;
    let contact = &customer.data()["me"]["contact"];
    assert_eq!(contact["collaborators"], json!([]));
    for note in contact["notes"]["nodes"].as_array().expect("notes") {
        assert_eq!(note["tasks"], json!([]), "{contact}");
    }
}

/// A failed batch answers every field waiting on it with the error, and the code survives the
/// sharing: `INTERNAL`, with no database detail, over HTTP and over WebSocket.
#[tokio::test]
async fn a_failed_batch_gives_every_waiting_field_its_code() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    for i in 0..3 {
        created(
            &app,
            &owner,
            "mutation ($c: ID!, $d: String!) { createTask(input: { contactId: $c, description: $d, tags: [\"x\"] }) { id } }",
            json!({ "c": contact_id(w.contact), "d": format!("task {i}") }),
        )
        .await;
    }
    // Only the tags batch can fail now: every other row the query reads is still there.
    app.db
        .execute_unprepared("ALTER TABLE task_tags RENAME TO task_tags_gone")
        .await
        .expect("rename");
    let query = "{ tasks(first: 10) { nodes { id tags contact { id } } } }";
    let check = |body: &Value| {
        let errors = body["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 3, "one error per waiting field: {body}");
        for error in errors {
            assert_eq!(error["extensions"]["code"], "INTERNAL", "{body}");
            assert_eq!(error["message"], "database error", "{body}");
            assert_eq!(error["path"][3], "tags", "{body}");
        }
        let nodes = body["data"]["tasks"]["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), 3, "{body}");
        for node in nodes {
            assert_eq!(node["contact"]["id"], contact_id(w.contact), "{body}");
        }
    };
    check(&app.gql(Some(&owner), query, json!({})).await.body);

    let mut socket = ready(&app, &owner).await;
    send(
        &mut socket,
        json!({ "type": "subscribe", "id": "q", "payload": { "query": query } }),
    )
    .await;
    let next = receive(&mut socket).await;
    assert_eq!(next["type"], "next", "{next}");
    check(&next["payload"]);
    assert_eq!(receive(&mut socket).await["type"], "complete");
}

/// Live events arrive in bursts (one poll reads up to 100); the events of one burst used to
/// read their actors and subjects once per burst. Read through per-event batches, a burst of
/// 20 notes costs two statements per event for the same answer.
#[tokio::test]
async fn a_burst_of_live_events_reads_its_actors_and_subjects_once() {
    // Polls a second apart, so the burst lands in one poll and few polls fall in the window.
    let app = spawn_app_with_config(|c| c.subscription_poll = Duration::from_secs(1)).await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let cid = contact_id(w.contact);
    let mut socket = ready(&app, &owner).await;
    let live = "subscription ($id: ID!) { timelineEvents(contactId: $id) { kind actor { email } subject { __typename ... on Note { subject } } } }";
    send(&mut socket, json!({ "type": "subscribe", "id": "t", "payload": { "query": live, "variables": { "id": cid } } })).await;
    prime(&app, &mut socket, &owner, &cid).await;

    let burst: Vec<String> = (0..20)
        .map(|i| {
            format!("n{i}: createNote(input: {{ contactId: $c, subject: \"burst {i}\" }}) {{ id }}")
        })
        .collect();
    let mutation = format!("mutation ($c: ID!) {{ {} }}", burst.join(" "));
    app.gql(Some(&owner), &mutation, json!({ "c": cid }))
        .await
        .data();
    let written = app.statements().await;
    for _ in 0..20 {
        let next = receive(&mut socket).await;
        let event = &next["payload"]["data"]["timelineEvents"];
        assert_eq!(event["kind"], "NOTE_CREATED", "{next}");
        assert_eq!(event["actor"]["email"], "owner@acme.test", "{next}");
        assert_eq!(event["subject"]["__typename"], "Note", "{next}");
    }
    let delivered = app.statements().await - written;
    // One or two polls (the events, the contact's access), then one statement for the actors
    // and one for the notes of the burst.
    assert!(
        delivered <= 8,
        "{delivered} statements to deliver a burst of 20 live events"
    );
}

/// Reminders fire in bursts too: the reminders of one burst read their contacts, notes and
/// tasks once per burst, not once per reminder.
#[tokio::test]
async fn a_burst_of_fired_reminders_reads_its_contacts_and_notes_once() {
    let app = spawn_app_with_config(|c| c.subscription_poll = Duration::from_secs(1)).await;
    let w = world(&app).await;
    let token = app.token(&w.owner);
    let cid = contact_id(w.contact);
    let mut socket = ready(&app, &token).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "r", "payload": { "query": "subscription { reminders { status contact { name } note { subject } task { description } } }" } })).await;
    let at = chrono::Utc::now() + chrono::Duration::seconds(30);
    let burst: Vec<String> = (0..20)
        .map(|i| format!("n{i}: createNote(input: {{ contactId: $c, subject: \"burst {i}\", remindAt: $at }}) {{ id }}"))
        .collect();
    let mutation = format!(
        "mutation ($c: ID!, $at: DateTime!) {{ {} }}",
        burst.join(" ")
    );
    app.gql(
        Some(&token),
        &mutation,
        json!({ "c": cid, "at": at.to_rfc3339() }),
    )
    .await
    .data();
    assert_eq!(
        app.fire_reminders_due_at(at + chrono::Duration::seconds(1))
            .await,
        20
    );
    let fired = app.statements().await;
    for _ in 0..20 {
        let next = receive(&mut socket).await;
        let reminder = &next["payload"]["data"]["reminders"];
        assert_eq!(reminder["status"], "FIRED", "{next}");
        assert_eq!(reminder["contact"]["name"], "Grace Hopper", "{next}");
        assert!(
            reminder["note"]["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("burst")),
            "{next}"
        );
    }
    let delivered = app.statements().await - fired;
    // A poll or two, then one statement each for the contacts and the notes of the burst.
    assert!(
        delivered <= 8,
        "{delivered} statements to deliver 20 fired reminders"
    );
}
