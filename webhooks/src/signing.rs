//! Standard Webhooks signatures over the content `{id}.{timestamp}.{body}`, in the
//! `webhook-signature` header as space-separated `<version>,<base64>` entries:
//!
//! - symmetric, `v1`: HMAC-SHA256 keyed with the bytes behind a `whsec_<base64>` secret (24 to
//!   64 random bytes); during a rotation the current and the previous secret both sign;
//! - asymmetric, `v1a`: an ed25519 signature by a `whsk_<base64 of the 32-byte seed>` key,
//!   verified with its `whpk_<base64 of the 32-byte public key>` (the encoding of the
//!   specification's reference libraries).
//!
//! A [`Signer`] holds one endpoint's keys and writes the header; a [`Verifier`] checks one as a
//! receiver would (the gateway's tests use it).

use std::{fmt, sync::Arc};

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use ring::signature::{self as ed25519, Ed25519KeyPair, KeyPair};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The prefix of a symmetric (HMAC) secret's text.
pub const SECRET_PREFIX: &str = "whsec_";
/// The prefix of an ed25519 signing key's text.
pub const SIGNING_KEY_PREFIX: &str = "whsk_";
/// The prefix of an ed25519 public key's text.
pub const PUBLIC_KEY_PREFIX: &str = "whpk_";
/// How far a signature's timestamp may be from now and still verify, in seconds.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// The shortest and longest HMAC secrets the specification allows, in bytes (192 to 512 bits).
const SECRET_LEN: std::ops::RangeInclusive<usize> = 24..=64;
/// The length of an ed25519 seed and of a public key, in bytes.
const ED25519_KEY_LEN: usize = 32;

/// Why a key or a signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigningError {
    /// The secret is not `whsec_` followed by base64 of 24 to 64 bytes.
    #[error("a webhook secret is whsec_ followed by base64 of 24 to 64 bytes")]
    InvalidSecret,
    /// The signing key is not `whsk_` followed by base64 of a 32-byte ed25519 seed.
    #[error("a webhook signing key is whsk_ followed by base64 of a 32-byte ed25519 seed")]
    InvalidSigningKey,
    /// The public key is not `whpk_` followed by base64 of a 32-byte ed25519 public key.
    #[error("a webhook public key is whpk_ followed by base64 of a 32-byte ed25519 public key")]
    InvalidPublicKey,
    /// The text is none of `whsec_`, `whpk_`.
    #[error("a webhook verification key starts with whsec_ or whpk_")]
    UnknownKeyKind,
    /// The operating system's random source failed while generating a key.
    #[error("the operating system's random source is unavailable")]
    RandomUnavailable,
    /// The timestamp is outside the tolerance.
    #[error("the webhook timestamp is too far from now")]
    StaleTimestamp,
    /// No signature in the header matches.
    #[error("no webhook signature matches")]
    NoMatch,
}

/// The content both schemes sign: `{id}.{timestamp}.{body}`.
fn signed_content(msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let prefix = format!("{msg_id}.{timestamp}.");
    let mut content = Vec::with_capacity(prefix.len() + body.len());
    content.extend_from_slice(prefix.as_bytes());
    content.extend_from_slice(body);
    content
}

/// `N` random bytes from the operating system.
fn random_bytes<const N: usize>() -> Result<[u8; N], SigningError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| SigningError::RandomUnavailable)?;
    Ok(bytes)
}

/// A symmetric signing secret (`whsec_...`), shared with the receiver.
#[derive(Clone)]
pub struct Secret {
    key: Vec<u8>,
    // Keyed once: every signature starts from a copy of this state.
    keyed: Arc<HmacSha256>,
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A new random secret of 32 bytes.
    pub fn generate() -> Result<Self, SigningError> {
        Self::from_bytes(random_bytes::<32>()?.to_vec())
    }

    fn from_bytes(key: Vec<u8>) -> Result<Self, SigningError> {
        if !SECRET_LEN.contains(&key.len()) {
            return Err(SigningError::InvalidSecret);
        }
        let keyed = <HmacSha256 as KeyInit>::new_from_slice(&key)
            .map_err(|_| SigningError::InvalidSecret)?;
        Ok(Self {
            key,
            keyed: Arc::new(keyed),
        })
    }

    /// Parses a `whsec_<base64>` secret.
    pub fn parse(text: &str) -> Result<Self, SigningError> {
        let key = text
            .strip_prefix(SECRET_PREFIX)
            .and_then(|encoded| STANDARD.decode(encoded).ok())
            .ok_or(SigningError::InvalidSecret)?;
        Self::from_bytes(key)
    }

    /// The `whsec_<base64>` text of the secret (shown to the endpoint's owner once).
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    fn mac(&self, content: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::clone(&self.keyed);
        mac.update(content);
        mac
    }

    /// The `v1,<base64>` signature of a message.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mac = self.mac(&signed_content(msg_id, timestamp, body));
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// An ed25519 signing key (`whsk_...`), kept by the gateway only.
#[derive(Clone)]
pub struct SigningKey {
    seed: [u8; ED25519_KEY_LEN],
    // ring's key pair is not Clone; the Arc shares the expanded key between clones.
    pair: Arc<Ed25519KeyPair>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SigningKey")
            .field(&self.public_key().to_text())
            .finish()
    }
}

impl SigningKey {
    /// A new random key.
    pub fn generate() -> Result<Self, SigningError> {
        Self::from_seed(random_bytes::<ED25519_KEY_LEN>()?)
    }

    /// The key of a 32-byte seed (RFC 8032's "secret key").
    pub fn from_seed(seed: [u8; 32]) -> Result<Self, SigningError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| SigningError::InvalidSigningKey)?;
        Ok(Self {
            seed,
            pair: Arc::new(pair),
        })
    }

    /// Parses a `whsk_<base64>` key: the 32-byte seed, or the 64 bytes of the seed followed by
    /// its public key (the form libsodium-style libraries export), checked for consistency.
    pub fn parse(text: &str) -> Result<Self, SigningError> {
        let bytes = text
            .strip_prefix(SIGNING_KEY_PREFIX)
            .and_then(|encoded| STANDARD.decode(encoded).ok())
            .ok_or(SigningError::InvalidSigningKey)?;
        let seed: [u8; ED25519_KEY_LEN] = bytes
            .get(..ED25519_KEY_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(SigningError::InvalidSigningKey)?;
        match bytes.len() {
            ED25519_KEY_LEN => Self::from_seed(seed),
            64 => {
                let pair =
                    Ed25519KeyPair::from_seed_and_public_key(&seed, &bytes[ED25519_KEY_LEN..])
                        .map_err(|_| SigningError::InvalidSigningKey)?;
                Ok(Self {
                    seed,
                    pair: Arc::new(pair),
                })
            }
            _ => Err(SigningError::InvalidSigningKey),
        }
    }

    /// The `whsk_<base64 of the seed>` text of the key.
    pub fn to_text(&self) -> String {
        format!("{SIGNING_KEY_PREFIX}{}", STANDARD.encode(self.seed))
    }

    /// The public key receivers verify with.
    pub fn public_key(&self) -> PublicKey {
        let mut key = [0u8; ED25519_KEY_LEN];
        key.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey { key }
    }

    /// The raw 64-byte ed25519 signature of `message`.
    pub fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        let mut signature = [0u8; 64];
        signature.copy_from_slice(self.pair.sign(message).as_ref());
        signature
    }

    /// The `v1a,<base64>` signature of a message.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let signature = self.sign_raw(&signed_content(msg_id, timestamp, body));
        format!("v1a,{}", STANDARD.encode(signature))
    }
}

/// An ed25519 public key (`whpk_...`), given to the receiver.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    key: [u8; ED25519_KEY_LEN],
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PublicKey").field(&self.to_text()).finish()
    }
}

impl PublicKey {
    /// The key of its 32 raw bytes.
    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// Parses a `whpk_<base64>` key.
    pub fn parse(text: &str) -> Result<Self, SigningError> {
        let key = text
            .strip_prefix(PUBLIC_KEY_PREFIX)
            .and_then(|encoded| STANDARD.decode(encoded).ok())
            .and_then(|bytes| <[u8; ED25519_KEY_LEN]>::try_from(bytes).ok())
            .ok_or(SigningError::InvalidPublicKey)?;
        Ok(Self { key })
    }

    /// The `whpk_<base64>` text of the key (queryable by the endpoint's owner).
    pub fn to_text(&self) -> String {
        format!("{PUBLIC_KEY_PREFIX}{}", STANDARD.encode(self.key))
    }

    /// The 32 raw bytes of the key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// Whether `signature` is this key's ed25519 signature of `message`.
    pub fn verify_raw(&self, message: &[u8], signature: &[u8]) -> bool {
        ed25519::UnparsedPublicKey::new(&ed25519::ED25519, &self.key)
            .verify(message, signature)
            .is_ok()
    }
}

/// One endpoint's signing keys: HMAC secrets or ed25519 keys, the current one and the previous
/// one while a rotation lasts.
#[derive(Clone, Debug)]
pub struct Signer {
    keys: SignerKeys,
}

#[derive(Clone, Debug)]
enum SignerKeys {
    Hmac {
        current: Secret,
        previous: Option<Secret>,
    },
    Ed25519 {
        current: SigningKey,
        previous: Option<SigningKey>,
    },
}

impl Signer {
    /// Signs with HMAC: the current secret, and the previous one too during a rotation.
    pub fn hmac(current: Secret, previous: Option<Secret>) -> Self {
        Self {
            keys: SignerKeys::Hmac { current, previous },
        }
    }

    /// Signs with one ed25519 key.
    pub fn ed25519(key: SigningKey) -> Self {
        Self::ed25519_rotating(key, None)
    }

    /// Signs with an ed25519 key, and the previous one too during a rotation.
    pub fn ed25519_rotating(current: SigningKey, previous: Option<SigningKey>) -> Self {
        Self {
            keys: SignerKeys::Ed25519 { current, previous },
        }
    }

    /// The `webhook-signature` header of a message: one `v1,` (HMAC) or `v1a,` (ed25519)
    /// signature per key, current first, space-separated.
    pub fn signature_header(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        match &self.keys {
            SignerKeys::Hmac { current, previous } => {
                let mut header = current.sign(msg_id, timestamp, body);
                if let Some(previous) = previous {
                    header.push(' ');
                    header.push_str(&previous.sign(msg_id, timestamp, body));
                }
                header
            }
            SignerKeys::Ed25519 { current, previous } => {
                let mut header = current.sign(msg_id, timestamp, body);
                if let Some(previous) = previous {
                    header.push(' ');
                    header.push_str(&previous.sign(msg_id, timestamp, body));
                }
                header
            }
        }
    }
}

/// What a receiver verifies with: the shared HMAC secret or the sender's ed25519 public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verifier {
    /// Checks `v1` (HMAC-SHA256) signatures.
    Hmac(Secret),
    /// Checks `v1a` (ed25519) signatures.
    Ed25519(PublicKey),
}

impl Verifier {
    /// Parses a `whsec_` secret or a `whpk_` public key; the prefix picks the scheme.
    pub fn parse(text: &str) -> Result<Self, SigningError> {
        if text.starts_with(SECRET_PREFIX) {
            Secret::parse(text).map(Self::Hmac)
        } else if text.starts_with(PUBLIC_KEY_PREFIX) {
            PublicKey::parse(text).map(Self::Ed25519)
        } else {
            Err(SigningError::UnknownKeyKind)
        }
    }

    /// Verifies a `webhook-signature` header as a receiver would: the timestamp within
    /// [`TOLERANCE_SECONDS`] of `now` (Unix seconds), and one signature of this verifier's
    /// scheme matching (HMACs compared in constant time); entries of other schemes or
    /// versions are skipped, as the specification asks.
    pub fn verify(
        &self,
        msg_id: &str,
        timestamp: i64,
        body: &[u8],
        header: &str,
        now: i64,
    ) -> Result<(), SigningError> {
        if now.abs_diff(timestamp) > TOLERANCE_SECONDS.unsigned_abs() {
            return Err(SigningError::StaleTimestamp);
        }
        let version = match self {
            Self::Hmac(_) => "v1",
            Self::Ed25519(_) => "v1a",
        };
        let content = signed_content(msg_id, timestamp, body);
        let matches = header
            .split_whitespace()
            .filter_map(|entry| entry.split_once(','))
            .filter(|(v, _)| *v == version)
            .filter_map(|(_, encoded)| STANDARD.decode(encoded).ok())
            .any(|signature| match self {
                Self::Hmac(secret) => secret.mac(&content).verify_slice(&signature).is_ok(),
                Self::Ed25519(key) => key.verify_raw(&content, &signature),
            });
        if matches {
            Ok(())
        } else {
            Err(SigningError::NoMatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use ring::hmac;

    use super::*;

    /// The symmetric test vector of the specification's reference libraries
    /// (standard-webhooks/standard-webhooks, `libraries/go/webhook_symmetric_test.go`,
    /// `TestSymmetricWebhookSign`).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn hmac_matches_the_specification_vector_and_an_independent_hmac() {
        let secret = Secret::parse(SPEC_SECRET).expect("secret");
        let ours = secret.sign(SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY);
        assert_eq!(ours, SPEC_SIGNATURE);

        // The same computed by ring's HMAC from the decoded secret, not by our code.
        let key_bytes = STANDARD
            .decode(SPEC_SECRET.trim_start_matches("whsec_"))
            .expect("base64");
        let key = hmac::Key::new(hmac::HMAC_SHA256, &key_bytes);
        let tag = hmac::sign(
            &key,
            format!(
                "{SPEC_MSG_ID}.{SPEC_TIMESTAMP}.{}",
                std::str::from_utf8(SPEC_BODY).expect("utf-8")
            )
            .as_bytes(),
        );
        assert_eq!(
            format!("v1,{}", STANDARD.encode(tag.as_ref())),
            SPEC_SIGNATURE
        );

        let verifier = Verifier::parse(SPEC_SECRET).expect("verifier");
        assert_eq!(
            verifier.verify(
                SPEC_MSG_ID,
                SPEC_TIMESTAMP,
                SPEC_BODY,
                SPEC_SIGNATURE,
                SPEC_TIMESTAMP + 1
            ),
            Ok(())
        );
        // The reference libraries' multi-signature case: unknown versions and wrong
        // signatures around the right one are skipped.
        let crowded = format!(
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {SPEC_SIGNATURE} v1,"
        );
        assert_eq!(
            verifier.verify(
                SPEC_MSG_ID,
                SPEC_TIMESTAMP,
                SPEC_BODY,
                &crowded,
                SPEC_TIMESTAMP
            ),
            Ok(())
        );
        for wrong in [
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v1,",
            "",
            "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ] {
            assert_eq!(
                verifier.verify(
                    SPEC_MSG_ID,
                    SPEC_TIMESTAMP,
                    SPEC_BODY,
                    wrong,
                    SPEC_TIMESTAMP
                ),
                Err(SigningError::NoMatch),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn ed25519_matches_rfc_8032_test_1() {
        let seed: [u8; 32] =
            hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .try_into()
                .expect("32 bytes");
        let key = SigningKey::from_seed(seed).expect("key");
        assert_eq!(
            key.public_key().as_bytes().to_vec(),
            hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        );
        let signature = key.sign_raw(b"");
        assert_eq!(
            signature.to_vec(),
            hex(concat!(
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155",
                "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
            ))
        );
        assert!(key.public_key().verify_raw(b"", &signature));
        assert!(!key.public_key().verify_raw(b"x", &signature));
    }

    /// The asymmetric test vector of the reference libraries
    /// (`libraries/go/webhook_asymmetric_test.go`, `TestAsymmetricWebhookSign`): a base64 seed.
    #[test]
    fn ed25519_matches_the_reference_library_vector() {
        let key =
            SigningKey::parse("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=").expect("key");
        assert_eq!(
            key.sign(SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY),
            "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
        );
    }

    #[test]
    fn ed25519_verifies_with_the_public_key_and_fails_when_tampered() {
        let key = SigningKey::generate().expect("key");
        let signer = Signer::ed25519(key.clone());
        let header = signer.signature_header("msg_1", 100, b"{}");
        assert!(header.starts_with("v1a,") && !header.contains(' '));

        let public = Verifier::parse(&key.public_key().to_text()).expect("public key");
        assert_eq!(public.verify("msg_1", 100, b"{}", &header, 100), Ok(()));
        for (id, ts, body) in [
            ("msg_2", 100, &b"{}"[..]),
            ("msg_1", 101, b"{}"),
            ("msg_1", 100, b"{ }"),
        ] {
            assert_eq!(
                public.verify(id, ts, body, &header, 100),
                Err(SigningError::NoMatch)
            );
        }
        // A flipped bit in the signature itself.
        let mut raw = STANDARD.decode(&header[4..]).expect("base64");
        raw[10] ^= 1;
        let tampered = format!("v1a,{}", STANDARD.encode(&raw));
        assert_eq!(
            public.verify("msg_1", 100, b"{}", &tampered, 100),
            Err(SigningError::NoMatch)
        );
        // Another key's public half does not verify it.
        let other = SigningKey::generate().expect("key").public_key();
        assert_eq!(
            Verifier::Ed25519(other).verify("msg_1", 100, b"{}", &header, 100),
            Err(SigningError::NoMatch)
        );
    }

    #[test]
    fn key_texts_round_trip_and_bad_ones_are_refused() {
        let key = SigningKey::generate().expect("key");
        let text = key.to_text();
        assert!(text.starts_with("whsk_"));
        let parsed = SigningKey::parse(&text).expect("parse");
        assert_eq!(parsed.public_key(), key.public_key());
        assert_eq!(parsed.to_text(), text);
        let public = key.public_key().to_text();
        assert!(public.starts_with("whpk_"));
        assert_eq!(PublicKey::parse(&public), Ok(key.public_key()));

        // The 64-byte seed-and-public-key form, and an inconsistent one.
        let mut long = key.seed.to_vec();
        long.extend_from_slice(key.public_key().as_bytes());
        let parsed =
            SigningKey::parse(&format!("whsk_{}", STANDARD.encode(&long))).expect("64-byte form");
        assert_eq!(parsed.public_key(), key.public_key());
        long[40] ^= 1;
        assert_eq!(
            SigningKey::parse(&format!("whsk_{}", STANDARD.encode(&long))).err(),
            Some(SigningError::InvalidSigningKey)
        );

        for bad in [
            "whsk_",
            "whsk_c2hvcnQ=",
            "whsk_!!!!",
            &public,
            "VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=",
        ] {
            assert_eq!(
                SigningKey::parse(bad).err(),
                Some(SigningError::InvalidSigningKey),
                "{bad}"
            );
        }
        for bad in ["whpk_", "whpk_c2hvcnQ=", &text] {
            assert_eq!(
                PublicKey::parse(bad).err(),
                Some(SigningError::InvalidPublicKey),
                "{bad}"
            );
        }
        assert_eq!(
            Verifier::parse(&text).err(),
            Some(SigningError::UnknownKeyKind)
        );
        // Debug output never shows secret material.
        assert!(!format!("{key:?}").contains(&text[5..]));
        let secret = Secret::generate().expect("secret");
        assert!(!format!("{secret:?}").contains(&secret.to_text()[6..]));
    }

    #[test]
    fn hmac_rotation_tampering_and_staleness() {
        let (old, new) = (
            Secret::generate().expect("secret"),
            Secret::generate().expect("secret"),
        );
        let header =
            Signer::hmac(new.clone(), Some(old.clone())).signature_header("msg_1", 100, b"{}");
        let entries: Vec<&str> = header.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0], new.sign("msg_1", 100, b"{}"));
        let (old, new) = (Verifier::Hmac(old), Verifier::Hmac(new));
        assert_eq!(old.verify("msg_1", 100, b"{}", &header, 100), Ok(()));
        assert_eq!(new.verify("msg_1", 100, b"{}", &header, 100), Ok(()));
        assert_eq!(
            new.verify("msg_1", 100, b"{ }", &header, 100),
            Err(SigningError::NoMatch)
        );
        assert_eq!(
            new.verify("msg_2", 100, b"{}", &header, 100),
            Err(SigningError::NoMatch)
        );
        assert_eq!(
            new.verify("msg_1", 100, b"{}", &header, 100 + 301),
            Err(SigningError::StaleTimestamp)
        );
        assert_eq!(
            new.verify("msg_1", 100, b"{}", &header, 100 - 301),
            Err(SigningError::StaleTimestamp)
        );
        assert_eq!(new.verify("msg_1", 100, b"{}", &header, 100 + 300), Ok(()));
        // Extreme timestamps are refused, not an overflow.
        assert_eq!(
            new.verify("msg_1", i64::MIN, b"{}", &header, i64::MAX),
            Err(SigningError::StaleTimestamp)
        );
        let single = Signer::hmac(Secret::parse(SPEC_SECRET).expect("secret"), None)
            .signature_header(SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY);
        assert_eq!(single, SPEC_SIGNATURE);
    }

    #[test]
    fn secret_texts_round_trip_and_bad_ones_are_refused() {
        let secret = Secret::generate().expect("secret");
        let text = secret.to_text();
        assert!(text.starts_with("whsec_"));
        assert_eq!(Secret::parse(&text).map(|s| s.to_text()), Ok(text));
        let too_long = format!("whsec_{}", STANDARD.encode([7u8; 65]));
        let longest = format!("whsec_{}", STANDARD.encode([7u8; 64]));
        assert!(Secret::parse(&longest).is_ok());
        for bad in [
            "whsec_c2hvcnQ=",
            "nope",
            "whsec_!!!",
            &too_long,
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ] {
            assert_eq!(
                Secret::parse(bad).err(),
                Some(SigningError::InvalidSecret),
                "{bad}"
            );
        }
    }
}
