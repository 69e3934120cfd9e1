//! Users' password hashes (argon2id PHC strings), kept apart from `users` so that no user
//! query reads them.

use sea_orm::entity::prelude::*;

/// One user's password hash.
#[derive(Clone, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "user_passwords")]
pub struct Model {
    /// The user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// The user's organization.
    pub organization_id: i64,
    /// The argon2id hash, as a PHC string.
    pub password_hash: String,
    /// When the password was last set.
    pub changed_at: DateTimeUtc,
}

// No `Debug` derive: a hash is not a password, but it has no business in logs either.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPassword")
            .field("user_id", &self.user_id)
            .field("changed_at", &self.changed_at)
            .finish_non_exhaustive()
    }
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
