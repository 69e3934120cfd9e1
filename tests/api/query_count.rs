//! No N+1: a page of contacts with their emails, phones, consultant and collaborators takes
//! the same number of SQL statements for 5 contacts as for 50; the contact page, the inbox and
//! the note search (the benchmark's W1, W2 and W4) take the statements pinned below.

use serde_json::{Value, json};
use threadline::{
    auth::Role,
    service::{access::AccessLevel, channels, collaborators},
};

use crate::helpers::{
    Gql, TestApp, actor, channel_id, contact, contact_id, phone_channel, spawn_app, staff, world,
};

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

/// The benchmark's W5 (`bench/src/workload.rs`): a member writes a note with a label and a
/// task for themselves.
const CREATE_NOTE: &str = "mutation CreateNote($input: CreateNoteInput!) {
  createNote(input: $input) { id labels { id } tasks { id status } }
}";

/// W5 in as few statements as its guarantees allow, counted beyond what every request costs
/// (`{ __typename }`: the check that the caller is still active): the contact with the
/// caller's grant, the label, the note, its label, the task, the contact's stream lock
/// (PostgreSQL only), the webhook endpoints (the outbox), both timeline events in one
/// statement, and one `NOTIFY` (on SQLite the in-process bus's statement) for both events. The
/// answer's labels and task are what the transaction wrote, not read back. Before issue 15's
/// fix it took 19 on PostgreSQL and 17 on SQLite.
#[tokio::test]
async fn a_note_with_a_label_and_a_task_takes_a_fixed_number_of_statements() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let member = app.token(&w.member_write);
    let label = id_of(
        &app,
        &owner,
        "mutation { createLabel(input: { name: \"Hot\" }) { id } }",
        json!({}),
    )
    .await;
    let input = |i: usize| {
        json!({ "input": {
            "contactId": contact_id(w.contact),
            "subject": "Benchmark note",
            "body": format!("Note {i} about the renewal"),
            "labelIds": [label],
            "task": {
                "description": "Follow up on the benchmark note",
                "responsibleId": crate::helpers::user_id(w.member_write.id),
            },
        } })
    };
    // The first request of a process may read what later ones find cached.
    app.gql(Some(&member), CREATE_NOTE, input(0)).await.data();

    let before = app.statements().await;
    app.gql(Some(&member), "{ __typename }", json!({}))
        .await
        .data();
    let per_request = app.statements().await - before;

    let mut events = 0;
    for i in 1..=3 {
        let before = app.statements().await;
        let answer = app.gql(Some(&member), CREATE_NOTE, input(i)).await;
        let statements = app.statements().await - before;
        let note = &answer.data()["createNote"];
        assert_eq!(note["labels"], json!([{ "id": label }]), "{note}");
        assert_eq!(note["tasks"][0]["status"], "PLANNED", "{note}");
        assert_eq!(note["tasks"].as_array().map(Vec::len), Some(1), "{note}");
        let expected = match app.db.get_database_backend() {
            sea_orm::DbBackend::Postgres => 9,
            _ => 8,
        };
        assert_eq!(
            statements - per_request,
            expected,
            "createNote with a label and a task: {statements} statements, {per_request} of them \
             every request's"
        );
        events += 1;
    }

    // What was answered without reading back is what a read finds, and every write recorded
    // both of its events.
    let read = app
        .gql(
            Some(&member),
            "query ($id: ID!) { contact(id: $id) { notes(first: 10) { nodes { labels { id } tasks { status description } } } timeline(first: 20) { nodes { kind } } } }",
            json!({ "id": contact_id(w.contact) }),
        )
        .await;
    let contact = &read.data()["contact"];
    let notes = contact["notes"]["nodes"].as_array().expect("notes");
    assert_eq!(notes.len(), events + 1);
    for note in notes {
        assert_eq!(note["labels"], json!([{ "id": label }]));
        assert_eq!(
            note["tasks"],
            json!([{ "status": "PLANNED", "description": "Follow up on the benchmark note" }])
        );
    }
    let kinds: Vec<&str> = contact["timeline"]["nodes"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for kind in ["NOTE_CREATED", "TASK_CREATED"] {
        assert_eq!(
            kinds.iter().filter(|k| **k == kind).count(),
            events + 1,
            "{kind} in {kinds:?}"
        );
    }
}

/// The benchmark's W1, a contact page (bench/src/workload.rs): the contact and its newest
/// timeline events, each with its actor and subject.
const CONTACT_PAGE: &str = "query ContactPage($id: ID!) {
  contact(id: $id) {
    id
    name
    timeline(first: 50) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        occurredAt
        kind
        summary
        actor { id name }
        subject {
          __typename
          ... on Contact { id name }
          ... on Note { id subject }
          ... on Task { id description status }
          ... on Message { id body direction }
          ... on Reminder { id remindAt }
        }
      }
    }
  }
}";

/// The benchmark's W2, a member's inbox: conversations with unread counts, contact and channel.
const INBOX: &str = "query Inbox {
  conversations(first: 50) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      lastMessageAt
      unreadCount
      contact { id name myAccess }
      channel { id displayName myAccess }
    }
  }
}";

/// What `query` costs in statements as `token`, beyond what any request of that caller costs
/// before its fields read anything (the caller check, measured with `{ __typename }` after a
/// first request, so that a cached caller counts as cached): the statements of the fields.
async fn field_statements(app: &TestApp, token: &str, query: &str, variables: Value) -> (u64, Gql) {
    app.gql(Some(token), "{ __typename }", json!({}))
        .await
        .data();
    let before = app.statements().await;
    app.gql(Some(token), "{ __typename }", json!({}))
        .await
        .data();
    let per_request = app.statements().await - before;
    let before = app.statements().await;
    let answer = app.gql(Some(token), query, variables).await;
    let total = app.statements().await - before;
    (total - per_request, answer)
}

#[tokio::test]
async fn the_contact_page_and_the_inbox_read_their_rows_in_one_statement_each() {
    let app = spawn_app().await;
    let org = crate::helpers::new_org(&app.db, "Pages").await;
    let owner = staff(&app.db, org, "owner@pages.test", Role::Owner).await;
    let member = staff(&app.db, org, "member@pages.test", Role::Member).await;
    let owner_actor = actor(&owner);
    let (granted, hidden) = (
        phone_channel(&app, &owner, "+14155550201").await,
        phone_channel(&app, &owner, "+14155550202").await,
    );
    channels::grant(&app.db, &owner_actor, granted, member.id, AccessLevel::Read)
        .await
        .expect("channel grant");
    let owner_token = app.token(&owner);
    let member_token = app.token(&member);

    // One contact with every kind of event: notes (shared, and private to either user), tasks,
    // messages on a channel the member reads and on one they do not.
    let page_contact = contact(&app.db, &owner, "Page Contact").await;
    collaborators::grant(
        &app.db,
        &owner_actor,
        page_contact,
        member.id,
        AccessLevel::Write,
    )
    .await
    .expect("grant");
    let cid = contact_id(page_contact);
    let note = "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }";
    for (token, visibility, subject) in [
        (&owner_token, "TEAM", "Shared"),
        (&owner_token, "PRIVATE", "Owner only"),
        (&member_token, "PRIVATE", "Member only"),
    ] {
        app.gql(Some(token), note, json!({ "input": { "contactId": cid, "subject": subject, "body": "text", "visibility": visibility } }))
            .await
            .data();
    }
    let task = "mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }";
    app.gql(
        Some(&member_token),
        task,
        json!({ "input": { "contactId": cid, "description": "Call back" } }),
    )
    .await
    .data();
    for line in [granted, hidden] {
        let vars = json!({ "c": cid, "ch": channel_id(line), "b": "Hello" });
        app.gql(Some(&owner_token), SEND, vars).await.data();
    }

    // W1 as the owner and as the member: the contact, then the events with their actors and
    // subjects joined in (access rules in the joins).
    for (who, token, messages, notes) in [
        ("owner", &owner_token, 2, ["Shared", "Owner only"]),
        ("member", &member_token, 1, ["Shared", "Member only"]),
    ] {
        let (statements, answer) =
            field_statements(&app, token, CONTACT_PAGE, json!({ "id": cid })).await;
        assert_eq!(statements, 2, "W1 statements as the {who}");
        let events = answer.data()["contact"]["timeline"]["nodes"]
            .as_array()
            .expect("events")
            .clone();
        for event in &events {
            assert!(event["actor"]["name"].is_string(), "{who}: {event}");
            assert!(event["subject"]["__typename"].is_string(), "{who}: {event}");
        }
        let of = |kind: &str| -> Vec<Value> {
            events
                .iter()
                .filter(|e| e["subject"]["__typename"] == kind)
                .map(|e| e["subject"].clone())
                .collect()
        };
        let mut seen: Vec<String> = of("Note")
            .iter()
            .filter_map(|n| n["subject"].as_str().map(str::to_owned))
            .collect();
        seen.sort();
        let mut expected = notes.map(str::to_owned).to_vec();
        expected.sort();
        assert_eq!(seen, expected, "notes as the {who}");
        assert_eq!(of("Message").len(), messages, "{who}");
        assert_eq!(of("Task")[0]["description"], "Call back", "{who}");
    }

    // W2: the member's inbox, one conversation per contact they read over the granted
    // channel (and none over the other), with contact, channel and unread count in the page's
    // own statement.
    for i in 0..6 {
        let id = contact(&app.db, &owner, &format!("Inbox {i}")).await;
        collaborators::grant(&app.db, &owner_actor, id, member.id, AccessLevel::Read)
            .await
            .expect("grant");
        for line in [granted, hidden] {
            let vars = json!({ "c": contact_id(id), "ch": channel_id(line), "b": "Hi" });
            app.gql(Some(&owner_token), INBOUND, vars.clone())
                .await
                .data();
            app.gql(Some(&owner_token), INBOUND, vars).await.data();
        }
    }
    let (statements, answer) = field_statements(&app, &member_token, INBOX, json!({})).await;
    assert_eq!(statements, 1, "W2 statements");
    let nodes = answer.data()["conversations"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    // The six inbound pairs, and the page contact's outbound message on the granted channel.
    assert_eq!(nodes.len(), 7);
    for node in &nodes {
        assert_eq!(node["channel"]["myAccess"], "READ", "{node}");
        assert!(node["contact"]["name"].is_string(), "{node}");
        let unread = if node["contact"]["name"] == "Page Contact" {
            0
        } else {
            2
        };
        assert_eq!(node["unreadCount"], unread, "{node}");
        let access = if unread == 0 { "WRITE" } else { "READ" };
        assert_eq!(node["contact"]["myAccess"], access, "{node}");
    }
    // The owner reads every conversation of both channels, with ADMIN on each, the same way.
    let (statements, answer) = field_statements(&app, &owner_token, INBOX, json!({})).await;
    assert_eq!(statements, 1, "W2 statements as the owner");
    let nodes = answer.data()["conversations"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    assert_eq!(nodes.len(), 14);
    assert!(
        nodes
            .iter()
            .all(|n| n["contact"]["myAccess"] == "ADMIN" && n["channel"]["myAccess"] == "ADMIN")
    );
}

/// The benchmark's W4 (`bench/src/workload.rs`): a member searches notes by a word, 20 a
/// page, with each note's author and contact.
const NOTE_SEARCH: &str = "query NoteSearch($q: String!) {
  notes(first: 20, filter: { search: $q }) {
    pageInfo { hasNextPage endCursor }
    nodes { id subject body createdAt author { id name } contact { id name } }
  }
}";

/// W4 reads the page of notes (through the full-text index) with their authors and contacts
/// joined in, in one statement, as the member and as the owner; the plain listing and a
/// contact's notes do the same. Before issue 15's fix it took 3: the page, then one loader
/// batch for the authors and one for the contacts.
#[tokio::test]
async fn the_note_search_reads_its_page_with_authors_and_contacts_in_one_statement() {
    let app = spawn_app().await;
    let org = crate::helpers::new_org(&app.db, "Search").await;
    let owner = staff(&app.db, org, "owner@search.test", Role::Owner).await;
    let member = staff(&app.db, org, "member@search.test", Role::Member).await;
    let colleague = staff(&app.db, org, "colleague@search.test", Role::Member).await;
    let owner_actor = actor(&owner);
    let owner_token = app.token(&owner);
    let member_token = app.token(&member);
    let colleague_token = app.token(&colleague);
    let note = "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }";
    // Three contacts the member reads or writes, one they have no grant on; 40 notes by three
    // authors match "renewal" (more than a page for either caller), a few private ones.
    let mut contacts = Vec::new();
    for (i, level) in [
        Some(AccessLevel::Read),
        Some(AccessLevel::Write),
        Some(AccessLevel::Write),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let id = contact(&app.db, &owner, &format!("Search {i}")).await;
        collaborators::grant(&app.db, &owner_actor, id, colleague.id, AccessLevel::Write)
            .await
            .expect("grant");
        if let Some(level) = level {
            collaborators::grant(&app.db, &owner_actor, id, member.id, level)
                .await
                .expect("grant");
        }
        contacts.push(id);
    }
    for i in 0..40 {
        // The member writes on the contacts they may write to.
        let writers = match i % 4 {
            1 | 2 => vec![&owner_token, &member_token, &colleague_token],
            _ => vec![&owner_token, &colleague_token],
        };
        let token = writers[i / 4 % writers.len()];
        let visibility = if i % 7 == 0 { "PRIVATE" } else { "TEAM" };
        let input = json!({ "input": {
            "contactId": contact_id(contacts[i % 4]),
            "subject": format!("Renewal {i}"),
            "body": "Talked about the renewal",
            "visibility": visibility,
        } });
        app.gql(Some(token), note, input).await.data();
    }

    for (who, token) in [("member", &member_token), ("owner", &owner_token)] {
        let (statements, answer) =
            field_statements(&app, token, NOTE_SEARCH, json!({ "q": "renewal" })).await;
        assert_eq!(statements, 1, "W4 statements as the {who}");
        let notes = &answer.data()["notes"];
        let nodes = notes["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), 20, "{who}");
        assert_eq!(notes["pageInfo"]["hasNextPage"], true, "{who}");
        for node in nodes {
            assert!(node["author"]["name"].is_string(), "{who}: {node}");
            assert!(node["contact"]["name"].is_string(), "{who}: {node}");
            if who == "member" {
                assert_ne!(node["contact"]["name"], "Search 3", "{node}");
            }
        }
        // The plain listing and one contact's notes share the page's code: one statement too.
        let plain =
            "{ notes(first: 20) { nodes { id author { id name } contact { id name myAccess } } } }";
        let (statements, _) = field_statements(&app, token, plain, json!({})).await;
        assert_eq!(statements, 1, "the plain listing as the {who}");
        let of_contact = "query ($id: ID!) { contact(id: $id) { notes(first: 20) { nodes { id author { name } contact { name } } } } }";
        let (statements, _) = field_statements(
            &app,
            token,
            of_contact,
            json!({ "id": contact_id(contacts[1]) }),
        )
        .await;
        assert_eq!(statements, 2, "the contact, then its notes as the {who}");
    }
}

const SEND: &str = "mutation ($c: ID!, $ch: ID!, $b: String!) { sendMessage(input: { contactId: $c, channelId: $ch, body: $b }) { id } }";
const INBOUND: &str = "mutation ($c: ID!, $ch: ID!, $b: String!) { recordInboundMessage(input: { contactId: $c, channelId: $ch, body: $b }) { id } }";
