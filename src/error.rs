//! The service layer's error type; the GraphQL layer maps it to `extensions.code` once, in
//! `graphql::error`.

use sea_orm::{DbErr, SqlErr};

/// What can go wrong in a service call; each variant maps to one `extensions.code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid token, or the token's user is gone or deactivated.
    #[error("authentication required: send a valid `Authorization: Bearer <token>` header")]
    Unauthenticated,
    /// Sign-in credentials (an email and password, a refresh token, a set-password token)
    /// that do not hold: one message whatever was wrong, so that an answer never tells
    /// whether an email is registered.
    #[error("{0}")]
    BadCredentials(&'static str),
    /// Too many failed attempts: wait `retry_after_secs` before trying again.
    #[error("{message}")]
    RateLimited {
        /// What was limited and for how long.
        message: String,
        /// Seconds until an attempt may succeed again.
        retry_after_secs: u64,
    },
    /// The caller may see the record but not do this to it.
    #[error("{0}")]
    Forbidden(String),
    /// The record does not exist, or the caller may not see it (the two look the same).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// One input field is invalid.
    #[error("{field}: {message}")]
    BadInput {
        /// The GraphQL input path of the field at fault, such as `input.emails[1].email`.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The change conflicts with the current state (a duplicate, the last owner...).
    #[error("{0}")]
    Conflict(String),
    /// A database failure; its details are logged, never shown.
    #[error("database error")]
    Database(#[from] DbErr),
    /// Any other internal failure; its details are logged, never shown.
    #[error("internal error")]
    Internal(String),
}

/// The result type of the service layer.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A `BAD_USER_INPUT` error naming `field`.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A `FORBIDDEN` error with a message saying what is missing.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    /// A `CONFLICT` error.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }

    /// Maps the database error of an insert or update to `CONFLICT` with `message` when it is
    /// a unique-constraint violation (SQLite and PostgreSQL report it alike), and to `Database`
    /// otherwise: `.map_err(ApiError::conflict_on_duplicate(...))`. `message` says what exists
    /// already and what to do instead. The one place that reads constraint violations, so
    /// that every duplicate answers the same way.
    pub fn conflict_on_duplicate(message: impl Into<String>) -> impl FnOnce(DbErr) -> Self {
        let message = message.into();
        move |err| match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::Conflict(message),
            _ => Self::Database(err),
        }
    }

    /// The stable `extensions.code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated | Self::BadCredentials(_) => "UNAUTHENTICATED",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::BadInput { .. } => "BAD_USER_INPUT",
            Self::Conflict(_) => "CONFLICT",
            Self::Database(_) | Self::Internal(_) => "INTERNAL",
        }
    }
}
