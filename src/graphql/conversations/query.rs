//! The conversations queries: channels, the inbox and one conversation.

use async_graphql::{Context, ID, Object, Result, connection::Connection};

use super::types::{decode_cursor, encode_cursor};
use crate::{
    graphql::{
        context::{Caller, ContextExt},
        conversations::types::{
            Channel, Conversation, ConversationConnectionFields, ConversationFilter,
        },
        page::{items_select, page_size},
    },
    ids::{self, Kind},
    service::{
        self,
        conversations::{ConversationFilter as ServiceFilter, InboxJoins},
    },
};

/// Channels and conversations.
#[derive(Default)]
pub struct ConversationsQuery;

#[Object]
impl ConversationsQuery {
    /// The channels the caller may use: all of the organization's for owners and admins,
    /// granted ones for members.
    #[graphql(
        complexity = "crate::graphql::page::list_cost(crate::graphql::page::SETTINGS_LIST_COST, child_complexity)"
    )]
    async fn channels(&self, ctx: &Context<'_>) -> Result<Vec<Channel>> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(service::channels::list(db, actor)
            .await?
            .into_iter()
            .map(Channel)
            .collect())
    }

    /// The caller's inbox, newest activity first: conversations whose contact and channel the
    /// caller may both read.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ConversationFilter>,
    ) -> Result<Connection<String, Conversation, ConversationConnectionFields>> {
        inbox_page(ctx, None, first, after, filter).await
    }

    /// One conversation by ID; `NOT_FOUND` without access to its contact and channel.
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> Result<Conversation> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Conversation, &id)?;
        Ok(Conversation::new(
            service::conversations::get(db, actor, id).await?,
        ))
    }
}

/// Resolves an inbox page (`conversations` and `Contact.conversations`).
pub async fn inbox_page(
    ctx: &Context<'_>,
    contact_id: Option<i64>,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<ConversationFilter>,
) -> Result<Connection<String, Conversation, ConversationConnectionFields>> {
    let Caller { db, actor } = ctx.caller()?;
    let limit = page_size(first)?;
    let cursor = decode_cursor(after.as_deref())?;
    let filter = filter.unwrap_or_default();
    let service_filter = ServiceFilter {
        contact_id: match contact_id {
            Some(id) => Some(id),
            None => ids::decode_opt(Kind::Contact, filter.contact_id)?,
        },
        channel_id: ids::decode_opt(Kind::Channel, filter.channel_id)?,
        unread: filter.unread,
    };
    let joins = InboxJoins {
        contact: items_select(ctx, "contact"),
        channel: items_select(ctx, "channel"),
        unread: items_select(ctx, "unreadCount"),
    };
    let page =
        service::conversations::inbox(db, actor, &service_filter, cursor, limit, joins).await?;

    Ok(crate::graphql::page::connection(
        page.rows
            .into_iter()
            .map(|row| (encode_cursor(&row.conversation), Conversation::read(row))),
        cursor.is_some(),
        page.has_next,
        ConversationConnectionFields {
            filter: service_filter,
        },
    ))
}
