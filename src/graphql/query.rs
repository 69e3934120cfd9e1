//! The query root.

use async_graphql::{Context, ID, Object, Result, connection::Connection};

use super::{
    connection::{decode_cursor, id_connection, page_size},
    context::ContextExt,
    prefetch,
    timeline::{self, TimelineEvent, TimelineFilter},
    types::{Contact, ContactConnectionFields, ContactFilter, Node, User, UserConnectionFields},
};
use crate::{
    error::ApiError,
    ids::{self, Kind},
    service,
};

/// Read operations.
#[derive(Default)]
pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// The caller.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let actor = ctx.actor()?;
        Ok(User(
            service::users::get(ctx.db()?, actor, actor.user_id).await?,
        ))
    }

    /// Any record by its global ID, if the caller may see it; null otherwise (a missing and a
    /// forbidden record look the same).
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let actor = ctx.actor()?;
        let db = ctx.db()?;
        let found = match ids::decode_any(&id) {
            Some((Kind::User, id)) => service::users::get_many(db, actor, &[id])
                .await?
                .remove(&id)
                .map(|u| Node::User(User(u))),
            Some((Kind::Contact, id)) => service::contacts::get_many(db, actor, &[id])
                .await?
                .remove(&id)
                .map(|c| Node::Contact(Contact::new(c))),
            _ => None,
        };
        Ok(found)
    }

    /// The users the caller may see: staff see every staff user and the customer users of the
    /// contacts they may see; a customer user sees themselves and their consultant.
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, User, UserConnectionFields>> {
        let limit = page_size(first)?;
        let after_id = decode_cursor(after.as_deref())?;
        let page = service::users::list(ctx.db()?, ctx.actor()?, after_id, limit).await?;
        Ok(id_connection(
            page.rows.into_iter().map(User).collect(),
            page.has_next,
            after_id.is_some(),
            |u| u.0.id,
            UserConnectionFields,
        ))
    }

    /// One user by ID; `NOT_FOUND` when the caller may not see it.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        let id = ids::decode(Kind::User, &id)?;
        Ok(User(
            service::users::get(ctx.db()?, ctx.actor()?, id).await?,
        ))
    }

    /// The contacts the caller may see, oldest first, filtered by text and archived state.
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ContactFilter>,
    ) -> Result<Connection<String, Contact, ContactConnectionFields>> {
        let limit = page_size(first)?;
        let after_id = decode_cursor(after.as_deref())?;
        let filter: service::contacts::ContactFilter = filter.unwrap_or_default().into();
        if filter
            .search
            .as_ref()
            .is_some_and(|s| s.chars().count() > 200)
        {
            return Err(
                ApiError::bad_input("filter.search", "is longer than 200 characters").into(),
            );
        }
        let page =
            service::contacts::list(ctx.db()?, ctx.actor()?, &filter, after_id, limit).await?;
        let prefetch = prefetch::contacts(ctx, &prefetch::node_selections(ctx), &page.rows).await?;
        Ok(id_connection(
            page.rows
                .into_iter()
                .map(|row| Contact::with_prefetch(row, prefetch.clone()))
                .collect(),
            page.has_next,
            after_id.is_some(),
            |c| c.row.contact.id,
            ContactConnectionFields { filter },
        ))
    }

    /// A contact's timeline, newest first: what happened to it, as far as the caller may see
    /// (another user's private note is not there; a customer user sees what is shared with them).
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        contact_id: ID,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<TimelineFilter>,
    ) -> Result<Connection<String, TimelineEvent>> {
        ctx.actor()?;
        let contact_id = ids::decode(Kind::Contact, &contact_id)?;
        timeline::page(ctx, contact_id, first, after, filter).await
    }

    /// One contact by ID; `NOT_FOUND` when it does not exist or the caller may not see it.
    async fn contact(&self, ctx: &Context<'_>, id: ID) -> Result<Contact> {
        let id = ids::decode(Kind::Contact, &id)?;
        Ok(Contact::new(
            service::contacts::get(ctx.db()?, ctx.actor()?, id).await?,
        ))
    }
}
