//! Collaborator grants: who may see and change a contact, managed by its `ADMIN`s.

use entity::{contact_collaborator, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    ModelTrait, QueryFilter, QueryOrder, TransactionSession, TransactionTrait,
};
use serde_json::json;

use super::{
    access::{self, AccessLevel},
    now,
    timeline::{self, Audience, EventKind, NewEvent},
    users,
};
use crate::{
    auth::Actor,
    error::{ApiError, ApiResult},
};

/// The grants on the given contacts (already visible to the caller), oldest first.
pub async fn of_contacts<C: ConnectionTrait>(
    db: &C,
    org: i64,
    contact_ids: &[i64],
) -> ApiResult<Vec<contact_collaborator::Model>> {
    Ok(contact_collaborator::Entity::find()
        .filter(contact_collaborator::Column::OrganizationId.eq(org))
        .filter(contact_collaborator::Column::ContactId.is_in(contact_ids.iter().copied()))
        .order_by_asc(contact_collaborator::Column::ContactId)
        .order_by_asc(contact_collaborator::Column::Id)
        .all(db)
        .await?)
}

/// Grants `user_id` `access` to a contact, or changes the level of an existing grant; needs
/// `ADMIN` on the contact. The user must be an active staff user of the organization.
pub async fn grant<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    contact_id: i64,
    user_id: i64,
    access: AccessLevel,
) -> ApiResult<contact_collaborator::Model> {
    let txn = db.begin().await?;
    let contact = access::require_contact(
        &txn,
        actor,
        contact_id,
        AccessLevel::Admin,
        "managing collaborators",
    )
    .await?;
    let grantee: user::Model = users::require_active_staff(&txn, actor, user_id, "userId").await?;
    let existing = contact_collaborator::Entity::find()
        .filter(contact_collaborator::Column::OrganizationId.eq(actor.org_id))
        .filter(contact_collaborator::Column::ContactId.eq(contact_id))
        .filter(contact_collaborator::Column::UserId.eq(user_id))
        .one(&txn)
        .await?;
    let at = now();
    let grant = match existing {
        Some(grant) if grant.access == access.as_str() => {
            txn.commit().await?;
            return Ok(grant);
        }
        Some(grant) => {
            let mut row = grant.into_active_model();
            row.access = Set(access.as_str().to_owned());
            row.granted_by = Set(actor.user_id);
            row.granted_at = Set(at);
            row.update(&txn).await?
        }
        None => {
            contact_collaborator::ActiveModel {
                organization_id: Set(actor.org_id),
                contact_id: Set(contact_id),
                user_id: Set(user_id),
                access: Set(access.as_str().to_owned()),
                granted_by: Set(actor.user_id),
                granted_at: Set(at),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };
    timeline::record(
        &txn,
        actor,
        NewEvent {
            contact_id,
            kind: EventKind::CollaboratorGranted,
            subject_kind: "Collaborator",
            subject_id: grant.id,
            summary: format!(
                "{} gave {} {} access to {}",
                actor.name,
                grantee.name,
                access.as_str().to_lowercase(),
                contact.contact.name
            ),
            data: json!({ "userId": user_id, "access": access.as_str() }),
            audience: Audience::Team,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(grant)
}

/// Revokes `user_id`'s grant on a contact; needs `ADMIN` on the contact. Returns the revoked
/// grant's row id. Owners and admins keep their access through their role.
pub async fn revoke<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    contact_id: i64,
    user_id: i64,
) -> ApiResult<i64> {
    let txn = db.begin().await?;
    let contact = access::require_contact(
        &txn,
        actor,
        contact_id,
        AccessLevel::Admin,
        "managing collaborators",
    )
    .await?;
    let grant = contact_collaborator::Entity::find()
        .filter(contact_collaborator::Column::OrganizationId.eq(actor.org_id))
        .filter(contact_collaborator::Column::ContactId.eq(contact_id))
        .filter(contact_collaborator::Column::UserId.eq(user_id))
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("Collaborator"))?;
    let grantee = user::Entity::find_by_id(user_id).one(&txn).await?;
    let id = grant.id;
    grant.delete(&txn).await?;
    timeline::record(
        &txn,
        actor,
        NewEvent {
            contact_id,
            kind: EventKind::CollaboratorRevoked,
            subject_kind: "Collaborator",
            subject_id: id,
            summary: format!(
                "{} revoked {}'s access to {}",
                actor.name,
                grantee.map(|u| u.name).unwrap_or_else(|| "a user".into()),
                contact.contact.name
            ),
            data: json!({ "userId": user_id }),
            audience: Audience::Team,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(id)
}
