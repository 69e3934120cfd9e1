//! Who may use a channel.

use sea_orm::entity::prelude::*;

/// One grant of access to a channel.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "channel_collaborators")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// The channel.
    pub channel_id: i64,
    /// The user granted access.
    pub user_id: i64,
    /// `READ`, `WRITE` or `ADMIN`.
    pub access: String,
    /// Who granted it.
    pub granted_by: i64,
    /// When it was granted (or last changed).
    pub granted_at: DateTimeUtc,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
