//! Notifications in GraphQL.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, Union};
use chrono::{DateTime, Utc};

use crate::{
    error::ApiError,
    graphql::{
        contacts::Contact,
        context::{Caller, ContextExt},
        notes::Note,
        reminders::Reminder,
        tasks::Task,
        users::User,
    },
    ids::{self, Kind},
    service,
};

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::notifications::NotificationKind")]
pub enum NotificationKind {
    /// Someone else made the caller responsible for a task (planned, copied, followed up or
    /// re-assigned).
    TaskAssigned,
    /// A note mentions the caller (`@` and their name or email).
    Mentioned,
    /// One of the caller's reminders fired.
    ReminderFired,
}

/// The record a notification is about.
#[derive(Union)]
pub enum NotificationSubject {
    /// The note that mentions the caller.
    Note(Note),
    /// The task assigned to the caller.
    Task(Task),
    /// The reminder that fired.
    Reminder(Reminder),
}

/// Something the caller is told about. Shown to its user only, and only while they may still
/// see the note or task it is about.
pub struct Notification(pub entity::notification::Model);

#[Object]
impl Notification {
    /// The notification's opaque ID (for `markNotificationsRead`).
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Notification, self.0.id))
    }
    /// What it is about.
    async fn kind(&self) -> Result<NotificationKind> {
        // The table's CHECK constraint admits only the three kinds.
        service::notifications::NotificationKind::parse(&self.0.kind)
            .map(NotificationKind::from)
            .ok_or_else(|| {
                ApiError::Internal(format!("unknown notification kind {}", self.0.kind)).into()
            })
    }
    /// When it was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the caller marked it read (null while unread).
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.0.read_at
    }
    /// Whether the caller marked it read.
    async fn read(&self) -> bool {
        self.0.read_at.is_some()
    }
    /// One line for people, such as "Ana Member mentioned you in a note: Renewal call".
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    /// Who caused it (null for a fired reminder, or when the caller may not see that user).
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::load(ctx, self.0.actor_id).await
    }
    /// The contact it concerns (null when the caller may no longer see it).
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        Contact::load(ctx, self.0.contact_id).await
    }
    /// The note, task or reminder it is about, as it is now and as the caller may see it.
    async fn subject(&self, ctx: &Context<'_>) -> Result<Option<NotificationSubject>> {
        let id = Some(self.0.subject_id);
        Ok(match self.0.subject_kind.as_str() {
            "Note" => Note::load(ctx, id).await?.map(NotificationSubject::Note),
            "Task" => Task::load(ctx, id).await?.map(NotificationSubject::Task),
            "Reminder" => ctx
                .loaders()?
                .reminders
                .load_one(self.0.subject_id)
                .await?
                .map(|r| NotificationSubject::Reminder(Reminder(r))),
            _ => None,
        })
    }
}

/// The `notifications` filter.
#[derive(InputObject, Default)]
pub struct NotificationFilter {
    /// `true`: only unread notifications; `false`: only read ones; absent: both.
    pub unread: Option<bool>,
}

/// Extra fields of the notifications connection.
pub struct NotificationConnectionFields {
    pub(crate) unread: Option<bool>,
}

#[Object]
impl NotificationConnectionFields {
    /// How many notifications match (all pages).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(service::notifications::count(db, actor, self.unread).await?)
    }
}
