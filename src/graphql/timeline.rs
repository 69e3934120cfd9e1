//! The timeline: `timeline(contactId)` and `Contact.timeline`.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{
    Context, ID, InputObject, Object, Result, Union,
    connection::{Connection, Edge, EmptyFields},
};
use chrono::{DateTime, Utc};

use super::{
    connection::{decode_time_cursor, encode_time_cursor, page_size},
    context::ContextExt,
    conversations::Message,
    notes::Note,
    tasks::Task,
    types::{Contact, User},
};
use crate::{
    error::{ApiError, ApiResult},
    ids::{self, Kind},
    service::{
        self,
        contacts::VisibleContact,
        timeline::{EventKind, TimelineCursor, TimelineFilter as ServiceFilter},
    },
};

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
}

/// Rows a timeline page mentions, loaded once for the page.
#[derive(Default)]
struct PagePrefetch {
    users: HashMap<i64, entity::user::Model>,
    contacts: HashMap<i64, VisibleContact>,
    notes: HashMap<i64, entity::note::Model>,
    tasks: HashMap<i64, entity::task::Model>,
    messages: HashMap<i64, entity::message::Model>,
}

/// One thing that happened to a contact.
pub struct TimelineEvent {
    row: entity::timeline_event::Model,
    prefetch: Arc<PagePrefetch>,
}

#[Object]
impl TimelineEvent {
    /// The event's opaque ID.
    async fn id(&self) -> ID {
        ids::encode(Kind::TimelineEvent, self.row.id)
    }
    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.row.occurred_at
    }
    /// What happened.
    async fn kind(&self) -> Option<EventKind> {
        EventKind::parse(&self.row.kind)
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
            _ => None,
        }
    }
}

fn encode_cursor(row: &entity::timeline_event::Model) -> String {
    encode_time_cursor("t", row.occurred_at, row.id)
}

fn decode_cursor(cursor: Option<&str>) -> ApiResult<Option<TimelineCursor>> {
    Ok(
        decode_time_cursor("t", cursor)?.map(|(at, id)| TimelineCursor {
            occurred_at: at,
            id,
        }),
    )
}

/// Resolves a timeline page for `timeline(contactId)` and `Contact.timeline`.
pub async fn page(
    ctx: &Context<'_>,
    contact_id: i64,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<TimelineFilter>,
) -> Result<Connection<String, TimelineEvent, EmptyFields>> {
    let actor = ctx.actor()?;
    let db = ctx.db()?;
    let limit = page_size(first)?;
    let cursor = decode_cursor(after.as_deref())?;
    let filter = filter.unwrap_or_default();
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && since >= until
    {
        return Err(ApiError::bad_input("filter.until", "must be later than filter.since").into());
    }
    let service_filter = ServiceFilter {
        kinds: filter
            .kinds
            .unwrap_or_default()
            .into_iter()
            .map(|k| k.as_str().to_owned())
            .collect(),
        since: filter.since,
        until: filter.until,
    };
    let page =
        service::timeline::list(db, actor, contact_id, &service_filter, cursor, limit).await?;

    // One statement each for the actors and the subjects of the whole page, when asked for.
    let nodes = [
        ctx.look_ahead().field("edges").field("node"),
        ctx.look_ahead().field("nodes"),
    ];
    let mut prefetch = PagePrefetch::default();
    if nodes.iter().any(|n| n.field("actor").exists()) {
        let mut user_ids: Vec<i64> = page.rows.iter().filter_map(|e| e.actor_id).collect();
        user_ids.sort_unstable();
        user_ids.dedup();
        prefetch.users = service::users::get_many(db, actor, &user_ids).await?;
    }
    if nodes.iter().any(|n| n.field("subject").exists()) && !page.rows.is_empty() {
        let subjects = |kind: &str| -> Vec<i64> {
            let mut ids: Vec<i64> = page
                .rows
                .iter()
                .filter(|e| e.subject_kind == kind)
                .map(|e| e.subject_id)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        prefetch.contacts = service::contacts::get_many(db, actor, &[contact_id]).await?;
        let notes = subjects("Note");
        if !notes.is_empty() {
            prefetch.notes = service::notes::get_many(db, actor, &notes).await?;
        }
        let tasks = subjects("Task");
        if !tasks.is_empty() {
            prefetch.tasks = service::tasks::get_many(db, actor, &tasks).await?;
        }
        let messages = subjects("Message");
        if !messages.is_empty() {
            prefetch.messages =
                service::conversations::messages_by_id(db, actor, &messages).await?;
        }
    }
    let prefetch = Arc::new(prefetch);
    let mut connection = Connection::new(cursor.is_some(), page.has_next);
    connection.edges = page
        .rows
        .into_iter()
        .map(|row| {
            Edge::new(
                encode_cursor(&row),
                TimelineEvent {
                    row,
                    prefetch: prefetch.clone(),
                },
            )
        })
        .collect();
    Ok(connection)
}
