//! Tasks planned about contacts.

use sea_orm::entity::prelude::*;

/// One task.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// The contact it is about.
    pub contact_id: i64,
    /// What to do.
    pub description: String,
    /// Its type.
    pub type_id: Option<i64>,
    /// When it is scheduled for.
    pub scheduled_at: Option<DateTimeUtc>,
    /// When it starts.
    pub start_at: Option<DateTimeUtc>,
    /// When it ends.
    pub end_at: Option<DateTimeUtc>,
    /// When to remind the responsible user.
    pub remind_at: Option<DateTimeUtc>,
    /// Who is responsible.
    pub responsible_id: i64,
    /// Who created it.
    pub creator_id: i64,
    /// `PLANNED`, `IN_PROGRESS`, `DONE` or `CANCELLED`.
    pub status: String,
    /// The outcome it was completed with.
    pub outcome_id: Option<i64>,
    /// The note it came with.
    pub note_id: Option<i64>,
    /// The note it was closed with (`CLOSE_WITH_NOTE`).
    pub closing_note_id: Option<i64>,
    /// The task this one follows up.
    pub continued_from_id: Option<i64>,
    /// The task this one is a copy of.
    pub copied_from_id: Option<i64>,
    /// When it was completed.
    pub completed_at: Option<DateTimeUtc>,
    /// Who completed it.
    pub completed_by: Option<i64>,
    /// When it was created.
    pub created_at: DateTimeUtc,
    /// When it last changed.
    pub updated_at: DateTimeUtc,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
