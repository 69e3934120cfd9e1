//! Channels: the organization's phone numbers and email identities, and who may use them.

use std::collections::HashMap;

use entity::{channel, channel_collaborator, conversation};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult,
    IntoActiveModel, ModelTrait, PaginatorTrait, QueryFilter, QueryOrder, TransactionSession,
    TransactionTrait,
};

use super::{access::AccessLevel, now, sql::Sql, users, validate};
use crate::{
    auth::{Actor, ActorKind},
    error::{ApiError, ApiResult},
};

/// A channel's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
pub enum ChannelKind {
    /// A phone number (calls and SMS).
    Phone,
    /// An email identity.
    Email,
}

impl ChannelKind {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Phone => "PHONE",
            Self::Email => "EMAIL",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "PHONE" => Some(Self::Phone),
            "EMAIL" => Some(Self::Email),
            _ => None,
        }
    }
}

/// A channel as the caller sees it, with the caller's access.
#[derive(Clone, Debug)]
pub struct VisibleChannel {
    /// The row.
    pub channel: channel::Model,
    /// The caller's access: `ADMIN` for owners and admins, the grant's level for members.
    pub access: AccessLevel,
}

fn channels_from(sql: &mut Sql, actor: &Actor) {
    sql.push("SELECT ch.*, ");
    match actor.kind {
        ActorKind::Staff(_) if actor.is_org_admin() => {
            sql.push("'ADMIN' AS my_access FROM channels ch WHERE ch.organization_id = ")
                .bind(actor.org_id);
        }
        ActorKind::Staff(_) => {
            sql.push("g.access AS my_access FROM channels ch JOIN channel_collaborators g ON g.channel_id = ch.id AND g.organization_id = ch.organization_id AND g.user_id = ")
                .bind(actor.user_id)
                .push(" WHERE ch.organization_id = ")
                .bind(actor.org_id);
        }
        ActorKind::Customer { .. } => {
            sql.push("'READ' AS my_access FROM channels ch WHERE 1 = 0");
        }
    }
}

fn visible_from_row(row: &sea_orm::QueryResult) -> ApiResult<VisibleChannel> {
    let channel = channel::Model::from_query_result(row, "")?;
    let access: String = row.try_get("", "my_access")?;
    let access = AccessLevel::parse(&access)
        .ok_or_else(|| ApiError::Internal(format!("unknown access {access}")))?;
    Ok(VisibleChannel { channel, access })
}

/// The channels the actor may use, by display name.
pub async fn list<C: ConnectionTrait>(db: &C, actor: &Actor) -> ApiResult<Vec<VisibleChannel>> {
    let mut sql = Sql::new(db.get_database_backend());
    channels_from(&mut sql, actor);
    sql.push(" ORDER BY ch.display_name, ch.id");
    db.query_all_raw(sql.build())
        .await?
        .iter()
        .map(visible_from_row)
        .collect()
}

/// The channels among `ids` the actor may use.
pub async fn get_many<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[i64],
) -> ApiResult<HashMap<i64, VisibleChannel>> {
    let mut sql = Sql::new(db.get_database_backend());
    channels_from(&mut sql, actor);
    sql.push(" AND ch.id IN ").bind_list(ids.iter().copied());
    db.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|r| visible_from_row(r).map(|v| (v.channel.id, v)))
        .collect()
}

/// The channel `id` with at least `need` access: `NOT_FOUND` when the actor cannot see it,
/// `FORBIDDEN` when they can but not enough.
pub async fn require<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    need: AccessLevel,
    what: &str,
) -> ApiResult<VisibleChannel> {
    let visible = get_many(db, actor, &[id])
        .await?
        .remove(&id)
        .ok_or(ApiError::NotFound("Channel"))?;
    if visible.access < need {
        return Err(ApiError::forbidden(format!(
            "{what} needs {} access to the channel; you have {}",
            need.as_str(),
            visible.access.as_str()
        )));
    }
    Ok(visible)
}

fn clean_address(kind: ChannelKind, address: &str) -> ApiResult<String> {
    match kind {
        ChannelKind::Phone => validate::phone("input.address", address),
        ChannelKind::Email => validate::email("input.address", address),
    }
}

/// Creates a channel (owners and admins).
pub async fn create<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    kind: ChannelKind,
    address: &str,
    display_name: &str,
) -> ApiResult<VisibleChannel> {
    actor.require_org_admin("create channels")?;
    let address = clean_address(kind, address)?;
    let name = validate::name("input.displayName", display_name)?;
    let at = now();
    let row = channel::ActiveModel {
        organization_id: Set(actor.org_id),
        kind: Set(kind.as_str().to_owned()),
        address: Set(address),
        display_name: Set(name),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(ApiError::conflict_on_duplicate(
        "the organization already has a channel with that address; use that channel or another address",
    ))?;
    Ok(VisibleChannel {
        channel: row,
        access: AccessLevel::Admin,
    })
}

/// Renames a channel (its `ADMIN`s, owners and admins).
pub async fn update<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    display_name: &str,
) -> ApiResult<VisibleChannel> {
    let name = validate::name("input.displayName", display_name)?;
    let visible = require(db, actor, id, AccessLevel::Admin, "renaming a channel").await?;
    let mut row = visible.channel.into_active_model();
    row.display_name = Set(name);
    row.updated_at = Set(now());
    Ok(VisibleChannel {
        channel: row.update(db).await?,
        access: visible.access,
    })
}

/// Deletes a channel no conversation uses (owners and admins); one in use answers `CONFLICT`.
pub async fn delete<C: ConnectionTrait>(db: &C, actor: &Actor, id: i64) -> ApiResult<()> {
    actor.require_org_admin("delete channels")?;
    let visible = require(db, actor, id, AccessLevel::Admin, "deleting a channel").await?;
    let used = conversation::Entity::find()
        .filter(conversation::Column::OrganizationId.eq(actor.org_id))
        .filter(conversation::Column::ChannelId.eq(id))
        .count(db)
        .await?;
    if used > 0 {
        return Err(ApiError::conflict(format!(
            "{used} conversation(s) use this channel; it keeps their history"
        )));
    }
    visible.channel.delete(db).await?;
    Ok(())
}

/// The grants on the given channels, oldest first.
pub async fn collaborators_of<C: ConnectionTrait>(
    db: &C,
    org: i64,
    ids: &[i64],
) -> ApiResult<Vec<channel_collaborator::Model>> {
    Ok(channel_collaborator::Entity::find()
        .filter(channel_collaborator::Column::OrganizationId.eq(org))
        .filter(channel_collaborator::Column::ChannelId.is_in(ids.iter().copied()))
        .order_by_asc(channel_collaborator::Column::Id)
        .all(db)
        .await?)
}

/// Grants (or changes) a staff user's access to a channel; needs `ADMIN` on the channel.
pub async fn grant<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    channel_id: i64,
    user_id: i64,
    access: AccessLevel,
) -> ApiResult<channel_collaborator::Model> {
    let txn = db.begin().await?;
    require(
        &txn,
        actor,
        channel_id,
        AccessLevel::Admin,
        "managing channel access",
    )
    .await?;
    users::require_active_staff(&txn, actor, user_id, "userId").await?;
    let existing = channel_collaborator::Entity::find()
        .filter(channel_collaborator::Column::OrganizationId.eq(actor.org_id))
        .filter(channel_collaborator::Column::ChannelId.eq(channel_id))
        .filter(channel_collaborator::Column::UserId.eq(user_id))
        .one(&txn)
        .await?;
    let row = match existing {
        Some(row) if row.access == access.as_str() => row,
        Some(row) => {
            let mut row = row.into_active_model();
            row.access = Set(access.as_str().to_owned());
            row.granted_by = Set(actor.user_id);
            row.granted_at = Set(now());
            row.update(&txn).await?
        }
        None => {
            channel_collaborator::ActiveModel {
                organization_id: Set(actor.org_id),
                channel_id: Set(channel_id),
                user_id: Set(user_id),
                access: Set(access.as_str().to_owned()),
                granted_by: Set(actor.user_id),
                granted_at: Set(now()),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };
    txn.commit().await?;
    Ok(row)
}

/// Revokes a user's channel grant; needs `ADMIN` on the channel. Returns the grant's row id.
pub async fn revoke<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    channel_id: i64,
    user_id: i64,
) -> ApiResult<i64> {
    let txn = db.begin().await?;
    require(
        &txn,
        actor,
        channel_id,
        AccessLevel::Admin,
        "managing channel access",
    )
    .await?;
    let row = channel_collaborator::Entity::find()
        .filter(channel_collaborator::Column::OrganizationId.eq(actor.org_id))
        .filter(channel_collaborator::Column::ChannelId.eq(channel_id))
        .filter(channel_collaborator::Column::UserId.eq(user_id))
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("ChannelCollaborator"))?;
    let id = row.id;
    row.delete(&txn).await?;
    txn.commit().await?;
    Ok(id)
}
