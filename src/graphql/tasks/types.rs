//! Tasks in GraphQL: the `Task` type, completion, filters and inputs.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    error::ApiResult,
    graphql::{
        contacts::Contact,
        context::{Caller, ContextExt},
        notes::Note,
        page::{decode_time_cursor, encode_time_cursor, maybe},
        settings::{Outcome, TaskType},
        users::User,
    },
    ids::{self, Kind},
    service::{
        self,
        tasks::{CompleteTask, CreateTask, TaskCursor, TaskFilter as ServiceFilter, UpdateTask},
        validate::timestamp,
    },
};

/// A task's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::tasks::TaskStatus")]
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

/// How a task is completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::tasks::CompleteAction")]
pub enum CompleteAction {
    /// Close it.
    Close,
    /// Close it and write a note about how it went.
    CloseWithNote,
    /// Close it and plan the follow-up task.
    Continue,
}

/// The order of the `tasks` list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::tasks::TaskOrderField")]
pub enum TaskOrderField {
    /// When the task was created.
    CreatedAt,
    /// When it is scheduled for.
    ScheduledAt,
}

/// Ascending or descending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::tasks::OrderDirection")]
pub enum OrderDirection {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

/// A task about a contact.
pub struct Task {
    pub(crate) row: entity::task::Model,
}

impl Task {
    /// A task the caller may see; related rows come through the request's loaders.
    pub fn new(row: entity::task::Model) -> Self {
        Self { row }
    }

    /// The task `id` through the request's loader, if there is one and the caller may see it.
    pub async fn load(ctx: &Context<'_>, id: Option<i64>) -> Result<Option<Task>> {
        let Some(id) = id else {
            return Ok(None);
        };
        Ok(ctx.loaders()?.tasks.load_one(id).await?.map(Task::new))
    }
}

#[Object]
impl Task {
    /// The task's opaque ID.
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Task, self.row.id))
    }
    /// The contact it is about.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        Contact::load(ctx, self.row.contact_id).await
    }
    /// What to do.
    async fn description(&self) -> &str {
        &self.row.description
    }
    /// Its type.
    #[graphql(name = "type")]
    async fn task_type(&self, ctx: &Context<'_>) -> Result<Option<TaskType>> {
        TaskType::load(ctx, self.row.type_id).await
    }
    /// Free-form tags.
    async fn tags(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        ctx.loaders()?.task_tags.load_or_default(self.row.id).await
    }
    /// When it is scheduled for (the creation time when none was given).
    async fn scheduled_at(&self) -> Option<DateTime<Utc>> {
        self.row.scheduled_at
    }
    /// When it starts.
    async fn start_at(&self) -> Option<DateTime<Utc>> {
        self.row.start_at
    }
    /// When it ends.
    async fn end_at(&self) -> Option<DateTime<Utc>> {
        self.row.end_at
    }
    /// When the responsible user is reminded.
    async fn remind_at(&self) -> Option<DateTime<Utc>> {
        self.row.remind_at
    }
    /// Who is responsible (shown outside the brackets in a task history).
    async fn responsible(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::load(ctx, Some(self.row.responsible_id)).await
    }
    /// Who created it (shown between brackets when not the responsible user).
    async fn creator(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::load(ctx, Some(self.row.creator_id)).await
    }
    /// Its state.
    async fn status(&self) -> Option<TaskStatus> {
        service::tasks::TaskStatus::parse(&self.row.status).map(TaskStatus::from)
    }
    /// The outcome it was completed with.
    async fn outcome(&self, ctx: &Context<'_>) -> Result<Option<Outcome>> {
        let Some(id) = self.row.outcome_id else {
            return Ok(None);
        };
        Ok(ctx.loaders()?.outcomes.load_one(id).await?.map(Outcome))
    }
    /// The note it came with.
    async fn note(&self, ctx: &Context<'_>) -> Result<Option<Note>> {
        Note::load(ctx, self.row.note_id).await
    }
    /// The note it was closed with (`CLOSE_WITH_NOTE`).
    async fn closing_note(&self, ctx: &Context<'_>) -> Result<Option<Note>> {
        Note::load(ctx, self.row.closing_note_id).await
    }
    /// The task this one follows up (`CONTINUE`).
    async fn continued_from(&self, ctx: &Context<'_>) -> Result<Option<Task>> {
        Task::load(ctx, self.row.continued_from_id).await
    }
    /// The task that follows this one up (`CONTINUE`).
    async fn follow_up(&self, ctx: &Context<'_>) -> Result<Option<Task>> {
        let next = ctx.loaders()?.follow_ups.load_one(self.row.id).await?;
        Task::load(ctx, next.map(|t| t.id)).await
    }
    /// The task this one is a copy of.
    async fn copied_from(&self, ctx: &Context<'_>) -> Result<Option<Task>> {
        Task::load(ctx, self.row.copied_from_id).await
    }
    /// When it was completed.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.row.completed_at
    }
    /// Who completed it.
    async fn completed_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::load(ctx, self.row.completed_by).await
    }
    /// When it was created (between brackets in a task history when not the scheduled day).
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

/// What `completeTask` did.
#[derive(SimpleObject)]
pub struct TaskCompletion {
    /// The closed task.
    pub task: Task,
    /// The note written (`CLOSE_WITH_NOTE`).
    pub note: Option<Note>,
    /// The follow-up planned (`CONTINUE`).
    pub follow_up: Option<Task>,
}

/// What `createTask` takes (also `createNote`'s `task` and `completeTask`'s `followUp`, where
/// `contactId` may be left out: the note's or the task's contact is used).
#[derive(InputObject)]
pub struct CreateTaskInput {
    /// The contact (`WRITE` access).
    pub contact_id: Option<ID>,
    /// What to do (1 to 2000 characters).
    pub description: String,
    /// Its type.
    pub type_id: Option<ID>,
    /// Free-form tags.
    pub tags: Option<Vec<String>>,
    /// When it is scheduled for (default: now).
    pub scheduled_at: Option<DateTime<Utc>>,
    /// When it starts.
    pub start_at: Option<DateTime<Utc>>,
    /// When it ends.
    pub end_at: Option<DateTime<Utc>>,
    /// When to remind the responsible user.
    pub remind_at: Option<DateTime<Utc>>,
    /// Who is responsible (default: the contact's consultant, else the creator); they must be
    /// able to see the contact.
    pub responsible_id: Option<ID>,
}

impl CreateTaskInput {
    /// The service input, IDs decoded (contact 0 when left out, filled in by the caller).
    pub fn into_service(self) -> ApiResult<CreateTask> {
        Ok(CreateTask {
            contact_id: ids::decode_opt(Kind::Contact, self.contact_id)?.unwrap_or(0),
            description: self.description,
            type_id: ids::decode_opt(Kind::TaskType, self.type_id)?,
            tags: self.tags.unwrap_or_default(),
            scheduled_at: timestamp("input.scheduledAt", self.scheduled_at)?,
            start_at: timestamp("input.startAt", self.start_at)?,
            end_at: timestamp("input.endAt", self.end_at)?,
            remind_at: timestamp("input.remindAt", self.remind_at)?,
            responsible_id: ids::decode_opt(Kind::User, self.responsible_id)?,
        })
    }
}

/// What `updateTask` takes; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateTaskInput {
    /// New description.
    pub description: Option<String>,
    /// New type; null clears it.
    pub type_id: MaybeUndefined<ID>,
    /// New tags (replace).
    pub tags: Option<Vec<String>>,
    /// New schedule.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// New start; null clears it.
    pub start_at: MaybeUndefined<DateTime<Utc>>,
    /// New end; null clears it.
    pub end_at: MaybeUndefined<DateTime<Utc>>,
    /// New responsible user.
    pub responsible_id: Option<ID>,
    /// `PLANNED` or `IN_PROGRESS` (close a task with `completeTask`).
    pub status: Option<TaskStatus>,
}

impl UpdateTaskInput {
    /// The service input, IDs decoded.
    pub fn into_service(self) -> ApiResult<UpdateTask> {
        Ok(UpdateTask {
            description: self.description,
            type_id: maybe(self.type_id, |id| ids::decode(Kind::TaskType, &id))?,
            tags: self.tags,
            scheduled_at: timestamp("input.scheduledAt", self.scheduled_at)?,
            start_at: maybe(self.start_at, |at| {
                timestamp("input.startAt", Some(at)).map(|_| at)
            })?,
            end_at: maybe(self.end_at, |at| {
                timestamp("input.endAt", Some(at)).map(|_| at)
            })?,
            responsible_id: ids::decode_opt(Kind::User, self.responsible_id)?,
            status: self.status.map(Into::into),
        })
    }
}

/// The note `CLOSE_WITH_NOTE` writes (about the task's contact).
#[derive(InputObject)]
pub struct ClosingNoteInput {
    /// Subject line.
    pub subject: Option<String>,
    /// Plain-text body.
    pub body: Option<String>,
    /// HTML body (sanitised).
    pub body_html: Option<String>,
    /// Who may read it (default `TEAM`).
    pub visibility: Option<crate::graphql::notes::Visibility>,
    /// Labels.
    pub label_ids: Option<Vec<ID>>,
}

/// What `completeTask` takes.
#[derive(InputObject)]
pub struct CompleteTaskInput {
    /// The outcome (the `CANCELLED` outcome makes the task `CANCELLED`, any other `DONE`).
    pub outcome_id: ID,
    /// `CLOSE`, `CLOSE_WITH_NOTE` or `CONTINUE`.
    pub action: CompleteAction,
    /// The note, with `CLOSE_WITH_NOTE`.
    pub note: Option<ClosingNoteInput>,
    /// The follow-up, with `CONTINUE`; without it the task type's suggested next type and delay
    /// are used (else the same type, one day later).
    pub follow_up: Option<CreateTaskInput>,
}

impl CompleteTaskInput {
    /// The service input, IDs decoded.
    pub fn into_service(self) -> ApiResult<CompleteTask> {
        let note = match self.note {
            Some(n) => Some(service::notes::CreateNote {
                contact_id: 0,
                subject: n.subject,
                body: n.body,
                body_html: n.body_html,
                visibility: n.visibility.map(Into::into),
                label_ids: ids::decode_many(Kind::Label, "input.note.labelIds", n.label_ids)?,
                ..Default::default()
            }),
            None => None,
        };
        Ok(CompleteTask {
            outcome_id: ids::decode(Kind::Outcome, &self.outcome_id)?,
            action: self.action.into(),
            note,
            follow_up: self
                .follow_up
                .map(CreateTaskInput::into_service)
                .transpose()?,
        })
    }
}

/// The `tasks` filter.
#[derive(InputObject, Default)]
pub struct TaskFilter {
    /// Tasks of this contact.
    pub contact_id: Option<ID>,
    /// Tasks this user is responsible for.
    pub responsible_id: Option<ID>,
    /// Tasks in any of these states.
    pub status: Option<Vec<TaskStatus>>,
    /// Tasks scheduled at or after this time.
    pub scheduled_from: Option<DateTime<Utc>>,
    /// Tasks scheduled before this time.
    pub scheduled_to: Option<DateTime<Utc>>,
    /// Tasks carrying this tag.
    pub tag: Option<String>,
}

/// The order of the `tasks` list.
#[derive(InputObject)]
pub struct TaskOrder {
    /// By creation or by scheduled time.
    #[graphql(default_with = "TaskOrderField::CreatedAt")]
    pub field: TaskOrderField,
    /// `DESC` (newest first, the default) or `ASC`.
    #[graphql(default_with = "OrderDirection::Desc")]
    pub direction: OrderDirection,
}

/// Extra fields of the tasks connection.
pub struct TaskConnectionFields {
    pub(crate) filter: ServiceFilter,
}

#[Object]
impl TaskConnectionFields {
    /// How many tasks match (all pages).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(service::tasks::count(db, actor, &self.filter).await?)
    }
}

pub(crate) fn encode_cursor(
    field: service::tasks::TaskOrderField,
    row: &entity::task::Model,
) -> String {
    let at = match field {
        service::tasks::TaskOrderField::CreatedAt => row.created_at,
        service::tasks::TaskOrderField::ScheduledAt => row.scheduled_at.unwrap_or(row.created_at),
    };
    encode_time_cursor("k", at, row.id)
}

pub(crate) fn decode_cursor(cursor: Option<&str>) -> ApiResult<Option<TaskCursor>> {
    Ok(decode_time_cursor("k", cursor)?.map(|(at, id)| TaskCursor { at, id }))
}
