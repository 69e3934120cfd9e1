//! Users: staff (with a role) and customer users (linked to one contact).

use sea_orm::entity::prelude::*;

/// One user.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The organization the user belongs to.
    pub organization_id: i64,
    /// Lower-cased login email, unique across the instance.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `STAFF` or `CUSTOMER`.
    pub kind: String,
    /// `OWNER`, `ADMIN` or `MEMBER` for staff; none for customers.
    pub role: Option<String>,
    /// The contact a customer user is.
    pub contact_id: Option<i64>,
    /// False once deactivated: the user's tokens stop working.
    pub active: bool,
    /// When the user was deactivated.
    pub deactivated_at: Option<DateTimeUtc>,
    /// When it was created.
    pub created_at: DateTimeUtc,
    /// When it last changed.
    pub updated_at: DateTimeUtc,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
