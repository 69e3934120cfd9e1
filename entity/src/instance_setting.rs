//! Instance-wide settings, such as the generated JWT secret.

use sea_orm::entity::prelude::*;

/// One instance setting.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "instance_settings")]
pub struct Model {
    /// The setting's name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Its value.
    pub value: String,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
