//! A contact's postal addresses.

use sea_orm::entity::prelude::*;

/// One postal address of a contact.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_addresses")]
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
    /// Label such as "billing".
    pub label: Option<String>,
    /// First line.
    pub line1: String,
    /// Second line.
    pub line2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Region, state or province.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Whether it is the primary address.
    pub is_primary: bool,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
