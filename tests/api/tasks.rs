//! Tasks: every transition, follow-ups with and without details, copies, the task history
//! orderings and filters, access, and a fixed statement count for a page.

use serde_json::{Value, json};

use crate::helpers::{TestApp, contact_id, spawn_app, user_id, world};

const TASK_FIELDS: &str =
    "id description status tags scheduledAt createdAt type { name } outcome { code }
    responsible { email } creator { email } note { body } closingNote { body }
    continuedFrom { id } followUp { id } copiedFrom { id } completedBy { email } completedAt";

async fn create_task(app: &TestApp, token: &str, input: Value) -> Value {
    let query = format!(
        "mutation ($input: CreateTaskInput!) {{ createTask(input: $input) {{ {TASK_FIELDS} }} }}"
    );
    app.gql(Some(token), &query, json!({ "input": input }))
        .await
        .data()["createTask"]
        .clone()
}

async fn complete(app: &TestApp, token: &str, id: &Value, input: Value) -> crate::helpers::Gql {
    let query = format!(
        "mutation ($id: ID!, $input: CompleteTaskInput!) {{ completeTask(id: $id, input: $input) {{ task {{ {TASK_FIELDS} }} note {{ body subject }} followUp {{ {TASK_FIELDS} }} }} }}"
    );
    app.gql(Some(token), &query, json!({ "id": id, "input": input }))
        .await
}

async fn outcome(app: &TestApp, token: &str, code: &str) -> Value {
    let all = app
        .gql(Some(token), "{ outcomes { id code } }", json!({}))
        .await;
    all.data()["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .find(|o| o["code"] == code)
        .expect("seeded outcome")["id"]
        .clone()
}

#[tokio::test]
async fn every_transition() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let writer = app.token(&w.member_write);
    let cid = contact_id(w.contact);
    // The contact's consultant is responsible by default; else the creator.
    let by_creator = create_task(&app, &writer, json!({ "contactId": cid, "description": "Send the offer", "tags": ["offer", "q4", "offer"] })).await;
    assert_eq!(by_creator["status"], "PLANNED");
    assert_eq!(by_creator["responsible"]["email"], "write@acme.test");
    assert_eq!(by_creator["creator"]["email"], "write@acme.test");
    assert_eq!(by_creator["tags"], json!(["offer", "q4"]));
    assert!(
        by_creator["scheduledAt"].is_string(),
        "a task is scheduled now when no date is given"
    );
    app.gql(Some(&owner), "mutation ($id: ID!, $u: ID!) { updateContact(id: $id, input: { consultantId: $u }) { id } }", json!({ "id": cid, "u": user_id(w.member_admin.id) }))
        .await
        .data();
    let by_consultant = create_task(
        &app,
        &writer,
        json!({ "contactId": cid, "description": "Visit" }),
    )
    .await;
    assert_eq!(by_consultant["responsible"]["email"], "madmin@acme.test");
    assert_eq!(by_consultant["creator"]["email"], "write@acme.test");

    // PLANNED -> IN_PROGRESS -> DONE (CLOSE).
    let started = app.gql(Some(&writer), "mutation ($id: ID!) { updateTask(id: $id, input: { status: IN_PROGRESS }) { status } }", json!({ "id": by_creator["id"] })).await;
    assert_eq!(started.data()["updateTask"]["status"], "IN_PROGRESS");
    let sold = outcome(&app, &writer, "SOLD").await;
    let closed = complete(
        &app,
        &writer,
        &by_creator["id"],
        json!({ "outcomeId": sold, "action": "CLOSE" }),
    )
    .await;
    let closed = closed.data()["completeTask"].clone();
    assert_eq!(closed["task"]["status"], "DONE");
    assert_eq!(closed["task"]["outcome"]["code"], "SOLD");
    assert_eq!(closed["task"]["completedBy"]["email"], "write@acme.test");
    assert!(closed["note"].is_null() && closed["followUp"].is_null());
    // A closed task cannot be completed or edited again.
    complete(
        &app,
        &writer,
        &by_creator["id"],
        json!({ "outcomeId": sold, "action": "CLOSE" }),
    )
    .await
    .expect_code("CONFLICT");
    app.gql(
        Some(&writer),
        "mutation ($id: ID!) { updateTask(id: $id, input: { description: \"x\" }) { id } }",
        json!({ "id": by_creator["id"] }),
    )
    .await
    .expect_code("CONFLICT");
    app.gql(
        Some(&writer),
        "mutation ($id: ID!) { updateTask(id: $id, input: { status: DONE }) { id } }",
        json!({ "id": by_consultant["id"] }),
    )
    .await
    .expect_code("BAD_USER_INPUT");

    // CLOSE_WITH_NOTE writes the note; the CANCELLED outcome cancels.
    let cancelled = outcome(&app, &writer, "CANCELLED").await;
    complete(
        &app,
        &writer,
        &by_consultant["id"],
        json!({ "outcomeId": cancelled, "action": "CLOSE_WITH_NOTE" }),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    let with_note = complete(&app, &writer, &by_consultant["id"], json!({ "outcomeId": cancelled, "action": "CLOSE_WITH_NOTE", "note": { "subject": "Cancelled", "body": "They postponed" } })).await;
    let with_note = with_note.data()["completeTask"].clone();
    assert_eq!(with_note["task"]["status"], "CANCELLED");
    assert_eq!(
        with_note["note"],
        json!({ "body": "They postponed", "subject": "Cancelled" })
    );
    assert_eq!(with_note["task"]["closingNote"]["body"], "They postponed");

    // A copy is an identical new PLANNED task, even of a closed one.
    let copy = app
        .gql(
            Some(&owner),
            &format!("mutation ($id: ID!) {{ copyTask(id: $id) {{ {TASK_FIELDS} }} }}"),
            json!({ "id": by_creator["id"] }),
        )
        .await;
    let copy = copy.data()["copyTask"].clone();
    assert_eq!(copy["status"], "PLANNED");
    assert_eq!(copy["description"], "Send the offer");
    assert_eq!(copy["tags"], json!(["offer", "q4"]));
    assert_eq!(copy["responsible"]["email"], "write@acme.test");
    assert_eq!(copy["creator"]["email"], "owner@acme.test");
    assert_eq!(copy["copiedFrom"]["id"], by_creator["id"]);
    assert_eq!(copy["scheduledAt"], by_creator["scheduledAt"]);
    assert!(copy["outcome"].is_null() && copy["completedAt"].is_null());

    // Only WRITE may plan or change tasks; READ sees them; outsiders do not.
    app.gql(
        Some(&app.token(&w.member_read)),
        "mutation ($id: ID!) { copyTask(id: $id) { id } }",
        json!({ "id": copy["id"] }),
    )
    .await
    .expect_code("FORBIDDEN");
    app.gql(
        Some(&app.token(&w.member_none)),
        "mutation ($id: ID!) { copyTask(id: $id) { id } }",
        json!({ "id": copy["id"] }),
    )
    .await
    .expect_code("NOT_FOUND");
    app.gql(
        Some(&app.token(&w.customer)),
        "query ($id: ID!) { task(id: $id) { id } }",
        json!({ "id": copy["id"] }),
    )
    .await
    .expect_code("NOT_FOUND");
    let read = app
        .gql(
            Some(&app.token(&w.member_read)),
            "query ($id: ID!) { task(id: $id) { description } }",
            json!({ "id": copy["id"] }),
        )
        .await;
    assert_eq!(read.data()["task"]["description"], "Send the offer");

    // Each change is on the timeline.
    let timeline = app.gql(Some(&owner), "query ($id: ID!) { timeline(contactId: $id, filter: { kinds: [TASK_CREATED, TASK_UPDATED, TASK_COMPLETED] }) { edges { node { kind subject { ... on Task { description } } } } } }", json!({ "id": cid })).await;
    let kinds: Vec<&str> = timeline.data()["timeline"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(|e| e["node"]["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "TASK_CREATED",
            "TASK_COMPLETED",
            "TASK_COMPLETED",
            "TASK_UPDATED",
            "TASK_CREATED",
            "TASK_CREATED"
        ]
    );
}

#[tokio::test]
async fn continue_plans_the_follow_up() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let cid = contact_id(w.contact);
    let meeting = app
        .gql(
            Some(&owner),
            "mutation { createTaskType(input: { name: \"Meeting\" }) { id } }",
            json!({}),
        )
        .await;
    let meeting = meeting.data()["createTaskType"]["id"].clone();
    let call = app
        .gql(Some(&owner), "mutation ($next: ID!) { createTaskType(input: { name: \"Call\", nextTypeId: $next, nextDelayMinutes: 2880 }) { id nextTypeId nextDelayMinutes } }", json!({ "next": meeting }))
        .await;
    assert_eq!(call.data()["createTaskType"]["nextDelayMinutes"], 2880);
    let call = call.data()["createTaskType"]["id"].clone();
    let positive = outcome(&app, &owner, "POSITIVE").await;

    // Without details: the type's suggestion, two days on, same person and description.
    let first = create_task(&app, &owner, json!({ "contactId": cid, "description": "Intro call", "typeId": call, "tags": ["lead"], "responsibleId": user_id(w.member_write.id) })).await;
    let done = complete(
        &app,
        &owner,
        &first["id"],
        json!({ "outcomeId": positive, "action": "CONTINUE" }),
    )
    .await;
    let done = done.data()["completeTask"].clone();
    let follow = &done["followUp"];
    assert_eq!(follow["type"]["name"], "Meeting");
    assert_eq!(follow["status"], "PLANNED");
    assert_eq!(follow["description"], "Intro call");
    assert_eq!(follow["tags"], json!(["lead"]));
    assert_eq!(follow["responsible"]["email"], "write@acme.test");
    assert_eq!(follow["continuedFrom"]["id"], first["id"]);
    let scheduled =
        chrono::DateTime::parse_from_rfc3339(follow["scheduledAt"].as_str().expect("time"))
            .expect("rfc3339");
    let completed =
        chrono::DateTime::parse_from_rfc3339(done["task"]["completedAt"].as_str().expect("time"))
            .expect("rfc3339");
    assert_eq!((scheduled - completed).num_minutes(), 2880);
    let linked = app
        .gql(
            Some(&owner),
            "query ($id: ID!) { task(id: $id) { followUp { id } } }",
            json!({ "id": first["id"] }),
        )
        .await;
    assert_eq!(linked.data()["task"]["followUp"]["id"], follow["id"]);

    // With details: they win.
    let done = complete(
        &app,
        &owner,
        &follow["id"],
        json!({ "outcomeId": positive, "action": "CONTINUE", "followUp": { "description": "Sign the contract", "scheduledAt": "2030-05-01T10:00:00Z", "typeId": call } }),
    )
    .await;
    let next = done.data()["completeTask"]["followUp"].clone();
    assert_eq!(next["description"], "Sign the contract");
    assert_eq!(next["scheduledAt"], "2030-05-01T10:00:00+00:00");
    assert_eq!(next["type"]["name"], "Call");
    assert_eq!(next["continuedFrom"]["id"], follow["id"]);
    // A bad follow-up leaves the task open.
    let bad = complete(
        &app,
        &owner,
        &next["id"],
        json!({ "outcomeId": positive, "action": "CONTINUE", "followUp": { "description": "" } }),
    )
    .await;
    assert_eq!(bad.field(), Some("input.followUp.description"));
    let still = app
        .gql(
            Some(&owner),
            "query ($id: ID!) { task(id: $id) { status } }",
            json!({ "id": next["id"] }),
        )
        .await;
    assert_eq!(still.data()["task"]["status"], "PLANNED");
    complete(
        &app,
        &owner,
        &next["id"],
        json!({ "outcomeId": positive, "action": "CLOSE", "followUp": { "description": "x" } }),
    )
    .await
    .expect_code("BAD_USER_INPUT");
}

#[tokio::test]
async fn task_history_orders_and_filters() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let cid = contact_id(w.contact);
    for (description, scheduled) in [
        ("A", "2030-01-03T09:00:00Z"),
        ("B", "2030-01-01T09:00:00Z"),
        ("C", "2030-01-02T09:00:00Z"),
    ] {
        create_task(&app, &owner, json!({ "contactId": cid, "description": description, "scheduledAt": scheduled, "responsibleId": user_id(w.member_read.id) })).await;
    }
    create_task(&app, &owner, json!({ "contactId": contact_id(w.other_contact), "description": "Elsewhere", "scheduledAt": "2030-01-05T09:00:00Z" })).await;
    let list = |order: Value, filter: Value| {
        let (app, owner) = (&app, owner.clone());
        async move {
            let r = app
                .gql(Some(&owner), "query ($o: TaskOrder, $f: TaskFilter) { tasks(orderBy: $o, filter: $f, first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { description } } } }", json!({ "o": order, "f": filter }))
                .await;
            r.data()["tasks"].clone()
        }
    };
    let names = |page: &Value| -> Vec<String> {
        page["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| {
                e["node"]["description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    };
    let on_contact = json!({ "contactId": cid });
    let created = list(
        json!({ "field": "CREATED_AT", "direction": "DESC" }),
        on_contact.clone(),
    )
    .await;
    assert_eq!(names(&created), ["C", "B"]);
    assert_eq!(created["totalCount"], 3);
    let scheduled = list(
        json!({ "field": "SCHEDULED_AT", "direction": "ASC" }),
        on_contact.clone(),
    )
    .await;
    assert_eq!(names(&scheduled), ["B", "C"]);
    let next = app
        .gql(Some(&owner), "query ($a: String) { tasks(orderBy: { field: SCHEDULED_AT, direction: ASC }, filter: { contactId: \"Q29udGFjdDox\" }, first: 2, after: $a) { edges { node { description } } pageInfo { hasNextPage } } }", json!({ "a": scheduled["pageInfo"]["endCursor"] }))
        .await;
    assert_eq!(names(&next.data()["tasks"]), ["A"]);
    let window = list(
        json!({ "field": "SCHEDULED_AT", "direction": "ASC" }),
        json!({ "scheduledFrom": "2030-01-02T00:00:00Z", "scheduledTo": "2030-01-04T00:00:00Z" }),
    )
    .await;
    assert_eq!(names(&window), ["C", "A"]);
    let mine = list(
        json!({ "field": "CREATED_AT", "direction": "ASC" }),
        json!({ "responsibleId": user_id(w.member_read.id) }),
    )
    .await;
    assert_eq!(mine["totalCount"], 3);
    let planned = list(
        json!({ "field": "CREATED_AT", "direction": "ASC" }),
        json!({ "status": ["DONE"] }),
    )
    .await;
    assert_eq!(planned["totalCount"], 0);
    // A member sees the tasks of the contacts they may see; a customer user sees none.
    let reader = app
        .gql(
            Some(&app.token(&w.member_read)),
            "{ tasks { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(reader.data()["tasks"]["totalCount"], 3);
    let customer = app
        .gql(
            Some(&app.token(&w.customer)),
            "{ tasks { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(customer.data()["tasks"]["totalCount"], 0);
    let via_contact = app.gql(Some(&owner), "query ($id: ID!) { contact(id: $id) { tasks(orderBy: { field: SCHEDULED_AT, direction: DESC }) { edges { node { description } } } } }", json!({ "id": cid })).await;
    assert_eq!(
        names(&via_contact.data()["contact"]["tasks"]),
        ["A", "C", "B"]
    );
}

#[tokio::test]
async fn task_and_timeline_pages_take_a_fixed_number_of_statements() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let cid = contact_id(w.contact);
    let sold = outcome(&app, &owner, "SOLD").await;
    let people = [&w.member_write, &w.member_admin, &w.owner, &w.member_read];
    for i in 0..50 {
        let task = create_task(&app, &owner, json!({ "contactId": cid, "description": format!("Task {i}"), "tags": [format!("t{}", i % 3)], "responsibleId": user_id(people[i % people.len()].id) })).await;
        if i % 2 == 0 {
            complete(
                &app,
                &owner,
                &task["id"],
                json!({ "outcomeId": sold, "action": "CLOSE" }),
            )
            .await
            .data();
        }
    }
    let token = app.token(&w.member_read);
    app.know(&token).await;
    let tasks = "query ($n: Int!) { tasks(first: $n) { edges { node { description tags type { name } outcome { name } responsible { name } creator { name } completedBy { name } contact { name } } } } }";
    let timeline = "query ($id: ID!, $n: Int!) { timeline(contactId: $id, first: $n) { edges { node { kind summary actor { name } subject { __typename ... on Task { description status } ... on Contact { name } } } } } }";
    for (query, vars) in [(tasks, json!({})), (timeline, json!({ "id": cid }))] {
        let mut counts = Vec::new();
        for n in [5, 50] {
            let mut vars = vars.clone();
            vars["n"] = json!(n);
            let before = app.statements().await;
            let page = app.gql(Some(&token), query, vars).await;
            counts.push(app.statements().await - before);
            let data = page.data();
            let edges = data
                .as_object()
                .and_then(|o| o.values().next())
                .expect("root")["edges"]
                .as_array()
                .map(Vec::len);
            assert_eq!(edges, Some(n));
        }
        assert_eq!(counts[0], counts[1], "statements for 5 vs 50: {query}");
        assert!(counts[1] <= 8, "{} statements: {query}", counts[1]);
    }
}
