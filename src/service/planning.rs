//! Planning a task: the one way a task row comes to be, with its tags, its reminder, its
//! `TASK_CREATED` event and the notification of its responsible user (when that is someone
//! else), inside the caller's transaction. `createTask`, `copyTask`, `completeTask`'s follow-up
//! and `createNote`'s task all plan through [`create_in`]; the checks that re-planning
//! (`updateTask`) shares live here too.
//!
//! Dependencies run one way: notes and tasks call down into this module; it calls neither of
//! them (a note may plan a task, and completing a task may write a note, so the shared part
//! sits below both).

use chrono::{DateTime, Utc};
use entity::{task, task_tag};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde_json::json;

use super::{
    access::{self, VisibleContact},
    notifications, now,
    reminders::{self, RemindOf},
    replace_rows, settings,
    timeline::{Audience, EventKind, Events, NewEvent, title_of},
    users, validate,
};
use crate::{
    error::{ApiError, ApiResult},
    service::actor::Actor,
};

/// A task's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    /// Created, not started (every new task).
    Planned,
    /// Being worked on.
    InProgress,
    /// Completed.
    Done,
    /// Completed with the `CANCELLED` outcome.
    Cancelled,
}

impl TaskStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }

    /// Whether the task is completed (`DONE` or `CANCELLED`).
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Done | Self::Cancelled)
    }
}

/// What `createTask` takes (also the follow-up of `CONTINUE` and the task of `createNote`).
#[derive(Clone, Debug, Default)]
pub struct CreateTask {
    /// The contact.
    pub contact_id: i64,
    /// What to do.
    pub description: String,
    /// Task type.
    pub type_id: Option<i64>,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// When it is scheduled for (default: now).
    pub scheduled_at: Option<DateTime<Utc>>,
    /// When it starts.
    pub start_at: Option<DateTime<Utc>>,
    /// When it ends.
    pub end_at: Option<DateTime<Utc>>,
    /// When to remind the responsible user.
    pub remind_at: Option<DateTime<Utc>>,
    /// Who is responsible (default: the contact's consultant, else the creator).
    pub responsible_id: Option<i64>,
}

/// Checks and deduplicates a task's tags; `field` names the list in errors.
pub(super) fn clean_tags(field: &str, tags: &[String]) -> ApiResult<Vec<String>> {
    if tags.len() > 20 {
        return Err(ApiError::bad_input(field, "at most 20 tags"));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let tag = validate::name(&format!("{field}[{i}]"), tag)?;
        if tag.chars().count() > 50 {
            return Err(ApiError::bad_input(
                format!("{field}[{i}]"),
                "tags are at most 50 characters",
            ));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// Checks a task's description: 1 to 2000 characters.
pub(super) fn description(field: &str, text: &str) -> ApiResult<String> {
    validate::long_text(field, Some(text), 2000)?
        .ok_or_else(|| ApiError::bad_input(field, "must not be empty"))
}

fn tag_rows(org: i64, task_id: i64, tags: &[String]) -> Vec<task_tag::ActiveModel> {
    tags.iter()
        .map(|tag| task_tag::ActiveModel {
            task_id: Set(task_id),
            organization_id: Set(org),
            tag: Set(tag.clone()),
        })
        .collect()
}

/// Replaces a task's tags on the caller's transaction.
pub(super) async fn set_tags<C: ConnectionTrait>(
    db: &C,
    org: i64,
    task_id: i64,
    tags: &[String],
) -> ApiResult<()> {
    let old = task_tag::Entity::delete_many()
        .filter(task_tag::Column::OrganizationId.eq(org))
        .filter(task_tag::Column::TaskId.eq(task_id));
    replace_rows(db, old, tag_rows(org, task_id, tags)).await
}

/// Checks that `user_id` may be responsible for a task on `contact` (which the actor may
/// write to): an active staff user who can see the contact (owners and admins always can;
/// members need a grant). The actor themselves needs no statement: they are staff, signed in
/// and active (checked for this request), and `contact` is one they may see.
pub(super) async fn require_responsible<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    contact: &VisibleContact,
    user_id: i64,
    field: &str,
) -> ApiResult<()> {
    if user_id == actor.user_id && actor.is_staff() {
        return Ok(());
    }
    let contact_id = contact.contact.id;
    let user = users::require_active_staff(db, actor, user_id, field).await?;
    let Some(responsible) = crate::auth::actor_of(&user) else {
        return Err(ApiError::bad_input(field, "must be a staff user"));
    };
    if access::visible_contacts(db, &responsible, &[contact_id])
        .await?
        .is_empty()
    {
        return Err(ApiError::bad_input(
            field,
            format!(
                "{} has no access to this contact: grant it first",
                user.name
            ),
        ));
    }
    Ok(())
}

/// Where a new task comes from: set on its row before its `TASK_CREATED` event is written, so
/// the event's webhook shows the task as the API does.
#[derive(Clone, Copy, Debug, Default)]
pub struct Origin {
    /// The note it was written with (`createNote`'s task; a copy keeps its original's).
    pub note_id: Option<i64>,
    /// The task it follows up (`completeTask` with `CONTINUE`).
    pub continued_from_id: Option<i64>,
    /// The task it is a copy of (`copyTask`).
    pub copied_from_id: Option<i64>,
}

/// Creates a task on `contact` (already checked for `WRITE`) inside the caller's transaction;
/// its `TASK_CREATED` event goes into `events`, which the caller writes before it commits.
/// `prefix` names the input in errors (`input.`, `input.task.`, `input.followUp.`).
pub async fn create_in<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    contact: &VisibleContact,
    input: CreateTask,
    origin: Origin,
    prefix: &str,
    events: &mut Events<'_>,
) -> ApiResult<task::Model> {
    let f = |name: &str| format!("{prefix}{name}");
    let text = description(&f("description"), &input.description)?;
    let tags = clean_tags(&f("tags"), &input.tags)?;
    if let (Some(start), Some(end)) = (input.start_at, input.end_at)
        && end < start
    {
        return Err(ApiError::bad_input(
            f("endAt"),
            "must not be before startAt",
        ));
    }
    if let Some(type_id) = input.type_id {
        settings::task_type(db, actor.org_id, type_id).await?;
    }
    let responsible = input
        .responsible_id
        .or(contact.contact.consultant_id)
        .unwrap_or(actor.user_id);
    require_responsible(db, actor, contact, responsible, &f("responsibleId")).await?;
    let at = now();
    let row = task::ActiveModel {
        organization_id: Set(actor.org_id),
        contact_id: Set(contact.contact.id),
        description: Set(text.clone()),
        type_id: Set(input.type_id),
        scheduled_at: Set(Some(input.scheduled_at.unwrap_or(at))),
        start_at: Set(input.start_at),
        end_at: Set(input.end_at),
        remind_at: Set(input.remind_at),
        responsible_id: Set(responsible),
        creator_id: Set(actor.user_id),
        status: Set(TaskStatus::Planned.as_str().to_owned()),
        outcome_id: Set(None),
        note_id: Set(origin.note_id),
        closing_note_id: Set(None),
        continued_from_id: Set(origin.continued_from_id),
        copied_from_id: Set(origin.copied_from_id),
        completed_at: Set(None),
        completed_by: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    // A new task has no tags to replace.
    let tags = tag_rows(actor.org_id, row.id, &tags);
    if !tags.is_empty() {
        task_tag::Entity::insert_many(tags)
            .exec_without_returning(db)
            .await?;
    }
    if let Some(remind_at) = input.remind_at {
        reminders::add(
            db,
            actor.org_id,
            responsible,
            contact.contact.id,
            RemindOf::Task(row.id),
            remind_at,
        )
        .await?;
    }
    events
        .add(
            db,
            NewEvent {
                contact_id: contact.contact.id,
                kind: EventKind::TaskCreated,
                subject_kind: "Task",
                subject_id: row.id,
                summary: format!("{} planned a task: {}", actor.name, title_of(None, &text)),
                data: json!({ "responsibleId": responsible }),
                audience: Audience::Team,
            },
        )
        .await?;
    notifications::task_assigned(db, actor, &row).await?;
    Ok(row)
}
