//! Webhook endpoints: where an organization's events are sent, which events, and how they are
//! signed. Owners and admins manage them (everyone else gets `FORBIDDEN`); an endpoint of
//! another organization looks missing.
//!
//! An endpoint signs with an HMAC secret (`v1`, `whsec_`, the contract's default) or, when it
//! asks for it, an ed25519 key (`v1a`; the gateway keeps the `whsk_` key and shows the `whpk_`
//! public key). Rotating keeps the old secret or key signing beside the new one for 24 hours
//! (two space-separated signatures), so a receiver can switch without losing a delivery.
//!
//! Dependencies run one way: the outbox and the delivery worker call this module; it uses only
//! validate and the SQL builder.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use entity::webhook_endpoint;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult,
    IntoActiveModel, QueryFilter,
};
use serde_json::{Value, json};
use webhooks::{
    client::check_extra_headers,
    signing::{Secret, Signer, SigningKey},
    ssrf::Guard,
};

use super::{IdWindow, now, sql::Sql};
use crate::{
    error::{ApiError, ApiResult},
    service::actor::Actor,
};

/// The event types of the contract, in its order.
pub const EVENT_TYPES: [&str; 15] = [
    "contact.created",
    "contact.updated",
    "contact.archived",
    "contact.unarchived",
    "note.created",
    "note.updated",
    "note.deleted",
    "task.created",
    "task.updated",
    "task.completed",
    "message.sent",
    "message.received",
    "reminder.fired",
    "collaborator.granted",
    "collaborator.revoked",
];

/// The most deliveries in flight to one endpoint, unless it asks for fewer or more.
pub const DEFAULT_MAX_IN_FLIGHT: i32 = 4;
/// The range an endpoint may choose its in-flight cap from.
pub const MAX_IN_FLIGHT_RANGE: std::ops::RangeInclusive<i32> = 1..=64;
/// How long the secret before a rotation keeps signing.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;
/// The longest URL accepted.
const MAX_URL_CHARS: usize = 2000;
/// The longest description accepted.
const MAX_DESCRIPTION_CHARS: usize = 500;
/// The most extra headers one endpoint may add.
const MAX_HEADERS: usize = 20;
/// The longest header value accepted.
const MAX_HEADER_VALUE_CHARS: usize = 1000;

/// How an endpoint's deliveries are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Signing {
    /// `v1`: HMAC-SHA256 with a `whsec_` secret shared with the receiver.
    Hmac,
    /// `v1a`: ed25519; the receiver verifies with the `whpk_` public key.
    #[strum(serialize = "ED25519")]
    Ed25519,
}

impl Signing {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// Why the gateway disabled an endpoint by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum DisabledReason {
    /// The receiver answered 410 Gone.
    Gone,
    /// Every attempt failed for five days.
    Failing,
}

impl DisabledReason {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// What an endpoint is made of; `None` keeps (or, creating, defaults) a field.
#[derive(Clone, Debug, Default)]
pub struct EndpointInput {
    /// Where to POST (required to create).
    pub url: Option<String>,
    /// Event types and patterns (required to create).
    pub event_types: Option<Vec<String>>,
    /// What it is for.
    pub description: Option<String>,
    /// Whether deliveries are sent (default true).
    pub enabled: Option<bool>,
    /// Extra request headers (replace).
    pub headers: Option<BTreeMap<String, String>>,
    /// How deliveries are signed (creation only; default HMAC).
    pub signing: Option<Signing>,
    /// The most deliveries in flight at once.
    pub max_in_flight: Option<i32>,
}

/// An endpoint and the secret a receiver verifies with, shown once (creation and rotation).
pub struct Created {
    /// The endpoint.
    pub endpoint: webhook_endpoint::Model,
    /// `whsec_...` for an HMAC endpoint, the `whpk_...` public key for an ed25519 one.
    pub secret: String,
}

/// Checks event types and patterns: a contract type, `prefix.*` for a prefix of one, or `*`.
/// Returns them trimmed, without repeats, in the order given.
pub fn event_types(field: &str, given: &[String]) -> ApiResult<Vec<String>> {
    let mut kept: Vec<String> = Vec::new();
    for raw in given {
        let name = raw.trim().to_lowercase();
        let known = name == "*"
            || EVENT_TYPES.contains(&name.as_str())
            || name.strip_suffix(".*").is_some_and(|prefix| {
                EVENT_TYPES
                    .iter()
                    .any(|t| t.split('.').next() == Some(prefix))
            });
        if !known {
            return Err(ApiError::bad_input(
                field,
                format!(
                    "unknown event type `{}`: use one of {}, `<kind>.*` or `*`",
                    raw.trim(),
                    EVENT_TYPES.join(", ")
                ),
            ));
        }
        if !kept.contains(&name) {
            kept.push(name);
        }
    }
    if kept.is_empty() {
        return Err(ApiError::bad_input(
            field,
            "name at least one event type (or `*`)",
        ));
    }
    Ok(kept)
}

/// Whether an endpoint subscribed to `patterns` receives `event_type`.
pub fn matches(patterns: &Value, event_type: &str) -> bool {
    let Some(patterns) = patterns.as_array() else {
        return false;
    };
    patterns.iter().filter_map(Value::as_str).any(|p| {
        p == "*"
            || p == event_type
            || p.strip_suffix(".*").is_some_and(|prefix| {
                event_type
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
    })
}

/// Checks a URL as the delivery worker will use it: syntax, scheme, and (unless private
/// addresses are allowed) that its host resolves only to public addresses now.
async fn check_url(guard: &Guard, field: &str, url: &str) -> ApiResult<String> {
    let url = url.trim();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(ApiError::bad_input(
            field,
            format!("must be at most {MAX_URL_CHARS} characters"),
        ));
    }
    match guard.validate_url(url).await {
        Ok(parsed) => Ok(parsed.to_string()),
        Err(error) => Err(ApiError::bad_input(field, error.to_string())),
    }
}

/// Checks extra headers: names and values HTTP accepts, none the gateway sets itself.
fn check_headers(field: &str, headers: &BTreeMap<String, String>) -> ApiResult<Value> {
    if headers.len() > MAX_HEADERS {
        return Err(ApiError::bad_input(
            field,
            format!("at most {MAX_HEADERS} extra headers"),
        ));
    }
    if headers
        .values()
        .any(|v| v.chars().count() > MAX_HEADER_VALUE_CHARS)
    {
        return Err(ApiError::bad_input(
            field,
            format!("a header value must be at most {MAX_HEADER_VALUE_CHARS} characters"),
        ));
    }
    check_extra_headers(headers.iter()).map_err(|e| ApiError::bad_input(field, e.to_string()))?;
    Ok(json!(headers))
}

fn check_description(field: &str, description: &str) -> ApiResult<String> {
    let description = description.trim();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::bad_input(
            field,
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(description.to_owned())
}

fn check_max_in_flight(field: &str, n: i32) -> ApiResult<i32> {
    if MAX_IN_FLIGHT_RANGE.contains(&n) {
        Ok(n)
    } else {
        Err(ApiError::bad_input(
            field,
            format!(
                "must be between {} and {}",
                MAX_IN_FLIGHT_RANGE.start(),
                MAX_IN_FLIGHT_RANGE.end()
            ),
        ))
    }
}

/// A new secret of `signing`'s kind: what is stored, and what the receiver is shown.
fn new_secret(signing: Signing) -> ApiResult<(String, String)> {
    let internal = |e: webhooks::signing::SigningError| ApiError::Internal(e.to_string());
    Ok(match signing {
        Signing::Hmac => {
            let secret = Secret::generate().map_err(internal)?.to_text();
            (secret.clone(), secret)
        }
        Signing::Ed25519 => {
            let key = SigningKey::generate().map_err(internal)?;
            (key.to_text(), key.public_key().to_text())
        }
    })
}

/// The public key an ed25519 endpoint's receiver verifies with (`None` for HMAC endpoints).
pub fn public_key(endpoint: &webhook_endpoint::Model) -> Option<String> {
    match Signing::parse(&endpoint.signing)? {
        Signing::Hmac => None,
        Signing::Ed25519 => SigningKey::parse(&endpoint.secret)
            .ok()
            .map(|k| k.public_key().to_text()),
    }
}

/// What signs `endpoint`'s deliveries at `at`: its secret, and the one before the last
/// rotation while that still overlaps.
pub fn signer(endpoint: &webhook_endpoint::Model, at: DateTime<Utc>) -> ApiResult<Signer> {
    let internal = |e: webhooks::signing::SigningError| {
        ApiError::Internal(format!("webhook endpoint {}: {e}", endpoint.id))
    };
    let previous = endpoint.previous_secret.as_deref().filter(|_| {
        endpoint
            .previous_secret_until
            .is_some_and(|until| at < until)
    });
    match Signing::parse(&endpoint.signing) {
        Some(Signing::Ed25519) => {
            let current = SigningKey::parse(&endpoint.secret).map_err(internal)?;
            let previous = previous
                .map(SigningKey::parse)
                .transpose()
                .map_err(internal)?;
            Ok(Signer::ed25519_rotating(current, previous))
        }
        _ => {
            let current = Secret::parse(&endpoint.secret).map_err(internal)?;
            let previous = previous.map(Secret::parse).transpose().map_err(internal)?;
            Ok(Signer::hmac(current, previous))
        }
    }
}

/// One page of the organization's endpoints, oldest first: `(rows, has_next, has_previous)`.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    window: IdWindow,
) -> ApiResult<(Vec<webhook_endpoint::Model>, bool, bool)> {
    actor.require_org_admin("manage webhook endpoints")?;
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT e.* FROM webhook_endpoints e WHERE e.organization_id = ")
        .bind(actor.org_id);
    window.push(&mut sql, "e.id");
    let rows = webhook_endpoint::Model::find_by_statement(sql.build())
        .all(db)
        .await?;
    Ok(window.page(rows))
}

/// How many endpoints the organization has.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn count<C: ConnectionTrait>(db: &C, actor: &Actor) -> ApiResult<i64> {
    actor.require_org_admin("manage webhook endpoints")?;
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT COUNT(*) AS n FROM webhook_endpoints e WHERE e.organization_id = ")
        .bind(actor.org_id);
    sql.count(db).await
}

/// One endpoint of the actor's organization (owners and admins), or `NOT_FOUND`.
#[tracing::instrument(skip_all, fields(endpoint_id = id), err(level = "debug"))]
pub async fn get<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
) -> ApiResult<webhook_endpoint::Model> {
    actor.require_org_admin("manage webhook endpoints")?;
    webhook_endpoint::Entity::find_by_id(id)
        .filter(webhook_endpoint::Column::OrganizationId.eq(actor.org_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("WebhookEndpoint"))
}

/// Registers an endpoint; returns it with its secret, shown this once.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    guard: &Guard,
    input: EndpointInput,
) -> ApiResult<Created> {
    actor.require_org_admin("manage webhook endpoints")?;
    // The checks that need no network first: the URL's host is resolved last.
    let types = input
        .event_types
        .ok_or_else(|| ApiError::bad_input("input.eventTypes", "is required"))?;
    let types = event_types("input.eventTypes", &types)?;
    let headers = check_headers("input.headers", &input.headers.unwrap_or_default())?;
    let description = check_description(
        "input.description",
        input.description.as_deref().unwrap_or(""),
    )?;
    let max_in_flight = check_max_in_flight(
        "input.maxInFlight",
        input.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
    )?;
    let url = input
        .url
        .ok_or_else(|| ApiError::bad_input("input.url", "is required"))?;
    let url = check_url(guard, "input.url", &url).await?;
    let signing = input.signing.unwrap_or(Signing::Hmac);
    let (stored, shown) = new_secret(signing)?;
    let at = now();
    let endpoint = webhook_endpoint::ActiveModel {
        organization_id: Set(actor.org_id),
        url: Set(url),
        description: Set(description),
        event_types: Set(json!(types)),
        headers: Set(headers),
        enabled: Set(input.enabled.unwrap_or(true)),
        disabled_reason: Set(None),
        signing: Set(signing.as_str().to_owned()),
        secret: Set(stored),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        max_in_flight: Set(max_in_flight),
        failing_since: Set(None),
        created_by: Set(actor.user_id),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(Created {
        endpoint,
        secret: shown,
    })
}

/// Changes an endpoint. Enabling it again clears why the gateway disabled it.
#[tracing::instrument(skip_all, fields(endpoint_id = id), err(level = "debug"))]
pub async fn update<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    guard: &Guard,
    id: i64,
    input: EndpointInput,
) -> ApiResult<webhook_endpoint::Model> {
    let found = get(db, actor, id).await?;
    if input
        .signing
        .is_some_and(|s| Signing::parse(&found.signing) != Some(s))
    {
        return Err(ApiError::bad_input(
            "input.signing",
            "an endpoint's signing scheme is chosen when it is created; register a new endpoint",
        ));
    }
    let mut row = found.into_active_model();
    if let Some(types) = input.event_types {
        row.event_types = Set(json!(event_types("input.eventTypes", &types)?));
    }
    if let Some(headers) = input.headers {
        row.headers = Set(check_headers("input.headers", &headers)?);
    }
    if let Some(description) = input.description {
        row.description = Set(check_description("input.description", &description)?);
    }
    if let Some(n) = input.max_in_flight {
        row.max_in_flight = Set(check_max_in_flight("input.maxInFlight", n)?);
    }
    if let Some(url) = input.url {
        row.url = Set(check_url(guard, "input.url", &url).await?);
    }
    if let Some(enabled) = input.enabled {
        row.enabled = Set(enabled);
        if enabled {
            row.disabled_reason = Set(None);
            row.failing_since = Set(None);
        }
    }
    row.updated_at = Set(now());
    Ok(row.update(db).await?)
}

/// Deletes an endpoint with its deliveries and their log; returns its row id.
#[tracing::instrument(skip_all, fields(endpoint_id = id), err(level = "debug"))]
pub async fn delete<C: ConnectionTrait>(db: &C, actor: &Actor, id: i64) -> ApiResult<i64> {
    let found = get(db, actor, id).await?;
    webhook_endpoint::Entity::delete_by_id(found.id)
        .exec(db)
        .await?;
    Ok(found.id)
}

/// Gives an endpoint a new secret (or key); the old one keeps signing beside it for 24 hours.
#[tracing::instrument(skip_all, fields(endpoint_id = id), err(level = "debug"))]
pub async fn rotate<C: ConnectionTrait>(db: &C, actor: &Actor, id: i64) -> ApiResult<Created> {
    let found = get(db, actor, id).await?;
    let signing = Signing::parse(&found.signing).unwrap_or(Signing::Hmac);
    let (stored, shown) = new_secret(signing)?;
    let at = now();
    let previous = found.secret.clone();
    let mut row = found.into_active_model();
    row.previous_secret = Set(Some(previous));
    row.previous_secret_until = Set(Some(at + Duration::hours(ROTATION_OVERLAP_HOURS)));
    row.secret = Set(stored);
    row.updated_at = Set(at);
    Ok(Created {
        endpoint: row.update(db).await?,
        secret: shown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_accept_the_contract_names_patterns_and_star() {
        let given = [" Note.* ", "contact.created", "*", "note.*"].map(String::from);
        assert_eq!(
            event_types("f", &given).expect("valid"),
            ["note.*", "contact.created", "*"]
        );
        for bad in ["note.archived", "notes.*", "note", ".*", "*.created", ""] {
            let error = event_types("f", &[bad.to_owned()]).expect_err(bad);
            assert!(error.to_string().contains("unknown event type"), "{error}");
        }
        assert!(event_types("f", &[]).is_err());
    }

    #[test]
    fn patterns_match_by_kind_and_never_by_bare_prefix() {
        let subscribed = json!(["note.*", "task.completed"]);
        assert!(matches(&subscribed, "note.created"));
        assert!(matches(&subscribed, "note.deleted"));
        assert!(matches(&subscribed, "task.completed"));
        assert!(!matches(&subscribed, "task.created"));
        assert!(!matches(&json!(["note.*"]), "notes.created"));
        assert!(matches(&json!(["*"]), "reminder.fired"));
        assert!(!matches(&json!("*"), "reminder.fired"));
    }
}
