//! The users queries: the caller and the users they may see.

use async_graphql::{Context, ID, Object, Result, connection::Connection};

use crate::{
    graphql::{
        context::{Caller, ContextExt},
        page::{id_connection, id_window},
        users::types::{User, UserConnectionFields},
    },
    ids::{self, Kind},
    service,
};

/// The caller (first of the query root, as the published schema orders its fields).
#[derive(Default)]
pub struct MeQuery;

#[Object]
impl MeQuery {
    /// The caller.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let Caller { db, actor } = ctx.caller()?;
        Ok(User(service::users::get(db, actor, actor.user_id).await?))
    }
}

/// The users the caller may see.
#[derive(Default)]
pub struct UsersQuery;

#[Object]
impl UsersQuery {
    /// The users the caller may see: staff see every staff user and the customer users of the
    /// contacts they may see; a customer user sees themselves and their consultant.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, last, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, User, UserConnectionFields>> {
        let Caller { db, actor } = ctx.caller()?;
        let window = id_window(first, after.as_deref(), last, before.as_deref())?;
        let (rows, has_next, has_previous) = service::users::list(db, actor, window).await?;
        Ok(id_connection(
            rows.into_iter().map(User).collect(),
            has_next,
            has_previous,
            |u| u.0.id,
            UserConnectionFields,
        ))
    }

    /// One user by ID; `NOT_FOUND` when the caller may not see it.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::User, &id)?;
        Ok(User(service::users::get(db, actor, id).await?))
    }
}
