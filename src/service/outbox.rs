//! The webhook outbox: every change that writes a timeline event also writes, on the same
//! transaction, one delivery row per enabled endpoint subscribed to the event's type. A change
//! that rolls back sends nothing; a committed one is never lost, whatever happens to the
//! process afterwards (the delivery worker sends what the table holds).
//!
//! The body is fixed when the row is written, `{"type", "timestamp", "data"}` (and
//! `"updatedFields"` for `*.updated` events), so every attempt sends the same bytes under the
//! same `webhook-id`. `data` is the record as the API shows it (see [`super::payload`]).
//!
//! Dependencies run one way: timeline calls this module; it uses endpoints and payload.

use chrono::{DateTime, Utc};
use entity::{webhook_delivery, webhook_endpoint};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::{endpoints, payload};
use crate::error::{ApiError, ApiResult};

/// The most delivery rows written by one statement (13 values each).
const INSERT_CHUNK: usize = 1000;

/// What happened, as the outbox needs it.
pub struct OutboxEvent<'a> {
    /// The dotted event type, such as `note.created`.
    pub event_type: &'a str,
    /// The kind of record it is about (`Contact`, `Note`...).
    pub subject_kind: &'a str,
    /// That record's row id.
    pub subject_id: i64,
    /// The contact it happened to.
    pub contact_id: i64,
    /// The event's own details (the changed fields of an update, a revoked user...).
    pub details: &'a Value,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// A new `webhook-id`: `msg_` and 32 hex digits of randomness.
pub fn new_message_id() -> ApiResult<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("no randomness for a webhook id: {e}")))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("msg_{hex}"))
}

/// The request body of an event about `data`.
pub fn body(
    event_type: &str,
    at: DateTime<Utc>,
    data: Value,
    details: &Value,
) -> ApiResult<String> {
    let mut body = json!({ "type": event_type, "timestamp": at, "data": data });
    if event_type.ends_with(".updated") {
        body["updatedFields"] = details.get("fields").cloned().unwrap_or_else(|| json!([]));
    }
    serde_json::to_string(&body).map_err(|e| ApiError::Internal(format!("webhook body: {e}")))
}

/// A delivery to write: one event for one endpoint, due at once.
pub struct Pending<'a> {
    /// The organization.
    pub org: i64,
    /// The endpoint it goes to.
    pub endpoint_id: i64,
    /// The `webhook-id`.
    pub message_id: &'a str,
    /// The dotted event type.
    pub event_type: &'a str,
    /// The record it is about (`Note:42`), for per-record order.
    pub record_key: &'a str,
    /// The exact body.
    pub payload: &'a str,
    /// When it was written (and is due).
    pub at: DateTime<Utc>,
}

/// The row of a new pending delivery.
pub fn delivery(new: Pending<'_>) -> webhook_delivery::ActiveModel {
    webhook_delivery::ActiveModel {
        organization_id: Set(new.org),
        endpoint_id: Set(new.endpoint_id),
        message_id: Set(new.message_id.to_owned()),
        event_type: Set(new.event_type.to_owned()),
        record_key: Set(new.record_key.to_owned()),
        payload: Set(new.payload.to_owned()),
        status: Set("PENDING".to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(new.at),
        lease_until: Set(None),
        last_status_code: Set(None),
        created_at: Set(new.at),
        finished_at: Set(None),
        ..Default::default()
    }
}

/// Writes the deliveries of `events` (one write's, in order) for organization `org` on the
/// caller's transaction, reading the endpoints once for all of them, and returns how many. It
/// does not announce them: the caller publishes [`crate::bus::Signal::Deliveries`] with its
/// other signals when this returns more than 0 (see `timeline::Events::write`), so a write
/// tells the other processes once.
#[tracing::instrument(skip_all, fields(events = events.len()), err(level = "debug"))]
pub async fn enqueue_all<C: ConnectionTrait>(
    db: &C,
    org: i64,
    events: &[OutboxEvent<'_>],
) -> ApiResult<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    let endpoints: Vec<webhook_endpoint::Model> = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::OrganizationId.eq(org))
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .all(db)
        .await?;
    if endpoints.is_empty() {
        return Ok(0);
    }
    let mut rows: Vec<webhook_delivery::ActiveModel> = Vec::new();
    for event in events {
        let targets: Vec<&webhook_endpoint::Model> = endpoints
            .iter()
            .filter(|e| endpoints::matches(&e.event_types, event.event_type))
            .collect();
        if targets.is_empty() {
            continue;
        }
        let data = payload::render(
            db,
            org,
            event.subject_kind,
            event.subject_id,
            event.contact_id,
            event.details,
        )
        .await?;
        let body = body(event.event_type, event.at, data, event.details)?;
        let message_id = new_message_id()?;
        let record_key = format!("{}:{}", event.subject_kind, event.subject_id);
        rows.extend(targets.iter().map(|endpoint| {
            delivery(Pending {
                org,
                endpoint_id: endpoint.id,
                message_id: &message_id,
                event_type: event.event_type,
                record_key: &record_key,
                payload: &body,
                at: event.at,
            })
        }));
    }
    let count = rows.len();
    // A statement binds at most 32,766 values on SQLite (65,535 on PostgreSQL): an organization
    // with thousands of endpoints gets its rows in several statements.
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<webhook_delivery::ActiveModel> = rows.by_ref().take(INSERT_CHUNK).collect();
        webhook_delivery::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(count)
}

/// Tells the delivery workers of every gateway process that deliveries are due, on the bus
/// (delivered when the transaction commits).
pub async fn announce<C: ConnectionTrait>(db: &C) -> ApiResult<()> {
    crate::bus::publish(db, &crate::bus::Signal::Deliveries).await
}
