//! Notifications: what a user is told about (a task assigned to them, a note that mentions
//! them, a reminder that fired), each read or unread; written in the transaction of the change
//! that caused it.

use sea_orm_migration::prelude::*;

use crate::run_script;

/// Creates the notifications table.
#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE notifications (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    user_id {id} NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('TASK_ASSIGNED', 'MENTIONED', 'REMINDER_FIRED')),
    actor_id {id} REFERENCES users (id),
    contact_id {id} NOT NULL REFERENCES contacts (id),
    subject_kind TEXT NOT NULL CHECK (subject_kind IN ('Note', 'Task', 'Reminder')),
    subject_id {id} NOT NULL,
    summary TEXT NOT NULL,
    created_at {ts} NOT NULL,
    read_at {ts}
);
-- The caller's list, newest first, and their unread count.
CREATE INDEX notifications_user_idx ON notifications (organization_id, user_id, id);
CREATE INDEX notifications_unread_idx ON notifications (organization_id, user_id, id) WHERE read_at IS NULL;
-- A user is told about a mention in a note once (concurrent edits insert with ON CONFLICT DO
-- NOTHING against it), and a deleted note's mentions are found by it.
CREATE UNIQUE INDEX notifications_mention_once_idx ON notifications (subject_id, user_id) WHERE kind = 'MENTIONED'
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, UP).await
    }
}
