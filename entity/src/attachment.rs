//! Files attached to notes, stored content-addressed on disk.

use sea_orm::entity::prelude::*;

/// One attachment.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "attachments")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// The note it belongs to (none until attached).
    pub note_id: Option<i64>,
    /// Who uploaded it.
    pub uploaded_by: i64,
    /// Hex SHA-256 of the content: its file name in the data directory.
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// The stored content type.
    pub content_type: String,
    /// The uploaded file name.
    pub filename: String,
    /// When it was created.
    pub created_at: DateTimeUtc,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
