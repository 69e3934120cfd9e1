//! The timeline in GraphQL: events, their subjects, and the filter.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Enum, ID, InputObject, Object, Union};
use chrono::{DateTime, Utc};

use crate::{
    error::ApiResult,
    graphql::{
        contacts::Contact,
        conversations::Message,
        notes::Note,
        page::{decode_time_cursor, encode_time_cursor},
        reminders::Reminder,
        tasks::Task,
        users::User,
    },
    ids::{self, Kind},
    service::{self, contacts::VisibleContact, timeline::TimelineCursor},
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

/// Rows a timeline page mentions, loaded once for the page.
#[derive(Default)]
pub(crate) struct PagePrefetch {
    pub(crate) users: HashMap<i64, entity::user::Model>,
    pub(crate) contacts: HashMap<i64, VisibleContact>,
    pub(crate) notes: HashMap<i64, entity::note::Model>,
    pub(crate) tasks: HashMap<i64, entity::task::Model>,
    pub(crate) messages: HashMap<i64, entity::message::Model>,
    pub(crate) reminders: HashMap<i64, entity::reminder::Model>,
}

/// One thing that happened to a contact.
pub struct TimelineEvent {
    pub(crate) row: entity::timeline_event::Model,
    pub(crate) prefetch: Arc<PagePrefetch>,
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
    async fn actor(&self) -> Option<User> {
        self.row
            .actor_id
            .and_then(|id| self.prefetch.users.get(&id).cloned())
            .map(User)
    }
    /// One line for people, such as "Ana added a note: Renewal call".
    async fn summary(&self) -> &str {
        &self.row.summary
    }
    /// The record the event is about, as it is now (null once it is gone).
    async fn subject(&self) -> Option<TimelineSubject> {
        match self.row.subject_kind.as_str() {
            "Contact" | "Collaborator" => self
                .prefetch
                .contacts
                .get(&self.row.contact_id)
                .cloned()
                .map(|c| TimelineSubject::Contact(Contact::new(c))),
            "Note" => self
                .prefetch
                .notes
                .get(&self.row.subject_id)
                .cloned()
                .map(|n| TimelineSubject::Note(Note::single(n))),
            "Task" => self
                .prefetch
                .tasks
                .get(&self.row.subject_id)
                .cloned()
                .map(|t| TimelineSubject::Task(Task::single(t))),
            "Message" => self
                .prefetch
                .messages
                .get(&self.row.subject_id)
                .cloned()
                .map(|m| TimelineSubject::Message(Message::single(m))),
            "Reminder" => self
                .prefetch
                .reminders
                .get(&self.row.subject_id)
                .cloned()
                .map(|r| TimelineSubject::Reminder(Reminder(r))),
            _ => None,
        }
    }
}

/// Loads the actors and subjects of a batch of events, one statement per kind of row.
pub(crate) async fn load_related(
    db: &sea_orm::DatabaseConnection,
    actor: &crate::service::actor::Actor,
    contact: VisibleContact,
    rows: &[entity::timeline_event::Model],
    want_actors: bool,
    want_subjects: bool,
) -> ApiResult<Arc<PagePrefetch>> {
    let mut prefetch = PagePrefetch::default();
    if want_actors && !rows.is_empty() {
        let mut user_ids: Vec<i64> = rows.iter().filter_map(|e| e.actor_id).collect();
        user_ids.sort_unstable();
        user_ids.dedup();
        prefetch.users = service::users::get_many(db, actor, &user_ids).await?;
    }
    if want_subjects && !rows.is_empty() {
        let subjects = |kind: &str| -> Vec<i64> {
            let mut ids: Vec<i64> = rows
                .iter()
                .filter(|e| e.subject_kind == kind)
                .map(|e| e.subject_id)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        // The events' contact was read (and its access checked) with the events.
        prefetch.contacts.insert(contact.contact.id, contact);
        let notes = subjects("Note");
        if !notes.is_empty() {
            prefetch.notes = service::notes::get_many(db, actor, &notes).await?;
        }
        let tasks = subjects("Task");
        if !tasks.is_empty() {
            prefetch.tasks = service::tasks::get_many(db, actor, &tasks).await?;
        }
        let reminders = subjects("Reminder");
        if !reminders.is_empty() {
            prefetch.reminders = service::reminders::get_many(db, actor, &reminders)
                .await?
                .into_iter()
                .map(|r| (r.id, r))
                .collect();
        }
        let messages = subjects("Message");
        if !messages.is_empty() {
            prefetch.messages =
                service::conversations::messages_by_id(db, actor, &messages).await?;
        }
    }
    Ok(Arc::new(prefetch))
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
