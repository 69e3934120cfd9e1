//! Regression tests for issue 9 (http side): each fails on the code before the fix.
//!
//! Mutations over GET, request bodies read before authentication or without a cap, WebSocket
//! message and connection limits, and the demo organization on a public listener.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite::Message;

use super::helpers::*;

const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Item 2: a named mutation over GET.

#[tokio::test]
async fn get_refuses_a_named_mutation_sent_without_operation_name() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let token = app.token(&w.owner);
    let url = format!("{}/graphql", app.address);
    let id = contact_id(w.contact);
    for query in [
        format!("mutation M {{ archiveContact(id: \"{id}\") {{ id }} }}"),
        format!("mutation M($id: ID!) {{ archiveContact(id: $id) {{ id }} }} # {id}"),
    ] {
        let response = app
            .client
            .get(&url)
            .query(&[
                ("query", query.as_str()),
                ("variables", &json!({ "id": id }).to_string()),
            ])
            .bearer_auth(&token)
            .header("accept", "application/graphql-response+json")
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 405, "{query}");
        assert_eq!(response.headers()["allow"], "POST");
        let body: Value = response.json().await.expect("json");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("POST")),
            "{body}"
        );
    }
    let row = entity::contact::Entity::find_by_id(w.contact)
        .one(&app.db)
        .await
        .expect("read")
        .expect("the contact");
    assert!(
        !row.archived,
        "a mutation sent over GET archived the contact"
    );
    assert!(row.archived_at.is_none());

    // A named query alone in its document still runs over GET.
    let response = app
        .client
        .get(&url)
        .query(&[("query", "query Q { __typename }")])
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["data"]["__typename"], "QueryRoot");
}

// ---------------------------------------------------------------------------------------------
// Item 4: request bodies.

/// An answer read off a raw connection.
struct RawAnswer {
    status: u16,
    headers: String,
    body: String,
}

/// Sends `head` (request line and headers, ending with the blank line), then `body` from a
/// background task that keeps the connection open afterwards (so a server that waits for more
/// body waits), and reads the answer. Fails when no answer comes within 10 s.
async fn raw_request(app: &TestApp, head: String, body: Vec<u8>) -> RawAnswer {
    let address = app.address.trim_start_matches("http://").to_owned();
    let stream = TcpStream::connect(address).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(head.as_bytes()).await.expect("head");
    // The server may answer (and stop reading) before the body is sent: ignore write errors.
    let sender = tokio::spawn(async move {
        let _ = writer.write_all(&body).await;
        let _ = writer.flush().await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(writer);
    });
    let read = async {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(end) = find(&buffer, b"\r\n\r\n") {
                let headers = String::from_utf8_lossy(&buffer[..end]).to_string();
                let length = headers.lines().find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                });
                if length.is_some_and(|n| buffer.len() >= end + 4 + n) {
                    break;
                }
            }
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        buffer
    };
    let buffer = tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an answer within 10 s (the server must not wait for the whole body)");
    sender.abort();
    let end = find(&buffer, b"\r\n\r\n").expect("a complete answer head");
    let headers = String::from_utf8_lossy(&buffer[..end]).to_string();
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    RawAnswer {
        status,
        headers,
        body: String::from_utf8_lossy(&buffer[end + 4..]).to_string(),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `data` in HTTP/1.1 chunked transfer encoding, in chunks of 64 KiB, with the last chunk.
fn chunked(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 1024);
    for piece in data.chunks(64 * 1024) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A valid GraphQL JSON body of about `size` bytes (padded with an unused variable).
fn padded_body(size: usize) -> Vec<u8> {
    let pad = "x".repeat(size.saturating_sub(60));
    json!({ "query": "{ __typename }", "variables": { "pad": pad } })
        .to_string()
        .into_bytes()
}

fn assert_too_large(answer: &RawAnswer) {
    assert_eq!(answer.status, 413, "{}\n{}", answer.headers, answer.body);
    let body: Value = serde_json::from_str(&answer.body).expect("a JSON error body");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&MIB.to_string()) && message.contains("THREADLINE_MAX_BODY_BYTES"),
        "the error says the limit: {body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn an_oversize_json_body_is_refused_from_its_content_length() {
    let app = spawn_app().await;
    // 20 MiB declared, without a token: refused before any of the body is read (only 64 KiB of
    // it is ever sent; a server that waited for the rest would not answer).
    for declared in [20 * MIB, MIB + MIB / 2] {
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
             Content-Length: {declared}\r\n\r\n"
        );
        let answer = raw_request(&app, head, padded_body(64 * 1024)).await;
        assert_too_large(&answer);
    }
}

#[tokio::test]
async fn an_oversize_chunked_json_body_is_refused_while_streaming() {
    let app = spawn_app().await;
    // A complete, valid 1.5 MiB body without Content-Length: the cap applies to the stream.
    let head = "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\n\r\n"
        .to_owned();
    let answer = raw_request(&app, head, chunked(&padded_body(MIB + MIB / 2))).await;
    assert_too_large(&answer);

    // The same through an ordinary client with a known length.
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .body(padded_body(MIB + MIB / 2))
        .send()
        .await;
    if let Ok(response) = response {
        assert_eq!(response.status(), 413);
    }
}

#[tokio::test]
async fn a_json_body_just_under_the_limit_still_runs() {
    let app = spawn_app().await;
    let body = padded_body(MIB - 1024);
    assert!(body.len() > MIB - 2048 && body.len() <= MIB);
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["data"]["__typename"], "QueryRoot", "{answer}");
    // And chunked.
    let head = "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\n\r\n"
        .to_owned();
    let answer = raw_request(&app, head, chunked(&body)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

const UPLOAD: &str =
    "mutation ($input: CreateNoteInput!) { createNote(input: $input) { id attachments { id } } }";

fn files_in(dir: &std::path::Path) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .filter_map(Result::ok)
            .map(|e| {
                let path = e.path();
                if path.is_dir() { walk(&path) } else { 1 }
            })
            .sum()
    }
    walk(dir)
}

/// The start of a GraphQL multipart body (operations and map) uploading one file of `size`.
fn multipart_body(contact: &str, size: usize) -> (String, Vec<u8>) {
    let boundary = "hardeningboundary";
    let operations = json!({
        "query": UPLOAD,
        "variables": { "input": { "contactId": contact, "subject": "upload", "visibility": "TEAM", "attachments": [null] } },
    });
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.input.attachments.0\"]}}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"a.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend(std::iter::repeat_n(b'a', size));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn an_upload_without_a_valid_token_is_refused_before_its_body_is_read() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let (content_type, body) = multipart_body(&cid, 32 * 1024);
    let expired = app.token_with_ttl(&w.owner, Duration::ZERO);
    for auth in [
        "Authorization: Bearer not-a-token\r\n".to_owned(),
        format!("Authorization: Bearer {expired}\r\n"),
        "GraphQL-Require-Preflight: 1\r\n".to_owned(),
    ] {
        // Only the operations are sent: an answer means nothing more was waited for.
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n{auth}\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        let answer = raw_request(&app, head, body[..400].to_vec()).await;
        assert_eq!(answer.status, 401, "{auth}: {}", answer.body);
        let error: Value = serde_json::from_str(&answer.body).expect("json");
        assert_eq!(
            error["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{error}"
        );
        assert!(
            answer
                .headers
                .to_ascii_lowercase()
                .contains("www-authenticate: bearer")
        );
    }
    // A whole upload with a bad token stores nothing.
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", &content_type)
        .bearer_auth("not-a-token")
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 401);
    assert_eq!(files_in(app.data_dir.path()), 0);
    assert_eq!(app.count_rows("attachments").await, 0);
    assert_eq!(app.count_rows("notes").await, 0);

    // With a valid token the same body uploads (streamed into the parser).
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", &content_type)
        .bearer_auth(app.token(&w.owner))
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("json");
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(app.count_rows("attachments").await, 1);
}

#[tokio::test]
async fn an_oversize_chunked_upload_is_refused_while_streaming() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    // Test uploads are capped at 64 KiB per file; this one file alone is past the whole limit
    // (ten files plus 1 MiB), sent chunked so only the stream can tell.
    let (content_type, body) = multipart_body(&cid, 2 * MIB);
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n\
         Authorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        app.token(&w.owner)
    );
    let answer = raw_request(&app, head, chunked(&body)).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    let error: Value = serde_json::from_str(&answer.body).expect("a JSON error body");
    assert_eq!(error["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        error["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("65536 bytes")),
        "the error says the limit: {error}"
    );
    assert_eq!(files_in(app.data_dir.path()), 0);
    assert_eq!(app.count_rows("attachments").await, 0);
}

// ---------------------------------------------------------------------------------------------
// Item 9: WebSocket limits.

/// Sends `connection_init` with `token` and returns the first thing the server answers: the
/// message type, or `close <code> <reason>`.
async fn ws_init(socket: &mut Socket, token: &str) -> String {
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    socket
        .send(Message::text(init.to_string()))
        .await
        .expect("send");
    ws_next(socket).await
}

/// The next text message's type, `close <code> <reason>`, or `ended`.
async fn ws_next(socket: &mut Socket) -> String {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("an answer within 5 s");
        match next {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).expect("json");
                return value["type"].as_str().unwrap_or_default().to_owned();
            }
            Some(Ok(Message::Close(Some(frame)))) => {
                return format!("close {} {}", u16::from(frame.code), frame.reason);
            }
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return "ended".into(),
            Some(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn a_websocket_message_over_the_limit_closes_the_connection() {
    let app = spawn_app().await;
    // Before `connection_init`, a valid 256 KiB ping (the limit is 64 KiB by default).
    let mut socket = ws_connect(&app).await;
    let ping = json!({ "type": "ping", "payload": { "pad": "x".repeat(256 * 1024) } });
    let _ = socket.send(Message::text(ping.to_string())).await;
    let answer = ws_next(&mut socket).await;
    assert!(
        answer.starts_with("close 1009 Message too big: at most 65536 bytes"),
        "the oversize message was read: {answer}"
    );

    // A message within the limit is still served.
    let mut socket = ws_connect(&app).await;
    let ping = json!({ "type": "ping", "payload": { "pad": "x".repeat(60 * 1024) } });
    socket
        .send(Message::text(ping.to_string()))
        .await
        .expect("send");
    assert_eq!(ws_next(&mut socket).await, "pong");
}

#[tokio::test]
async fn websocket_connections_per_user_are_capped() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let token = app.token(&w.member_read);
    let mut open = Vec::new();
    for _ in 0..threadline::config::DEFAULT_WS_MAX_SOCKETS_PER_USER {
        let mut socket = ws_connect(&app).await;
        assert_eq!(ws_init(&mut socket, &token).await, "connection_ack");
        open.push(socket);
    }
    let mut extra = ws_connect(&app).await;
    let answer = ws_init(&mut extra, &token).await;
    assert!(
        answer.starts_with("close 4429 Too many open connections"),
        "{answer}"
    );
    // Another user is not affected.
    let mut other = ws_connect(&app).await;
    assert_eq!(
        ws_init(&mut other, &app.token(&w.member_write)).await,
        "connection_ack"
    );
    // Closing one frees its place.
    let mut closed = open.pop().expect("a socket");
    closed.close(None).await.expect("close");
    drop(closed);
    let mut freed = false;
    for _ in 0..50 {
        let mut socket = ws_connect(&app).await;
        if ws_init(&mut socket, &token).await == "connection_ack" {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(freed, "a closed connection still counts");
}

// ---------------------------------------------------------------------------------------------
// Item 10: the demo organization on a public listener.

/// Runs the real binary's `serve` with `args` and `env` on `database_url`: its exit status and
/// output when it exits within 60 s, or `None` (and its first output lines) when it started
/// serving instead (it is then stopped).
fn run_binary(
    database_url: &str,
    listen: &str,
    args: &[&str],
    secret: Option<&str>,
) -> (Option<bool>, String) {
    let data = tempfile::tempdir().expect("data dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_threadline"));
    command
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("THREADLINE_LISTEN", listen)
        .env("THREADLINE_DATA_DIR", data.path())
        .env("RUST_LOG", "warn")
        .env_remove("THREADLINE_JWT_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(secret) = secret {
        command.env("THREADLINE_JWT_SECRET", secret);
    }
    let mut child = command.spawn().expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains("Get a token with") || line.trim().starts_with("In the playground")
                {
                    let _ = child.kill();
                    let _ = child.wait();
                    return (None, seen);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("output");
    seen.push_str(&String::from_utf8_lossy(&output.stderr));
    (Some(output.status.success()), seen)
}

#[tokio::test]
async fn a_public_listener_needs_an_explicit_demo_choice() {
    let (url, guard) = fresh_database().await;
    let secret = "a-production-secret-of-at-least-32-characters";
    let refused = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            [
                run_binary(&url, "0.0.0.0:0", &[], None),
                run_binary(&url, "0.0.0.0:0", &[], Some(secret)),
                run_binary(&url, "0.0.0.0:0", &["--no-demo"], None),
            ]
        })
        .await
        .expect("ran")
    };
    for (status, output) in &refused {
        assert_eq!(*status, Some(false), "refused to start: {output}");
        assert!(output.contains("THREADLINE_JWT_SECRET"), "{output}");
        assert!(output.contains("--demo"), "{output}");
    }
    assert!(refused[0].1.contains("--no-demo"), "{}", refused[0].1);
    // Nothing was created: no demo organization, no owner.
    let app = start(&url, false, guard).await;
    assert_eq!(app.count_rows("organizations").await, 0);
    assert_eq!(app.count_rows("users").await, 0);

    // An explicit choice starts: production without demo data...
    let (url, _guard) = fresh_database().await;
    let (status, output) = tokio::task::spawn_blocking(move || {
        run_binary(&url, "0.0.0.0:0", &["--no-demo"], Some(secret))
    })
    .await
    .expect("ran");
    assert_eq!(status, None, "it serves: {output}");
    assert!(!output.contains("Demo organization created"), "{output}");
}

#[tokio::test]
async fn a_loopback_listener_keeps_the_zero_set_up_demo() {
    let (url, _guard) = fresh_database().await;
    let (status, output) =
        tokio::task::spawn_blocking(move || run_binary(&url, "127.0.0.1:0", &[], None))
            .await
            .expect("ran");
    assert_eq!(status, None, "it serves: {output}");
    assert!(output.contains("Demo organization created"), "{output}");
}

// ---------------------------------------------------------------------------------------------
// Same class: work an anonymous caller can make the gateway do for others.

/// Anonymous callers used to name metrics series with any operation name, filling the bounded
/// set of labels so that real operations were counted as "other".
#[tokio::test]
async fn anonymous_requests_do_not_use_up_the_metrics_labels() {
    let app = spawn_app().await;
    let w = world(&app).await;
    for i in 0..210 {
        app.gql(None, &format!("query Probe{i} {{ __typename }}"), json!({}))
            .await;
    }
    app.gql(
        Some(&app.token(&w.owner)),
        "query RealOperation { me { id } }",
        json!({}),
    )
    .await
    .data();
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(r#"operation="RealOperation""#),
        "{metrics}"
    );
    assert!(!metrics.contains("Probe1"), "{metrics}");
}

/// The real binary serving on a loopback port, stopped when dropped (a failed assertion
/// included).
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Served {
    /// Its resident memory, in bytes (`VmRSS` of `/proc/<pid>/status`).
    fn resident(&self) -> usize {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).expect("status");
        let kib: usize = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        kib * 1024
    }
}

/// A 16 KiB document (under the cache's `MAX_CACHED_LEN`) whose fragments spread its one long
/// argument 2,048 times (4,096 fields, under `MAX_EXPANDED_FIELDS`): once the fragments are
/// inlined it holds 30 MB of text. Its unused variable has it refused by validation, after the
/// checks of its text: a document nobody can run.
fn swelling_document(i: usize) -> String {
    let name = format!("{i}-{}", "y".repeat(15_000));
    let mut text = format!("fragment F0 on QueryRoot {{ __type(name: \"{name}\") {{ name }} }}\n");
    for (level, spreads) in [(1, 8), (2, 8), (3, 8), (4, 4)] {
        let spread = format!("...F{} ", level - 1).repeat(spreads);
        text.push_str(&format!("fragment F{level} on QueryRoot {{ {spread}}}\n"));
    }
    text.push_str("query ($unused: Int) { ...F4 }");
    text
}

/// The parsed-document cache bounds what it holds by the documents' text (two generations of
/// 256 KiB), which holds only if a kept document is about the size of its text. It kept
/// documents with their fragments inlined: a 16 KiB text spreading a long argument through
/// fragments is thousands of times its text once inlined, so a few such documents, sent
/// without a token and refused anyway, left the gateway holding hundreds of megabytes for as
/// long as it ran. Measured on the real binary, whose memory is its own.
#[tokio::test]
async fn kept_documents_hold_no_more_than_their_text() {
    let (url, _guard) = fresh_database().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port();
    let data = tempfile::tempdir().expect("data dir");
    let served = Served(
        Command::new(env!("CARGO_BIN_EXE_threadline"))
            .arg("--no-demo")
            .env("DATABASE_URL", &url)
            .env("THREADLINE_LISTEN", format!("127.0.0.1:{port}"))
            .env("THREADLINE_DATA_DIR", data.path())
            .env(
                "THREADLINE_JWT_SECRET",
                "a-production-secret-of-at-least-32-characters",
            )
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts"),
    );
    let client = reqwest::Client::new();
    let endpoint = format!("http://127.0.0.1:{port}/graphql");
    let post = |query: String| {
        let request = client
            .post(&endpoint)
            .json(&json!({ "query": query }))
            .timeout(Duration::from_secs(120));
        async move {
            let response = request.send().await.ok()?;
            response.json::<Value>().await.ok()
        }
    };
    let mut up = false;
    for _ in 0..600 {
        if post("{ __typename }".into()).await.is_some() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the binary did not start serving");

    // Each document is refused by validation, after its text passed the cache's checks; the
    // first one warms the allocator up to a request's own peak.
    let mut before = 0;
    for i in 0..=10 {
        let answer = post(swelling_document(i)).await.expect("an answer");
        let errors = answer["errors"].as_array().expect("refused");
        assert_eq!(errors.len(), 1, "{}", errors[0]);
        assert!(
            errors[0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("unused")),
            "{}",
            errors[0]
        );
        if i == 0 {
            before = served.resident();
        }
    }
    let grown = served.resident().saturating_sub(before);
    assert!(
        grown < 100 * MIB,
        "10 refused documents of 16 KiB each left the gateway {} MiB larger",
        grown / MIB
    );
}

// ---------------------------------------------------------------------------------------------
// Item 4 (multipart): each part held to its own limit, and uploads in flight capped per user.

/// A GraphQL multipart body creating a note with one file of `file_size` bytes, with
/// `operations` and `map` each padded with trailing whitespace (still valid JSON) to at least
/// `operations_size` and `map_size` bytes.
fn padded_multipart(
    contact: &str,
    operations_size: usize,
    map_size: usize,
    file_size: usize,
) -> (String, Vec<u8>) {
    let boundary = "paddedboundary";
    let mut operations = json!({
        "query": UPLOAD,
        "variables": { "input": { "contactId": contact, "subject": "padded", "visibility": "TEAM", "attachments": [null] } },
    })
    .to_string();
    let mut map = json!({ "0": ["variables.input.attachments.0"] }).to_string();
    operations.push_str(&" ".repeat(operations_size.saturating_sub(operations.len())));
    map.push_str(&" ".repeat(map_size.saturating_sub(map.len())));
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{map}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"a.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend(std::iter::repeat_n(b'f', file_size));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The `operations` and `map` parts used to be held only to the file limit (25 MiB by default,
/// 4 MiB here): a 1.5 MiB `operations` or `map` was read and the upload ran.
#[tokio::test]
async fn multipart_operations_and_map_are_held_to_the_body_limit() {
    let app = spawn_app_with_config(|c| c.max_upload_bytes = 4 * MIB as u64).await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let token = app.token(&w.owner);
    for (part, operations_size, map_size) in
        [("operations", MIB + MIB / 2, 0), ("map", 0, MIB + MIB / 2)]
    {
        let (content_type, body) = padded_multipart(&cid, operations_size, map_size, 1024);
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n\
             Authorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let answer = raw_request(&app, head, body).await;
        assert_eq!(answer.status, 413, "{part}: {}", answer.body);
        let error: Value = serde_json::from_str(&answer.body).expect("a JSON error body");
        assert_eq!(error["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        let message = error["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("`{part}`"))
                && message.contains(&MIB.to_string())
                && message.contains("THREADLINE_MAX_BODY_BYTES"),
            "the error names the part and the limit: {error}"
        );
        assert_eq!(app.count_rows("notes").await, 0, "{part}");
        assert_eq!(app.count_rows("attachments").await, 0, "{part}");
        assert_eq!(files_in(app.data_dir.path()), 0);
    }

    // Parts just under the body limit, with a file larger than the body limit (but within the
    // upload limit), still upload.
    let (content_type, body) = padded_multipart(&cid, MIB - 4096, MIB - 4096, 3 * MIB);
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", &content_type)
        .bearer_auth(&token)
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("json");
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(app.count_rows("notes").await, 1);
    assert_eq!(app.count_rows("attachments").await, 1);
    let size: i64 = {
        let row = entity::attachment::Entity::find()
            .one(&app.db)
            .await
            .expect("read")
            .expect("the attachment");
        row.size
    };
    assert_eq!(size, 3 * MIB as i64);
}

/// Opens a connection and sends an upload's headers and the first bytes of its body, then
/// waits: the server holds the request open, reading, until the connection is dropped.
async fn hold_upload(app: &TestApp, token: &str, contact: &str) -> TcpStream {
    let (content_type, body) = multipart_body(contact, 32 * 1024);
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n\
         Authorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(&body[..400]).await.expect("body");
    stream.flush().await.expect("flush");
    stream
}

/// Whether the server has sent nothing on `stream` (nor closed it) yet.
fn unanswered(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// A whole small upload as the holder of `token`: its status and body.
async fn small_upload(app: &TestApp, token: &str, contact: &str) -> (u16, Value) {
    let (content_type, body) = multipart_body(contact, 1024);
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", &content_type)
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

/// Any user could have the server spool up to ten files per request with any number of
/// requests at once; uploads in flight are now capped per user, refused before the body.
#[tokio::test]
async fn concurrent_uploads_per_user_are_capped() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let cid = contact_id(w.contact);
    let token = app.token(&w.owner);
    let cap = threadline::config::DEFAULT_MAX_CONCURRENT_UPLOADS_PER_USER;
    // Hold `cap` uploads open, then send one more whole upload. A held request counts from
    // when its headers are checked, so one may lose the race to a whole upload sent meanwhile
    // (and be refused itself): such a one has an answer, and is replaced.
    let mut held: Vec<TcpStream> = Vec::new();
    let mut refused = None;
    for _ in 0..50 {
        held.retain(unanswered);
        while (held.len() as u64) < cap {
            held.push(hold_upload(&app, &token, &cid).await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, body) = small_upload(&app, &token, &cid).await;
        if status == 429 {
            refused = Some(body);
            break;
        }
        assert_eq!(status, 200, "{body}");
    }
    let refused = refused.expect("an upload over the per-user cap is refused with 429");
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{refused}"
    );
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("THREADLINE_MAX_CONCURRENT_UPLOADS_PER_USER")
            && message.contains(&format!("at most {cap}")),
        "the error says the limit: {refused}"
    );
    let notes = app.count_rows("notes").await;
    // Refused before its body is read: only the headers and the start of the body are sent.
    let (content_type, body) = multipart_body(&cid, 32 * 1024);
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n\
         Authorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let answer = raw_request(&app, head, body[..400].to_vec()).await;
    assert_eq!(answer.status, 429, "{}", answer.body);
    assert!(answer.headers.to_ascii_lowercase().contains("retry-after"));
    assert_eq!(app.count_rows("notes").await, notes);

    // Another user is not affected.
    let (status, body) = small_upload(&app, &app.token(&w.member_write), &cid).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");

    // A request that ends (here: its connection drops) frees its place.
    drop(held.pop());
    let mut freed = false;
    for _ in 0..50 {
        let (status, body) = small_upload(&app, &token, &cid).await;
        if status == 200 {
            assert!(body.get("errors").is_none(), "{body}");
            freed = true;
            break;
        }
        assert_eq!(status, 429, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(freed, "a finished upload still counts");
    drop(held);
}

// ---------------------------------------------------------------------------------------------
// Found by the second attacker review: connections that never finish their headers were held
// forever, so an anonymous client could use up the gateway's file descriptors.

/// Opens a connection that sends part of a request's headers and never the rest.
async fn stalled_connection(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("partial head");
    stream
}

/// Reads until the server closes `stream`; fails when it stays open for `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) {
    let mut buffer = [0u8; 1024];
    let read = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the connection was still open after {limit:?}"
    );
}

#[tokio::test]
async fn connections_that_never_finish_their_headers_are_closed() {
    let app = spawn_app_with_config(|config| {
        config.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let mut stalled = stalled_connection(&app).await;
    closed_within(&mut stalled, Duration::from_secs(5)).await;
    // A silent connection (not a byte sent) is closed the same way.
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut silent = TcpStream::connect(address).await.expect("connect");
    closed_within(&mut silent, Duration::from_secs(5)).await;
    // Requests that send their headers are served as before.
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn connections_past_the_cap_wait_to_be_accepted() {
    let app = spawn_app_with_config(|config| {
        config.max_connections = 2;
        config.header_read_timeout = Duration::from_secs(60);
    })
    .await;
    let first = stalled_connection(&app).await;
    let _second = stalled_connection(&app).await;
    let client = reqwest::Client::new();
    let url = format!("{}/healthz", app.address);
    let waiting = tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "a third connection was served past the cap of two"
    );
    drop(first);
    let status = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("served once a connection closed")
        .expect("task")
        .expect("request");
    assert_eq!(status, 200);
}
