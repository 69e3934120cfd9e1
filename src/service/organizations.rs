//! Organizations: creating one seeds its default settings.

use entity::{organization, outcome};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait};

use super::now;
use crate::error::ApiResult;

/// The outcomes every organization starts with: (code, name).
pub const DEFAULT_OUTCOMES: [(&str, &str); 4] = [
    ("CANCELLED", "Cancelled"),
    ("NEGATIVE", "Negative"),
    ("POSITIVE", "Positive"),
    ("SOLD", "Sold"),
];

/// Creates an organization with its default outcomes, on the caller's transaction.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create<C: ConnectionTrait>(db: &C, name: &str) -> ApiResult<organization::Model> {
    let at = now();
    let org = organization::ActiveModel {
        name: Set(name.to_owned()),
        created_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    outcome::Entity::insert_many(DEFAULT_OUTCOMES.iter().map(|(code, name)| {
        outcome::ActiveModel {
            organization_id: Set(org.id),
            code: Set(Some((*code).to_owned())),
            name: Set((*name).to_owned()),
            created_at: Set(at),
            ..Default::default()
        }
    }))
    .exec(db)
    .await?;
    Ok(org)
}
