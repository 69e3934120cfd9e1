//! How far each user has read each conversation.

use sea_orm::entity::prelude::*;

/// One user's read marker in one conversation.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "conversation_reads")]
pub struct Model {
    /// The conversation.
    #[sea_orm(primary_key, auto_increment = false)]
    pub conversation_id: i64,
    /// The user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// The newest message the user has read.
    pub last_read_message_id: i64,
    /// When they read it.
    pub read_at: DateTimeUtc,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
