//! Writing timeline events, always inside the transaction of the change they describe.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};
use serde_json::Value;

use super::now;
use crate::{auth::Actor, error::ApiResult};

/// What happened, as the contract's `TimelineEventKind` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A contact was created.
    ContactCreated,
    /// A contact's fields changed.
    ContactUpdated,
    /// A contact was archived.
    ContactArchived,
    /// A contact was unarchived.
    ContactUnarchived,
    /// Someone was granted (or changed) access to a contact.
    CollaboratorGranted,
    /// Someone's access to a contact was revoked.
    CollaboratorRevoked,
}

impl EventKind {
    /// The stored (and GraphQL) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ContactCreated => "CONTACT_CREATED",
            Self::ContactUpdated => "CONTACT_UPDATED",
            Self::ContactArchived => "CONTACT_ARCHIVED",
            Self::ContactUnarchived => "CONTACT_UNARCHIVED",
            Self::CollaboratorGranted => "COLLABORATOR_GRANTED",
            Self::CollaboratorRevoked => "COLLABORATOR_REVOKED",
        }
    }
}

/// One event to record.
pub struct NewEvent<'a> {
    /// The contact it happened to.
    pub contact_id: i64,
    /// What happened.
    pub kind: EventKind,
    /// The kind of record it is about (`Contact`, `Collaborator`...).
    pub subject_kind: &'a str,
    /// That record's row id.
    pub subject_id: i64,
    /// One line for people.
    pub summary: String,
    /// Details, such as the fields that changed.
    pub data: Value,
}

/// Records `event` as done by `actor`, on the caller's connection or transaction.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    event: NewEvent<'_>,
) -> ApiResult<()> {
    entity::timeline_event::ActiveModel {
        organization_id: Set(actor.org_id),
        contact_id: Set(event.contact_id),
        occurred_at: Set(now()),
        kind: Set(event.kind.as_str().to_owned()),
        actor_id: Set(Some(actor.user_id)),
        subject_kind: Set(event.subject_kind.to_owned()),
        subject_id: Set(event.subject_id),
        summary: Set(event.summary),
        data: Set(event.data),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
