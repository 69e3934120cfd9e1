//! The timeline: `timeline(contactId)` and `Contact.timeline`.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{
    Context, ID, InputObject, Object, Result, Union,
    connection::{Connection, Edge, EmptyFields},
};
use chrono::{DateTime, Utc};

use super::{
    connection::{decode_time_cursor, distinct_by, encode_time_cursor, page_size},
    context::ContextExt,
    conversations::Message,
    notes::Note,
    reminders::Reminder,
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
        validate::timestamp,
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
    /// A reminder (shown to its user only).
    Reminder(Reminder),
}

/// Rows a timeline page mentions, loaded once for the page.
#[derive(Default)]
struct PagePrefetch {
    users: HashMap<i64, entity::user::Model>,
    contacts: HashMap<i64, VisibleContact>,
    notes: HashMap<i64, entity::note::Model>,
    tasks: HashMap<i64, entity::task::Model>,
    messages: HashMap<i64, entity::message::Model>,
    reminders: HashMap<i64, entity::reminder::Model>,
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
async fn load_related(
    db: &sea_orm::DatabaseConnection,
    actor: &crate::auth::Actor,
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

/// How often a `timelineEvents` subscription looks for new events.
#[derive(Clone, Copy, Debug)]
pub struct PollInterval(pub std::time::Duration);

/// The live timeline of one contact: polls the database (the one place every gateway instance
/// writes to) for events newer than the last one sent, filtered by the caller's access in SQL
/// each time, so it works whichever instance made the change and stops when access is revoked.
pub async fn live(
    ctx: &Context<'_>,
    contact_id: i64,
) -> Result<impl futures_util::Stream<Item = Result<TimelineEvent>> + use<>> {
    let actor = ctx.actor()?.clone();
    let db = ctx.db()?.clone();
    let interval = ctx
        .data_opt::<PollInterval>()
        .map_or(std::time::Duration::from_millis(500), |p| p.0);
    // Start after what exists now; NOT_FOUND right away when the contact is not visible.
    let start = service::timeline::latest_id(&db, &actor, contact_id).await?;
    let state = (
        db,
        actor,
        start,
        std::collections::VecDeque::<TimelineEvent>::new(),
        false,
    );
    Ok(futures_util::stream::unfold(
        state,
        move |(db, actor, mut last, mut queue, done)| async move {
            if done {
                return None;
            }
            loop {
                if let Some(event) = queue.pop_front() {
                    return Some((Ok(event), (db, actor, last, queue, false)));
                }
                tokio::time::sleep(interval).await;
                let (contact, batch) =
                    match service::timeline::newer(&db, &actor, contact_id, last, 100).await {
                        Ok(found) => found,
                        Err(error) => {
                            return Some((Err(error.into()), (db, actor, last, queue, true)));
                        }
                    };
                if let Some(newest) = batch.last() {
                    last = newest.id;
                }
                let prefetch = match load_related(&db, &actor, contact, &batch, true, true).await {
                    Ok(p) => p,
                    Err(error) => return Some((Err(error.into()), (db, actor, last, queue, true))),
                };
                queue.extend(batch.into_iter().map(|row| TimelineEvent {
                    row,
                    prefetch: prefetch.clone(),
                }));
            }
        },
    ))
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
    timestamp("filter.since", filter.since)?;
    timestamp("filter.until", filter.until)?;
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && since >= until
    {
        return Err(ApiError::bad_input("filter.until", "must be later than filter.since").into());
    }
    let service_filter = ServiceFilter {
        kinds: distinct_by(filter.kinds.unwrap_or_default(), |k| k.as_str())
            .into_iter()
            .map(|k| k.as_str().to_owned())
            .collect(),
        since: filter.since,
        until: filter.until,
    };
    let (contact, page) =
        service::timeline::list(db, actor, contact_id, &service_filter, cursor, limit).await?;

    // One statement each for the actors and the subjects of the whole page, when asked for.
    let nodes = [
        ctx.look_ahead().field("edges").field("node"),
        ctx.look_ahead().field("nodes"),
    ];
    let want_actors = nodes.iter().any(|n| n.field("actor").exists());
    let want_subjects = nodes.iter().any(|n| n.field("subject").exists());
    let prefetch = load_related(db, actor, contact, &page.rows, want_actors, want_subjects).await?;
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
