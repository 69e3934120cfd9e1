//! The foundation: organizations, users, contacts with their emails, phones and addresses,
//! collaborator grants, the timeline and instance settings.

use sea_orm_migration::prelude::*;

use crate::run_script;

/// Creates the foundation tables and the indexes for every access path the gateway queries.
#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE instance_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE organizations (
    id {pk},
    name TEXT NOT NULL,
    created_at {ts} NOT NULL
);

CREATE TABLE users (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('STAFF', 'CUSTOMER')),
    role TEXT CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER')),
    contact_id {id},
    active {bool} NOT NULL,
    deactivated_at {ts},
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    CHECK ((kind = 'STAFF' AND role IS NOT NULL AND contact_id IS NULL)
        OR (kind = 'CUSTOMER' AND role IS NULL AND contact_id IS NOT NULL))
);
-- Emails are the login identity across the instance (`threadline token --user EMAIL`).
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_org_id_idx ON users (organization_id, id);
CREATE UNIQUE INDEX users_contact_key ON users (contact_id);

CREATE TABLE contacts (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    name TEXT NOT NULL,
    consultant_id {id} REFERENCES users (id),
    custom_fields {json} NOT NULL,
    archived {bool} NOT NULL,
    archived_at {ts},
    created_by {id} NOT NULL REFERENCES users (id),
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE INDEX contacts_org_archived_id_idx ON contacts (organization_id, archived, id);

CREATE TABLE contact_emails (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    contact_id {id} NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    email TEXT NOT NULL,
    label TEXT,
    is_primary {bool} NOT NULL
);
CREATE INDEX contact_emails_contact_idx ON contact_emails (contact_id, position);
CREATE INDEX contact_emails_org_email_idx ON contact_emails (organization_id, email);

CREATE TABLE contact_phones (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    contact_id {id} NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    number TEXT NOT NULL,
    label TEXT,
    is_primary {bool} NOT NULL
);
CREATE INDEX contact_phones_contact_idx ON contact_phones (contact_id, position);
CREATE INDEX contact_phones_org_number_idx ON contact_phones (organization_id, number);

CREATE TABLE contact_addresses (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    contact_id {id} NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    label TEXT,
    line1 TEXT NOT NULL,
    line2 TEXT,
    city TEXT,
    region TEXT,
    postal_code TEXT,
    country TEXT,
    is_primary {bool} NOT NULL
);
CREATE INDEX contact_addresses_contact_idx ON contact_addresses (contact_id, position);

CREATE TABLE contact_collaborators (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    contact_id {id} NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    user_id {id} NOT NULL REFERENCES users (id),
    access TEXT NOT NULL CHECK (access IN ('READ', 'WRITE', 'ADMIN')),
    granted_by {id} NOT NULL REFERENCES users (id),
    granted_at {ts} NOT NULL
);
CREATE UNIQUE INDEX contact_collaborators_contact_user_key ON contact_collaborators (contact_id, user_id);
-- The member access path: "which contacts may this user see", walked from the user.
CREATE INDEX contact_collaborators_user_contact_idx ON contact_collaborators (organization_id, user_id, contact_id);

CREATE TABLE timeline_events (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    contact_id {id} NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    occurred_at {ts} NOT NULL,
    kind TEXT NOT NULL,
    actor_id {id} REFERENCES users (id),
    subject_kind TEXT NOT NULL,
    subject_id {id} NOT NULL,
    summary TEXT NOT NULL,
    data {json} NOT NULL
);
CREATE INDEX timeline_events_contact_idx ON timeline_events (organization_id, contact_id, id);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, UP).await
    }
}
