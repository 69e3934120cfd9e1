//! Sign-in (issue 13): users' password hashes, sign-in sessions with their rotating refresh
//! tokens, one-time set-password tokens, and the failure counters that throttle guessing.
//!
//! Tokens are stored only as SHA-256 hashes (hex): they are 256-bit random values, so a fast
//! hash is enough to make a leaked table useless for signing in. The throttle table is
//! instance-wide (keyed by a hash of the email or the client address, not by organization): a
//! failed attempt for an unknown email belongs to no organization.

use sea_orm_migration::prelude::*;

use crate::run_script;

/// Creates the sign-in tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE user_passwords (
    user_id {id} PRIMARY KEY REFERENCES users (id),
    organization_id {id} NOT NULL REFERENCES organizations (id),
    password_hash TEXT NOT NULL,
    changed_at {ts} NOT NULL
);
CREATE TABLE sessions (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    user_id {id} NOT NULL REFERENCES users (id),
    user_agent TEXT,
    created_at {ts} NOT NULL,
    last_used_at {ts} NOT NULL,
    expires_at {ts} NOT NULL,
    revoked_at {ts},
    revoked_reason TEXT CHECK (revoked_reason IN ('SIGNED_OUT', 'SIGNED_OUT_EVERYWHERE',
        'REFRESH_TOKEN_REUSED', 'PASSWORD_CHANGED', 'USER_DEACTIVATED'))
);
-- A user's sessions (mySessions, signOutEverywhere).
CREATE INDEX sessions_user_idx ON sessions (organization_id, user_id, id);
CREATE TABLE refresh_tokens (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    session_id {id} NOT NULL REFERENCES sessions (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at {ts} NOT NULL,
    rotated_at {ts}
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (organization_id, session_id, id);
CREATE TABLE password_tokens (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    user_id {id} NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_by {id} REFERENCES users (id),
    created_at {ts} NOT NULL,
    expires_at {ts} NOT NULL,
    used_at {ts}
);
CREATE INDEX password_tokens_user_idx ON password_tokens (organization_id, user_id);
CREATE TABLE sign_in_failures (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    failures BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_window_idx ON sign_in_failures (window_start)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, UP).await
    }
}
