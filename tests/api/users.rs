//! Users: creating staff and customer users, conflicts, and what a customer user sees.

use serde_json::json;

use crate::helpers::{contact_id, spawn_app, user_id, world};

#[tokio::test]
async fn create_staff_and_customer_users() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let token = app.token(&w.admin);
    let staff = app
        .gql(Some(&token), "mutation { createUser(input: { email: \"New@Acme.test\", name: \"New Person\" }) { id email role kind active } }", json!({}))
        .await;
    assert_eq!(
        staff.data()["createUser"],
        json!({ "id": staff.data()["createUser"]["id"], "email": "new@acme.test", "role": "MEMBER", "kind": "STAFF", "active": true })
    );
    let duplicate = app
        .gql(
            Some(&token),
            "mutation { createUser(input: { email: \"new@acme.test\", name: \"Again\" }) { id } }",
            json!({}),
        )
        .await;
    duplicate.expect_code("CONFLICT");

    let customer = app
        .gql(
            Some(&token),
            "mutation ($c: ID!) { createUser(input: { email: \"alan@customer.test\", name: \"Alan\", kind: CUSTOMER, contactId: $c }) { kind role contact { name } } }",
            json!({ "c": contact_id(w.other_contact) }),
        )
        .await;
    assert_eq!(
        customer.data()["createUser"],
        json!({ "kind": "CUSTOMER", "role": null, "contact": { "name": "Alan Turing" } })
    );
    let second = app
        .gql(
            Some(&token),
            "mutation ($c: ID!) { createUser(input: { email: \"alan2@customer.test\", name: \"Alan\", kind: CUSTOMER, contactId: $c }) { id } }",
            json!({ "c": contact_id(w.other_contact) }),
        )
        .await;
    second.expect_code("CONFLICT");
    let foreign = app
        .gql(
            Some(&token),
            "mutation ($c: ID!) { createUser(input: { email: \"x@customer.test\", name: \"X\", kind: CUSTOMER, contactId: $c }) { id } }",
            json!({ "c": contact_id(w.foreign_contact) }),
        )
        .await;
    foreign.expect_code("NOT_FOUND");
}

#[tokio::test]
async fn a_customer_user_sees_their_contact_and_consultant_only() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    app.gql(
        Some(&owner),
        "mutation ($id: ID!, $u: ID!) { updateContact(id: $id, input: { consultantId: $u }) { id } }",
        json!({ "id": contact_id(w.contact), "u": user_id(w.member_write.id) }),
    )
    .await
    .data();
    let token = app.token(&w.customer);
    let me = app.gql(Some(&token), "{ me { kind contact { name myAccess consultant { email } createdBy { email } collaborators { access } } } }", json!({})).await;
    assert_eq!(
        me.data()["me"],
        json!({ "kind": "CUSTOMER", "contact": { "name": "Grace Hopper", "myAccess": "READ", "consultant": { "email": "write@acme.test" }, "createdBy": null, "collaborators": [] } })
    );
    let users = app
        .gql(
            Some(&token),
            "{ users { edges { node { email } } } }",
            json!({}),
        )
        .await;
    let mut emails: Vec<&str> = users.data()["users"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(|e| e["node"]["email"].as_str())
        .collect();
    emails.sort_unstable();
    assert_eq!(emails, ["grace@customer.test", "write@acme.test"]);
    let other = app
        .gql(
            Some(&token),
            "query ($id: ID!) { user(id: $id) { email } }",
            json!({ "id": user_id(w.owner.id) }),
        )
        .await;
    other.expect_code("NOT_FOUND");
}
