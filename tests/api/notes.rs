//! Notes: the visibility matrix, sanitising, templates, editing rights, deletion, search,
//! all-or-nothing creation with an embedded task, and the authors and contacts a page reads
//! with its notes.

use serde_json::{Value, json};

use crate::helpers::{TestApp, World, contact_id, spawn_app, user_id, world};

const CREATE: &str = "mutation ($input: CreateNoteInput!) { createNote(input: $input) {
    id subject body bodyHtml visibility author { email } contact { name } labels { name } type { name }
    attachedTo { kind id } tasks { description status responsible { email } } } }";

async fn create_note(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(Some(token), CREATE, json!({ "input": input }))
        .await
        .data()["createNote"]
        .clone()
}

/// A customer user of the world's other contact.
async fn other_customer(app: &TestApp, w: &World) -> entity::user::Model {
    threadline::service::users::insert_unchecked(
        &app.db,
        w.owner.organization_id,
        &threadline::service::users::CreateUser {
            email: "alan@customer.test".into(),
            name: "Alan".into(),
            kind: threadline::service::users::NewUserKind::Customer(w.other_contact),
        },
    )
    .await
    .expect("customer")
}

#[tokio::test]
async fn the_visibility_matrix() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let alan = other_customer(&app, &w).await;
    let author = app.token(&w.member_admin);
    let cid = contact_id(w.contact);
    let mut ids = Vec::new();
    for visibility in ["PRIVATE", "TEAM", "CUSTOMER"] {
        let note = create_note(&app, &author, json!({ "contactId": cid, "subject": format!("{visibility} note"), "body": "text", "visibility": visibility })).await;
        assert_eq!(note["visibility"], visibility);
        ids.push(note["id"].as_str().expect("id").to_owned());
    }
    // (who, sees PRIVATE, sees TEAM, sees CUSTOMER, sees the contact)
    let matrix: Vec<(&str, &entity::user::Model, [bool; 3], bool)> = vec![
        ("author", &w.member_admin, [true, true, true], true),
        (
            "member with READ",
            &w.member_read,
            [false, true, true],
            true,
        ),
        (
            "member with WRITE",
            &w.member_write,
            [false, true, true],
            true,
        ),
        (
            "member without grant",
            &w.member_none,
            [false, false, false],
            false,
        ),
        ("admin", &w.admin, [false, true, true], true),
        ("owner", &w.owner, [false, true, true], true),
        (
            "the contact's customer user",
            &w.customer,
            [false, false, true],
            true,
        ),
        (
            "another contact's customer user",
            &alan,
            [false, false, false],
            false,
        ),
        (
            "other organization",
            &w.other_owner,
            [false, false, false],
            false,
        ),
    ];
    for (who, user, sees, sees_contact) in matrix {
        let token = app.token(user);
        let listed = app
            .gql(
                Some(&token),
                "{ notes { totalCount edges { node { id } } } }",
                json!({}),
            )
            .await;
        let listed: Vec<String> = listed.data()["notes"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        let via_contact = app
            .gql(
                Some(&token),
                "query ($id: ID!) { contact(id: $id) { notes { edges { node { id } } } } }",
                json!({ "id": cid }),
            )
            .await;
        let timeline = app.gql(Some(&token), "query ($id: ID!) { timeline(contactId: $id, filter: { kinds: [NOTE_CREATED] }) { edges { node { subject { ... on Note { id } } } } } }", json!({ "id": cid })).await;
        if !sees_contact {
            via_contact.expect_code("NOT_FOUND");
            timeline.expect_code("NOT_FOUND");
        }
        for (i, id) in ids.iter().enumerate() {
            let expected = sees[i];
            assert_eq!(
                listed.contains(id),
                expected,
                "notes list: {who} / note {i}"
            );
            let node = app
                .gql(
                    Some(&token),
                    "query ($id: ID!) { node(id: $id) { id } }",
                    json!({ "id": id }),
                )
                .await;
            assert_eq!(
                !node.data()["node"].is_null(),
                expected,
                "node: {who} / note {i}"
            );
            let one = app
                .gql(
                    Some(&token),
                    "query ($id: ID!) { note(id: $id) { id } }",
                    json!({ "id": id }),
                )
                .await;
            assert_eq!(one.code().is_none(), expected, "note: {who} / note {i}");
            if sees_contact {
                let in_contact = via_contact.data()["contact"]["notes"]["edges"]
                    .as_array()
                    .expect("edges")
                    .iter()
                    .any(|e| e["node"]["id"] == json!(id));
                assert_eq!(in_contact, expected, "contact.notes: {who} / note {i}");
                let in_timeline = timeline.data()["timeline"]["edges"]
                    .as_array()
                    .expect("edges")
                    .iter()
                    .any(|e| e["node"]["subject"]["id"] == json!(id));
                assert_eq!(in_timeline, expected, "timeline: {who} / note {i}");
            }
        }
    }
    // Making the team note private moves its timeline event out of the team's view.
    app.gql(Some(&author), "mutation ($id: ID!) { updateNote(id: $id, input: { visibility: PRIVATE }) { visibility } }", json!({ "id": ids[1] })).await.data();
    let reader = app
        .gql(
            Some(&app.token(&w.member_read)),
            "query ($id: ID!) { timeline(contactId: $id) { edges { node { kind summary } } } }",
            json!({ "id": cid }),
        )
        .await;
    let summaries: Vec<&str> = reader.data()["timeline"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(|e| e["node"]["summary"].as_str())
        .collect();
    assert!(
        !summaries.iter().any(|s| s.contains("TEAM note")),
        "{summaries:?}"
    );
    assert!(
        summaries.iter().any(|s| s.contains("CUSTOMER note")),
        "{summaries:?}"
    );
}

#[tokio::test]
async fn editing_rights_and_deletion() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let author = app.token(&w.member_admin);
    let team = create_note(&app, &author, json!({ "contactId": cid, "subject": "Renewal call", "body": "Discussed the renewal in detail" })).await;
    let id = team["id"].as_str().expect("id");
    let edit =
        "mutation ($id: ID!, $b: String!) { updateNote(id: $id, input: { body: $b }) { body } }";
    // WRITE on the contact may edit a shared note; READ may not; the customer may not.
    let by_writer = app
        .gql(
            Some(&app.token(&w.member_write)),
            edit,
            json!({ "id": id, "b": "edited by writer" }),
        )
        .await;
    assert_eq!(by_writer.data()["updateNote"]["body"], "edited by writer");
    app.gql(
        Some(&app.token(&w.member_read)),
        edit,
        json!({ "id": id, "b": "x" }),
    )
    .await
    .expect_code("FORBIDDEN");
    app.gql(
        Some(&app.token(&w.customer)),
        edit,
        json!({ "id": id, "b": "x" }),
    )
    .await
    .expect_code("NOT_FOUND");
    // Only the author may make a shared note private.
    app.gql(
        Some(&app.token(&w.member_write)),
        "mutation ($id: ID!) { updateNote(id: $id, input: { visibility: PRIVATE }) { id } }",
        json!({ "id": id }),
    )
    .await
    .expect_code("FORBIDDEN");
    // A member who only reads may not write notes at all.
    app.gql(
        Some(&app.token(&w.member_read)),
        CREATE,
        json!({ "input": { "contactId": cid, "body": "x" } }),
    )
    .await
    .expect_code("FORBIDDEN");

    // Deleting keeps a NOTE_DELETED event and takes the content out of the earlier ones.
    let deleted = app
        .gql(
            Some(&author),
            "mutation ($id: ID!) { deleteNote(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted.data()["deleteNote"], json!(id));
    app.gql(
        Some(&author),
        "query ($id: ID!) { note(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await
    .expect_code("NOT_FOUND");
    let timeline = app
        .gql(Some(&author), "query ($id: ID!) { timeline(contactId: $id, filter: { kinds: [NOTE_CREATED, NOTE_UPDATED, NOTE_DELETED] }) { edges { node { kind summary subject { __typename } } } } }", json!({ "id": cid }))
        .await;
    let events = timeline.data()["timeline"]["edges"]
        .as_array()
        .expect("edges")
        .clone();
    assert_eq!(events[0]["node"]["kind"], "NOTE_DELETED");
    assert_eq!(events.len(), 3);
    for event in &events {
        let summary = event["node"]["summary"].as_str().unwrap_or_default();
        assert!(
            !summary.contains("Renewal") && !summary.contains("edited"),
            "{summary}"
        );
        assert!(event["node"]["subject"].is_null());
    }
}

#[tokio::test]
async fn html_is_sanitised_and_templates_fill_the_note() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let cid = contact_id(w.contact);
    let dirty = r#"<p onmouseover="steal()">Hello <script>alert('x')</script><img src="a.png" onerror="alert(1)"> <a href="javascript:alert(2)">click</a> <a href="https://example.com">site</a></p>"#;
    let note = create_note(
        &app,
        &owner,
        json!({ "contactId": cid, "subject": "HTML", "bodyHtml": dirty }),
    )
    .await;
    let html = note["bodyHtml"].as_str().expect("html");
    for bad in ["<script", "onerror", "onmouseover", "javascript:"] {
        assert!(!html.contains(bad), "{bad} survived: {html}");
    }
    assert!(
        html.contains("https://example.com") && html.contains("Hello"),
        "{html}"
    );

    let template = app
        .gql(Some(&owner), "mutation { createMessageTemplate(input: { name: \"Follow-up\", subject: \"Hello {{contact.name}}\", body: \"Dear {{ contact.name }}, {{user.name}} will call {{contact.phone}} on {{date}}. {{unknown}}\" }) { id } }", json!({}))
        .await;
    let template_id = template.data()["createMessageTemplate"]["id"].clone();
    let filled = create_note(
        &app,
        &owner,
        json!({ "contactId": cid, "templateId": template_id }),
    )
    .await;
    assert_eq!(filled["subject"], "Hello Grace Hopper");
    let body = filled["body"].as_str().expect("body");
    assert!(
        body.starts_with("Dear Grace Hopper, owner will call +14155550100 on 20"),
        "{body}"
    );
    assert!(body.ends_with("{{unknown}}"), "{body}");
    // What is given wins over the template.
    let own = create_note(
        &app,
        &owner,
        json!({ "contactId": cid, "templateId": template_id, "subject": "Mine" }),
    )
    .await;
    assert_eq!(own["subject"], "Mine");

    // Labels, type and the record elsewhere come back as set.
    let label = app
        .gql(
            Some(&owner),
            "mutation { createLabel(input: { name: \"vip\", color: \"#FF0000\" }) { id color } }",
            json!({}),
        )
        .await;
    assert_eq!(label.data()["createLabel"]["color"], "#ff0000");
    let kind = app
        .gql(
            Some(&owner),
            "mutation { createTaskType(input: { name: \"Call\" }) { id } }",
            json!({}),
        )
        .await;
    let labelled = create_note(
        &app,
        &owner,
        json!({ "contactId": cid, "body": "Order question", "labelIds": [label.data()["createLabel"]["id"]], "typeId": kind.data()["createTaskType"]["id"], "attachedTo": { "kind": "Order", "id": "SO-1001" } }),
    )
    .await;
    assert_eq!(labelled["labels"], json!([{ "name": "vip" }]));
    assert_eq!(labelled["type"], json!({ "name": "Call" }));
    assert_eq!(
        labelled["attachedTo"],
        json!({ "kind": "order", "id": "SO-1001" })
    );
    let by_record = app.gql(Some(&owner), "{ notes(filter: { attachedTo: { kind: \"order\", id: \"SO-1001\" } }) { totalCount } }", json!({})).await;
    assert_eq!(by_record.data()["notes"]["totalCount"], 1);
    let by_label = app
        .gql(
            Some(&owner),
            "query ($l: [ID!]) { notes(filter: { labelIds: $l }) { totalCount } }",
            json!({ "l": [label.data()["createLabel"]["id"]] }),
        )
        .await;
    assert_eq!(by_label.data()["notes"]["totalCount"], 1);
}

#[tokio::test]
async fn create_note_with_task_and_reminder_is_all_or_nothing() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let token = app.token(&w.member_write);
    let cid = contact_id(w.contact);
    let tables = [
        "notes",
        "tasks",
        "timeline_events",
        "reminders",
        "task_tags",
    ];
    let mut before = Vec::new();
    for t in tables {
        before.push(app.count_rows(t).await);
    }
    // The embedded task is invalid (its responsible user cannot see the contact): nothing is written.
    let bad = app
        .gql(
            Some(&token),
            CREATE,
            json!({ "input": { "contactId": cid, "body": "Call back", "remindAt": "2099-01-01T09:00:00Z", "task": { "description": "Call", "responsibleId": user_id(w.member_none.id), "tags": ["renewal"] } } }),
        )
        .await;
    bad.expect_code("BAD_USER_INPUT");
    assert_eq!(bad.field(), Some("input.task.responsibleId"));
    let bad_desc = app.gql(Some(&token), CREATE, json!({ "input": { "contactId": cid, "body": "Call back", "task": { "description": "  " } } })).await;
    assert_eq!(bad_desc.field(), Some("input.task.description"));
    let mut after = Vec::new();
    for t in tables {
        after.push(app.count_rows(t).await);
    }
    assert_eq!(before, after, "a failed createNote wrote something");

    let ok = create_note(
        &app,
        &token,
        json!({ "contactId": cid, "body": "Call back", "remindAt": "2099-01-01T09:00:00Z", "task": { "description": "Call about the renewal", "tags": ["renewal"] } }),
    )
    .await;
    assert_eq!(
        ok["tasks"],
        json!([{ "description": "Call about the renewal", "status": "PLANNED", "responsible": { "email": "write@acme.test" } }])
    );
    assert_eq!(app.count_rows("reminders").await, before[3] + 1);
    app.gql(Some(&token), CREATE, json!({ "input": { "contactId": cid, "body": "late", "remindAt": "2001-01-01T00:00:00Z" } }))
        .await
        .expect_code("BAD_USER_INPUT");
}

#[tokio::test]
async fn full_text_search_finds_words_and_respects_visibility() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let writer = app.token(&w.member_write);
    create_note(&app, &writer, json!({ "contactId": cid, "subject": "Quarterly renewal", "body": "Budget approved for the platinum plan" })).await;
    create_note(&app, &writer, json!({ "contactId": cid, "subject": "Lunch", "body": "Talked about renewals and golf", "visibility": "PRIVATE" })).await;
    create_note(
        &app,
        &writer,
        json!({ "contactId": cid, "subject": "Shipping", "body": "Parcel delayed" }),
    )
    .await;
    let search = |token: String, text: &'static str| {
        let app = &app;
        async move {
            let r = app.gql(Some(&token), "query ($s: String) { notes(filter: { search: $s }) { totalCount edges { node { subject } } } }", json!({ "s": text })).await;
            let mut subjects: Vec<String> = r.data()["notes"]["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"]["subject"].as_str().unwrap_or_default().to_owned())
                .collect();
            subjects.sort();
            assert_eq!(r.data()["notes"]["totalCount"], json!(subjects.len()));
            subjects
        }
    };
    assert_eq!(
        search(writer.clone(), "platinum").await,
        ["Quarterly renewal"]
    );
    assert_eq!(
        search(writer.clone(), "QUARTERLY").await,
        ["Quarterly renewal"]
    );
    assert_eq!(
        search(writer.clone(), "renew").await,
        ["Lunch", "Quarterly renewal"]
    );
    assert_eq!(
        search(writer.clone(), "renewal budget").await,
        ["Quarterly renewal"]
    );
    assert_eq!(
        search(writer.clone(), "\"parcel\"*:^").await,
        ["Shipping"],
        "query syntax is treated as text"
    );
    assert!(search(writer.clone(), "nothing-like-this").await.is_empty());
    // The private note is the author's alone.
    assert_eq!(
        search(app.token(&w.member_read), "renew").await,
        ["Quarterly renewal"]
    );
    assert!(search(app.token(&w.member_none), "renew").await.is_empty());
}

/// A note of a page as a test sees it: its subject, its author's email, its contact's name and
/// the caller's access to that contact.
type Seen<'a> = (&'a str, Option<&'a str>, (&'a str, &'a str));

/// A notes page that shows authors and contacts reads them in its own statement (the
/// benchmark's W4, issue 15): each joined author and contact must be the note's own, under the
/// rule the loaders apply one note at a time (`note(id:)` reads them through the loaders), with
/// the caller's own access level, and none the caller may not see: a customer user sees the
/// author of a note shared with them only when that author is themselves or their consultant.
#[tokio::test]
async fn a_notes_page_reads_authors_and_contacts_as_the_loaders_do() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let alan = other_customer(&app, &w).await;
    let owner = app.token(&w.owner);
    let cid = contact_id(w.contact);
    let other = contact_id(w.other_contact);
    // The world contact's consultant is the member with WRITE: its customer user sees them.
    app.gql(
        Some(&owner),
        "mutation ($id: ID!, $c: ID!) { updateContact(id: $id, input: { consultantId: $c }) { id } }",
        json!({ "id": cid, "c": user_id(w.member_write.id) }),
    )
    .await
    .data();
    for (user, contact, subject, visibility) in [
        (&w.member_admin, &cid, "A", "TEAM"),
        (&w.member_write, &cid, "B", "CUSTOMER"),
        (&w.member_admin, &cid, "C", "CUSTOMER"),
        (&w.member_write, &cid, "D", "PRIVATE"),
        (&w.owner, &cid, "E", "TEAM"),
        (&w.owner, &other, "F", "CUSTOMER"),
        (&w.other_owner, &contact_id(w.foreign_contact), "G", "TEAM"),
    ] {
        create_note(&app, &app.token(user), json!({ "contactId": contact, "subject": subject, "body": "About the renewal", "visibility": visibility })).await;
    }
    let fields = "id subject author { id name email } contact { id name myAccess }";
    let pages = [
        format!("{{ notes(first: 50) {{ nodes {{ {fields} }} }} }}"),
        format!(
            "{{ notes(first: 50, filter: {{ search: \"renewal\" }}) {{ edges {{ node {{ {fields} }} }} }} }}"
        ),
    ];
    let one = format!("query ($id: ID!) {{ note(id: $id) {{ {fields} }} }}");
    // (who, the notes they see as (subject, author's email, (contact's name, myAccess)))
    let grace = ("Grace Hopper", "READ");
    let expected: Vec<(&str, &entity::user::Model, Vec<Seen>)> = vec![
        (
            "owner",
            &w.owner,
            vec![
                ("A", Some("madmin@acme.test"), ("Grace Hopper", "ADMIN")),
                ("B", Some("write@acme.test"), ("Grace Hopper", "ADMIN")),
                ("C", Some("madmin@acme.test"), ("Grace Hopper", "ADMIN")),
                ("E", Some("owner@acme.test"), ("Grace Hopper", "ADMIN")),
                ("F", Some("owner@acme.test"), ("Alan Turing", "ADMIN")),
            ],
        ),
        (
            "admin",
            &w.admin,
            vec![
                ("A", Some("madmin@acme.test"), ("Grace Hopper", "ADMIN")),
                ("B", Some("write@acme.test"), ("Grace Hopper", "ADMIN")),
                ("C", Some("madmin@acme.test"), ("Grace Hopper", "ADMIN")),
                ("E", Some("owner@acme.test"), ("Grace Hopper", "ADMIN")),
                ("F", Some("owner@acme.test"), ("Alan Turing", "ADMIN")),
            ],
        ),
        (
            "member with READ",
            &w.member_read,
            vec![
                ("A", Some("madmin@acme.test"), grace),
                ("B", Some("write@acme.test"), grace),
                ("C", Some("madmin@acme.test"), grace),
                ("E", Some("owner@acme.test"), grace),
            ],
        ),
        (
            "member with WRITE",
            &w.member_write,
            vec![
                ("A", Some("madmin@acme.test"), ("Grace Hopper", "WRITE")),
                ("B", Some("write@acme.test"), ("Grace Hopper", "WRITE")),
                ("C", Some("madmin@acme.test"), ("Grace Hopper", "WRITE")),
                ("D", Some("write@acme.test"), ("Grace Hopper", "WRITE")),
                ("E", Some("owner@acme.test"), ("Grace Hopper", "WRITE")),
            ],
        ),
        (
            "member with ADMIN",
            &w.member_admin,
            vec![
                ("A", Some("madmin@acme.test"), ("Grace Hopper", "ADMIN")),
                ("B", Some("write@acme.test"), ("Grace Hopper", "ADMIN")),
                ("C", Some("madmin@acme.test"), ("Grace Hopper", "ADMIN")),
                ("E", Some("owner@acme.test"), ("Grace Hopper", "ADMIN")),
            ],
        ),
        ("member without grant", &w.member_none, vec![]),
        (
            "the contact's customer user",
            &w.customer,
            vec![("B", Some("write@acme.test"), grace), ("C", None, grace)],
        ),
        (
            "another contact's customer user",
            &alan,
            vec![("F", None, ("Alan Turing", "READ"))],
        ),
        (
            "other organization",
            &w.other_owner,
            vec![("G", Some("owner@other.test"), ("Foreign Person", "ADMIN"))],
        ),
    ];
    for (who, user, notes) in expected {
        let token = app.token(user);
        for page in &pages {
            let answer = app.gql(Some(&token), page, json!({})).await;
            let data = answer.data();
            let nodes: Vec<Value> = match data["notes"]["nodes"].as_array() {
                Some(nodes) => nodes.clone(),
                None => data["notes"]["edges"]
                    .as_array()
                    .expect("edges")
                    .iter()
                    .map(|e| e["node"].clone())
                    .collect(),
            };
            let mut seen: Vec<Seen> = nodes
                .iter()
                .map(|n| {
                    (
                        n["subject"].as_str().unwrap_or_default(),
                        n["author"]["email"].as_str(),
                        (
                            n["contact"]["name"].as_str().unwrap_or_default(),
                            n["contact"]["myAccess"].as_str().unwrap_or_default(),
                        ),
                    )
                })
                .collect();
            seen.sort();
            assert_eq!(seen, notes, "{who}: {page}");
            // Each note as the loaders read it, one at a time: the same author and contact.
            for node in &nodes {
                let alone = app
                    .gql(Some(&token), &one, json!({ "id": node["id"] }))
                    .await;
                assert_eq!(&alone.data()["note"], node, "{who}: {page}");
            }
        }
    }
    // The same through the contact's own notes, as its customer user.
    let answer = app
        .gql(
            Some(&app.token(&w.customer)),
            &format!(
                "query ($id: ID!) {{ contact(id: $id) {{ notes {{ nodes {{ {fields} }} }} }} }}"
            ),
            json!({ "id": cid }),
        )
        .await;
    let nodes = answer.data()["contact"]["notes"]["nodes"].clone();
    let authors: Vec<Option<&str>> = nodes
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["author"]["email"].as_str())
        .collect();
    // Newest first: C (by a member who is not the consultant), then B (by the consultant).
    assert_eq!(authors, [None, Some("write@acme.test")]);
}

#[tokio::test]
async fn settings_are_for_owners_and_admins() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let outcomes = app
        .gql(
            Some(&app.token(&w.member_read)),
            "{ outcomes { code name } }",
            json!({}),
        )
        .await;
    assert_eq!(
        outcomes.data()["outcomes"],
        json!([{ "code": "CANCELLED", "name": "Cancelled" }, { "code": "NEGATIVE", "name": "Negative" }, { "code": "POSITIVE", "name": "Positive" }, { "code": "SOLD", "name": "Sold" }])
    );
    for (mutation, who, code) in [
        (
            "mutation { createLabel(input: { name: \"x\" }) { id } }",
            &w.member_admin,
            Some("FORBIDDEN"),
        ),
        (
            "mutation { createOutcome(input: { name: \"Won\" }) { id } }",
            &w.member_write,
            Some("FORBIDDEN"),
        ),
        (
            "mutation { createTaskType(input: { name: \"Visit\" }) { id } }",
            &w.customer,
            Some("FORBIDDEN"),
        ),
        (
            "mutation { createLabel(input: { name: \"x\", color: \"red\" }) { id } }",
            &w.admin,
            Some("BAD_USER_INPUT"),
        ),
        (
            "mutation { createOutcome(input: { name: \"Sold\" }) { id } }",
            &w.admin,
            Some("CONFLICT"),
        ),
        (
            "mutation { createTaskType(input: { name: \"Visit\", nextDelayMinutes: -5 }) { id } }",
            &w.admin,
            Some("BAD_USER_INPUT"),
        ),
        (
            "mutation { createMessageTemplate(input: { name: \"T\", body: \"b\" }) { id } }",
            &w.admin,
            None,
        ),
    ] {
        let r = app.gql(Some(&app.token(who)), mutation, json!({})).await;
        assert_eq!(r.code(), code, "{mutation}: {}", r.body);
    }
    let owner = app.token(&w.owner);
    let label = app
        .gql(
            Some(&owner),
            "mutation { createLabel(input: { name: \"hot\" }) { id } }",
            json!({}),
        )
        .await;
    let id = label.data()["createLabel"]["id"].clone();
    let renamed = app
        .gql(
            Some(&owner),
            "mutation ($id: ID!) { updateLabel(id: $id, input: { name: \"warm\" }) { name } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(renamed.data()["updateLabel"]["name"], "warm");
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { deleteLabel(id: $id) }",
        json!({ "id": id }),
    )
    .await
    .data();
    let labels = app
        .gql(Some(&owner), "{ labels { name } }", json!({}))
        .await;
    assert_eq!(labels.data()["labels"], json!([]));
    // Another organization's settings are out of reach.
    let other = app
        .gql(
            Some(&app.token(&w.other_owner)),
            "mutation ($id: ID!) { deleteLabel(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    other.expect_code("NOT_FOUND");
}
