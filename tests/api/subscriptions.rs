//! Subscriptions over WebSocket (`graphql-transport-ws`): the live timeline follows the
//! caller's access, and every protocol violation closes with the protocol's code.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{Socket, TestApp, contact_id, spawn_app, user_id, world, ws_connect};

/// Sends one protocol message.
pub(crate) async fn send(socket: &mut Socket, value: Value) {
    socket
        .send(Message::text(value.to_string()))
        .await
        .expect("send");
}

/// The next JSON message, failing after five seconds.
pub(crate) async fn receive(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("open")
            .expect("frame");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("json"),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => continue,
        }
    }
}

/// The close code the server ends with.
async fn close_code(socket: &mut Socket) -> u16 {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("closed within 5 s")
        {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(Message::Close(None))) | None => return 1005,
            Some(Ok(_)) => continue,
            Some(Err(error)) => panic!("{error}"),
        }
    }
}

/// A socket acknowledged for the holder of `token`.
pub(crate) async fn ready(app: &TestApp, token: &str) -> Socket {
    let mut socket = ws_connect(app).await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })).await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    socket
}

/// Waits until the subscription `id` on `socket` delivers events, by touching the contact until
/// one arrives (a fixed sleep would race with a busy machine).
pub(crate) async fn prime(app: &TestApp, socket: &mut Socket, token: &str, contact: &str) {
    for attempt in 0..50 {
        app.gql(
            Some(token),
            "mutation ($id: ID!, $f: JSON) { updateContact(id: $id, input: { customFields: $f }) { id } }",
            json!({ "id": contact, "f": { "prime": attempt } }),
        )
        .await
        .data();
        if let Ok(Some(Ok(Message::Text(_)))) =
            tokio::time::timeout(Duration::from_millis(300), socket.next()).await
        {
            // Drain the events of earlier attempts that arrive late.
            while let Ok(Some(Ok(_))) =
                tokio::time::timeout(Duration::from_millis(300), socket.next()).await
            {}
            return;
        }
    }
    panic!("the subscription never delivered an event");
}

const LIVE: &str = "subscription ($id: ID!) { timelineEvents(contactId: $id) { kind summary actor { email } subject { __typename } } }";

#[tokio::test]
async fn the_live_timeline_follows_access() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let owner = app.token(&w.owner);
    let mut socket = ready(&app, &owner).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "t1", "payload": { "query": LIVE, "variables": { "id": cid } } })).await;
    prime(&app, &mut socket, &owner, &cid).await;
    let author = app.token(&w.member_admin);
    let note = "mutation ($c: ID!, $v: Visibility!, $s: String!) { createNote(input: { contactId: $c, subject: $s, visibility: $v }) { id } }";
    app.gql(
        Some(&author),
        note,
        json!({ "c": cid, "v": "PRIVATE", "s": "secret" }),
    )
    .await
    .data();
    app.gql(
        Some(&author),
        note,
        json!({ "c": cid, "v": "TEAM", "s": "shared" }),
    )
    .await
    .data();
    let first = receive(&mut socket).await;
    assert_eq!(first["type"], "next");
    assert_eq!(first["id"], "t1");
    let event = &first["payload"]["data"]["timelineEvents"];
    assert_eq!(event["kind"], "NOTE_CREATED", "{first}");
    assert_eq!(
        event["summary"], "madmin added a note: shared",
        "the private note is not sent to others"
    );
    assert_eq!(event["actor"]["email"], "madmin@acme.test");
    assert_eq!(event["subject"]["__typename"], "Note");
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { archiveContact(id: $id) { id } }",
        json!({ "id": cid }),
    )
    .await
    .data();
    assert_eq!(
        receive(&mut socket).await["payload"]["data"]["timelineEvents"]["kind"],
        "CONTACT_ARCHIVED"
    );
    // Ping is answered; complete stops the subscription.
    send(&mut socket, json!({ "type": "ping" })).await;
    assert_eq!(receive(&mut socket).await["type"], "pong");
    send(&mut socket, json!({ "type": "complete", "id": "t1" })).await;
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { unarchiveContact(id: $id) { id } }",
        json!({ "id": cid }),
    )
    .await
    .data();
    assert!(
        tokio::time::timeout(Duration::from_millis(400), socket.next())
            .await
            .is_err(),
        "nothing after complete"
    );

    // Without access: an error message, not a stream.
    let mut outsider = ready(&app, &app.token(&w.member_none)).await;
    send(&mut outsider, json!({ "type": "subscribe", "id": "x", "payload": { "query": LIVE, "variables": { "id": cid } } })).await;
    let error = receive(&mut outsider).await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["payload"][0]["extensions"]["code"], "NOT_FOUND");

    // Revoking access ends a running subscription with a NOT_FOUND error.
    let mut reader = ready(&app, &app.token(&w.member_read)).await;
    send(&mut reader, json!({ "type": "subscribe", "id": "r", "payload": { "query": LIVE, "variables": { "id": cid } } })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.gql(
        Some(&owner),
        "mutation ($c: ID!, $u: ID!) { revokeCollaborator(contactId: $c, userId: $u) }",
        json!({ "c": cid, "u": user_id(w.member_read.id) }),
    )
    .await
    .data();
    let last = receive(&mut reader).await;
    assert_eq!(last["type"], "error", "{last}");
    assert_eq!(last["id"], "r");
    assert_eq!(last["payload"][0]["extensions"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn protocol_violations_close_with_their_codes() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let token = app.token(&w.owner);
    let subscribe =
        json!({ "type": "subscribe", "id": "1", "payload": { "query": "{ me { email } }" } });

    let mut socket = ws_connect(&app).await;
    send(&mut socket, subscribe.clone()).await;
    assert_eq!(
        close_code(&mut socket).await,
        4401,
        "subscribe before connection_init"
    );

    let mut socket = ws_connect(&app).await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "authorization": "Bearer forged" } }),
    )
    .await;
    assert_eq!(close_code(&mut socket).await, 4403, "bad credentials");

    let mut socket = ws_connect(&app).await;
    send(&mut socket, json!({ "type": "connection_init" })).await;
    assert_eq!(close_code(&mut socket).await, 4403, "no credentials");

    let mut socket = ws_connect(&app).await;
    socket.send(Message::text("{not json")).await.expect("send");
    assert_eq!(close_code(&mut socket).await, 4400, "invalid message");

    let mut socket = ws_connect(&app).await;
    assert_eq!(
        close_code(&mut socket).await,
        4408,
        "no connection_init within the timeout"
    );

    let mut socket = ready(&app, &token).await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })).await;
    assert_eq!(
        close_code(&mut socket).await,
        4429,
        "a second connection_init"
    );

    // Queries run over the socket too; a duplicate id of a running subscription closes 4409.
    let mut socket = ready(&app, &token).await;
    send(&mut socket, subscribe).await;
    let next = receive(&mut socket).await;
    assert_eq!(
        next["payload"]["data"]["me"]["email"], "owner@acme.test",
        "{next}"
    );
    assert_eq!(receive(&mut socket).await["type"], "complete");
    let live = json!({ "type": "subscribe", "id": "dup", "payload": { "query": LIVE, "variables": { "id": contact_id(w.contact) } } });
    send(&mut socket, live.clone()).await;
    send(&mut socket, live).await;
    assert_eq!(
        close_code(&mut socket).await,
        4409,
        "duplicate subscription id"
    );

    // At most 50 operations run at once on one connection.
    let mut socket = ready(&app, &token).await;
    for i in 0..51 {
        let live = json!({ "type": "subscribe", "id": format!("s{i}"), "payload": { "query": LIVE, "variables": { "id": contact_id(w.contact) } } });
        send(&mut socket, live).await;
    }
    let limited = receive(&mut socket).await;
    assert_eq!(limited["id"], "s50", "{limited}");
    assert_eq!(limited["payload"][0]["extensions"]["code"], "RATE_LIMITED");

    // A validation error is an `error` message for that operation only.
    let mut socket = ready(&app, &token).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "bad", "payload": { "query": "subscription { nope }" } })).await;
    let error = receive(&mut socket).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["id"], "bad");

    // Without the subprotocol the upgrade is refused.
    let url = app.address.replace("http://", "ws://") + "/graphql";
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
}

#[tokio::test]
async fn the_reminders_subscription_delivers_fired_reminders() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let token = app.token(&w.member_write);
    let mut socket = ready(&app, &token).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "r", "payload": { "query": "subscription { reminders { status note { subject } } }" } })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let at = chrono::Utc::now() + chrono::Duration::milliseconds(1000);
    app.gql(
        Some(&token),
        "mutation ($c: ID!, $at: DateTime!) { createNote(input: { contactId: $c, subject: \"Ping Grace\", remindAt: $at }) { id } }",
        json!({ "c": contact_id(w.contact), "at": at.to_rfc3339() }),
    )
    .await
    .data();
    // The test gateway's timers are off: fire it as the reminder job would once it is due.
    let due = at + chrono::Duration::seconds(1);
    assert_eq!(app.fire_reminders_due_at(due).await, 1);
    let next = receive(&mut socket).await;
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(
        next["payload"]["data"]["reminders"],
        json!({ "status": "FIRED", "note": { "subject": "Ping Grace" } })
    );
}

/// A socket used to keep the rights its user had at `connection_init`: a deactivated admin
/// could still create users over it. Now every `subscribe` checks the caller again, and the
/// connection re-checks on its own, closing with 4403 when the user changed.
#[tokio::test]
async fn a_socket_loses_the_rights_its_user_lost() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);

    // Deactivated: the next operation closes the connection instead of running.
    let mut socket = ready(&app, &app.token(&w.admin)).await;
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { deactivateUser(id: $id) { id } }",
        json!({ "id": user_id(w.admin.id) }),
    )
    .await
    .data();
    send(&mut socket, json!({ "id": "1", "type": "subscribe", "payload": { "query": "mutation { createUser(input: { email: \"backdoor@acme.test\", name: \"Backdoor\", kind: STAFF, role: ADMIN }) { id } }" } })).await;
    assert_eq!(close_code(&mut socket).await, 4403);
    assert_eq!(
        app.count_rows("users WHERE email = 'backdoor@acme.test'")
            .await,
        0
    );

    // Deactivated while a subscription runs: the connection closes on its own re-check.
    let mut socket = ready(&app, &app.token(&w.member_admin)).await;
    send(&mut socket, json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription ($c: ID!) { timelineEvents(contactId: $c) { id } }", "variables": { "c": contact_id(w.contact) } } })).await;
    app.gql(
        Some(&owner),
        "mutation ($id: ID!) { deactivateUser(id: $id) { id } }",
        json!({ "id": user_id(w.member_admin.id) }),
    )
    .await
    .data();
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(12), socket.next())
            .await
            .expect("closed within the re-check period")
        {
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            Some(Ok(_)) => continue,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(code, 4403);
}

/// The cost limit applies to subscriptions too: nested pages under a subscription's event are
/// refused with the cost before anything is streamed.
#[tokio::test]
async fn a_costly_subscription_is_refused_with_its_cost() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let mut socket = ready(&app, &app.token(&w.member_read)).await;
    send(&mut socket, json!({ "id": "1", "type": "subscribe", "payload": {
        "query": "subscription ($c: ID!) { timelineEvents(contactId: $c) { subject { ... on Contact { notes(first: 100) { edges { node { contact { tasks(first: 100) { edges { node { contact { timeline(first: 100) { edges { node { summary } } } } } } } } } } } } } } }",
        "variables": { "c": contact_id(w.contact) },
    } })).await;
    let answer = receive(&mut socket).await;
    assert_eq!(answer["type"], "error", "{answer}");
    assert_eq!(answer["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let message = answer["payload"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("costs"), "{message}");
}
