//! Contacts in GraphQL: the `Contact` type, collaborator grants, filters and inputs.

use async_graphql::{
    Context, Enum, ID, InputObject, Json, MaybeUndefined, Object, Result, SimpleObject,
    connection::Connection,
};
use chrono::{DateTime, Utc};

use crate::{
    error::ApiError,
    graphql::{
        context::{Caller, ContextExt},
        conversations::{Conversation, ConversationConnectionFields, ConversationFilter},
        notes::{Note, NoteConnectionFields, NoteFilter},
        settings::Label,
        tasks::{Task, TaskConnectionFields, TaskFilter, TaskOrder},
        timeline::{TimelineEvent, TimelineFilter},
        users::User,
    },
    ids::{self, Kind},
    service::{
        self,
        contacts::{
            AddressInput, ContactFilter as ServiceContactFilter, EmailInput, PhoneInput,
            VisibleContact,
        },
        grants::WithPeople,
    },
};

/// A collaborator access level, ordered: `Read < Write < Admin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::access::AccessLevel")]
pub enum AccessLevel {
    /// View the contact, its shared notes, tasks and timeline.
    Read,
    /// Also edit and archive the contact, create and edit notes and tasks.
    Write,
    /// Also grant and revoke access.
    Admin,
}

/// One email address of a contact.
#[derive(SimpleObject)]
pub struct ContactEmail {
    /// The address, lower-cased.
    pub email: String,
    /// A label such as "work".
    pub label: Option<String>,
    /// Whether it is the contact's primary address.
    pub primary: bool,
}

/// One phone number of a contact.
#[derive(SimpleObject)]
pub struct ContactPhone {
    /// The number in E.164 form (`+` and digits).
    pub number: String,
    /// A label such as "mobile".
    pub label: Option<String>,
    /// Whether it is the contact's primary number.
    pub primary: bool,
}

/// One postal address of a contact.
#[derive(SimpleObject)]
pub struct ContactAddress {
    /// A label such as "billing".
    pub label: Option<String>,
    /// First line.
    pub line1: String,
    /// Second line.
    pub line2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Region, state or province.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Whether it is the contact's primary address.
    pub primary: bool,
}

/// A person or company the organization works with. Contacts are archived, never deleted.
pub struct Contact {
    /// The row and the caller's access.
    pub row: VisibleContact,
}

impl Contact {
    /// A contact the caller may see; related rows come through the request's loaders.
    pub fn new(row: VisibleContact) -> Self {
        Self { row }
    }

    /// The contact `id` through the request's loader, if the caller may see it.
    pub async fn load(ctx: &Context<'_>, id: i64) -> Result<Option<Contact>> {
        Ok(ctx
            .loaders()?
            .contacts
            .load_one(id)
            .await?
            .map(Contact::new))
    }

    fn id_(&self) -> i64 {
        self.row.contact.id
    }
}

#[Object]
impl Contact {
    /// The contact's opaque global ID.
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Contact, self.row.contact.id))
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.row.contact.name
    }
    /// Email addresses, in the order given.
    #[graphql(complexity = "crate::graphql::page::list_cost(20, child_complexity)")]
    async fn emails(&self, ctx: &Context<'_>) -> Result<Vec<ContactEmail>> {
        let rows = ctx.loaders()?.emails.load_or_default(self.id_()).await?;
        Ok(rows
            .into_iter()
            .map(|r| ContactEmail {
                email: r.email,
                label: r.label,
                primary: r.is_primary,
            })
            .collect())
    }
    /// Phone numbers, in the order given.
    #[graphql(complexity = "crate::graphql::page::list_cost(20, child_complexity)")]
    async fn phones(&self, ctx: &Context<'_>) -> Result<Vec<ContactPhone>> {
        let rows = ctx.loaders()?.phones.load_or_default(self.id_()).await?;
        Ok(rows
            .into_iter()
            .map(|r| ContactPhone {
                number: r.number,
                label: r.label,
                primary: r.is_primary,
            })
            .collect())
    }
    /// Postal addresses, in the order given.
    #[graphql(complexity = "crate::graphql::page::list_cost(20, child_complexity)")]
    async fn addresses(&self, ctx: &Context<'_>) -> Result<Vec<ContactAddress>> {
        let rows = ctx.loaders()?.addresses.load_or_default(self.id_()).await?;
        Ok(rows
            .into_iter()
            .map(|r| ContactAddress {
                label: r.label,
                line1: r.line1,
                line2: r.line2,
                city: r.city,
                region: r.region,
                postal_code: r.postal_code,
                country: r.country,
                primary: r.is_primary,
            })
            .collect())
    }
    /// Its labels, by name.
    #[graphql(
        complexity = "crate::graphql::page::list_cost(crate::graphql::page::SETTINGS_LIST_COST, child_complexity)"
    )]
    async fn labels(&self, ctx: &Context<'_>) -> Result<Vec<Label>> {
        // Labels are the organization's internal classification: a customer user reading their
        // own contact gets none.
        if !ctx.caller()?.actor.is_staff() {
            return Ok(Vec::new());
        }
        let rows = ctx
            .loaders()?
            .contact_labels
            .load_or_default(self.id_())
            .await?;
        Ok(rows.into_iter().map(Label::new).collect())
    }
    /// The staff user responsible for the contact.
    async fn consultant(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(id) = self.row.contact.consultant_id else {
            return Ok(None);
        };
        User::load(ctx, Some(id)).await
    }
    /// Free-form custom fields (a JSON object of at most 16 KiB).
    async fn custom_fields(&self, ctx: &Context<'_>) -> Result<Json<serde_json::Value>> {
        let actor = ctx.caller()?.actor;
        // Custom fields are the organization's internal data about the contact: a customer user
        // reading their own contact gets an empty object.
        if !actor.is_staff() {
            return Ok(Json(serde_json::json!({})));
        }
        Ok(Json(self.row.contact.custom_fields.clone()))
    }
    /// Whether the contact is archived.
    async fn archived(&self) -> bool {
        self.row.contact.archived
    }
    /// When it was archived.
    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.row.contact.archived_at
    }
    /// Who created the contact (null when the caller may not see that user).
    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::load(ctx, Some(self.row.contact.created_by)).await
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.contact.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.contact.updated_at
    }
    /// The caller's access to this contact: `ADMIN` for owners and admins, the grant's level
    /// for members, `READ` for the contact's customer user.
    async fn my_access(&self) -> AccessLevel {
        self.row.access.into()
    }
    /// Notes about this contact the caller may see, newest first.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn notes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<NoteFilter>,
    ) -> Result<Connection<String, Note, NoteConnectionFields>> {
        crate::graphql::notes::query::notes_page(ctx, Some(self.id_()), first, after, filter).await
    }
    /// Tasks about this contact, by creation (default, newest first) or schedule.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<TaskFilter>,
        order_by: Option<TaskOrder>,
    ) -> Result<Connection<String, Task, TaskConnectionFields>> {
        crate::graphql::tasks::query::tasks_page(
            ctx,
            Some(self.id_()),
            first,
            after,
            filter,
            order_by,
        )
        .await
    }
    /// Conversations with this contact the caller may see (needs access to the channel too).
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ConversationFilter>,
    ) -> Result<Connection<String, Conversation, ConversationConnectionFields>> {
        crate::graphql::conversations::query::inbox_page(
            ctx,
            Some(self.id_()),
            first,
            after,
            filter,
        )
        .await
    }
    /// The contact's timeline, newest first (see `Query.timeline`).
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<TimelineFilter>,
    ) -> Result<Connection<String, TimelineEvent>> {
        use crate::graphql::timeline::query::{TimelineOf, timeline_page};
        // This contact was read for the caller: the page needs no second access check.
        timeline_page(ctx, TimelineOf::Read(&self.row), first, after, filter).await
    }
    /// Who has been granted access: shown to callers with `ADMIN` on the contact (who may also
    /// change it); an empty list for everyone else.
    #[graphql(
        complexity = "crate::graphql::page::list_cost(crate::graphql::page::SETTINGS_LIST_COST, child_complexity)"
    )]
    async fn collaborators(&self, ctx: &Context<'_>) -> Result<Vec<Collaborator>> {
        let actor = ctx.caller()?.actor;
        // The contract shows the list only to callers with `ADMIN` on the contact; `access`
        // is the caller's level as the access SQL computed it when the contact was read.
        if !actor.is_staff() || self.row.access != service::access::AccessLevel::Admin {
            return Ok(Vec::new());
        }
        let rows = ctx
            .loaders()?
            .collaborators
            .load_or_default(self.id_())
            .await?;
        Ok(rows.into_iter().map(Collaborator).collect())
    }
}

/// A collaborator grant: a user's access to a contact, with the users it names.
pub struct Collaborator(pub WithPeople<entity::contact_collaborator::Model>);

#[Object]
impl Collaborator {
    /// The grant's opaque ID (what `revokeCollaborator` returns).
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Collaborator, self.0.grant.id))
    }
    /// The user who has access.
    async fn user(&self) -> Result<User> {
        self.0
            .user
            .clone()
            .map(User)
            .ok_or_else(|| ApiError::NotFound("User").into())
    }
    /// The access level.
    async fn access(&self) -> Option<AccessLevel> {
        service::access::AccessLevel::parse(&self.0.grant.access).map(AccessLevel::from)
    }
    /// Who granted it (null when the caller may not see that user).
    async fn granted_by(&self) -> Option<User> {
        self.0.granted_by.clone().map(User)
    }
    /// When it was granted or last changed.
    async fn granted_at(&self) -> DateTime<Utc> {
        self.0.grant.granted_at
    }
    /// The contact.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        Contact::load(ctx, self.0.grant.contact_id).await
    }
}

/// Extra fields of the contacts connection.
pub struct ContactConnectionFields {
    /// The filter the list was read with.
    pub filter: ServiceContactFilter,
}

#[Object]
impl ContactConnectionFields {
    /// How many contacts match the filter (all pages).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(service::contacts::count(db, actor, &self.filter).await?)
    }
}

/// The `contacts` filter.
#[derive(InputObject, Default)]
pub struct ContactFilter {
    /// Words matched (case-insensitively, as a substring) against the name and email addresses,
    /// and, when it holds three or more digits, against phone numbers.
    pub search: Option<String>,
    /// `true` lists only archived contacts; the default (`false`) only active ones.
    #[graphql(default = false)]
    pub archived: bool,
    /// Contacts carrying this label.
    pub label: Option<ID>,
    /// Contacts carrying any of these labels.
    pub label_ids: Option<Vec<ID>>,
}

impl ContactFilter {
    /// The service filter, label IDs decoded.
    pub fn into_service(self) -> crate::error::ApiResult<ServiceContactFilter> {
        let mut label_ids = ids::decode_many(Kind::Label, "filter.labelIds", self.label_ids)?;
        if let Some(label) = self.label {
            label_ids.push(ids::decode(Kind::Label, &label)?);
        }
        Ok(ServiceContactFilter {
            search: self.search,
            archived: self.archived,
            label_ids,
        })
    }
}

/// An email address of a contact.
#[derive(InputObject)]
pub struct ContactEmailInput {
    /// The address.
    pub email: String,
    /// A label such as "work".
    pub label: Option<String>,
    /// Whether it is the primary one; when none is, the first is.
    #[graphql(default = false)]
    pub primary: bool,
}

/// A phone number of a contact.
#[derive(InputObject)]
pub struct ContactPhoneInput {
    /// The number with its country code: `+1 415 555 0100`, `0044 20 7946 0958`.
    pub number: String,
    /// A label such as "mobile".
    pub label: Option<String>,
    /// Whether it is the primary one; when none is, the first is.
    #[graphql(default = false)]
    pub primary: bool,
}

/// A postal address of a contact.
#[derive(InputObject)]
pub struct ContactAddressInput {
    /// A label such as "billing".
    pub label: Option<String>,
    /// First line (required).
    pub line1: String,
    /// Second line.
    pub line2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Region, state or province.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Whether it is the primary one; when none is, the first is.
    #[graphql(default = false)]
    pub primary: bool,
}

/// What `createContact` takes.
#[derive(InputObject)]
pub struct CreateContactInput {
    /// Display name, 1 to 200 characters.
    pub name: String,
    /// Email addresses.
    #[graphql(default)]
    pub emails: Vec<ContactEmailInput>,
    /// Phone numbers.
    #[graphql(default)]
    pub phones: Vec<ContactPhoneInput>,
    /// Postal addresses.
    #[graphql(default)]
    pub addresses: Vec<ContactAddressInput>,
    /// The responsible staff user.
    pub consultant_id: Option<ID>,
    /// Custom fields: a JSON object of at most 16 KiB.
    pub custom_fields: Option<Json<serde_json::Value>>,
    /// Labels (the organization's labels, shared with notes).
    pub label_ids: Option<Vec<ID>>,
}

/// What `updateContact` takes: omitted fields stay as they are; a list given replaces the
/// stored list whole; `consultantId: null` clears the consultant.
#[derive(InputObject)]
pub struct UpdateContactInput {
    /// New display name.
    pub name: Option<String>,
    /// New email list.
    pub emails: Option<Vec<ContactEmailInput>>,
    /// New phone list.
    pub phones: Option<Vec<ContactPhoneInput>>,
    /// New address list.
    pub addresses: Option<Vec<ContactAddressInput>>,
    /// New consultant, or null to clear.
    pub consultant_id: MaybeUndefined<ID>,
    /// New custom fields (replaces the whole object).
    pub custom_fields: Option<Json<serde_json::Value>>,
    /// New labels (replace).
    pub label_ids: Option<Vec<ID>>,
}

impl From<ContactEmailInput> for EmailInput {
    fn from(e: ContactEmailInput) -> Self {
        Self {
            email: e.email,
            label: e.label,
            primary: e.primary,
        }
    }
}

impl From<ContactPhoneInput> for PhoneInput {
    fn from(p: ContactPhoneInput) -> Self {
        Self {
            number: p.number,
            label: p.label,
            primary: p.primary,
        }
    }
}

impl From<ContactAddressInput> for AddressInput {
    fn from(a: ContactAddressInput) -> Self {
        Self {
            label: a.label,
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            region: a.region,
            postal_code: a.postal_code,
            country: a.country,
            primary: a.primary,
        }
    }
}

/// Converts a list of GraphQL inputs into service inputs.
pub fn convert<A, B: From<A>>(items: Vec<A>) -> Vec<B> {
    items.into_iter().map(B::from).collect()
}
