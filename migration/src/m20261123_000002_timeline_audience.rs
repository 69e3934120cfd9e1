//! Who may see each timeline event, stored on the event so the timeline filters in SQL.

use sea_orm_migration::prelude::*;

use crate::run_script;

/// Adds `audience` (`TEAM`, `CUSTOMER` or `PRIVATE`) and `audience_user_id` (the one user who
/// sees a `PRIVATE` event) to timeline events, and the index the timeline is read through.
#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE timeline_events ADD COLUMN audience TEXT NOT NULL DEFAULT 'TEAM';
ALTER TABLE timeline_events ADD COLUMN audience_user_id {id};
DROP INDEX timeline_events_contact_idx;
CREATE INDEX timeline_events_contact_time_idx ON timeline_events (organization_id, contact_id, occurred_at, id)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, UP).await
    }
}
