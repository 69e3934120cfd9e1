//! Notes about contacts.

use sea_orm::entity::prelude::*;

/// One note.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notes")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// The contact it is about.
    pub contact_id: i64,
    /// Who wrote it.
    pub author_id: i64,
    /// Subject line.
    pub subject: Option<String>,
    /// Plain-text body.
    pub body: String,
    /// Sanitised HTML body.
    pub body_html: Option<String>,
    /// `PRIVATE`, `TEAM` or `CUSTOMER`.
    pub visibility: String,
    /// Its task type.
    pub type_id: Option<i64>,
    /// The template it was written from.
    pub template_id: Option<i64>,
    /// The kind of record elsewhere it is attached to (`order`...).
    pub attached_kind: Option<String>,
    /// That record's id.
    pub attached_id: Option<String>,
    /// When it was created.
    pub created_at: DateTimeUtc,
    /// When it last changed.
    pub updated_at: DateTimeUtc,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
