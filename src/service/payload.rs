//! The `data` of a webhook event: the record as the GraphQL API shows it, read on the change's
//! transaction right after the change. Field names are the API's (camelCase), IDs are in their
//! API form, enums are the API's names, times are RFC 3339 UTC, and a field that is another
//! record in the API (`contact`, `author`, `responsible`...) is `{"id": ...}` (or null), so a
//! receiver can fetch it with `node(id:)`.
//!
//! A webhook endpoint is an organization-wide integration registered by an owner or admin, so
//! it receives every record whole, private notes included; the timeline summaries that people
//! read are written elsewhere and never quote a private note.
//!
//! Dependencies run one way: the outbox calls this module; it reads rows through children and
//! labels through settings.

use entity::{contact, contact_collaborator, conversation, message, note, reminder, task};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::{
    children,
    settings::{self, Labelled},
};
use crate::{
    error::ApiResult,
    ids::{Kind, encode},
};

/// `{"id": ...}` for a record the API shows as an object, or null.
fn reference(kind: Kind, id: Option<i64>) -> Value {
    match id {
        Some(id) => json!({ "id": encode(kind, id) }),
        None => Value::Null,
    }
}

/// The record an event is about, as the API shows it now; `fallback` (the event's own
/// details) when it is gone, such as a deleted note or a revoked grant.
pub async fn render<C: ConnectionTrait>(
    db: &C,
    org: i64,
    subject_kind: &str,
    subject_id: i64,
    contact_id: i64,
    fallback: &Value,
) -> ApiResult<Value> {
    let found = match subject_kind {
        "Contact" => contact_data(db, org, subject_id).await?,
        "Collaborator" => collaborator_data(db, org, subject_id).await?,
        "Note" => note_data(db, org, subject_id).await?,
        "Task" => task_data(db, org, subject_id).await?,
        "Message" => message_data(db, org, subject_id).await?,
        "Reminder" => reminder_data(db, org, subject_id).await?,
        _ => None,
    };
    Ok(found.unwrap_or_else(|| gone(subject_kind, subject_id, contact_id, fallback)))
}

/// What is said of a record that is no longer there: its ID, its contact, and the event's
/// details (such as the revoked user).
fn gone(subject_kind: &str, subject_id: i64, contact_id: i64, fallback: &Value) -> Value {
    let kind = match subject_kind {
        "Collaborator" => Kind::Collaborator,
        "Note" => Kind::Note,
        "Task" => Kind::Task,
        "Message" => Kind::Message,
        "Reminder" => Kind::Reminder,
        _ => Kind::Contact,
    };
    let mut data = json!({
        "id": encode(kind, subject_id),
        "contact": reference(Kind::Contact, Some(contact_id)),
    });
    if let Some(user) = fallback.get("userId").and_then(Value::as_i64) {
        data["user"] = reference(Kind::User, Some(user));
    }
    data
}

async fn contact_data<C: ConnectionTrait>(db: &C, org: i64, id: i64) -> ApiResult<Option<Value>> {
    let Some(row) = contact::Entity::find_by_id(id)
        .filter(contact::Column::OrganizationId.eq(org))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let ids = [id];
    let emails = children::emails_of(db, org, &ids).await?;
    let phones = children::phones_of(db, org, &ids).await?;
    let addresses = children::addresses_of(db, org, &ids).await?;
    let labels = settings::labels_of(db, Labelled::Contact, org, &ids)
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(Some(json!({
        "id": encode(Kind::Contact, row.id),
        "name": row.name,
        "emails": emails.iter().map(|e| json!({
            "email": e.email, "label": e.label, "primary": e.is_primary,
        })).collect::<Vec<_>>(),
        "phones": phones.iter().map(|p| json!({
            "number": p.number, "label": p.label, "primary": p.is_primary,
        })).collect::<Vec<_>>(),
        "addresses": addresses.iter().map(|a| json!({
            "label": a.label, "line1": a.line1, "line2": a.line2, "city": a.city,
            "region": a.region, "postalCode": a.postal_code, "country": a.country,
            "primary": a.is_primary,
        })).collect::<Vec<_>>(),
        "labels": labels.iter().map(|l| json!({
            "id": encode(Kind::Label, l.id), "name": l.name,
        })).collect::<Vec<_>>(),
        "consultant": reference(Kind::User, row.consultant_id),
        "customFields": row.custom_fields,
        "archived": row.archived,
        "archivedAt": row.archived_at,
        "createdBy": reference(Kind::User, Some(row.created_by)),
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    })))
}

async fn collaborator_data<C: ConnectionTrait>(
    db: &C,
    org: i64,
    id: i64,
) -> ApiResult<Option<Value>> {
    let row = contact_collaborator::Entity::find_by_id(id)
        .filter(contact_collaborator::Column::OrganizationId.eq(org))
        .one(db)
        .await?;
    Ok(row.map(|g| {
        json!({
            "id": encode(Kind::Collaborator, g.id),
            "contact": reference(Kind::Contact, Some(g.contact_id)),
            "user": reference(Kind::User, Some(g.user_id)),
            "access": g.access,
            "grantedBy": reference(Kind::User, Some(g.granted_by)),
            "grantedAt": g.granted_at,
        })
    }))
}

async fn note_data<C: ConnectionTrait>(db: &C, org: i64, id: i64) -> ApiResult<Option<Value>> {
    let Some(row) = note::Entity::find_by_id(id)
        .filter(note::Column::OrganizationId.eq(org))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let labels = settings::labels_of(db, Labelled::Note, org, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let files = children::attachments_of(db, org, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let attached_to = match (&row.attached_kind, &row.attached_id) {
        (Some(kind), Some(id)) => json!({ "kind": kind, "id": id }),
        _ => Value::Null,
    };
    Ok(Some(json!({
        "id": encode(Kind::Note, row.id),
        "contact": reference(Kind::Contact, Some(row.contact_id)),
        "author": reference(Kind::User, Some(row.author_id)),
        "subject": row.subject,
        "body": row.body,
        "bodyHtml": row.body_html,
        "visibility": row.visibility,
        "labels": labels.iter().map(|l| json!({
            "id": encode(Kind::Label, l.id), "name": l.name,
        })).collect::<Vec<_>>(),
        "type": reference(Kind::TaskType, row.type_id),
        "template": reference(Kind::MessageTemplate, row.template_id),
        "attachedTo": attached_to,
        "attachments": files.iter().map(|f| {
            let file_id = encode(Kind::Attachment, f.id);
            json!({
                "id": file_id, "filename": f.filename, "contentType": f.content_type,
                "size": f.size, "sha256": f.sha256, "url": format!("/attachments/{file_id}"),
                "createdAt": f.created_at,
            })
        }).collect::<Vec<_>>(),
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    })))
}

async fn task_data<C: ConnectionTrait>(db: &C, org: i64, id: i64) -> ApiResult<Option<Value>> {
    let Some(row) = task::Entity::find_by_id(id)
        .filter(task::Column::OrganizationId.eq(org))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let tags = children::tags_of(db, org, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(Some(json!({
        "id": encode(Kind::Task, row.id),
        "contact": reference(Kind::Contact, Some(row.contact_id)),
        "description": row.description,
        "type": reference(Kind::TaskType, row.type_id),
        "tags": tags,
        "scheduledAt": row.scheduled_at,
        "startAt": row.start_at,
        "endAt": row.end_at,
        "remindAt": row.remind_at,
        "responsible": reference(Kind::User, Some(row.responsible_id)),
        "creator": reference(Kind::User, Some(row.creator_id)),
        "status": row.status,
        "outcome": reference(Kind::Outcome, row.outcome_id),
        "note": reference(Kind::Note, row.note_id),
        "closingNote": reference(Kind::Note, row.closing_note_id),
        "continuedFrom": reference(Kind::Task, row.continued_from_id),
        "copiedFrom": reference(Kind::Task, row.copied_from_id),
        "completedAt": row.completed_at,
        "completedBy": reference(Kind::User, row.completed_by),
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    })))
}

async fn message_data<C: ConnectionTrait>(db: &C, org: i64, id: i64) -> ApiResult<Option<Value>> {
    let Some(row) = message::Entity::find_by_id(id)
        .filter(message::Column::OrganizationId.eq(org))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let conversation = conversation::Entity::find_by_id(row.conversation_id)
        .filter(conversation::Column::OrganizationId.eq(org))
        .one(db)
        .await?;
    Ok(Some(json!({
        "id": encode(Kind::Message, row.id),
        "conversation": conversation.map(|c| json!({
            "id": encode(Kind::Conversation, c.id),
            "contact": reference(Kind::Contact, Some(c.contact_id)),
            "channel": reference(Kind::Channel, Some(c.channel_id)),
        })),
        "direction": row.direction,
        "body": row.body,
        "author": reference(Kind::User, row.author_id),
        "sentAt": row.sent_at,
        "status": row.status,
        "externalId": row.external_id,
    })))
}

async fn reminder_data<C: ConnectionTrait>(db: &C, org: i64, id: i64) -> ApiResult<Option<Value>> {
    let row = reminder::Entity::find_by_id(id)
        .filter(reminder::Column::OrganizationId.eq(org))
        .one(db)
        .await?;
    Ok(row.map(|r| {
        json!({
            "id": encode(Kind::Reminder, r.id),
            "user": reference(Kind::User, Some(r.user_id)),
            "contact": reference(Kind::Contact, Some(r.contact_id)),
            "note": reference(Kind::Note, r.note_id),
            "task": reference(Kind::Task, r.task_id),
            "remindAt": r.remind_at,
            "status": r.status,
            "firedAt": r.fired_at,
            "createdAt": r.created_at,
        })
    }))
}
