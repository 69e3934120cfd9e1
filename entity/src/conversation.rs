//! Conversations: one per contact and channel.

use sea_orm::entity::prelude::*;

/// One conversation.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// The contact.
    pub contact_id: i64,
    /// The channel.
    pub channel_id: i64,
    /// The newest message.
    pub last_message_id: Option<i64>,
    /// When the newest message was sent (the inbox order).
    pub last_message_at: DateTimeUtc,
    /// When it was created.
    pub created_at: DateTimeUtc,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
