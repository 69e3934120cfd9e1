//! An index on the attachments' content hashes, for the sweep of unreferenced files and the
//! clean-up of failed uploads, which look attachments up by hash across organizations.

use sea_orm_migration::prelude::*;

use crate::run_script;

/// Creates `attachments_sha256_idx`.
#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE INDEX attachments_sha256_idx ON attachments (sha256)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, UP).await
    }
}
