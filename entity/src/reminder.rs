//! Reminders for users about notes and tasks.

use sea_orm::entity::prelude::*;

/// One reminder.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "reminders")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// Whom to remind.
    pub user_id: i64,
    /// The contact it concerns.
    pub contact_id: i64,
    /// The note it is about.
    pub note_id: Option<i64>,
    /// The task it is about.
    pub task_id: Option<i64>,
    /// When it is due.
    pub remind_at: DateTimeUtc,
    /// `PENDING`, `FIRED` or `DISMISSED`.
    pub status: String,
    /// When it fired.
    pub fired_at: Option<DateTimeUtc>,
    /// When it was created.
    pub created_at: DateTimeUtc,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
