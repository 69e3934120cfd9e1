//! Notifications: what a user is told about (a task assigned to them by someone else, a note
//! that mentions them, a reminder of theirs that fired), written on the transaction of the
//! change that caused it together with a bus signal, so it arrives when the change commits and
//! never when it rolls back; then listed, counted and marked read by that user alone.
//!
//! A notification is shown to its user only while they may still see what it is about (the
//! note or task, read through the same access rules as everywhere else; a fired reminder is
//! always its user's own): one that lost its subject is left out of the list, the unread count
//! and marking, in SQL.
//!
//! Dependencies run one way: planning, notes, tasks and reminders call down into this module; it
//! calls access (who may read a note, see a task), mentions and the timeline's `title_of`.

use entity::notification;
use sea_orm::{ConnectionTrait, FromQueryResult};

use super::{
    Page,
    access::{self, push_notes_from, push_tasks_from},
    mentions::{self, Candidate},
    now,
    sql::Sql,
    timeline::title_of,
};
use crate::{
    bus::{self, Signal},
    error::{ApiError, ApiResult},
    service::actor::Actor,
};

/// What a notification is about, as the contract's `NotificationKind` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationKind {
    /// A task was assigned to the user by someone else.
    TaskAssigned,
    /// A note mentions the user.
    Mentioned,
    /// A reminder of the user's fired.
    ReminderFired,
}

impl NotificationKind {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// One notification to write.
struct New<'a> {
    org: i64,
    user: i64,
    kind: NotificationKind,
    actor: Option<i64>,
    contact: i64,
    subject_kind: &'a str,
    subject_id: i64,
    summary: String,
}

/// Writes `new` on the caller's transaction and signals its user, unless it would repeat a
/// mention the user was already told about (the unique index on mentions). Returns whether it
/// was written.
async fn write<C: ConnectionTrait>(db: &C, new: New<'_>) -> ApiResult<bool> {
    // The user's notifications take their ids in commit order (the subscription reads by id).
    bus::order(db, bus::Stream::Notifications(new.user)).await?;
    let mut sql = Sql::new(db.get_database_backend());
    sql.push(
        "INSERT INTO notifications (organization_id, user_id, kind, actor_id, contact_id, \
         subject_kind, subject_id, summary, created_at) VALUES (",
    )
    .bind(new.org)
    .push(", ")
    .bind(new.user)
    .push(", ")
    .bind(new.kind.as_str())
    .push(", ")
    .bind(new.actor)
    .push(", ")
    .bind(new.contact)
    .push(", ")
    .bind(new.subject_kind)
    .push(", ")
    .bind(new.subject_id)
    .push(", ")
    .bind(new.summary)
    .push(", ")
    .bind(now())
    .push(") ON CONFLICT DO NOTHING RETURNING id");
    let written = db.query_one_raw(sql.build()).await?.is_some();
    if written {
        bus::publish(
            db,
            &Signal::Notifications {
                org: new.org,
                user: new.user,
            },
        )
        .await?;
    }
    Ok(written)
}

/// Tells the responsible user of a task just planned or re-assigned by `actor` about it, on the
/// actor's transaction; nobody is told about a task they gave themselves.
pub async fn task_assigned<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    task: &entity::task::Model,
) -> ApiResult<()> {
    if task.responsible_id == actor.user_id {
        return Ok(());
    }
    write(
        db,
        New {
            org: actor.org_id,
            user: task.responsible_id,
            kind: NotificationKind::TaskAssigned,
            actor: Some(actor.user_id),
            contact: task.contact_id,
            subject_kind: "Task",
            subject_id: task.id,
            summary: format!(
                "{} assigned you a task: {}",
                actor.name,
                title_of(None, &task.description)
            ),
        },
    )
    .await?;
    Ok(())
}

#[derive(FromQueryResult)]
struct UserName {
    id: i64,
    name: String,
    email: String,
}

/// Tells the users `note` mentions (see [`mentions`]) about it, on the transaction of `actor`'s
/// write: only users who may read the note (a private note mentions nobody), never its author
/// or the writer, and each user once per note, however often it is edited (an edit tells only
/// those it newly mentions, or who may newly read it). Returns who was told.
#[tracing::instrument(skip_all, fields(note_id = note.id), err(level = "debug"))]
pub async fn mentions_in_note<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    note: &entity::note::Model,
) -> ApiResult<Vec<i64>> {
    if note.visibility == "PRIVATE" {
        return Ok(Vec::new());
    }
    let html = note.body_html.as_deref().map(mentions::html_text);
    let texts: Vec<&str> = [
        note.subject.as_deref(),
        Some(note.body.as_str()),
        html.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !texts.iter().any(|t| mentions::may_mention(t)) {
        return Ok(Vec::new());
    }
    // Whom a mention may name: the organization's staff (deactivated ones too, so that the
    // longest name still wins) and the customer user of the note's contact. Who may read the
    // note is decided below, by the access rules.
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT u.id, u.name, u.email FROM users u WHERE u.organization_id = ")
        .bind(note.organization_id)
        .push(" AND (u.kind = 'STAFF' OR u.contact_id = ")
        .bind(note.contact_id)
        .push(")");
    let people = UserName::find_by_statement(sql.build()).all(db).await?;
    let candidates: Vec<Candidate<'_>> = people
        .iter()
        .map(|u| Candidate {
            id: u.id,
            name: &u.name,
            email: &u.email,
        })
        .collect();
    let named: Vec<i64> = mentions::mentioned(&texts, &candidates)
        .into_iter()
        .filter(|id| *id != note.author_id && *id != actor.user_id)
        .collect();
    let readers = access::note_readers(db, note, &named).await?;
    let title = title_of(note.subject.as_deref(), &note.body);
    let mut told = Vec::new();
    for user in readers {
        let written = write(
            db,
            New {
                org: note.organization_id,
                user,
                kind: NotificationKind::Mentioned,
                actor: Some(actor.user_id),
                contact: note.contact_id,
                subject_kind: "Note",
                subject_id: note.id,
                summary: format!("{} mentioned you in a note: {title}", actor.name),
            },
        )
        .await?;
        if written {
            told.push(user);
        }
    }
    Ok(told)
}

/// Tells a reminder's user that it fired, on the firing transaction.
pub async fn reminder_fired<C: ConnectionTrait>(
    db: &C,
    reminder: &entity::reminder::Model,
    about: &str,
) -> ApiResult<()> {
    write(
        db,
        New {
            org: reminder.organization_id,
            user: reminder.user_id,
            kind: NotificationKind::ReminderFired,
            actor: None,
            contact: reminder.contact_id,
            subject_kind: "Reminder",
            subject_id: reminder.id,
            summary: format!("Reminder: {about}"),
        },
    )
    .await?;
    Ok(())
}

/// Removes the notifications about a note being deleted (its mentions, and its reminders'),
/// on the deleting transaction: their summaries quote it.
pub async fn forget_note<C: ConnectionTrait>(db: &C, org: i64, note_id: i64) -> ApiResult<()> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("DELETE FROM notifications WHERE organization_id = ")
        .bind(org)
        .push(" AND ((kind = 'MENTIONED' AND subject_id = ")
        .bind(note_id)
        .push(") OR (subject_kind = 'Reminder' AND subject_id IN (SELECT r.id FROM reminders r WHERE r.organization_id = ")
        .bind(org)
        .push(" AND r.note_id = ")
        .bind(note_id)
        .push(")))");
    db.execute_raw(sql.build()).await?;
    Ok(())
}

/// Appends `FROM notifications nf WHERE <nf is the actor's and about something they may
/// still see>`.
fn push_own(sql: &mut Sql, actor: &Actor) {
    sql.push(" FROM notifications nf WHERE nf.organization_id = ")
        .bind(actor.org_id)
        .push(" AND nf.user_id = ")
        .bind(actor.user_id)
        .push(" AND ((nf.subject_kind = 'Note' AND EXISTS (SELECT 1");
    push_notes_from(sql, actor);
    sql.push(" AND n.id = nf.subject_id)) OR (nf.subject_kind = 'Task' AND EXISTS (SELECT 1");
    push_tasks_from(sql, actor);
    sql.push(" AND t.id = nf.subject_id)) OR (nf.subject_kind = 'Reminder' AND EXISTS (SELECT 1 FROM reminders r WHERE r.organization_id = ")
        .bind(actor.org_id)
        .push(" AND r.user_id = ")
        .bind(actor.user_id)
        .push(" AND r.id = nf.subject_id)))");
}

fn push_unread(sql: &mut Sql, unread: Option<bool>) {
    match unread {
        Some(true) => {
            sql.push(" AND nf.read_at IS NULL");
        }
        Some(false) => {
            sql.push(" AND nf.read_at IS NOT NULL");
        }
        None => {}
    }
}

/// One page of the actor's notifications, newest first, before row id `after`; `unread`
/// keeps only the unread (`true`) or the read (`false`) ones.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    unread: Option<bool>,
    after: Option<i64>,
    limit: u64,
) -> ApiResult<Page<notification::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT nf.*");
    push_own(&mut sql, actor);
    push_unread(&mut sql, unread);
    if let Some(after) = after {
        sql.push(" AND nf.id < ").bind(after);
    }
    sql.push(" ORDER BY nf.id DESC").limit(limit + 1);
    let rows = notification::Model::find_by_statement(sql.build())
        .all(db)
        .await?;
    Ok(Page::from_fetched(rows, limit))
}

/// How many of the actor's notifications there are (`unread` as in [`list`]).
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn count<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    unread: Option<bool>,
) -> ApiResult<i64> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT COUNT(*) AS n");
    push_own(&mut sql, actor);
    push_unread(&mut sql, unread);
    sql.count(db).await
}

/// The actor's notifications among `ids` (for `node`), as [`list`] shows them.
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn get_many<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[i64],
) -> ApiResult<Vec<notification::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT nf.*");
    push_own(&mut sql, actor);
    sql.push(" AND nf.id IN ").bind_list(ids.iter().copied());
    Ok(notification::Model::find_by_statement(sql.build())
        .all(db)
        .await?)
}

/// Which of the actor's notifications to mark read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Marking {
    /// These (the actor's own among them; others' are not touched).
    Ids(Vec<i64>),
    /// Every unread one.
    All,
}

/// Marks the actor's unread notifications named by `which` read; returns how many it marked
/// (already-read ones, and ids that name no notification of the actor, are not counted).
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn mark_read<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    which: &Marking,
) -> ApiResult<u64> {
    if matches!(which, Marking::Ids(ids) if ids.is_empty()) {
        return Ok(0);
    }
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("UPDATE notifications SET read_at = ")
        .bind(now())
        .push(" WHERE id IN (SELECT nf.id");
    push_own(&mut sql, actor);
    push_unread(&mut sql, Some(true));
    if let Marking::Ids(ids) = which {
        sql.push(" AND nf.id IN ").bind_list(ids.iter().copied());
    }
    sql.push(")");
    Ok(db.execute_raw(sql.build()).await?.rows_affected())
}

/// The id of the actor's newest notification (0 when none): where a live subscription starts.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn latest_id<C: ConnectionTrait>(db: &C, actor: &Actor) -> ApiResult<i64> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push(
        "SELECT COALESCE(MAX(nf.id), 0) AS n FROM notifications nf WHERE nf.organization_id = ",
    )
    .bind(actor.org_id)
    .push(" AND nf.user_id = ")
    .bind(actor.user_id);
    sql.count(db).await
}

/// The actor's notifications newer than id `after`, oldest first, at most `limit` (for the
/// `notifications` subscription).
#[tracing::instrument(skip_all, fields(after = after), err(level = "debug"))]
pub async fn newer<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    after: i64,
    limit: u64,
) -> ApiResult<Vec<notification::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT nf.*");
    push_own(&mut sql, actor);
    sql.push(" AND nf.id > ")
        .bind(after)
        .push(" ORDER BY nf.id")
        .limit(limit);
    Ok(notification::Model::find_by_statement(sql.build())
        .all(db)
        .await?)
}

/// Checks `markNotificationsRead`'s arguments: exactly one of `ids` and `all: true`. Returns
/// the ids to mark, or `None` to mark all.
pub fn marking<T>(ids: Option<T>, all: Option<bool>) -> ApiResult<Option<T>> {
    match (ids, all) {
        (Some(ids), None) => Ok(Some(ids)),
        (None, Some(true)) => Ok(None),
        (None, Some(false)) => Err(ApiError::bad_input(
            "all",
            "pass all: true to mark every notification read, or ids",
        )),
        (Some(_), Some(_)) => Err(ApiError::bad_input(
            "all",
            "pass either ids or all, not both",
        )),
        (None, None) => Err(ApiError::bad_input(
            "ids",
            "pass the ids to mark read, or all: true",
        )),
    }
}
