//! Indexes on the columns that point at a note or a task and had none (issue 15, W5).
//!
//! `Note.tasks` looks tasks up by `note_id`: without an index every `createNote` answer (and
//! every page of notes with their tasks) read the whole `tasks` table, 100,000 rows at the
//! benchmark's `standard` scale. Deleting a note or a task had the same cost once per row:
//! the database finds the rows that point at it (`ON DELETE SET NULL` / `CASCADE`) by the
//! referencing column alone, `WHERE note_id = ?`, so each index leads with that column (an
//! index that led with `organization_id` would not serve those lookups); the tenant filters of
//! the API's own queries are checked on the few rows it finds. Most tasks have no closing note,
//! no original and no note, and most reminders and attachments hang off one record, so the
//! indexes are partial (`IS NOT NULL`): both databases use them for `column = ?` and for the
//! foreign-key actions, and they stay small.

use sea_orm_migration::prelude::*;

use crate::run_script;

/// Creates the indexes on `tasks.note_id`, `tasks.closing_note_id`, `tasks.copied_from_id`,
/// `reminders.note_id`, `reminders.task_id` and `attachments.note_id`.
#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE INDEX tasks_note_idx ON tasks (note_id) WHERE note_id IS NOT NULL;
CREATE INDEX tasks_closing_note_idx ON tasks (closing_note_id) WHERE closing_note_id IS NOT NULL;
CREATE INDEX tasks_copied_idx ON tasks (copied_from_id) WHERE copied_from_id IS NOT NULL;
CREATE INDEX reminders_note_idx ON reminders (note_id) WHERE note_id IS NOT NULL;
CREATE INDEX reminders_task_idx ON reminders (task_id) WHERE task_id IS NOT NULL;
CREATE INDEX attachments_note_fk_idx ON attachments (note_id) WHERE note_id IS NOT NULL
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, UP).await
    }
}
