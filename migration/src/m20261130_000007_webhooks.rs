//! Outbound webhooks: the endpoints an organization registers, the outbox of deliveries (one
//! row per event and endpoint, written in the change's transaction) and the log of attempts.

use sea_orm_migration::prelude::*;

use crate::run_script;

/// Creates the webhook tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE webhook_endpoints (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    event_types {json} NOT NULL,
    headers {json} NOT NULL,
    enabled {bool} NOT NULL,
    disabled_reason TEXT CHECK (disabled_reason IN ('GONE', 'FAILING')),
    signing TEXT NOT NULL CHECK (signing IN ('HMAC', 'ED25519')),
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until {ts},
    max_in_flight INTEGER NOT NULL,
    failing_since {ts},
    created_by {id} NOT NULL REFERENCES users (id),
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE INDEX webhook_endpoints_org_idx ON webhook_endpoints (organization_id, id);

CREATE TABLE webhook_deliveries (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    endpoint_id {id} NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    record_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'SENDING', 'SUCCEEDED', 'FAILED')),
    attempts INTEGER NOT NULL,
    next_attempt_at {ts} NOT NULL,
    lease_until {ts},
    last_status_code INTEGER,
    created_at {ts} NOT NULL,
    finished_at {ts}
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at, id) WHERE status IN ('PENDING', 'SENDING');
CREATE INDEX webhook_deliveries_record_idx ON webhook_deliveries (endpoint_id, record_key, id) WHERE status IN ('PENDING', 'SENDING');
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (organization_id, endpoint_id, id);
CREATE INDEX webhook_deliveries_sending_idx ON webhook_deliveries (endpoint_id, lease_until) WHERE status = 'SENDING';

CREATE TABLE webhook_attempts (
    id {pk},
    organization_id {id} NOT NULL REFERENCES organizations (id),
    delivery_id {id} NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    endpoint_id {id} NOT NULL,
    attempt INTEGER NOT NULL,
    attempted_at {ts} NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('DELIVERED', 'RETRY', 'GONE', 'REFUSED')),
    status_code INTEGER,
    latency_ms {id} NOT NULL,
    error TEXT,
    response_excerpt TEXT
);
-- By delivery first: a delivery's attempts are found by this index when it is pruned or its
-- endpoint deleted (ON DELETE CASCADE), not by reading the whole log for each delivery.
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
CREATE INDEX webhook_attempts_time_idx ON webhook_attempts (attempted_at)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, UP).await
    }
}
