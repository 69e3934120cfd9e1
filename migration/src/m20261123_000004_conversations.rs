//! Channels (the organization's phone numbers and email identities), their collaborator grants,
//! conversations between a contact and a channel, messages and per-user read state.

use sea_orm_migration::prelude::*;

use crate::run_script;

/// Creates the conversation tables and lets timeline events be scoped to a channel.
#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE channels (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    kind TEXT NOT NULL CHECK (kind IN ('PHONE', 'EMAIL')),
    address TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE UNIQUE INDEX channels_org_kind_address_key ON channels (organization_id, kind, address);

CREATE TABLE channel_collaborators (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    channel_id {id} NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id {id} NOT NULL REFERENCES users (id),
    access TEXT NOT NULL CHECK (access IN ('READ', 'WRITE', 'ADMIN')),
    granted_by {id} NOT NULL REFERENCES users (id),
    granted_at {ts} NOT NULL
);
CREATE UNIQUE INDEX channel_collaborators_channel_user_key ON channel_collaborators (channel_id, user_id);
CREATE INDEX channel_collaborators_user_channel_idx ON channel_collaborators (organization_id, user_id, channel_id);

CREATE TABLE conversations (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    contact_id {id} NOT NULL REFERENCES contacts (id),
    channel_id {id} NOT NULL REFERENCES channels (id),
    last_message_id {id},
    last_message_at {ts} NOT NULL,
    created_at {ts} NOT NULL
);
CREATE UNIQUE INDEX conversations_contact_channel_key ON conversations (contact_id, channel_id);
CREATE INDEX conversations_org_activity_idx ON conversations (organization_id, last_message_at, id);
CREATE INDEX conversations_channel_activity_idx ON conversations (organization_id, channel_id, last_message_at, id);
CREATE INDEX conversations_contact_activity_idx ON conversations (organization_id, contact_id, last_message_at, id);

CREATE TABLE messages (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    conversation_id {id} NOT NULL REFERENCES conversations (id),
    direction TEXT NOT NULL CHECK (direction IN ('OUTBOUND', 'INBOUND')),
    body TEXT NOT NULL,
    author_id {id} REFERENCES users (id),
    sent_at {ts} NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('QUEUED', 'SENT', 'DELIVERED', 'FAILED', 'READ')),
    external_id TEXT,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE INDEX messages_conversation_idx ON messages (organization_id, conversation_id, id);
CREATE INDEX messages_external_idx ON messages (organization_id, external_id);

CREATE TABLE conversation_reads (
    conversation_id {id} NOT NULL REFERENCES conversations (id),
    user_id {id} NOT NULL REFERENCES users (id),
    organization_id {id} NOT NULL REFERENCES organizations (id),
    last_read_message_id {id} NOT NULL,
    read_at {ts} NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);

ALTER TABLE timeline_events ADD COLUMN audience_channel_id {id}
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, UP).await
    }
}
