//! Webhooks: endpoint management (owners and admins, event-type checks, the SSRF guard at
//! registration, secrets and rotation) and the outbox (written with the change, rolled back
//! with it, filtered by event type, the record as the API shows it).

use entity::{webhook_delivery, webhook_endpoint};
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::{Value, json};
use webhooks::signing::{PublicKey, Secret};

use crate::helpers::{TestApp, contact_id, spawn_app, spawn_app_with_config, world};

const CREATE: &str = "mutation ($input: CreateWebhookEndpointInput!) {
    createWebhookEndpoint(input: $input) {
        secret endpoint { id url eventTypes enabled signing publicKey maxInFlight description
            headers { name value } previousSecretExpiresAt }
    } }";

/// A gateway whose webhook URLs may point at this machine (the tests' receivers).
async fn app_allowing_loopback() -> TestApp {
    spawn_app_with_config(|c| c.webhook_allow_private = true).await
}

/// Registers an endpoint as `token`; returns `createWebhookEndpoint`'s answer.
async fn register(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(Some(token), CREATE, json!({ "input": input }))
        .await
        .data()["createWebhookEndpoint"]
        .clone()
}

/// The deliveries written so far, oldest first.
async fn deliveries(app: &TestApp) -> Vec<webhook_delivery::Model> {
    webhook_delivery::Entity::find()
        .order_by_asc(webhook_delivery::Column::Id)
        .all(&app.db)
        .await
        .expect("deliveries")
}

#[tokio::test]
async fn owners_and_admins_manage_endpoints_and_see_their_secret_once() {
    let app = app_allowing_loopback().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let created = register(
        &app,
        &owner,
        json!({ "url": "http://127.0.0.1:9/hook", "eventTypes": ["note.*", "contact.created", "note.*"],
                "description": "CRM sync", "headers": [{ "name": "x-api-key", "value": "k1" }] }),
    )
    .await;
    let secret = created["secret"].as_str().expect("secret");
    let parsed = Secret::parse(secret).expect("a whsec_ secret");
    assert!(secret.starts_with("whsec_"));
    assert_eq!(parsed, Secret::parse(secret).expect("stable"));
    let endpoint = &created["endpoint"];
    assert_eq!(endpoint["eventTypes"], json!(["note.*", "contact.created"]));
    assert_eq!(endpoint["signing"], "HMAC");
    assert_eq!(endpoint["publicKey"], Value::Null);
    assert_eq!(endpoint["maxInFlight"], 4);
    assert_eq!(
        endpoint["headers"],
        json!([{ "name": "x-api-key", "value": "k1" }])
    );
    let id = endpoint["id"].clone();

    // The secret is not readable afterwards; the list shows the endpoint.
    let listed = app
        .gql(
            Some(&owner),
            "{ webhookEndpoints { totalCount edges { node { id url enabled } } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed.data()["webhookEndpoints"]["totalCount"], 1);
    assert_eq!(
        listed.data()["webhookEndpoints"]["edges"][0]["node"]["id"],
        id
    );
    assert!(!listed.data().to_string().contains(secret));

    // Rotation: a new secret, the old one still signing for 24 hours.
    let rotated = app
        .gql(Some(&owner), "mutation ($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { previousSecretExpiresAt } } }", json!({ "id": id }))
        .await;
    let rotated = &rotated.data()["rotateWebhookSecret"];
    assert_ne!(rotated["secret"].as_str(), Some(secret));
    Secret::parse(rotated["secret"].as_str().expect("new secret")).expect("whsec_");
    let until: chrono::DateTime<chrono::Utc> = rotated["endpoint"]["previousSecretExpiresAt"]
        .as_str()
        .expect("overlap")
        .parse()
        .expect("time");
    let hours = (until - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((23.9..=24.0).contains(&hours), "{hours}");

    // Update, disable, delete.
    let updated = app
        .gql(Some(&owner), "mutation ($id: ID!) { updateWebhookEndpoint(id: $id, input: { eventTypes: [\"*\"], enabled: false, maxInFlight: 2 }) { eventTypes enabled maxInFlight } }", json!({ "id": id }))
        .await;
    assert_eq!(
        updated.data()["updateWebhookEndpoint"],
        json!({ "eventTypes": ["*"], "enabled": false, "maxInFlight": 2 })
    );
    let admin = app.token(&w.admin);
    let deleted = app
        .gql(
            Some(&admin),
            "mutation ($id: ID!) { deleteWebhookEndpoint(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted.data()["deleteWebhookEndpoint"], id);
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
        json!({ "id": id }),
    )
    .await
    .expect_code("NOT_FOUND");

    // Members, customers and other organizations cannot.
    for user in [&w.member_admin, &w.customer] {
        let token = app.token(user);
        app.gql(
            Some(&token),
            "{ webhookEndpoints { totalCount } }",
            json!({}),
        )
        .await
        .expect_code("FORBIDDEN");
        app.gql(
            Some(&token),
            CREATE,
            json!({ "input": { "url": "http://127.0.0.1:9/", "eventTypes": ["*"] } }),
        )
        .await
        .expect_code("FORBIDDEN");
    }
    let other = register(
        &app,
        &owner,
        json!({ "url": "http://127.0.0.1:9/", "eventTypes": ["*"] }),
    )
    .await;
    let foreign = app.token(&w.other_owner);
    app.gql(
        Some(&foreign),
        "mutation ($id: ID!) { deleteWebhookEndpoint(id: $id) }",
        json!({ "id": other["endpoint"]["id"] }),
    )
    .await
    .expect_code("NOT_FOUND");
}

#[tokio::test]
async fn ed25519_endpoints_show_their_public_key() {
    let app = app_allowing_loopback().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let created = register(
        &app,
        &owner,
        json!({ "url": "http://127.0.0.1:9/", "eventTypes": ["*"], "signing": "ED25519" }),
    )
    .await;
    let shown = created["secret"].as_str().expect("public key");
    assert!(shown.starts_with("whpk_"), "{shown}");
    PublicKey::parse(shown).expect("a whpk_ key");
    assert_eq!(created["endpoint"]["publicKey"], shown);
    app.gql(Some(&owner), "mutation ($id: ID!) { updateWebhookEndpoint(id: $id, input: { url: \"ftp://x\" }) { id } }", json!({ "id": created["endpoint"]["id"] }))
        .await
        .expect_code("BAD_USER_INPUT");
}

#[tokio::test]
async fn bad_endpoints_are_refused_naming_what_is_wrong() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let refuse = |input: Value| {
        let app = &app;
        let owner = owner.clone();
        async move {
            let answer = app
                .gql(Some(&owner), CREATE, json!({ "input": input }))
                .await;
            let message = answer.expect_code("BAD_USER_INPUT");
            (answer.field().map(str::to_owned), message)
        }
    };
    let (field, message) = refuse(json!({ "url": "https://crm.example.com/", "eventTypes": ["note.created", "note.archived"] })).await;
    assert_eq!(field.as_deref(), Some("input.eventTypes"));
    assert!(message.contains("note.archived"), "{message}");
    let (field, _) = refuse(json!({ "url": "https://crm.example.com/", "eventTypes": [] })).await;
    assert_eq!(field.as_deref(), Some("input.eventTypes"));
    // The SSRF guard: loopback, metadata, IPv6 loopback and a name resolving to loopback.
    for url in [
        "http://127.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/",
        "http://localhost:8080/",
        "http://10.1.2.3/",
        "file:///etc/passwd",
        "http://user:pass@crm.example.com/",
        "not a url",
    ] {
        let (field, message) = refuse(json!({ "url": url, "eventTypes": ["*"] })).await;
        assert_eq!(field.as_deref(), Some("input.url"), "{url}: {message}");
    }
    let (field, message) = refuse(
        json!({ "url": "https://crm.example.com/", "eventTypes": ["*"],
        "headers": [{ "name": "webhook-signature", "value": "v1,forged" }] }),
    )
    .await;
    assert_eq!(field.as_deref(), Some("input.headers"), "{message}");
    let (field, _) =
        refuse(json!({ "url": "https://crm.example.com/", "eventTypes": ["*"], "maxInFlight": 0 }))
            .await;
    assert_eq!(field.as_deref(), Some("input.maxInFlight"));
}

#[tokio::test]
async fn a_change_writes_one_delivery_per_matching_enabled_endpoint_in_its_transaction() {
    let app = app_allowing_loopback().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let notes = register(
        &app,
        &owner,
        json!({ "url": "http://127.0.0.1:9/notes", "eventTypes": ["note.*"] }),
    )
    .await;
    let everything = register(
        &app,
        &owner,
        json!({ "url": "http://127.0.0.1:9/all", "eventTypes": ["*"] }),
    )
    .await;
    let contacts_only = register(
        &app,
        &owner,
        json!({ "url": "http://127.0.0.1:9/contacts", "eventTypes": ["contact.created"] }),
    )
    .await;
    let disabled = register(
        &app,
        &owner,
        json!({ "url": "http://127.0.0.1:9/off", "eventTypes": ["*"], "enabled": false }),
    )
    .await;
    let endpoint_row = |created: &Value| {
        let id = created["endpoint"]["id"].as_str().expect("id");
        threadline::ids::decode(threadline::ids::Kind::WebhookEndpoint, id).expect("row id")
    };

    let cid = contact_id(w.contact);
    let note = app
        .gql(Some(&owner), "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }",
            json!({ "input": { "contactId": cid, "subject": "Private plan", "body": "Only mine", "visibility": "PRIVATE" } }))
        .await;
    let note_id = note.data()["createNote"]["id"].clone();
    let written = deliveries(&app).await;
    assert_eq!(written.len(), 2, "the note endpoint and the catch-all");
    let targets: Vec<i64> = written.iter().map(|d| d.endpoint_id).collect();
    assert_eq!(targets, [endpoint_row(&notes), endpoint_row(&everything)]);
    assert!(!targets.contains(&endpoint_row(&contacts_only)));
    assert!(!targets.contains(&endpoint_row(&disabled)));
    // One event, one webhook-id, the same body for every endpoint.
    assert_eq!(written[0].message_id, written[1].message_id);
    assert!(written[0].message_id.starts_with("msg_"));
    assert_eq!(written[0].payload, written[1].payload);
    let body: Value = serde_json::from_str(&written[0].payload).expect("json body");
    assert_eq!(body["type"], "note.created");
    assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(body["data"]["id"], note_id);
    assert_eq!(body["data"]["contact"]["id"], cid);
    assert_eq!(body["data"]["body"], "Only mine");
    assert_eq!(body["data"]["visibility"], "PRIVATE");
    assert_eq!(written[0].status, "PENDING");
    assert_eq!(written[0].record_key, written[1].record_key);

    // An update carries the fields that changed.
    app.gql(Some(&owner), "mutation ($id: ID!) { updateContact(id: $id, input: { name: \"Grace B. Hopper\" }) { id } }", json!({ "id": cid }))
        .await
        .data();
    let written = deliveries(&app).await;
    let update: Value =
        serde_json::from_str(&written.last().expect("update").payload).expect("json");
    assert_eq!(update["type"], "contact.updated");
    assert_eq!(update["data"]["name"], "Grace B. Hopper");
    assert_eq!(update["updatedFields"], json!(["name"]));

    // A change that fails after its event was written sends nothing: the note with a task for a
    // user who may not see the contact rolls back whole.
    let before = deliveries(&app).await.len();
    let failed = app
        .gql(Some(&owner), "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }",
            json!({ "input": { "contactId": cid, "body": "Rolled back", "task": {
                "description": "Call", "responsibleId": crate::helpers::user_id(w.member_none.id) } } }))
        .await;
    assert!(failed.code().is_some(), "the note must fail");
    assert_eq!(deliveries(&app).await.len(), before);
    let left = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Payload.contains("Rolled back"))
        .all(&app.db)
        .await
        .expect("query");
    assert!(left.is_empty());
}

/// A note written with its label and task records two events in one go (one read of the
/// endpoints for both): each goes to the endpoints subscribed to it, with the record as the
/// API shows it.
#[tokio::test]
async fn a_note_with_its_task_sends_each_event_to_the_endpoints_that_want_it() {
    let app = app_allowing_loopback().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let endpoint_row = |created: &Value| {
        let id = created["endpoint"]["id"].as_str().expect("id");
        threadline::ids::decode(threadline::ids::Kind::WebhookEndpoint, id).expect("row id")
    };
    let notes = register(
        &app,
        &owner,
        json!({ "url": "http://127.0.0.1:9/notes", "eventTypes": ["note.*"] }),
    )
    .await;
    let everything = register(
        &app,
        &owner,
        json!({ "url": "http://127.0.0.1:9/all", "eventTypes": ["*"] }),
    )
    .await;
    let tasks = register(
        &app,
        &owner,
        json!({ "url": "http://127.0.0.1:9/tasks", "eventTypes": ["task.created"] }),
    )
    .await;
    let label = app
        .gql(
            Some(&owner),
            "mutation { createLabel(input: { name: \"Hot\" }) { id } }",
            json!({}),
        )
        .await
        .data()["createLabel"]["id"]
        .clone();
    let note = app
        .gql(Some(&owner), "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id tasks { id } } }",
            json!({ "input": { "contactId": contact_id(w.contact), "subject": "Call", "body": "Renewal",
                "labelIds": [label], "task": { "description": "Send the offer" } } }))
        .await;
    let note = note.data()["createNote"].clone();

    let written = deliveries(&app).await;
    let sent: Vec<(&str, i64)> = written
        .iter()
        .map(|d| (d.event_type.as_str(), d.endpoint_id))
        .collect();
    assert_eq!(
        sent,
        [
            ("note.created", endpoint_row(&notes)),
            ("note.created", endpoint_row(&everything)),
            ("task.created", endpoint_row(&everything)),
            ("task.created", endpoint_row(&tasks)),
        ]
    );
    // One webhook-id per event, shared by its endpoints.
    assert_eq!(written[0].message_id, written[1].message_id);
    assert_eq!(written[2].message_id, written[3].message_id);
    assert_ne!(written[0].message_id, written[2].message_id);
    let note_body = &bodies(&app, "note.created").await[0];
    assert_eq!(note_body["data"]["id"], note["id"]);
    assert_eq!(note_body["data"]["labels"][0]["id"], label);
    let task_body = &bodies(&app, "task.created").await[0];
    assert_eq!(task_body["data"]["id"], note["tasks"][0]["id"]);
    assert_eq!(task_body["data"]["note"]["id"], note["id"]);
    assert_eq!(task_body["data"]["description"], "Send the offer");
}

/// The bodies of the deliveries written so far for `event_type`, oldest first.
async fn bodies(app: &TestApp, event_type: &str) -> Vec<Value> {
    deliveries(app)
        .await
        .iter()
        .filter(|d| d.event_type == event_type)
        .map(|d| serde_json::from_str(&d.payload).expect("json body"))
        .collect()
}

/// `updatedFields` of a body, sorted.
fn updated_fields(body: &Value) -> Vec<String> {
    let mut fields: Vec<String> = body["updatedFields"]
        .as_array()
        .expect("updatedFields")
        .iter()
        .map(|f| f.as_str().expect("a field name").to_owned())
        .collect();
    fields.sort();
    fields
}

#[tokio::test]
async fn note_and_task_updates_name_the_fields_that_changed() {
    let app = app_allowing_loopback().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    register(
        &app,
        &owner,
        json!({ "url": "http://127.0.0.1:9/", "eventTypes": ["note.updated", "task.updated"] }),
    )
    .await;
    let cid = contact_id(w.contact);
    let note = app
        .gql(
            Some(&owner),
            "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }",
            json!({ "input": { "contactId": cid, "subject": "Plan", "body": "Draft" } }),
        )
        .await;
    let note_id = note.data()["createNote"]["id"].clone();
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { updateNote(id: $id, input: { body: \"Final\", visibility: PRIVATE, attachedTo: { kind: \"order\", id: \"A-1\" } }) { id } }",
        json!({ "id": note_id }),
    )
    .await
    .data();
    let task = app
        .gql(
            Some(&owner),
            "mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }",
            json!({ "input": { "contactId": cid, "description": "Call", "tags": ["a"] } }),
        )
        .await;
    let task_id = task.data()["createTask"]["id"].clone();
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { updateTask(id: $id, input: { description: \"Call back\", tags: [\"b\"] }) { id } }",
        json!({ "id": task_id }),
    )
    .await
    .data();

    let notes = bodies(&app, "note.updated").await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["data"]["body"], "Final");
    assert_eq!(
        updated_fields(&notes[0]),
        ["attachedTo", "body", "visibility"]
    );
    let tasks = bodies(&app, "task.updated").await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["data"]["description"], "Call back");
    assert_eq!(updated_fields(&tasks[0]), ["description", "tags"]);
}

#[tokio::test]
async fn a_follow_up_or_a_copy_is_sent_with_the_task_it_came_from_as_the_api_shows_it() {
    let app = app_allowing_loopback().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    register(
        &app,
        &owner,
        json!({ "url": "http://127.0.0.1:9/", "eventTypes": ["task.created"] }),
    )
    .await;
    let cid = contact_id(w.contact);
    let task = app
        .gql(
            Some(&owner),
            "mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }",
            json!({ "input": { "contactId": cid, "description": "First call" } }),
        )
        .await;
    let task_id = task.data()["createTask"]["id"].clone();
    let copy = app
        .gql(
            Some(&owner),
            "mutation ($id: ID!) { copyTask(id: $id) { id copiedFrom { id } } }",
            json!({ "id": task_id }),
        )
        .await;
    let copy = copy.data()["copyTask"].clone();
    assert_eq!(copy["copiedFrom"]["id"], task_id);
    let outcomes = app
        .gql(Some(&owner), "{ outcomes { id code } }", json!({}))
        .await;
    let positive = outcomes.data()["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .find(|o| o["code"] == "POSITIVE")
        .expect("the POSITIVE outcome")["id"]
        .clone();
    let completed = app
        .gql(
            Some(&owner),
            "mutation ($id: ID!, $input: CompleteTaskInput!) { completeTask(id: $id, input: $input) { followUp { id continuedFrom { id } } } }",
            json!({ "id": task_id, "input": { "outcomeId": positive, "action": "CONTINUE",
                "followUp": { "contactId": cid, "description": "Second call" } } }),
        )
        .await;
    let follow_up = completed.data()["completeTask"]["followUp"].clone();
    assert_eq!(follow_up["continuedFrom"]["id"], task_id);

    let created = bodies(&app, "task.created").await;
    let sent = |id: &Value| {
        created
            .iter()
            .find(|b| b["data"]["id"] == *id)
            .expect("a task.created delivery")["data"]
            .clone()
    };
    assert_eq!(sent(&copy["id"])["copiedFrom"], copy["copiedFrom"]);
    assert_eq!(
        sent(&follow_up["id"])["continuedFrom"],
        follow_up["continuedFrom"]
    );
}

#[tokio::test]
async fn the_delivery_log_filters_by_an_event_type_pattern_as_endpoints_subscribe() {
    let app = app_allowing_loopback().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let created = register(
        &app,
        &owner,
        json!({ "url": "http://127.0.0.1:9/", "eventTypes": ["*"] }),
    )
    .await;
    let id = created["endpoint"]["id"].clone();
    let cid = contact_id(w.contact);
    app.gql(
        Some(&owner),
        "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id } }",
        json!({ "input": { "contactId": cid, "body": "Hello" } }),
    )
    .await
    .data();
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { updateContact(id: $id, input: { name: \"Grace B. Hopper\" }) { id } }",
        json!({ "id": cid }),
    )
    .await
    .data();
    let types = |filter: Value| {
        let app = &app;
        let owner = owner.clone();
        let id = id.clone();
        async move {
            let log = app
                .gql(
                    Some(&owner),
                    "query ($id: ID!, $filter: DeliveryFilter) { webhookDeliveries(endpointId: $id, filter: $filter) { edges { node { eventType } } } }",
                    json!({ "id": id, "filter": filter }),
                )
                .await;
            let mut types: Vec<String> = log.data()["webhookDeliveries"]["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"]["eventType"].as_str().expect("type").to_owned())
                .collect();
            types.sort();
            types
        }
    };
    assert_eq!(
        types(json!({ "eventType": "note.created" })).await,
        ["note.created"]
    );
    // The filter takes what an endpoint subscribes with: a pattern matches its events, `*` all.
    assert_eq!(
        types(json!({ "eventType": "contact.*" })).await,
        ["contact.updated"]
    );
    assert_eq!(
        types(json!({ "eventType": "*" })).await,
        ["contact.updated", "note.created"]
    );
}

#[tokio::test]
async fn an_event_for_thousands_of_endpoints_is_written_for_each_of_them() {
    let app = app_allowing_loopback().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    register(
        &app,
        &owner,
        json!({ "url": "http://127.0.0.1:9/", "eventTypes": ["contact.updated"] }),
    )
    .await;
    // More endpoints than one statement can write delivery rows for on either database
    // (SQLite binds at most 32,766 values, PostgreSQL 65,535): copies of the one registered.
    const ENDPOINTS: usize = 5200;
    let template = webhook_endpoint::Entity::find()
        .one(&app.db)
        .await
        .expect("query")
        .expect("the endpoint");
    let copies: Vec<webhook_endpoint::ActiveModel> = (1..ENDPOINTS)
        .map(|_| {
            let mut row: webhook_endpoint::ActiveModel = template.clone().into();
            row.id = NotSet;
            row
        })
        .collect();
    for chunk in copies.chunks(1000) {
        webhook_endpoint::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.db)
            .await
            .expect("endpoints");
    }

    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { updateContact(id: $id, input: { name: \"Grace B. Hopper\" }) { id } }",
        json!({ "id": contact_id(w.contact) }),
    )
    .await
    .data();
    let written = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::EventType.eq("contact.updated"))
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(written, ENDPOINTS as u64);
}
