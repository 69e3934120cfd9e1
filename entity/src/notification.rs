//! Notifications for users: assignments, mentions and fired reminders.

use sea_orm::entity::prelude::*;

/// One notification.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning organization.
    pub organization_id: i64,
    /// Who is notified.
    pub user_id: i64,
    /// `TASK_ASSIGNED`, `MENTIONED` or `REMINDER_FIRED`.
    pub kind: String,
    /// Who caused it (none for a fired reminder).
    pub actor_id: Option<i64>,
    /// The contact it concerns.
    pub contact_id: i64,
    /// `Note`, `Task` or `Reminder`.
    pub subject_kind: String,
    /// That record's row id.
    pub subject_id: i64,
    /// One line for people ("Ana assigned you a task: Call back").
    pub summary: String,
    /// When it was written.
    pub created_at: DateTimeUtc,
    /// When its user marked it read.
    pub read_at: Option<DateTimeUtc>,
}

/// No relations are declared: queries join explicitly so that every one filters by organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
