//! The webhook queries.

use async_graphql::{Context, Object, Result, connection::Connection};

use crate::{
    graphql::{
        context::{Caller, ContextExt},
        page::{id_connection, id_window},
        webhooks::types::{WebhookEndpoint, WebhookEndpointConnectionFields},
    },
    service::endpoints,
};

/// Webhook endpoints (owners and admins).
#[derive(Default)]
pub struct WebhooksQuery;

#[Object]
impl WebhooksQuery {
    /// The organization's webhook endpoints, oldest first (owners and admins; `FORBIDDEN` for
    /// everyone else).
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, WebhookEndpoint, WebhookEndpointConnectionFields>> {
        let Caller { db, actor } = ctx.caller()?;
        let window = id_window(first, after.as_deref(), None, None)?;
        let (rows, has_next, has_previous) = endpoints::list(db, actor, window).await?;
        Ok(id_connection(
            rows.into_iter().map(WebhookEndpoint).collect(),
            has_next,
            has_previous,
            |e| e.0.id,
            WebhookEndpointConnectionFields,
        ))
    }
}
