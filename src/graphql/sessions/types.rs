//! Sign-in in GraphQL: the tokens a sign-in hands out, the sessions list, set-password tokens.

use async_graphql::{ID, Object};
use chrono::{DateTime, Utc};

use crate::{
    graphql::users::User,
    ids::{self, Kind},
    service::sessions::{Issued, PasswordToken as ServicePasswordToken},
};

/// A signed-in session's tokens: send `accessToken` as `Authorization: Bearer <token>`, and
/// exchange `refreshToken` with `refreshSession` before `expiresAt`.
pub struct Session(pub Issued);

#[Object]
impl Session {
    /// The access token (a JWT), valid until `expiresAt`.
    async fn access_token(&self) -> &str {
        &self.0.access_token
    }
    /// The refresh token: keep it secret; each one works once (`refreshSession` returns the
    /// next), and a reused one ends the session.
    async fn refresh_token(&self) -> &str {
        &self.0.refresh_token
    }
    /// When the access token expires (refresh a little before).
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.access_expires_at
    }
    /// When the session ends unless refreshed before.
    async fn refresh_expires_at(&self) -> DateTime<Utc> {
        self.0.refresh_expires_at
    }
    /// Who signed in.
    async fn user(&self) -> User {
        User(self.0.user.clone())
    }
}

/// One of the caller's open sessions.
pub struct SessionInfo {
    /// The session row.
    pub row: entity::session::Model,
    /// Whether the request's access token belongs to it.
    pub current: bool,
}

#[Object]
impl SessionInfo {
    /// The session's ID (for `revokeSession`).
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Session, self.row.id))
    }
    /// When the user signed in.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When it last signed in or refreshed.
    async fn last_used_at(&self) -> DateTime<Utc> {
        self.row.last_used_at
    }
    /// When it ends unless refreshed before.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.row.expires_at
    }
    /// The browser or app that signed in (its `User-Agent`).
    async fn user_agent(&self) -> Option<&str> {
        self.row.user_agent.as_deref()
    }
    /// Whether this request's access token belongs to this session.
    async fn current(&self) -> bool {
        self.current
    }
}

/// A one-time set-password token, for a user to choose their password with
/// `setPasswordWithToken` (hand it over as a link; shown once).
pub struct PasswordToken(pub ServicePasswordToken);

#[Object]
impl PasswordToken {
    /// The token.
    async fn token(&self) -> &str {
        &self.0.token
    }
    /// When it stops working.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    /// Whose password it sets.
    async fn user(&self) -> User {
        User(self.0.user.clone())
    }
}
