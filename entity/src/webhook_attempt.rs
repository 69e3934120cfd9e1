//! The webhook delivery log: one row per attempt.

use sea_orm::entity::prelude::*;

/// One attempt to deliver.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// The delivery it was for.
    pub delivery_id: i64,
    /// The endpoint it went to.
    pub endpoint_id: i64,
    /// Its number (1 for the first).
    pub attempt: i32,
    /// When it was made.
    pub attempted_at: DateTimeUtc,
    /// `DELIVERED`, `RETRY`, `GONE` or `REFUSED` (by the address guard).
    pub outcome: String,
    /// The answer's status code, if one came.
    pub status_code: Option<i32>,
    /// How long it took, in milliseconds.
    pub latency_ms: i64,
    /// What went wrong, if anything did.
    pub error: Option<String>,
    /// The first 4 KiB of the answer's body.
    pub response_excerpt: Option<String>,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
