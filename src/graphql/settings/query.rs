//! The settings queries.

use async_graphql::{Context, Object, Result};

use crate::{
    graphql::{
        context::{Caller, ContextExt},
        settings::types::{Label, MessageTemplate, Outcome, TaskType},
    },
    service::settings,
};

/// Settings queries.
#[derive(Default)]
pub struct SettingsQuery;

#[Object]
impl SettingsQuery {
    /// The organization's task types (also used as note types).
    #[graphql(
        complexity = "crate::graphql::page::list_cost(crate::graphql::page::SETTINGS_LIST_COST, child_complexity)"
    )]
    async fn task_types(&self, ctx: &Context<'_>) -> Result<Vec<TaskType>> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(settings::task_types(db, actor)
            .await?
            .into_iter()
            .map(TaskType)
            .collect())
    }
    /// The organization's task outcomes.
    #[graphql(
        complexity = "crate::graphql::page::list_cost(crate::graphql::page::SETTINGS_LIST_COST, child_complexity)"
    )]
    async fn outcomes(&self, ctx: &Context<'_>) -> Result<Vec<Outcome>> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(settings::outcomes(db, actor)
            .await?
            .into_iter()
            .map(Outcome)
            .collect())
    }
    /// The organization's note labels.
    #[graphql(
        complexity = "crate::graphql::page::list_cost(crate::graphql::page::SETTINGS_LIST_COST, child_complexity)"
    )]
    async fn labels(&self, ctx: &Context<'_>) -> Result<Vec<Label>> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(settings::labels(db, actor)
            .await?
            .into_iter()
            .map(Label::new)
            .collect())
    }
    /// The organization's message templates.
    #[graphql(
        complexity = "crate::graphql::page::list_cost(crate::graphql::page::SETTINGS_LIST_COST, child_complexity)"
    )]
    async fn message_templates(&self, ctx: &Context<'_>) -> Result<Vec<MessageTemplate>> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(settings::templates(db, actor)
            .await?
            .into_iter()
            .map(MessageTemplate)
            .collect())
    }
}
