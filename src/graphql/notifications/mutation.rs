//! The notifications mutation.

use async_graphql::{Context, ID, Object, Result};

use crate::{
    graphql::context::{Caller, ContextExt},
    ids::{self, Kind},
    service::{self, notifications::Marking},
};

/// Marking notifications read.
#[derive(Default)]
pub struct NotificationsMutation;

#[Object]
impl NotificationsMutation {
    /// Marks the caller's notifications read: those in `ids`, or `all: true` for every unread
    /// one (exactly one of the two). Returns how many it marked; already-read ones and IDs that
    /// name no notification of the caller are not counted, and nobody else's is ever touched.
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
        all: Option<bool>,
    ) -> Result<i32> {
        let Caller { db, actor } = ctx.caller()?;
        let which = match service::notifications::marking(ids, all)? {
            Some(ids) => Marking::Ids(ids::decode_many(Kind::Notification, "ids", Some(ids))?),
            None => Marking::All,
        };
        let marked = service::notifications::mark_read(db, actor, &which).await?;
        Ok(i32::try_from(marked).unwrap_or(i32::MAX))
    }
}
