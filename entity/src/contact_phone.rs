//! A contact's phone numbers.

use sea_orm::entity::prelude::*;

/// One phone number of a contact.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_phones")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// The contact.
    pub contact_id: i64,
    /// Order in the contact's list.
    pub position: i32,
    /// The number, normalised to E.164 (`+` and digits).
    pub number: String,
    /// Label such as "mobile".
    pub label: Option<String>,
    /// Whether it is the primary number.
    pub is_primary: bool,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
