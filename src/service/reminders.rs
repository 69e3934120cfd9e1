//! Reminders: stored with notes (for the author) and tasks (for the responsible user), fired
//! by a worker when due, then dismissed or snoozed by their user.
//!
//! Firing is safe with several gateway instances: each batch is claimed and marked `FIRED` in
//! one statement inside a transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two
//! instances never fire the same reminder; SQLite has a single writer), together with its
//! `REMINDER_FIRED` timeline event.
//!
//! Dependencies run one way: notes and tasks store their reminders through [`add`]; this module
//! calls only the timeline and notifications (a fired reminder tells its user).

use chrono::{DateTime, Utc};
use entity::reminder;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    FromQueryResult, IntoActiveModel, QueryFilter, QuerySelect, Statement, TransactionSession,
    TransactionTrait,
};
use serde_json::json;

use super::{
    Page, notifications, now,
    sql::Sql,
    timeline::{self, Audience, EventKind, NewEvent, title_of},
};
use crate::{
    bus::{self, Signal},
    error::{ApiError, ApiResult},
    service::actor::Actor,
};

/// A reminder's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum ReminderStatus {
    /// Waiting for its time.
    Pending,
    /// Came due.
    Fired,
    /// Put away by its user.
    Dismissed,
}

impl ReminderStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// A position in the reminders list: (remind_at, id).
#[derive(Clone, Copy, Debug)]
pub struct ReminderCursor {
    /// The reminder's time.
    pub at: DateTime<Utc>,
    /// Its id.
    pub id: i64,
}

/// What a reminder is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemindOf {
    /// A note (the reminder is its author's).
    Note(i64),
    /// A task (the reminder is its responsible user's).
    Task(i64),
}

/// Stores a pending reminder for `user_id` about a note or a task of contact `contact_id`, on
/// the caller's transaction (the one that writes the note or the task).
pub async fn add<C: ConnectionTrait>(
    db: &C,
    org: i64,
    user_id: i64,
    contact_id: i64,
    of: RemindOf,
    remind_at: DateTime<Utc>,
) -> ApiResult<()> {
    let (note_id, task_id) = match of {
        RemindOf::Note(note) => (Some(note), None),
        RemindOf::Task(task) => (None, Some(task)),
    };
    reminder::ActiveModel {
        organization_id: Set(org),
        user_id: Set(user_id),
        contact_id: Set(contact_id),
        note_id: Set(note_id),
        task_id: Set(task_id),
        remind_at: Set(remind_at),
        status: Set(ReminderStatus::Pending.as_str().to_owned()),
        fired_at: Set(None),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    bus::publish(db, &Signal::ReminderScheduled).await?;
    Ok(())
}

/// One page of the actor's own reminders, soonest first, optionally of one status.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    status: Option<ReminderStatus>,
    after: Option<ReminderCursor>,
    limit: u64,
) -> ApiResult<Page<reminder::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT r.* FROM reminders r WHERE r.organization_id = ")
        .bind(actor.org_id)
        .push(" AND r.user_id = ")
        .bind(actor.user_id);
    if let Some(status) = status {
        sql.push(" AND r.status = ").bind(status.as_str());
    }
    if let Some(cursor) = after {
        sql.push(" AND (r.remind_at > ")
            .bind(cursor.at)
            .push(" OR (r.remind_at = ")
            .bind(cursor.at)
            .push(" AND r.id > ")
            .bind(cursor.id)
            .push("))");
    }
    sql.push(" ORDER BY r.remind_at, r.id").limit(limit + 1);
    let rows = reminder::Model::find_by_statement(sql.build())
        .all(db)
        .await?;
    Ok(Page::from_fetched(rows, limit))
}

/// The actor's own reminders among `ids`.
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn get_many<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[i64],
) -> ApiResult<Vec<reminder::Model>> {
    Ok(reminder::Entity::find()
        .filter(reminder::Column::OrganizationId.eq(actor.org_id))
        .filter(reminder::Column::UserId.eq(actor.user_id))
        .filter(reminder::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

async fn own<C: ConnectionTrait>(db: &C, actor: &Actor, id: i64) -> ApiResult<reminder::Model> {
    get_many(db, actor, &[id])
        .await?
        .pop()
        .ok_or(ApiError::NotFound("Reminder"))
}

/// Dismisses one of the actor's reminders (pending or fired).
#[tracing::instrument(skip_all, fields(reminder_id = id), err(level = "debug"))]
pub async fn dismiss<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
) -> ApiResult<reminder::Model> {
    let row = own(db, actor, id).await?;
    let mut active = row.into_active_model();
    active.status = Set(ReminderStatus::Dismissed.as_str().to_owned());
    Ok(active.update(db).await?)
}

/// Snoozes one of the actor's reminders until a later time: it is pending again.
#[tracing::instrument(skip_all, fields(reminder_id = id), err(level = "debug"))]
pub async fn snooze<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    until: DateTime<Utc>,
) -> ApiResult<reminder::Model> {
    if until <= now() {
        return Err(ApiError::bad_input("until", "must be in the future"));
    }
    let row = own(db, actor, id).await?;
    let mut active = row.into_active_model();
    active.status = Set(ReminderStatus::Pending.as_str().to_owned());
    active.remind_at = Set(until);
    active.fired_at = Set(None);
    let row = active.update(db).await?;
    // Schedulers look at their next due time again (the safety interval covers a lost one).
    bus::publish(db, &Signal::ReminderScheduled).await?;
    Ok(row)
}

/// Fires up to `limit` reminders due at `at`: marks them `FIRED` and writes their
/// `REMINDER_FIRED` events (private to the reminded user) and notifications, in one
/// transaction. Returns them.
#[tracing::instrument(skip_all, fields(limit = limit), err(level = "debug"))]
pub async fn fire_due<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    at: DateTime<Utc>,
    limit: u64,
) -> ApiResult<Vec<reminder::Model>> {
    let txn = db.begin().await?;
    // The `reminders` subscription reads by `(fired_at, id)`: a pass that began earlier but
    // committed later than another gateway's must not stamp an earlier `fired_at`. On
    // PostgreSQL the passes take turns (a transaction-level lock) and stamp the database's
    // clock read after taking it, so every pass's rows come after those of the pass before,
    // whatever the gateways' clocks say. SQLite has one writer, one process.
    bus::order(&txn, bus::Stream::FiredReminders).await?;
    let postgres = txn.get_database_backend() == DbBackend::Postgres;
    let mut sql = Sql::new(txn.get_database_backend());
    sql.push("UPDATE reminders SET status = 'FIRED', fired_at = ");
    if postgres {
        sql.push("clock_timestamp()");
    } else {
        sql.bind(at);
    }
    sql.push(" WHERE id IN (SELECT id FROM reminders WHERE status = 'PENDING' AND remind_at <= ")
        .bind(at)
        .push(" ORDER BY remind_at")
        .limit(limit);
    if postgres {
        sql.push(" FOR UPDATE SKIP LOCKED");
    }
    sql.push(") RETURNING *");
    let fired = reminder::Model::find_by_statement(sql.build())
        .all(&txn)
        .await?;
    for reminder in &fired {
        let user = entity::user::Entity::find_by_id(reminder.user_id)
            .one(&txn)
            .await?;
        let Some(actor) = user.as_ref().and_then(crate::auth::actor_of) else {
            continue;
        };
        let about = match (reminder.note_id, reminder.task_id) {
            (Some(note), _) => entity::note::Entity::find_by_id(note)
                .one(&txn)
                .await?
                .map(|n| title_of(n.subject.as_deref(), &n.body)),
            (None, Some(task)) => entity::task::Entity::find_by_id(task)
                .one(&txn)
                .await?
                .map(|t| title_of(None, &t.description)),
            (None, None) => None,
        }
        .unwrap_or_else(|| "follow up".into());
        timeline::record(
            &txn,
            &actor,
            NewEvent {
                contact_id: reminder.contact_id,
                kind: EventKind::ReminderFired,
                subject_kind: "Reminder",
                subject_id: reminder.id,
                summary: format!("Reminder for {}: {about}", actor.name),
                data: json!({ "noteId": reminder.note_id, "taskId": reminder.task_id }),
                audience: Audience::Private(actor.user_id),
            },
        )
        .await?;
        notifications::reminder_fired(&txn, reminder, &about).await?;
        bus::publish(
            &txn,
            &Signal::Reminders {
                org: reminder.organization_id,
                user: reminder.user_id,
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(fired)
}

/// When the next pending reminder (of any organization) is due, for the scheduler.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn next_due<C: ConnectionTrait>(db: &C) -> ApiResult<Option<DateTime<Utc>>> {
    Ok(reminder::Entity::find()
        .select_only()
        .column_as(reminder::Column::RemindAt.min(), "due")
        .filter(reminder::Column::Status.eq(ReminderStatus::Pending.as_str()))
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(db)
        .await?
        .flatten())
}

/// Where a `reminders` subscription starts reading: the clock that stamps `fired_at` (the
/// database's on PostgreSQL, see [`fire_due`]; this process's on SQLite), so that a gateway
/// whose clock runs ahead of the database's does not skip what fires just after a client
/// subscribed.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn fired_clock<C: ConnectionTrait>(db: &C) -> ApiResult<DateTime<Utc>> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(now());
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT clock_timestamp() AS now",
        ))
        .await?
        .ok_or_else(|| ApiError::Internal("the database returned no clock".into()))?;
    Ok(row.try_get::<DateTime<Utc>>("", "now")?)
}

/// Up to `limit` of the actor's reminders that fired after (fired_at, id) = `after`, oldest
/// first (for the `reminders` subscription).
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn fired_since<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    after: (DateTime<Utc>, i64),
    limit: u64,
) -> ApiResult<Vec<reminder::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT r.* FROM reminders r WHERE r.organization_id = ")
        .bind(actor.org_id)
        .push(" AND r.user_id = ")
        .bind(actor.user_id)
        .push(" AND r.status = 'FIRED' AND (r.fired_at > ")
        .bind(after.0)
        .push(" OR (r.fired_at = ")
        .bind(after.0)
        .push(" AND r.id > ")
        .bind(after.1)
        .push(")) ORDER BY r.fired_at, r.id")
        .limit(limit);
    Ok(reminder::Model::find_by_statement(sql.build())
        .all(db)
        .await?)
}
