//! The webhook outbox: one row per event and endpoint, written in the transaction of the change
//! it reports, then sent (and retried) by the delivery worker.

use sea_orm::entity::prelude::*;

/// One delivery of one event to one endpoint.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    /// Row id (also the order of events about one record).
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// The endpoint it goes to.
    pub endpoint_id: i64,
    /// The `webhook-id` header: the same on every attempt.
    pub message_id: String,
    /// The dotted event type, such as `note.created`.
    pub event_type: String,
    /// The record it is about (`Note:42`): deliveries about one record reach an endpoint in order.
    pub record_key: String,
    /// The exact request body.
    pub payload: String,
    /// `PENDING`, `SENDING` (claimed by a worker until `lease_until`), `SUCCEEDED` or `FAILED`.
    pub status: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// When the next attempt is due.
    pub next_attempt_at: DateTimeUtc,
    /// While `SENDING`: when another worker may take it over (its sender died).
    pub lease_until: Option<DateTimeUtc>,
    /// The status code of the last answer.
    pub last_status_code: Option<i32>,
    /// When the event happened.
    pub created_at: DateTimeUtc,
    /// When it succeeded or gave up.
    pub finished_at: Option<DateTimeUtc>,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
