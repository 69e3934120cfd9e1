//! The tasks mutations: planning, changing, completing and copying tasks.

use async_graphql::{Context, ID, Object, Result};

use crate::{
    error::ApiError,
    graphql::{
        context::{Caller, ContextExt},
        notes::Note,
        tasks::types::{CompleteTaskInput, CreateTaskInput, Task, TaskCompletion, UpdateTaskInput},
    },
    ids::{self, Kind},
    service,
};

/// Tasks.
#[derive(Default)]
pub struct TasksMutation;

#[Object]
impl TasksMutation {
    /// Plans a task (`WRITE` on the contact); it starts `PLANNED`.
    async fn create_task(&self, ctx: &Context<'_>, input: CreateTaskInput) -> Result<Task> {
        let Caller { db, actor } = ctx.caller()?;
        if input.contact_id.is_none() {
            return Err(ApiError::bad_input("input.contactId", "is required").into());
        }
        Ok(Task::new(
            service::tasks::create(db, actor, input.into_service()?).await?,
        ))
    }

    /// Changes an open task (`WRITE` on the contact).
    async fn update_task(&self, ctx: &Context<'_>, id: ID, input: UpdateTaskInput) -> Result<Task> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Task, &id)?;
        Ok(Task::new(
            service::tasks::update(db, actor, id, input.into_service()?).await?,
        ))
    }

    /// Completes an open task with an outcome and an action; a closed task is `CONFLICT`.
    async fn complete_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: CompleteTaskInput,
    ) -> Result<TaskCompletion> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Task, &id)?;
        let done = service::tasks::complete(db, actor, id, input.into_service()?).await?;
        Ok(TaskCompletion {
            task: Task::new(done.task),
            note: done.note.map(Note::new),
            follow_up: done.follow_up.map(Task::new),
        })
    }

    /// Copies a task: an identical new `PLANNED` task.
    async fn copy_task(&self, ctx: &Context<'_>, id: ID) -> Result<Task> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Task, &id)?;
        Ok(Task::new(service::tasks::copy(db, actor, id).await?))
    }
}
