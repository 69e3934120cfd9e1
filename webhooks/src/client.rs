//! The sender: one HTTP POST of a signed webhook, and a record of how it went.
//!
//! A [`Sender`] is built once per gateway process and shared (it keeps a connection pool). It
//! does not follow redirects (a 3xx is a failed attempt, as the specification suggests), gives
//! up after a timeout (15 s by default), connects only to addresses its [`Guard`] allows (the
//! guard is its DNS resolver, and IP-literal URLs are checked before sending), ignores proxy
//! settings from the environment (a proxy would connect on our behalf, past the guard) and
//! reads at most 4 KiB of a response.
//!
//! TLS is rustls with the *ring* provider handed to reqwest in a ready `ClientConfig`, so no
//! process-wide default provider is installed. It trusts the Mozilla root certificates compiled
//! in by `webpki-roots`: receivers are public HTTPS endpoints, the same roots work in a minimal
//! container without a CA bundle, nothing is read from disk at start-up, and sqlx already
//! builds the crate into the gateway.

use std::{
    error::Error as StdError,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use reqwest::{
    Client, StatusCode,
    header::{self, HeaderMap, HeaderName, HeaderValue},
    redirect,
};

use crate::{
    retry,
    signing::Signer,
    ssrf::{Guard, SsrfError},
};

/// How long one attempt may take, connection to the last byte read, unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// How much of a response body an attempt keeps, in bytes.
pub const EXCERPT_LIMIT: usize = 4096;
/// The `user-agent` of every webhook request.
pub const USER_AGENT: &str = concat!("Threadline-Webhooks/", env!("CARGO_PKG_VERSION"));

/// The `webhook-id` header: the message's id, the same on every retry.
pub const WEBHOOK_ID: &str = "webhook-id";
/// The `webhook-timestamp` header: the attempt's time in Unix seconds.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// The `webhook-signature` header: the space-separated signatures.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// Headers an endpoint's extra headers may not set: the signed metadata, the body's framing and
/// type, and hop-by-hop headers.
const RESERVED_HEADERS: &[&str] = &[
    WEBHOOK_ID,
    WEBHOOK_TIMESTAMP,
    WEBHOOK_SIGNATURE,
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// Why a [`Sender`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// The TLS configuration was refused by rustls.
    #[error("could not configure TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// reqwest could not build its client.
    #[error("could not build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Why an endpoint's extra headers were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The name is not a valid HTTP header name.
    #[error("{0:?} is not a valid header name")]
    InvalidName(String),
    /// The value is not a valid HTTP header value (a line break, say).
    #[error("the value of the header {0} is not valid")]
    InvalidValue(String),
    /// The header is one the gateway sets itself.
    #[error("the header {0} is set by the gateway and cannot be overridden")]
    Reserved(String),
}

/// Checks an endpoint's extra headers (when it is created, and before each request) and
/// returns them as a header map. Names are case-insensitive; reserved ones (the three
/// `webhook-*` headers, `host`, `content-length`, `content-type` and hop-by-hop headers) are
/// refused. A `user-agent` replaces the default one.
pub fn check_extra_headers<K, V>(
    headers: impl IntoIterator<Item = (K, V)>,
) -> Result<HeaderMap, HeaderError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let (name, value) = (name.as_ref(), value.as_ref());
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HeaderError::InvalidName(name.to_owned()))?;
        if RESERVED_HEADERS.contains(&header.as_str()) {
            return Err(HeaderError::Reserved(header.as_str().to_owned()));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| HeaderError::InvalidValue(header.as_str().to_owned()))?;
        map.append(header, value);
    }
    Ok(map)
}

/// How a [`Sender`] is set up.
#[derive(Clone, Debug)]
pub struct SenderConfig {
    /// How long one attempt may take, connecting, sending and reading the response excerpt.
    pub timeout: Duration,
    /// The SSRF policy (and the name lookup it uses).
    pub guard: Guard,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            guard: Guard::new(false),
        }
    }
}

/// One webhook to send to one endpoint.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    /// The endpoint's URL.
    pub url: &'a str,
    /// The message id, the same on every attempt (`webhook-id`).
    pub msg_id: &'a str,
    /// The JSON body, sent and signed byte for byte.
    pub body: &'a [u8],
    /// The endpoint's keys.
    pub signer: &'a Signer,
    /// The endpoint's extra headers, as (name, value) pairs.
    pub extra_headers: &'a [(String, String)],
}

/// What an attempt leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx: the message is delivered.
    Delivered,
    /// The receiver answered 410 Gone: disable the endpoint.
    Gone,
    /// Any other answer, a timeout or a network error: retry on the schedule.
    Retry,
    /// Nothing was sent: the URL, an address it resolves to, or a header was refused (a
    /// logged failure; DNS may change before the next attempt).
    Refused,
}

/// The record of one attempt, for the delivery log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The `webhook-timestamp` sent (Unix seconds).
    pub timestamp: i64,
    /// The response's status code, if a response came.
    pub status: Option<u16>,
    /// How long the attempt took, until the response excerpt was read.
    pub latency: Duration,
    /// What went wrong, if anything: a network error, a timeout, a refusal, a redirect not
    /// followed. The outcome, not this, decides what happens next.
    pub error: Option<String>,
    /// The start of the response body: at most [`EXCERPT_LIMIT`] bytes, lossy UTF-8, cut at a
    /// character boundary.
    pub response_excerpt: String,
    /// The wait the receiver asked for in `Retry-After`, if any (see
    /// [`retry::delay_before`]).
    pub retry_after: Option<Duration>,
    /// What the attempt leads to.
    pub outcome: Outcome,
}

/// Sends webhooks; build one per process and share it (clones share the connection pool).
#[derive(Clone, Debug)]
pub struct Sender {
    client: Client,
    guard: Guard,
    timeout: Duration,
}

impl Sender {
    /// Builds the HTTP client: TLS (rustls, ring, Mozilla roots), no redirects, no proxy, the
    /// guard as resolver, the timeout and the user agent.
    pub fn new(config: SenderConfig) -> Result<Self, SenderError> {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        // reqwest is built without HTTP/2 here, and does not set ALPN on a ready config.
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let client = Client::builder()
            .tls_backend_preconfigured(tls)
            .dns_resolver(config.guard.clone())
            .no_proxy()
            .redirect(redirect::Policy::none())
            .timeout(config.timeout)
            .user_agent(USER_AGENT)
            .build()?;
        Ok(Self {
            client,
            guard: config.guard,
            timeout: config.timeout,
        })
    }

    /// Sends one attempt of `message`, timestamped and signed now, and reports how it went.
    /// Never fails and never panics: every problem is in the [`Attempt`].
    pub async fn send(&self, message: &Message<'_>) -> Attempt {
        let started = Instant::now();
        let timestamp = unix_now();
        let mut attempt = Attempt {
            timestamp,
            status: None,
            latency: Duration::ZERO,
            error: None,
            response_excerpt: String::new(),
            retry_after: None,
            outcome: Outcome::Refused,
        };
        let prepared = self
            .guard
            .check_url(message.url)
            .map_err(|e| e.to_string())
            .and_then(|url| {
                headers(message, timestamp)
                    .map(|headers| (url, headers))
                    .map_err(|e| e.to_string())
            });
        let (url, headers) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                attempt.error = Some(error);
                attempt.latency = started.elapsed();
                return attempt;
            }
        };

        let sent = self
            .client
            .post(url)
            .headers(headers)
            .body(message.body.to_vec())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                let (outcome, text) = self.describe_failure(error);
                attempt.outcome = outcome;
                attempt.error = Some(text);
                attempt.latency = started.elapsed();
                return attempt;
            }
        };

        let status = response.status();
        attempt.status = Some(status.as_u16());
        attempt.retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| retry::parse_retry_after(value, SystemTime::now()));
        attempt.outcome = if status.is_success() {
            Outcome::Delivered
        } else if status == StatusCode::GONE {
            Outcome::Gone
        } else {
            Outcome::Retry
        };
        if status.is_redirection() {
            // The target, cut short: it is the receiver's text, not ours.
            let target = response.headers().get(header::LOCATION).map(|location| {
                String::from_utf8_lossy(location.as_bytes())
                    .chars()
                    .take(300)
                    .collect::<String>()
            });
            attempt.error = Some(match target {
                Some(target) => format!("redirected to {target}, not followed: update the URL"),
                None => "redirected, not followed: update the URL".to_owned(),
            });
        }
        let (excerpt, read_error) = read_excerpt(response).await;
        attempt.response_excerpt = excerpt;
        if let Some(error) = read_error {
            let error = self.describe_error(&error);
            attempt
                .error
                .get_or_insert(format!("reading the response: {error}"));
        }
        attempt.latency = started.elapsed();
        attempt
    }

    /// The outcome and the text of a request that got no response.
    fn describe_failure(&self, error: reqwest::Error) -> (Outcome, String) {
        if let Some(ssrf) = find_ssrf_error(&error) {
            let outcome = match ssrf {
                SsrfError::Forbidden { .. } => Outcome::Refused,
                // The name did not resolve (yet): a network failure like any other.
                _ => Outcome::Retry,
            };
            return (outcome, ssrf.to_string());
        }
        (Outcome::Retry, self.describe_error(&error))
    }

    /// A one-line text of a reqwest error and its causes, without the URL.
    fn describe_error(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            return format!(
                "no complete response within {} s",
                self.timeout.as_secs_f64()
            );
        }
        let mut parts: Vec<String> = Vec::new();
        let mut cause: Option<&(dyn StdError + 'static)> = error.source();
        while let Some(current) = cause {
            let text = current.to_string();
            // hyper and the OS often repeat a cause's text in its wrapper.
            if !parts.iter().any(|part| part.contains(&text)) {
                parts.push(text);
            }
            cause = current.source();
        }
        if parts.is_empty() {
            parts.push(error.to_string());
        }
        parts.join(": ")
    }
}

/// The request's headers: the endpoint's extra ones, then the ones the gateway owns.
fn headers(message: &Message<'_>, timestamp: i64) -> Result<HeaderMap, HeaderError> {
    let mut headers = check_extra_headers(message.extra_headers.iter().map(|(n, v)| (n, v)))?;
    let value = |name: &str, text: &str| {
        HeaderValue::from_str(text).map_err(|_| HeaderError::InvalidValue(name.to_owned()))
    };
    let signature = message
        .signer
        .signature_header(message.msg_id, timestamp, message.body);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(WEBHOOK_ID, value(WEBHOOK_ID, message.msg_id)?);
    headers.insert(
        WEBHOOK_TIMESTAMP,
        value(WEBHOOK_TIMESTAMP, &timestamp.to_string())?,
    );
    headers.insert(WEBHOOK_SIGNATURE, value(WEBHOOK_SIGNATURE, &signature)?);
    Ok(headers)
}

/// The SSRF refusal somewhere in an error's chain of causes (the resolver's error comes back
/// wrapped by hyper and reqwest).
fn find_ssrf_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a SsrfError> {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(ssrf) = current.downcast_ref::<SsrfError>() {
            return Some(ssrf);
        }
        cause = current.source();
    }
    None
}

/// Now in Unix seconds.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Reads at most [`EXCERPT_LIMIT`] bytes of the body, chunk by chunk, and stops there (the
/// rest is never read; the connection is dropped rather than drained).
async fn read_excerpt(mut response: reqwest::Response) -> (String, Option<reqwest::Error>) {
    let mut bytes = Vec::new();
    let mut truncated = false;
    let mut error = None;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = EXCERPT_LIMIT - bytes.len();
                bytes.extend_from_slice(&chunk[..room.min(chunk.len())]);
                if chunk.len() >= room {
                    // Full: whatever follows is not read.
                    truncated = true;
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    (excerpt_text(&bytes, truncated), error)
}

/// The text of a body excerpt: an incomplete character cut off by the limit is dropped, other
/// invalid bytes become U+FFFD, and the text stays within [`EXCERPT_LIMIT`] bytes.
fn excerpt_text(bytes: &[u8], truncated: bool) -> String {
    let mut end = bytes.len();
    if truncated {
        // A character cut by the limit starts within the last three bytes.
        for back in 1..=3.min(bytes.len()) {
            let start = bytes.len() - back;
            if let Err(e) = std::str::from_utf8(&bytes[start..])
                && e.valid_up_to() == 0
                && e.error_len().is_none()
            {
                end = start;
                break;
            }
        }
    }
    let mut text = String::from_utf8_lossy(&bytes[..end]).into_owned();
    if text.len() > EXCERPT_LIMIT {
        // Each invalid byte became three bytes of U+FFFD.
        let cut = text.floor_char_boundary(EXCERPT_LIMIT);
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_cut_at_a_character_boundary() {
        // "é" is two bytes: the limit falls inside the last one.
        let mut body = vec![b'a'; EXCERPT_LIMIT - 1];
        body.extend_from_slice("é".as_bytes());
        let text = excerpt_text(&body[..EXCERPT_LIMIT], true);
        assert_eq!(text.len(), EXCERPT_LIMIT - 1);
        assert!(text.bytes().all(|b| b == b'a'));

        // A four-byte character cut after two bytes.
        let mut body = vec![b'a'; EXCERPT_LIMIT - 2];
        body.extend_from_slice("😀".as_bytes());
        assert_eq!(
            excerpt_text(&body[..EXCERPT_LIMIT], true).len(),
            EXCERPT_LIMIT - 2
        );

        // A complete multi-byte character at the very end stays.
        let mut body = vec![b'a'; EXCERPT_LIMIT - 2];
        body.extend_from_slice("é".as_bytes());
        assert!(excerpt_text(&body, true).ends_with('é'));

        // Invalid bytes become U+FFFD and the text stays within the limit.
        let text = excerpt_text(&[0xff; EXCERPT_LIMIT], true);
        assert!(text.len() <= EXCERPT_LIMIT && text.chars().all(|c| c == '\u{fffd}'));
        assert_eq!(excerpt_text(b"ok \xff", false), "ok \u{fffd}");
        assert_eq!(excerpt_text(b"", false), "");
    }

    #[test]
    fn extra_headers_cannot_override_the_gateways() {
        let ok = check_extra_headers([("X-Api-Key", "k1"), ("user-agent", "Custom/1")])
            .expect("allowed");
        assert_eq!(
            ok.get("x-api-key").and_then(|v| v.to_str().ok()),
            Some("k1")
        );
        for name in [
            "webhook-id",
            "Webhook-Signature",
            "WEBHOOK-TIMESTAMP",
            "Host",
            "content-length",
            "Content-Type",
            "transfer-encoding",
            "connection",
        ] {
            assert_eq!(
                check_extra_headers([(name, "x")]).err(),
                Some(HeaderError::Reserved(name.to_ascii_lowercase())),
                "{name}"
            );
        }
        assert_eq!(
            check_extra_headers([("bad name", "x")]).err(),
            Some(HeaderError::InvalidName("bad name".into()))
        );
        assert_eq!(
            check_extra_headers([("x-a", "line\r\nbreak")]).err(),
            Some(HeaderError::InvalidValue("x-a".into()))
        );
    }
}
