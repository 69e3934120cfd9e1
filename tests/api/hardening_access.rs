//! Regression tests for issue 9 (access side): each fails on the code before the fix.

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use threadline::{
    ids::{self, Kind},
    service::{access::AccessLevel, channels, collaborators},
};

use super::helpers::*;

fn encode(kind: Kind, id: i64) -> String {
    ids::encode(kind, id)
}

/// Sends a GraphQL multipart request with one file per `(variable path, name, bytes)`.
async fn upload(
    app: &TestApp,
    token: &str,
    query: &str,
    variables: Value,
    files: Vec<(&str, &str, Vec<u8>)>,
) -> Gql {
    let mut map = serde_json::Map::new();
    for (i, (path, _, _)) in files.iter().enumerate() {
        map.insert(i.to_string(), json!([path]));
    }
    let mut form = Form::new()
        .text(
            "operations",
            json!({ "query": query, "variables": variables }).to_string(),
        )
        .text("map", Value::Object(map).to_string());
    for (i, (_, name, bytes)) in files.into_iter().enumerate() {
        let part = Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str("text/plain")
            .expect("mime");
        form = form.part(i.to_string(), part);
    }
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("sent");
    Gql {
        body: response.json().await.expect("JSON body"),
    }
}

/// Every file under the data directory (stored attachments and leftover temporary files).
fn files_on_disk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

const CREATE_NOTE: &str = "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id attachments { sha256 } } }";
const ADD_FILE: &str =
    "mutation ($n: ID!, $f: Upload!) { addAttachment(noteId: $n, file: $f) { id } }";

/// A channel of the world's organization, with `WRITE` on it for `member`.
async fn channel_for(app: &TestApp, w: &World, member: &entity::user::Model) -> i64 {
    let owner = actor(&w.owner);
    let line = channels::create(
        &app.db,
        &owner,
        channels::ChannelKind::Phone,
        "+14155550123",
        "Support line",
    )
    .await
    .expect("channel")
    .channel
    .id;
    channels::grant(&app.db, &owner, line, member.id, AccessLevel::Write)
        .await
        .expect("channel grant");
    line
}

// Item 1: a mutation must not return (or reveal) what the caller may not read.

#[tokio::test]
async fn message_mutations_do_not_reveal_contacts_the_caller_cannot_see() {
    let app = spawn_app().await;
    let w = world(&app).await;
    // member_none: WRITE on the channel, no grant on any contact.
    let line = channel_for(&app, &w, &w.member_none).await;
    let chid = encode(Kind::Channel, line);
    let inbound = "mutation ($c: ID!, $ch: ID!) { recordInboundMessage(input: { contactId: $c, channelId: $ch, body: \"my card number is 4111\" }) { id body } }";
    let recorded = app
        .gql(
            Some(&app.token(&w.owner)),
            inbound,
            json!({ "c": contact_id(w.other_contact), "ch": chid }),
        )
        .await;
    let message = recorded.data()["recordInboundMessage"]["id"].clone();

    // The channel grant alone does not let the member read (or change) the message.
    let member = app.token(&w.member_none);
    let status =
        "mutation ($id: ID!) { updateMessageStatus(id: $id, status: FAILED) { body status } }";
    let answer = app
        .gql(Some(&member), status, json!({ "id": message }))
        .await;
    answer.expect_code("NOT_FOUND");
    assert!(!answer.body.to_string().contains("4111"), "{}", answer.body);
    let customer = app
        .gql(
            Some(&app.token(&w.customer)),
            status,
            json!({ "id": message }),
        )
        .await;
    customer.expect_code("NOT_FOUND");
    let check = app
        .gql(
            Some(&app.token(&w.owner)),
            "query ($id: ID!) { node(id: $id) { ... on Message { status } } }",
            json!({ "id": message }),
        )
        .await;
    assert_eq!(check.data()["node"]["status"], "DELIVERED");

    // recordInboundMessage: a hidden contact and a missing one answer the same NOT_FOUND.
    let hidden = app
        .gql(
            Some(&member),
            inbound,
            json!({ "c": contact_id(w.other_contact), "ch": chid }),
        )
        .await;
    let missing = app
        .gql(
            Some(&member),
            inbound,
            json!({ "c": contact_id(w.other_contact + 1000), "ch": chid }),
        )
        .await;
    assert_eq!(
        hidden.expect_code("NOT_FOUND"),
        missing.expect_code("NOT_FOUND")
    );
    assert_eq!(
        app.count_rows("messages").await,
        1,
        "nothing recorded for the member"
    );

    // With read access to the contact too, the member records and updates messages.
    collaborators::grant(
        &app.db,
        &actor(&w.owner),
        w.other_contact,
        w.member_none.id,
        AccessLevel::Read,
    )
    .await
    .expect("grant");
    let updated = app
        .gql(Some(&member), status, json!({ "id": message }))
        .await;
    assert_eq!(updated.data()["updateMessageStatus"]["status"], "FAILED");
    let own = app
        .gql(
            Some(&member),
            inbound,
            json!({ "c": contact_id(w.other_contact), "ch": chid }),
        )
        .await;
    assert!(own.data()["recordInboundMessage"]["id"].is_string());
}

#[tokio::test]
async fn user_arguments_do_not_reveal_hidden_customer_users() {
    let app = spawn_app().await;
    let w = world(&app).await;
    // The customer user of a contact member_admin cannot see.
    let hidden = threadline::service::users::insert_unchecked(
        &app.db,
        w.owner.organization_id,
        &threadline::service::users::CreateUser {
            email: "alan@customer.test".into(),
            name: "Alan Turing".into(),
            kind: threadline::service::users::NewUserKind::Customer(w.other_contact),
        },
    )
    .await
    .expect("customer");
    let token = app.token(&w.member_admin);
    let cid = contact_id(w.contact);
    let grant = "mutation ($c: ID!, $u: ID!) { grantCollaborator(contactId: $c, userId: $u, access: READ) { id } }";
    let consultant =
        "mutation ($c: ID!, $u: ID!) { updateContact(id: $c, input: { consultantId: $u }) { id } }";
    let task = "mutation ($c: ID!, $u: ID!) { createTask(input: { contactId: $c, description: \"Call\", responsibleId: $u }) { id } }";
    for query in [grant, consultant, task] {
        // Hidden: exactly like a user that does not exist.
        let answer = app
            .gql(
                Some(&token),
                query,
                json!({ "c": cid, "u": user_id(hidden.id) }),
            )
            .await;
        let missing = app
            .gql(
                Some(&token),
                query,
                json!({ "c": cid, "u": user_id(hidden.id + 100) }),
            )
            .await;
        assert_eq!(
            answer.expect_code("NOT_FOUND"),
            missing.expect_code("NOT_FOUND")
        );
        // Visible (the customer user of their own contact): told why it does not fit.
        app.gql(
            Some(&token),
            query,
            json!({ "c": cid, "u": user_id(w.customer.id) }),
        )
        .await
        .expect_code("BAD_USER_INPUT");
    }
}

// Item 5: uploads are stored only after the rights are checked, are removed when the note
// fails, and count against the organization's quota.

#[tokio::test]
async fn a_refused_upload_leaves_nothing_on_disk() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    for (user, code) in [
        (&w.member_read, "FORBIDDEN"),
        (&w.customer, "FORBIDDEN"),
        (&w.member_none, "NOT_FOUND"),
    ] {
        let answer = upload(
            &app,
            &app.token(user),
            CREATE_NOTE,
            json!({ "input": { "contactId": cid, "body": "with a file", "attachments": [null, null] } }),
            vec![
                ("variables.input.attachments.0", "a.txt", vec![b'a'; 4000]),
                ("variables.input.attachments.1", "b.txt", vec![b'b'; 4000]),
            ],
        )
        .await;
        answer.expect_code(code);
        assert_eq!(
            files_on_disk(app.data_dir.path()),
            Vec::<std::path::PathBuf>::new(),
            "{}",
            user.email
        );
    }
    assert_eq!(app.count_rows("notes").await, 0);
    assert_eq!(app.count_rows("attachments").await, 0);
}

#[tokio::test]
async fn uploads_of_a_failed_note_are_removed_unless_shared() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let writer = app.token(&w.member_write);
    let kept = upload(
        &app,
        &writer,
        CREATE_NOTE,
        json!({ "input": { "contactId": cid, "body": "first", "attachments": [null] } }),
        vec![(
            "variables.input.attachments.0",
            "shared.txt",
            b"shared bytes".to_vec(),
        )],
    )
    .await;
    assert!(kept.data()["createNote"]["id"].is_string());
    let stored = files_on_disk(app.data_dir.path());
    assert_eq!(stored.len(), 1);

    // The note fails after the files were stored (an unknown label): the new file goes, the
    // one another note references stays.
    let failed = upload(
        &app,
        &writer,
        CREATE_NOTE,
        json!({ "input": { "contactId": cid, "body": "second", "labelIds": [encode(Kind::Label, 999)], "attachments": [null, null] } }),
        vec![
            ("variables.input.attachments.0", "shared.txt", b"shared bytes".to_vec()),
            ("variables.input.attachments.1", "new.txt", b"brand new bytes".to_vec()),
        ],
    )
    .await;
    failed.expect_code("NOT_FOUND");
    assert_eq!(files_on_disk(app.data_dir.path()), stored);
    assert_eq!(app.count_rows("notes").await, 1);
    assert_eq!(app.count_rows("attachments").await, 1);
}

#[tokio::test]
async fn uploads_over_the_organization_quota_are_refused() {
    let app = spawn_app_with_config(|c| c.org_upload_quota_bytes = 1000).await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let writer = app.token(&w.member_write);
    let first = upload(
        &app,
        &writer,
        CREATE_NOTE,
        json!({ "input": { "contactId": cid, "body": "first", "attachments": [null] } }),
        vec![("variables.input.attachments.0", "a.txt", vec![b'a'; 600])],
    )
    .await;
    let note = first.data()["createNote"]["id"].clone();
    let stored = files_on_disk(app.data_dir.path());

    // 600 + 600 > 1000: refused with a message naming the quota, nothing new kept.
    let second = upload(
        &app,
        &writer,
        CREATE_NOTE,
        json!({ "input": { "contactId": cid, "body": "second", "attachments": [null] } }),
        vec![("variables.input.attachments.0", "b.txt", vec![b'b'; 600])],
    )
    .await;
    let message = second.expect_code("BAD_USER_INPUT");
    assert!(message.contains("quota is 1000 bytes"), "{message}");
    assert_eq!(second.field(), Some("input.attachments[0]"));
    let added = upload(
        &app,
        &writer,
        ADD_FILE,
        json!({ "n": note, "f": null }),
        vec![("variables.f", "c.txt", vec![b'c'; 600])],
    )
    .await;
    added.expect_code("BAD_USER_INPUT");
    assert_eq!(files_on_disk(app.data_dir.path()), stored);
    assert_eq!(app.count_rows("attachments").await, 1);

    // What still fits is accepted; the quota is per organization.
    let small = upload(
        &app,
        &writer,
        ADD_FILE,
        json!({ "n": note, "f": null }),
        vec![("variables.f", "d.txt", vec![b'd'; 300])],
    )
    .await;
    assert!(small.data()["addAttachment"]["id"].is_string());
    let other = upload(
        &app,
        &app.token(&w.other_owner),
        CREATE_NOTE,
        json!({ "input": { "contactId": contact_id(w.foreign_contact), "body": "x", "attachments": [null] } }),
        vec![("variables.input.attachments.0", "e.txt", vec![b'e'; 900])],
    )
    .await;
    assert!(other.data()["createNote"]["id"].is_string());
}

// Item 7: customer users see what is shared with them, not the organization's internals.

#[tokio::test]
async fn customer_users_do_not_read_internal_settings() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let label = app
        .gql(
            Some(&owner),
            "mutation { createLabel(input: { name: \"Churn risk\" }) { id } }",
            json!({}),
        )
        .await
        .data()["createLabel"]["id"]
        .clone();
    let template = app
        .gql(
            Some(&owner),
            "mutation { createMessageTemplate(input: { name: \"Dunning\", body: \"Pay up, {{contact.name}}\" }) { id } }",
            json!({}),
        )
        .await
        .data()["createMessageTemplate"]["id"]
        .clone();
    let cid = contact_id(w.contact);
    // A label, custom fields and a consultant (whose role is internal) on the customer's contact.
    app.gql(
        Some(&owner),
        "mutation ($id: ID!, $l: ID!, $u: ID!) { updateContact(id: $id, input: { labelIds: [$l], customFields: { creditScore: 420 }, consultantId: $u }) { id } }",
        json!({ "id": cid, "l": label, "u": user_id(w.member_write.id) }),
    )
    .await
    .data();
    let type_id = app
        .gql(
            Some(&owner),
            "mutation { createTaskType(input: { name: \"Collections call\" }) { id } }",
            json!({}),
        )
        .await
        .data()["createTaskType"]["id"]
        .clone();
    let note = json!({ "contactId": cid, "body": "Welcome aboard", "visibility": "CUSTOMER", "labelIds": [label], "templateId": template, "typeId": type_id });
    app.gql(
        Some(&owner),
        "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }",
        json!({ "input": note }),
    )
    .await
    .data();

    let customer = app.token(&w.customer);
    for list in ["messageTemplates", "labels", "taskTypes", "outcomes"] {
        let answer = app
            .gql(
                Some(&customer),
                &format!("{{ {list} {{ id }} }}"),
                json!({}),
            )
            .await;
        answer.expect_code("FORBIDDEN");
    }
    let own = app
        .gql(
            Some(&customer),
            "query ($id: ID!) { contact(id: $id) { name customFields labels { name } consultant { name role } } notes { edges { node { body labels { name } type { name } template { body } } } } }",
            json!({ "id": cid }),
        )
        .await;
    let data = own.data();
    assert_eq!(data["contact"]["name"], "Grace Hopper");
    assert_eq!(data["contact"]["customFields"], json!({}));
    assert_eq!(data["contact"]["labels"], json!([]));
    assert_eq!(data["contact"]["consultant"]["name"], "write");
    assert_eq!(data["contact"]["consultant"]["role"], Value::Null);
    let shared = &data["notes"]["edges"][0]["node"];
    assert_eq!(shared["body"], "Welcome aboard");
    assert_eq!(shared["labels"], json!([]));
    assert_eq!(shared["type"], Value::Null);
    assert_eq!(shared["template"], Value::Null);
    // Filtering by label would tell whether the contact carries it.
    for query in [
        "query ($l: ID!) { contacts(filter: { labelIds: [$l] }) { totalCount } }",
        "query ($l: ID!) { notes(filter: { labelIds: [$l] }) { totalCount } }",
    ] {
        app.gql(Some(&customer), query, json!({ "l": label }))
            .await
            .expect_code("FORBIDDEN");
    }

    // Staff still read all of it.
    let staff = app
        .gql(
            Some(&app.token(&w.member_read)),
            "query ($id: ID!, $l: ID!) { messageTemplates { name } labels { name } contact(id: $id) { customFields labels { name } consultant { role } } contacts(filter: { labelIds: [$l] }) { totalCount } notes { edges { node { labels { name } type { name } template { name } } } } }",
            json!({ "id": cid, "l": label }),
        )
        .await;
    let data = staff.data();
    assert_eq!(data["messageTemplates"][0]["name"], "Dunning");
    assert_eq!(data["labels"][0]["name"], "Churn risk");
    assert_eq!(
        data["contact"]["customFields"],
        json!({ "creditScore": 420 })
    );
    assert_eq!(data["contact"]["labels"][0]["name"], "Churn risk");
    assert_eq!(data["contact"]["consultant"]["role"], "MEMBER");
    assert_eq!(data["contacts"]["totalCount"], 1);
    let node = &data["notes"]["edges"][0]["node"];
    assert_eq!(node["labels"][0]["name"], "Churn risk");
    assert_eq!(node["type"]["name"], "Collections call");
    assert_eq!(node["template"]["name"], "Dunning");
}

// Item 8: an author who lost WRITE no longer changes what others read.

#[tokio::test]
async fn a_downgraded_author_cannot_change_shared_notes() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let author = app.token(&w.member_write);
    let create = |visibility: &'static str| {
        let app = &app;
        let author = author.clone();
        let cid = cid.clone();
        async move {
            app.gql(
                Some(&author),
                "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }",
                json!({ "input": { "contactId": cid, "body": format!("{visibility} note"), "visibility": visibility } }),
            )
            .await
            .data()["createNote"]["id"]
                .clone()
        }
    };
    let team = create("TEAM").await;
    let private = create("PRIVATE").await;
    let with_file = upload(
        &app,
        &author,
        ADD_FILE,
        json!({ "n": team, "f": null }),
        vec![("variables.f", "plan.txt", b"the plan".to_vec())],
    )
    .await;
    let attachment = with_file.data()["addAttachment"]["id"].clone();

    // The owner takes the author down to READ.
    app.gql(
        Some(&app.token(&w.owner)),
        "mutation ($c: ID!, $u: ID!) { grantCollaborator(contactId: $c, userId: $u, access: READ) { access } }",
        json!({ "c": cid, "u": user_id(w.member_write.id) }),
    )
    .await
    .data();

    let update = "mutation ($id: ID!, $input: UpdateNoteInput!) { updateNote(id: $id, input: $input) { body visibility } }";
    for (query, variables) in [
        (
            update,
            json!({ "id": team, "input": { "body": "rewritten" } }),
        ),
        (
            update,
            json!({ "id": team, "input": { "visibility": "CUSTOMER" } }),
        ),
        (
            "mutation ($id: ID!) { deleteNote(id: $id) }",
            json!({ "id": team }),
        ),
        (
            "mutation ($id: ID!) { deleteAttachment(id: $id) }",
            json!({ "id": attachment }),
        ),
    ] {
        app.gql(Some(&author), query, variables)
            .await
            .expect_code("FORBIDDEN");
    }
    let before = files_on_disk(app.data_dir.path());
    upload(
        &app,
        &author,
        ADD_FILE,
        json!({ "n": team, "f": null }),
        vec![("variables.f", "more.txt", b"more bytes".to_vec())],
    )
    .await
    .expect_code("FORBIDDEN");
    assert_eq!(files_on_disk(app.data_dir.path()), before);
    // Publishing the private note is sharing it: refused too.
    for visibility in ["CUSTOMER", "TEAM"] {
        app.gql(
            Some(&author),
            update,
            json!({ "id": private, "input": { "visibility": visibility } }),
        )
        .await
        .expect_code("FORBIDDEN");
    }

    // Nothing changed for the team or the customer.
    let seen = app
        .gql(
            Some(&app.token(&w.owner)),
            "query ($id: ID!) { note(id: $id) { body visibility attachments { id } } }",
            json!({ "id": team }),
        )
        .await;
    assert_eq!(
        seen.data()["note"],
        json!({ "body": "TEAM note", "visibility": "TEAM", "attachments": [{ "id": attachment }] })
    );
    let customer = app
        .gql(
            Some(&app.token(&w.customer)),
            "{ notes { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(customer.data()["notes"]["totalCount"], 0);

    // A private note stays its author's while they can read the contact.
    let edited = app
        .gql(
            Some(&author),
            update,
            json!({ "id": private, "input": { "body": "my own words" } }),
        )
        .await;
    assert_eq!(edited.data()["updateNote"]["body"], "my own words");
    app.gql(
        Some(&author),
        "mutation ($id: ID!) { deleteNote(id: $id) }",
        json!({ "id": private }),
    )
    .await
    .data();
}

#[tokio::test]
async fn a_downgraded_task_creator_or_responsible_cannot_change_the_task() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let creator = app.token(&w.member_write);
    let task = app
        .gql(
            Some(&creator),
            "mutation ($c: ID!, $u: ID!) { createTask(input: { contactId: $c, description: \"Call back\", responsibleId: $u }) { id } }",
            json!({ "c": cid, "u": user_id(w.member_write.id) }),
        )
        .await
        .data()["createTask"]["id"]
        .clone();
    let owner = actor(&w.owner);
    collaborators::grant(
        &app.db,
        &owner,
        w.contact,
        w.member_write.id,
        AccessLevel::Read,
    )
    .await
    .expect("downgrade");
    let outcome = app
        .gql(Some(&app.token(&w.owner)), "{ outcomes { id } }", json!({}))
        .await
        .data()["outcomes"][0]["id"]
        .clone();
    for (query, vars) in [
        (
            "mutation ($id: ID!) { updateTask(id: $id, input: { description: \"Changed\" }) { id } }",
            json!({ "id": task }),
        ),
        (
            "mutation ($id: ID!, $o: ID!) { completeTask(id: $id, input: { outcomeId: $o, action: CLOSE }) { task { id } } }",
            json!({ "id": task, "o": outcome }),
        ),
        (
            "mutation ($id: ID!) { copyTask(id: $id) { id } }",
            json!({ "id": task }),
        ),
    ] {
        app.gql(Some(&creator), query, vars)
            .await
            .expect_code("FORBIDDEN");
    }
    // Revoked entirely, the task is not even there for them.
    collaborators::revoke(&app.db, &owner, w.contact, w.member_write.id)
        .await
        .expect("revoke");
    let gone = app
        .gql(
            Some(&creator),
            "mutation ($id: ID!) { updateTask(id: $id, input: { status: IN_PROGRESS }) { id } }",
            json!({ "id": task }),
        )
        .await;
    gone.expect_code("NOT_FOUND");
}

// Item 5: files of requests that never finished are swept; notes written before remote images
// were dropped are cleaned once.

/// The storage the test gateway uses (its data directory).
fn storage_of(app: &TestApp) -> threadline::service::attachments::Storage {
    threadline::service::attachments::Storage {
        dir: app.data_dir.path().to_path_buf(),
        max_bytes: 64 * 1024,
        org_quota_bytes: threadline::config::DEFAULT_ORG_UPLOAD_QUOTA_BYTES,
    }
}

/// Sets a file's modification time `age` in the past.
fn age_file(path: &std::path::Path, age: std::time::Duration) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(std::time::SystemTime::now() - age))
        .expect("set the modification time");
}

#[tokio::test]
async fn the_sweep_removes_files_no_attachment_names() {
    use threadline::service::attachments;
    let hour = std::time::Duration::from_secs(3600);
    let app = spawn_app().await;
    let w = world(&app).await;
    let storage = storage_of(&app);
    let kept = upload(
        &app,
        &app.token(&w.member_write),
        "mutation ($input: CreateNoteInput!) { createNote(input: $input) { attachments { sha256 url } } }",
        json!({ "input": { "contactId": contact_id(w.contact), "body": "with a file", "attachments": [null] } }),
        vec![("variables.input.attachments.0", "kept.txt", b"kept bytes".to_vec())],
    )
    .await;
    let kept_hash = kept.data()["createNote"]["attachments"][0]["sha256"]
        .as_str()
        .expect("a hash")
        .to_owned();
    let kept_path = storage.path_of(&kept_hash);
    // What an upload that never reached its transaction leaves: a stored file no row names,
    // and a temporary file that was never renamed.
    let abandoned = storage
        .store(
            &b"abandoned bytes"[..],
            "a.txt",
            Some("text/plain"),
            "file",
            0,
        )
        .expect("stored");
    let abandoned_path = storage.path_of(&abandoned.sha256);
    let temp = app
        .data_dir
        .path()
        .join("tmp")
        .join("upload-0123456789abcdef");
    std::fs::write(&temp, b"half an upload").expect("temp file");
    for path in [&kept_path, &abandoned_path, &temp] {
        age_file(path, 2 * hour);
    }
    // Stored a moment ago: an upload of this content may be about to record it.
    let young = storage
        .store(&b"young bytes"[..], "y.txt", Some("text/plain"), "file", 0)
        .expect("stored");
    let young_path = storage.path_of(&young.sha256);
    assert_eq!(files_on_disk(app.data_dir.path()), {
        let mut all = vec![
            kept_path.clone(),
            abandoned_path.clone(),
            young_path.clone(),
            temp.clone(),
        ];
        all.sort();
        all
    });

    let report = attachments::sweep(&app.db, &storage, hour)
        .await
        .expect("a sweep");
    assert_eq!(report.files_removed, 1, "{report:?}");
    assert_eq!(report.bytes_removed, b"abandoned bytes".len() as u64);
    assert_eq!(report.temp_files_removed, 1, "{report:?}");
    assert_eq!(report.files_young, 1, "{report:?}");
    let mut left = vec![kept_path.clone(), young_path.clone()];
    left.sort();
    assert_eq!(files_on_disk(app.data_dir.path()), left);

    // With no grace period the young file goes too; the referenced one always stays.
    let report = attachments::sweep(&app.db, &storage, std::time::Duration::ZERO)
        .await
        .expect("a sweep");
    assert_eq!(report.files_removed, 1, "{report:?}");
    assert_eq!(files_on_disk(app.data_dir.path()), vec![kept_path.clone()]);
    let again = attachments::sweep(&app.db, &storage, std::time::Duration::ZERO)
        .await
        .expect("a sweep");
    assert_eq!(again, attachments::SweepReport::default());

    // The referenced file is still served, and the same content stored again is kept anew.
    let url = kept.data()["createNote"]["attachments"][0]["url"]
        .as_str()
        .expect("a download URL")
        .to_owned();
    let served = app
        .client
        .get(format!("{}{url}", app.address))
        .bearer_auth(app.token(&w.member_write))
        .send()
        .await
        .expect("download");
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.expect("bytes").to_vec(), b"kept bytes");
    let again = storage
        .store(
            &b"abandoned bytes"[..],
            "a.txt",
            Some("text/plain"),
            "file",
            0,
        )
        .expect("stored again");
    assert!(
        again.created,
        "the swept file was gone, so this upload created it"
    );
}

#[tokio::test]
async fn the_gateways_sweep_job_removes_files_no_attachment_names() {
    let app = spawn_app_with_config(|c| {
        c.attachment_sweep_grace = std::time::Duration::ZERO;
    })
    .await;
    let storage = storage_of(&app);
    let left = storage
        .store(&b"left behind"[..], "l.txt", Some("text/plain"), "file", 0)
        .expect("stored");
    let path = storage.path_of(&left.sha256);
    assert!(path.exists());
    // One pass of the job the gateway runs every THREADLINE_ATTACHMENT_SWEEP_SECS.
    let report = app.sweep_attachments().await;
    assert_eq!(report.files_removed, 1, "{report:?}");
    assert!(
        !path.exists(),
        "the sweep did not remove {}",
        path.display()
    );
    assert_eq!(app.sweep_attachments().await.files_removed, 0);
}

/// Inserts a note row as an older gateway stored it, with `html` as its HTML body.
async fn old_note(app: &TestApp, w: &World, html: &str) -> entity::note::Model {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let written = chrono::DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z")
        .expect("a time")
        .with_timezone(&chrono::Utc);
    entity::note::ActiveModel {
        organization_id: Set(w.owner.organization_id),
        contact_id: Set(w.contact),
        author_id: Set(w.owner.id),
        subject: Set(Some("Old note".into())),
        body: Set("written before remote images were dropped".into()),
        body_html: Set(Some(html.into())),
        visibility: Set("TEAM".into()),
        created_at: Set(written),
        updated_at: Set(written),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("a note row")
}

async fn note_row(app: &TestApp, id: i64) -> entity::note::Model {
    use sea_orm::EntityTrait;
    entity::note::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .expect("read")
        .expect("the note")
}

const DIRTY_HTML: &str = r#"<p>Seen <img src="https://track.example/p.gif" alt="pixel"> and <img src="/attachments/QXR0YWNobWVudDox" alt="own"></p>"#;

#[tokio::test]
async fn notes_stored_with_remote_images_are_cleaned() {
    use threadline::service::notes;
    let app = spawn_app().await;
    let w = world(&app).await;
    let dirty = old_note(&app, &w, DIRTY_HTML).await;
    let own_only = old_note(
        &app,
        &w,
        r#"<p><img src="/attachments/QXR0YWNobWVudDox" alt="own"></p>"#,
    )
    .await;
    let no_image = old_note(&app, &w, "<p>no images here</p>").await;

    assert_eq!(
        notes::reclean_stored_html(&app.db).await.expect("re-clean"),
        1
    );
    let read = app
        .gql(
            Some(&app.token(&w.owner)),
            "query ($id: ID!) { node(id: $id) { ... on Note { subject body bodyHtml } } }",
            json!({ "id": encode(Kind::Note, dirty.id) }),
        )
        .await;
    let html = read.data()["node"]["bodyHtml"]
        .as_str()
        .expect("HTML")
        .to_owned();
    assert!(!html.contains("track.example"), "{html}");
    assert!(html.contains(r#"alt="pixel""#), "{html}");
    assert!(
        html.contains(r#"src="/attachments/QXR0YWNobWVudDox""#),
        "{html}"
    );
    assert_eq!(read.data()["node"]["subject"], "Old note");
    // Only the HTML changed: not the other columns, not the time the note last changed.
    let cleaned = note_row(&app, dirty.id).await;
    assert_eq!(
        cleaned,
        entity::note::Model {
            body_html: Some(html.clone()),
            ..dirty.clone()
        }
    );
    assert_eq!(note_row(&app, own_only.id).await, own_only);
    assert_eq!(note_row(&app, no_image.id).await, no_image);

    // Again: nothing more to do.
    assert_eq!(
        notes::reclean_stored_html(&app.db).await.expect("re-clean"),
        0
    );
    assert_eq!(note_row(&app, dirty.id).await, cleaned);
}

#[tokio::test]
async fn start_up_cleans_stored_note_html_once_per_database() {
    use sea_orm::ConnectionTrait;
    use threadline::service::notes;
    let (url, guard) = fresh_database().await;
    let first = start(&url, false, guard.clone()).await;
    let w = world(&first).await;
    // A database from before the change: notes with remote images, no record of a re-clean.
    let dirty = old_note(&first, &w, DIRTY_HTML).await;
    first
        .db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            first.db.get_database_backend(),
            "DELETE FROM instance_settings WHERE key = $1",
            [notes::HTML_RECLEANED_SETTING.into()],
        ))
        .await
        .expect("forget the re-clean");

    let second = start(&url, false, guard.clone()).await;
    let cleaned = note_row(&second, dirty.id).await;
    let html = cleaned.body_html.clone().expect("HTML");
    assert!(!html.contains("track.example"), "{html}");
    assert!(html.contains(r#"alt="pixel""#), "{html}");
    assert_eq!(cleaned.updated_at, dirty.updated_at);
    assert!(
        threadline::db::setting(&second.db, notes::HTML_RECLEANED_SETTING)
            .await
            .expect("settings")
            .is_some(),
        "the re-clean is recorded"
    );

    // Recorded once per database: the next start does not scan the notes again.
    let later = old_note(&second, &w, DIRTY_HTML).await;
    let third = start(&url, false, guard).await;
    assert_eq!(note_row(&third, later.id).await, later);
    assert_eq!(note_row(&third, dirty.id).await, cleaned);
}
