//! Reminders in GraphQL: the caller's reminders, dismissing and snoozing, and the live
//! `reminders` subscription.

use std::collections::VecDeque;

use async_graphql::{
    Context, ID, InputObject, Object, Result,
    connection::{Connection, Edge, EmptyFields},
};
use chrono::{DateTime, Utc};

use super::{
    connection::{decode_time_cursor, encode_time_cursor, page_size},
    context::ContextExt,
    notes::Note,
    tasks::Task,
    timeline::PollInterval,
    types::Contact,
};
use crate::{
    ids::{self, Kind},
    service::{
        self,
        reminders::{ReminderCursor, ReminderStatus},
    },
};

/// A reminder for its user about a note or a task.
pub struct Reminder(pub entity::reminder::Model);

#[Object]
impl Reminder {
    /// The reminder's opaque ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Reminder, self.0.id)
    }
    /// When it is (or was) due.
    async fn remind_at(&self) -> DateTime<Utc> {
        self.0.remind_at
    }
    /// `PENDING`, `FIRED` or `DISMISSED`.
    async fn status(&self) -> Option<ReminderStatus> {
        ReminderStatus::parse(&self.0.status)
    }
    /// When it fired.
    async fn fired_at(&self) -> Option<DateTime<Utc>> {
        self.0.fired_at
    }
    /// The contact it concerns (null when the caller can no longer see it).
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        let id = self.0.contact_id;
        let found = service::contacts::get_many(ctx.db()?, ctx.actor()?, &[id])
            .await?
            .remove(&id);
        Ok(found.map(Contact::new))
    }
    /// The note it is about.
    async fn note(&self, ctx: &Context<'_>) -> Result<Option<Note>> {
        let Some(id) = self.0.note_id else {
            return Ok(None);
        };
        Ok(service::notes::get_many(ctx.db()?, ctx.actor()?, &[id])
            .await?
            .remove(&id)
            .map(Note::single))
    }
    /// The task it is about.
    async fn task(&self, ctx: &Context<'_>) -> Result<Option<Task>> {
        let Some(id) = self.0.task_id else {
            return Ok(None);
        };
        Ok(service::tasks::get_many(ctx.db()?, ctx.actor()?, &[id])
            .await?
            .remove(&id)
            .map(Task::single))
    }
    /// When it was set.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// The `reminders` filter.
#[derive(InputObject, Default)]
pub struct ReminderFilter {
    /// Only reminders in this state.
    pub status: Option<ReminderStatus>,
}

/// Resolves the caller's reminders, soonest first.
pub async fn reminders_page(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<ReminderFilter>,
) -> Result<Connection<String, Reminder, EmptyFields>> {
    let actor = ctx.actor()?;
    let limit = page_size(first)?;
    let cursor =
        decode_time_cursor("r", after.as_deref())?.map(|(at, id)| ReminderCursor { at, id });
    let status = filter.and_then(|f| f.status);
    let page = service::reminders::list(ctx.db()?, actor, status, cursor, limit).await?;
    let mut connection = Connection::new(cursor.is_some(), page.has_next);
    connection.edges = page
        .rows
        .into_iter()
        .map(|row| {
            Edge::new(
                encode_time_cursor("r", row.remind_at, row.id),
                Reminder(row),
            )
        })
        .collect();
    Ok(connection)
}

/// The caller's reminders as they come due, on whichever instance fired them: polls the
/// reminders table for ones fired after the subscription started.
pub async fn live(
    ctx: &Context<'_>,
) -> Result<impl futures_util::Stream<Item = Result<Reminder>> + use<>> {
    let actor = ctx.actor()?.clone();
    let db = ctx.db()?.clone();
    let interval = ctx
        .data_opt::<PollInterval>()
        .map_or(std::time::Duration::from_millis(500), |p| p.0);
    let start = (service::now(), 0_i64);
    let state = (db, actor, start, VecDeque::<Reminder>::new());
    Ok(futures_util::stream::unfold(
        state,
        move |(db, actor, mut last, mut queue)| async move {
            loop {
                if let Some(reminder) = queue.pop_front() {
                    return Some((Ok(reminder), (db, actor, last, queue)));
                }
                tokio::time::sleep(interval).await;
                match service::reminders::fired_since(&db, &actor, last).await {
                    Ok(rows) => {
                        if let Some(newest) = rows.last() {
                            last = (newest.fired_at.unwrap_or(last.0), newest.id);
                        }
                        queue.extend(rows.into_iter().map(Reminder));
                    }
                    Err(error) => return Some((Err(error.into()), (db, actor, last, queue))),
                }
            }
        },
    ))
}
