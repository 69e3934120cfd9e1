//! The contacts mutations: writing contacts, archiving them, granting access.

use async_graphql::{Context, ID, Object, Result};

use crate::{
    error::ApiError,
    graphql::{
        contacts::types::{Collaborator, Contact, CreateContactInput, UpdateContactInput, convert},
        context::{Caller, ContextExt},
    },
    ids::{self, Kind},
    service::{
        self,
        contacts::{CreateContact, UpdateContact},
    },
};

/// Contacts and their collaborator grants.
#[derive(Default)]
pub struct ContactsMutation;

#[Object]
impl ContactsMutation {
    /// Creates a contact; the creator gets `ADMIN` access to it.
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        input: CreateContactInput,
    ) -> Result<Contact> {
        let Caller { db, actor } = ctx.caller()?;
        let consultant_id = ids::decode_opt(Kind::User, input.consultant_id)?;
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
            service::contacts::create(db, actor, input).await?,
        ))
    }

    /// Updates a contact (`WRITE` access).
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateContactInput,
    ) -> Result<Contact> {
        let Caller { db, actor } = ctx.caller()?;
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
            service::contacts::update(db, actor, id, input).await?,
        ))
    }

    /// Archives a contact (`WRITE` access): it leaves the default contact list but keeps its
    /// history. Archiving an archived contact changes nothing.
    async fn archive_contact(&self, ctx: &Context<'_>, id: ID) -> Result<Contact> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Contact, &id)?;
        Ok(Contact::new(
            service::contacts::set_archived(db, actor, id, true).await?,
        ))
    }

    /// Unarchives a contact (`WRITE` access).
    async fn unarchive_contact(&self, ctx: &Context<'_>, id: ID) -> Result<Contact> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Contact, &id)?;
        Ok(Contact::new(
            service::contacts::set_archived(db, actor, id, false).await?,
        ))
    }

    /// Grants a staff user access to a contact, or changes their level (`ADMIN` access).
    async fn grant_collaborator(
        &self,
        ctx: &Context<'_>,
        contact_id: ID,
        user_id: ID,
        access: super::AccessLevel,
    ) -> Result<Collaborator> {
        let Caller { db, actor } = ctx.caller()?;
        let contact_id = ids::decode(Kind::Contact, &contact_id)?;
        let user_id = ids::decode(Kind::User, &user_id)?;
        let grant =
            service::collaborators::grant(db, actor, contact_id, user_id, access.into()).await?;
        // Read back with the users it names, as `Contact.collaborators` shows it.
        ctx.loaders()?
            .collaborators
            .load_or_default(contact_id)
            .await?
            .into_iter()
            .find(|row| row.grant.id == grant.id)
            .map(Collaborator)
            .ok_or_else(|| ApiError::Internal("a new grant could not be read back".into()).into())
    }

    /// Revokes a user's grant on a contact (`ADMIN` access); returns the revoked grant's ID.
    async fn revoke_collaborator(
        &self,
        ctx: &Context<'_>,
        contact_id: ID,
        user_id: ID,
    ) -> Result<ID> {
        let Caller { db, actor } = ctx.caller()?;
        let contact_id = ids::decode(Kind::Contact, &contact_id)?;
        let user_id = ids::decode(Kind::User, &user_id)?;
        let id = service::collaborators::revoke(db, actor, contact_id, user_id).await?;
        Ok(ID(ids::encode(Kind::Collaborator, id)))
    }
}
