//! The webhook mutations (owners and admins).

use async_graphql::{Context, ID, Object, Result};

use crate::{
    graphql::{
        context::{Caller, ContextExt},
        webhooks::types::{
            CreateWebhookEndpointInput, UpdateWebhookEndpointInput, WebhookDelivery,
            WebhookEndpoint, WebhookEndpointCreated,
        },
    },
    ids::{self, Kind},
    service::{deliveries, endpoints},
};

/// Webhook endpoint mutations.
#[derive(Default)]
pub struct WebhooksMutation;

#[Object]
impl WebhooksMutation {
    /// Registers a webhook endpoint; returns it with its secret, shown this once. An unknown
    /// event type, a malformed URL, or one whose host resolves to a private address is
    /// `BAD_USER_INPUT` naming what is wrong.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> Result<WebhookEndpointCreated> {
        let Caller { db, actor } = ctx.caller()?;
        let guard = &ctx.app()?.webhook_guard;
        let created = endpoints::create(db, actor, guard, input.into_service()).await?;
        Ok(WebhookEndpointCreated {
            endpoint: WebhookEndpoint(created.endpoint),
            secret: created.secret,
        })
    }

    /// Changes a webhook endpoint.
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWebhookEndpointInput,
    ) -> Result<WebhookEndpoint> {
        let Caller { db, actor } = ctx.caller()?;
        let guard = &ctx.app()?.webhook_guard;
        let id = ids::decode(Kind::WebhookEndpoint, &id)?;
        let row = endpoints::update(db, actor, guard, id, input.into_service()).await?;
        Ok(WebhookEndpoint(row))
    }

    /// Deletes a webhook endpoint with its delivery log; returns its ID.
    async fn delete_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::WebhookEndpoint, &id)?;
        let gone = endpoints::delete(db, actor, id).await?;
        Ok(ID(ids::encode(Kind::WebhookEndpoint, gone)))
    }

    /// Gives an endpoint a new secret (or ed25519 key), shown this once; the old one keeps
    /// signing beside it for 24 hours (two space-separated signatures), so the receiver can
    /// switch without missing a delivery.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<WebhookEndpointCreated> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::WebhookEndpoint, &id)?;
        let rotated = endpoints::rotate(db, actor, id).await?;
        Ok(WebhookEndpointCreated {
            endpoint: WebhookEndpoint(rotated.endpoint),
            secret: rotated.secret,
        })
    }

    /// Sends a delivery's event to its endpoint again, now: a new delivery with the same
    /// `webhook-id` and body (receivers deduplicate on the id).
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        delivery_id: ID,
    ) -> Result<WebhookDelivery> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::WebhookDelivery, &delivery_id)?;
        Ok(WebhookDelivery(deliveries::redeliver(db, actor, id).await?))
    }

    /// Queues a `webhook.test` event to an endpoint, whatever its event types, and returns the
    /// delivery (follow it in `webhookDeliveries`).
    async fn send_test_webhook(
        &self,
        ctx: &Context<'_>,
        endpoint_id: ID,
    ) -> Result<WebhookDelivery> {
        let Caller { db, actor } = ctx.caller()?;
        let id = ids::decode(Kind::WebhookEndpoint, &endpoint_id)?;
        Ok(WebhookDelivery(deliveries::send_test(db, actor, id).await?))
    }
}
