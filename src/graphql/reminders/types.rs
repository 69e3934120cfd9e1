//! Reminders in GraphQL.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};

use crate::{
    graphql::{contacts::Contact, notes::Note, tasks::Task},
    ids::{self, Kind},
    service,
};

/// A reminder's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::reminders::ReminderStatus")]
pub enum ReminderStatus {
    /// Waiting for its time.
    Pending,
    /// Came due.
    Fired,
    /// Put away by its user.
    Dismissed,
}

/// A reminder for its user about a note or a task.
pub struct Reminder(pub entity::reminder::Model);

#[Object]
impl Reminder {
    /// The reminder's opaque ID.
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Reminder, self.0.id))
    }
    /// When it is (or was) due.
    async fn remind_at(&self) -> DateTime<Utc> {
        self.0.remind_at
    }
    /// `PENDING`, `FIRED` or `DISMISSED`.
    async fn status(&self) -> Option<ReminderStatus> {
        service::reminders::ReminderStatus::parse(&self.0.status).map(ReminderStatus::from)
    }
    /// When it fired.
    async fn fired_at(&self) -> Option<DateTime<Utc>> {
        self.0.fired_at
    }
    /// The contact it concerns (null when the caller can no longer see it).
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        Contact::load(ctx, self.0.contact_id).await
    }
    /// The note it is about.
    async fn note(&self, ctx: &Context<'_>) -> Result<Option<Note>> {
        Note::load(ctx, self.0.note_id).await
    }
    /// The task it is about.
    async fn task(&self, ctx: &Context<'_>) -> Result<Option<Task>> {
        Task::load(ctx, self.0.task_id).await
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
