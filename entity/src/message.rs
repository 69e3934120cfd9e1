//! Messages in conversations.

use sea_orm::entity::prelude::*;

/// One message.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// The conversation.
    pub conversation_id: i64,
    /// `OUTBOUND` or `INBOUND`.
    pub direction: String,
    /// The text.
    pub body: String,
    /// Who sent it (outbound).
    pub author_id: Option<i64>,
    /// When it was sent.
    pub sent_at: DateTimeUtc,
    /// `QUEUED`, `SENT`, `DELIVERED`, `FAILED` or `READ`.
    pub status: String,
    /// The id the carrier or mail system gave it.
    pub external_id: Option<String>,
    /// When it was created.
    pub created_at: DateTimeUtc,
    /// When it last changed.
    pub updated_at: DateTimeUtc,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
