//! Tasks: planned about a contact, given to a responsible user, completed with an outcome and
//! an action (close, close with a note, or continue with a follow-up), or copied.
//!
//! Dependencies run one way: tasks sits above notes (completing a task may write a note) and
//! planning (where a task row is made, shared with `createNote`; `CreateTask`, `TaskStatus`
//! and `create_in` are re-exported from there). No service calls into tasks.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::task;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult,
    IntoActiveModel, QueryFilter, QueryOrder, TransactionSession, TransactionTrait,
};
use serde_json::json;

pub use super::children::tags_of;
pub use super::planning::{CreateTask, Origin, TaskStatus, create_in};
use super::{
    Page,
    access::{self, AccessLevel, VisibleContact},
    notes::{self, CreateNote},
    notifications, now,
    planning::{clean_tags, description, require_responsible, set_tags},
    settings,
    sql::Sql,
    timeline::{self, Audience, EventKind, Events, NewEvent, title_of},
};
use crate::{
    error::{ApiError, ApiResult},
    service::actor::Actor,
};

/// How a task is completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompleteAction {
    /// Close it.
    Close,
    /// Close it and write a note about how it went.
    CloseWithNote,
    /// Close it and plan the follow-up task.
    Continue,
}

/// What `updateTask` takes; absent fields stay as they are.
#[derive(Clone, Debug, Default)]
pub struct UpdateTask {
    /// New description.
    pub description: Option<String>,
    /// New type; `Some(None)` clears it.
    pub type_id: Option<Option<i64>>,
    /// New tags (replace).
    pub tags: Option<Vec<String>>,
    /// New schedule.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// New start; `Some(None)` clears it.
    pub start_at: Option<Option<DateTime<Utc>>>,
    /// New end; `Some(None)` clears it.
    pub end_at: Option<Option<DateTime<Utc>>>,
    /// New responsible user.
    pub responsible_id: Option<i64>,
    /// `PLANNED` or `IN_PROGRESS` (closing is `completeTask`).
    pub status: Option<TaskStatus>,
}

/// What `completeTask` takes.
#[derive(Clone, Debug)]
pub struct CompleteTask {
    /// The outcome.
    pub outcome_id: i64,
    /// What to do besides closing.
    pub action: CompleteAction,
    /// The note, for `CLOSE_WITH_NOTE`.
    pub note: Option<CreateNote>,
    /// The follow-up, for `CONTINUE`; without it the task type's suggestion is used.
    pub follow_up: Option<CreateTask>,
}

/// What `completeTask` did.
pub struct Completion {
    /// The closed task.
    pub task: task::Model,
    /// The note written (`CLOSE_WITH_NOTE`).
    pub note: Option<entity::note::Model>,
    /// The follow-up planned (`CONTINUE`).
    pub follow_up: Option<task::Model>,
}

/// The order of the `tasks` list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskOrderField {
    /// When the task was created.
    CreatedAt,
    /// When it is scheduled for.
    ScheduledAt,
}

/// Ascending or descending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderDirection {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

/// The `tasks` filter.
#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    /// Tasks of this contact.
    pub contact_id: Option<i64>,
    /// Tasks this user is responsible for.
    pub responsible_id: Option<i64>,
    /// Tasks in any of these states.
    pub status: Vec<TaskStatus>,
    /// Tasks scheduled at or after this time.
    pub scheduled_from: Option<DateTime<Utc>>,
    /// Tasks scheduled before this time.
    pub scheduled_to: Option<DateTime<Utc>>,
    /// Tasks carrying this tag.
    pub tag: Option<String>,
}

/// A position in a task list: the sort time and the id.
#[derive(Clone, Copy, Debug)]
pub struct TaskCursor {
    /// The sort key's time.
    pub at: DateTime<Utc>,
    /// The task id.
    pub id: i64,
}

/// Creates a task (`WRITE` on the contact).
#[tracing::instrument(skip_all, fields(contact_id = input.contact_id), err(level = "debug"))]
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    input: CreateTask,
) -> ApiResult<task::Model> {
    actor.require_staff("plan tasks")?;
    let txn = db.begin().await?;
    let contact = access::require_contact(
        &txn,
        actor,
        input.contact_id,
        AccessLevel::Write,
        "planning a task",
    )
    .await?;
    let mut events = Events::new(actor);
    let task = create_in(
        &txn,
        actor,
        &contact,
        input,
        Origin::default(),
        "input.",
        &mut events,
    )
    .await?;
    events.write(&txn).await?;
    txn.commit().await?;
    Ok(task)
}

fn push_filter(sql: &mut Sql, filter: &TaskFilter) {
    if let Some(contact) = filter.contact_id {
        sql.push(" AND t.contact_id = ").bind(contact);
    }
    if let Some(user) = filter.responsible_id {
        sql.push(" AND t.responsible_id = ").bind(user);
    }
    if !filter.status.is_empty() {
        sql.push(" AND t.status IN ")
            .bind_list(filter.status.iter().map(|s| s.as_str()));
    }
    if let Some(from) = filter.scheduled_from {
        sql.push(" AND t.scheduled_at >= ").bind(from);
    }
    if let Some(to) = filter.scheduled_to {
        sql.push(" AND t.scheduled_at < ").bind(to);
    }
    if let Some(tag) = &filter.tag {
        sql.push(" AND EXISTS (SELECT 1 FROM task_tags tt WHERE tt.task_id = t.id AND tt.tag = ")
            .bind(tag.clone())
            .push(")");
    }
}

/// One page of the tasks the actor may see, in the given order after `after`.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: &TaskFilter,
    order: (TaskOrderField, OrderDirection),
    after: Option<TaskCursor>,
    limit: u64,
) -> ApiResult<Page<task::Model>> {
    let column = match order.0 {
        TaskOrderField::CreatedAt => "t.created_at",
        TaskOrderField::ScheduledAt => "t.scheduled_at",
    };
    let (cmp, dir) = match order.1 {
        OrderDirection::Asc => (">", "ASC"),
        OrderDirection::Desc => ("<", "DESC"),
    };
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT t.*");
    access::push_tasks_from(&mut sql, actor);
    push_filter(&mut sql, filter);
    if let Some(cursor) = after {
        sql.push(&format!(" AND ({column} {cmp} "))
            .bind(cursor.at)
            .push(&format!(" OR ({column} = "))
            .bind(cursor.at)
            .push(&format!(" AND t.id {cmp} "))
            .bind(cursor.id)
            .push("))");
    }
    sql.push(&format!(" ORDER BY {column} {dir}, t.id {dir}"))
        .limit(limit + 1);
    let rows = task::Model::find_by_statement(sql.build()).all(db).await?;
    Ok(Page::from_fetched(rows, limit))
}

/// How many tasks the actor may see under `filter`.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn count<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: &TaskFilter,
) -> ApiResult<i64> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT COUNT(*) AS n");
    access::push_tasks_from(&mut sql, actor);
    push_filter(&mut sql, filter);
    sql.count(db).await
}

/// The tasks among `ids` the actor may see.
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn get_many<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[i64],
) -> ApiResult<HashMap<i64, task::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT t.*");
    access::push_tasks_from(&mut sql, actor);
    sql.push(" AND t.id IN ").bind_list(ids.iter().copied());
    let rows = task::Model::find_by_statement(sql.build()).all(db).await?;
    Ok(rows.into_iter().map(|t| (t.id, t)).collect())
}

/// The tasks created with each of the given notes that the actor may see, by note, oldest
/// first.
#[tracing::instrument(skip_all, fields(count = note_ids.len()), err(level = "debug"))]
pub async fn for_notes<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    note_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<task::Model>>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT t.*");
    access::push_tasks_from(&mut sql, actor);
    sql.push(" AND t.note_id IN ")
        .bind_list(note_ids.iter().copied())
        .push(" ORDER BY t.id");
    let mut by_note: HashMap<i64, Vec<task::Model>> = HashMap::new();
    for row in task::Model::find_by_statement(sql.build()).all(db).await? {
        if let Some(note) = row.note_id {
            by_note.entry(note).or_default().push(row);
        }
    }
    Ok(by_note)
}

/// The task `id` if the actor may see it; `NOT_FOUND` otherwise.
#[tracing::instrument(skip_all, fields(task_id = id), err(level = "debug"))]
pub async fn get<C: ConnectionTrait>(db: &C, actor: &Actor, id: i64) -> ApiResult<task::Model> {
    get_many(db, actor, &[id])
        .await?
        .remove(&id)
        .ok_or(ApiError::NotFound("Task"))
}

/// The follow-ups of the given tasks (the tasks that continue them), by the task they continue.
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn follow_ups_of<C: ConnectionTrait>(
    db: &C,
    org: i64,
    ids: &[i64],
) -> ApiResult<HashMap<i64, task::Model>> {
    Ok(task::Entity::find()
        .filter(task::Column::OrganizationId.eq(org))
        .filter(task::Column::ContinuedFromId.is_in(ids.iter().copied()))
        .order_by_asc(task::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|t| t.continued_from_id.map(|from| (from, t)))
        .collect())
}

async fn writable<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    what: &str,
) -> ApiResult<(task::Model, VisibleContact)> {
    let task = get(db, actor, id).await?;
    let contact =
        access::require_contact(db, actor, task.contact_id, AccessLevel::Write, what).await?;
    Ok((task, contact))
}

fn closed_conflict(task: &task::Model) -> ApiResult<()> {
    match TaskStatus::parse(&task.status) {
        Some(status) if status.is_closed() => Err(ApiError::conflict(format!(
            "the task is already {}; copy it to plan it again",
            status.as_str().to_lowercase()
        ))),
        _ => Ok(()),
    }
}

/// Updates an open task (`WRITE` on the contact); a closed one answers `CONFLICT`.
#[tracing::instrument(skip_all, fields(task_id = id), err(level = "debug"))]
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    input: UpdateTask,
) -> ApiResult<task::Model> {
    let text = input
        .description
        .as_deref()
        .map(|d| description("input.description", d))
        .transpose()?;
    let tags = input
        .tags
        .as_deref()
        .map(|t| clean_tags("input.tags", t))
        .transpose()?;
    if matches!(input.status, Some(TaskStatus::Done | TaskStatus::Cancelled)) {
        return Err(ApiError::bad_input(
            "input.status",
            "close a task with completeTask, which records its outcome",
        ));
    }
    let txn = db.begin().await?;
    let (task, contact) = writable(&txn, actor, id, "editing a task").await?;
    closed_conflict(&task)?;
    if let Some(Some(type_id)) = input.type_id {
        settings::task_type(&txn, actor.org_id, type_id).await?;
    }
    if let Some(user) = input.responsible_id {
        require_responsible(&txn, actor, &contact, user, "input.responsibleId").await?;
    }
    let start = input.start_at.unwrap_or(task.start_at);
    let end = input.end_at.unwrap_or(task.end_at);
    if let (Some(start), Some(end)) = (start, end)
        && end < start
    {
        return Err(ApiError::bad_input(
            "input.endAt",
            "must not be before startAt",
        ));
    }
    let mut row = task.clone().into_active_model();
    if let Some(text) = text {
        row.description = Set(text);
    }
    if let Some(type_id) = input.type_id {
        row.type_id = Set(type_id);
    }
    if let Some(at) = input.scheduled_at {
        row.scheduled_at = Set(Some(at));
    }
    row.start_at = Set(start);
    row.end_at = Set(end);
    if let Some(user) = input.responsible_id {
        row.responsible_id = Set(user);
    }
    if let Some(status) = input.status {
        row.status = Set(status.as_str().to_owned());
    }
    row.updated_at = Set(now());
    let row = row.update(&txn).await?;
    let mut changed = changed_fields(&task, &row);
    if let Some(tags) = tags {
        set_tags(&txn, actor.org_id, id, &tags).await?;
        changed.push("tags");
    }
    timeline::record(
        &txn,
        actor,
        NewEvent {
            contact_id: row.contact_id,
            kind: EventKind::TaskUpdated,
            subject_kind: "Task",
            subject_id: id,
            summary: format!(
                "{} updated a task: {}",
                actor.name,
                title_of(None, &row.description)
            ),
            data: json!({ "fields": changed }),
            audience: Audience::Team,
        },
    )
    .await?;
    if row.responsible_id != task.responsible_id {
        notifications::task_assigned(&txn, actor, &row).await?;
    }
    txn.commit().await?;
    Ok(row)
}

/// The API names of the fields an update changed (tags are added by the caller: they are not
/// on the row), for the `TASK_UPDATED` event and the webhook's `updatedFields`.
fn changed_fields(before: &task::Model, after: &task::Model) -> Vec<&'static str> {
    super::changed(&[
        ("description", before.description != after.description),
        ("type", before.type_id != after.type_id),
        ("scheduledAt", before.scheduled_at != after.scheduled_at),
        ("startAt", before.start_at != after.start_at),
        ("endAt", before.end_at != after.end_at),
        ("responsible", before.responsible_id != after.responsible_id),
        ("status", before.status != after.status),
    ])
}

/// Completes an open task with an outcome (`WRITE` on the contact): `CLOSE`, `CLOSE_WITH_NOTE`
/// (writes the note) or `CONTINUE` (plans the follow-up, from the input or from the task
/// type's suggestion). A closed task answers `CONFLICT`.
#[tracing::instrument(skip_all, fields(task_id = id), err(level = "debug"))]
pub async fn complete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    input: CompleteTask,
) -> ApiResult<Completion> {
    if input.action == CompleteAction::CloseWithNote && input.note.is_none() {
        return Err(ApiError::bad_input(
            "input.note",
            "CLOSE_WITH_NOTE needs the note",
        ));
    }
    if input.action != CompleteAction::CloseWithNote && input.note.is_some() {
        return Err(ApiError::bad_input(
            "input.note",
            "a note is written only with CLOSE_WITH_NOTE",
        ));
    }
    if input.action != CompleteAction::Continue && input.follow_up.is_some() {
        return Err(ApiError::bad_input(
            "input.followUp",
            "a follow-up is planned only with CONTINUE",
        ));
    }
    let txn = db.begin().await?;
    let (task, contact) = writable(&txn, actor, id, "completing a task").await?;
    closed_conflict(&task)?;
    let outcome = settings::outcome(&txn, actor.org_id, input.outcome_id).await?;
    let status = if outcome.code.as_deref() == Some("CANCELLED") {
        TaskStatus::Cancelled
    } else {
        TaskStatus::Done
    };
    let at = now();
    let note = match input.note {
        Some(mut note) => {
            note.contact_id = task.contact_id;
            if note.task.is_some() {
                return Err(ApiError::bad_input(
                    "input.note.task",
                    "plan a follow-up with CONTINUE instead",
                ));
            }
            let created = notes::create(&txn, actor, note)
                .await
                .map_err(|e| prefix_field(e, "input.note."))?;
            Some(created.note)
        }
        None => None,
    };
    let mut row = task.clone().into_active_model();
    row.status = Set(status.as_str().to_owned());
    row.outcome_id = Set(Some(outcome.id));
    row.closing_note_id = Set(note.as_ref().map(|n| n.id));
    row.completed_at = Set(Some(at));
    row.completed_by = Set(Some(actor.user_id));
    row.updated_at = Set(at);
    let closed = row.update(&txn).await?;
    // The completion and its follow-up are recorded together.
    let mut events = Events::new(actor);
    events
        .add(
            &txn,
            NewEvent {
                contact_id: task.contact_id,
                kind: EventKind::TaskCompleted,
                subject_kind: "Task",
                subject_id: id,
                summary: format!(
                    "{} completed a task ({}): {}",
                    actor.name,
                    outcome.name,
                    title_of(None, &task.description)
                ),
                data: json!({ "outcome": outcome.name, "status": status.as_str() }),
                audience: Audience::Team,
            },
        )
        .await?;
    let follow_up = if input.action == CompleteAction::Continue {
        let follow = match input.follow_up {
            Some(mut follow) => {
                follow.contact_id = task.contact_id;
                follow
            }
            None => suggested_follow_up(&txn, actor, &task, at).await?,
        };
        let origin = Origin {
            continued_from_id: Some(id),
            ..Origin::default()
        };
        Some(
            create_in(
                &txn,
                actor,
                &contact,
                follow,
                origin,
                "input.followUp.",
                &mut events,
            )
            .await?,
        )
    } else {
        None
    };
    events.write(&txn).await?;
    txn.commit().await?;
    Ok(Completion {
        task: closed,
        note,
        follow_up,
    })
}

/// The follow-up `CONTINUE` plans without details: the type's suggested next type (else the
/// same type), scheduled the type's delay after now (else one day), for the same person.
async fn suggested_follow_up<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    task: &task::Model,
    at: DateTime<Utc>,
) -> ApiResult<CreateTask> {
    let task_type = match task.type_id {
        Some(id) => Some(settings::task_type(db, actor.org_id, id).await?),
        None => None,
    };
    let next_type = task_type
        .as_ref()
        .and_then(|t| t.next_type_id)
        .or(task.type_id);
    let delay = task_type
        .as_ref()
        .and_then(|t| t.next_delay_minutes)
        .map(|m| Duration::minutes(i64::from(m)))
        .unwrap_or_else(|| Duration::days(1));
    let tags = tags_of(db, actor.org_id, &[task.id])
        .await?
        .remove(&task.id)
        .unwrap_or_default();
    Ok(CreateTask {
        contact_id: task.contact_id,
        description: task.description.clone(),
        type_id: next_type,
        tags,
        scheduled_at: Some(at + delay),
        start_at: None,
        end_at: None,
        remind_at: None,
        responsible_id: Some(task.responsible_id),
    })
}

fn prefix_field(error: ApiError, prefix: &str) -> ApiError {
    match error {
        ApiError::BadInput { field, message } => ApiError::BadInput {
            field: format!("{prefix}{}", field.trim_start_matches("input.")),
            message,
        },
        other => other,
    }
}

/// Copies a task (`WRITE` on the contact): an identical new `PLANNED` task by the caller.
#[tracing::instrument(skip_all, fields(task_id = id), err(level = "debug"))]
pub async fn copy<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
) -> ApiResult<task::Model> {
    let txn = db.begin().await?;
    let (task, contact) = writable(&txn, actor, id, "copying a task").await?;
    let tags = tags_of(&txn, actor.org_id, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let input = CreateTask {
        contact_id: task.contact_id,
        description: task.description.clone(),
        type_id: task.type_id,
        tags,
        scheduled_at: task.scheduled_at,
        start_at: task.start_at,
        end_at: task.end_at,
        remind_at: task.remind_at.filter(|r| *r > now()),
        responsible_id: Some(task.responsible_id),
    };
    let origin = Origin {
        note_id: task.note_id,
        copied_from_id: Some(id),
        ..Origin::default()
    };
    let mut events = Events::new(actor);
    let copy = create_in(&txn, actor, &contact, input, origin, "input.", &mut events).await?;
    events.write(&txn).await?;
    txn.commit().await?;
    Ok(copy)
}
