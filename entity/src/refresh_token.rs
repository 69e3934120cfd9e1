//! The refresh tokens of sign-in sessions, as SHA-256 hashes: the current one of a session and
//! the ones it replaced (kept to recognise a reuse).

use sea_orm::entity::prelude::*;

/// One refresh token.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The session's organization.
    pub organization_id: i64,
    /// The session (family) it belongs to.
    pub session_id: i64,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// When it was issued.
    pub created_at: DateTimeUtc,
    /// When it was exchanged for its successor; any later use is a reuse.
    pub rotated_at: Option<DateTimeUtc>,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
