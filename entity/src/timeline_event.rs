//! The timeline: everything that happened to a contact.

use sea_orm::entity::prelude::*;

/// One timeline event.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "timeline_events")]
pub struct Model {
    /// Row id; also the tie-breaker of the timeline order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// The contact the event is about.
    pub contact_id: i64,
    /// When it happened.
    pub occurred_at: DateTimeUtc,
    /// `CONTACT_CREATED`, `COLLABORATOR_GRANTED`, ...
    pub kind: String,
    /// Who did it.
    pub actor_id: Option<i64>,
    /// The kind of record the event is about (`Contact`, `Collaborator`, `Note`...).
    pub subject_kind: String,
    /// That record's id.
    pub subject_id: i64,
    /// One line for people.
    pub summary: String,
    /// Details (what changed).
    pub data: Json,
    /// Who may see it: `TEAM` (staff with access to the contact), `CUSTOMER` (also the
    /// contact's customer user) or `PRIVATE` (only `audience_user_id`).
    pub audience: String,
    /// The one user who sees a `PRIVATE` event.
    pub audience_user_id: Option<i64>,
    /// For a `CHANNEL` event (a message): the channel the viewer also needs access to.
    pub audience_channel_id: Option<i64>,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
