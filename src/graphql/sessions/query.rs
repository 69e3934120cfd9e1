//! The sign-in queries.

use async_graphql::{Context, Object, Result};

use crate::{
    graphql::{
        context::{Caller, ContextExt},
        sessions::types::SessionInfo,
    },
    service,
};

/// The caller's sessions.
#[derive(Default)]
pub struct SessionsQuery;

#[Object]
impl SessionsQuery {
    /// The caller's open sign-in sessions, most recently used first (at most 100): revoke one
    /// with `revokeSession`.
    async fn my_sessions(&self, ctx: &Context<'_>) -> Result<Vec<SessionInfo>> {
        let Caller { db, actor } = ctx.caller()?;
        let rows = service::sessions::list_own(db, actor).await?;
        Ok(rows
            .into_iter()
            .map(|row| SessionInfo {
                current: actor.session_id == Some(row.id),
                row,
            })
            .collect())
    }
}
