//! The sender against real HTTP receivers on 127.0.0.1 spawned by each test: what goes on the
//! wire, how answers are classified, and the SSRF guard on the addresses actually connected to.

use std::{
    future::Future,
    net::{IpAddr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::Body,
    extract::Request,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use ring::{hmac, signature};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};
use webhooks::{
    client::{Attempt, EXCERPT_LIMIT, Message, Outcome, Sender, SenderConfig},
    retry,
    signing::{Secret, Signer, SigningKey, Verifier},
    ssrf::{Guard, Lookup, LookupFuture, SsrfError, StaticLookup},
};

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
struct Captured {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Captured {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("header {name} missing or not text"))
    }
}

/// A receiver on 127.0.0.1 that records every request and answers with `reply`.
struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Captured>>>,
}

impl Receiver {
    async fn spawn<F, Fut>(reply: F) -> Self
    where
        F: Fn(Captured) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorder = seen.clone();
        let app = Router::new().fallback(move |request: Request| {
            let (reply, recorder) = (reply.clone(), recorder.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .expect("request body");
                let captured = Captured {
                    path: parts.uri.path().to_owned(),
                    headers: parts.headers,
                    body: body.to_vec(),
                };
                recorder.lock().expect("lock").push(captured.clone());
                reply(captured).await
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, seen }
    }

    /// A receiver answering every request with `status` and `body`.
    async fn answering(status: u16, headers: Vec<(&'static str, String)>, body: Vec<u8>) -> Self {
        Self::spawn(move |_| {
            let (headers, body) = (headers.clone(), body.clone());
            async move {
                let mut response = Response::new(Body::from(body));
                *response.status_mut() = StatusCode::from_u16(status).expect("status");
                for (name, value) in headers {
                    response
                        .headers_mut()
                        .insert(name, value.parse().expect("header value"));
                }
                response
            }
        })
        .await
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<Captured> {
        self.seen.lock().expect("lock").clone()
    }
}

fn sender(guard: Guard) -> Sender {
    Sender::new(SenderConfig {
        guard,
        ..SenderConfig::default()
    })
    .expect("sender")
}

/// A sender that may reach the loopback receivers.
fn open_sender() -> Sender {
    sender(Guard::new(true))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

const BODY: &[u8] =
    br#"{"type":"note.created","timestamp":"2026-11-03T20:26:10Z","data":{"id":"Note:1"}}"#;

async fn send(sender: &Sender, url: &str, signer: &Signer) -> Attempt {
    sender
        .send(&Message {
            url,
            msg_id: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
            body: BODY,
            signer,
            extra_headers: &[],
        })
        .await
}

/// The HMAC-SHA256 `v1` signature computed by ring, independently of the crate's signing code.
fn ring_v1(secret_text: &str, msg_id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = STANDARD
        .decode(secret_text.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64");
    let mut content = format!("{msg_id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), &content);
    format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

#[tokio::test]
async fn sends_the_standard_webhooks_headers_and_a_signature_that_verifies_independently() {
    let receiver = Receiver::answering(200, vec![], b"thanks".to_vec()).await;
    let secret = Secret::generate().expect("secret");
    let signer = Signer::hmac(secret.clone(), None);
    let extra = vec![
        ("X-Api-Key".to_owned(), "k-123".to_owned()),
        ("x-tenant".to_owned(), "acme".to_owned()),
    ];
    let attempt = open_sender()
        .send(&Message {
            url: &receiver.url("/hooks/in?src=threadline"),
            msg_id: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
            body: BODY,
            signer: &signer,
            extra_headers: &extra,
        })
        .await;

    assert_eq!(attempt.outcome, Outcome::Delivered, "{attempt:?}");
    assert_eq!(attempt.status, Some(200));
    assert_eq!(attempt.error, None);
    assert_eq!(attempt.response_excerpt, "thanks");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let got = &requests[0];
    assert_eq!(got.path, "/hooks/in");
    assert_eq!(got.body, BODY);
    assert_eq!(got.header("webhook-id"), "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W");
    assert_eq!(got.header("content-type"), "application/json");
    assert_eq!(got.header("content-length"), BODY.len().to_string());
    assert!(
        got.header("user-agent").starts_with("Threadline-Webhooks/"),
        "{}",
        got.header("user-agent")
    );
    assert_eq!(got.header("x-api-key"), "k-123");
    assert_eq!(got.header("x-tenant"), "acme");
    let timestamp = got.header("webhook-timestamp");
    assert_eq!(timestamp, attempt.timestamp.to_string());
    assert!((now() - attempt.timestamp).abs() <= 5);

    let signature = got.header("webhook-signature");
    assert_eq!(
        signature,
        ring_v1(
            &secret.to_text(),
            got.header("webhook-id"),
            timestamp,
            &got.body
        )
    );
    assert_eq!(
        Verifier::parse(&secret.to_text())
            .expect("verifier")
            .verify(
                got.header("webhook-id"),
                timestamp.parse().expect("integer"),
                &got.body,
                signature,
                now()
            ),
        Ok(())
    );
}

#[tokio::test]
async fn both_secrets_verify_during_a_rotation() {
    let receiver = Receiver::answering(204, vec![], vec![]).await;
    let (old, new) = (
        Secret::generate().expect("secret"),
        Secret::generate().expect("secret"),
    );
    let attempt = send(
        &open_sender(),
        &receiver.url("/"),
        &Signer::hmac(new.clone(), Some(old.clone())),
    )
    .await;
    assert_eq!(attempt.outcome, Outcome::Delivered, "{attempt:?}");
    let got = &receiver.requests()[0];
    let (id, timestamp) = (got.header("webhook-id"), got.header("webhook-timestamp"));
    let entries: Vec<&str> = got.header("webhook-signature").split(' ').collect();
    assert_eq!(
        entries,
        [
            ring_v1(&new.to_text(), id, timestamp, &got.body),
            ring_v1(&old.to_text(), id, timestamp, &got.body)
        ]
    );
    for secret in [old, new] {
        assert_eq!(
            Verifier::Hmac(secret).verify(
                id,
                timestamp.parse().expect("integer"),
                &got.body,
                got.header("webhook-signature"),
                now()
            ),
            Ok(())
        );
    }
}

#[tokio::test]
async fn ed25519_signatures_verify_with_the_public_key() {
    let receiver = Receiver::answering(200, vec![], vec![]).await;
    let key = SigningKey::generate().expect("key");
    let public_text = key.public_key().to_text();
    let attempt = send(&open_sender(), &receiver.url("/"), &Signer::ed25519(key)).await;
    assert_eq!(attempt.outcome, Outcome::Delivered, "{attempt:?}");
    let got = &receiver.requests()[0];
    let (id, timestamp) = (got.header("webhook-id"), got.header("webhook-timestamp"));
    let header = got.header("webhook-signature");

    // Independently: ring's ed25519 verification with the key decoded from its whpk_ text.
    let public = STANDARD
        .decode(public_text.strip_prefix("whpk_").expect("whpk_ prefix"))
        .expect("base64");
    let raw = STANDARD
        .decode(header.strip_prefix("v1a,").expect("a v1a signature"))
        .expect("base64");
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(&got.body);
    let key = signature::UnparsedPublicKey::new(&signature::ED25519, &public);
    assert!(key.verify(&content, &raw).is_ok());
    content.push(b' ');
    assert!(key.verify(&content, &raw).is_err(), "a changed body fails");

    let verifier = Verifier::parse(&public_text).expect("verifier");
    let ts: i64 = timestamp.parse().expect("integer");
    assert_eq!(verifier.verify(id, ts, &got.body, header, now()), Ok(()));
    assert!(verifier.verify(id, ts, b"{}", header, now()).is_err());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let followed = Arc::new(AtomicUsize::new(0));
    let counter = followed.clone();
    let receiver = Receiver::spawn(move |request| {
        let counter = counter.clone();
        async move {
            if request.path == "/moved" {
                counter.fetch_add(1, Ordering::SeqCst);
                return StatusCode::OK.into_response();
            }
            (
                StatusCode::MOVED_PERMANENTLY,
                [(header::LOCATION, "/moved")],
                "moved",
            )
                .into_response()
        }
    })
    .await;
    let secret = Secret::generate().expect("secret");
    let attempt = send(
        &open_sender(),
        &receiver.url("/hook"),
        &Signer::hmac(secret, None),
    )
    .await;
    assert_eq!(attempt.status, Some(301));
    assert_eq!(attempt.outcome, Outcome::Retry);
    assert_eq!(attempt.response_excerpt, "moved");
    let error = attempt.error.expect("an error text");
    assert_eq!(error, "redirected to /moved, not followed: update the URL");
    assert_eq!(followed.load(Ordering::SeqCst), 0);
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test]
async fn a_timeout_is_a_retry() {
    let receiver = Receiver::spawn(|_| async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        StatusCode::OK.into_response()
    })
    .await;
    let sender = Sender::new(SenderConfig {
        timeout: Duration::from_millis(300),
        guard: Guard::new(true),
    })
    .expect("sender");
    let started = Instant::now();
    let attempt = send(
        &sender,
        &receiver.url("/"),
        &Signer::hmac(Secret::generate().expect("secret"), None),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(attempt.outcome, Outcome::Retry);
    assert_eq!(attempt.status, None);
    assert!(attempt.latency >= Duration::from_millis(300));
    let error = attempt.error.expect("an error text");
    assert!(error.contains("within 0.3 s"), "{error}");
}

#[tokio::test]
async fn a_closed_port_is_a_retry() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let attempt = send(
        &open_sender(),
        &format!("http://{addr}/"),
        &Signer::hmac(Secret::generate().expect("secret"), None),
    )
    .await;
    assert_eq!(attempt.outcome, Outcome::Retry);
    assert_eq!(attempt.status, None);
    let error = attempt.error.expect("an error text");
    assert!(error.to_lowercase().contains("refused"), "{error}");
    assert!(
        !error.contains(&addr.port().to_string()),
        "no URL in the text: {error}"
    );
}

#[tokio::test]
async fn gone_and_other_statuses_are_classified() {
    let signer = Signer::hmac(Secret::generate().expect("secret"), None);
    let sender = open_sender();
    for (status, outcome) in [
        (200, Outcome::Delivered),
        (202, Outcome::Delivered),
        (299, Outcome::Delivered),
        (410, Outcome::Gone),
        (404, Outcome::Retry),
        (429, Outcome::Retry),
        (500, Outcome::Retry),
        (304, Outcome::Retry),
    ] {
        let receiver = Receiver::answering(status, vec![], b"x".to_vec()).await;
        let attempt = send(&sender, &receiver.url("/"), &signer).await;
        assert_eq!(attempt.status, Some(status));
        assert_eq!(attempt.outcome, outcome, "{status}");
    }
}

#[tokio::test]
async fn retry_after_is_read_and_honoured() {
    let signer = Signer::hmac(Secret::generate().expect("secret"), None);
    let sender = open_sender();

    let receiver = Receiver::answering(503, vec![("retry-after", "120".into())], vec![]).await;
    let attempt = send(&sender, &receiver.url("/"), &signer).await;
    assert_eq!(attempt.outcome, Outcome::Retry);
    assert_eq!(attempt.retry_after, Some(Duration::from_secs(120)));
    // Longer than the schedule's 5 s (±20 %) before attempt 2: the receiver's wait wins.
    assert_eq!(
        retry::delay_before(2, 1.0, attempt.retry_after),
        Some(Duration::from_secs(120))
    );

    let in_an_hour = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
    let receiver = Receiver::answering(429, vec![("retry-after", in_an_hour)], vec![]).await;
    let attempt = send(&sender, &receiver.url("/"), &signer).await;
    let asked = attempt.retry_after.expect("a Retry-After");
    assert!(
        asked > Duration::from_secs(3590) && asked <= Duration::from_secs(3600),
        "{asked:?}"
    );

    let receiver = Receiver::answering(503, vec![("retry-after", "soon".into())], vec![]).await;
    assert_eq!(
        send(&sender, &receiver.url("/"), &signer).await.retry_after,
        None
    );
}

#[tokio::test]
async fn a_large_response_body_is_cut_to_four_kib() {
    let signer = Signer::hmac(Secret::generate().expect("secret"), None);
    let sender = open_sender();

    let receiver = Receiver::answering(500, vec![], vec![b'x'; 1 << 20]).await;
    let attempt = send(&sender, &receiver.url("/"), &signer).await;
    assert_eq!(attempt.response_excerpt.len(), EXCERPT_LIMIT);
    assert!(attempt.response_excerpt.bytes().all(|b| b == b'x'));

    // Two-byte characters after one ASCII byte: the limit falls inside a character.
    let mut body = b"a".to_vec();
    body.extend("é".repeat(1 << 19).into_bytes());
    let receiver = Receiver::answering(200, vec![], body).await;
    let attempt = send(&sender, &receiver.url("/"), &signer).await;
    assert_eq!(attempt.outcome, Outcome::Delivered);
    assert_eq!(attempt.response_excerpt.len(), EXCERPT_LIMIT - 1);
    assert!(attempt.response_excerpt.starts_with("aé") && attempt.response_excerpt.ends_with('é'));
}

/// A raw receiver that answers 200 and then streams a body that never ends.
async fn endless_receiver() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = [0u8; 8192];
                let _ = socket.read(&mut head).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                    .await;
                let chunk = format!("{:x}\r\n{}\r\n", 1024, "y".repeat(1024));
                while socket.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_endless_response_body_is_not_read_to_its_end() {
    let addr = endless_receiver().await;
    let sender = Sender::new(SenderConfig {
        timeout: Duration::from_secs(10),
        guard: Guard::new(true),
    })
    .expect("sender");
    let started = Instant::now();
    let attempt = send(
        &sender,
        &format!("http://{addr}/"),
        &Signer::hmac(Secret::generate().expect("secret"), None),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it stopped reading"
    );
    assert_eq!(attempt.outcome, Outcome::Delivered);
    assert_eq!(attempt.error, None);
    assert_eq!(attempt.response_excerpt, "y".repeat(EXCERPT_LIMIT));
}

#[tokio::test]
async fn the_ssrf_guard_refuses_private_addresses_unless_allowed() {
    let receiver = Receiver::answering(200, vec![], vec![]).await;
    let port = receiver.addr.port();
    let signer = Signer::hmac(Secret::generate().expect("secret"), None);
    // Names mapped without DNS: one to a private address, one to the live receiver.
    let lookup = StaticLookup::new()
        .with("hooks.internal.test", ["10.1.2.3".parse().expect("ip")])
        .with("receiver.test", ["127.0.0.1".parse().expect("ip")]);
    let closed = sender(Guard::new(false).with_lookup(lookup.clone()));

    for (url, message) in [
        (
            format!("http://127.0.0.1:{port}/"),
            "127.0.0.1 is a loopback address".to_owned(),
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "169.254.169.254 is a cloud metadata address".to_owned(),
        ),
        (
            format!("http://[::1]:{port}/"),
            "::1 is a loopback address".to_owned(),
        ),
        (
            format!("http://hooks.internal.test:{port}/"),
            "hooks.internal.test resolves to 10.1.2.3, a private address".to_owned(),
        ),
        (
            format!("http://receiver.test:{port}/"),
            "receiver.test resolves to 127.0.0.1, a loopback address".to_owned(),
        ),
    ] {
        let started = Instant::now();
        let attempt = send(&closed, &url, &signer).await;
        assert_eq!(attempt.outcome, Outcome::Refused, "{url}: {attempt:?}");
        assert_eq!(attempt.status, None);
        assert_eq!(attempt.error.as_deref(), Some(message.as_str()), "{url}");
        // Refused before any connection: no waiting on 169.254.169.254.
        assert!(started.elapsed() < Duration::from_secs(2), "{url}");
    }
    assert!(
        receiver.requests().is_empty(),
        "nothing reached the receiver"
    );

    let open = sender(Guard::new(true).with_lookup(lookup));
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://receiver.test:{port}/"),
    ] {
        let attempt = send(&open, &url, &signer).await;
        assert_eq!(attempt.outcome, Outcome::Delivered, "{url}: {attempt:?}");
    }
    assert_eq!(receiver.requests().len(), 2);
}

/// A lookup whose answer changes after the first question, as DNS rebinding does.
struct Rebinding {
    calls: AtomicUsize,
    first: IpAddr,
    then: IpAddr,
}

impl Lookup for Rebinding {
    fn lookup<'a>(&'a self, _host: &'a str) -> LookupFuture<'a> {
        let ip = if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            self.first
        } else {
            self.then
        };
        Box::pin(async move { Ok(vec![ip]) })
    }
}

#[tokio::test]
async fn a_name_that_changes_after_validation_is_refused_at_delivery() {
    let receiver = Receiver::answering(200, vec![], vec![]).await;
    let guard = Guard::new(false).with_lookup(Rebinding {
        calls: AtomicUsize::new(0),
        first: "93.184.215.14".parse().expect("ip"),
        then: "127.0.0.1".parse().expect("ip"),
    });
    let url = format!("http://rebind.test:{}/", receiver.addr.port());
    guard.validate_url(&url).await.expect("public at creation");
    let attempt = send(
        &sender(guard),
        &url,
        &Signer::hmac(Secret::generate().expect("secret"), None),
    )
    .await;
    assert_eq!(attempt.outcome, Outcome::Refused, "{attempt:?}");
    assert_eq!(
        attempt.error.as_deref(),
        Some("rebind.test resolves to 127.0.0.1, a loopback address")
    );
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn an_unresolvable_name_is_a_retry_not_a_refusal() {
    let attempt = send(
        &sender(Guard::new(false).with_lookup(StaticLookup::new())),
        "https://nowhere.test/",
        &Signer::hmac(Secret::generate().expect("secret"), None),
    )
    .await;
    assert_eq!(attempt.outcome, Outcome::Retry, "{attempt:?}");
    let error = attempt.error.expect("an error text");
    assert!(
        error.starts_with("nowhere.test could not be resolved"),
        "{error}"
    );
}

#[tokio::test]
async fn bad_input_is_refused_without_panicking() {
    let receiver = Receiver::answering(200, vec![], vec![]).await;
    let signer = Signer::hmac(Secret::generate().expect("secret"), None);
    let sender = open_sender();
    let url = receiver.url("/");
    let reserved = vec![("Webhook-Signature".to_owned(), "v1,forged".to_owned())];
    let broken = vec![("x-a".to_owned(), "line\nbreak".to_owned())];
    for (url, msg_id, extra, expected) in [
        ("not a url", "msg_1", &[][..], "the URL is not valid"),
        (
            "ftp://127.0.0.1/",
            "msg_1",
            &[],
            "the URL's scheme must be http or https",
        ),
        (
            "http://user:pw@127.0.0.1/",
            "msg_1",
            &[],
            "the URL must not contain",
        ),
        (
            url.as_str(),
            "msg\n1",
            &[],
            "the value of the header webhook-id",
        ),
        (
            url.as_str(),
            "msg_1",
            &reserved,
            "the header webhook-signature is set by the gateway",
        ),
        (
            url.as_str(),
            "msg_1",
            &broken,
            "the value of the header x-a",
        ),
    ] {
        let attempt = sender
            .send(&Message {
                url,
                msg_id,
                body: b"\xff\x00 not json",
                signer: &signer,
                extra_headers: extra,
            })
            .await;
        assert_eq!(attempt.outcome, Outcome::Refused, "{url} {msg_id:?}");
        let error = attempt.error.expect("an error text");
        assert!(error.starts_with(expected), "{error}");
    }
    assert!(receiver.requests().is_empty());
    // A body that is not UTF-8 or JSON is still sent byte for byte.
    let attempt = sender
        .send(&Message {
            url: &url,
            msg_id: "msg_1",
            body: b"\xff\x00",
            signer: &signer,
            extra_headers: &[],
        })
        .await;
    assert_eq!(attempt.outcome, Outcome::Delivered);
    assert_eq!(receiver.requests()[0].body, b"\xff\x00");
}

#[tokio::test]
async fn https_uses_rustls_without_a_process_wide_provider() {
    // A plain-HTTP receiver behind an https URL: the TLS handshake fails, as an attempt.
    let receiver = Receiver::answering(200, vec![], vec![]).await;
    let attempt = send(
        &open_sender(),
        &format!("https://127.0.0.1:{}/", receiver.addr.port()),
        &Signer::hmac(Secret::generate().expect("secret"), None),
    )
    .await;
    assert_eq!(attempt.outcome, Outcome::Retry, "{attempt:?}");
    assert!(attempt.error.is_some());
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "the sender installed a process-wide crypto provider"
    );
}

#[tokio::test]
async fn creation_time_validation_names_the_reason() {
    let guard = Guard::new(false).with_lookup(
        StaticLookup::new().with("crm.internal.test", ["10.1.2.3".parse().expect("ip")]),
    );
    let err = guard
        .validate_url("https://crm.internal.test/webhooks")
        .await
        .expect_err("refused");
    assert!(matches!(err, SsrfError::Forbidden { .. }));
    assert_eq!(
        err.to_string(),
        "crm.internal.test resolves to 10.1.2.3, a private address"
    );
}
