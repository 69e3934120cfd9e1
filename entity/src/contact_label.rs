//! Which labels a contact carries.

use sea_orm::entity::prelude::*;

/// One label on one contact.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_labels")]
pub struct Model {
    /// The contact.
    #[sea_orm(primary_key, auto_increment = false)]
    pub contact_id: i64,
    /// The label.
    #[sea_orm(primary_key, auto_increment = false)]
    pub label_id: i64,
    /// Owning organization.
    pub organization_id: i64,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
