//! A webhook receiver for tests: a real HTTP server on 127.0.0.1 that records every request
//! and answers as the test says.

use std::sync::{Arc, Mutex};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    /// The request headers.
    pub headers: HeaderMap,
    /// The body, as text.
    pub body: String,
}

impl Received {
    /// A header's value ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    /// Whether one of the `v1,` signatures is the HMAC-SHA256 of `id.timestamp.body` under
    /// `secret` (`whsec_...`), computed here with the `hmac` crate, independently of the
    /// gateway's signing code.
    pub fn signed_with(&self, secret: &str) -> bool {
        let key = base64::engine::general_purpose::STANDARD
            .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
            .expect("base64 secret");
        let content = format!(
            "{}.{}.{}",
            self.header("webhook-id"),
            self.header("webhook-timestamp"),
            self.body
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("hmac key");
        mac.update(content.as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        self.header("webhook-signature")
            .split(' ')
            .any(|s| s == format!("v1,{expected}"))
    }
}

type Answer = Box<dyn FnMut(&Received, usize) -> Response + Send>;

struct Inner {
    received: Vec<Received>,
    answer: Answer,
}

/// The receiver; dropping it leaves the server running until the test's runtime ends.
#[derive(Clone)]
pub struct Receiver {
    /// Its URL, `http://127.0.0.1:PORT/hook`.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Received {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let mut inner = inner.lock().expect("receiver lock");
    let n = inner.received.len();
    let response = (inner.answer)(&received, n);
    inner.received.push(received);
    response
}

impl Receiver {
    /// Starts a receiver answering 200 to everything.
    pub async fn start() -> Self {
        Self::answering(|_, _| StatusCode::OK.into_response()).await
    }

    /// Starts a receiver answering with `answer(request, how many came before)`.
    pub async fn answering(
        answer: impl FnMut(&Received, usize) -> Response + Send + 'static,
    ) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            received: Vec::new(),
            answer: Box::new(answer),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, inner }
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("receiver lock").received.clone()
    }
}

/// Starts a receiver that accepts every connection, reads nothing back and never answers (a
/// receiver that hangs); returns its URL. The connections stay open until the test's runtime
/// ends, so every attempt to it runs into the gateway's timeout.
pub async fn silent() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a silent receiver");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}
