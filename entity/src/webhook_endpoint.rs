//! Webhook endpoints: where an organization's events are sent, and how they are signed.

use sea_orm::entity::prelude::*;

/// One endpoint.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// Where deliveries are POSTed.
    pub url: String,
    /// What the endpoint is for, for people.
    pub description: String,
    /// The event types it receives (a JSON array of dotted names and `x.*`/`*` patterns).
    pub event_types: Json,
    /// Extra request headers (a JSON object of names to values).
    pub headers: Json,
    /// Whether deliveries are sent.
    pub enabled: bool,
    /// Why the gateway disabled it: `GONE` (the receiver answered 410) or `FAILING` (5 days of
    /// failures); null when enabled or disabled by a person.
    pub disabled_reason: Option<String>,
    /// `HMAC` (`v1`, a `whsec_` secret) or `ED25519` (`v1a`, a `whsk_` key).
    pub signing: String,
    /// The current secret or signing key.
    pub secret: String,
    /// The secret before the last rotation, still signing beside the new one until
    /// `previous_secret_until`.
    pub previous_secret: Option<String>,
    /// When the previous secret stops signing.
    pub previous_secret_until: Option<DateTimeUtc>,
    /// The most deliveries in flight to it at once.
    pub max_in_flight: i32,
    /// Since when every attempt has failed (null after a success).
    pub failing_since: Option<DateTimeUtc>,
    /// Who registered it.
    pub created_by: i64,
    /// When it was registered.
    pub created_at: DateTimeUtc,
    /// When it last changed.
    pub updated_at: DateTimeUtc,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
