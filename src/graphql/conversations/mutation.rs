//! The conversations mutations: channels, their grants, and messages.

use async_graphql::{Context, ID, Object, Result};

use crate::{
    graphql::{
        context::{Caller, ContextExt},
        conversations::types::{
            Channel, ChannelCollaborator, Conversation, CreateChannelInput, InboundMessageInput,
            Message, SendMessageInput, UpdateChannelInput,
        },
    },
    ids::{self, Kind},
    service,
};

/// Channels, channel grants and messages.
#[derive(Default)]
pub struct ConversationsMutation;

#[Object]
impl ConversationsMutation {
    /// Creates a channel (owners and admins).
    async fn create_channel(
        &self,
        ctx: &Context<'_>,
        input: CreateChannelInput,
    ) -> Result<Channel> {
        let Caller { db, actor } = ctx.caller()?;
        let row = service::channels::create(
            db,
            actor,
            input.kind.into(),
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
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Channel, &id)?;
        Ok(Channel(
            service::channels::update(db, actor, id, &input.display_name).await?,
        ))
    }

    /// Deletes a channel no conversation uses (owners and admins).
    async fn delete_channel(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let Caller { db, actor } = ctx.caller()?;
        service::channels::delete(db, actor, ids::decode(Kind::Channel, &id)?).await?;
        Ok(id)
    }

    /// Grants a staff user access to a channel, or changes their level (`ADMIN` on the channel).
    async fn grant_channel_access(
        &self,
        ctx: &Context<'_>,
        channel_id: ID,
        user_id: ID,
        access: crate::graphql::contacts::AccessLevel,
    ) -> Result<ChannelCollaborator> {
        let Caller { db, actor } = ctx.caller()?;
        let channel_id = ids::decode(Kind::Channel, &channel_id)?;
        let user_id = ids::decode(Kind::User, &user_id)?;
        Ok(ChannelCollaborator(
            service::channels::grant(db, actor, channel_id, user_id, access.into()).await?,
        ))
    }

    /// Revokes a user's access to a channel (`ADMIN` on the channel); returns the grant's ID.
    async fn revoke_channel_access(
        &self,
        ctx: &Context<'_>,
        channel_id: ID,
        user_id: ID,
    ) -> Result<ID> {
        let Caller { db, actor } = ctx.caller()?;
        let channel_id = ids::decode(Kind::Channel, &channel_id)?;
        let user_id = ids::decode(Kind::User, &user_id)?;
        let id = service::channels::revoke(db, actor, channel_id, user_id).await?;
        Ok(ID(ids::encode(Kind::ChannelCollaborator, id)))
    }

    /// Sends a message to a contact over a channel (`WRITE` on both); it starts `QUEUED`.
    async fn send_message(&self, ctx: &Context<'_>, input: SendMessageInput) -> Result<Message> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(Message::new(
            service::conversations::send(db, actor, input.into_service()?).await?,
        ))
    }

    /// Records a message a contact sent, for the integration that received it (`WRITE` on
    /// the channel).
    async fn record_inbound_message(
        &self,
        ctx: &Context<'_>,
        input: InboundMessageInput,
    ) -> Result<Message> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(Message::new(
            service::conversations::record_inbound(db, actor, input.into_service()?).await?,
        ))
    }

    /// Sets a message's delivery status, for integrations (`WRITE` on its channel).
    async fn update_message_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: super::DeliveryStatus,
    ) -> Result<Message> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Message, &id)?;
        Ok(Message::new(
            service::conversations::update_status(db, actor, id, status.into()).await?,
        ))
    }

    /// Marks a conversation read for the caller (others keep their own read state).
    async fn mark_conversation_read(&self, ctx: &Context<'_>, id: ID) -> Result<Conversation> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Conversation, &id)?;
        Ok(Conversation::new(
            service::conversations::mark_read(db, actor, id).await?,
        ))
    }
}
