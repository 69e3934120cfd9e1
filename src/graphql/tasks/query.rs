//! The tasks queries and the tasks connection (`tasks` and `Contact.tasks`).

use async_graphql::{Context, ID, Object, Result, connection::Connection};

use super::types::{decode_cursor, encode_cursor};
use crate::{
    graphql::{
        context::{Caller, ContextExt},
        page::{distinct_by, page_size},
        tasks::types::{Task, TaskConnectionFields, TaskFilter, TaskOrder},
    },
    ids::{self, Kind},
    service::{
        self,
        tasks::{OrderDirection, TaskFilter as ServiceFilter, TaskOrderField},
        validate::timestamp,
    },
};

/// Tasks across contacts, and one task.
#[derive(Default)]
pub struct TasksQuery;

#[Object]
impl TasksQuery {
    /// The tasks the caller may see, ordered by creation (default, newest first) or schedule.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<TaskFilter>,
        order_by: Option<TaskOrder>,
    ) -> Result<Connection<String, Task, TaskConnectionFields>> {
        tasks_page(ctx, None, first, after, filter, order_by).await
    }

    /// One task by ID; `NOT_FOUND` when the caller may not see it.
    async fn task(&self, ctx: &Context<'_>, id: ID) -> Result<Task> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Task, &id)?;
        Ok(Task::new(service::tasks::get(db, actor, id).await?))
    }
}

/// Resolves a tasks page (`tasks` and `Contact.tasks`).
pub async fn tasks_page(
    ctx: &Context<'_>,
    contact_id: Option<i64>,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<TaskFilter>,
    order: Option<TaskOrder>,
) -> Result<Connection<String, Task, TaskConnectionFields>> {
    let Caller { db, actor } = ctx.caller()?;
    let limit = page_size(first)?;
    let cursor = decode_cursor(after.as_deref())?;
    let filter = filter.unwrap_or_default();
    let order = order
        .map(|o| (o.field.into(), o.direction.into()))
        .unwrap_or((TaskOrderField::CreatedAt, OrderDirection::Desc));
    let service_filter = ServiceFilter {
        contact_id: match contact_id {
            Some(id) => Some(id),
            None => ids::decode_opt(Kind::Contact, filter.contact_id)?,
        },
        responsible_id: ids::decode_opt(Kind::User, filter.responsible_id)?,
        status: distinct_by(filter.status.unwrap_or_default(), |s| *s as u8)
            .into_iter()
            .map(Into::into)
            .collect(),
        scheduled_from: timestamp("filter.scheduledFrom", filter.scheduled_from)?,
        scheduled_to: timestamp("filter.scheduledTo", filter.scheduled_to)?,
        tag: filter.tag.map(|t| t.trim().to_owned()),
    };
    let page = service::tasks::list(db, actor, &service_filter, order, cursor, limit).await?;
    Ok(crate::graphql::page::connection(
        page.rows
            .into_iter()
            .map(|row| (encode_cursor(order.0, &row), Task::new(row))),
        cursor.is_some(),
        page.has_next,
        TaskConnectionFields {
            filter: service_filter,
        },
    ))
}
