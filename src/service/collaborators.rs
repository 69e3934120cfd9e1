//! Collaborator grants: who may see and change a contact, managed by its `ADMIN`s. These are the
//! contact-side names of the one grant flow in [`grants`], which channels share.

use entity::contact_collaborator;
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::{
    access::AccessLevel,
    grants::{self, WithPeople},
};
use crate::{error::ApiResult, service::actor::Actor};

/// The grants on the given contacts (already visible to the caller), oldest first.
pub async fn of_contacts<C: ConnectionTrait>(
    db: &C,
    org: i64,
    contact_ids: &[i64],
) -> ApiResult<Vec<contact_collaborator::Model>> {
    grants::of(db, org, contact_ids).await
}

/// The grants on the given contacts (already visible to a staff caller), oldest first, with
/// the users they name read in the same statement.
pub async fn of_contacts_with_people<C: ConnectionTrait>(
    db: &C,
    org: i64,
    contact_ids: &[i64],
) -> ApiResult<Vec<WithPeople<contact_collaborator::Model>>> {
    grants::of_with_people(db, org, contact_ids).await
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
    grants::grant(db, actor, contact_id, user_id, access).await
}

/// Revokes `user_id`'s grant on a contact; needs `ADMIN` on the contact. Returns the revoked
/// grant's row id. Owners and admins keep their access through their role.
pub async fn revoke<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    contact_id: i64,
    user_id: i64,
) -> ApiResult<i64> {
    grants::revoke::<contact_collaborator::Model, _>(db, actor, contact_id, user_id).await
}
