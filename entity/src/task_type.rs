//! Task types (also the types of notes), per organization.

use sea_orm::entity::prelude::*;

/// One task type.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "task_types")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// Display name, unique in the organization.
    pub name: String,
    /// The type `CONTINUE` suggests for the follow-up task.
    pub next_type_id: Option<i64>,
    /// How long after completion the suggested follow-up is scheduled.
    pub next_delay_minutes: Option<i32>,
    /// When it was created.
    pub created_at: DateTimeUtc,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
