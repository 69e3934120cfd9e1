//! Free-form tags on tasks.

use sea_orm::entity::prelude::*;

/// One tag on one task.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "task_tags")]
pub struct Model {
    /// The task.
    #[sea_orm(primary_key, auto_increment = false)]
    pub task_id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// The tag.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag: String,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
