//! Contacts: the people and companies the organization works with.

use sea_orm::entity::prelude::*;

/// One contact.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// Display name.
    pub name: String,
    /// The staff user responsible for the contact.
    pub consultant_id: Option<i64>,
    /// Free-form custom fields (a JSON object).
    pub custom_fields: Json,
    /// Archived contacts are hidden from lists by default; they are never deleted.
    pub archived: bool,
    /// When it was archived.
    pub archived_at: Option<DateTimeUtc>,
    /// The user who created it.
    pub created_by: i64,
    /// When it was created.
    pub created_at: DateTimeUtc,
    /// When it last changed.
    pub updated_at: DateTimeUtc,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
