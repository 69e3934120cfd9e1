//! The rows that hang off a record (a contact's emails, phones and addresses, a task's tags,
//! a note's attachments), read by the ids of records the caller was already allowed to see.
//! No access check here: the caller checked the record. Kept at the bottom of the service
//! layer so that everything above (the services and the webhook payload) can read them.

use std::collections::HashMap;

use entity::{attachment, contact_address, contact_email, contact_phone, task_tag};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::error::ApiResult;

/// The emails of the given contacts (already visible to the caller), in list order.
#[tracing::instrument(skip_all, fields(count = contact_ids.len()), err(level = "debug"))]
pub async fn emails_of<C: ConnectionTrait>(
    db: &C,
    org: i64,
    contact_ids: &[i64],
) -> ApiResult<Vec<contact_email::Model>> {
    Ok(contact_email::Entity::find()
        .filter(contact_email::Column::OrganizationId.eq(org))
        .filter(contact_email::Column::ContactId.is_in(contact_ids.iter().copied()))
        .order_by_asc(contact_email::Column::ContactId)
        .order_by_asc(contact_email::Column::Position)
        .all(db)
        .await?)
}

/// The phones of the given contacts (already visible to the caller), in list order.
#[tracing::instrument(skip_all, fields(count = contact_ids.len()), err(level = "debug"))]
pub async fn phones_of<C: ConnectionTrait>(
    db: &C,
    org: i64,
    contact_ids: &[i64],
) -> ApiResult<Vec<contact_phone::Model>> {
    Ok(contact_phone::Entity::find()
        .filter(contact_phone::Column::OrganizationId.eq(org))
        .filter(contact_phone::Column::ContactId.is_in(contact_ids.iter().copied()))
        .order_by_asc(contact_phone::Column::ContactId)
        .order_by_asc(contact_phone::Column::Position)
        .all(db)
        .await?)
}

/// The addresses of the given contacts (already visible to the caller), in list order.
#[tracing::instrument(skip_all, fields(count = contact_ids.len()), err(level = "debug"))]
pub async fn addresses_of<C: ConnectionTrait>(
    db: &C,
    org: i64,
    contact_ids: &[i64],
) -> ApiResult<Vec<contact_address::Model>> {
    Ok(contact_address::Entity::find()
        .filter(contact_address::Column::OrganizationId.eq(org))
        .filter(contact_address::Column::ContactId.is_in(contact_ids.iter().copied()))
        .order_by_asc(contact_address::Column::ContactId)
        .order_by_asc(contact_address::Column::Position)
        .all(db)
        .await?)
}

/// The tags of the given tasks, by task.
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn tags_of<C: ConnectionTrait>(
    db: &C,
    org: i64,
    ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<String>>> {
    let rows = task_tag::Entity::find()
        .filter(task_tag::Column::OrganizationId.eq(org))
        .filter(task_tag::Column::TaskId.is_in(ids.iter().copied()))
        .order_by_asc(task_tag::Column::Tag)
        .all(db)
        .await?;
    let mut map: HashMap<i64, Vec<String>> = HashMap::new();
    for row in rows {
        map.entry(row.task_id).or_default().push(row.tag);
    }
    Ok(map)
}

/// The attachments of the given notes (already visible to the caller), by note.
#[tracing::instrument(skip_all, fields(count = note_ids.len()), err(level = "debug"))]
pub async fn attachments_of<C: ConnectionTrait>(
    db: &C,
    org: i64,
    note_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<attachment::Model>>> {
    let rows = attachment::Entity::find()
        .filter(attachment::Column::OrganizationId.eq(org))
        .filter(attachment::Column::NoteId.is_in(note_ids.iter().copied()))
        .order_by_asc(attachment::Column::Id)
        .all(db)
        .await?;
    let mut map: HashMap<i64, Vec<attachment::Model>> = HashMap::new();
    for row in rows {
        if let Some(note) = row.note_id {
            map.entry(note).or_default().push(row);
        }
    }
    Ok(map)
}
