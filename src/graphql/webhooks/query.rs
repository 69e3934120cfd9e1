//! The webhook queries.

use async_graphql::{Context, Object, Result, connection::Connection};

use crate::{
    graphql::{
        context::{Caller, ContextExt},
        page::{self, id_connection, id_window, page_size},
        webhooks::types::{
            DeliveryFilter, WebhookDelivery, WebhookEndpoint, WebhookEndpointConnectionFields,
        },
    },
    ids::{self, Kind},
    service::{
        deliveries::{self, DeliveryFilter as ServiceFilter},
        endpoints,
    },
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

    /// An endpoint's deliveries, newest first, with their attempts (owners and admins).
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        endpoint_id: async_graphql::ID,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<DeliveryFilter>,
    ) -> Result<Connection<String, WebhookDelivery>> {
        let Caller { db, actor } = ctx.caller()?;
        let endpoint_id = ids::decode(Kind::WebhookEndpoint, &endpoint_id)?;
        let limit = page_size(first)?;
        let before = page::decode_cursor(after.as_deref())?;
        let filter = filter.unwrap_or_default();
        crate::service::validate::timestamp("filter.since", filter.since)?;
        crate::service::validate::timestamp("filter.until", filter.until)?;
        if let Some(event_type) = &filter.event_type
            && event_type != "webhook.test"
        {
            endpoints::event_types("filter.eventType", std::slice::from_ref(event_type))?;
        }
        let service_filter = ServiceFilter {
            status: filter.status.map(Into::into),
            event_type: filter.event_type.map(|t| t.trim().to_lowercase()),
            since: filter.since,
            until: filter.until,
        };
        let found =
            deliveries::list(db, actor, endpoint_id, &service_filter, before, limit).await?;
        Ok(page::connection(
            found
                .rows
                .into_iter()
                .map(|row| (page::encode_cursor(row.id), WebhookDelivery(row))),
            before.is_some(),
            found.has_next,
            async_graphql::connection::EmptyFields,
        ))
    }
}
