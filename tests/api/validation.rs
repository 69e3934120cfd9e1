//! Bad input: every mutation field answers `BAD_USER_INPUT` naming the field (or `NOT_FOUND`
//! for IDs) and the database is left as it was.

use serde_json::{Value, json};

use crate::helpers::{TestApp, contact_id, spawn_app, user_id, world};

const TABLES: [&str; 7] = [
    "contacts",
    "contact_emails",
    "contact_phones",
    "contact_addresses",
    "contact_collaborators",
    "timeline_events",
    "users",
];

async fn snapshot(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in TABLES {
        counts.push(app.count_rows(table).await);
    }
    counts
}

fn long(n: usize) -> String {
    "x".repeat(n)
}

#[tokio::test]
async fn bad_input_is_named_and_writes_nothing() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let token = app.token(&w.owner);
    let cid = contact_id(w.contact);
    let customer_id = user_id(w.customer.id);
    let create = "mutation ($input: CreateContactInput!) { createContact(input: $input) { id } }";
    let update = "mutation ($id: ID!, $input: UpdateContactInput!) { updateContact(id: $id, input: $input) { id } }";
    let big_fields = json!({ "blob": long(17 * 1024) });
    // (operation, variables, expected code, expected field)
    let cases: Vec<(&str, Value, &str, Option<&str>)> = vec![
        (
            create,
            json!({ "input": { "name": "" } }),
            "BAD_USER_INPUT",
            Some("input.name"),
        ),
        (
            create,
            json!({ "input": { "name": "   " } }),
            "BAD_USER_INPUT",
            Some("input.name"),
        ),
        (
            create,
            json!({ "input": { "name": long(201) } }),
            "BAD_USER_INPUT",
            Some("input.name"),
        ),
        (
            create,
            json!({ "input": { "name": "A", "emails": [{ "email": "ok@x.io" }, { "email": "nope" }] } }),
            "BAD_USER_INPUT",
            Some("input.emails[1].email"),
        ),
        (
            create,
            json!({ "input": { "name": "A", "emails": [{ "email": "ok@x.io", "label": long(51) }] } }),
            "BAD_USER_INPUT",
            Some("input.emails[0].label"),
        ),
        (
            create,
            json!({ "input": { "name": "A", "emails": [{ "email": "a@x.io", "primary": true }, { "email": "b@x.io", "primary": true }] } }),
            "BAD_USER_INPUT",
            Some("input.emails"),
        ),
        (
            create,
            json!({ "input": { "name": "A", "emails": [{ "email": "a@x.io" }, { "email": "A@x.io" }] } }),
            "BAD_USER_INPUT",
            Some("input.emails[1].email"),
        ),
        (
            create,
            json!({ "input": { "name": "A", "phones": [{ "number": "555 0100" }] } }),
            "BAD_USER_INPUT",
            Some("input.phones[0].number"),
        ),
        (
            create,
            json!({ "input": { "name": "A", "phones": [{ "number": "+1 555 CALL NOW" }] } }),
            "BAD_USER_INPUT",
            Some("input.phones[0].number"),
        ),
        (
            create,
            json!({ "input": { "name": "A", "addresses": [{ "line1": " " }] } }),
            "BAD_USER_INPUT",
            Some("input.addresses[0].line1"),
        ),
        (
            create,
            json!({ "input": { "name": "A", "addresses": [{ "line1": "x", "postalCode": long(21) }] } }),
            "BAD_USER_INPUT",
            Some("input.addresses[0].postalCode"),
        ),
        (
            create,
            json!({ "input": { "name": "A", "customFields": [1, 2] } }),
            "BAD_USER_INPUT",
            Some("input.customFields"),
        ),
        (
            create,
            json!({ "input": { "name": "A", "customFields": big_fields } }),
            "BAD_USER_INPUT",
            Some("input.customFields"),
        ),
        (
            create,
            json!({ "input": { "name": "A", "consultantId": "garbage" } }),
            "NOT_FOUND",
            None,
        ),
        (
            create,
            json!({ "input": { "name": "A", "consultantId": cid } }),
            "NOT_FOUND",
            None,
        ),
        (
            create,
            json!({ "input": { "name": "A", "consultantId": user_id(w.other_owner.id) } }),
            "NOT_FOUND",
            None,
        ),
        (
            create,
            json!({ "input": { "name": "A", "consultantId": customer_id } }),
            "BAD_USER_INPUT",
            Some("input.consultantId"),
        ),
        (
            update,
            json!({ "id": cid, "input": { "name": "" } }),
            "BAD_USER_INPUT",
            Some("input.name"),
        ),
        (
            update,
            json!({ "id": cid, "input": { "name": "Ok", "emails": [{ "email": "bad@" }] } }),
            "BAD_USER_INPUT",
            Some("input.emails[0].email"),
        ),
        (
            update,
            json!({ "id": cid, "input": { "name": "Ok", "phones": [{ "number": "+1" }] } }),
            "BAD_USER_INPUT",
            Some("input.phones[0].number"),
        ),
        (
            update,
            json!({ "id": cid, "input": { "addresses": [{ "line1": "" }] } }),
            "BAD_USER_INPUT",
            Some("input.addresses[0].line1"),
        ),
        (
            update,
            json!({ "id": cid, "input": { "customFields": "text" } }),
            "BAD_USER_INPUT",
            Some("input.customFields"),
        ),
        (
            update,
            json!({ "id": cid, "input": { "name": "Ok", "consultantId": customer_id } }),
            "BAD_USER_INPUT",
            Some("input.consultantId"),
        ),
        (
            update,
            json!({ "id": "Q29udGFjdDo5OTk5", "input": { "name": "Ok" } }),
            "NOT_FOUND",
            None,
        ),
        (
            update,
            json!({ "id": user_id(w.owner.id), "input": { "name": "Ok" } }),
            "NOT_FOUND",
            None,
        ),
        (
            "mutation { createUser(input: { email: \"not an email\", name: \"N\" }) { id } }",
            json!({}),
            "BAD_USER_INPUT",
            Some("input.email"),
        ),
        (
            "mutation { createUser(input: { email: \"n@acme.test\", name: \"\" }) { id } }",
            json!({}),
            "BAD_USER_INPUT",
            Some("input.name"),
        ),
        (
            "mutation { createUser(input: { email: \"n@acme.test\", name: \"N\", kind: CUSTOMER }) { id } }",
            json!({}),
            "BAD_USER_INPUT",
            Some("input.contactId"),
        ),
        (
            "mutation ($c: ID!) { createUser(input: { email: \"n@acme.test\", name: \"N\", kind: CUSTOMER, contactId: $c, role: ADMIN }) { id } }",
            json!({ "c": cid }),
            "BAD_USER_INPUT",
            Some("input.role"),
        ),
        (
            "mutation ($c: ID!) { createUser(input: { email: \"n@acme.test\", name: \"N\", contactId: $c }) { id } }",
            json!({ "c": cid }),
            "BAD_USER_INPUT",
            Some("input.contactId"),
        ),
        (
            "mutation ($id: ID!) { updateUser(id: $id, input: { email: \"x@\" }) { id } }",
            json!({ "id": user_id(w.admin.id) }),
            "BAD_USER_INPUT",
            Some("input.email"),
        ),
        (
            "mutation ($id: ID!) { updateUser(id: $id, input: { name: \"\" }) { id } }",
            json!({ "id": user_id(w.admin.id) }),
            "BAD_USER_INPUT",
            Some("input.name"),
        ),
        (
            "mutation ($id: ID!) { updateUser(id: $id, input: { role: ADMIN }) { id } }",
            json!({ "id": customer_id }),
            "BAD_USER_INPUT",
            Some("input.role"),
        ),
        (
            "mutation ($id: ID!) { updateUser(id: $id, input: { email: \"owner@acme.test\" }) { id } }",
            json!({ "id": user_id(w.admin.id) }),
            "CONFLICT",
            None,
        ),
        (
            "mutation ($id: ID!) { deactivateUser(id: $id) { id } }",
            json!({ "id": "bm9wZQ" }),
            "NOT_FOUND",
            None,
        ),
        (
            "mutation ($c: ID!, $u: ID!) { grantCollaborator(contactId: $c, userId: $u, access: READ) { id } }",
            json!({ "c": cid, "u": customer_id }),
            "BAD_USER_INPUT",
            Some("userId"),
        ),
        (
            "mutation ($c: ID!, $u: ID!) { grantCollaborator(contactId: $c, userId: $u, access: READ) { id } }",
            json!({ "c": cid, "u": "???" }),
            "NOT_FOUND",
            None,
        ),
        (
            "mutation ($c: ID!, $u: ID!) { revokeCollaborator(contactId: $c, userId: $u) }",
            json!({ "c": "x", "u": customer_id }),
            "NOT_FOUND",
            None,
        ),
        (
            "{ contacts(first: -1) { totalCount } }",
            json!({}),
            "BAD_USER_INPUT",
            Some("first"),
        ),
        (
            "{ contacts(after: \"bogus\") { totalCount } }",
            json!({}),
            "BAD_USER_INPUT",
            Some("after"),
        ),
        (
            "{ users(after: \"bogus\") { totalCount } }",
            json!({}),
            "BAD_USER_INPUT",
            Some("after"),
        ),
    ];
    let before = snapshot(&app).await;
    let contact_before = app.gql(Some(&token), "query ($id: ID!) { contact(id: $id) { name emails { email } phones { number } customFields consultant { id } } }", json!({ "id": cid })).await;
    for (query, variables, code, field) in &cases {
        let response = app.gql(Some(&token), query, variables.clone()).await;
        let message = response.expect_code(code);
        assert!(
            !message.is_empty() && !message.contains("Db") && !message.contains("sqlx"),
            "{message}"
        );
        assert_eq!(
            response.field(),
            *field,
            "{query} {variables}: {}",
            response.body
        );
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a failed mutation wrote something"
    );
    let contact_after = app.gql(Some(&token), "query ($id: ID!) { contact(id: $id) { name emails { email } phones { number } customFields consultant { id } } }", json!({ "id": cid })).await;
    assert_eq!(contact_before.body, contact_after.body);
}
