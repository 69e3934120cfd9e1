//! One-time set-password tokens (links an admin hands to a user), as SHA-256 hashes.

use sea_orm::entity::prelude::*;

/// One set-password token.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "password_tokens")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The user's organization.
    pub organization_id: i64,
    /// Whose password it sets.
    pub user_id: i64,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// The owner or admin who made it (none when printed by the CLI).
    pub created_by: Option<i64>,
    /// When it was made.
    pub created_at: DateTimeUtc,
    /// When it stops working.
    pub expires_at: DateTimeUtc,
    /// When it was used (it works once).
    pub used_at: Option<DateTimeUtc>,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
