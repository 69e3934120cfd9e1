//! WebSockets that behave: keep-alive pings at the configured interval, a client that stops
//! answering them or sits idle is closed, a subscription whose client reads too slowly is ended
//! alone, idle sockets are re-checked together, and SIGTERM (or Ctrl-C) to the real binary stops
//! accepting, finishes the request in flight, completes every subscription, closes with 1001
//! and exits 0 within the grace period (or at its end, dropping what is left).

use std::{
    process::ExitStatus,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::{
    helpers::{Socket, TestApp, contact_id, fresh_database, spawn_app_with_config, world},
    subscriptions::{prime, ready, send},
    webhook_processes::{Gateway, token_for},
};

/// The next frame within `limit`: a JSON text message, or a close frame's code and reason.
#[derive(Debug)]
enum Frame {
    Json(Value),
    Closed(u16, String),
}

async fn frame(socket: &mut Socket, limit: Duration) -> Frame {
    loop {
        let message = tokio::time::timeout(limit, socket.next())
            .await
            .unwrap_or_else(|_| panic!("nothing within {limit:?}"));
        match message {
            Some(Ok(Message::Text(text))) => {
                return Frame::Json(serde_json::from_str(&text).expect("JSON"));
            }
            Some(Ok(Message::Close(Some(close)))) => {
                return Frame::Closed(u16::from(close.code), close.reason.to_string());
            }
            Some(Ok(Message::Close(None))) | None => return Frame::Closed(1005, String::new()),
            Some(Ok(_)) => continue,
            Some(Err(error)) => panic!("{error}"),
        }
    }
}

/// Reads until the server closes, answering its pings when `answer` is true; returns the close
/// code and reason.
async fn closed(socket: &mut Socket, limit: Duration, answer: bool) -> (u16, String) {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match frame(socket, left).await {
            Frame::Closed(code, reason) => return (code, reason),
            Frame::Json(message) if message["type"] == "ping" && answer => {
                send(socket, json!({ "type": "pong" })).await;
            }
            Frame::Json(_) => {}
        }
    }
}

#[tokio::test]
async fn keep_alive_pings_arrive_at_the_configured_interval() {
    let interval = Duration::from_millis(300);
    let app = spawn_app_with_config(|c| c.ws_ping_interval = interval).await;
    let w = world(&app).await;
    let mut socket = ready(&app, &app.token(&w.owner)).await;
    let acknowledged = Instant::now();
    // Answered pings keep the connection open well past two intervals.
    let mut at = Vec::new();
    while at.len() < 5 {
        match frame(&mut socket, Duration::from_secs(5)).await {
            Frame::Json(message) if message["type"] == "ping" => {
                at.push(acknowledged.elapsed());
                send(&mut socket, json!({ "type": "pong" })).await;
            }
            other => panic!("expected a ping: {other:?}"),
        }
    }
    let mut gaps = vec![at[0]];
    gaps.extend(at.windows(2).map(|w| w[1] - w[0]));
    for gap in &gaps {
        assert!(
            *gap >= interval - Duration::from_millis(20) && *gap < interval * 4,
            "pings every {interval:?}: {gaps:?}"
        );
    }
    let total = at[4];
    assert!(
        total >= interval * 5 - Duration::from_millis(50) && total < interval * 10,
        "five pings after {total:?}"
    );
    // The client's own pings are still answered with a pong.
    send(
        &mut socket,
        json!({ "type": "ping", "payload": { "n": 1 } }),
    )
    .await;
    loop {
        match frame(&mut socket, Duration::from_secs(5)).await {
            Frame::Json(message) if message["type"] == "pong" => {
                assert_eq!(message["payload"], json!({ "n": 1 }));
                break;
            }
            Frame::Json(message) if message["type"] == "ping" => {}
            other => panic!("expected a pong: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_closed() {
    let interval = Duration::from_millis(200);
    let app = spawn_app_with_config(|c| c.ws_ping_interval = interval).await;
    let w = world(&app).await;
    let mut socket = ready(&app, &app.token(&w.owner)).await;
    // A running subscription: only the pings are at stake, not the idle timeout.
    send(&mut socket, json!({ "type": "subscribe", "id": "r", "payload": { "query": "subscription { reminders { id } }" } })).await;
    let started = Instant::now();
    let (code, reason) = closed(&mut socket, Duration::from_secs(5), false).await;
    assert_eq!(code, 4408, "{reason}");
    assert!(reason.contains("Pong timeout"), "{reason}");
    let after = started.elapsed();
    assert!(
        after >= interval * 2 - Duration::from_millis(20),
        "closed after {after:?}, before a second ping could go unanswered"
    );
    assert!(
        app.metrics()
            .await
            .contains("threadline_websocket_server_closes_total{reason=\"no_pong\"} 1")
    );
}

#[tokio::test]
async fn an_idle_socket_is_closed_and_a_subscription_keeps_it_open() {
    let idle = Duration::from_millis(600);
    let app = spawn_app_with_config(|c| {
        c.ws_idle_timeout = idle;
        // Pings (answered) throughout: answers to them do not count as activity.
        c.ws_ping_interval = Duration::from_millis(100);
    })
    .await;
    let w = world(&app).await;
    let token = app.token(&w.owner);

    let mut socket = ready(&app, &token).await;
    let started = Instant::now();
    let (code, reason) = closed(&mut socket, Duration::from_secs(5), true).await;
    let after = started.elapsed();
    assert_eq!(code, 1000, "{reason}");
    assert!(reason.contains("Idle timeout"), "{reason}");
    assert!(
        after >= idle - Duration::from_millis(50) && after < idle * 4,
        "closed after {after:?}"
    );

    // A running subscription keeps the socket open; once it is completed, the idle clock
    // starts from then.
    let mut socket = ready(&app, &token).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "r", "payload": { "query": "subscription { reminders { id } }" } })).await;
    let held = Instant::now();
    while held.elapsed() < idle * 3 {
        match frame(&mut socket, Duration::from_secs(2)).await {
            Frame::Json(message) if message["type"] == "ping" => {
                send(&mut socket, json!({ "type": "pong" })).await;
            }
            other => panic!("closed or unexpected while subscribed: {other:?}"),
        }
    }
    send(&mut socket, json!({ "type": "complete", "id": "r" })).await;
    let completed = Instant::now();
    let (code, _) = closed(&mut socket, Duration::from_secs(5), true).await;
    assert_eq!(code, 1000);
    assert!(completed.elapsed() >= idle - Duration::from_millis(50));
    assert!(
        app.metrics()
            .await
            .contains("threadline_websocket_server_closes_total{reason=\"idle\"} 2")
    );
}

/// Each socket used to re-check its caller with its own statement every 5 s; now one round
/// reads every socket's user together, so idle sockets cost the database nothing per socket,
/// and the round still closes a socket whose token expired.
#[tokio::test]
async fn idle_sockets_are_rechecked_together() {
    let app = spawn_app_with_config(|_| {}).await;
    let w = world(&app).await;
    let mut sockets = Vec::new();
    for user in [&w.owner, &w.admin, &w.member_read] {
        for _ in 0..10 {
            sockets.push(ready(&app, &app.token(user)).await);
        }
    }
    let mut expiring = ready(
        &app,
        &app.token_with_ttl(&w.member_write, Duration::from_secs(2)),
    )
    .await;
    let before = app.statements().await;
    // Over a whole re-check period (and more): the token expires, a round closes its socket.
    let (code, reason) = closed(&mut expiring, Duration::from_secs(10), true).await;
    assert_eq!(code, 4403, "{reason}");
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let statements = app.statements().await - before;
    // One statement a round (five rounds at most in this window), not one per socket.
    assert!(
        statements <= 5,
        "{statements} statements for 31 idle sockets"
    );
    for socket in &mut sockets {
        send(socket, json!({ "type": "ping" })).await;
        match frame(socket, Duration::from_secs(5)).await {
            Frame::Json(message) => assert_eq!(message["type"], "pong"),
            other => panic!("the idle socket was closed: {other:?}"),
        }
    }
}

/// Signing out ends the session's sockets too (the access token is still unexpired): a
/// re-check round closes them with 4403, while a socket of another session of the same user
/// stays open.
#[tokio::test]
async fn signing_out_closes_the_sessions_sockets() {
    const PASSWORD: &str = "correct horse battery staple";
    let app = spawn_app_with_config(|_| {}).await;
    let w = world(&app).await;
    app.gql(
        Some(&app.token(&w.owner)),
        "mutation ($id: ID!, $p: String!) { setUserPassword(userId: $id, password: $p) { id } }",
        json!({ "id": crate::helpers::user_id(w.member_read.id), "p": PASSWORD }),
    )
    .await
    .data();
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let signed_in = app
            .gql(
                None,
                "mutation ($e: String!, $p: String!) { signIn(email: $e, password: $p) { accessToken refreshToken } }",
                json!({ "e": w.member_read.email, "p": PASSWORD }),
            )
            .await;
        let session = &signed_in.data()["signIn"];
        sessions.push((
            session["accessToken"].as_str().expect("access").to_owned(),
            session["refreshToken"]
                .as_str()
                .expect("refresh")
                .to_owned(),
        ));
    }
    let mut signed_out = ready(&app, &sessions[0].0).await;
    let mut other = ready(&app, &sessions[1].0).await;
    let out = app
        .gql(
            None,
            "mutation ($t: String!) { signOut(refreshToken: $t) }",
            json!({ "t": sessions[0].1 }),
        )
        .await;
    assert_eq!(out.data()["signOut"], true);
    let (code, reason) = closed(&mut signed_out, Duration::from_secs(10), true).await;
    assert_eq!(code, 4403, "{reason}");
    send(&mut other, json!({ "type": "ping" })).await;
    match frame(&mut other, Duration::from_secs(5)).await {
        Frame::Json(message) => assert_eq!(message["type"], "pong"),
        other => panic!("the other session's socket was closed: {other:?}"),
    }
}

/// A socket whose kernel receive buffer is small, so that a client that stops reading soon
/// stops the gateway's writes (instead of the kernel taking megabytes for it).
async fn small_window_socket(app: &TestApp, token: &str) -> Socket {
    let address = app.address.trim_start_matches("http://");
    let tcp = tokio::net::TcpSocket::new_v4().expect("socket");
    tcp.set_recv_buffer_size(16 * 1024).expect("SO_RCVBUF");
    let stream = tcp
        .connect(address.parse().expect("address"))
        .await
        .expect("connect");
    let mut request = format!("ws://{address}/graphql")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (socket, _) =
        tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .expect("websocket");
    let mut socket = socket;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })).await;
    match frame(&mut socket, Duration::from_secs(5)).await {
        Frame::Json(message) if message["type"] == "connection_ack" => socket,
        other => panic!("no acknowledgement: {other:?}"),
    }
}

/// How many subscriptions have fallen behind, from `/metrics`.
async fn fell_behind(app: &TestApp) -> u64 {
    app.metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix("threadline_websocket_subscriptions_fell_behind_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the fell-behind counter")
}

const NOTE: &str = "mutation ($c: ID!, $s: String!, $b: String!) { createNote(input: { contactId: $c, subject: $s, body: $b }) { id } }";

#[tokio::test]
async fn a_subscription_whose_client_reads_too_slowly_is_ended_alone() {
    let buffer = 4;
    let app = spawn_app_with_config(|c| c.ws_subscription_buffer = buffer).await;
    let w = world(&app).await;
    let owner = app.token(&w.owner);
    let (busy, quiet) = (contact_id(w.contact), contact_id(w.other_contact));
    let mut socket = small_window_socket(&app, &owner).await;
    // "big" sends each note's 100 KB body; "small" follows another contact.
    send(&mut socket, json!({ "type": "subscribe", "id": "big", "payload": {
        "query": "subscription ($c: ID!) { timelineEvents(contactId: $c) { summary subject { ... on Note { body } } } }",
        "variables": { "c": busy } } })).await;
    send(
        &mut socket,
        json!({ "type": "subscribe", "id": "small", "payload": {
        "query": "subscription ($c: ID!) { timelineEvents(contactId: $c) { summary } }",
        "variables": { "c": quiet } } }),
    )
    .await;
    prime(&app, &mut socket, &owner, &busy).await;
    prime(&app, &mut socket, &owner, &quiet).await;

    // The client stops reading. 64 notes of 100 KB are more than the kernel's buffers take
    // (the gateway's send buffer grows to 4 MB at most), so "big" queues until its buffer is
    // full; the quiet subscription gets one event meanwhile.
    let body = "x".repeat(100_000);
    let notes = 64;
    for i in 0..notes {
        app.gql(
            Some(&owner),
            NOTE,
            json!({ "c": busy, "s": format!("big {i}"), "b": body }),
        )
        .await
        .data();
    }
    app.gql(
        Some(&owner),
        NOTE,
        json!({ "c": quiet, "s": "meanwhile", "b": "short" }),
    )
    .await
    .data();
    let deadline = Instant::now() + Duration::from_secs(30);
    while fell_behind(&app).await == 0 {
        assert!(
            Instant::now() < deadline,
            "the busy subscription never fell behind"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Reading again: what "big" had queued, then its error (no `complete` after an error, as
    // the protocol says); "small" goes on.
    let mut big_events = 0;
    let mut error = None;
    let mut small = Vec::new();
    while error.is_none() || small.is_empty() {
        let Frame::Json(message) = frame(&mut socket, Duration::from_secs(10)).await else {
            panic!("the connection closed");
        };
        match (message["id"].as_str(), message["type"].as_str()) {
            (Some("big"), Some("next")) => {
                assert!(error.is_none(), "a result after the error: {message}");
                big_events += 1;
            }
            (Some("big"), Some("error")) => error = Some(message),
            (Some("small"), Some("next")) => {
                small.push(message["payload"]["data"]["timelineEvents"]["summary"].clone());
            }
            _ => panic!("unexpected: {message}"),
        }
    }
    let error = error.expect("an error");
    assert_eq!(error["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    let text = error["payload"][0]["message"].as_str().unwrap_or_default();
    assert!(text.contains("fell behind"), "{text}");
    assert!(
        big_events < notes,
        "{big_events} of {notes} events arrived before the error"
    );
    assert_eq!(small, vec![json!("owner added a note: meanwhile")]);

    // The connection and its other subscription still work; "big" sends nothing more, and
    // its id may be used again.
    app.gql(
        Some(&owner),
        NOTE,
        json!({ "c": busy, "s": "after", "b": "short" }),
    )
    .await
    .data();
    app.gql(
        Some(&owner),
        NOTE,
        json!({ "c": quiet, "s": "still here", "b": "short" }),
    )
    .await
    .data();
    let Frame::Json(next) = frame(&mut socket, Duration::from_secs(5)).await else {
        panic!("closed");
    };
    assert_eq!(next["id"], "small", "{next}");
    assert_eq!(
        next["payload"]["data"]["timelineEvents"]["summary"],
        "owner added a note: still here"
    );
    send(
        &mut socket,
        json!({ "type": "subscribe", "id": "big", "payload": {
        "query": "subscription ($c: ID!) { timelineEvents(contactId: $c) { summary } }",
        "variables": { "c": busy } } }),
    )
    .await;
    prime(&app, &mut socket, &owner, &busy).await;
    send(&mut socket, json!({ "type": "ping" })).await;
    let Frame::Json(pong) = frame(&mut socket, Duration::from_secs(5)).await else {
        panic!("closed");
    };
    assert_eq!(pong["type"], "pong");
}

// ---------------------------------------------------------------------------------------------
// Shutdown of the real binary.

/// The environment of a gateway process on `url`, with `grace`.
fn gateway_env(url: &str, dir: &std::path::Path, grace: Duration) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", url.to_owned()),
        ("THREADLINE_LISTEN", "127.0.0.1:0".to_owned()),
        (
            "THREADLINE_DATA_DIR",
            dir.join("data").display().to_string(),
        ),
        (
            "THREADLINE_SHUTDOWN_GRACE_SECS",
            format!("{}ms", grace.as_millis()),
        ),
        (
            "RUST_LOG",
            "info,sqlx=warn,sea_orm=warn,threadline=debug".to_owned(),
        ),
    ]
}

/// Sends `signal` (`TERM`, `INT`) to the process.
fn signal(gateway: &Gateway, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), gateway.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal}");
}

/// Waits for the process to exit, failing after `limit`.
async fn exit(gateway: &mut Gateway, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = gateway.child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "still running {limit:?} after the signal:\n{}",
            gateway.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A socket to a gateway process, acknowledged for `token`.
async fn ws_to(gateway: &Gateway, token: &str) -> Socket {
    let url = gateway.address.replace("http://", "ws://") + "/graphql";
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    send(&mut socket, json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })).await;
    match frame(&mut socket, Duration::from_secs(5)).await {
        Frame::Json(message) if message["type"] == "connection_ack" => socket,
        other => panic!("no acknowledgement: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_completes_subscriptions_closes_with_1001_and_exits_0() {
    let (url, _guard) = fresh_database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let grace = Duration::from_secs(10);
    let env = gateway_env(&url, dir.path(), grace);
    // The first start creates the demo organization (loopback listener, empty database).
    let mut gateway = Gateway::serve(dir.path(), "gateway", &env).await;
    let token = token_for(&env, "owner@demo.test").await;
    let client = reqwest::Client::new();
    let contacts: Value = client
        .post(format!("{}/graphql", gateway.address))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ contacts(first: 1) { edges { node { id } } } }" }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    let contact = contacts["data"]["contacts"]["edges"][0]["node"]["id"]
        .as_str()
        .expect("a demo contact")
        .to_owned();

    // A request in flight at the signal: half of its body is sent before, half after
    // (sent early, so that the gateway is reading its body when the signal comes).
    let address = gateway.address.trim_start_matches("http://").to_owned();
    let mut request = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let body = r#"{"query": "{ me { email } }"}"#;
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    request
        .write_all(format!("{head}{}", &body[..10]).as_bytes())
        .await
        .expect("write");

    let mut socket = ws_to(&gateway, &token).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "reminders", "payload": { "query": "subscription { reminders { id } }" } })).await;
    send(
        &mut socket,
        json!({ "type": "subscribe", "id": "timeline", "payload": {
        "query": "subscription ($c: ID!) { timelineEvents(contactId: $c) { summary } }",
        "variables": { "c": contact } } }),
    )
    .await;
    // Both are running once the ping sent after them is answered (messages are handled in
    // order).
    send(&mut socket, json!({ "type": "ping" })).await;
    match frame(&mut socket, Duration::from_secs(5)).await {
        Frame::Json(message) if message["type"] == "pong" => {}
        other => panic!("expected a pong: {other:?}"),
    }

    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    signal(&gateway, "TERM");
    let mut completed = Vec::new();
    let (code, reason) = loop {
        match frame(&mut socket, grace).await {
            Frame::Json(message) if message["type"] == "complete" => {
                completed.push(message["id"].as_str().unwrap_or_default().to_owned());
            }
            Frame::Json(message) => panic!("unexpected: {message}"),
            Frame::Closed(code, reason) => break (code, reason),
        }
    };
    completed.sort();
    assert_eq!(completed, ["reminders", "timeline"]);
    assert_eq!(code, 1001, "{reason}");
    // It stopped accepting, while the request in flight keeps the process up.
    assert!(
        tokio::net::TcpStream::connect(&address).await.is_err(),
        "a new connection was accepted after the signal"
    );
    assert!(
        gateway.child.try_wait().expect("wait").is_none(),
        "exited with a request in flight"
    );
    // The request in flight is finished and answered.
    request
        .write_all(&body.as_bytes()[10..])
        .await
        .expect("write the rest");
    let mut answer = String::new();
    tokio::time::timeout(grace, request.read_to_string(&mut answer))
        .await
        .expect("answered within the grace")
        .expect("read the answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("owner@demo.test"), "{answer}");
    let status = exit(&mut gateway, grace).await;
    let took = signalled.elapsed();
    assert!(status.success(), "{status}:\n{}", gateway.output());
    assert!(
        took < grace,
        "exited after {took:?}, not within the grace of {grace:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_grace_what_is_left_is_dropped_and_the_process_exits_0() {
    let (url, _guard) = fresh_database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let grace = Duration::from_millis(1500);
    let env = gateway_env(&url, dir.path(), grace);
    let mut gateway = Gateway::serve(dir.path(), "gateway", &env).await;
    let token = token_for(&env, "owner@demo.test").await;

    // A request in flight that never finishes: its body stops half-way.
    let mut stuck = tokio::net::TcpStream::connect(gateway.address.trim_start_matches("http://"))
        .await
        .expect("connect");
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"query\": \"{{ me"
    );
    stuck.write_all(head.as_bytes()).await.expect("write");
    // A socket whose client reads nothing more.
    let mut socket = ws_to(&gateway, &token).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "r", "payload": { "query": "subscription { reminders { id } }" } })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Ctrl-C takes the same path as SIGTERM.
    let signalled = Instant::now();
    signal(&gateway, "INT");
    let status = exit(&mut gateway, grace + Duration::from_secs(5)).await;
    let took = signalled.elapsed();
    assert!(status.success(), "{status}:\n{}", gateway.output());
    assert!(
        took >= grace - Duration::from_millis(100),
        "the request in flight was waited for: exited after {took:?}"
    );
    assert!(
        took < grace + Duration::from_secs(2),
        "exited {took:?} after the signal, with a grace of {grace:?}"
    );
    // The socket was told (its client reads now): `complete`, then 1001.
    match frame(&mut socket, Duration::from_secs(1)).await {
        Frame::Json(message) => assert_eq!(message, json!({ "id": "r", "type": "complete" })),
        other => panic!("expected complete: {other:?}"),
    }
    match frame(&mut socket, Duration::from_secs(1)).await {
        Frame::Closed(code, _) => assert_eq!(code, 1001),
        other => panic!("expected the close: {other:?}"),
    }
    drop(stuck);
}
