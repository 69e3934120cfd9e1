//! Authentication: HS256 JSON Web Tokens, checked into the [`Actor`] every service call runs
//! as (the actor and its role belong to the service layer, `service::actor`).
//!
//! JWTs are small enough to sign and check with the `hmac` and `sha2` crates we already use for
//! webhooks, so no JWT library is pulled in. Only `alg: HS256` is accepted; the signature is
//! compared in constant time by `Mac::verify_slice`.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub use crate::service::actor::{Actor, ActorKind, Role};
use crate::{
    error::{ApiError, ApiResult},
    ids::{self, Kind},
};

type HmacSha256 = Hmac<Sha256>;

/// The claims Threadline puts in its tokens.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user's opaque ID.
    pub sub: String,
    /// The organization's opaque ID.
    pub org: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
}

/// Signs and checks tokens with the instance's HS256 secret.
#[derive(Clone)]
pub struct TokenKeys {
    secret: Vec<u8>,
}

impl TokenKeys {
    /// Keys from the configured (or generated) secret.
    pub fn new(secret: &str) -> Self {
        Self {
            secret: secret.as_bytes().to_vec(),
        }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        HmacSha256::new_from_slice(&self.secret).expect("HMAC takes keys of any length")
    }

    /// Issues a token for a user of an organization, valid for `ttl`.
    pub fn issue(&self, user_id: i64, org_id: i64, ttl: Duration) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: ids::encode(Kind::User, user_id),
            org: ids::encode(Kind::Organization, org_id),
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
        };
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    /// Checks a token's signature, algorithm and expiry and returns its (user, organization).
    pub fn verify(&self, token: &str) -> Option<(i64, i64)> {
        let mut parts = token.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.get("alg")?.as_str()? != "HS256" {
            return None;
        }
        let mut mac = self.mac();
        mac.update(signed_part(token)?.as_bytes());
        mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?)
            .ok()?;
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        if claims.exp <= Utc::now().timestamp() {
            return None;
        }
        let user = ids::decode(Kind::User, &claims.sub).ok()?;
        let org = ids::decode(Kind::Organization, &claims.org).ok()?;
        Some((user, org))
    }
}

/// The `header.payload` part of a token (what the signature covers).
fn signed_part(token: &str) -> Option<&str> {
    token.rsplit_once('.').map(|(signed, _)| signed)
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

/// Resolves a bearer token to an [`Actor`]: the signature and expiry must hold and the user must
/// still exist, be active and belong to the token's organization.
pub async fn authenticate<C: ConnectionTrait>(
    db: &C,
    keys: &TokenKeys,
    token: &str,
) -> ApiResult<Actor> {
    let (user_id, org_id) = keys.verify(token).ok_or(ApiError::Unauthenticated)?;
    let user = entity::user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .filter(|u| u.active && u.organization_id == org_id)
        .ok_or(ApiError::Unauthenticated)?;
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_reject_tampering() {
        let keys = TokenKeys::new("secret");
        let token = keys.issue(7, 3, Duration::from_secs(60));
        assert_eq!(keys.verify(&token), Some((7, 3)));
        assert_eq!(TokenKeys::new("other").verify(&token), None);
        let mut tampered = token.clone();
        tampered.insert(tampered.len() - 2, 'x');
        assert_eq!(keys.verify(&tampered), None);
        assert_eq!(keys.verify("a.b"), None);
    }
}
