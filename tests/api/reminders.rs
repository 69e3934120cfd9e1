//! Reminders: stored with notes and tasks, fired by the reminder job exactly once (also with
//! competing workers), private to their user on the timeline, dismissed and snoozed. The test
//! gateways run with their timers off: each test fires reminders itself, at a chosen time.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};
use threadline::service::{now, reminders};

use crate::helpers::{TestApp, contact_id, spawn_app, world};

/// All of the caller's reminders (a page of 100, so that waiting for a status covers every one).
const MINE: &str = "{ reminders(first: 100) { edges { node { id status remindAt firedAt note { subject } task { description } contact { name } } } } }";

/// The caller's reminders, checking that there are `count` and that all have `status`.
async fn all_with_status(app: &TestApp, token: &str, count: usize, status: &str) -> Value {
    let r = app.gql(Some(token), MINE, json!({})).await;
    let edges = r.data()["reminders"]["edges"].clone();
    assert_eq!(edges.as_array().map(Vec::len), Some(count), "{edges}");
    assert!(
        edges
            .as_array()
            .is_some_and(|e| e.iter().all(|x| x["node"]["status"] == status)),
        "not all {status}: {edges}"
    );
    edges
}

#[tokio::test]
async fn a_note_reminder_fires_privately_and_can_be_snoozed_and_dismissed() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let author = app.token(&w.member_write);
    let at = Utc::now() + chrono::Duration::hours(1);
    app.gql(
        Some(&author),
        "mutation ($c: ID!, $at: DateTime!) { createNote(input: { contactId: $c, subject: \"Call back\", remindAt: $at, task: { description: \"Call\", remindAt: $at } }) { id } }",
        json!({ "c": cid, "at": at.to_rfc3339() }),
    )
    .await
    .data();
    // The note's and the task's, not due yet: a pass now fires neither.
    all_with_status(&app, &author, 2, "PENDING").await;
    assert_eq!(app.fire_due_reminders().await, 0);
    all_with_status(&app, &author, 2, "PENDING").await;
    // Once due, one pass fires both (a second later: PostgreSQL keeps microseconds only).
    let due = at + chrono::Duration::seconds(1);
    assert_eq!(app.fire_reminders_due_at(due).await, 2);
    let fired = all_with_status(&app, &author, 2, "FIRED").await;
    assert!(fired[0]["node"]["firedAt"].is_string());
    let about: Vec<&Value> = fired
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| &e["node"])
        .collect();
    assert!(about.iter().any(|n| n["note"]["subject"] == "Call back"));
    assert!(about.iter().any(|n| n["task"]["description"] == "Call"));

    // The timeline shows the reminders to their user only.
    let timeline = "query ($id: ID!) { timeline(contactId: $id, filter: { kinds: [REMINDER_FIRED] }) { edges { node { summary subject { __typename } } } } }";
    let own = app.gql(Some(&author), timeline, json!({ "id": cid })).await;
    let own = own.data()["timeline"]["edges"]
        .as_array()
        .expect("edges")
        .clone();
    assert_eq!(own.len(), 2);
    assert_eq!(own[0]["node"]["subject"]["__typename"], "Reminder");
    assert!(
        own.iter()
            .any(|e| e["node"]["summary"] == "Reminder for write: Call back")
    );
    let others = app
        .gql(Some(&app.token(&w.owner)), timeline, json!({ "id": cid }))
        .await;
    assert_eq!(others.data()["timeline"]["edges"], json!([]));

    // Snooze and dismiss are the user's own.
    let id = fired[0]["node"]["id"].clone();
    app.gql(
        Some(&app.token(&w.owner)),
        "mutation ($id: ID!) { dismissReminder(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await
    .expect_code("NOT_FOUND");
    let past = app.gql(Some(&author), "mutation ($id: ID!) { snoozeReminder(id: $id, until: \"2001-01-01T00:00:00Z\") { id } }", json!({ "id": id })).await;
    assert_eq!(past.field(), Some("until"));
    let later = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let snoozed = app.gql(Some(&author), "mutation ($id: ID!, $u: DateTime!) { snoozeReminder(id: $id, until: $u) { status firedAt } }", json!({ "id": id, "u": later })).await;
    assert_eq!(
        snoozed.data()["snoozeReminder"],
        json!({ "status": "PENDING", "firedAt": null })
    );
    let dismissed = app
        .gql(
            Some(&author),
            "mutation ($id: ID!) { dismissReminder(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(dismissed.data()["dismissReminder"]["status"], "DISMISSED");
    let filtered = app
        .gql(
            Some(&author),
            "{ reminders(filter: { status: DISMISSED }) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        filtered.data()["reminders"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn competing_workers_fire_each_reminder_once() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let due = now() - chrono::Duration::seconds(5);
    for _ in 0..40 {
        entity::reminder::ActiveModel {
            organization_id: Set(w.owner.organization_id),
            user_id: Set(w.member_read.id),
            contact_id: Set(w.contact),
            note_id: Set(None),
            task_id: Set(None),
            remind_at: Set(due),
            status: Set("PENDING".into()),
            fired_at: Set(None),
            created_at: Set(due),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .expect("reminder");
    }
    // Two more workers race a pass of the gateway's own job.
    let (a, b, own) = tokio::join!(
        reminders::fire_due(&app.db, now(), 7),
        reminders::fire_due(&app.db, now(), 7),
        app.fire_due_reminders()
    );
    let direct = a.expect("a").len() + b.expect("b").len();
    assert!(direct <= 14);
    assert_eq!(direct + own, 40, "every reminder fired exactly once");
    assert_eq!(app.fire_due_reminders().await, 0, "none left to fire");
    let token = app.token(&w.member_read);
    all_with_status(&app, &token, 40, "FIRED").await;
    let events = app
        .gql(Some(&token), "query ($id: ID!) { timeline(contactId: $id, first: 100, filter: { kinds: [REMINDER_FIRED] }) { edges { node { summary } } } }", json!({ "id": contact_id(w.contact) }))
        .await;
    assert_eq!(
        events.data()["timeline"]["edges"].as_array().map(Vec::len),
        Some(40),
        "one event per reminder"
    );
    assert_eq!(
        events.data()["timeline"]["edges"][0]["node"]["summary"],
        "Reminder for read: follow up"
    );
}
