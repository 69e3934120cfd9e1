//! Sign-in sessions: one per `signIn`, kept alive by its rotating refresh tokens.

use sea_orm::entity::prelude::*;

/// One sign-in session (a refresh-token family).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// Row id (the `sid` of its access tokens).
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The user's organization.
    pub organization_id: i64,
    /// Who signed in.
    pub user_id: i64,
    /// The `User-Agent` of the sign-in, cut to 200 characters.
    pub user_agent: Option<String>,
    /// When the user signed in.
    pub created_at: DateTimeUtc,
    /// When the session last signed in or refreshed.
    pub last_used_at: DateTimeUtc,
    /// When its current refresh token stops working unless used.
    pub expires_at: DateTimeUtc,
    /// When it was revoked (signed out, refresh token reused, password changed...).
    pub revoked_at: Option<DateTimeUtc>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
