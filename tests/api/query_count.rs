//! No N+1: a page of contacts with their emails, phones, consultant and collaborators takes
//! the same number of SQL statements for 5 contacts as for 50.

use serde_json::json;
use threadline::{
    auth::Role,
    service::{access::AccessLevel, collaborators},
};

use crate::helpers::{actor, contact, spawn_app, staff};

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
        // Token check, the page, then one batch each for emails, phones, addresses,
        // collaborators and two levels of users.
        assert!(counts[1] <= 8, "{} statements as {}", counts[1], user.email);
    }
}
