//! Labels on contacts (the organization's labels serve notes and contacts alike).

use sea_orm_migration::prelude::*;

use crate::run_script;

/// Creates `contact_labels` and the index the `contacts(filter: { label })` filter uses.
#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE contact_labels (
    contact_id {id} NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    label_id {id} NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    organization_id {id} NOT NULL REFERENCES organizations (id),
    PRIMARY KEY (contact_id, label_id)
);
CREATE INDEX contact_labels_label_idx ON contact_labels (organization_id, label_id, contact_id)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, UP).await
    }
}
