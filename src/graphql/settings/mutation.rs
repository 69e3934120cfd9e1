//! The settings mutations.

use async_graphql::{Context, ID, Object, Result};

use super::types::{task_type_input, template_input};
use crate::{
    graphql::{
        context::{Caller, ContextExt},
        page::maybe,
        settings::types::{
            Label, LabelInput, MessageTemplate, MessageTemplateInput, Outcome, OutcomeInput,
            TaskType, TaskTypeInput,
        },
    },
    ids::{self, Kind},
    service::settings,
};

/// Settings mutations (owners and admins).
#[derive(Default)]
pub struct SettingsMutation;

#[Object]
impl SettingsMutation {
    /// Creates a task type.
    async fn create_task_type(&self, ctx: &Context<'_>, input: TaskTypeInput) -> Result<TaskType> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(TaskType(
            settings::save_task_type(db, actor, None, task_type_input(input)?).await?,
        ))
    }
    /// Changes a task type.
    async fn update_task_type(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: TaskTypeInput,
    ) -> Result<TaskType> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::TaskType, &id)?;
        Ok(TaskType(
            settings::save_task_type(db, actor, Some(id), task_type_input(input)?).await?,
        ))
    }
    /// Deletes a task type; its tasks and notes keep existing without a type.
    async fn delete_task_type(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let Caller { db, actor } = ctx.caller()?;
        settings::delete_task_type(db, actor, ids::decode(Kind::TaskType, &id)?).await?;
        Ok(id)
    }
    /// Creates an outcome.
    async fn create_outcome(&self, ctx: &Context<'_>, input: OutcomeInput) -> Result<Outcome> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(Outcome(
            settings::save_outcome(db, actor, None, &input.name).await?,
        ))
    }
    /// Renames an outcome.
    async fn update_outcome(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: OutcomeInput,
    ) -> Result<Outcome> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Outcome, &id)?;
        Ok(Outcome(
            settings::save_outcome(db, actor, Some(id), &input.name).await?,
        ))
    }
    /// Deletes an outcome no task was completed with (`CONFLICT` otherwise).
    async fn delete_outcome(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let Caller { db, actor } = ctx.caller()?;
        settings::delete_outcome(db, actor, ids::decode(Kind::Outcome, &id)?).await?;
        Ok(id)
    }
    /// Creates a label.
    async fn create_label(&self, ctx: &Context<'_>, input: LabelInput) -> Result<Label> {
        let Caller { db, actor } = ctx.caller()?;
        let color = maybe(input.color, Ok)?;
        let row = settings::save_label(
            db,
            actor,
            None,
            input.name.as_deref(),
            color.as_ref().map(|c| c.as_deref()),
        )
        .await?;
        Ok(Label::new(row))
    }
    /// Changes a label.
    async fn update_label(&self, ctx: &Context<'_>, id: ID, input: LabelInput) -> Result<Label> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Label, &id)?;
        let color = maybe(input.color, Ok)?;
        let row = settings::save_label(
            db,
            actor,
            Some(id),
            input.name.as_deref(),
            color.as_ref().map(|c| c.as_deref()),
        )
        .await?;
        Ok(Label::new(row))
    }
    /// Deletes a label; notes lose it.
    async fn delete_label(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let Caller { db, actor } = ctx.caller()?;
        settings::delete_label(db, actor, ids::decode(Kind::Label, &id)?).await?;
        Ok(id)
    }
    /// Creates a message template.
    async fn create_message_template(
        &self,
        ctx: &Context<'_>,
        input: MessageTemplateInput,
    ) -> Result<MessageTemplate> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(MessageTemplate(
            settings::save_template(db, actor, None, template_input(input)?).await?,
        ))
    }
    /// Changes a message template.
    async fn update_message_template(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: MessageTemplateInput,
    ) -> Result<MessageTemplate> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::MessageTemplate, &id)?;
        Ok(MessageTemplate(
            settings::save_template(db, actor, Some(id), template_input(input)?).await?,
        ))
    }
    /// Deletes a message template; notes written from it keep their text.
    async fn delete_message_template(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let Caller { db, actor } = ctx.caller()?;
        settings::delete_template(db, actor, ids::decode(Kind::MessageTemplate, &id)?).await?;
        Ok(id)
    }
}
