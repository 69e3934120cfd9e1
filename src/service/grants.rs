//! Grants: which staff users may use a contact or a channel, and at which level, managed by the
//! record's `ADMIN`s. One flow serves both kinds of record (their grant tables have the same
//! shape); [`collaborators`](super::collaborators) and [`channels`](super::channels) offer it
//! under their own names. A change to a contact's grants is part of the contact's story and
//! writes a timeline event; channels have no timeline.
//!
//! Dependencies run one way: grants calls down into access, users and timeline; contacts,
//! channels and collaborators call it, never the reverse.

use chrono::{DateTime, Utc};
use entity::{channel_collaborator, contact_collaborator, user};
use sea_orm::{
    ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, IdenStatic, Iterable, QueryResult,
    TransactionSession, TransactionTrait,
};
use serde_json::json;

use super::{
    access::{self, AccessLevel, Resource},
    now,
    sql::Sql,
    timeline::{self, Audience, EventKind, NewEvent},
    users,
};
use crate::{
    error::{ApiError, ApiResult},
    service::actor::Actor,
};

/// A row of one of the two grant tables; the type says which.
pub trait Grant: FromQueryResult + Send {
    /// The kind of record the grant is on.
    const RESOURCE: Resource;
}

impl Grant for contact_collaborator::Model {
    const RESOURCE: Resource = Resource::Contact;
}

impl Grant for channel_collaborator::Model {
    const RESOURCE: Resource = Resource::Channel;
}

/// A grant row as read back, with the columns the flow decides on.
pub(super) struct Row<G> {
    id: i64,
    access: String,
    grant: G,
}

impl<G: Grant> Row<G> {
    fn read(row: &QueryResult) -> ApiResult<Self> {
        Ok(Self {
            id: row.try_get("", "id")?,
            access: row.try_get("", "access")?,
            grant: G::from_query_result(row, "")?,
        })
    }
}

/// Runs a statement that yields at most one grant row.
async fn fetch_one<G: Grant, C: ConnectionTrait>(db: &C, sql: Sql) -> ApiResult<Option<Row<G>>> {
    db.query_one_raw(sql.build())
        .await?
        .as_ref()
        .map(Row::read)
        .transpose()
}

/// Starts a read of the organization's grants of `G`'s table, up to ` AND <record column>`,
/// for the caller to finish with its condition on the record.
fn select<G: Grant>(backend: DbBackend, org: i64) -> Sql {
    let resource = G::RESOURCE;
    let mut sql = Sql::new(backend);
    sql.push(&format!(
        "SELECT * FROM {} WHERE organization_id = ",
        resource.grants_table()
    ))
    .bind(org)
    .push(&format!(" AND {}", resource.grants_column()));
    sql
}

/// The grants on the given records (already visible to the caller), by record, oldest first.
#[tracing::instrument(
    skip_all,
    fields(resource = G::RESOURCE.noun(), count = ids.len()),
    err(level = "debug")
)]
pub async fn of<G: Grant, C: ConnectionTrait>(db: &C, org: i64, ids: &[i64]) -> ApiResult<Vec<G>> {
    let mut sql = select::<G>(db.get_database_backend(), org);
    sql.push(" IN ")
        .bind_list(ids.iter().copied())
        .push(&format!(" ORDER BY {}, id", G::RESOURCE.grants_column()));
    Ok(G::find_by_statement(sql.build()).all(db).await?)
}

/// A grant with the user it is for and the user who made it, read in the same statement.
#[derive(Clone, Debug)]
pub struct WithPeople<G> {
    /// The grant row.
    pub grant: G,
    /// The user who has access.
    pub user: Option<user::Model>,
    /// Who granted it.
    pub granted_by: Option<user::Model>,
}

/// The grants on the given records, by record, oldest first, each with its two users joined
/// in one statement. For staff callers: a grant names staff users only, and every staff user
/// of the organization may see every staff user, so the join applies that rule as it stands.
#[tracing::instrument(
    skip_all,
    fields(resource = G::RESOURCE.noun(), count = ids.len()),
    err(level = "debug")
)]
pub async fn of_with_people<G: Grant, C: ConnectionTrait>(
    db: &C,
    org: i64,
    ids: &[i64],
) -> ApiResult<Vec<WithPeople<G>>> {
    let resource = G::RESOURCE;
    let record = resource.grants_column();
    let columns = |alias: &str| {
        user::Column::iter()
            .map(|c| format!("{alias}.{0} AS {alias}_{0}", c.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let staff = |alias: &str, column: &str| {
        format!(
            " LEFT JOIN users {alias} ON {alias}.id = g.{column} \
             AND {alias}.organization_id = g.organization_id AND {alias}.kind = 'STAFF'"
        )
    };
    let mut sql = Sql::new(db.get_database_backend());
    sql.push(&format!(
        "SELECT g.*, {}, {} FROM {} g{}{} WHERE g.organization_id = ",
        columns("u"),
        columns("b"),
        resource.grants_table(),
        staff("u", "user_id"),
        staff("b", "granted_by"),
    ))
    .bind(org)
    .push(&format!(" AND g.{record} IN "))
    .bind_list(ids.iter().copied())
    .push(&format!(" ORDER BY g.{record}, g.id"));
    db.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok(WithPeople {
                grant: G::from_query_result(row, "")?,
                user: user::Model::from_query_result_optional(row, "u_")?,
                granted_by: user::Model::from_query_result_optional(row, "b_")?,
            })
        })
        .collect()
}

/// Inserts a grant without checks, on the caller's transaction: for a flow that has checked
/// already (the grant below, a new contact's creator).
pub(super) async fn insert<G: Grant, C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    record_id: i64,
    user_id: i64,
    access: AccessLevel,
    at: DateTime<Utc>,
) -> ApiResult<Row<G>> {
    let resource = G::RESOURCE;
    let mut sql = Sql::new(db.get_database_backend());
    sql.push(&format!(
        "INSERT INTO {} (organization_id, {}, user_id, access, granted_by, granted_at) VALUES (",
        resource.grants_table(),
        resource.grants_column()
    ))
    .bind(actor.org_id)
    .push(", ")
    .bind(record_id)
    .push(", ")
    .bind(user_id)
    .push(", ")
    .bind(access.as_str())
    .push(", ")
    .bind(actor.user_id)
    .push(", ")
    .bind(at)
    // Two admins granting one user at once: the later write wins, as it would one after the
    // other, instead of failing on the unique key.
    .push(&format!(
        ") ON CONFLICT ({}, user_id) DO UPDATE SET access = excluded.access, \
         granted_by = excluded.granted_by, granted_at = excluded.granted_at RETURNING *",
        resource.grants_column()
    ));
    fetch_one(db, sql)
        .await?
        .ok_or_else(|| ApiError::Internal("inserted grant not returned".into()))
}

/// The grant of `user_id` on the record, if any.
async fn find<G: Grant, C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    record_id: i64,
    user_id: i64,
) -> ApiResult<Option<Row<G>>> {
    let mut sql = select::<G>(db.get_database_backend(), actor.org_id);
    sql.push(" = ")
        .bind(record_id)
        .push(" AND user_id = ")
        .bind(user_id);
    fetch_one(db, sql).await
}

/// Checks that the actor administers the record (`NOT_FOUND` when they cannot see it,
/// `FORBIDDEN` below `ADMIN`) and returns its name, for events.
async fn require_admin<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    resource: Resource,
    record_id: i64,
) -> ApiResult<String> {
    Ok(match resource {
        Resource::Contact => {
            access::require_contact(
                db,
                actor,
                record_id,
                AccessLevel::Admin,
                "managing collaborators",
            )
            .await?
            .contact
            .name
        }
        Resource::Channel => {
            access::require_channel(
                db,
                actor,
                record_id,
                AccessLevel::Admin,
                "managing channel access",
            )
            .await?
            .channel
            .display_name
        }
    })
}

/// Grants `user_id` `access` to a record, or changes the level of their existing grant; needs
/// `ADMIN` on the record. The user must be an active staff user of the organization. Granting
/// the level a user holds already changes nothing and writes no event.
#[tracing::instrument(
    skip_all,
    fields(
        resource = G::RESOURCE.noun(),
        record_id = record_id,
        user_id = user_id,
        access = access.as_str()
    ),
    err(level = "debug")
)]
pub async fn grant<G: Grant, C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    record_id: i64,
    user_id: i64,
    access: AccessLevel,
) -> ApiResult<G> {
    let resource = G::RESOURCE;
    let txn = db.begin().await?;
    let name = require_admin(&txn, actor, resource, record_id).await?;
    let grantee = users::require_active_staff(&txn, actor, user_id, "userId").await?;
    let at = now();
    let row = match find::<G, _>(&txn, actor, record_id, user_id).await? {
        Some(row) if row.access == access.as_str() => {
            txn.commit().await?;
            return Ok(row.grant);
        }
        Some(row) => {
            let mut sql = Sql::new(txn.get_database_backend());
            sql.push(&format!("UPDATE {} SET access = ", resource.grants_table()))
                .bind(access.as_str())
                .push(", granted_by = ")
                .bind(actor.user_id)
                .push(", granted_at = ")
                .bind(at)
                .push(" WHERE id = ")
                .bind(row.id)
                .push(" RETURNING *");
            fetch_one(&txn, sql)
                .await?
                .ok_or_else(|| ApiError::Internal("updated grant not returned".into()))?
        }
        None => insert(&txn, actor, record_id, user_id, access, at).await?,
    };
    if resource == Resource::Contact {
        timeline::record(
            &txn,
            actor,
            NewEvent {
                contact_id: record_id,
                kind: EventKind::CollaboratorGranted,
                subject_kind: "Collaborator",
                subject_id: row.id,
                summary: format!(
                    "{} gave {} {} access to {}",
                    actor.name,
                    grantee.name,
                    access.as_str().to_lowercase(),
                    name
                ),
                data: json!({ "userId": user_id, "access": access.as_str() }),
                audience: Audience::Team,
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(row.grant)
}

/// Revokes `user_id`'s grant on a record; needs `ADMIN` on the record. Returns the revoked
/// grant's row id. Owners and admins keep their access through their role.
#[tracing::instrument(
    skip_all,
    fields(resource = G::RESOURCE.noun(), record_id = record_id, user_id = user_id),
    err(level = "debug")
)]
pub async fn revoke<G: Grant, C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    record_id: i64,
    user_id: i64,
) -> ApiResult<i64> {
    let resource = G::RESOURCE;
    let txn = db.begin().await?;
    let name = require_admin(&txn, actor, resource, record_id).await?;
    let row = find::<G, _>(&txn, actor, record_id, user_id)
        .await?
        .ok_or(match resource {
            Resource::Contact => ApiError::NotFound("Collaborator"),
            Resource::Channel => ApiError::NotFound("ChannelCollaborator"),
        })?;
    // Only a contact's event names the user, so only then is the user read.
    let grantee = match resource {
        Resource::Contact => entity::user::Entity::find_by_id(user_id).one(&txn).await?,
        Resource::Channel => None,
    };
    let mut sql = Sql::new(txn.get_database_backend());
    sql.push(&format!(
        "DELETE FROM {} WHERE id = ",
        resource.grants_table()
    ))
    .bind(row.id);
    txn.execute_raw(sql.build()).await?;
    if resource == Resource::Contact {
        timeline::record(
            &txn,
            actor,
            NewEvent {
                contact_id: record_id,
                kind: EventKind::CollaboratorRevoked,
                subject_kind: "Collaborator",
                subject_id: row.id,
                summary: format!(
                    "{} revoked {}'s access to {}",
                    actor.name,
                    grantee.map(|u| u.name).unwrap_or_else(|| "a user".into()),
                    name
                ),
                data: json!({ "userId": user_id }),
                audience: Audience::Team,
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(row.id)
}
