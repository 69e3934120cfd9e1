//! Webhook endpoints in GraphQL: the `WebhookEndpoint` type and its inputs.

use async_graphql::{Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{
    ids::{self, Kind},
    service::endpoints::{self, EndpointInput},
};

/// How an endpoint's deliveries are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::endpoints::Signing")]
pub enum WebhookSigning {
    /// `v1`: HMAC-SHA256 with the endpoint's `whsec_` secret (the default).
    Hmac,
    /// `v1a`: ed25519; verify with the endpoint's `whpk_` public key.
    #[graphql(name = "ED25519")]
    Ed25519,
}

/// Why the gateway disabled an endpoint by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::endpoints::DisabledReason")]
pub enum WebhookDisabledReason {
    /// The receiver answered 410 Gone.
    Gone,
    /// Every attempt failed for five days straight.
    Failing,
}

/// An extra request header sent with every delivery.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "WebhookHeaderInput")]
pub struct WebhookHeader {
    /// The header name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// Where an organization's events are sent (owners and admins).
pub struct WebhookEndpoint(pub entity::webhook_endpoint::Model);

#[Object]
impl WebhookEndpoint {
    /// The endpoint's opaque ID.
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::WebhookEndpoint, self.0.id))
    }
    /// Where deliveries are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// What the endpoint is for.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The event types it receives: dotted names, `<kind>.*` patterns or `*`.
    async fn event_types(&self) -> Vec<String> {
        strings(&self.0.event_types)
    }
    /// Whether deliveries are sent.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// Why the gateway disabled it (null when enabled, or disabled by a person).
    async fn disabled_reason(&self) -> Option<WebhookDisabledReason> {
        self.0
            .disabled_reason
            .as_deref()
            .and_then(endpoints::DisabledReason::parse)
            .map(Into::into)
    }
    /// Extra request headers sent with every delivery.
    async fn headers(&self) -> Vec<WebhookHeader> {
        self.0
            .headers
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(name, value)| WebhookHeader {
                        name: name.clone(),
                        value: value.as_str().unwrap_or_default().to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    /// How deliveries are signed.
    async fn signing(&self) -> Option<WebhookSigning> {
        endpoints::Signing::parse(&self.0.signing).map(Into::into)
    }
    /// For an `ED25519` endpoint, the `whpk_` public key its receiver verifies with.
    async fn public_key(&self) -> Option<String> {
        endpoints::public_key(&self.0)
    }
    /// Until when the secret before the last rotation still signs beside the current one.
    async fn previous_secret_expires_at(&self) -> Option<DateTime<Utc>> {
        self.0
            .previous_secret_until
            .filter(|until| *until > crate::service::now())
    }
    /// The most deliveries in flight to it at once.
    async fn max_in_flight(&self) -> i32 {
        self.0.max_in_flight
    }
    /// Since when every attempt has failed (null after a success); at five days the endpoint is
    /// disabled.
    async fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.0.failing_since
    }
    /// When it was registered.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// An endpoint with the secret its receiver verifies with, shown this once.
#[derive(SimpleObject)]
pub struct WebhookEndpointCreated {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// `whsec_...` (HMAC), or the `whpk_...` public key (ED25519). Keep it: it is not shown
    /// again (an ED25519 endpoint's public key stays readable as `publicKey`).
    pub secret: String,
}

/// What `createWebhookEndpoint` takes.
#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// Where to POST: an `http` or `https` URL whose host resolves to public addresses.
    pub url: String,
    /// Event types: dotted names such as `note.created`, `<kind>.*` patterns such as `note.*`,
    /// or `*` for all.
    pub event_types: Vec<String>,
    /// What it is for (at most 500 characters).
    pub description: Option<String>,
    /// Whether deliveries are sent (default true).
    pub enabled: Option<bool>,
    /// Extra request headers (at most 20; not `webhook-*`, `content-type`, `host` and the like).
    pub headers: Option<Vec<WebhookHeader>>,
    /// How deliveries are signed (default `HMAC`).
    pub signing: Option<WebhookSigning>,
    /// The most deliveries in flight to it at once, 1 to 64 (default 4).
    pub max_in_flight: Option<i32>,
}

/// What `updateWebhookEndpoint` takes; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    /// New URL.
    pub url: Option<String>,
    /// New event types (replace).
    pub event_types: Option<Vec<String>>,
    /// New description.
    pub description: Option<String>,
    /// Enable (which clears why the gateway disabled it) or disable.
    pub enabled: Option<bool>,
    /// New extra headers (replace).
    pub headers: Option<Vec<WebhookHeader>>,
    /// New in-flight cap.
    pub max_in_flight: Option<i32>,
}

fn header_map(
    headers: Option<Vec<WebhookHeader>>,
) -> Option<std::collections::BTreeMap<String, String>> {
    headers.map(|h| h.into_iter().map(|h| (h.name, h.value)).collect())
}

impl CreateWebhookEndpointInput {
    /// The service input.
    pub fn into_service(self) -> EndpointInput {
        EndpointInput {
            url: Some(self.url),
            event_types: Some(self.event_types),
            description: self.description,
            enabled: self.enabled,
            headers: header_map(self.headers),
            signing: self.signing.map(Into::into),
            max_in_flight: self.max_in_flight,
        }
    }
}

impl UpdateWebhookEndpointInput {
    /// The service input.
    pub fn into_service(self) -> EndpointInput {
        EndpointInput {
            url: self.url,
            event_types: self.event_types,
            description: self.description,
            enabled: self.enabled,
            headers: header_map(self.headers),
            signing: None,
            max_in_flight: self.max_in_flight,
        }
    }
}

/// Extra fields of the endpoints connection.
pub struct WebhookEndpointConnectionFields;

#[Object]
impl WebhookEndpointConnectionFields {
    /// How many endpoints the organization has.
    async fn total_count(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<i64> {
        use crate::graphql::context::{Caller, ContextExt};
        let Caller { db, actor } = ctx.caller()?;
        Ok(endpoints::count(db, actor).await?)
    }
}

/// A webhook delivery's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::deliveries::DeliveryStatus")]
pub enum WebhookDeliveryStatus {
    /// Waiting for its next attempt (or for an earlier delivery about the same record).
    Pending,
    /// Being sent.
    Sending,
    /// The receiver answered 2xx.
    Succeeded,
    /// Given up: the retry schedule ran out, or the receiver answered 410.
    Failed,
}

/// What one attempt led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::deliveries::AttemptOutcome")]
pub enum WebhookAttemptOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Another answer, a timeout or a network error: retried on the schedule.
    Retry,
    /// The receiver answered 410 Gone: the endpoint was disabled.
    Gone,
    /// Nothing was sent: the URL's address (resolved at delivery time) is not allowed.
    Refused,
}

/// One attempt to deliver, as logged.
pub struct WebhookAttempt(pub entity::webhook_attempt::Model);

#[Object]
impl WebhookAttempt {
    /// Its number (1 for the first).
    async fn attempt(&self) -> i32 {
        self.0.attempt
    }
    /// When it was made.
    async fn attempted_at(&self) -> DateTime<Utc> {
        self.0.attempted_at
    }
    /// What it led to.
    async fn outcome(&self) -> Option<WebhookAttemptOutcome> {
        crate::service::deliveries::AttemptOutcome::parse(&self.0.outcome).map(Into::into)
    }
    /// The answer's status code, if an answer came.
    async fn status_code(&self) -> Option<i32> {
        self.0.status_code
    }
    /// How long it took, in milliseconds.
    async fn latency_ms(&self) -> i64 {
        self.0.latency_ms
    }
    /// What went wrong (a timeout, a refused address, a redirect not followed...).
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// The first 4 KiB of the answer's body.
    async fn response_excerpt(&self) -> Option<&str> {
        self.0.response_excerpt.as_deref()
    }
}

/// One event sent (or to be sent) to one endpoint, with its attempts.
pub struct WebhookDelivery(pub entity::webhook_delivery::Model);

#[Object]
impl WebhookDelivery {
    /// The delivery's opaque ID (what `redeliverWebhook` takes).
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::WebhookDelivery, self.0.id))
    }
    /// The `webhook-id` header: the same on every attempt and on a redelivery.
    async fn message_id(&self) -> &str {
        &self.0.message_id
    }
    /// The event type, such as `note.created` (`webhook.test` for a test).
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// Its state.
    async fn status(&self) -> Option<WebhookDeliveryStatus> {
        crate::service::deliveries::DeliveryStatus::parse(&self.0.status).map(Into::into)
    }
    /// The request body, exactly as sent.
    async fn payload(&self) -> &str {
        &self.0.payload
    }
    /// Attempts made so far.
    async fn attempt_count(&self) -> i32 {
        self.0.attempts
    }
    /// When the next attempt is due (while `PENDING`).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == "PENDING").then_some(self.0.next_attempt_at)
    }
    /// The status code of the last answer.
    async fn last_status_code(&self) -> Option<i32> {
        self.0.last_status_code
    }
    /// When the event happened.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it succeeded or gave up.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    /// Every attempt, oldest first (kept for `THREADLINE_WEBHOOK_RETENTION_DAYS`).
    #[graphql(
        complexity = "crate::graphql::page::list_cost(crate::graphql::page::SETTINGS_LIST_COST, child_complexity)"
    )]
    async fn attempts(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Vec<WebhookAttempt>> {
        use crate::graphql::context::ContextExt;
        let rows = ctx
            .loaders()?
            .webhook_attempts
            .load_or_default(self.0.id)
            .await?;
        Ok(rows.into_iter().map(WebhookAttempt).collect())
    }
}

/// The `webhookDeliveries` filter.
#[derive(InputObject, Default)]
pub struct DeliveryFilter {
    /// Only deliveries in this state.
    pub status: Option<WebhookDeliveryStatus>,
    /// Only this event type, or those a pattern matches as endpoints subscribe (`note.*`, or
    /// `*` for all).
    pub event_type: Option<String>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
}
