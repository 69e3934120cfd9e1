//! The mutation root: every mutation is one transaction in the service layer.

use async_graphql::{Context, ID, MergedObject, Object, Result, Upload};

use super::{
    context::ContextExt,
    conversations::{
        Channel, ChannelCollaborator, Conversation, CreateChannelInput, InboundMessageInput,
        Message, SendMessageInput, UpdateChannelInput,
    },
    notes::{Attachment, CreateNoteInput, Note, UpdateNoteInput, settle_uploads, store_uploads},
    reminders::Reminder,
    settings::SettingsMutation,
    tasks::{CompleteTaskInput, CreateTaskInput, Task, TaskCompletion, UpdateTaskInput},
    types::{
        Collaborator, Contact, CreateContactInput, CreateUserInput, UpdateContactInput,
        UpdateUserInput, User, UserKind, convert,
    },
};
use crate::{
    auth::Role,
    error::ApiError,
    ids::{self, Kind},
    service::{
        self,
        access::AccessLevel,
        attachments::Uploads,
        contacts::{CreateContact, UpdateContact},
        conversations::DeliveryStatus,
        users::{CreateUser, NewUserKind, UpdateUser},
    },
};

/// Write operations: the core mutations merged with the settings mutations.
#[derive(MergedObject, Default)]
pub struct MutationRoot(CoreMutation, SettingsMutation);

/// Users, contacts, grants, notes and tasks.
#[derive(Default)]
pub struct CoreMutation;

#[Object]
impl CoreMutation {
    /// Creates a user (owners and admins). Staff users get a role (default `MEMBER`); customer
    /// users are linked to a contact.
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<User> {
        let actor = ctx.actor()?;
        let kind = match (input.kind, input.role, input.contact_id) {
            (UserKind::Staff, role, None) => NewUserKind::Staff(role.unwrap_or(Role::Member)),
            (UserKind::Staff, _, Some(_)) => {
                return Err(ApiError::bad_input(
                    "input.contactId",
                    "only customer users are linked to a contact",
                )
                .into());
            }
            (UserKind::Customer, Some(_), _) => {
                return Err(
                    ApiError::bad_input("input.role", "customer users have no role").into(),
                );
            }
            (UserKind::Customer, None, None) => {
                return Err(ApiError::bad_input(
                    "input.contactId",
                    "a customer user needs the contact they are",
                )
                .into());
            }
            (UserKind::Customer, None, Some(contact)) => {
                NewUserKind::Customer(ids::decode(Kind::Contact, &contact)?)
            }
        };
        let input = CreateUser {
            email: input.email,
            name: input.name,
            kind,
        };
        Ok(User(service::users::create(ctx.db()?, actor, input).await?))
    }

    /// Updates a user: anyone their own name and email; owners and admins anyone's, and roles.
    async fn update_user(&self, ctx: &Context<'_>, id: ID, input: UpdateUserInput) -> Result<User> {
        ctx.actor()?;
        let id = ids::decode(Kind::User, &id)?;
        let input = UpdateUser {
            email: input.email,
            name: input.name,
            role: input.role,
        };
        Ok(User(
            service::users::update(ctx.db()?, ctx.actor()?, id, input).await?,
        ))
    }

    /// Deactivates a user (owners and admins): their tokens stop working at once.
    async fn deactivate_user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        ctx.actor()?;
        let id = ids::decode(Kind::User, &id)?;
        Ok(User(
            service::users::set_active(ctx.db()?, ctx.actor()?, id, false).await?,
        ))
    }

    /// Reactivates a deactivated user (owners and admins).
    async fn reactivate_user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        ctx.actor()?;
        let id = ids::decode(Kind::User, &id)?;
        Ok(User(
            service::users::set_active(ctx.db()?, ctx.actor()?, id, true).await?,
        ))
    }

    /// Creates a contact; the creator gets `ADMIN` access to it.
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        input: CreateContactInput,
    ) -> Result<Contact> {
        ctx.actor()?;
        let consultant_id = input
            .consultant_id
            .map(|id| ids::decode(Kind::User, &id))
            .transpose()?;
        let input = CreateContact {
            name: input.name,
            emails: convert(input.emails),
            phones: convert(input.phones),
            addresses: convert(input.addresses),
            consultant_id,
            custom_fields: input.custom_fields.map(|j| j.0),
            label_ids: ids::decode_many(Kind::Label, "input.labelIds", input.label_ids)?,
        };
        Ok(Contact::new(
            service::contacts::create(ctx.db()?, ctx.actor()?, input).await?,
        ))
    }

    /// Updates a contact (`WRITE` access).
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateContactInput,
    ) -> Result<Contact> {
        ctx.actor()?;
        let id = ids::decode(Kind::Contact, &id)?;
        let consultant_id = match input.consultant_id {
            async_graphql::MaybeUndefined::Undefined => None,
            async_graphql::MaybeUndefined::Null => Some(None),
            async_graphql::MaybeUndefined::Value(user) => {
                Some(Some(ids::decode(Kind::User, &user)?))
            }
        };
        let input = UpdateContact {
            name: input.name,
            emails: input.emails.map(convert),
            phones: input.phones.map(convert),
            addresses: input.addresses.map(convert),
            consultant_id,
            custom_fields: input.custom_fields.map(|j| j.0),
            label_ids: input
                .label_ids
                .map(|l| ids::decode_many(Kind::Label, "input.labelIds", Some(l)))
                .transpose()?,
        };
        Ok(Contact::new(
            service::contacts::update(ctx.db()?, ctx.actor()?, id, input).await?,
        ))
    }

    /// Archives a contact (`WRITE` access): it leaves the default contact list but keeps its
    /// history. Archiving an archived contact changes nothing.
    async fn archive_contact(&self, ctx: &Context<'_>, id: ID) -> Result<Contact> {
        ctx.actor()?;
        let id = ids::decode(Kind::Contact, &id)?;
        Ok(Contact::new(
            service::contacts::set_archived(ctx.db()?, ctx.actor()?, id, true).await?,
        ))
    }

    /// Unarchives a contact (`WRITE` access).
    async fn unarchive_contact(&self, ctx: &Context<'_>, id: ID) -> Result<Contact> {
        ctx.actor()?;
        let id = ids::decode(Kind::Contact, &id)?;
        Ok(Contact::new(
            service::contacts::set_archived(ctx.db()?, ctx.actor()?, id, false).await?,
        ))
    }

    /// Grants a staff user access to a contact, or changes their level (`ADMIN` access).
    async fn grant_collaborator(
        &self,
        ctx: &Context<'_>,
        contact_id: ID,
        user_id: ID,
        access: AccessLevel,
    ) -> Result<Collaborator> {
        ctx.actor()?;
        let contact_id = ids::decode(Kind::Contact, &contact_id)?;
        let user_id = ids::decode(Kind::User, &user_id)?;
        let grant =
            service::collaborators::grant(ctx.db()?, ctx.actor()?, contact_id, user_id, access)
                .await?;
        Ok(Collaborator {
            row: grant,
            prefetch: None,
        })
    }

    /// Revokes a user's grant on a contact (`ADMIN` access); returns the revoked grant's ID.
    async fn revoke_collaborator(
        &self,
        ctx: &Context<'_>,
        contact_id: ID,
        user_id: ID,
    ) -> Result<ID> {
        ctx.actor()?;
        let contact_id = ids::decode(Kind::Contact, &contact_id)?;
        let user_id = ids::decode(Kind::User, &user_id)?;
        let id =
            service::collaborators::revoke(ctx.db()?, ctx.actor()?, contact_id, user_id).await?;
        Ok(ids::encode(Kind::Collaborator, id))
    }

    /// Writes a note about a contact (`WRITE` access), with the task and reminder asked for.
    async fn create_note(&self, ctx: &Context<'_>, mut input: CreateNoteInput) -> Result<Note> {
        let actor = ctx.actor()?;
        let uploads = input.attachments.take().unwrap_or_default();
        if uploads.len() > 10 {
            return Err(
                ApiError::bad_input("input.attachments", "at most 10 files at once").into(),
            );
        }
        let mut service_input = input.into_service()?;
        // Check the rights before storing anything; remove what was stored if the note fails.
        let stored = if uploads.is_empty() {
            Uploads::default()
        } else {
            service::notes::require_can_create(ctx.db()?, actor, service_input.contact_id).await?;
            store_uploads(ctx, uploads, "input.attachments").await?
        };
        service_input.attachments = stored.clone();
        let created = service::notes::create(ctx.db()?, actor, service_input).await;
        let (note, _task) = settle_uploads(ctx, &stored, created).await?;
        Ok(Note::single(note))
    }

    /// Attaches a file to a note (GraphQL multipart request; same rights as editing the note).
    async fn add_attachment(
        &self,
        ctx: &Context<'_>,
        note_id: ID,
        file: Upload,
    ) -> Result<Attachment> {
        let actor = ctx.actor()?;
        let note_id = ids::decode(Kind::Note, &note_id)?;
        // Check the rights before storing anything.
        service::notes::require_editable(ctx.db()?, actor, note_id, "attaching a file").await?;
        let stored = store_uploads(ctx, vec![file], "file").await?;
        if stored.files.is_empty() {
            return Err(ApiError::bad_input("file", "no file was sent").into());
        }
        let added = service::attachments::add(ctx.db()?, actor, note_id, &stored).await;
        Ok(Attachment(settle_uploads(ctx, &stored, added).await?))
    }

    /// Removes a file from its note (same rights as editing the note).
    async fn delete_attachment(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let actor = ctx.actor()?;
        service::attachments::delete(ctx.db()?, actor, ids::decode(Kind::Attachment, &id)?).await?;
        Ok(id)
    }

    /// Edits a note: its author, or anyone with `WRITE` on the contact for a shared note.
    async fn update_note(&self, ctx: &Context<'_>, id: ID, input: UpdateNoteInput) -> Result<Note> {
        let actor = ctx.actor()?;
        let id = ids::decode(Kind::Note, &id)?;
        Ok(Note::single(
            service::notes::update(ctx.db()?, actor, id, input.into_service()?).await?,
        ))
    }

    /// Deletes a note (same rights as editing); its timeline keeps a `NOTE_DELETED` event
    /// without content.
    async fn delete_note(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let actor = ctx.actor()?;
        let row = ids::decode(Kind::Note, &id)?;
        service::notes::delete(ctx.db()?, actor, row).await?;
        Ok(id)
    }

    /// Plans a task (`WRITE` on the contact); it starts `PLANNED`.
    async fn create_task(&self, ctx: &Context<'_>, input: CreateTaskInput) -> Result<Task> {
        let actor = ctx.actor()?;
        if input.contact_id.is_none() {
            return Err(ApiError::bad_input("input.contactId", "is required").into());
        }
        Ok(Task::single(
            service::tasks::create(ctx.db()?, actor, input.into_service()?).await?,
        ))
    }

    /// Changes an open task (`WRITE` on the contact).
    async fn update_task(&self, ctx: &Context<'_>, id: ID, input: UpdateTaskInput) -> Result<Task> {
        let actor = ctx.actor()?;
        let id = ids::decode(Kind::Task, &id)?;
        Ok(Task::single(
            service::tasks::update(ctx.db()?, actor, id, input.into_service()?).await?,
        ))
    }

    /// Completes an open task with an outcome and an action; a closed task is `CONFLICT`.
    async fn complete_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: CompleteTaskInput,
    ) -> Result<TaskCompletion> {
        let actor = ctx.actor()?;
        let id = ids::decode(Kind::Task, &id)?;
        let done = service::tasks::complete(ctx.db()?, actor, id, input.into_service()?).await?;
        Ok(TaskCompletion {
            task: Task::single(done.task),
            note: done.note.map(Note::single),
            follow_up: done.follow_up.map(Task::single),
        })
    }

    /// Copies a task: an identical new `PLANNED` task.
    async fn copy_task(&self, ctx: &Context<'_>, id: ID) -> Result<Task> {
        let actor = ctx.actor()?;
        let id = ids::decode(Kind::Task, &id)?;
        Ok(Task::single(
            service::tasks::copy(ctx.db()?, actor, id).await?,
        ))
    }

    /// Creates a channel (owners and admins).
    async fn create_channel(
        &self,
        ctx: &Context<'_>,
        input: CreateChannelInput,
    ) -> Result<Channel> {
        let actor = ctx.actor()?;
        let row = service::channels::create(
            ctx.db()?,
            actor,
            input.kind,
            &input.address,
            &input.display_name,
        )
        .await?;
        Ok(Channel(row))
    }

    /// Renames a channel (its `ADMIN`s, owners and admins).
    async fn update_channel(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateChannelInput,
    ) -> Result<Channel> {
        let actor = ctx.actor()?;
        let id = ids::decode(Kind::Channel, &id)?;
        Ok(Channel(
            service::channels::update(ctx.db()?, actor, id, &input.display_name).await?,
        ))
    }

    /// Deletes a channel no conversation uses (owners and admins).
    async fn delete_channel(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let actor = ctx.actor()?;
        service::channels::delete(ctx.db()?, actor, ids::decode(Kind::Channel, &id)?).await?;
        Ok(id)
    }

    /// Grants a staff user access to a channel, or changes their level (`ADMIN` on the channel).
    async fn grant_channel_access(
        &self,
        ctx: &Context<'_>,
        channel_id: ID,
        user_id: ID,
        access: AccessLevel,
    ) -> Result<ChannelCollaborator> {
        let actor = ctx.actor()?;
        let channel_id = ids::decode(Kind::Channel, &channel_id)?;
        let user_id = ids::decode(Kind::User, &user_id)?;
        Ok(ChannelCollaborator(
            service::channels::grant(ctx.db()?, actor, channel_id, user_id, access).await?,
        ))
    }

    /// Revokes a user's access to a channel (`ADMIN` on the channel); returns the grant's ID.
    async fn revoke_channel_access(
        &self,
        ctx: &Context<'_>,
        channel_id: ID,
        user_id: ID,
    ) -> Result<ID> {
        let actor = ctx.actor()?;
        let channel_id = ids::decode(Kind::Channel, &channel_id)?;
        let user_id = ids::decode(Kind::User, &user_id)?;
        let id = service::channels::revoke(ctx.db()?, actor, channel_id, user_id).await?;
        Ok(ids::encode(Kind::ChannelCollaborator, id))
    }

    /// Sends a message to a contact over a channel (`WRITE` on both); it starts `QUEUED`.
    async fn send_message(&self, ctx: &Context<'_>, input: SendMessageInput) -> Result<Message> {
        let actor = ctx.actor()?;
        Ok(Message::single(
            service::conversations::send(ctx.db()?, actor, input.into_service()?).await?,
        ))
    }

    /// Records a message a contact sent, for the integration that received it (`WRITE` on
    /// the channel).
    async fn record_inbound_message(
        &self,
        ctx: &Context<'_>,
        input: InboundMessageInput,
    ) -> Result<Message> {
        let actor = ctx.actor()?;
        Ok(Message::single(
            service::conversations::record_inbound(ctx.db()?, actor, input.into_service()?).await?,
        ))
    }

    /// Sets a message's delivery status, for integrations (`WRITE` on its channel).
    async fn update_message_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: DeliveryStatus,
    ) -> Result<Message> {
        let actor = ctx.actor()?;
        let id = ids::decode(Kind::Message, &id)?;
        Ok(Message::single(
            service::conversations::update_status(ctx.db()?, actor, id, status).await?,
        ))
    }

    /// Marks a conversation read for the caller (others keep their own read state).
    async fn mark_conversation_read(&self, ctx: &Context<'_>, id: ID) -> Result<Conversation> {
        let actor = ctx.actor()?;
        let id = ids::decode(Kind::Conversation, &id)?;
        Ok(Conversation::single(
            service::conversations::mark_read(ctx.db()?, actor, id).await?,
        ))
    }

    /// Dismisses one of the caller's reminders.
    async fn dismiss_reminder(&self, ctx: &Context<'_>, id: ID) -> Result<Reminder> {
        let actor = ctx.actor()?;
        let id = ids::decode(Kind::Reminder, &id)?;
        Ok(Reminder(
            service::reminders::dismiss(ctx.db()?, actor, id).await?,
        ))
    }

    /// Snoozes one of the caller's reminders until a later time (it is pending again).
    async fn snooze_reminder(
        &self,
        ctx: &Context<'_>,
        id: ID,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<Reminder> {
        let actor = ctx.actor()?;
        let id = ids::decode(Kind::Reminder, &id)?;
        service::validate::timestamp("until", Some(until))?;
        Ok(Reminder(
            service::reminders::snooze(ctx.db()?, actor, id, until).await?,
        ))
    }
}
