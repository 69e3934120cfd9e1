//! Authentication: the gateway's own HS256 JSON Web Tokens (signed and checked by the
//! `jsonwebtoken` crate, with `ring` doing the cryptography, see [`ring_provider`]), checked
//! into the [`Actor`] every service call runs as (the actor and its role belong to the service
//! layer, `service::actor`).
//!
//! Only `alg: HS256` is accepted (the validation lists no other algorithm, and the key is an
//! HMAC secret, so a token naming RS256 or `none` is refused before any signature check); the
//! signature is compared in constant time by `ring::hmac::verify`. Our tokens carry
//! `iss: "threadline"` and `aud: "threadline"`, both required; tokens issued before they did
//! are refused and must be reissued (see the README). A token issued by `signIn` also names
//! its session (`sid`), which must still be open: signing out ends its access tokens at once.

pub mod cache;
pub mod oidc;
pub mod ring_provider;

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

pub use crate::service::actor::{Actor, ActorKind, Role};
use crate::{
    error::{ApiError, ApiResult},
    ids::{self, Kind},
};

/// The `iss` of the gateway's own tokens.
pub const ISSUER: &str = "threadline";
/// The `aud` of the gateway's own tokens.
pub const AUDIENCE: &str = "threadline";

/// The claims Threadline puts in its tokens.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// Always [`ISSUER`].
    pub iss: String,
    /// Always [`AUDIENCE`].
    pub aud: String,
    /// The user's opaque ID.
    pub sub: String,
    /// The organization's opaque ID.
    pub org: String,
    /// The sign-in session the token belongs to (tokens from `signIn` and `refreshSession`);
    /// absent from tokens printed by `threadline token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
}

/// Who a valid token names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenSubject {
    /// The user's row id.
    pub user_id: i64,
    /// The organization's row id.
    pub org_id: i64,
    /// The session's row id, for tokens issued by a sign-in.
    pub session_id: Option<i64>,
}

/// Signs and checks tokens with the instance's HS256 secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    /// Keys from the configured (or generated) secret; the secret is never empty (the
    /// configuration asks for 32+ characters).
    pub fn new(secret: &str) -> Self {
        ring_provider::install();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Our own clock signs and checks: no skew to allow, and a token is dead at its `exp`.
        validation.leeway = 0;
        validation.reject_tokens_expiring_in_less_than = 1;
        // A zero-length secret is the one key `jsonwebtoken` refuses (HMAC itself takes any);
        // the configuration asks for 32+ characters, and a generated secret has 64.
        let secret = if secret.is_empty() { " " } else { secret };
        let (encoding, decoding) = match (
            EncodingKey::from_secret(secret.as_bytes()),
            DecodingKey::from_secret(secret.as_bytes()),
        ) {
            (Ok(encoding), Ok(decoding)) => (encoding, decoding),
            _ => unreachable!("a non-empty HMAC secret is always a valid key"),
        };
        Self {
            encoding,
            decoding,
            validation,
        }
    }

    /// Issues a token for a user of an organization, valid for `ttl`, tied to no session (what
    /// `threadline token` prints).
    pub fn issue(&self, user_id: i64, org_id: i64, ttl: Duration) -> String {
        self.sign(user_id, org_id, None, ttl).0
    }

    /// Issues an access token of the sign-in session `session_id`, valid for `ttl`; with its
    /// expiry.
    pub fn issue_for_session(
        &self,
        user_id: i64,
        org_id: i64,
        session_id: i64,
        ttl: Duration,
    ) -> (String, DateTime<Utc>) {
        self.sign(user_id, org_id, Some(session_id), ttl)
    }

    fn sign(
        &self,
        user_id: i64,
        org_id: i64,
        session_id: Option<i64>,
        ttl: Duration,
    ) -> (String, DateTime<Utc>) {
        let now = Utc::now().timestamp();
        let exp = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        let claims = Claims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: ids::encode(Kind::User, user_id),
            org: ids::encode(Kind::Organization, org_id),
            sid: session_id.map(|id| ids::encode(Kind::Session, id)),
            iat: now,
            exp,
        };
        // HS256 over a plain struct with an HMAC key: neither serializing nor signing can fail.
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing with an HMAC key cannot fail");
        let expires = DateTime::from_timestamp(exp, 0).unwrap_or(DateTime::<Utc>::MAX_UTC);
        (token, expires)
    }

    /// Checks a token's algorithm, signature, issuer, audience and expiry and returns who it
    /// names.
    pub fn verify(&self, token: &str) -> Option<TokenSubject> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        let claims = data.claims;
        let session_id = match &claims.sid {
            Some(sid) => Some(ids::decode(Kind::Session, sid).ok()?),
            None => None,
        };
        Some(TokenSubject {
            user_id: ids::decode(Kind::User, &claims.sub).ok()?,
            org_id: ids::decode(Kind::Organization, &claims.org).ok()?,
            session_id,
        })
    }
}

/// The token in an `Authorization`-style value `Bearer <token>` (either case of `Bearer`),
/// trimmed; `None` for any other scheme. HTTP headers and WebSocket `connection_init` payloads
/// both carry it this way.
pub fn bearer_token(value: &str) -> Option<&str> {
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

/// Resolves a bearer token to an [`Actor`]: the signature and expiry must hold, the user must
/// still exist, be active and belong to the token's organization, and a token of a sign-in
/// session needs that session still open. The signature is checked on every call (CPU only);
/// the rest comes from `callers` when it knows the answer, else from one statement, whose
/// answer is then remembered (see [`cache`] for what keeps it right).
pub async fn authenticate<C: ConnectionTrait>(
    db: &C,
    keys: &TokenKeys,
    callers: &cache::CallerCache,
    token: &str,
) -> ApiResult<Actor> {
    let subject = keys.verify(token).ok_or(ApiError::Unauthenticated)?;
    let ticket = match callers.lookup(&subject) {
        cache::Lookup::Hit(actor) => return actor.ok_or(ApiError::Unauthenticated),
        cache::Lookup::Miss(ticket) => ticket,
    };
    let user = crate::service::sessions::token_user(db, &subject).await?;
    let actor = user.as_ref().and_then(actor_of).map(|actor| Actor {
        session_id: subject.session_id,
        ..actor
    });
    callers.store(ticket, actor.as_ref());
    actor.ok_or(ApiError::Unauthenticated)
}

/// Resolves a bearer token from either source: a token signed with one of the identity
/// provider's algorithms goes to `oidc` (when one is configured), anything else to the
/// gateway's own HS256 check.
pub async fn authenticate_any<C: ConnectionTrait>(
    db: &C,
    keys: &TokenKeys,
    callers: &cache::CallerCache,
    oidc: Option<&oidc::Oidc>,
    token: &str,
) -> ApiResult<Actor> {
    match oidc {
        Some(oidc) if oidc::Oidc::handles(token) => authenticate_oidc(db, oidc, token).await,
        _ => authenticate(db, keys, callers, token).await,
    }
}

/// Resolves an identity provider's token: its (verified) email names an active user, or,
/// with `THREADLINE_OIDC_AUTO_CREATE`, a new `MEMBER` of the instance's only organization.
async fn authenticate_oidc<C: ConnectionTrait>(
    db: &C,
    oidc: &oidc::Oidc,
    token: &str,
) -> ApiResult<Actor> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let identity = oidc.verify(token).await.ok_or(ApiError::Unauthenticated)?;
    let by_email =
        || entity::user::Entity::find().filter(entity::user::Column::Email.eq(&identity.email));
    let mut user = by_email().one(db).await?;
    if user.is_none() && oidc.config().auto_create {
        let mut orgs = entity::organization::Entity::find()
            .limit(2)
            .all(db)
            .await?;
        if orgs.len() != 1 {
            tracing::warn!(
                organizations = orgs.len(),
                "THREADLINE_OIDC_AUTO_CREATE needs exactly one organization to add users to"
            );
            return Err(ApiError::Unauthenticated);
        }
        let org = orgs.remove(0).id;
        let name = identity
            .name
            .clone()
            .filter(|n| crate::service::validate::name("name", n).is_ok())
            .unwrap_or_else(|| {
                identity
                    .email
                    .split('@')
                    .next()
                    .unwrap_or("user")
                    .to_owned()
            });
        let input = crate::service::users::CreateUser {
            email: identity.email.clone(),
            name,
            kind: crate::service::users::NewUserKind::Staff(Role::Member),
        };
        match crate::service::users::insert_unchecked(db, org, &input).await {
            Ok(created) => {
                tracing::info!(
                    user_id = created.id,
                    "created a user on first sign-in through the identity provider"
                );
                user = Some(created);
            }
            // Two first requests at once: the other one created it.
            Err(ApiError::Conflict(_)) => user = by_email().one(db).await?,
            Err(other) => return Err(other),
        }
    }
    let user = user.filter(|u| u.active).ok_or(ApiError::Unauthenticated)?;
    actor_of(&user).ok_or(ApiError::Unauthenticated)
}

/// The actor a user row acts as.
pub fn actor_of(user: &entity::user::Model) -> Option<Actor> {
    let kind = match (user.kind.as_str(), user.role.as_deref(), user.contact_id) {
        ("STAFF", Some(role), _) => ActorKind::Staff(Role::parse(role)?),
        ("CUSTOMER", _, Some(contact_id)) => ActorKind::Customer { contact_id },
        _ => return None,
    };
    Some(Actor {
        user_id: user.id,
        org_id: user.organization_id,
        kind,
        name: user.name.clone(),
        session_id: None,
    })
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use hmac::{Hmac, KeyInit, Mac};
    use serde_json::json;
    use sha2::Sha256;

    use super::*;

    /// A token signed by hand with HMAC-SHA256 over any header and claims.
    fn hand_signed(secret: &str, header: serde_json::Value, claims: serde_json::Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(input.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{input}.{tag}")
    }

    fn claims(exp_in: i64) -> serde_json::Value {
        let now = Utc::now().timestamp();
        json!({
            "iss": ISSUER, "aud": AUDIENCE,
            "sub": ids::encode(Kind::User, 7), "org": ids::encode(Kind::Organization, 3),
            "iat": now, "exp": now + exp_in,
        })
    }

    #[test]
    fn tokens_verify_and_reject_tampering() {
        let keys = TokenKeys::new("secret");
        let token = keys.issue(7, 3, Duration::from_secs(60));
        let subject = TokenSubject {
            user_id: 7,
            org_id: 3,
            session_id: None,
        };
        assert_eq!(keys.verify(&token), Some(subject));
        assert_eq!(TokenKeys::new("other").verify(&token), None);
        let mut tampered = token.clone();
        tampered.insert(tampered.len() - 2, 'x');
        assert_eq!(keys.verify(&tampered), None);
        assert_eq!(keys.verify("a.b"), None);
        let (with_session, _) = keys.issue_for_session(7, 3, 11, Duration::from_secs(60));
        assert_eq!(
            keys.verify(&with_session).and_then(|s| s.session_id),
            Some(11)
        );
        assert_eq!(keys.verify(&keys.issue(7, 3, Duration::ZERO)), None);
    }

    #[test]
    fn the_algorithm_issuer_and_audience_are_pinned() {
        let keys = TokenKeys::new("secret");
        let hs256 = json!({ "alg": "HS256", "typ": "JWT" });
        // A hand-signed token with the right claims passes: the checks below fail for what
        // they change, not for how the token was made.
        assert!(
            keys.verify(&hand_signed("secret", hs256.clone(), claims(60)))
                .is_some()
        );
        for header in [
            json!({ "alg": "none", "typ": "JWT" }),
            json!({ "alg": "HS512", "typ": "JWT" }),
            json!({ "alg": "RS256", "typ": "JWT" }),
        ] {
            let token = hand_signed("secret", header.clone(), claims(60));
            assert_eq!(keys.verify(&token), None, "{header}");
        }
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(json!({ "alg": "none" }).to_string()),
            URL_SAFE_NO_PAD.encode(claims(60).to_string())
        );
        assert_eq!(keys.verify(&unsigned), None);
        for (field, value) in [
            ("iss", json!("someone-else")),
            ("aud", json!("another-api")),
            ("iss", serde_json::Value::Null),
            ("aud", serde_json::Value::Null),
        ] {
            let mut changed = claims(60);
            match value {
                serde_json::Value::Null => {
                    changed.as_object_mut().expect("object").remove(field);
                }
                value => changed[field] = value,
            }
            let token = hand_signed("secret", hs256.clone(), changed);
            assert_eq!(keys.verify(&token), None, "{field}");
        }
        let expired = hand_signed("secret", hs256, claims(-1));
        assert_eq!(keys.verify(&expired), None);
    }
}
