//! The contacts queries.

use async_graphql::{Context, ID, Object, Result, connection::Connection};

use crate::{
    graphql::{
        contacts::types::{Contact, ContactConnectionFields, ContactFilter},
        context::{Caller, ContextExt},
        page::{id_connection, id_window},
    },
    ids::{self, Kind},
    service,
};

/// The contacts list.
#[derive(Default)]
pub struct ContactsQuery;

#[Object]
impl ContactsQuery {
    /// The contacts the caller may see, oldest first, filtered by text and archived state.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, last, child_complexity)")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ContactFilter>,
    ) -> Result<Connection<String, Contact, ContactConnectionFields>> {
        let Caller { db, actor } = ctx.caller()?;
        let window = id_window(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default().into_service()?;
        service::validate::search("filter.search", filter.search.as_deref())?;
        let (rows, has_next, has_previous) =
            service::contacts::list(db, actor, &filter, window).await?;
        Ok(id_connection(
            rows.into_iter().map(Contact::new).collect(),
            has_next,
            has_previous,
            |c| c.row.contact.id,
            ContactConnectionFields { filter },
        ))
    }
}

/// One contact (placed after the conversations queries, as the published schema orders its fields).
#[derive(Default)]
pub struct ContactQuery;

#[Object]
impl ContactQuery {
    /// One contact by ID; `NOT_FOUND` when it does not exist or the caller may not see it.
    async fn contact(&self, ctx: &Context<'_>, id: ID) -> Result<Contact> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::Contact, &id)?;
        Ok(Contact::new(service::contacts::get(db, actor, id).await?))
    }
}
