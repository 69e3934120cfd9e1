//! Tokens from an OpenID Connect identity provider: RS256/ES256/EdDSA (and RS384/512,
//! PS256/384/512, ES384) JWTs verified against the provider's published keys (its JWKS), then
//! mapped to a Threadline user by a claim (the verified `email` by default).
//!
//! - The key set is fetched when first needed and kept in this process (a cache: every process
//!   fetches its own, nothing depends on it for correctness). A token whose `kid` is not in the
//!   cached set makes one refetch, at most once per [`OidcConfig::min_refetch`]; the set is
//!   also fetched again when older than [`KEY_SET_MAX_AGE`], so a key the provider withdrew
//!   stops working.
//! - The algorithm is the token header's, but only from the asymmetric list above and only
//!   with a key of its family (a JWK's own `alg`, when it has one, must match): `alg: none` does
//!   not parse, and an HS256 token is never checked here (it goes to the gateway's own secret,
//!   so one signed with the provider's public key fails there: no algorithm confusion).
//! - `exp`, `nbf`, `iss` and `aud` are checked with [`CLOCK_SKEW`] of leeway; `exp`, `iss`
//!   and `aud` are required.

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse},
};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::ring_provider;

/// The leeway on `exp` and `nbf`: the provider's clock and ours may differ a little.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);
/// A cached key set older than this is fetched again before use.
pub const KEY_SET_MAX_AGE: Duration = Duration::from_secs(3600);
/// How long one key-set fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest key set read, in bytes.
pub const MAX_KEY_SET_BYTES: usize = 256 * 1024;
/// The algorithms an identity provider's token may use.
pub const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The identity provider's settings (`THREADLINE_OIDC_*`).
#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// The `iss` its tokens carry.
    pub issuer: String,
    /// The `aud` its tokens must carry (this gateway's client id at the provider).
    pub audience: String,
    /// Where its key set is published.
    pub jwks_url: String,
    /// The claim that holds the user's email.
    pub user_claim: String,
    /// Whether an unknown (verified) email becomes a new `MEMBER`.
    pub auto_create: bool,
    /// The shortest time between two fetches made for an unknown `kid`.
    pub min_refetch: Duration,
}

/// Why the identity provider's verifier could not be built.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The HTTP client could not be built.
    #[error("building the HTTP client for the JWKS: {0}")]
    Client(String),
}

/// Who a verified identity-provider token names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcIdentity {
    /// The (lower-cased) email from the configured claim.
    pub email: String,
    /// The `name` claim, for a user created on first sign-in.
    pub name: Option<String>,
}

/// The key set as last fetched.
#[derive(Default)]
struct Cache {
    keys: Option<JwkSet>,
    fetched_at: Option<Instant>,
}

/// Verifies identity-provider tokens; one per process, shared.
pub struct Oidc {
    config: OidcConfig,
    client: reqwest::Client,
    cache: RwLock<Cache>,
    /// One fetch at a time: concurrent requests with a new `kid` wait for it.
    fetching: Mutex<()>,
}

impl Oidc {
    /// The verifier for `config`, with its own HTTP client (rustls with ring, Mozilla roots, no
    /// proxy, no redirects, a timeout).
    pub fn new(config: OidcConfig) -> Result<Arc<Self>, OidcError> {
        ring_provider::install();
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| OidcError::Client(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("Threadline/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OidcError::Client(e.to_string()))?;
        Ok(Arc::new(Self {
            config,
            client,
            cache: RwLock::new(Cache::default()),
            fetching: Mutex::new(()),
        }))
    }

    /// The settings.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Whether a token is for this verifier: signed with one of [`ALGORITHMS`].
    pub fn handles(token: &str) -> bool {
        jsonwebtoken::decode_header(token).is_ok_and(|h| ALGORITHMS.contains(&h.alg))
    }

    /// Checks a token's signature against the provider's keys and its claims; returns the
    /// identity it names, `None` when anything does not hold (the reason is logged at debug).
    pub async fn verify(&self, token: &str) -> Option<OidcIdentity> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if !ALGORITHMS.contains(&header.alg) {
            return None;
        }
        let key = self.key_for(header.kid.as_deref(), header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.set_issuer(&[self.config.issuer.as_str()]);
        validation.set_audience(&[self.config.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = CLOCK_SKEW.as_secs();
        validation.validate_nbf = true;
        let claims = match jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation) {
            Ok(data) => data.claims,
            Err(error) => {
                tracing::debug!(%error, "an identity-provider token was refused");
                return None;
            }
        };
        self.identity(&claims)
    }

    /// The identity in verified claims: the configured claim, and for `email` only a verified
    /// one (`email_verified: true`).
    fn identity(&self, claims: &Map<String, Value>) -> Option<OidcIdentity> {
        let email = claims.get(&self.config.user_claim)?.as_str()?.trim();
        if email.is_empty() || !email.contains('@') {
            return None;
        }
        if self.config.user_claim == "email" {
            let verified = match claims.get("email_verified") {
                Some(Value::Bool(verified)) => *verified,
                // Some providers send it as a string.
                Some(Value::String(text)) => text == "true",
                _ => false,
            };
            if !verified {
                tracing::debug!("an identity-provider token's email is not verified");
                return None;
            }
        }
        Some(OidcIdentity {
            email: email.to_lowercase(),
            name: claims
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    /// The key a token names: from the cached set, else (for an unknown `kid`, or a stale
    /// set) from a fresh fetch, at most once per `min_refetch`.
    async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
        let (found, stale, last) = self.cached(kid, alg);
        if found.is_some() && !stale {
            return found;
        }
        let _one_at_a_time = self.fetching.lock().await;
        // Another request may have fetched while this one waited.
        let (found_now, stale_now, last_now) = self.cached(kid, alg);
        if last_now != last && found_now.is_some() {
            return found_now;
        }
        let may_fetch =
            stale_now || last_now.is_none_or(|at| at.elapsed() >= self.config.min_refetch);
        if !may_fetch {
            return found_now;
        }
        match self.fetch().await {
            Ok(keys) => {
                let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
                cache.keys = Some(keys);
                cache.fetched_at = Some(Instant::now());
            }
            Err(error) => {
                tracing::warn!(url = %self.config.jwks_url, %error, "fetching the identity provider's keys failed");
                // A failed fetch also waits `min_refetch` before the next: the provider is not
                // hammered while it is down. The old keys keep working meanwhile.
                let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
                cache.fetched_at = Some(Instant::now());
                return found_now;
            }
        }
        self.cached(kid, alg).0
    }

    /// The cached key for (`kid`, `alg`), whether the set is stale, and when it was fetched.
    fn cached(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> (Option<DecodingKey>, bool, Option<Instant>) {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        let stale = cache
            .fetched_at
            .is_none_or(|at| at.elapsed() >= KEY_SET_MAX_AGE);
        let key = cache.keys.as_ref().and_then(|set| select(set, kid, alg));
        (key, stale, cache.fetched_at)
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        let mut response = self
            .client
            .get(&self.config.jwks_url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_KEY_SET_BYTES {
                return Err(format!(
                    "the key set is larger than {MAX_KEY_SET_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        // Keys of kinds this version does not know are skipped, not fatal to the whole set.
        let raw: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let keys = raw
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the document has no `keys` list")?
            .iter()
            .filter_map(|key| serde_json::from_value::<Jwk>(key.clone()).ok())
            .collect();
        Ok(JwkSet { keys })
    }
}

/// The key of `set` for a token with `kid` and `alg`: the one with that `kid` (or, for a token
/// without one, the only signing key for `alg`), meant for signatures, of `alg` if it names
/// one, and of `alg`'s family.
fn select(set: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
    let usable = |jwk: &&Jwk| {
        let for_signing = !matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
        );
        let right_alg = match jwk.common.key_algorithm {
            None => true,
            Some(named) => key_algorithm(alg) == Some(named),
        };
        for_signing && right_alg
    };
    let mut candidates = set.keys.iter().filter(usable).filter(|jwk| match kid {
        Some(kid) => jwk.common.key_id.as_deref() == Some(kid),
        None => true,
    });
    let jwk = candidates.next()?;
    if kid.is_none() && candidates.next().is_some() {
        // Without a `kid`, only an unambiguous set will do.
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    (key.family() == alg.family()).then_some(key)
}

/// The JWK `alg` naming a JWS algorithm.
fn key_algorithm(alg: Algorithm) -> Option<KeyAlgorithm> {
    Some(match alg {
        Algorithm::RS256 => KeyAlgorithm::RS256,
        Algorithm::RS384 => KeyAlgorithm::RS384,
        Algorithm::RS512 => KeyAlgorithm::RS512,
        Algorithm::PS256 => KeyAlgorithm::PS256,
        Algorithm::PS384 => KeyAlgorithm::PS384,
        Algorithm::PS512 => KeyAlgorithm::PS512,
        Algorithm::ES256 => KeyAlgorithm::ES256,
        Algorithm::ES384 => KeyAlgorithm::ES384,
        Algorithm::EdDSA => KeyAlgorithm::EdDSA,
        _ => return None,
    })
}
