//! Notes, tasks, reminders, attachments and the per-organization settings they use (task types,
//! outcomes, labels, message templates), with full-text search over notes.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

use crate::run_script;

/// Creates the notes-and-tasks tables, their indexes and the notes full-text index (FTS5 on
/// SQLite, a generated `tsvector` with a GIN index on PostgreSQL).
#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE task_types (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    name TEXT NOT NULL,
    next_type_id {id} REFERENCES task_types (id) ON DELETE SET NULL,
    next_delay_minutes INTEGER,
    created_at {ts} NOT NULL
);
CREATE UNIQUE INDEX task_types_org_name_key ON task_types (organization_id, name);

CREATE TABLE outcomes (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    code TEXT,
    name TEXT NOT NULL,
    created_at {ts} NOT NULL
);
CREATE UNIQUE INDEX outcomes_org_name_key ON outcomes (organization_id, name);

CREATE TABLE labels (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    name TEXT NOT NULL,
    color TEXT,
    created_at {ts} NOT NULL
);
CREATE UNIQUE INDEX labels_org_name_key ON labels (organization_id, name);

CREATE TABLE message_templates (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    name TEXT NOT NULL,
    subject TEXT,
    body TEXT NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE UNIQUE INDEX message_templates_org_name_key ON message_templates (organization_id, name);

CREATE TABLE notes (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    contact_id {id} NOT NULL REFERENCES contacts (id),
    author_id {id} NOT NULL REFERENCES users (id),
    subject TEXT,
    body TEXT NOT NULL,
    body_html TEXT,
    visibility TEXT NOT NULL CHECK (visibility IN ('PRIVATE', 'TEAM', 'CUSTOMER')),
    type_id {id} REFERENCES task_types (id) ON DELETE SET NULL,
    template_id {id} REFERENCES message_templates (id) ON DELETE SET NULL,
    attached_kind TEXT,
    attached_id TEXT,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE INDEX notes_contact_idx ON notes (organization_id, contact_id, id);
CREATE INDEX notes_author_idx ON notes (organization_id, author_id, id);
CREATE INDEX notes_org_idx ON notes (organization_id, id);
CREATE INDEX notes_attached_idx ON notes (organization_id, attached_kind, attached_id);

CREATE TABLE note_labels (
    note_id {id} NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    label_id {id} NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    organization_id {id} NOT NULL REFERENCES organizations (id),
    PRIMARY KEY (note_id, label_id)
);
CREATE INDEX note_labels_label_idx ON note_labels (organization_id, label_id, note_id);

CREATE TABLE attachments (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    note_id {id} REFERENCES notes (id) ON DELETE CASCADE,
    uploaded_by {id} NOT NULL REFERENCES users (id),
    sha256 TEXT NOT NULL,
    size {id} NOT NULL,
    content_type TEXT NOT NULL,
    filename TEXT NOT NULL,
    created_at {ts} NOT NULL
);
CREATE INDEX attachments_note_idx ON attachments (organization_id, note_id);

CREATE TABLE tasks (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    contact_id {id} NOT NULL REFERENCES contacts (id),
    description TEXT NOT NULL,
    type_id {id} REFERENCES task_types (id) ON DELETE SET NULL,
    scheduled_at {ts},
    start_at {ts},
    end_at {ts},
    remind_at {ts},
    responsible_id {id} NOT NULL REFERENCES users (id),
    creator_id {id} NOT NULL REFERENCES users (id),
    status TEXT NOT NULL CHECK (status IN ('PLANNED', 'IN_PROGRESS', 'DONE', 'CANCELLED')),
    outcome_id {id} REFERENCES outcomes (id) ON DELETE SET NULL,
    note_id {id} REFERENCES notes (id) ON DELETE SET NULL,
    closing_note_id {id} REFERENCES notes (id) ON DELETE SET NULL,
    continued_from_id {id} REFERENCES tasks (id) ON DELETE SET NULL,
    copied_from_id {id} REFERENCES tasks (id) ON DELETE SET NULL,
    completed_at {ts},
    completed_by {id} REFERENCES users (id),
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE INDEX tasks_contact_created_idx ON tasks (organization_id, contact_id, created_at, id);
CREATE INDEX tasks_contact_scheduled_idx ON tasks (organization_id, contact_id, scheduled_at, id);
CREATE INDEX tasks_responsible_idx ON tasks (organization_id, responsible_id, status, scheduled_at);
CREATE INDEX tasks_org_created_idx ON tasks (organization_id, created_at, id);
CREATE INDEX tasks_continued_idx ON tasks (continued_from_id);

CREATE TABLE task_tags (
    task_id {id} NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    organization_id {id} NOT NULL REFERENCES organizations (id),
    tag TEXT NOT NULL,
    PRIMARY KEY (task_id, tag)
);
CREATE INDEX task_tags_tag_idx ON task_tags (organization_id, tag);

CREATE TABLE reminders (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    user_id {id} NOT NULL REFERENCES users (id),
    contact_id {id} NOT NULL REFERENCES contacts (id),
    note_id {id} REFERENCES notes (id) ON DELETE CASCADE,
    task_id {id} REFERENCES tasks (id) ON DELETE CASCADE,
    remind_at {ts} NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'FIRED', 'DISMISSED')),
    fired_at {ts},
    created_at {ts} NOT NULL
);
CREATE INDEX reminders_due_idx ON reminders (status, remind_at);
CREATE INDEX reminders_user_idx ON reminders (organization_id, user_id, status, remind_at)
"#;

/// SQLite statements, one each: the triggers hold `;` inside `BEGIN ... END`.
const SQLITE_FTS: [&str; 4] = [
    "CREATE VIRTUAL TABLE notes_fts USING fts5(subject, body, content='notes', content_rowid='id')",
    "CREATE TRIGGER notes_fts_insert AFTER INSERT ON notes BEGIN
        INSERT INTO notes_fts (rowid, subject, body) VALUES (new.id, new.subject, new.body);
    END",
    "CREATE TRIGGER notes_fts_delete AFTER DELETE ON notes BEGIN
        INSERT INTO notes_fts (notes_fts, rowid, subject, body) VALUES ('delete', old.id, old.subject, old.body);
    END",
    "CREATE TRIGGER notes_fts_update AFTER UPDATE ON notes BEGIN
        INSERT INTO notes_fts (notes_fts, rowid, subject, body) VALUES ('delete', old.id, old.subject, old.body);
        INSERT INTO notes_fts (rowid, subject, body) VALUES (new.id, new.subject, new.body);
    END",
];

const POSTGRES_FTS: &str = r#"
ALTER TABLE notes ADD COLUMN search tsvector GENERATED ALWAYS AS
    (to_tsvector('simple', coalesce(subject, '') || ' ' || body)) STORED;
CREATE INDEX notes_search_idx ON notes USING GIN (search)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, UP).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            run_script(manager, POSTGRES_FTS).await
        } else {
            for statement in SQLITE_FTS {
                manager
                    .get_connection()
                    .execute_unprepared(statement)
                    .await?;
            }
            Ok(())
        }
    }
}
