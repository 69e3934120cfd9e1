//! Channels: the organization's phone numbers and email identities, and who may use them.
//!
//! Dependencies run one way: channels calls down into access (who may use a channel; `get_many`,
//! `require` and `VisibleChannel` are re-exported from there) and grants (the grant flow it
//! shares with contacts); conversations asks access, not channels.

use entity::{channel, channel_collaborator, conversation};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    ModelTrait, PaginatorTrait, QueryFilter, TransactionTrait,
};

pub use super::access::{VisibleChannel, require_channel as require, visible_channels as get_many};
use super::{
    access::{self, AccessLevel, Resource},
    grants, now,
    sql::Sql,
    validate,
};
use crate::{
    error::{ApiError, ApiResult},
    service::actor::Actor,
};

/// A channel's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum ChannelKind {
    /// A phone number (calls and SMS).
    Phone,
    /// An email identity.
    Email,
}

impl ChannelKind {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// The channels the actor may use, by display name.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list<C: ConnectionTrait>(db: &C, actor: &Actor) -> ApiResult<Vec<VisibleChannel>> {
    let mut sql = Sql::new(db.get_database_backend());
    Resource::Channel.push_select(&mut sql, actor);
    sql.push(" ORDER BY ch.display_name, ch.id");
    db.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            access::with_access(row).map(|(channel, access)| VisibleChannel { channel, access })
        })
        .collect()
}

fn clean_address(kind: ChannelKind, address: &str) -> ApiResult<String> {
    match kind {
        ChannelKind::Phone => validate::phone("input.address", address),
        ChannelKind::Email => validate::email("input.address", address),
    }
}

/// Creates a channel (owners and admins).
#[tracing::instrument(skip_all, fields(kind = kind.as_str()), err(level = "debug"))]
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
        "the organization already has a channel with that address",
    ))?;
    Ok(VisibleChannel {
        channel: row,
        access: AccessLevel::Admin,
    })
}

/// Renames a channel (its `ADMIN`s, owners and admins).
#[tracing::instrument(skip_all, fields(channel_id = id), err(level = "debug"))]
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
#[tracing::instrument(skip_all, fields(channel_id = id), err(level = "debug"))]
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
    grants::of(db, org, ids).await
}

/// Grants (or changes) a staff user's access to a channel; needs `ADMIN` on the channel.
pub async fn grant<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    channel_id: i64,
    user_id: i64,
    access: AccessLevel,
) -> ApiResult<channel_collaborator::Model> {
    grants::grant(db, actor, channel_id, user_id, access).await
}

/// Revokes a user's channel grant; needs `ADMIN` on the channel. Returns the grant's row id.
pub async fn revoke<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    channel_id: i64,
    user_id: i64,
) -> ApiResult<i64> {
    grants::revoke::<channel_collaborator::Model, _>(db, actor, channel_id, user_id).await
}
