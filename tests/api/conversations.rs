//! Conversations: a user sees one only with access to both its contact and its channel.

use serde_json::{Value, json};
use threadline::{
    auth::Role,
    service::{access::AccessLevel, channels, collaborators},
};

use crate::helpers::{
    actor, channel_id, contact_id, phone_channel, spawn_app, staff, user_id, world,
};

const SEND: &str = "mutation ($c: ID!, $ch: ID!, $b: String!) { sendMessage(input: { contactId: $c, channelId: $ch, body: $b }) { id status direction author { email } } }";
const INBOUND: &str = "mutation ($c: ID!, $ch: ID!, $b: String!) { recordInboundMessage(input: { contactId: $c, channelId: $ch, body: $b }) { id status direction } }";

fn level(n: usize) -> Option<AccessLevel> {
    [None, Some(AccessLevel::Read), Some(AccessLevel::Write)][n]
}

#[tokio::test]
async fn the_access_matrix() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let line = phone_channel(&app, &w.owner, "+14155550000").await;
    let cid = contact_id(w.contact);
    let chid = channel_id(line);
    let sent = app
        .gql(
            Some(&owner),
            SEND,
            json!({ "c": cid, "ch": chid, "b": "Hello Grace" }),
        )
        .await;
    assert_eq!(sent.data()["sendMessage"]["status"], "QUEUED");
    app.gql(
        Some(&owner),
        INBOUND,
        json!({ "c": cid, "ch": chid, "b": "Hi! Call me" }),
    )
    .await
    .data();
    let inbox = app
        .gql(
            Some(&owner),
            "{ conversations { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let conversation = inbox.data()["conversations"]["edges"][0]["node"]["id"]
        .as_str()
        .expect("conversation")
        .to_owned();

    let owner_actor = actor(&w.owner);
    for c in 0..3 {
        for k in 0..3 {
            let member = staff(
                &app.db,
                w.owner.organization_id,
                &format!("m{c}{k}@acme.test"),
                Role::Member,
            )
            .await;
            if let Some(access) = level(c) {
                collaborators::grant(&app.db, &owner_actor, w.contact, member.id, access)
                    .await
                    .expect("grant");
            }
            if let Some(access) = level(k) {
                channels::grant(&app.db, &owner_actor, line, member.id, access)
                    .await
                    .expect("channel grant");
            }
            let who = format!("contact {:?} × channel {:?}", level(c), level(k));
            let token = app.token(&member);
            let sees = c > 0 && k > 0;
            let list = app.gql(Some(&token), "{ conversations { totalCount edges { node { id unreadCount lastMessage { body } } } } }", json!({})).await;
            assert_eq!(
                list.data()["conversations"]["totalCount"],
                i64::from(sees),
                "inbox: {who}"
            );
            let one = app.gql(Some(&token), "query ($id: ID!) { conversation(id: $id) { id contact { name } channel { address } } }", json!({ "id": conversation })).await;
            assert_eq!(
                one.code(),
                if sees { None } else { Some("NOT_FOUND") },
                "conversation: {who}"
            );
            let node = app
                .gql(
                    Some(&token),
                    "query ($id: ID!) { node(id: $id) { id } }",
                    json!({ "id": conversation }),
                )
                .await;
            assert_eq!(node.data()["node"].is_null(), !sees, "node: {who}");
            let message = app
                .gql(
                    Some(&token),
                    "query ($id: ID!) { node(id: $id) { id } }",
                    json!({ "id": sent.data()["sendMessage"]["id"] }),
                )
                .await;
            assert_eq!(
                message.data()["node"].is_null(),
                !sees,
                "message node: {who}"
            );
            let contact = app
                .gql(Some(&token), "query ($id: ID!) { contact(id: $id) { conversations { totalCount } } timeline(contactId: $id, filter: { kinds: [MESSAGE_SENT, MESSAGE_RECEIVED] }) { edges { node { kind subject { __typename } } } } }", json!({ "id": cid }))
                .await;
            if c == 0 {
                contact.expect_code("NOT_FOUND");
            } else {
                let data = contact.data();
                assert_eq!(
                    data["contact"]["conversations"]["totalCount"],
                    i64::from(sees),
                    "contact.conversations: {who}"
                );
                // Earlier members with WRITE on the channel added messages: count at least two.
                let events = data["timeline"]["edges"]
                    .as_array()
                    .map(Vec::len)
                    .unwrap_or(0);
                assert_eq!(events >= 2, sees, "timeline: {who}");
                assert_eq!(events == 0, !sees, "timeline: {who}");
            }
            let send = app
                .gql(
                    Some(&token),
                    SEND,
                    json!({ "c": cid, "ch": chid, "b": "From a member" }),
                )
                .await;
            let expected = match (c, k) {
                (0, _) => Some("NOT_FOUND"),
                (1, _) => Some("FORBIDDEN"),
                (_, 0) => Some("NOT_FOUND"),
                (_, 1) => Some("FORBIDDEN"),
                _ => None,
            };
            assert_eq!(send.code(), expected, "sendMessage: {who}: {}", send.body);
            let inbound = app
                .gql(
                    Some(&token),
                    INBOUND,
                    json!({ "c": cid, "ch": chid, "b": "From the contact" }),
                )
                .await;
            // WRITE on the channel, and the contact visible (a hidden one looks missing).
            let expected = match (c, k) {
                (_, 0) => Some("NOT_FOUND"),
                (_, 1) => Some("FORBIDDEN"),
                (0, _) => Some("NOT_FOUND"),
                _ => None,
            };
            assert_eq!(
                inbound.code(),
                expected,
                "recordInboundMessage: {who}: {}",
                inbound.body
            );
        }
    }
    // Owners and admins see every conversation; customer users and other organizations none.
    for (user, count) in [(&w.admin, 1), (&w.customer, 0), (&w.other_owner, 0)] {
        let list = app
            .gql(
                Some(&app.token(user)),
                "{ conversations { totalCount } channels { id } }",
                json!({}),
            )
            .await;
        assert_eq!(
            list.data()["conversations"]["totalCount"],
            count,
            "{}",
            user.email
        );
    }
    app.gql(
        Some(&app.token(&w.customer)),
        SEND,
        json!({ "c": cid, "ch": chid, "b": "x" }),
    )
    .await
    .expect_code("FORBIDDEN");
    app.gql(
        Some(&app.token(&w.other_owner)),
        "query ($id: ID!) { conversation(id: $id) { id } }",
        json!({ "id": conversation }),
    )
    .await
    .expect_code("NOT_FOUND");
}

#[tokio::test]
async fn revoking_either_grant_hides_the_conversation_and_reads_are_per_user() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let line = phone_channel(&app, &w.owner, "+14155550001").await;
    let (cid, chid) = (contact_id(w.contact), channel_id(line));
    for access in ["WRITE"] {
        for user in [&w.member_write, &w.member_read] {
            app.gql(Some(&owner), "mutation ($ch: ID!, $u: ID!, $a: AccessLevel!) { grantChannelAccess(channelId: $ch, userId: $u, access: $a) { access } }", json!({ "ch": chid, "u": user_id(user.id), "a": access }))
                .await
                .data();
        }
    }
    for body in ["one", "two"] {
        app.gql(
            Some(&owner),
            INBOUND,
            json!({ "c": cid, "ch": chid, "b": body }),
        )
        .await
        .data();
    }
    let inbox = "{ conversations(filter: { unread: true }) { totalCount edges { node { id unreadCount } } } }";
    let writer = app.token(&w.member_write);
    let reader = app.token(&w.member_read);
    let before = app.gql(Some(&writer), inbox, json!({})).await;
    assert_eq!(
        before.data()["conversations"]["edges"][0]["node"]["unreadCount"],
        2
    );
    let id = before.data()["conversations"]["edges"][0]["node"]["id"].clone();
    let read = app
        .gql(
            Some(&writer),
            "mutation ($id: ID!) { markConversationRead(id: $id) { unreadCount } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(read.data()["markConversationRead"]["unreadCount"], 0);
    assert_eq!(
        app.gql(Some(&writer), inbox, json!({})).await.data()["conversations"]["totalCount"],
        0
    );
    // The other user's unread state is untouched.
    let other = app.gql(Some(&reader), inbox, json!({})).await;
    assert_eq!(
        other.data()["conversations"]["edges"][0]["node"]["unreadCount"],
        2
    );
    // A new inbound message is unread again for the writer.
    app.gql(
        Some(&owner),
        INBOUND,
        json!({ "c": cid, "ch": chid, "b": "three" }),
    )
    .await
    .data();
    let again = app.gql(Some(&writer), inbox, json!({})).await;
    assert_eq!(
        again.data()["conversations"]["edges"][0]["node"]["unreadCount"],
        1
    );

    // Revoking the channel grant hides it at once; so does revoking the contact grant.
    let all = "{ conversations { totalCount } }";
    assert_eq!(
        app.gql(Some(&reader), all, json!({})).await.data()["conversations"]["totalCount"],
        1
    );
    app.gql(
        Some(&owner),
        "mutation ($ch: ID!, $u: ID!) { revokeChannelAccess(channelId: $ch, userId: $u) }",
        json!({ "ch": chid, "u": user_id(w.member_read.id) }),
    )
    .await
    .data();
    assert_eq!(
        app.gql(Some(&reader), all, json!({})).await.data()["conversations"]["totalCount"],
        0
    );
    assert_eq!(
        app.gql(Some(&writer), all, json!({})).await.data()["conversations"]["totalCount"],
        1
    );
    app.gql(
        Some(&owner),
        "mutation ($c: ID!, $u: ID!) { revokeCollaborator(contactId: $c, userId: $u) }",
        json!({ "c": cid, "u": user_id(w.member_write.id) }),
    )
    .await
    .data();
    assert_eq!(
        app.gql(Some(&writer), all, json!({})).await.data()["conversations"]["totalCount"],
        0
    );
}

#[tokio::test]
async fn message_status_and_channel_settings() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let created = app.gql(Some(&owner), "mutation { createChannel(input: { kind: EMAIL, address: \"Support@Acme.test\", displayName: \"Support\" }) { id kind address myAccess } }", json!({})).await;
    let ch = created.data()["createChannel"].clone();
    assert_eq!(ch["address"], "support@acme.test");
    app.gql(Some(&owner), "mutation { createChannel(input: { kind: EMAIL, address: \"support@acme.test\", displayName: \"Again\" }) { id } }", json!({}))
        .await
        .expect_code("CONFLICT");
    app.gql(Some(&owner), "mutation { createChannel(input: { kind: PHONE, address: \"555\", displayName: \"Bad\" }) { id } }", json!({}))
        .await
        .expect_code("BAD_USER_INPUT");
    app.gql(Some(&app.token(&w.member_admin)), "mutation { createChannel(input: { kind: PHONE, address: \"+14155550999\", displayName: \"Mine\" }) { id } }", json!({}))
        .await
        .expect_code("FORBIDDEN");
    let sent = app
        .gql(
            Some(&owner),
            SEND,
            json!({ "c": contact_id(w.contact), "ch": ch["id"], "b": "Your order shipped" }),
        )
        .await;
    let message = sent.data()["sendMessage"]["id"].clone();
    for status in ["SENT", "DELIVERED", "READ"] {
        let r = app.gql(Some(&owner), "mutation ($id: ID!, $s: DeliveryStatus!) { updateMessageStatus(id: $id, status: $s) { status } }", json!({ "id": message, "s": status })).await;
        assert_eq!(r.data()["updateMessageStatus"]["status"], status);
    }
    app.gql(
        Some(&app.token(&w.member_write)),
        "mutation ($id: ID!) { updateMessageStatus(id: $id, status: FAILED) { status } }",
        json!({ "id": message }),
    )
    .await
    .expect_code("NOT_FOUND");
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { deleteChannel(id: $id) }",
        json!({ "id": ch["id"] }),
    )
    .await
    .expect_code("CONFLICT");
    let empty = app
        .gql(
            Some(&owner),
            SEND,
            json!({ "c": contact_id(w.contact), "ch": ch["id"], "b": "   " }),
        )
        .await;
    assert_eq!(empty.field(), Some("input.body"));
    let messages = app.gql(Some(&owner), "{ conversations { edges { node { messages { edges { node { body status direction author { email } } } } } } } }", json!({})).await;
    assert_eq!(
        messages.data()["conversations"]["edges"][0]["node"]["messages"]["edges"][0]["node"],
        json!({ "body": "Your order shipped", "status": "READ", "direction": "OUTBOUND", "author": { "email": "owner@acme.test" } })
    );
}

#[tokio::test]
async fn an_inbox_page_takes_a_fixed_number_of_statements() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner_actor = actor(&w.owner);
    let line = phone_channel(&app, &w.owner, "+14155550002").await;
    channels::grant(
        &app.db,
        &owner_actor,
        line,
        w.member_write.id,
        AccessLevel::Read,
    )
    .await
    .expect("grant");
    let owner = app.token(&w.owner);
    for i in 0..50 {
        let id = crate::helpers::contact(&app.db, &w.owner, &format!("Inbox {i}")).await;
        collaborators::grant(
            &app.db,
            &owner_actor,
            id,
            w.member_write.id,
            AccessLevel::Read,
        )
        .await
        .expect("grant");
        let vars =
            json!({ "c": contact_id(id), "ch": channel_id(line), "b": format!("message {i}") });
        app.gql(Some(&owner), if i % 2 == 0 { SEND } else { INBOUND }, vars)
            .await
            .data();
    }
    let token = app.token(&w.member_write);
    app.know(&token).await;
    let query = "query ($n: Int!) { conversations(first: $n) { edges { node { id unreadCount lastMessageAt contact { name emails { email } } channel { displayName } lastMessage { body direction author { name } } } } } }";
    let mut counts = Vec::new();
    for n in [5, 50] {
        let before = app.statements().await;
        let page = app.gql(Some(&token), query, json!({ "n": n })).await;
        counts.push(app.statements().await - before);
        let edges: &Value = &page.data()["conversations"]["edges"];
        assert_eq!(edges.as_array().map(Vec::len), Some(n));
        assert!(edges[0]["node"]["lastMessage"]["body"].is_string());
    }
    assert_eq!(counts[0], counts[1], "statements for 5 vs 50 conversations");
    assert!(counts[1] <= 9, "{} statements", counts[1]);
}
