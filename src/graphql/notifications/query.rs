//! The notifications query.

use async_graphql::{Context, Object, Result, connection::Connection};

use crate::{
    graphql::{
        context::{Caller, ContextExt},
        notifications::types::{Notification, NotificationConnectionFields, NotificationFilter},
        page::{self, page_size},
    },
    service,
};

/// The caller's notifications.
#[derive(Default)]
pub struct NotificationsQuery;

#[Object]
impl NotificationsQuery {
    /// The caller's own notifications, newest first; `filter: { unread: true }` for the unread
    /// ones. Only those about what the caller may still see.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<NotificationFilter>,
    ) -> Result<Connection<String, Notification, NotificationConnectionFields>> {
        let Caller { db, actor } = ctx.caller()?;
        let limit = page_size(first)?;
        let after_id = page::decode_cursor(after.as_deref())?;
        let unread = filter.and_then(|f| f.unread);
        let page = service::notifications::list(db, actor, unread, after_id, limit).await?;
        Ok(page::connection(
            page.rows
                .into_iter()
                .map(|row| (page::encode_cursor(row.id), Notification(row))),
            after_id.is_some(),
            page.has_next,
            NotificationConnectionFields { unread },
        ))
    }
}
