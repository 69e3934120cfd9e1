//! Notes in GraphQL: the `Note` type, attachments, filters and inputs.

use async_graphql::{
    Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject, Upload,
};
use chrono::{DateTime, Utc};

use crate::{
    error::ApiResult,
    graphql::{
        contacts::Contact,
        context::{Caller, ContextExt},
        page::maybe,
        settings::{Label, MessageTemplate, TaskType},
        tasks::{CreateTaskInput, Task},
        users::User,
    },
    ids::{self, Kind},
    service::{
        self,
        attachments::Uploads,
        contacts::VisibleContact,
        notes::{AttachedTo, CreateNote, NoteFilter as ServiceFilter, NoteRow, UpdateNote},
        validate::timestamp,
    },
};

/// Who may read a note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::notes::Visibility")]
pub enum Visibility {
    /// Its author only.
    Private,
    /// Everyone with read access to the contact.
    Team,
    /// Also the contact's customer user.
    Customer,
}

/// A file attached to a note. Download it from `url` with the same bearer token.
pub struct Attachment(pub entity::attachment::Model);

#[Object]
impl Attachment {
    /// The attachment's opaque ID.
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Attachment, self.0.id))
    }
    /// The uploaded file name.
    async fn filename(&self) -> &str {
        &self.0.filename
    }
    /// The stored content type.
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// Size in bytes.
    async fn size(&self) -> i64 {
        self.0.size
    }
    /// Hex SHA-256 of the content.
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    /// Where to download it: `GET` with `Authorization: Bearer <token>`.
    async fn url(&self) -> String {
        format!(
            "/attachments/{}",
            ID(ids::encode(Kind::Attachment, self.0.id)).0
        )
    }
    /// When it was uploaded.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A record elsewhere (an order, a product, a booking...) a note is attached to.
#[derive(SimpleObject)]
pub struct AttachedRecord {
    /// Its kind, such as `order`.
    pub kind: String,
    /// Its id in the system it lives in.
    pub id: String,
}

/// A note about a contact.
pub struct Note {
    /// The row.
    pub row: entity::note::Model,
    /// Its labels and tasks when the request itself just wrote them (`createNote`), so the
    /// answer shows them without reading them back; otherwise they come through the loaders.
    written: Option<Written>,
    /// What a notes page read about it in its own statement (`None`: nothing, the loaders read
    /// its author and contact). Boxed: the output types holding a note stay small.
    read: Option<Box<PageRead>>,
}

/// What a notes page read with a note: for each, `None` means not read (ask the loader) and
/// `Some(None)` that there is none the caller may see.
struct PageRead {
    author: Option<Option<entity::user::Model>>,
    contact: Option<Option<VisibleContact>>,
}

/// What `createNote` wrote beside the note.
struct Written {
    labels: Vec<entity::label::Model>,
    tasks: Vec<entity::task::Model>,
}

impl Note {
    /// A note the caller may see; related rows come through the request's loaders.
    pub fn new(row: entity::note::Model) -> Self {
        Self {
            row,
            written: None,
            read: None,
        }
    }

    /// A note of a notes page, with what the page read about it.
    pub fn read(row: NoteRow) -> Self {
        Self {
            row: row.note,
            written: None,
            read: Some(Box::new(PageRead {
                author: row.author,
                contact: row.contact,
            })),
        }
    }

    /// The note `createNote` just committed, with the labels and task it wrote (a new note has
    /// no others).
    pub fn created(created: service::notes::Created) -> Self {
        Self {
            row: created.note,
            written: Some(Written {
                labels: created.labels,
                tasks: created.task.into_iter().collect(),
            }),
            read: None,
        }
    }

    /// The note `id` through the request's loader, if there is one and the caller may see it.
    pub async fn load(ctx: &Context<'_>, id: Option<i64>) -> Result<Option<Note>> {
        let Some(id) = id else {
            return Ok(None);
        };
        Ok(ctx.loaders()?.notes.load_one(id).await?.map(Note::new))
    }
}

#[Object]
impl Note {
    /// The note's opaque ID.
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Note, self.row.id))
    }
    /// The contact it is about.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        if let Some(contact) = self.read.as_ref().and_then(|r| r.contact.as_ref()) {
            return Ok(contact.clone().map(Contact::new));
        }
        Contact::load(ctx, self.row.contact_id).await
    }
    /// Who wrote it (null when the caller may not see that user).
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        if let Some(author) = self.read.as_ref().and_then(|r| r.author.as_ref()) {
            return Ok(author.clone().map(User));
        }
        User::load(ctx, Some(self.row.author_id)).await
    }
    /// Subject line.
    async fn subject(&self) -> Option<&str> {
        self.row.subject.as_deref()
    }
    /// Plain-text body.
    async fn body(&self) -> &str {
        &self.row.body
    }
    /// HTML body, sanitised when written (no scripts, event handlers or `javascript:` links).
    async fn body_html(&self) -> Option<&str> {
        self.row.body_html.as_deref()
    }
    /// Who may read it.
    async fn visibility(&self) -> Option<Visibility> {
        service::notes::Visibility::parse(&self.row.visibility).map(Visibility::from)
    }
    /// Its labels, by name.
    #[graphql(
        complexity = "crate::graphql::page::list_cost(crate::graphql::page::SETTINGS_LIST_COST, child_complexity)"
    )]
    async fn labels(&self, ctx: &Context<'_>) -> Result<Vec<Label>> {
        // Labels, types and templates are internal settings: not shown to customer users.
        if !ctx.caller()?.actor.is_staff() {
            return Ok(Vec::new());
        }
        let rows = match &self.written {
            Some(written) => written.labels.clone(),
            None => {
                ctx.loaders()?
                    .note_labels
                    .load_or_default(self.row.id)
                    .await?
            }
        };
        Ok(rows.into_iter().map(Label::new).collect())
    }
    /// Its type.
    #[graphql(name = "type")]
    async fn note_type(&self, ctx: &Context<'_>) -> Result<Option<TaskType>> {
        let actor = ctx.caller()?.actor;
        if !actor.is_staff() {
            return Ok(None);
        }
        TaskType::load(ctx, self.row.type_id).await
    }
    /// The template it was written from (null once the template is deleted).
    async fn template(&self, ctx: &Context<'_>) -> Result<Option<MessageTemplate>> {
        let (true, Some(id)) = (ctx.caller()?.actor.is_staff(), self.row.template_id) else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()?
            .templates
            .load_one(id)
            .await?
            .map(MessageTemplate))
    }
    /// The record elsewhere it is attached to.
    async fn attached_to(&self) -> Option<AttachedRecord> {
        Some(AttachedRecord {
            kind: self.row.attached_kind.clone()?,
            id: self.row.attached_id.clone()?,
        })
    }
    /// Files attached to the note, oldest first.
    #[graphql(
        complexity = "crate::graphql::page::list_cost(crate::graphql::page::SETTINGS_LIST_COST, child_complexity)"
    )]
    async fn attachments(&self, ctx: &Context<'_>) -> Result<Vec<Attachment>> {
        let rows = ctx
            .loaders()?
            .attachments
            .load_or_default(self.row.id)
            .await?;
        Ok(rows.into_iter().map(Attachment).collect())
    }
    /// The tasks created with this note.
    #[graphql(
        complexity = "crate::graphql::page::list_cost(crate::graphql::page::SETTINGS_LIST_COST, child_complexity)"
    )]
    async fn tasks(&self, ctx: &Context<'_>) -> Result<Vec<Task>> {
        let rows = match &self.written {
            Some(written) => written.tasks.clone(),
            None => {
                ctx.loaders()?
                    .note_tasks
                    .load_or_default(self.row.id)
                    .await?
            }
        };
        Ok(rows.into_iter().map(Task::new).collect())
    }
    /// When it was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

/// The `notes` filter.
#[derive(InputObject, Default)]
pub struct NoteFilter {
    /// Notes about this contact.
    pub contact_id: Option<ID>,
    /// Notes by this author.
    pub author_id: Option<ID>,
    /// Notes carrying any of these labels.
    pub label_ids: Option<Vec<ID>>,
    /// Notes of this visibility.
    pub visibility: Option<Visibility>,
    /// Words matched as word prefixes in subject and body, through the full-text index.
    pub search: Option<String>,
    /// Notes attached to this record.
    pub attached_to: Option<AttachedToInput>,
}

/// A record elsewhere.
#[derive(InputObject, Clone)]
pub struct AttachedToInput {
    /// Its kind, such as `order`, `product` or `booking`.
    pub kind: String,
    /// Its id in the system it lives in.
    pub id: String,
}

/// What `createNote` takes.
#[derive(InputObject)]
pub struct CreateNoteInput {
    /// The contact the note is about (`WRITE` access).
    pub contact_id: ID,
    /// Subject line (at most 300 characters).
    pub subject: Option<String>,
    /// Plain-text body.
    pub body: Option<String>,
    /// HTML body; sanitised before it is stored.
    pub body_html: Option<String>,
    /// Who may read it (default `TEAM`).
    pub visibility: Option<Visibility>,
    /// Labels.
    pub label_ids: Option<Vec<ID>>,
    /// Its type (a task type).
    pub type_id: Option<ID>,
    /// A template whose subject and body fill those not given.
    pub template_id: Option<ID>,
    /// A record elsewhere the note is about.
    pub attached_to: Option<AttachedToInput>,
    /// A task to create with the note (same contact).
    pub task: Option<CreateTaskInput>,
    /// A reminder for the author at this time.
    pub remind_at: Option<DateTime<Utc>>,
    /// Files to attach (GraphQL multipart request).
    pub attachments: Option<Vec<Upload>>,
}

/// What `updateNote` takes; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateNoteInput {
    /// New subject; null clears it.
    pub subject: MaybeUndefined<String>,
    /// New body.
    pub body: Option<String>,
    /// New HTML body; null clears it.
    pub body_html: MaybeUndefined<String>,
    /// New visibility (only the author may make a note private).
    pub visibility: Option<Visibility>,
    /// New labels (replace).
    pub label_ids: Option<Vec<ID>>,
    /// New type; null clears it.
    pub type_id: MaybeUndefined<ID>,
    /// New record elsewhere; null clears it.
    pub attached_to: MaybeUndefined<AttachedToInput>,
}

impl CreateNoteInput {
    /// The service input, IDs decoded.
    pub fn into_service(self) -> ApiResult<CreateNote> {
        Ok(CreateNote {
            contact_id: ids::decode(Kind::Contact, &self.contact_id)?,
            subject: self.subject,
            body: self.body,
            body_html: self.body_html,
            visibility: self.visibility.map(Into::into),
            label_ids: ids::decode_many(Kind::Label, "input.labelIds", self.label_ids)?,
            type_id: ids::decode_opt(Kind::TaskType, self.type_id)?,
            template_id: ids::decode_opt(Kind::MessageTemplate, self.template_id)?,
            attached_to: self.attached_to.map(|a| AttachedTo {
                kind: a.kind,
                id: a.id,
            }),
            task: self.task.map(CreateTaskInput::into_service).transpose()?,
            remind_at: timestamp("input.remindAt", self.remind_at)?,
            attachments: Uploads::default(),
        })
    }
}

impl UpdateNoteInput {
    /// The service input, IDs decoded.
    pub fn into_service(self) -> ApiResult<UpdateNote> {
        Ok(UpdateNote {
            subject: maybe(self.subject, Ok)?,
            body: self.body,
            body_html: maybe(self.body_html, Ok)?,
            visibility: self.visibility.map(Into::into),
            label_ids: self
                .label_ids
                .map(|l| ids::decode_many(Kind::Label, "input.labelIds", Some(l)))
                .transpose()?,
            type_id: maybe(self.type_id, |id| ids::decode(Kind::TaskType, &id))?,
            attached_to: maybe(self.attached_to, |a| {
                Ok(AttachedTo {
                    kind: a.kind,
                    id: a.id,
                })
            })?,
        })
    }
}

/// Extra fields of the notes connection.
pub struct NoteConnectionFields {
    pub(crate) filter: ServiceFilter,
}

#[Object]
impl NoteConnectionFields {
    /// How many notes match (all pages).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(service::notes::count(db, actor, &self.filter).await?)
    }
}
