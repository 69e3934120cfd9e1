//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">`, keyed with the bytes behind a `whsec_<base64>` secret.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The secret prefix the specification uses.
pub const SECRET_PREFIX: &str = "whsec_";
/// How far a signature's timestamp may be from now and still verify, in seconds.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// Why a secret or a signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigningError {
    /// The secret is not `whsec_` followed by base64 of at least 24 bytes.
    #[error("a webhook secret is whsec_ followed by base64 of at least 24 bytes")]
    InvalidSecret,
    /// The timestamp is outside the tolerance.
    #[error("the webhook timestamp is too far from now")]
    StaleTimestamp,
    /// No signature in the header matches.
    #[error("no webhook signature matches")]
    NoMatch,
}

/// A signing secret.
#[derive(Clone)]
pub struct Secret {
    key: Vec<u8>,
}

impl Secret {
    /// A new random secret of 32 bytes.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        // The OS random source failing leaves nothing safe to do.
        getrandom::fill(&mut key).expect("the operating system's random source is unavailable");
        Self { key }
    }

    /// Parses a `whsec_<base64>` secret.
    pub fn parse(text: &str) -> Result<Self, SigningError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SigningError::InvalidSecret)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SigningError::InvalidSecret)?;
        if key.len() < 24 {
            return Err(SigningError::InvalidSecret);
        }
        Ok(Self { key })
    }

    /// The `whsec_<base64>` text of the secret (shown to the endpoint's owner once).
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length.
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    /// The `v1,<base64>` signature of a message.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header for a message signed with every given secret (during a
/// rotation the old and the new secret both sign).
pub fn signature_header(secrets: &[Secret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| s.sign(msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Verifies a `webhook-signature` header as a receiver would: the timestamp within the
/// tolerance of `now`, and one `v1` signature matching (compared in constant time).
pub fn verify(
    secret: &Secret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
    now: i64,
) -> Result<(), SigningError> {
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SigningError::StaleTimestamp);
    }
    for candidate in header.split_whitespace() {
        let Some(encoded) = candidate.strip_prefix("v1,") else {
            continue;
        };
        let Ok(signature) = STANDARD.decode(encoded) else {
            continue;
        };
        let mut mac = secret.mac();
        mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
        mac.update(body);
        if mac.verify_slice(&signature).is_ok() {
            return Ok(());
        }
    }
    Err(SigningError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the Standard Webhooks specification.
    #[test]
    fn matches_the_specification_example() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let body = br#"{"test": 2432232314}"#;
        let signature = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(
            verify(
                &secret,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                body,
                &signature,
                1_614_265_331
            ),
            Ok(())
        );
    }

    #[test]
    fn rotation_tampering_and_staleness() {
        let (old, new) = (Secret::generate(), Secret::generate());
        let header = signature_header(&[new.clone(), old.clone()], "msg_1", 100, b"{}");
        assert_eq!(verify(&old, "msg_1", 100, b"{}", &header, 100), Ok(()));
        assert_eq!(verify(&new, "msg_1", 100, b"{}", &header, 100), Ok(()));
        assert_eq!(
            verify(&new, "msg_1", 100, b"{ }", &header, 100),
            Err(SigningError::NoMatch)
        );
        assert_eq!(
            verify(&new, "msg_2", 100, b"{}", &header, 100),
            Err(SigningError::NoMatch)
        );
        assert_eq!(
            verify(&new, "msg_1", 100, b"{}", &header, 100 + 301),
            Err(SigningError::StaleTimestamp)
        );
        let text = new.to_text();
        assert!(text.starts_with("whsec_"));
        assert_eq!(Secret::parse(&text).map(|s| s.to_text()), Ok(text));
        assert_eq!(
            Secret::parse("whsec_c2hvcnQ=").err(),
            Some(SigningError::InvalidSecret)
        );
        assert_eq!(
            Secret::parse("nope").err(),
            Some(SigningError::InvalidSecret)
        );
    }
}
