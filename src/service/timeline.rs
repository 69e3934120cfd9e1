//! Writing timeline events, always inside the transaction of the change they describe, and
//! reading a contact's timeline.
//!
//! Every event also goes to the webhook outbox on the same transaction ([`super::outbox`]).
//!
//! Dependencies run one way: every service that records events calls down into this module;
//! it asks only access (whether the contact, a message's channel, and the actors and subjects
//! a page reads with its events are visible) and the outbox, never contacts or users.

use chrono::{DateTime, Utc};
use entity::{message, note, reminder, task, user};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, FromQueryResult};
use serde_json::Value;

use super::{
    Page,
    access::{self, VisibleContact},
    now,
    outbox::{self, OutboxEvent},
    sql::{Sql, joined, push_columns},
};
use crate::{
    bus::Signal,
    error::{ApiError, ApiResult},
    service::actor::{Actor, ActorKind},
};

/// Who may see an event (of a contact they may see).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Staff with access to the contact.
    Team,
    /// Staff with access, and the contact's customer user.
    Customer,
    /// Only this user.
    Private(i64),
    /// Staff with access to the contact and to this channel (messages).
    Channel(i64),
}

impl Audience {
    fn columns(self) -> (&'static str, Option<i64>, Option<i64>) {
        match self {
            Self::Team => ("TEAM", None, None),
            Self::Customer => ("CUSTOMER", None, None),
            Self::Private(user) => ("PRIVATE", Some(user), None),
            Self::Channel(channel) => ("CHANNEL", None, Some(channel)),
        }
    }
}

/// What happened, as the contract's `TimelineEventKind` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
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

impl EventKind {
    /// Every kind.
    pub const ALL: [Self; 15] = [
        Self::ContactCreated,
        Self::ContactUpdated,
        Self::ContactArchived,
        Self::ContactUnarchived,
        Self::CollaboratorGranted,
        Self::CollaboratorRevoked,
        Self::NoteCreated,
        Self::NoteUpdated,
        Self::NoteDeleted,
        Self::TaskCreated,
        Self::TaskUpdated,
        Self::TaskCompleted,
        Self::MessageSent,
        Self::MessageReceived,
        Self::ReminderFired,
    ];

    /// The stored (and GraphQL) name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }

    /// The webhook event type: `NOTE_CREATED` is `note.created`.
    pub fn webhook_type(self) -> String {
        self.as_str().to_lowercase().replacen('_', ".", 1)
    }
}

/// One event to record.
pub struct NewEvent<'a> {
    /// The contact it happened to.
    pub contact_id: i64,
    /// What happened.
    pub kind: EventKind,
    /// The kind of record it is about (`Contact`, `Collaborator`...).
    pub subject_kind: &'a str,
    /// That record's row id.
    pub subject_id: i64,
    /// One line for people.
    pub summary: String,
    /// Details, such as the fields that changed.
    pub data: Value,
    /// Who may see it.
    pub audience: Audience,
}

/// Records `event` as done by `actor`, on the caller's connection or transaction (a write
/// with several events collects them in [`Events`] instead).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    event: NewEvent<'_>,
) -> ApiResult<()> {
    let mut events = Events::new(actor);
    events.add(db, event).await?;
    events.write(db).await
}

/// The timeline events of one write by `actor`, recorded together on its transaction: each
/// contact's stream lock is taken once, when its first event is added (where a single
/// [`record`] takes it, so writes lock in the same order as ever), and [`Events::write`] then
/// reads the webhook endpoints once, inserts every event in one statement and publishes every
/// signal in one `NOTIFY`. `createNote` with a task writes its two events this way.
///
/// Nothing is written until [`Events::write`], which the write must call before it commits.
#[must_use = "the events are written only by `Events::write`"]
pub struct Events<'a> {
    actor: &'a Actor,
    pending: Vec<(NewEvent<'a>, DateTime<Utc>)>,
    locked: Vec<i64>,
}

impl<'a> Events<'a> {
    /// No events yet, for a write by `actor`.
    pub fn new(actor: &'a Actor) -> Self {
        Self {
            actor,
            pending: Vec::new(),
            locked: Vec::new(),
        }
    }

    /// Adds `event` (it happens now), taking its contact's stream lock on `db`'s transaction if
    /// this write has not yet.
    pub async fn add<C: ConnectionTrait>(&mut self, db: &C, event: NewEvent<'a>) -> ApiResult<()> {
        if !self.locked.contains(&event.contact_id) {
            // The contact's events take their ids in commit order (live subscribers read by id).
            crate::bus::order(db, crate::bus::Stream::Contact(event.contact_id)).await?;
            self.locked.push(event.contact_id);
        }
        self.pending.push((event, now()));
        Ok(())
    }

    /// Writes the events on `db`'s transaction, in the order they were added: their webhook
    /// deliveries (see [`outbox`]), the events, and one signal for the live subscribers (and the
    /// delivery workers) of every process, delivered when the transaction commits.
    pub async fn write<C: ConnectionTrait>(self, db: &C) -> ApiResult<()> {
        let Self { actor, pending, .. } = self;
        if pending.is_empty() {
            return Ok(());
        }
        let event_types: Vec<String> = pending
            .iter()
            .map(|(event, _)| event.kind.webhook_type())
            .collect();
        let outgoing: Vec<OutboxEvent<'_>> = pending
            .iter()
            .zip(&event_types)
            .map(|((event, at), event_type)| OutboxEvent {
                event_type,
                subject_kind: event.subject_kind,
                subject_id: event.subject_id,
                contact_id: event.contact_id,
                details: &event.data,
                at: *at,
            })
            .collect();
        // The webhook deliveries of the events go on the same transaction (see `outbox`).
        let deliveries = outbox::enqueue_all(db, actor.org_id, &outgoing).await?;
        let contacts: Vec<i64> = pending.iter().map(|(e, _)| e.contact_id).collect();
        let rows: Vec<entity::timeline_event::ActiveModel> = pending
            .into_iter()
            .map(|(event, at)| {
                let (audience, audience_user_id, audience_channel_id) = event.audience.columns();
                entity::timeline_event::ActiveModel {
                    audience: Set(audience.to_owned()),
                    audience_user_id: Set(audience_user_id),
                    audience_channel_id: Set(audience_channel_id),
                    organization_id: Set(actor.org_id),
                    contact_id: Set(event.contact_id),
                    occurred_at: Set(at),
                    kind: Set(event.kind.as_str().to_owned()),
                    actor_id: Set(Some(actor.user_id)),
                    subject_kind: Set(event.subject_kind.to_owned()),
                    subject_id: Set(event.subject_id),
                    summary: Set(event.summary),
                    data: Set(event.data),
                    ..Default::default()
                }
            })
            .collect();
        let ids = entity::timeline_event::Entity::insert_many(rows)
            .exec_with_returning_keys(db)
            .await?;
        if ids.len() != contacts.len() {
            return Err(ApiError::Internal(format!(
                "wrote {} timeline events, got {} ids back",
                contacts.len(),
                ids.len()
            )));
        }
        // Live subscribers of the contacts look again once this commits (the ids come back in
        // the order of the rows); the delivery workers claim what was written.
        let mut signals: Vec<Signal> = contacts
            .into_iter()
            .zip(ids)
            .map(|(contact, event)| Signal::Timeline {
                org: actor.org_id,
                contact,
                event,
            })
            .collect();
        if deliveries > 0 {
            signals.push(Signal::Deliveries);
        }
        crate::bus::publish_all(db, &signals).await
    }
}

/// A short title for summaries: the subject, else the start of the body (of a note, a task, a
/// message...).
pub fn title_of(subject: Option<&str>, body: &str) -> String {
    let text = subject.filter(|s| !s.is_empty()).unwrap_or(body);
    let mut title: String = text.chars().take(80).collect();
    if text.chars().count() > 80 {
        title.push('…');
    }
    title.replace(['\n', '\r'], " ")
}

/// The `timeline` filter.
#[derive(Clone, Debug, Default)]
pub struct TimelineFilter {
    /// Only these kinds (stored names); empty means all.
    pub kinds: Vec<String>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
}

/// A position in the timeline: events strictly older than it come next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimelineCursor {
    /// The event's time.
    pub occurred_at: DateTime<Utc>,
    /// The event's id (ties on time).
    pub id: i64,
}

/// Appends the condition "event `e` is visible to `actor`" (who may see its contact).
pub fn push_event_visible(sql: &mut Sql, actor: &Actor) {
    match actor.kind {
        ActorKind::Staff(_) => {
            sql.push(" AND (e.audience IN ('TEAM', 'CUSTOMER') OR (e.audience = 'PRIVATE' AND e.audience_user_id = ")
                .bind(actor.user_id)
                .push(") OR (e.audience = 'CHANNEL' AND ");
            access::channel_visible(sql, actor, "e.audience_channel_id");
            sql.push("))");
        }
        ActorKind::Customer { .. } => {
            sql.push(" AND e.audience = 'CUSTOMER'");
        }
    }
}

/// What a timeline page reads about its events in its own statement, beside the events (what
/// the page's fields show, so that they need no statements of their own).
#[derive(Clone, Copy, Debug, Default)]
pub struct EventJoins {
    /// Each event's actor.
    pub actor: bool,
    /// Each event's note, task, message or reminder.
    pub subject: bool,
}

/// The record an event is about, read with the event (events about the contact itself are
/// about the page's contact, which the caller already has).
#[derive(Clone, Debug)]
pub enum Subject {
    /// A note.
    Note(note::Model),
    /// A task.
    Task(task::Model),
    /// A message.
    Message(message::Model),
    /// A reminder.
    Reminder(reminder::Model),
}

/// A timeline event with what [`EventJoins`] asked to read with it. For the actor and the
/// subject, `None` means not read (load it separately); `Some(None)` means there is none the
/// caller may see.
#[derive(Clone, Debug)]
pub struct EventRow {
    /// The event.
    pub event: entity::timeline_event::Model,
    /// Its actor, a user the caller may see.
    pub actor: Option<Option<user::Model>>,
    /// Its subject, a record the caller may see.
    pub subject: Option<Option<Subject>>,
}

/// Appends the access rule of a table of subjects for a row alias (`access::push_*_visible`).
type PushVisible = fn(&mut Sql, &Actor, &str);

/// Column prefixes of the rows a timeline page reads with its events.
const ACTOR: &str = "u__";
const NOTE: &str = "sn__";
const TASK: &str = "st__";
const MESSAGE: &str = "sm__";
const REMINDER: &str = "sr__";

/// One page of a contact's timeline, newest first, as `actor` may see it, with the contact:
/// `NOT_FOUND` when the contact is not visible; events about what the caller may not see are
/// left out in SQL.
#[tracing::instrument(skip_all, fields(contact_id = contact_id), err(level = "debug"))]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    contact_id: i64,
    filter: &TimelineFilter,
    after: Option<TimelineCursor>,
    limit: u64,
    joins: EventJoins,
) -> ApiResult<(VisibleContact, Page<EventRow>)> {
    let contact = access::visible_contact(db, actor, contact_id).await?;
    let page = page(db, actor, &contact, filter, after, limit, joins).await?;
    Ok((contact, page))
}

/// One page of the timeline of `contact`, a contact the caller has already read as visible
/// (through [`access::visible_contact`]), newest first, with the related rows `joins` asks for,
/// all in one statement: the page of events is chosen first, then only its rows are joined to
/// their actors and subjects, each join carrying the access rule of its table, so that a
/// subject the caller may not see (another user's private note, a message on a channel they
/// have no grant on, another user's reminder) reads as none.
#[tracing::instrument(skip_all, fields(contact_id = contact.contact.id), err(level = "debug"))]
pub async fn page<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    contact: &VisibleContact,
    filter: &TimelineFilter,
    after: Option<TimelineCursor>,
    limit: u64,
    joins: EventJoins,
) -> ApiResult<Page<EventRow>> {
    let mut sql = Sql::new(db.get_database_backend());
    let wrapped = joins.actor || joins.subject;
    if wrapped {
        sql.push("SELECT e.*");
        if joins.actor {
            push_columns::<user::Entity>(&mut sql, "u", ACTOR);
        }
        if joins.subject {
            push_columns::<note::Entity>(&mut sql, "sn", NOTE);
            push_columns::<task::Entity>(&mut sql, "st", TASK);
            push_columns::<message::Entity>(&mut sql, "sm", MESSAGE);
            push_columns::<reminder::Entity>(&mut sql, "sr", REMINDER);
        }
        sql.push(" FROM (");
    }
    sql.push("SELECT e.* FROM timeline_events e WHERE e.organization_id = ")
        .bind(actor.org_id)
        .push(" AND e.contact_id = ")
        .bind(contact.contact.id);
    push_event_visible(&mut sql, actor);
    if !filter.kinds.is_empty() {
        sql.push(" AND e.kind IN ")
            .bind_list(filter.kinds.iter().cloned());
    }
    if let Some(since) = filter.since {
        sql.push(" AND e.occurred_at >= ").bind(since);
    }
    if let Some(until) = filter.until {
        sql.push(" AND e.occurred_at < ").bind(until);
    }
    if let Some(cursor) = after {
        sql.push(" AND (e.occurred_at < ")
            .bind(cursor.occurred_at)
            .push(" OR (e.occurred_at = ")
            .bind(cursor.occurred_at)
            .push(" AND e.id < ")
            .bind(cursor.id)
            .push("))");
    }
    sql.push(" ORDER BY e.occurred_at DESC, e.id DESC")
        .limit(limit + 1);
    if wrapped {
        sql.push(") e");
        if joins.actor {
            sql.push(" LEFT JOIN users u ON u.id = e.actor_id AND ");
            access::push_user_visible(&mut sql, actor, "u");
        }
        if joins.subject {
            // Each subject table is probed with the event's id only when the event is about
            // that kind (a key of NULL finds nothing at once); a separate `subject_kind = ...`
            // condition would let the database look every event's id up in all four tables
            // and test the kind (and the access rule) afterwards.
            let subjects: [(&str, &str, &str, PushVisible); 4] = [
                ("notes", "sn", "Note", access::push_note_visible),
                ("tasks", "st", "Task", access::push_task_visible),
                ("messages", "sm", "Message", access::push_message_visible),
                ("reminders", "sr", "Reminder", access::push_reminder_visible),
            ];
            for (table, alias, kind, push_visible) in subjects {
                sql.push(&format!(
                    " LEFT JOIN {table} {alias} ON {alias}.id = \
                     CASE WHEN e.subject_kind = '{kind}' THEN e.subject_id END AND "
                ));
                push_visible(&mut sql, actor, alias);
            }
        }
        sql.push(" ORDER BY e.occurred_at DESC, e.id DESC");
    }
    let mut rows = Vec::new();
    for row in db.query_all_raw(sql.build()).await? {
        let event = entity::timeline_event::Model::from_query_result(&row, "")?;
        let actor = if joins.actor {
            Some(joined::<user::Model>(&row, ACTOR)?)
        } else {
            None
        };
        let subject = if joins.subject {
            Some(match event.subject_kind.as_str() {
                "Note" => joined(&row, NOTE)?.map(Subject::Note),
                "Task" => joined(&row, TASK)?.map(Subject::Task),
                "Message" => joined(&row, MESSAGE)?.map(Subject::Message),
                "Reminder" => joined(&row, REMINDER)?.map(Subject::Reminder),
                _ => None,
            })
        } else {
            None
        };
        rows.push(EventRow {
            event,
            actor,
            subject,
        });
    }
    Ok(Page::from_fetched(rows, limit))
}

/// The id of the newest event on a contact the actor may see (0 when none); `NOT_FOUND` when
/// the contact is not visible.
#[tracing::instrument(skip_all, fields(contact_id = contact_id), err(level = "debug"))]
pub async fn latest_id<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    contact_id: i64,
) -> ApiResult<i64> {
    access::visible_contact(db, actor, contact_id).await?;
    let mut sql = Sql::new(db.get_database_backend());
    sql.push(
        "SELECT COALESCE(MAX(e.id), 0) AS n FROM timeline_events e WHERE e.organization_id = ",
    )
    .bind(actor.org_id)
    .push(" AND e.contact_id = ")
    .bind(contact_id);
    sql.count(db).await
}

/// Events on a contact newer than event id `after`, oldest first, as the actor may see them,
/// with the contact; `NOT_FOUND` once the contact is no longer visible.
#[tracing::instrument(
    skip_all,
    fields(contact_id = contact_id, after = after),
    err(level = "debug")
)]
pub async fn newer<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    contact_id: i64,
    after: i64,
    limit: u64,
) -> ApiResult<(VisibleContact, Vec<entity::timeline_event::Model>)> {
    let contact = access::visible_contact(db, actor, contact_id).await?;
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT e.* FROM timeline_events e WHERE e.organization_id = ")
        .bind(actor.org_id)
        .push(" AND e.contact_id = ")
        .bind(contact_id)
        .push(" AND e.id > ")
        .bind(after);
    push_event_visible(&mut sql, actor);
    sql.push(" ORDER BY e.id").limit(limit);
    let rows = entity::timeline_event::Model::find_by_statement(sql.build())
        .all(db)
        .await?;
    Ok((contact, rows))
}
