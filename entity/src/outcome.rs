//! Task outcomes, per organization (seeded CANCELLED, NEGATIVE, POSITIVE, SOLD).

use sea_orm::entity::prelude::*;

/// One outcome.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "outcomes")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// The seeded outcomes' stable code (`SOLD`...); none for custom ones.
    pub code: Option<String>,
    /// Display name, unique in the organization.
    pub name: String,
    /// When it was created.
    pub created_at: DateTimeUtc,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
