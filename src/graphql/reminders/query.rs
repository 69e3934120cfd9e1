//! The reminders query.

use async_graphql::{
    Context, Object, Result,
    connection::{Connection, EmptyFields},
};

use crate::{
    graphql::{
        context::{Caller, ContextExt},
        page::{decode_time_cursor, encode_time_cursor, page_size},
        reminders::types::{Reminder, ReminderFilter},
    },
    service::{self, reminders::ReminderCursor},
};

/// The caller's reminders.
#[derive(Default)]
pub struct RemindersQuery;

#[Object]
impl RemindersQuery {
    /// The caller's own reminders, soonest first; filter by status.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn reminders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ReminderFilter>,
    ) -> Result<Connection<String, Reminder>> {
        reminders_page(ctx, first, after, filter).await
    }
}

/// Resolves the caller's reminders, soonest first.
pub async fn reminders_page(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<ReminderFilter>,
) -> Result<Connection<String, Reminder, EmptyFields>> {
    let Caller { db, actor } = ctx.caller()?;
    let limit = page_size(first)?;
    let cursor =
        decode_time_cursor("r", after.as_deref())?.map(|(at, id)| ReminderCursor { at, id });
    let status = filter.and_then(|f| f.status);
    let page = service::reminders::list(db, actor, status.map(Into::into), cursor, limit).await?;
    Ok(crate::graphql::page::connection(
        page.rows.into_iter().map(|row| {
            (
                encode_time_cursor("r", row.remind_at, row.id),
                Reminder(row),
            )
        }),
        cursor.is_some(),
        page.has_next,
        EmptyFields,
    ))
}
