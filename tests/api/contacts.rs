//! Contacts: create, read back, update, archive, search, paginate, and their timeline events.

use serde_json::{Value, json};

use crate::helpers::{spawn_app, user_id, world};

const CREATE: &str = "mutation ($input: CreateContactInput!) { createContact(input: $input) {
    id name archived customFields myAccess
    emails { email label primary } phones { number label primary }
    addresses { label line1 city postalCode country primary }
    consultant { email } createdBy { email }
    collaborators { access user { email } }
} }";

async fn kinds_of_events(app: &crate::helpers::TestApp) -> Vec<String> {
    use sea_orm::{EntityTrait, QueryOrder};
    entity::timeline_event::Entity::find()
        .order_by_asc(entity::timeline_event::Column::Id)
        .all(&app.db)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[tokio::test]
async fn create_read_update_archive() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let token = app.token(&w.member_write);
    let events_before = kinds_of_events(&app).await.len();
    let created = app
        .gql(
            Some(&token),
            CREATE,
            json!({ "input": {
                "name": "  Ada Lovelace ",
                "emails": [{ "email": "Ada@Example.com", "label": "work" }, { "email": "ada@home.example", "primary": true }],
                "phones": [{ "number": "+44 20 7946 0958", "label": "office" }],
                "addresses": [{ "line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "country": "GB" }],
                "consultantId": user_id(w.member_read.id),
                "customFields": { "tier": "gold", "score": 7 }
            } }),
        )
        .await;
    let c = created.data()["createContact"].clone();
    assert_eq!(c["name"], "Ada Lovelace");
    assert_eq!(c["myAccess"], "ADMIN");
    assert_eq!(
        c["emails"],
        json!([
            { "email": "ada@example.com", "label": "work", "primary": false },
            { "email": "ada@home.example", "label": null, "primary": true }
        ])
    );
    assert_eq!(
        c["phones"],
        json!([{ "number": "+442079460958", "label": "office", "primary": true }])
    );
    assert_eq!(c["addresses"][0]["city"], "London");
    assert_eq!(c["addresses"][0]["primary"], true);
    assert_eq!(c["consultant"]["email"], "read@acme.test");
    assert_eq!(c["createdBy"]["email"], "write@acme.test");
    assert_eq!(c["customFields"], json!({ "tier": "gold", "score": 7 }));
    assert_eq!(
        c["collaborators"],
        json!([{ "access": "ADMIN", "user": { "email": "write@acme.test" } }])
    );
    let id = c["id"].as_str().expect("id").to_owned();

    // Lists given replace the stored ones; omitted fields stay; null clears the consultant.
    let updated = app
        .gql(
            Some(&token),
            "mutation ($id: ID!) { updateContact(id: $id, input: { name: \"Ada King\", phones: [], consultantId: null }) {
                name emails { email } phones { number } consultant { email } } }",
            json!({ "id": id }),
        )
        .await;
    let u = &updated.data()["updateContact"];
    assert_eq!(u["name"], "Ada King");
    assert_eq!(u["emails"].as_array().map(Vec::len), Some(2));
    assert_eq!(u["phones"], json!([]));
    assert!(u["consultant"].is_null());

    let archived = app
        .gql(
            Some(&token),
            "mutation ($id: ID!) { archiveContact(id: $id) { archived archivedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(archived.data()["archiveContact"]["archived"], true);
    assert!(archived.data()["archiveContact"]["archivedAt"].is_string());
    // Archiving twice changes nothing and writes no second event.
    app.gql(
        Some(&token),
        "mutation ($id: ID!) { archiveContact(id: $id) { archived } }",
        json!({ "id": id }),
    )
    .await
    .data();
    let list = |archived: bool| {
        let app = &app;
        let token = token.clone();
        async move {
            app.gql(Some(&token), "query ($a: Boolean!) { contacts(filter: { archived: $a }) { edges { node { name } } } }", json!({ "a": archived }))
                .await
                .data()["contacts"]["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"]["name"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert!(!list(false).await.contains(&"Ada King".to_owned()));
    assert!(list(true).await.contains(&"Ada King".to_owned()));
    let un = app
        .gql(
            Some(&token),
            "mutation ($id: ID!) { unarchiveContact(id: $id) { archived archivedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        un.data()["unarchiveContact"],
        json!({ "archived": false, "archivedAt": null })
    );

    let kinds = kinds_of_events(&app).await;
    assert_eq!(
        &kinds[events_before..],
        [
            "CONTACT_CREATED",
            "CONTACT_UPDATED",
            "CONTACT_ARCHIVED",
            "CONTACT_UNARCHIVED"
        ]
    );
}

#[tokio::test]
async fn grants_write_timeline_events() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let kinds = kinds_of_events(&app).await;
    // The world: three contacts created, three grants.
    assert_eq!(kinds.iter().filter(|k| *k == "CONTACT_CREATED").count(), 3);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "COLLABORATOR_GRANTED")
            .count(),
        3
    );
    let token = app.token(&w.owner);
    let cid = crate::helpers::contact_id(w.contact);
    // Re-granting the same level is a no-op; changing it is an event.
    for access in ["READ", "READ", "WRITE"] {
        let g = app
            .gql(
                Some(&token),
                "mutation ($c: ID!, $u: ID!, $a: AccessLevel!) { grantCollaborator(contactId: $c, userId: $u, access: $a) { access grantedBy { email } } }",
                json!({ "c": cid, "u": user_id(w.member_read.id), "a": access }),
            )
            .await;
        assert_eq!(g.data()["grantCollaborator"]["access"], access);
    }
    app.gql(
        Some(&token),
        "mutation ($c: ID!, $u: ID!) { revokeCollaborator(contactId: $c, userId: $u) }",
        json!({ "c": cid, "u": user_id(w.member_read.id) }),
    )
    .await
    .data();
    let again = app
        .gql(
            Some(&token),
            "mutation ($c: ID!, $u: ID!) { revokeCollaborator(contactId: $c, userId: $u) }",
            json!({ "c": cid, "u": user_id(w.member_read.id) }),
        )
        .await;
    again.expect_code("NOT_FOUND");
    let after = kinds_of_events(&app).await;
    assert_eq!(
        &after[kinds.len()..],
        ["COLLABORATOR_GRANTED", "COLLABORATOR_REVOKED"]
    );
    use sea_orm::{EntityTrait, QueryOrder};
    let last = entity::timeline_event::Entity::find()
        .order_by_desc(entity::timeline_event::Column::Id)
        .one(&app.db)
        .await
        .expect("query")
        .expect("event");
    assert_eq!(last.summary, "owner revoked read's access to Grace Hopper");
    assert_eq!(last.actor_id, Some(w.owner.id));
    assert_eq!(last.contact_id, w.contact);
}

#[tokio::test]
async fn search_and_pagination() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let token = app.token(&w.owner);
    for (name, email, phone) in [
        ("Zoe Quinn", "zoe@quinn.example", "+1 212 555 0199"),
        (
            "Percy 100% Real_Name",
            "percy@pr.example",
            "+33 1 23 45 67 89",
        ),
    ] {
        app.gql(
            Some(&token),
            CREATE,
            json!({ "input": { "name": name, "emails": [{ "email": email }], "phones": [{ "number": phone }] } }),
        )
        .await
        .data();
    }
    let search = |text: &str| {
        let (app, token, text) = (&app, token.clone(), text.to_owned());
        async move {
            let r = app
                .gql(Some(&token), "query ($s: String) { contacts(filter: { search: $s }) { totalCount edges { node { name } } } }", json!({ "s": text }))
                .await;
            let names: Vec<String> = r.data()["contacts"]["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"]["name"].as_str().unwrap_or_default().to_owned())
                .collect();
            assert_eq!(r.data()["contacts"]["totalCount"], json!(names.len()));
            names
        }
    };
    assert_eq!(search("zoe").await, ["Zoe Quinn"]);
    assert_eq!(search("QUINN.EXAMPLE").await, ["Zoe Quinn"]);
    assert_eq!(search("212-555").await, ["Zoe Quinn"]);
    assert_eq!(search("0% real").await, ["Percy 100% Real_Name"]);
    // Three or more digits also search phone numbers: "100" is in the world's +1 415 555 0100.
    assert_eq!(search("100").await.len(), 3);
    assert_eq!(
        search("l%n").await,
        Vec::<String>::new(),
        "LIKE wildcards in the search are literal"
    );
    assert_eq!(search("l_n").await, ["Percy 100% Real_Name"]);
    assert!(search("nobody at all").await.is_empty());

    // Four contacts in all: pages of three and one, with working cursors.
    let page = |after: Value| {
        let (app, token) = (&app, token.clone());
        async move {
            app.gql(Some(&token), "query ($a: String) { contacts(first: 3, after: $a) { edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage endCursor } } }", json!({ "a": after }))
                .await
                .data()["contacts"]
                .clone()
        }
    };
    let first = page(Value::Null).await;
    assert_eq!(first["edges"].as_array().map(Vec::len), Some(3));
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    assert_eq!(first["pageInfo"]["hasPreviousPage"], false);
    let second = page(first["pageInfo"]["endCursor"].clone()).await;
    assert_eq!(second["edges"].as_array().map(Vec::len), Some(1));
    assert_eq!(second["pageInfo"]["hasNextPage"], false);
    assert_eq!(second["edges"][0]["node"]["name"], "Percy 100% Real_Name");

    // Backward: the last three, then the one before them.
    let back = app
        .gql(Some(&token), "{ contacts(last: 3) { edges { node { name } } pageInfo { hasPreviousPage hasNextPage startCursor } } }", json!({}))
        .await;
    let back = back.data()["contacts"].clone();
    let names: Vec<&str> = back["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(|e| e["node"]["name"].as_str())
        .collect();
    assert_eq!(names, ["Alan Turing", "Zoe Quinn", "Percy 100% Real_Name"]);
    assert_eq!(back["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(back["pageInfo"]["hasNextPage"], false);
    let before = app
        .gql(Some(&token), "query ($b: String) { contacts(last: 3, before: $b) { edges { node { name } } pageInfo { hasPreviousPage hasNextPage } } }", json!({ "b": back["pageInfo"]["startCursor"] }))
        .await;
    let before = before.data()["contacts"].clone();
    assert_eq!(before["edges"][0]["node"]["name"], "Grace Hopper");
    assert_eq!(
        before["pageInfo"],
        json!({ "hasPreviousPage": false, "hasNextPage": true })
    );
    let both = app
        .gql(
            Some(&token),
            "{ contacts(first: 1, last: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(both.field(), Some("last"));
    let users_back = app
        .gql(
            Some(&token),
            "{ users(last: 2) { edges { node { email } } pageInfo { hasPreviousPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        users_back.data()["users"]["edges"][1]["node"]["email"],
        "grace@customer.test"
    );

    // `first` is capped at 100 rather than refused.
    let capped = app
        .gql(
            Some(&token),
            "{ contacts(first: 1000) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        capped.data()["contacts"]["edges"].as_array().map(Vec::len),
        Some(4)
    );
}

#[tokio::test]
async fn labels_on_contacts_and_the_label_filter() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let mut labels = Vec::new();
    for name in ["vip", "lead"] {
        let l = app
            .gql(
                Some(&owner),
                "mutation ($n: String!) { createLabel(input: { name: $n }) { id } }",
                json!({ "n": name }),
            )
            .await;
        labels.push(l.data()["createLabel"]["id"].clone());
    }
    let created = app
        .gql(Some(&owner), "mutation ($l: [ID!]) { createContact(input: { name: \"Labelled\", labelIds: $l }) { id labels { name } } }", json!({ "l": [labels[0], labels[1]] }))
        .await;
    assert_eq!(
        created.data()["createContact"]["labels"],
        json!([{ "name": "lead" }, { "name": "vip" }])
    );
    let id = created.data()["createContact"]["id"].clone();
    let by_label = |filter: Value| {
        let (app, owner) = (&app, owner.clone());
        async move {
            app.gql(Some(&owner), "query ($f: ContactFilter) { contacts(filter: $f) { totalCount edges { node { name labels { name } } } } }", json!({ "f": filter }))
                .await
                .data()["contacts"]
                .clone()
        }
    };
    assert_eq!(
        by_label(json!({ "label": labels[0] })).await["totalCount"],
        1
    );
    assert_eq!(
        by_label(json!({ "labelIds": [labels[1]] })).await["edges"][0]["node"]["name"],
        "Labelled"
    );
    let updated = app
        .gql(Some(&owner), "mutation ($id: ID!, $l: [ID!]) { updateContact(id: $id, input: { labelIds: $l }) { labels { name } } }", json!({ "id": id, "l": [labels[1]] }))
        .await;
    assert_eq!(
        updated.data()["updateContact"]["labels"],
        json!([{ "name": "lead" }])
    );
    assert_eq!(
        by_label(json!({ "label": labels[0] })).await["totalCount"],
        0
    );
    // Another organization's label is not found, and nothing is written.
    let foreign = app
        .gql(
            Some(&app.token(&w.other_owner)),
            "mutation ($l: [ID!]) { createContact(input: { name: \"X\", labelIds: $l }) { id } }",
            json!({ "l": [labels[0]] }),
        )
        .await;
    foreign.expect_code("NOT_FOUND");
    assert_eq!(
        app.gql(
            Some(&app.token(&w.other_owner)),
            "{ contacts { totalCount } }",
            json!({})
        )
        .await
        .data()["contacts"]["totalCount"],
        1
    );
}
