//! Settings types: task types, outcomes, labels and message templates, and their inputs.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};
use chrono::{DateTime, Utc};

use crate::{
    graphql::{context::ContextExt, page::maybe},
    ids::{self, Kind},
    service::settings::{TaskTypeInput as ServiceTaskTypeInput, TemplateInput},
};

/// A type of task (and of note), with the follow-up `CONTINUE` suggests.
pub struct TaskType(pub entity::task_type::Model);

#[Object]
impl TaskType {
    /// The type's opaque ID.
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::TaskType, self.0.id))
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The type `CONTINUE` gives the follow-up when none is given.
    async fn next_type_id(&self) -> Option<ID> {
        self.0
            .next_type_id
            .map(|id| ID(ids::encode(Kind::TaskType, id)))
    }
    /// Minutes after completion at which the suggested follow-up is scheduled.
    async fn next_delay_minutes(&self) -> Option<i32> {
        self.0.next_delay_minutes
    }
}

impl TaskType {
    /// The task type `id` through the request's loader, if there is one.
    pub async fn load(ctx: &Context<'_>, id: Option<i64>) -> Result<Option<TaskType>> {
        let Some(id) = id else {
            return Ok(None);
        };
        Ok(ctx.loaders()?.task_types.load_one(id).await?.map(TaskType))
    }
}

/// How a task ended.
pub struct Outcome(pub entity::outcome::Model);

#[Object]
impl Outcome {
    /// The outcome's opaque ID.
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Outcome, self.0.id))
    }
    /// The seeded outcomes' stable code (`CANCELLED`, `NEGATIVE`, `POSITIVE`, `SOLD`).
    async fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
}

/// A label for grouping notes.
pub struct Label {
    pub(crate) row: entity::label::Model,
}

#[Object]
impl Label {
    /// The label's opaque ID.
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Label, self.row.id))
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.row.name
    }
    /// Display color (`#rrggbb`).
    async fn color(&self) -> Option<&str> {
        self.row.color.as_deref()
    }
}

impl Label {
    /// Wraps a label row.
    pub fn new(row: entity::label::Model) -> Self {
        Self { row }
    }
}

/// A message template: its subject and body fill a note, with `{{contact.name}}`,
/// `{{contact.email}}`, `{{contact.phone}}`, `{{user.name}}`, `{{user.email}}` and `{{date}}`
/// resolved.
pub struct MessageTemplate(pub entity::message_template::Model);

#[Object]
impl MessageTemplate {
    /// The template's opaque ID.
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::MessageTemplate, self.0.id))
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Subject, with placeholders.
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }
    /// Body, with placeholders.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A task type to create or change.
#[derive(InputObject)]
pub struct TaskTypeInput {
    /// Display name (required to create).
    pub name: Option<String>,
    /// The type `CONTINUE` suggests for the follow-up; null clears it.
    pub next_type_id: MaybeUndefined<ID>,
    /// Minutes after completion for the suggested follow-up; null clears it.
    pub next_delay_minutes: MaybeUndefined<i32>,
}

/// An outcome to create or rename.
#[derive(InputObject)]
pub struct OutcomeInput {
    /// Display name.
    pub name: String,
}

/// A label to create or change.
#[derive(InputObject)]
pub struct LabelInput {
    /// Display name (required to create).
    pub name: Option<String>,
    /// Display color (`#rrggbb`); null clears it.
    pub color: MaybeUndefined<String>,
}

/// A message template to create or change.
#[derive(InputObject)]
pub struct MessageTemplateInput {
    /// Display name (required to create).
    pub name: Option<String>,
    /// Subject; null clears it.
    pub subject: MaybeUndefined<String>,
    /// Body.
    pub body: Option<String>,
}

pub(crate) fn task_type_input(
    input: TaskTypeInput,
) -> crate::error::ApiResult<ServiceTaskTypeInput> {
    Ok(ServiceTaskTypeInput {
        name: input.name,
        next_type_id: maybe(input.next_type_id, |id| ids::decode(Kind::TaskType, &id))?,
        next_delay_minutes: maybe(input.next_delay_minutes, Ok)?,
    })
}

pub(crate) fn template_input(
    input: MessageTemplateInput,
) -> crate::error::ApiResult<TemplateInput> {
    Ok(TemplateInput {
        name: input.name,
        subject: maybe(input.subject, Ok)?,
        body: input.body,
    })
}
