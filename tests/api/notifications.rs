//! Notifications (issue 12): assignments tell the new responsible user and not oneself,
//! mentions tell only users who may read the note, the caller's list pages and filters,
//! marking read by ids and all, the unread count on `me`, nobody sees another's, and the live
//! subscription delivers what a change wrote, through the bus.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, contact_id, fresh_database, spawn_app, start, user_id, world},
    subscriptions::{ready, receive, send},
};

const LIST: &str = "query ($first: Int, $after: String, $unread: Boolean) {
  notifications(first: $first, after: $after, filter: { unread: $unread }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id kind summary read readAt createdAt
      actor { email }
      contact { name }
      subject { __typename ... on Task { description } ... on Note { subject } ... on Reminder { status } }
    } }
  }
}";

/// The caller's notifications (one page of up to 100, newest first).
async fn notifications(app: &TestApp, token: &str) -> Vec<Value> {
    page(app, token, json!({ "first": 100 }))
        .await
        .get("edges")
        .and_then(Value::as_array)
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

async fn page(app: &TestApp, token: &str, variables: Value) -> Value {
    app.gql(Some(token), LIST, variables).await.data()["notifications"].clone()
}

/// The (kind, summary) pairs of the caller's notifications, newest first.
async fn summaries(app: &TestApp, token: &str) -> Vec<(String, String)> {
    notifications(app, token)
        .await
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().unwrap_or_default().to_owned(),
                n["summary"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn unread_count(app: &TestApp, token: &str) -> i64 {
    app.gql(Some(token), "{ me { unreadNotificationCount } }", json!({}))
        .await
        .data()["me"]["unreadNotificationCount"]
        .as_i64()
        .expect("a count")
}

async fn create_task(app: &TestApp, token: &str, input: Value) -> String {
    app.gql(
        Some(token),
        "mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }",
        json!({ "input": input }),
    )
    .await
    .data()["createTask"]["id"]
        .as_str()
        .expect("task id")
        .to_owned()
}

async fn create_note(app: &TestApp, token: &str, input: Value) -> String {
    app.gql(
        Some(token),
        "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }",
        json!({ "input": input }),
    )
    .await
    .data()["createNote"]["id"]
        .as_str()
        .expect("note id")
        .to_owned()
}

async fn update_note(app: &TestApp, token: &str, id: &str, input: Value) {
    app.gql(
        Some(token),
        "mutation ($id: ID!, $input: UpdateNoteInput!) { updateNote(id: $id, input: $input) { id } }",
        json!({ "id": id, "input": input }),
    )
    .await
    .data();
}

async fn mark(app: &TestApp, token: &str, variables: Value) -> crate::helpers::Gql {
    app.gql(
        Some(token),
        "mutation ($ids: [ID!], $all: Boolean) { markNotificationsRead(ids: $ids, all: $all) }",
        variables,
    )
    .await
}

#[tokio::test]
async fn assignment_notifies_the_new_responsible_user_not_oneself() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let writer = app.token(&w.member_write);
    let reader = app.token(&w.member_read);
    let madmin = app.token(&w.member_admin);
    let cid = contact_id(w.contact);
    let read_id = user_id(w.member_read.id);

    // Planned for someone else: they are told, with who did it and what.
    let task = create_task(
        &app,
        &writer,
        json!({ "contactId": cid, "description": "Call Grace back", "responsibleId": read_id }),
    )
    .await;
    // Planned for oneself, explicitly or by default (the contact has no consultant): nobody.
    create_task(&app, &writer, json!({ "contactId": cid, "description": "My own call", "responsibleId": user_id(w.member_write.id) })).await;
    create_task(
        &app,
        &writer,
        json!({ "contactId": cid, "description": "Default responsible" }),
    )
    .await;
    let seen = notifications(&app, &reader).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["kind"], "TASK_ASSIGNED");
    assert_eq!(
        seen[0]["summary"],
        "write assigned you a task: Call Grace back"
    );
    assert_eq!(seen[0]["actor"]["email"], "write@acme.test");
    assert_eq!(seen[0]["contact"]["name"], "Grace Hopper");
    assert_eq!(
        seen[0]["subject"],
        json!({ "__typename": "Task", "description": "Call Grace back" })
    );
    assert_eq!(seen[0]["read"], false);
    assert!(seen[0]["readAt"].is_null());
    assert!(notifications(&app, &writer).await.is_empty());

    // Re-assigned: the new responsible user is told; an edit that keeps the responsible user,
    // and taking a task for oneself, tell nobody.
    let update = "mutation ($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { id } }";
    app.gql(
        Some(&writer),
        update,
        json!({ "id": task, "input": { "responsibleId": user_id(w.member_admin.id) } }),
    )
    .await
    .data();
    app.gql(
        Some(&writer),
        update,
        json!({ "id": task, "input": { "description": "Call Grace back today" } }),
    )
    .await
    .data();
    app.gql(
        Some(&madmin),
        update,
        json!({ "id": task, "input": { "responsibleId": user_id(w.member_admin.id), "description": "Mine now" } }),
    )
    .await
    .data();
    app.gql(
        Some(&madmin),
        update,
        json!({ "id": task, "input": { "responsibleId": user_id(w.member_write.id) } }),
    )
    .await
    .data();
    assert_eq!(
        summaries(&app, &madmin).await,
        [(
            "TASK_ASSIGNED".to_owned(),
            "write assigned you a task: Call Grace back".to_owned()
        )]
    );
    assert_eq!(
        summaries(&app, &writer).await,
        [(
            "TASK_ASSIGNED".to_owned(),
            "madmin assigned you a task: Mine now".to_owned()
        )]
    );

    // A copy, a follow-up and a note's task for someone else tell them too.
    let reads = create_task(
        &app,
        &madmin,
        json!({ "contactId": cid, "description": "Reader's task", "responsibleId": read_id }),
    )
    .await;
    app.gql(
        Some(&writer),
        "mutation ($id: ID!) { copyTask(id: $id) { id } }",
        json!({ "id": reads }),
    )
    .await
    .data();
    let outcomes = app
        .gql(Some(&writer), "{ outcomes { id code } }", json!({}))
        .await;
    let positive = outcomes.data()["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .find(|o| o["code"] == "POSITIVE")
        .expect("positive")["id"]
        .clone();
    app.gql(
        Some(&writer),
        "mutation ($id: ID!, $o: ID!) { completeTask(id: $id, input: { outcomeId: $o, action: CONTINUE }) { followUp { id } } }",
        json!({ "id": reads, "o": positive }),
    )
    .await
    .data();
    create_note(&app, &writer, json!({ "contactId": cid, "subject": "Visit", "task": { "description": "Visit Grace", "responsibleId": read_id } })).await;
    assert_eq!(
        summaries(&app, &reader).await,
        [
            ("TASK_ASSIGNED", "write assigned you a task: Visit Grace"),
            ("TASK_ASSIGNED", "write assigned you a task: Reader's task"),
            ("TASK_ASSIGNED", "write assigned you a task: Reader's task"),
            ("TASK_ASSIGNED", "madmin assigned you a task: Reader's task"),
            (
                "TASK_ASSIGNED",
                "write assigned you a task: Call Grace back"
            ),
        ]
        .map(|(k, s)| (k.to_owned(), s.to_owned()))
    );
    // Every one was written with its bus signal and nothing else was.
    assert_eq!(app.count_rows("notifications").await, 7);
}

#[tokio::test]
async fn mentions_notify_only_users_who_may_read_the_note() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let writer = app.token(&w.member_write);
    let cid = contact_id(w.contact);
    let people = [
        ("owner", &w.owner),
        ("admin", &w.admin),
        ("none", &w.member_none),
        ("read", &w.member_read),
        ("write", &w.member_write),
        ("madmin", &w.member_admin),
        ("customer", &w.customer),
        ("other", &w.other_owner),
    ];
    let tokens: Vec<(&str, String)> = people
        .iter()
        .map(|(name, user)| (*name, app.token(user)))
        .collect();
    // Who has been told about a mention, by name: what was written (the rows), which is also
    // what each of them is shown.
    let told = async |app: &TestApp| -> Vec<&'static str> {
        let rows = app
            .db
            .query_all_raw(Statement::from_string(
                app.db.get_database_backend(),
                "SELECT DISTINCT user_id FROM notifications WHERE kind = 'MENTIONED'",
            ))
            .await
            .expect("rows");
        let written: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get::<i64>("", "user_id").expect("user_id"))
            .collect();
        let mut out = Vec::new();
        for ((name, user), (_, token)) in people.iter().zip(&tokens) {
            let shown = summaries(app, token)
                .await
                .iter()
                .any(|(kind, _)| kind == "MENTIONED");
            assert_eq!(shown, written.contains(&user.id), "{name}");
            if shown {
                out.push(*name);
            }
        }
        out
    };

    // All or nothing: a note whose task cannot be planned is not written, nor is its mention.
    app.gql(
        Some(&owner),
        "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }",
        json!({ "input": { "contactId": cid, "body": "@read look", "task": { "description": "x", "responsibleId": user_id(w.member_none.id) } } }),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    assert_eq!(app.count_rows("notifications").await, 0);

    // A team note: staff who may see the contact, by name or by email, case-insensitive; not
    // the member without a grant, not the customer (a team note), not the author, not someone
    // of another organization, and a bare name is no mention.
    let team = create_note(
        &app,
        &owner,
        json!({ "contactId": cid, "subject": "Renewal", "body": "@READ please check; @none too; cc @madmin@acme.test, @Grace Hopper, @owner, @owner@other.test and write." }),
    )
    .await;
    assert_eq!(told(&app).await, ["read", "madmin"]);
    let reader = &tokens[3].1;
    let seen = notifications(&app, reader).await;
    assert_eq!(seen[0]["summary"], "owner mentioned you in a note: Renewal");
    assert_eq!(seen[0]["actor"]["email"], "owner@acme.test");
    assert_eq!(
        seen[0]["subject"],
        json!({ "__typename": "Note", "subject": "Renewal" })
    );

    // A private note mentions nobody.
    let private = create_note(&app, &owner, json!({ "contactId": cid, "subject": "Private", "body": "@admin @write", "visibility": "PRIVATE" })).await;
    assert_eq!(told(&app).await, ["read", "madmin"]);

    // A note shared with the customer reaches the customer user (by name, in HTML).
    create_note(&app, &writer, json!({ "contactId": cid, "subject": "For Grace", "bodyHtml": "<p>Hi <b>@Grace&nbsp;Hopper</b>!</p>", "visibility": "CUSTOMER" })).await;
    assert_eq!(told(&app).await, ["read", "madmin", "customer"]);

    // On a contact no member may see: only owners and admins are told.
    create_note(
        &app,
        &owner,
        json!({ "contactId": contact_id(w.other_contact), "body": "@admin and @write, see this" }),
    )
    .await;
    assert_eq!(told(&app).await, ["admin", "read", "madmin", "customer"]);

    // An edit tells only whom it newly mentions, once: the editor is never told, and the
    // reader mentioned before is not told again.
    let mentions_of = async |token: &str| -> usize {
        summaries(&app, token)
            .await
            .iter()
            .filter(|(kind, _)| kind == "MENTIONED")
            .count()
    };
    update_note(
        &app,
        &owner,
        &team,
        json!({ "body": "@read please check; also @write and @owner" }),
    )
    .await;
    update_note(
        &app,
        &owner,
        &team,
        json!({ "body": "@read and @write, again" }),
    )
    .await;
    update_note(
        &app,
        &writer,
        &team,
        json!({ "body": "@read, @write, @madmin: edited by write" }),
    )
    .await;
    assert_eq!(mentions_of(reader).await, 1);
    assert_eq!(mentions_of(&writer).await, 1);
    assert_eq!(mentions_of(&tokens[5].1).await, 1, "madmin once");
    assert_eq!(mentions_of(&owner).await, 0);

    // A private note shared later tells those it mentions who may now read it.
    update_note(&app, &owner, &private, json!({ "visibility": "TEAM" })).await;
    assert_eq!(
        told(&app).await,
        ["admin", "read", "write", "madmin", "customer"]
    );

    // A note the reader may no longer read takes its notification with it: made private by
    // its author, then deleted (which removes the notifications quoting it).
    assert_eq!(unread_count(&app, reader).await, 1);
    update_note(&app, &owner, &team, json!({ "visibility": "PRIVATE" })).await;
    assert!(summaries(&app, reader).await.is_empty());
    assert_eq!(unread_count(&app, reader).await, 0);
    update_note(&app, &owner, &team, json!({ "visibility": "TEAM" })).await;
    assert_eq!(mentions_of(reader).await, 1, "still once per note");
    let before = app.count_rows("notifications").await;
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { deleteNote(id: $id) }",
        json!({ "id": team }),
    )
    .await
    .data();
    assert!(summaries(&app, reader).await.is_empty());
    // The reader's, write's and madmin's mentions of it are gone from the table too.
    assert_eq!(app.count_rows("notifications").await, before - 3);
}

#[tokio::test]
async fn the_list_pages_filters_and_is_marked_read_by_its_user_only() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let reader = app.token(&w.member_read);
    let cid = contact_id(w.contact);
    for i in 1..=5 {
        create_task(&app, &owner, json!({ "contactId": cid, "description": format!("Task {i}"), "responsibleId": user_id(w.member_read.id) })).await;
    }
    // Newest first, in pages.
    let first = page(&app, &reader, json!({ "first": 2 })).await;
    assert_eq!(first["totalCount"], 5);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let descriptions = |p: &Value| -> Vec<String> {
        p["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| {
                e["node"]["subject"]["description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(descriptions(&first), ["Task 5", "Task 4"]);
    let second = page(
        &app,
        &reader,
        json!({ "first": 2, "after": first["pageInfo"]["endCursor"] }),
    )
    .await;
    assert_eq!(descriptions(&second), ["Task 3", "Task 2"]);
    let third = page(
        &app,
        &reader,
        json!({ "first": 2, "after": second["pageInfo"]["endCursor"] }),
    )
    .await;
    assert_eq!(descriptions(&third), ["Task 1"]);
    assert_eq!(third["pageInfo"]["hasNextPage"], false);
    app.gql(Some(&reader), LIST, json!({ "after": "bm90IGEgY3Vyc29y" }))
        .await
        .expect_code("BAD_USER_INPUT");

    // Nobody else sees them, marks them or reads the reader's count.
    assert!(notifications(&app, &owner).await.is_empty());
    assert!(
        notifications(&app, &app.token(&w.other_owner))
            .await
            .is_empty()
    );
    let ids: Vec<Value> = first["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].clone())
        .collect();
    assert_eq!(
        mark(&app, &owner, json!({ "ids": ids })).await.data()["markNotificationsRead"],
        0
    );
    assert_eq!(
        mark(&app, &owner, json!({ "all": true })).await.data()["markNotificationsRead"],
        0
    );
    assert_eq!(unread_count(&app, &reader).await, 5);
    let node = "query ($id: ID!) { node(id: $id) { id ... on Notification { summary } } }";
    assert_eq!(
        app.gql(Some(&reader), node, json!({ "id": ids[0] }))
            .await
            .data()["node"],
        json!({ "id": ids[0], "summary": "owner assigned you a task: Task 5" })
    );
    assert!(
        app.gql(Some(&owner), node, json!({ "id": ids[0] }))
            .await
            .data()["node"]
            .is_null()
    );
    app.gql(
        Some(&owner),
        "query ($id: ID!) { user(id: $id) { unreadNotificationCount } }",
        json!({ "id": user_id(w.member_read.id) }),
    )
    .await
    .expect_code("FORBIDDEN");

    // Marked by ids: counted once; the unread filter and the count follow.
    assert_eq!(
        mark(&app, &reader, json!({ "ids": ids })).await.data()["markNotificationsRead"],
        2
    );
    assert_eq!(
        mark(&app, &reader, json!({ "ids": ids })).await.data()["markNotificationsRead"],
        0,
        "already read"
    );
    assert_eq!(unread_count(&app, &reader).await, 3);
    let unread = page(&app, &reader, json!({ "unread": true })).await;
    assert_eq!(unread["totalCount"], 3);
    assert_eq!(descriptions(&unread), ["Task 3", "Task 2", "Task 1"]);
    let read = page(&app, &reader, json!({ "unread": false })).await;
    assert_eq!(descriptions(&read), ["Task 5", "Task 4"]);
    assert!(
        read["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .all(|e| e["node"]["read"] == true && e["node"]["readAt"].is_string())
    );

    // Exactly one of ids and all.
    for bad in [
        json!({}),
        json!({ "all": false }),
        json!({ "all": true, "ids": ids }),
    ] {
        mark(&app, &reader, bad).await.expect_code("BAD_USER_INPUT");
    }
    mark(&app, &reader, json!({ "ids": [user_id(w.owner.id)] }))
        .await
        .expect_code("NOT_FOUND");

    // All: the rest.
    assert_eq!(
        mark(&app, &reader, json!({ "all": true })).await.data()["markNotificationsRead"],
        3
    );
    assert_eq!(unread_count(&app, &reader).await, 0);
    assert_eq!(
        page(&app, &reader, json!({ "unread": true })).await["totalCount"],
        0
    );
}

/// A subscriber is told at once (the bus, not the 30 s safety read) about an assignment, a
/// mention and a fired reminder, and never about another user's. On PostgreSQL the writer is
/// another gateway process on the same database.
#[tokio::test]
async fn the_subscription_delivers_notifications_as_changes_commit() {
    let (url, guard) = fresh_database().await;
    let app = start(&url, false, guard.clone()).await;
    let writer_app;
    let writer = if url.starts_with("postgres") {
        writer_app = start(&url, false, guard.clone()).await;
        &writer_app
    } else {
        &app
    };
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let owner = writer.token(&w.owner);
    let reader = app.token(&w.member_read);
    // Written before the subscription starts: not sent.
    create_task(writer, &owner, json!({ "contactId": cid, "description": "Old news", "responsibleId": user_id(w.member_read.id) })).await;

    let registered = app.hub.registrations();
    let mut socket = ready(&app, &reader).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "n", "payload": { "query": "subscription { notifications { kind summary read actor { email } subject { __typename ... on Task { description } ... on Note { subject } ... on Reminder { status } } } }" } })).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.hub.registrations() <= registered {
        assert!(
            Instant::now() < deadline,
            "the subscription never registered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Someone else's notification, then the reader's: the first one the reader gets is theirs.
    create_task(writer, &owner, json!({ "contactId": cid, "description": "For write", "responsibleId": user_id(w.member_write.id) })).await;
    let written = Instant::now();
    create_task(writer, &owner, json!({ "contactId": cid, "description": "Call Grace", "responsibleId": user_id(w.member_read.id) })).await;
    let next = receive(&mut socket).await;
    let latency = written.elapsed();
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(
        next["payload"]["data"]["notifications"],
        json!({ "kind": "TASK_ASSIGNED", "summary": "owner assigned you a task: Call Grace", "read": false, "actor": { "email": "owner@acme.test" }, "subject": { "__typename": "Task", "description": "Call Grace" } })
    );
    assert!(latency < Duration::from_secs(3), "took {latency:?}");

    // A mention.
    create_note(
        writer,
        &owner,
        json!({ "contactId": cid, "subject": "Pricing", "body": "@read can you check?" }),
    )
    .await;
    let next = receive(&mut socket).await;
    assert_eq!(
        next["payload"]["data"]["notifications"]["subject"],
        json!({ "__typename": "Note", "subject": "Pricing" }),
        "{next}"
    );

    // A task with a reminder for its responsible user: the assignment now, the reminder when
    // it fires.
    let at = chrono::Utc::now() + chrono::Duration::seconds(1);
    create_task(writer, &owner, json!({ "contactId": cid, "description": "Ping", "responsibleId": user_id(w.member_read.id), "remindAt": at.to_rfc3339() })).await;
    let next = receive(&mut socket).await;
    assert_eq!(
        next["payload"]["data"]["notifications"]["summary"], "owner assigned you a task: Ping",
        "{next}"
    );
    assert_eq!(
        writer
            .fire_reminders_due_at(at + chrono::Duration::seconds(1))
            .await,
        1
    );
    let next = receive(&mut socket).await;
    assert_eq!(
        next["payload"]["data"]["notifications"],
        json!({ "kind": "REMINDER_FIRED", "summary": "Reminder: Ping", "read": false, "actor": null, "subject": { "__typename": "Reminder", "status": "FIRED" } }),
        "{next}"
    );
    assert_eq!(
        summaries(&app, &reader).await[0],
        ("REMINDER_FIRED".to_owned(), "Reminder: Ping".to_owned())
    );
}

/// No N+1: a page of notifications with their actors, contacts and subjects of every kind takes
/// the same statements for 5 as for 50.
#[tokio::test]
async fn a_page_takes_a_fixed_number_of_statements() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let admin = app.token(&w.admin);
    let writer = app.token(&w.member_write);
    let cid = contact_id(w.contact);
    // Each round writes one of each kind, so that any five in a row show every kind.
    for i in 0..20 {
        let at = chrono::Utc::now() + chrono::Duration::seconds(1);
        create_task(&app, &owner, json!({ "contactId": cid, "description": format!("Task {i}"), "responsibleId": user_id(w.member_write.id), "remindAt": at.to_rfc3339() })).await;
        create_note(
            &app,
            &admin,
            json!({ "contactId": cid, "body": format!("@write see {i}") }),
        )
        .await;
        assert_eq!(
            app.fire_reminders_due_at(at + chrono::Duration::seconds(1))
                .await,
            1
        );
    }
    let query = "query ($n: Int!) { notifications(first: $n) { edges { node {
        kind summary actor { name } contact { name }
        subject { ... on Note { subject author { name } } ... on Task { description responsible { name } } ... on Reminder { status task { description } } }
    } } } }";
    app.know(&writer).await;
    let mut counts = Vec::new();
    for n in [5, 50] {
        let before = app.statements().await;
        let page = app.gql(Some(&writer), query, json!({ "n": n })).await;
        counts.push(app.statements().await - before);
        let edges = page.data()["notifications"]["edges"]
            .as_array()
            .expect("edges")
            .clone();
        assert_eq!(edges.len(), n);
        assert!(
            edges.iter().all(|e| !e["node"]["subject"].is_null()),
            "{edges:?}"
        );
    }
    assert_eq!(counts[0], counts[1], "statements for 5 vs 50");
    // Token check and the page, then one batch each for users (actors, then the subjects'
    // people), contacts, notes, tasks (subjects, then the reminders' tasks) and reminders.
    assert!(counts[1] <= 9, "{} statements", counts[1]);
}
