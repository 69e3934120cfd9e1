//! The timeline in GraphQL: events, their subjects, and the filter.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, Union};
use chrono::{DateTime, Utc};

use crate::{
    error::ApiResult,
    graphql::{
        contacts::Contact,
        context::ContextExt,
        conversations::Message,
        notes::Note,
        page::{decode_time_cursor, encode_time_cursor},
        reminders::Reminder,
        tasks::Task,
        users::User,
    },
    ids::{self, Kind},
    service::{
        self,
        contacts::VisibleContact,
        timeline::{Subject, TimelineCursor},
    },
};

/// What happened, as the contract's `TimelineEventKind` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(
    remote = "crate::service::timeline::EventKind",
    name = "TimelineEventKind"
)]
pub enum EventKind {
    /// A contact was created.
    ContactCreated,
    /// A contact's fields changed.
    ContactUpdated,
    /// A contact was archived.
    ContactArchived,
    /// A contact was unarchived.
    ContactUnarchived,
    /// Someone was granted (or changed) access to a contact.
    CollaboratorGranted,
    /// Someone's access to a contact was revoked.
    CollaboratorRevoked,
    /// A note was added.
    NoteCreated,
    /// A note was edited.
    NoteUpdated,
    /// A note was deleted.
    NoteDeleted,
    /// A task was planned.
    TaskCreated,
    /// A task changed.
    TaskUpdated,
    /// A task was completed.
    TaskCompleted,
    /// A message was sent to the contact.
    MessageSent,
    /// A message from the contact arrived.
    MessageReceived,
    /// A reminder came due.
    ReminderFired,
}

/// The `timeline` filter.
#[derive(InputObject, Default)]
pub struct TimelineFilter {
    /// Only these kinds.
    pub kinds: Option<Vec<EventKind>>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
}

/// What an event is about.
#[derive(Union)]
pub enum TimelineSubject {
    /// The contact itself (contact and collaborator events).
    Contact(Contact),
    /// A note (null once deleted).
    Note(Note),
    /// A task.
    Task(Task),
    /// A message.
    Message(Message),
    /// A reminder (shown to its user only).
    Reminder(Reminder),
}

/// One thing that happened to a contact.
pub struct TimelineEvent {
    pub(crate) row: entity::timeline_event::Model,
    /// The contact the event happened to, as read (and access-checked) with the events.
    pub(crate) contact: Arc<VisibleContact>,
    /// The actor as read with the event (`None`: not read, ask the loader).
    pub(crate) actor: Option<Option<entity::user::Model>>,
    /// The subject as read with the event (`None`: not read, ask the loaders).
    pub(crate) subject: Option<Option<Subject>>,
}

impl TimelineEvent {
    /// An event whose actor and subject its fields load when asked (a live event).
    pub(crate) fn new(row: entity::timeline_event::Model, contact: Arc<VisibleContact>) -> Self {
        Self {
            row,
            contact,
            actor: None,
            subject: None,
        }
    }
}

#[Object]
impl TimelineEvent {
    /// The event's opaque ID.
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::TimelineEvent, self.row.id))
    }
    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.row.occurred_at
    }
    /// What happened.
    async fn kind(&self) -> Option<EventKind> {
        service::timeline::EventKind::parse(&self.row.kind).map(EventKind::from)
    }
    /// Who did it (null when the caller may not see that user).
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match &self.actor {
            Some(read) => Ok(read.clone().map(User)),
            None => User::load(ctx, self.row.actor_id).await,
        }
    }
    /// One line for people, such as "Ana added a note: Renewal call".
    async fn summary(&self) -> &str {
        &self.row.summary
    }
    /// The record the event is about, as it is now (null once it is gone).
    async fn subject(&self, ctx: &Context<'_>) -> Result<Option<TimelineSubject>> {
        let kind = self.row.subject_kind.as_str();
        // Read with the page, as the caller may see it (the contact itself is the page's).
        if let Some(read) = &self.subject
            && !matches!(kind, "Contact" | "Collaborator")
        {
            return Ok(read.clone().map(|subject| match subject {
                Subject::Note(row) => TimelineSubject::Note(Note::new(row)),
                Subject::Task(row) => TimelineSubject::Task(Task::new(row)),
                Subject::Message(row) => TimelineSubject::Message(Message::new(row)),
                Subject::Reminder(row) => TimelineSubject::Reminder(Reminder(row)),
            }));
        }
        let loaders = ctx.loaders()?;
        let id = self.row.subject_id;
        Ok(match kind {
            "Contact" | "Collaborator" => Some(TimelineSubject::Contact(Contact::new(
                VisibleContact::clone(&self.contact),
            ))),
            "Note" => Note::load(ctx, Some(id)).await?.map(TimelineSubject::Note),
            "Task" => Task::load(ctx, Some(id)).await?.map(TimelineSubject::Task),
            "Message" => loaders
                .messages
                .load_one(id)
                .await?
                .map(|m| TimelineSubject::Message(Message::new(m))),
            "Reminder" => loaders
                .reminders
                .load_one(id)
                .await?
                .map(|r| TimelineSubject::Reminder(Reminder(r))),
            _ => None,
        })
    }
}

pub(crate) fn encode_cursor(row: &entity::timeline_event::Model) -> String {
    encode_time_cursor("t", row.occurred_at, row.id)
}

pub(crate) fn decode_cursor(cursor: Option<&str>) -> ApiResult<Option<TimelineCursor>> {
    Ok(
        decode_time_cursor("t", cursor)?.map(|(at, id)| TimelineCursor {
            occurred_at: at,
            id,
        }),
    )
}
