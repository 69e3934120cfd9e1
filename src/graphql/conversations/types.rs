//! Channels, conversations and messages in GraphQL.

use async_graphql::{
    Context, Enum, ID, InputObject, Object, Result,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Utc};

use crate::{
    error::ApiResult,
    graphql::{
        contacts::{AccessLevel, Contact},
        context::{Caller, ContextExt},
        page::{self, decode_time_cursor, encode_time_cursor, page_size},
        users::User,
    },
    ids::{self, Kind},
    service::{
        self,
        channels::VisibleChannel,
        contacts::VisibleContact,
        conversations::{ConversationFilter as ServiceFilter, InboxCursor, InboxRow, NewMessage},
        validate::timestamp,
    },
};

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::conversations::Direction")]
pub enum Direction {
    /// From the organization to the contact.
    Outbound,
    /// From the contact.
    Inbound,
}

/// A message's delivery state, as integrations report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::conversations::DeliveryStatus")]
pub enum DeliveryStatus {
    /// Waiting to be sent.
    Queued,
    /// Handed to the carrier or mail system.
    Sent,
    /// Delivered to the contact.
    Delivered,
    /// Could not be delivered.
    Failed,
    /// Read by the contact.
    Read,
}

/// A channel's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::channels::ChannelKind")]
pub enum ChannelKind {
    /// A phone number (calls and SMS).
    Phone,
    /// An email identity.
    Email,
}

/// A phone number or email identity the organization talks through.
pub struct Channel(pub VisibleChannel);

#[Object]
impl Channel {
    /// The channel's opaque ID.
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Channel, self.0.channel.id))
    }
    /// `PHONE` or `EMAIL`.
    async fn kind(&self) -> Option<ChannelKind> {
        service::channels::ChannelKind::parse(&self.0.channel.kind).map(ChannelKind::from)
    }
    /// The number (E.164) or email address.
    async fn address(&self) -> &str {
        &self.0.channel.address
    }
    /// A name for people.
    async fn display_name(&self) -> &str {
        &self.0.channel.display_name
    }
    /// The caller's access: `ADMIN` for owners and admins, the grant's level for members.
    async fn my_access(&self) -> AccessLevel {
        self.0.access.into()
    }
    /// Who may use the channel.
    #[graphql(
        complexity = "crate::graphql::page::list_cost(crate::graphql::page::SETTINGS_LIST_COST, child_complexity)"
    )]
    async fn collaborators(&self, ctx: &Context<'_>) -> Result<Vec<ChannelCollaborator>> {
        let rows = ctx
            .loaders()?
            .channel_collaborators
            .load_or_default(self.0.channel.id)
            .await?;
        Ok(rows.into_iter().map(ChannelCollaborator).collect())
    }
}

/// A user's access to a channel.
pub struct ChannelCollaborator(pub entity::channel_collaborator::Model);

#[Object]
impl ChannelCollaborator {
    /// The grant's opaque ID.
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::ChannelCollaborator, self.0.id))
    }
    /// The user who has access.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::load(ctx, Some(self.0.user_id)).await
    }
    /// The access level.
    async fn access(&self) -> Option<AccessLevel> {
        service::access::AccessLevel::parse(&self.0.access).map(AccessLevel::from)
    }
    /// Who granted it.
    async fn granted_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::load(ctx, Some(self.0.granted_by)).await
    }
    /// When it was granted or last changed.
    async fn granted_at(&self) -> DateTime<Utc> {
        self.0.granted_at
    }
}

/// A message in a conversation.
pub struct Message {
    pub(crate) row: entity::message::Model,
}

impl Message {
    /// A message the caller may see; related rows come through the request's loaders.
    pub fn new(row: entity::message::Model) -> Self {
        Self { row }
    }
}

#[Object]
impl Message {
    /// The message's opaque ID.
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Message, self.row.id))
    }
    /// `OUTBOUND` (to the contact) or `INBOUND` (from the contact).
    async fn direction(&self) -> Option<Direction> {
        service::conversations::Direction::parse(&self.row.direction).map(Direction::from)
    }
    /// The text.
    async fn body(&self) -> &str {
        &self.row.body
    }
    /// Who sent it (outbound messages).
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::load(ctx, self.row.author_id).await
    }
    /// When it was sent.
    async fn sent_at(&self) -> DateTime<Utc> {
        self.row.sent_at
    }
    /// The delivery state integrations report.
    async fn status(&self) -> Option<DeliveryStatus> {
        service::conversations::DeliveryStatus::parse(&self.row.status).map(DeliveryStatus::from)
    }
    /// The carrier's or mail system's id.
    async fn external_id(&self) -> Option<&str> {
        self.row.external_id.as_deref()
    }
    /// The conversation it belongs to.
    async fn conversation(&self, ctx: &Context<'_>) -> Result<Option<Conversation>> {
        Ok(ctx
            .loaders()?
            .conversations
            .load_one(self.row.conversation_id)
            .await?
            .map(Conversation::new))
    }
}

/// The conversation between a contact and the organization over one channel.
pub struct Conversation {
    pub(crate) row: entity::conversation::Model,
    /// Its contact as read with an inbox page (`None`: not read, ask the loader).
    contact: Option<VisibleContact>,
    /// Its channel as read with an inbox page.
    channel: Option<VisibleChannel>,
    /// The caller's unread count as read with an inbox page.
    unread: Option<i64>,
}

impl Conversation {
    /// A conversation the caller may see; related rows come through the request's loaders.
    pub fn new(row: entity::conversation::Model) -> Self {
        Self {
            row,
            contact: None,
            channel: None,
            unread: None,
        }
    }

    /// A conversation of an inbox page, with what the page read about it.
    pub fn read(row: InboxRow) -> Self {
        Self {
            row: row.conversation,
            contact: row.contact,
            channel: row.channel,
            unread: row.unread,
        }
    }
}

#[Object]
impl Conversation {
    /// The conversation's opaque ID.
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Conversation, self.row.id))
    }
    /// The contact.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        if let Some(contact) = &self.contact {
            return Ok(Some(Contact::new(contact.clone())));
        }
        Contact::load(ctx, self.row.contact_id).await
    }
    /// The channel.
    async fn channel(&self, ctx: &Context<'_>) -> Result<Option<Channel>> {
        if let Some(channel) = &self.channel {
            return Ok(Some(Channel(channel.clone())));
        }
        Ok(ctx
            .loaders()?
            .channels
            .load_one(self.row.channel_id)
            .await?
            .map(Channel))
    }
    /// The newest message.
    async fn last_message(&self, ctx: &Context<'_>) -> Result<Option<Message>> {
        let Some(id) = self.row.last_message_id else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()?
            .last_messages
            .load_one(id)
            .await?
            .map(Message::new))
    }
    /// When the newest message was sent (the inbox order).
    async fn last_message_at(&self) -> DateTime<Utc> {
        self.row.last_message_at
    }
    /// Inbound messages the caller has not read (each user has their own read state).
    async fn unread_count(&self, ctx: &Context<'_>) -> Result<i64> {
        if let Some(unread) = self.unread {
            return Ok(unread);
        }
        Ok(ctx
            .loaders()?
            .unread
            .load_one(self.row.id)
            .await?
            .unwrap_or(0))
    }
    /// The messages, newest first.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Message, EmptyFields>> {
        let Caller { db, actor } = ctx.caller()?;
        let limit = page_size(first)?;
        let before = page::decode_cursor(after.as_deref())?;
        let page =
            service::conversations::messages(db, actor.org_id, self.row.id, before, limit).await?;
        Ok(page::connection(
            page.rows
                .into_iter()
                .map(|row| (page::encode_cursor(row.id), Message::new(row))),
            before.is_some(),
            page.has_next,
            EmptyFields,
        ))
    }
    /// When the conversation started.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
}

/// The inbox filter.
#[derive(InputObject, Default)]
pub struct ConversationFilter {
    /// Conversations with this contact.
    pub contact_id: Option<ID>,
    /// Conversations over this channel.
    pub channel_id: Option<ID>,
    /// `true`: only conversations with inbound messages the caller has not read.
    #[graphql(default = false)]
    pub unread: bool,
}

/// Extra fields of the inbox connection.
pub struct ConversationConnectionFields {
    pub(crate) filter: ServiceFilter,
}

#[Object]
impl ConversationConnectionFields {
    /// How many conversations match (all pages).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(service::conversations::count(db, actor, &self.filter).await?)
    }
}

pub(crate) fn encode_cursor(row: &entity::conversation::Model) -> String {
    encode_time_cursor("c", row.last_message_at, row.id)
}

pub(crate) fn decode_cursor(cursor: Option<&str>) -> ApiResult<Option<InboxCursor>> {
    Ok(decode_time_cursor("c", cursor)?.map(|(at, id)| InboxCursor { at, id }))
}

/// What `sendMessage` takes.
#[derive(InputObject)]
pub struct SendMessageInput {
    /// The contact (`WRITE` access).
    pub contact_id: ID,
    /// The channel (`WRITE` access).
    pub channel_id: ID,
    /// The text (1 to 10000 characters).
    pub body: String,
}

/// What `recordInboundMessage` takes.
#[derive(InputObject)]
pub struct InboundMessageInput {
    /// The contact who wrote.
    pub contact_id: ID,
    /// The channel it arrived on (`WRITE` access).
    pub channel_id: ID,
    /// The text.
    pub body: String,
    /// When the contact sent it (default: now).
    pub sent_at: Option<DateTime<Utc>>,
    /// The carrier's or mail system's id.
    pub external_id: Option<String>,
}

impl SendMessageInput {
    /// The service input.
    pub fn into_service(self) -> ApiResult<NewMessage> {
        Ok(NewMessage {
            contact_id: ids::decode(Kind::Contact, &self.contact_id)?,
            channel_id: ids::decode(Kind::Channel, &self.channel_id)?,
            body: self.body,
            sent_at: None,
            external_id: None,
        })
    }
}

impl InboundMessageInput {
    /// The service input.
    pub fn into_service(self) -> ApiResult<NewMessage> {
        Ok(NewMessage {
            contact_id: ids::decode(Kind::Contact, &self.contact_id)?,
            channel_id: ids::decode(Kind::Channel, &self.channel_id)?,
            body: self.body,
            sent_at: timestamp("input.sentAt", self.sent_at)?,
            external_id: self.external_id,
        })
    }
}

/// What `createChannel` takes.
#[derive(InputObject)]
pub struct CreateChannelInput {
    /// `PHONE` or `EMAIL`.
    pub kind: ChannelKind,
    /// The number (with country code) or email address.
    pub address: String,
    /// A name for people.
    pub display_name: String,
}

/// What `updateChannel` takes.
#[derive(InputObject)]
pub struct UpdateChannelInput {
    /// A new name for people.
    pub display_name: String,
}
