//! What a resolver reads from the request: the database, the caller and the loaders.

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use super::loaders::Loaders;
use crate::{
    auth::Actor,
    error::{ApiError, ApiResult},
};

/// Per-request state, attached to every GraphQL request by the HTTP layer.
pub struct RequestState {
    /// The database pool.
    pub db: DatabaseConnection,
    /// The authenticated caller, if the request carried a valid token.
    pub actor: Option<Actor>,
    /// Batching loaders, scoped to this caller.
    pub loaders: Option<Loaders>,
}

impl RequestState {
    /// State for a request by `actor` (or anonymous), with its loaders.
    pub fn new(db: DatabaseConnection, actor: Option<Actor>) -> Self {
        let loaders = actor.as_ref().map(|a| Loaders::new(db.clone(), a.clone()));
        Self { db, actor, loaders }
    }
}

/// Shortcuts for resolvers.
pub trait ContextExt {
    /// The request state.
    fn state(&self) -> ApiResult<&RequestState>;
    /// The database pool.
    fn db(&self) -> ApiResult<&DatabaseConnection> {
        Ok(&self.state()?.db)
    }
    /// The authenticated caller, or `UNAUTHENTICATED`.
    fn actor(&self) -> ApiResult<&Actor> {
        self.state()?
            .actor
            .as_ref()
            .ok_or(ApiError::Unauthenticated)
    }
    /// The caller's loaders, or `UNAUTHENTICATED`.
    fn loaders(&self) -> ApiResult<&Loaders> {
        self.state()?
            .loaders
            .as_ref()
            .ok_or(ApiError::Unauthenticated)
    }
}

impl ContextExt for Context<'_> {
    fn state(&self) -> ApiResult<&RequestState> {
        self.data_opt::<RequestState>()
            .ok_or_else(|| ApiError::Internal("request state missing".into()))
    }
}

/// How often a live subscription (`timelineEvents`, `reminders`) looks for new rows.
#[derive(Clone, Copy, Debug)]
pub struct PollInterval(pub std::time::Duration);
