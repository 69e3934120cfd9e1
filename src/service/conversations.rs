//! Conversations between a contact and the organization over a channel. A user sees a
//! conversation only with at least `READ` on both its contact and its channel; the inbox query
//! states both conditions in SQL, as access.rs writes them.
//!
//! Dependencies run one way: conversations calls down into access and timeline; nothing calls
//! into conversations.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{conversation, conversation_read, message};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult,
    IntoActiveModel, QueryFilter, TransactionSession, TransactionTrait, sea_query::OnConflict,
};
use serde_json::json;

use super::{
    Page,
    access::{self, AccessLevel, Resource, VisibleChannel, VisibleContact},
    now,
    sql::{Sql, joined, push_columns},
    timeline::{self, Audience, EventKind, NewEvent, title_of},
};
use crate::{
    error::{ApiError, ApiResult},
    service::actor::Actor,
};

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Direction {
    /// From the organization to the contact.
    Outbound,
    /// From the contact.
    Inbound,
}

impl Direction {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// A message's delivery state, as integrations report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatus {
    /// Waiting to be sent.
    Queued,
    /// Handed to the carrier or mail system.
    Sent,
    /// Delivered to the contact.
    Delivered,
    /// Could not be delivered.
    Failed,
    /// Read by the contact.
    Read,
}

impl DeliveryStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// The inbox filter.
#[derive(Clone, Debug, Default)]
pub struct ConversationFilter {
    /// Conversations with this contact.
    pub contact_id: Option<i64>,
    /// Conversations over this channel.
    pub channel_id: Option<i64>,
    /// Only conversations with inbound messages the caller has not read.
    pub unread: bool,
}

/// A position in the inbox: the last activity time and the id.
#[derive(Clone, Copy, Debug)]
pub struct InboxCursor {
    /// The conversation's last activity.
    pub at: DateTime<Utc>,
    /// The conversation id.
    pub id: i64,
}

/// A message to send or record.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// The contact.
    pub contact_id: i64,
    /// The channel.
    pub channel_id: i64,
    /// The text.
    pub body: String,
    /// When it was sent (inbound; default now).
    pub sent_at: Option<DateTime<Utc>>,
    /// The carrier's or mail system's id (inbound).
    pub external_id: Option<String>,
}

/// Appends `FROM conversations cv WHERE` with the access rule
/// ([`access::push_conversation_visible`]).
fn conversations_from(sql: &mut Sql, actor: &Actor) {
    sql.push(" FROM conversations cv WHERE ");
    access::push_conversation_visible(sql, actor, "cv");
}

fn unread_condition(sql: &mut Sql, actor: &Actor) {
    sql.push(" AND EXISTS (SELECT 1 FROM messages um WHERE um.organization_id = cv.organization_id AND um.conversation_id = cv.id AND um.direction = 'INBOUND' AND um.id > COALESCE((SELECT r.last_read_message_id FROM conversation_reads r WHERE r.conversation_id = cv.id AND r.user_id = ")
        .bind(actor.user_id)
        .push("), 0))");
}

fn push_filter(sql: &mut Sql, actor: &Actor, filter: &ConversationFilter) {
    if let Some(contact) = filter.contact_id {
        sql.push(" AND cv.contact_id = ").bind(contact);
    }
    if let Some(channel) = filter.channel_id {
        sql.push(" AND cv.channel_id = ").bind(channel);
    }
    if filter.unread {
        unread_condition(sql, actor);
    }
}

/// What an inbox page reads about its conversations in its own statement, beside the
/// conversations (what the page's fields show, so that they need no statements of their own).
#[derive(Clone, Copy, Debug, Default)]
pub struct InboxJoins {
    /// Each conversation's contact, with the caller's access to it.
    pub contact: bool,
    /// Each conversation's channel, with the caller's access to it.
    pub channel: bool,
    /// The caller's unread inbound messages in each.
    pub unread: bool,
}

/// A conversation of an inbox page, with what [`InboxJoins`] asked to read with it.
#[derive(Clone, Debug)]
pub struct InboxRow {
    /// The conversation.
    pub conversation: conversation::Model,
    /// Its contact (visible, since the conversation is), when asked for.
    pub contact: Option<VisibleContact>,
    /// Its channel (visible, since the conversation is), when asked for.
    pub channel: Option<VisibleChannel>,
    /// The caller's unread inbound messages in it, when asked for.
    pub unread: Option<i64>,
}

/// Column prefixes of the rows an inbox page reads with its conversations.
const CONTACT: &str = "c__";
const CHANNEL: &str = "ch__";

/// One page of the actor's inbox, newest activity first.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: &ConversationFilter,
    after: Option<InboxCursor>,
    limit: u64,
) -> ApiResult<Page<conversation::Model>> {
    let page = inbox(db, actor, filter, after, limit, InboxJoins::default()).await?;
    Ok(Page {
        rows: page.rows.into_iter().map(|r| r.conversation).collect(),
        has_next: page.has_next,
    })
}

/// One page of the actor's inbox, newest activity first, with the related rows `joins` asks
/// for, all in one statement: the page is chosen first (joined to the member's grants on its
/// contact and channel, which also give the caller's levels), then only its rows are joined to
/// their contacts and channels and have their unread messages counted.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn inbox<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: &ConversationFilter,
    after: Option<InboxCursor>,
    limit: u64,
    joins: InboxJoins,
) -> ApiResult<Page<InboxRow>> {
    let mut sql = Sql::new(db.get_database_backend());
    let wrapped = joins.contact || joins.channel || joins.unread;
    if wrapped {
        sql.push("SELECT p.*");
        if joins.contact {
            push_columns::<entity::contact::Entity>(&mut sql, "c", CONTACT);
        }
        if joins.channel {
            push_columns::<entity::channel::Entity>(&mut sql, "ch", CHANNEL);
        }
        if joins.unread {
            sql.push(
                ", (SELECT COUNT(*) FROM messages um WHERE um.organization_id = p.organization_id \
                 AND um.conversation_id = p.id AND um.direction = 'INBOUND' AND um.id > \
                 COALESCE((SELECT r.last_read_message_id FROM conversation_reads r \
                 WHERE r.conversation_id = p.id AND r.user_id = ",
            )
            .bind(actor.user_id)
            .push("), 0)) AS unread");
        }
        sql.push(" FROM (");
    }
    // The page: members reach it through their grants (joins), which also give their levels.
    sql.push("SELECT cv.*");
    let levels = access::granted_level(actor, "g").zip(access::granted_level(actor, "cg"));
    if let Some((contact_level, channel_level)) = &levels {
        sql.push(&format!(
            ", {contact_level} AS contact_access, {channel_level} AS channel_access"
        ));
    }
    push_inbox_from(&mut sql, actor);
    push_filter(&mut sql, actor, filter);
    if let Some(cursor) = after {
        sql.push(" AND (cv.last_message_at < ")
            .bind(cursor.at)
            .push(" OR (cv.last_message_at = ")
            .bind(cursor.at)
            .push(" AND cv.id < ")
            .bind(cursor.id)
            .push("))");
    }
    sql.push(" ORDER BY cv.last_message_at DESC, cv.id DESC")
        .limit(limit + 1);
    if wrapped {
        sql.push(") p");
        if joins.contact {
            sql.push(" LEFT JOIN contacts c ON c.id = p.contact_id AND c.organization_id = p.organization_id");
        }
        if joins.channel {
            sql.push(" LEFT JOIN channels ch ON ch.id = p.channel_id AND ch.organization_id = p.organization_id");
        }
        sql.push(" ORDER BY p.last_message_at DESC, p.id DESC");
    }
    let mut rows = Vec::new();
    for row in db.query_all_raw(sql.build()).await? {
        let level = |column: &str| -> ApiResult<AccessLevel> {
            let text: String = match &levels {
                Some(_) => row.try_get("", column)?,
                // Customer users see no conversation; were there one, they would read it.
                None => AccessLevel::Read.as_str().to_owned(),
            };
            AccessLevel::parse(&text)
                .ok_or_else(|| ApiError::Internal(format!("unknown access level {text}")))
        };
        let contact = if joins.contact {
            match joined::<entity::contact::Model>(&row, CONTACT)? {
                Some(contact) => Some(VisibleContact {
                    contact,
                    access: level("contact_access")?,
                }),
                None => None,
            }
        } else {
            None
        };
        let channel = if joins.channel {
            match joined::<entity::channel::Model>(&row, CHANNEL)? {
                Some(channel) => Some(VisibleChannel {
                    channel,
                    access: level("channel_access")?,
                }),
                None => None,
            }
        } else {
            None
        };
        let unread = if joins.unread {
            Some(row.try_get::<i64>("", "unread")?)
        } else {
            None
        };
        rows.push(InboxRow {
            conversation: conversation::Model::from_query_result(&row, "")?,
            contact,
            channel,
            unread,
        });
    }
    Ok(Page::from_fetched(rows, limit))
}

/// Appends the inbox page's `FROM ... WHERE` (conversations the actor may see): members join
/// their grants on the contact (`g`) and the channel (`cg`), whose levels
/// [`access::granted_level`] names; customer users get the conditions in `WHERE`.
fn push_inbox_from(sql: &mut Sql, actor: &Actor) {
    sql.push(" FROM conversations cv");
    let contact = Resource::Contact.push_grant_join(sql, actor, "cv.contact_id", "g");
    let channel = Resource::Channel.push_grant_join(sql, actor, "cv.channel_id", "cg");
    if contact && channel {
        sql.push(" WHERE cv.organization_id = ").bind(actor.org_id);
    } else {
        sql.push(" WHERE ");
        access::push_conversation_visible(sql, actor, "cv");
    }
}

/// How many conversations of the inbox match.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn count<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: &ConversationFilter,
) -> ApiResult<i64> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT COUNT(*) AS n");
    conversations_from(&mut sql, actor);
    push_filter(&mut sql, actor, filter);
    sql.count(db).await
}

/// The conversations among `ids` the actor may see.
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn get_many<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[i64],
) -> ApiResult<HashMap<i64, conversation::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT cv.*");
    conversations_from(&mut sql, actor);
    sql.push(" AND cv.id IN ").bind_list(ids.iter().copied());
    let rows = conversation::Model::find_by_statement(sql.build())
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|c| (c.id, c)).collect())
}

/// The conversation `id` if the actor may see it; `NOT_FOUND` otherwise.
#[tracing::instrument(skip_all, fields(conversation_id = id), err(level = "debug"))]
pub async fn get<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
) -> ApiResult<conversation::Model> {
    get_many(db, actor, &[id])
        .await?
        .remove(&id)
        .ok_or(ApiError::NotFound("Conversation"))
}

/// The messages among `ids` whose conversation the actor may see.
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn messages_by_id<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[i64],
) -> ApiResult<HashMap<i64, message::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT m.* FROM messages m WHERE m.id IN ")
        .bind_list(ids.iter().copied())
        .push(" AND ");
    access::push_message_visible(&mut sql, actor, "m");
    let rows = message::Model::find_by_statement(sql.build())
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|m| (m.id, m)).collect())
}

/// The given messages (of conversations already visible to the caller), by id.
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn messages_of_visible<C: ConnectionTrait>(
    db: &C,
    org: i64,
    ids: &[i64],
) -> ApiResult<HashMap<i64, message::Model>> {
    Ok(message::Entity::find()
        .filter(message::Column::OrganizationId.eq(org))
        .filter(message::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect())
}

/// One page of a visible conversation's messages, newest first, before message id `before`.
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id), err(level = "debug"))]
pub async fn messages<C: ConnectionTrait>(
    db: &C,
    org: i64,
    conversation_id: i64,
    before: Option<i64>,
    limit: u64,
) -> ApiResult<Page<message::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT m.* FROM messages m WHERE m.organization_id = ")
        .bind(org)
        .push(" AND m.conversation_id = ")
        .bind(conversation_id);
    if let Some(before) = before {
        sql.push(" AND m.id < ").bind(before);
    }
    sql.push(" ORDER BY m.id DESC").limit(limit + 1);
    let rows = message::Model::find_by_statement(sql.build())
        .all(db)
        .await?;
    Ok(Page::from_fetched(rows, limit))
}

/// The caller's unread inbound messages in each of the given conversations.
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn unread_counts<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[i64],
) -> ApiResult<HashMap<i64, i64>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT m.conversation_id AS conversation_id, COUNT(*) AS n FROM messages m LEFT JOIN conversation_reads r ON r.conversation_id = m.conversation_id AND r.user_id = ")
        .bind(actor.user_id)
        .push(" WHERE m.organization_id = ")
        .bind(actor.org_id)
        .push(" AND m.conversation_id IN ")
        .bind_list(ids.iter().copied())
        .push(" AND m.direction = 'INBOUND' AND m.id > COALESCE(r.last_read_message_id, 0) GROUP BY m.conversation_id");
    let mut counts = HashMap::new();
    for row in db.query_all_raw(sql.build()).await? {
        counts.insert(
            row.try_get::<i64>("", "conversation_id")?,
            row.try_get::<i64>("", "n")?,
        );
    }
    Ok(counts)
}

fn body(text: &str) -> ApiResult<String> {
    super::validate::long_text("input.body", Some(text), 10_000)?
        .ok_or_else(|| ApiError::bad_input("input.body", "must not be empty"))
}

/// The conversation of (contact, channel), created if it does not exist yet; safe when two
/// requests create it at once (the unique key decides, both use the same row).
async fn conversation_for<C: ConnectionTrait>(
    db: &C,
    org: i64,
    contact_id: i64,
    channel_id: i64,
    at: DateTime<Utc>,
) -> ApiResult<conversation::Model> {
    conversation::Entity::insert(conversation::ActiveModel {
        organization_id: Set(org),
        contact_id: Set(contact_id),
        channel_id: Set(channel_id),
        last_message_id: Set(None),
        last_message_at: Set(at),
        created_at: Set(at),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            conversation::Column::ContactId,
            conversation::Column::ChannelId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    conversation::Entity::find()
        .filter(conversation::Column::OrganizationId.eq(org))
        .filter(conversation::Column::ContactId.eq(contact_id))
        .filter(conversation::Column::ChannelId.eq(channel_id))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::Internal("conversation vanished".into()))
}

async fn append<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    conversation: conversation::Model,
    direction: Direction,
    input: &NewMessage,
    channel: &entity::channel::Model,
    contact_name: &str,
) -> ApiResult<message::Model> {
    let at = now();
    let sent_at = input.sent_at.unwrap_or(at);
    let text = body(&input.body)?;
    let row = message::ActiveModel {
        organization_id: Set(actor.org_id),
        conversation_id: Set(conversation.id),
        direction: Set(direction.as_str().to_owned()),
        body: Set(text.clone()),
        author_id: Set((direction == Direction::Outbound).then_some(actor.user_id)),
        sent_at: Set(sent_at),
        status: Set(match direction {
            Direction::Outbound => DeliveryStatus::Queued,
            Direction::Inbound => DeliveryStatus::Delivered,
        }
        .as_str()
        .to_owned()),
        external_id: Set(input.external_id.clone()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let newer = conversation.last_message_id.is_none() || sent_at >= conversation.last_message_at;
    if newer {
        let mut conv = conversation.into_active_model();
        conv.last_message_id = Set(Some(row.id));
        conv.last_message_at = Set(sent_at);
        conv.update(db).await?;
    }
    let (kind, summary) = match direction {
        Direction::Outbound => (
            EventKind::MessageSent,
            format!(
                "{} sent {contact_name} a message via {}: {}",
                actor.name,
                channel.display_name,
                title_of(None, &text)
            ),
        ),
        Direction::Inbound => (
            EventKind::MessageReceived,
            format!(
                "{contact_name} wrote via {}: {}",
                channel.display_name,
                title_of(None, &text)
            ),
        ),
    };
    timeline::record(
        db,
        actor,
        NewEvent {
            contact_id: input.contact_id,
            kind,
            subject_kind: "Message",
            subject_id: row.id,
            summary,
            data: json!({ "channelId": channel.id }),
            audience: Audience::Channel(channel.id),
        },
    )
    .await?;
    Ok(row)
}

/// Sends a message to a contact over a channel: needs `WRITE` on both. The message starts
/// `QUEUED`; the integration that delivers it reports progress with `updateMessageStatus`.
#[tracing::instrument(
    skip_all,
    fields(contact_id = input.contact_id, channel_id = input.channel_id),
    err(level = "debug")
)]
pub async fn send<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    input: NewMessage,
) -> ApiResult<message::Model> {
    actor.require_staff("send messages")?;
    body(&input.body)?;
    let txn = db.begin().await?;
    let contact = access::require_contact(
        &txn,
        actor,
        input.contact_id,
        AccessLevel::Write,
        "sending a message",
    )
    .await?;
    let channel = access::require_channel(
        &txn,
        actor,
        input.channel_id,
        AccessLevel::Write,
        "sending a message",
    )
    .await?;
    let conv = conversation_for(
        &txn,
        actor.org_id,
        input.contact_id,
        input.channel_id,
        now(),
    )
    .await?;
    let row = append(
        &txn,
        actor,
        conv,
        Direction::Outbound,
        &NewMessage {
            sent_at: None,
            ..input
        },
        &channel.channel,
        &contact.contact.name,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// Records a message the contact sent, for the integration that received it: needs `WRITE`
/// on the channel and read access to the contact. A contact the caller cannot see answers
/// `NOT_FOUND` exactly like a missing one, so a channel grant alone does not reveal which
/// contacts exist, and the message returned is one the caller may read.
#[tracing::instrument(
    skip_all,
    fields(contact_id = input.contact_id, channel_id = input.channel_id),
    err(level = "debug")
)]
pub async fn record_inbound<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    input: NewMessage,
) -> ApiResult<message::Model> {
    actor.require_staff("record messages")?;
    body(&input.body)?;
    // The integration's own message id: one line, 1 to 200 characters.
    if let Some(id) = &input.external_id {
        super::validate::name("input.externalId", id)?;
    }
    let txn = db.begin().await?;
    let channel = access::require_channel(
        &txn,
        actor,
        input.channel_id,
        AccessLevel::Write,
        "recording a message",
    )
    .await?;
    let contact = access::require_contact(
        &txn,
        actor,
        input.contact_id,
        AccessLevel::Read,
        "recording a message",
    )
    .await?
    .contact;
    let conv = conversation_for(&txn, actor.org_id, contact.id, channel.channel.id, now()).await?;
    let row = append(
        &txn,
        actor,
        conv,
        Direction::Inbound,
        &input,
        &channel.channel,
        &contact.name,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// Sets a message's delivery status (integrations): the message must be one the caller may
/// read (access to both its contact and its channel, the query path's rule, in SQL), else
/// `NOT_FOUND`; changing it needs `WRITE` on the channel.
#[tracing::instrument(skip_all, fields(message_id = id), err(level = "debug"))]
pub async fn update_status<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    status: DeliveryStatus,
) -> ApiResult<message::Model> {
    let txn = db.begin().await?;
    let row = messages_by_id(&txn, actor, &[id])
        .await?
        .remove(&id)
        .ok_or(ApiError::NotFound("Message"))?;
    let conv = conversation::Entity::find_by_id(row.conversation_id)
        .filter(conversation::Column::OrganizationId.eq(actor.org_id))
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("Message"))?;
    access::require_channel(
        &txn,
        actor,
        conv.channel_id,
        AccessLevel::Write,
        "updating a message's status",
    )
    .await
    .map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::NotFound("Message"),
        other => other,
    })?;
    let mut active = row.into_active_model();
    active.status = Set(status.as_str().to_owned());
    active.updated_at = Set(now());
    let row = active.update(&txn).await?;
    txn.commit().await?;
    Ok(row)
}

/// Marks a conversation read up to its newest message, for the caller only.
#[tracing::instrument(skip_all, fields(conversation_id = id), err(level = "debug"))]
pub async fn mark_read<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
) -> ApiResult<conversation::Model> {
    let conv = get(db, actor, id).await?;
    // The highest message id, not the newest by sent time: an inbound message recorded late
    // with an older time still counts as read.
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT MAX(m.id) AS last FROM messages m WHERE m.organization_id = ")
        .bind(actor.org_id)
        .push(" AND m.conversation_id = ")
        .bind(conv.id);
    let last: Option<i64> = match db.query_one_raw(sql.build()).await? {
        Some(row) => row.try_get("", "last")?,
        None => None,
    };
    let Some(last) = last else {
        return Ok(conv);
    };
    conversation_read::Entity::insert(conversation_read::ActiveModel {
        conversation_id: Set(conv.id),
        user_id: Set(actor.user_id),
        organization_id: Set(actor.org_id),
        last_read_message_id: Set(last),
        read_at: Set(now()),
    })
    .on_conflict(
        OnConflict::columns([
            conversation_read::Column::ConversationId,
            conversation_read::Column::UserId,
        ])
        .update_columns([
            conversation_read::Column::LastReadMessageId,
            conversation_read::Column::ReadAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(conv)
}
