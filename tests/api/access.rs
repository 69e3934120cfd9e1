//! The access matrix: every role and grant against every query and mutation of the foundation.

use serde_json::{Value, json};

use crate::helpers::{Gql, TestApp, World, contact_id, spawn_app, user_id, world};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Ok,
    Forbidden,
    NotFound,
}
use Expect::{Forbidden, NotFound, Ok};

fn check(what: &str, who: &str, response: &Gql, expect: Expect) {
    match expect {
        Ok => assert!(
            response.body.get("errors").is_none(),
            "{what} as {who}: expected success, got {}",
            response.body
        ),
        Forbidden => assert_eq!(
            response.code(),
            Some("FORBIDDEN"),
            "{what} as {who}: {}",
            response.body
        ),
        NotFound => assert_eq!(
            response.code(),
            Some("NOT_FOUND"),
            "{what} as {who}: {}",
            response.body
        ),
    }
}

struct Person<'a> {
    name: &'static str,
    user: &'a entity::user::Model,
    /// Sees the granted contact.
    sees: bool,
    /// May edit it (WRITE).
    writes: bool,
    /// May manage its collaborators (ADMIN).
    admins: bool,
    /// Owner or admin of organization A.
    org_admin: bool,
    /// Contacts it sees in its organization.
    contacts: i64,
    /// Users it sees.
    users: i64,
}

fn people(w: &World) -> Vec<Person<'_>> {
    let p = |name, user, sees, writes, admins, org_admin, contacts, users| Person {
        name,
        user,
        sees,
        writes,
        admins,
        org_admin,
        contacts,
        users,
    };
    vec![
        p("owner", &w.owner, true, true, true, true, 2, 7),
        p("admin", &w.admin, true, true, true, true, 2, 7),
        p(
            "member without grant",
            &w.member_none,
            false,
            false,
            false,
            false,
            0,
            6,
        ),
        p(
            "member with READ",
            &w.member_read,
            true,
            false,
            false,
            false,
            1,
            7,
        ),
        p(
            "member with WRITE",
            &w.member_write,
            true,
            true,
            false,
            false,
            1,
            7,
        ),
        p(
            "member with ADMIN",
            &w.member_admin,
            true,
            true,
            true,
            false,
            1,
            7,
        ),
        p(
            "customer user",
            &w.customer,
            true,
            false,
            false,
            false,
            1,
            1,
        ),
        p(
            "other organization",
            &w.other_owner,
            false,
            false,
            false,
            false,
            1,
            1,
        ),
    ]
}

fn level(allowed: bool, sees: bool) -> Expect {
    match (allowed, sees) {
        (true, _) => Ok,
        (false, true) => Forbidden,
        (false, false) => NotFound,
    }
}

async fn run(app: &TestApp, token: &str, query: &str, variables: Value) -> Gql {
    app.gql(Some(token), query, variables).await
}

#[tokio::test]
async fn contact_queries_respect_grants() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    for p in people(&w) {
        let token = app.token(p.user);
        let one = run(
            &app,
            &token,
            "query ($id: ID!) { contact(id: $id) { name myAccess collaborators { access } } }",
            json!({ "id": cid }),
        )
        .await;
        check("contact", p.name, &one, if p.sees { Ok } else { NotFound });
        if p.sees {
            let collaborators = one.data()["contact"]["collaborators"]
                .as_array()
                .map(Vec::len);
            // The contract: the list is for callers with ADMIN on the contact only.
            let expected = if p.admins { 4 } else { 0 };
            assert_eq!(collaborators, Some(expected), "collaborators as {}", p.name);
        }

        let node = run(
            &app,
            &token,
            "query ($id: ID!) { node(id: $id) { id ... on Contact { name } } }",
            json!({ "id": cid }),
        )
        .await;
        assert_eq!(node.data()["node"].is_null(), !p.sees, "node as {}", p.name);

        let list = run(
            &app,
            &token,
            "{ contacts { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await;
        let data = list.data();
        assert_eq!(
            data["contacts"]["totalCount"], p.contacts,
            "contacts as {}",
            p.name
        );
        let ids: Vec<&str> = data["contacts"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .filter_map(|e| e["node"]["id"].as_str())
            .collect();
        assert_eq!(ids.len() as i64, p.contacts, "edges as {}", p.name);
        assert_eq!(
            ids.contains(&cid.as_str()),
            p.sees,
            "the contact in the list of {}",
            p.name
        );
        assert!(
            !ids.contains(&contact_id(w.foreign_contact).as_str())
                || p.name == "other organization"
        );

        // Nobody in organization A reaches the other organization's contact, by any path.
        if p.name != "other organization" {
            let foreign = run(
                &app,
                &token,
                "query ($id: ID!) { contact(id: $id) { id } }",
                json!({ "id": contact_id(w.foreign_contact) }),
            )
            .await;
            check("foreign contact", p.name, &foreign, NotFound);
        }

        let users = run(
            &app,
            &token,
            "{ users { totalCount edges { node { id email } } } }",
            json!({}),
        )
        .await;
        assert_eq!(
            users.data()["users"]["totalCount"],
            p.users,
            "users as {}",
            p.name
        );
        assert_eq!(
            users.data()["users"]["edges"]
                .as_array()
                .map(|e| e.len() as i64),
            Some(p.users),
            "user edges as {}",
            p.name
        );
    }
}

#[tokio::test]
async fn contact_mutations_respect_grants() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    for p in people(&w) {
        let token = app.token(p.user);
        let write = level(p.writes, p.sees);
        let update = run(
            &app,
            &token,
            "mutation ($id: ID!, $f: JSON) { updateContact(id: $id, input: { customFields: $f }) { customFields } }",
            json!({ "id": cid, "f": { "editedBy": p.name } }),
        )
        .await;
        check("updateContact", p.name, &update, write);
        for mutation in ["archiveContact", "unarchiveContact"] {
            let response = run(
                &app,
                &token,
                &format!("mutation ($id: ID!) {{ {mutation}(id: $id) {{ archived }} }}"),
                json!({ "id": cid }),
            )
            .await;
            check(mutation, p.name, &response, write);
        }

        let manage = level(p.admins, p.sees);
        let grant = run(
            &app,
            &token,
            "mutation ($c: ID!, $u: ID!) { grantCollaborator(contactId: $c, userId: $u, access: READ) { access user { email } } }",
            json!({ "c": cid, "u": user_id(w.member_none.id) }),
        )
        .await;
        check("grantCollaborator", p.name, &grant, manage);
        let revoke = run(
            &app,
            &token,
            "mutation ($c: ID!, $u: ID!) { revokeCollaborator(contactId: $c, userId: $u) }",
            json!({ "c": cid, "u": user_id(w.member_none.id) }),
        )
        .await;
        // Without the grant in place the revocation reports the grant as missing.
        check(
            "revokeCollaborator",
            p.name,
            &revoke,
            if p.admins { Ok } else { manage },
        );

        let create = run(
            &app,
            &token,
            "mutation { createContact(input: { name: \"New\" }) { myAccess } }",
            json!({}),
        )
        .await;
        if p.user.kind == "CUSTOMER" {
            check("createContact", p.name, &create, Forbidden);
        } else {
            assert_eq!(
                create.data()["createContact"]["myAccess"],
                "ADMIN",
                "the creator gets ADMIN ({})",
                p.name
            );
        }
    }
    // Mutations on the other organization's contact fail as missing, even for org A's owner.
    let token = app.token(&w.owner);
    let foreign = run(
        &app,
        &token,
        "mutation ($id: ID!) { archiveContact(id: $id) { id } }",
        json!({ "id": contact_id(w.foreign_contact) }),
    )
    .await;
    check("archive a foreign contact", "owner", &foreign, NotFound);
    let grant_foreign_user = run(
        &app,
        &token,
        "mutation ($c: ID!, $u: ID!) { grantCollaborator(contactId: $c, userId: $u, access: READ) { id } }",
        json!({ "c": cid, "u": user_id(w.other_owner.id) }),
    )
    .await;
    check(
        "grant to another organization's user",
        "owner",
        &grant_foreign_user,
        NotFound,
    );
}

#[tokio::test]
async fn revoking_a_grant_hides_the_contact_at_once() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let reader = app.token(&w.member_read);
    let query = "query ($id: ID!) { contact(id: $id) { name } }";
    app.gql(Some(&reader), query, json!({ "id": cid }))
        .await
        .data();
    let revoked = app
        .gql(
            Some(&app.token(&w.member_admin)),
            "mutation ($c: ID!, $u: ID!) { revokeCollaborator(contactId: $c, userId: $u) }",
            json!({ "c": cid, "u": user_id(w.member_read.id) }),
        )
        .await;
    assert!(revoked.data()["revokeCollaborator"].is_string());
    app.gql(Some(&reader), query, json!({ "id": cid }))
        .await
        .expect_code("NOT_FOUND");
}

#[tokio::test]
async fn user_management_respects_roles() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let target_user = crate::helpers::staff(
        &app.db,
        w.owner.organization_id,
        "target@acme.test",
        threadline::auth::Role::Member,
    )
    .await;
    let target = user_id(target_user.id);
    for p in people(&w) {
        let token = app.token(p.user);
        let sees_target = p.user.kind == "STAFF" && p.name != "other organization";
        let manage = level(p.org_admin, sees_target);
        let update = run(
            &app,
            &token,
            "mutation ($id: ID!) { updateUser(id: $id, input: { name: \"Renamed\" }) { name } }",
            json!({ "id": target }),
        )
        .await;
        check("updateUser", p.name, &update, manage);
        let deactivate = run(
            &app,
            &token,
            "mutation ($id: ID!) { deactivateUser(id: $id) { active } }",
            json!({ "id": target }),
        )
        .await;
        check("deactivateUser", p.name, &deactivate, manage);
        let reactivate = run(
            &app,
            &token,
            "mutation ($id: ID!) { reactivateUser(id: $id) { active } }",
            json!({ "id": target }),
        )
        .await;
        check("reactivateUser", p.name, &reactivate, manage);
        let email = format!("new-{}@acme.test", p.user.id);
        let create = run(&app, &token, "mutation ($e: String!) { createUser(input: { email: $e, name: \"N\" }) { role kind } }", json!({ "e": email })).await;
        let may_create = p.org_admin || p.name == "other organization";
        check(
            "createUser",
            p.name,
            &create,
            if may_create { Ok } else { Forbidden },
        );
        // Everyone may rename themselves.
        let own = run(
            &app,
            &token,
            "mutation ($id: ID!) { updateUser(id: $id, input: { name: \"Me\" }) { name } }",
            json!({ "id": user_id(p.user.id) }),
        )
        .await;
        check("rename self", p.name, &own, Ok);
        let me = run(&app, &token, "{ me { name } }", json!({})).await;
        assert_eq!(me.data()["me"]["name"], "Me");
    }
}

#[tokio::test]
async fn owners_are_protected() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let admin = app.token(&w.admin);
    let owner = app.token(&w.owner);
    let make_owner = run(
        &app,
        &admin,
        "mutation ($id: ID!) { updateUser(id: $id, input: { role: OWNER }) { role } }",
        json!({ "id": user_id(w.member_none.id) }),
    )
    .await;
    check("admin makes an owner", "admin", &make_owner, Forbidden);
    let create_owner = run(&app, &admin, "mutation { createUser(input: { email: \"o2@acme.test\", name: \"O\", role: OWNER }) { id } }", json!({})).await;
    check("admin creates an owner", "admin", &create_owner, Forbidden);
    let deactivate_owner = run(
        &app,
        &admin,
        "mutation ($id: ID!) { deactivateUser(id: $id) { id } }",
        json!({ "id": user_id(w.owner.id) }),
    )
    .await;
    check(
        "admin deactivates the owner",
        "admin",
        &deactivate_owner,
        Forbidden,
    );
    let last = run(
        &app,
        &owner,
        "mutation ($id: ID!) { deactivateUser(id: $id) { id } }",
        json!({ "id": user_id(w.owner.id) }),
    )
    .await;
    last.expect_code("CONFLICT");
    let demote = run(
        &app,
        &owner,
        "mutation ($id: ID!) { updateUser(id: $id, input: { role: ADMIN }) { id } }",
        json!({ "id": user_id(w.owner.id) }),
    )
    .await;
    demote.expect_code("CONFLICT");
    // With a second owner the first may step down.
    let second = run(&app, &owner, "mutation { createUser(input: { email: \"o2@acme.test\", name: \"O2\", role: OWNER }) { id role } }", json!({})).await;
    assert_eq!(second.data()["createUser"]["role"], "OWNER");
    let demote = run(
        &app,
        &owner,
        "mutation ($id: ID!) { updateUser(id: $id, input: { role: ADMIN }) { role } }",
        json!({ "id": user_id(w.owner.id) }),
    )
    .await;
    assert_eq!(demote.data()["updateUser"]["role"], "ADMIN");
}

/// Two admins granting the same user at once both succeed (the last level wins): the second
/// insert of a grant racing the first must not surface as `INTERNAL`.
#[tokio::test]
async fn concurrent_grants_of_one_user_all_succeed_and_leave_one_grant() {
    let app = crate::helpers::spawn_app().await;
    let w = crate::helpers::world(&app).await;
    let owner = app.token(&w.owner);
    let admin = app.token(&w.admin);
    let contact = crate::helpers::contact_id(w.other_contact);
    let user = crate::helpers::user_id(w.member_none.id);
    let grant = "mutation ($c: ID!, $u: ID!, $a: AccessLevel!) { grantCollaborator(contactId: $c, userId: $u, access: $a) { access } }";
    for round in 0..5 {
        let calls = (0..8).map(|i| {
            let token = if i % 2 == 0 {
                owner.clone()
            } else {
                admin.clone()
            };
            let access = ["READ", "WRITE", "ADMIN"][(i + round) % 3];
            let app = &app;
            let (contact, user) = (contact.clone(), user.clone());
            async move {
                app.gql(
                    Some(&token),
                    grant,
                    serde_json::json!({ "c": contact, "u": user, "a": access }),
                )
                .await
            }
        });
        for answer in futures_util::future::join_all(calls).await {
            assert!(answer.body.get("errors").is_none(), "{}", answer.body);
        }
        let listed = app
            .gql(
                Some(&owner),
                "query ($c: ID!) { contact(id: $c) { collaborators { user { id } } } }",
                serde_json::json!({ "c": contact }),
            )
            .await;
        let grants = listed.data()["contact"]["collaborators"]
            .as_array()
            .expect("collaborators")
            .iter()
            .filter(|g| g["user"]["id"] == serde_json::json!(user))
            .count();
        assert_eq!(grants, 1, "one grant for the user after round {round}");
        let revoke =
            "mutation ($c: ID!, $u: ID!) { revokeCollaborator(contactId: $c, userId: $u) }";
        app.gql(
            Some(&owner),
            revoke,
            serde_json::json!({ "c": contact, "u": user }),
        )
        .await
        .data();
    }
}
