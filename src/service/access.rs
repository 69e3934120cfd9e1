//! The access model, written as SQL so that every query filters rows by the caller's grants in
//! the database (never by loading and then discarding), and the lookups that apply it. This is
//! the one place that decides whether an actor may see, write or administer a contact or a
//! channel, and see or change a note: every service that needs the answer asks here instead of
//! deriving it again.
//!
//! Dependencies run one way: the services call down into this module; it calls none of them
//! (only [`super::sql`] and the entities).

use std::collections::HashMap;

use entity::{channel, contact, note};
use sea_orm::{ConnectionTrait, FromQueryResult, QueryResult};

use super::sql::Sql;
use crate::{
    error::{ApiError, ApiResult},
    service::actor::{Actor, ActorKind},
};

/// A collaborator access level, ordered: `Read < Write < Admin`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, strum::IntoStaticStr, strum::EnumString,
)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessLevel {
    /// View the contact, its shared notes, tasks and timeline.
    Read,
    /// Also edit and archive the contact, create and edit notes and tasks.
    Write,
    /// Also grant and revoke access.
    Admin,
}

impl AccessLevel {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// The two kinds of record whose access is granted user by user, each with its own table of
/// grants (`contact_collaborators`, `channel_collaborators`) of the same shape. Owners and
/// admins hold `ADMIN` on every one of their organization; members hold what they were
/// granted; a customer user reads their own contact and no channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// A contact.
    Contact,
    /// A channel (a phone number or an email identity).
    Channel,
}

impl Resource {
    /// The record's table.
    fn table(self) -> &'static str {
        match self {
            Self::Contact => "contacts",
            Self::Channel => "channels",
        }
    }

    /// The alias the record's table has in [`Resource::push_from`] (filters and orders that
    /// callers append use it).
    pub fn alias(self) -> &'static str {
        match self {
            Self::Contact => "c",
            Self::Channel => "ch",
        }
    }

    /// The table of its grants.
    pub fn grants_table(self) -> &'static str {
        match self {
            Self::Contact => "contact_collaborators",
            Self::Channel => "channel_collaborators",
        }
    }

    /// The grants' column naming the record.
    pub fn grants_column(self) -> &'static str {
        match self {
            Self::Contact => "contact_id",
            Self::Channel => "channel_id",
        }
    }

    /// The record's name in messages (`contact`).
    pub fn noun(self) -> &'static str {
        match self {
            Self::Contact => "contact",
            Self::Channel => "channel",
        }
    }

    /// The record's `NOT_FOUND` name (`Contact`).
    pub fn not_found(self) -> ApiError {
        match self {
            Self::Contact => ApiError::NotFound("Contact"),
            Self::Channel => ApiError::NotFound("Channel"),
        }
    }

    /// Appends `SELECT x.*, <the actor's level> AS my_access` and [`Resource::push_from`]; read
    /// the rows with [`with_access`].
    pub fn push_select(self, sql: &mut Sql, actor: &Actor) {
        sql.push(&format!(
            "SELECT {}.*, {} AS my_access",
            self.alias(),
            Self::level(actor, "g")
        ));
        self.push_from(sql, actor);
    }

    /// The caller's level on a record they may see, as an SQL expression: `'ADMIN'` for owners
    /// and admins, the level of their grant (aliased `grant_alias`) for members, `'READ'` for a
    /// customer user (their own contact).
    pub fn level(actor: &Actor, grant_alias: &str) -> String {
        match actor.kind {
            ActorKind::Staff(_) if actor.is_org_admin() => "'ADMIN'".to_owned(),
            ActorKind::Staff(_) => format!("{grant_alias}.access"),
            ActorKind::Customer { .. } => "'READ'".to_owned(),
        }
    }

    /// Appends `FROM <table> x ... WHERE <x is visible to actor>`:
    ///
    /// - owners and admins: every record of their organization;
    /// - members: the records they hold a grant on (an inner join on the grants, aliased `g`);
    /// - customer users: their own contact, and no channel.
    pub fn push_from(self, sql: &mut Sql, actor: &Actor) {
        let (table, a) = (self.table(), self.alias());
        match actor.kind {
            ActorKind::Staff(_) if actor.is_org_admin() => {
                sql.push(&format!(" FROM {table} {a} WHERE {a}.organization_id = "))
                    .bind(actor.org_id);
            }
            ActorKind::Staff(_) => {
                sql.push(&format!(
                    " FROM {table} {a} JOIN {grants} g ON g.{column} = {a}.id \
                     AND g.organization_id = {a}.organization_id AND g.user_id = ",
                    grants = self.grants_table(),
                    column = self.grants_column(),
                ))
                .bind(actor.user_id)
                .push(&format!(" WHERE {a}.organization_id = "))
                .bind(actor.org_id);
            }
            ActorKind::Customer { contact_id } => match self {
                Self::Contact => {
                    sql.push(" FROM contacts c WHERE c.organization_id = ")
                        .bind(actor.org_id)
                        .push(" AND c.id = ")
                        .bind(contact_id);
                }
                Self::Channel => {
                    sql.push(" FROM channels ch WHERE 1 = 0");
                }
            },
        }
    }

    /// Appends a condition that holds when the record `column` names is visible to `actor`,
    /// for queries over rows that hang off it (notes, tasks, conversations, events...).
    pub fn push_visible(self, sql: &mut Sql, actor: &Actor, column: &str) {
        match actor.kind {
            ActorKind::Staff(_) if actor.is_org_admin() => {
                sql.push("1 = 1");
            }
            ActorKind::Staff(_) => {
                // Each resource has its own alias, so that one query can hold both conditions.
                let v = match self {
                    Self::Contact => "vg",
                    Self::Channel => "vcg",
                };
                sql.push(&format!(
                    "EXISTS (SELECT 1 FROM {grants} {v} WHERE {v}.organization_id = ",
                    grants = self.grants_table()
                ))
                .bind(actor.org_id)
                .push(&format!(" AND {v}.user_id = "))
                .bind(actor.user_id)
                .push(&format!(" AND {v}.{} = {column})", self.grants_column()));
            }
            ActorKind::Customer { contact_id } => match self {
                Self::Contact => {
                    sql.push(column).push(" = ").bind(contact_id);
                }
                Self::Channel => {
                    sql.push("1 = 0");
                }
            },
        }
    }

    /// Appends what makes the record `column` names visible to `actor` as a join, for a query
    /// over rows hanging off it (placed before its `WHERE`): members get an inner join on their
    /// grant, aliased `alias` (its level is [`granted_level`]); owners and admins need none.
    /// Returns `false` for a customer user, who holds no grants: state
    /// [`Resource::push_visible`] in the `WHERE` clause instead.
    ///
    /// A join lets the planner start from the member's few grants and hands the query their
    /// levels; [`Resource::push_visible`] (an `EXISTS` per row) is the shape for conditions
    /// inside other clauses.
    pub fn push_grant_join(self, sql: &mut Sql, actor: &Actor, column: &str, alias: &str) -> bool {
        match actor.kind {
            ActorKind::Staff(_) if actor.is_org_admin() => true,
            ActorKind::Staff(_) => {
                sql.push(&format!(
                    " JOIN {grants} {alias} ON {alias}.organization_id = ",
                    grants = self.grants_table()
                ))
                .bind(actor.org_id)
                .push(&format!(" AND {alias}.user_id = "))
                .bind(actor.user_id)
                .push(&format!(" AND {alias}.{} = {column}", self.grants_column()));
                true
            }
            ActorKind::Customer { .. } => false,
        }
    }

    /// Appends left joins that read the record `column` names as `alias` when it is visible to
    /// `actor`, under the rule of [`Resource::push_from`], for a query that reads records beside
    /// rows hanging off them; [`Resource::level`] with the same `grant_alias` is the caller's
    /// level on it. Members reach the record through their grant (aliased `grant_alias`), so a
    /// record they hold no grant on joins as nulls, as does one a customer user may not see:
    /// the query reads none, never another's.
    pub fn push_left_join(
        self,
        sql: &mut Sql,
        actor: &Actor,
        column: &str,
        alias: &str,
        grant_alias: &str,
    ) {
        let table = self.table();
        match actor.kind {
            ActorKind::Staff(_) if actor.is_org_admin() => {
                sql.push(&format!(
                    " LEFT JOIN {table} {alias} ON {alias}.id = {column} \
                     AND {alias}.organization_id = "
                ))
                .bind(actor.org_id);
            }
            ActorKind::Staff(_) => {
                sql.push(&format!(
                    " LEFT JOIN {grants} {grant_alias} ON {grant_alias}.organization_id = ",
                    grants = self.grants_table()
                ))
                .bind(actor.org_id)
                .push(&format!(" AND {grant_alias}.user_id = "))
                .bind(actor.user_id)
                .push(&format!(
                    " AND {grant_alias}.{} = {column} LEFT JOIN {table} {alias} \
                     ON {alias}.id = {grant_alias}.{} AND {alias}.organization_id = ",
                    self.grants_column(),
                    self.grants_column()
                ))
                .bind(actor.org_id);
            }
            ActorKind::Customer { contact_id } => {
                sql.push(&format!(
                    " LEFT JOIN {table} {alias} ON {alias}.id = {column} \
                     AND {alias}.organization_id = "
                ))
                .bind(actor.org_id);
                match self {
                    Self::Contact => {
                        sql.push(&format!(" AND {alias}.id = ")).bind(contact_id);
                    }
                    Self::Channel => {
                        sql.push(" AND 1 = 0");
                    }
                }
            }
        }
    }

    /// Checks that the caller's level `have` on the record is at least `need`: `FORBIDDEN`
    /// naming what needs it (`what`) otherwise.
    pub fn require_level(self, have: AccessLevel, need: AccessLevel, what: &str) -> ApiResult<()> {
        if have < need {
            return Err(ApiError::forbidden(format!(
                "{what} needs {} access to the {}; you have {}",
                need.as_str(),
                self.noun(),
                have.as_str()
            )));
        }
        Ok(())
    }
}

/// Appends a condition that holds when contact `contact_column` is visible to `actor`, for
/// queries over rows that hang off a contact (customer users, notes, tasks...).
pub fn contact_visible(sql: &mut Sql, actor: &Actor, contact_column: &str) {
    Resource::Contact.push_visible(sql, actor, contact_column);
}

/// Appends a condition that holds when channel `channel_column` is visible to `actor`: every
/// channel of the organization for owners and admins, granted ones for members, none for
/// customer users.
pub fn channel_visible(sql: &mut Sql, actor: &Actor, channel_column: &str) {
    Resource::Channel.push_visible(sql, actor, channel_column);
}

/// The caller's level on a record reached through [`Resource::push_grant_join`] with `alias`,
/// as an SQL expression: `'ADMIN'` for owners and admins, the grant's level for members, `None`
/// for customer users (who reach no record through grants).
pub fn granted_level(actor: &Actor, alias: &str) -> Option<String> {
    match actor.kind {
        ActorKind::Staff(_) if actor.is_org_admin() => Some("'ADMIN'".to_owned()),
        ActorKind::Staff(_) => Some(format!("{alias}.access")),
        ActorKind::Customer { .. } => None,
    }
}

/// Reads a row selected by [`Resource::push_select`]: the record and the caller's level.
pub fn with_access<M: FromQueryResult>(row: &QueryResult) -> ApiResult<(M, AccessLevel)> {
    let model = M::from_query_result(row, "")?;
    let access: String = row.try_get("", "my_access")?;
    let access = AccessLevel::parse(&access)
        .ok_or_else(|| ApiError::Internal(format!("unknown access level {access}")))?;
    Ok((model, access))
}

/// The records of `resource` among `ids` that the actor may see, with the actor's level.
async fn visible<M: FromQueryResult, C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    resource: Resource,
    ids: &[i64],
) -> ApiResult<Vec<(M, AccessLevel)>> {
    let mut sql = Sql::new(db.get_database_backend());
    resource.push_select(&mut sql, actor);
    sql.push(&format!(" AND {}.id IN ", resource.alias()))
        .bind_list(ids.iter().copied());
    db.query_all_raw(sql.build())
        .await?
        .iter()
        .map(with_access)
        .collect()
}

/// A contact as the caller sees it: the row and the caller's access level to it.
#[derive(Clone, Debug)]
pub struct VisibleContact {
    /// The contact row.
    pub contact: contact::Model,
    /// The caller's effective access.
    pub access: AccessLevel,
}

/// The contacts among `ids` that the actor may see (for `node` and batched lookups).
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn visible_contacts<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[i64],
) -> ApiResult<HashMap<i64, VisibleContact>> {
    Ok(visible(db, actor, Resource::Contact, ids)
        .await?
        .into_iter()
        .map(|(contact, access): (contact::Model, _)| {
            (contact.id, VisibleContact { contact, access })
        })
        .collect())
}

/// The contact `id` if the actor may see it; `NOT_FOUND` otherwise.
#[tracing::instrument(skip_all, fields(contact_id = id), err(level = "debug"))]
pub async fn visible_contact<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
) -> ApiResult<VisibleContact> {
    visible_contacts(db, actor, &[id])
        .await?
        .remove(&id)
        .ok_or_else(|| Resource::Contact.not_found())
}

/// The contact `id` if the actor holds at least `need` on it: `NOT_FOUND` when the actor cannot
/// see it at all, `FORBIDDEN` when they can see it but not do this.
#[tracing::instrument(
    skip_all,
    fields(contact_id = id, need = need.as_str()),
    err(level = "debug")
)]
pub async fn require_contact<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    need: AccessLevel,
    what: &str,
) -> ApiResult<VisibleContact> {
    let visible = visible_contact(db, actor, id).await?;
    Resource::Contact.require_level(visible.access, need, what)?;
    Ok(visible)
}

/// A channel as the caller sees it, with the caller's access.
#[derive(Clone, Debug)]
pub struct VisibleChannel {
    /// The row.
    pub channel: channel::Model,
    /// The caller's access: `ADMIN` for owners and admins, the grant's level for members.
    pub access: AccessLevel,
}

/// The channels among `ids` the actor may use.
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn visible_channels<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[i64],
) -> ApiResult<HashMap<i64, VisibleChannel>> {
    Ok(visible(db, actor, Resource::Channel, ids)
        .await?
        .into_iter()
        .map(|(channel, access): (channel::Model, _)| {
            (channel.id, VisibleChannel { channel, access })
        })
        .collect())
}

/// The channel `id` with at least `need` access: `NOT_FOUND` when the actor cannot see it,
/// `FORBIDDEN` when they can but not enough.
#[tracing::instrument(
    skip_all,
    fields(channel_id = id, need = need.as_str()),
    err(level = "debug")
)]
pub async fn require_channel<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    need: AccessLevel,
    what: &str,
) -> ApiResult<VisibleChannel> {
    let visible = visible_channels(db, actor, &[id])
        .await?
        .remove(&id)
        .ok_or_else(|| Resource::Channel.not_found())?;
    Resource::Channel.require_level(visible.access, need, what)?;
    Ok(visible)
}

/// Labels are internal: a customer user may not filter by them (the answer would tell whether
/// their contact carries a label).
pub fn check_label_filter(actor: &Actor, label_ids: &[i64]) -> ApiResult<()> {
    if label_ids.is_empty() {
        Ok(())
    } else {
        actor.require_staff("filter by label")
    }
}

/// The note columns a read selects: every column of `notes` but PostgreSQL's generated search
/// vector, which no reader needs.
const NOTE_COLUMNS: &str = "SELECT n.id, n.organization_id, n.contact_id, n.author_id, n.subject, n.body, \
    n.body_html, n.visibility, n.type_id, n.template_id, n.attached_kind, n.attached_id, \
    n.created_at, n.updated_at";

/// Appends the note columns and [`push_notes_from`]: a query for the notes the actor may see.
pub fn push_note_select(sql: &mut Sql, actor: &Actor) {
    sql.push(NOTE_COLUMNS);
    push_notes_from(sql, actor);
}

/// Appends `FROM notes n WHERE <n visible to actor>` (see [`push_note_visible`]).
pub fn push_notes_from(sql: &mut Sql, actor: &Actor) {
    sql.push(" FROM notes n WHERE ");
    push_note_visible(sql, actor, "n");
}

/// Appends the condition "note `alias` is visible to `actor`": it is of the actor's
/// organization, its contact is visible, and it is the actor's own, shared with the team
/// (staff), or shared with the customer (customer user). (`PRIVATE`, `TEAM` and `CUSTOMER` are
/// the stored texts of `notes::Visibility`.)
pub fn push_note_visible(sql: &mut Sql, actor: &Actor, alias: &str) {
    sql.push(&format!("{alias}.organization_id = "))
        .bind(actor.org_id)
        .push(" AND ");
    contact_visible(sql, actor, &format!("{alias}.contact_id"));
    match actor.kind {
        ActorKind::Staff(_) => {
            sql.push(&format!(
                " AND ({alias}.visibility <> 'PRIVATE' OR {alias}.author_id = "
            ))
            .bind(actor.user_id)
            .push(")");
        }
        ActorKind::Customer { .. } => {
            sql.push(&format!(" AND {alias}.visibility = 'CUSTOMER'"));
        }
    }
}

/// The notes among `ids` the actor may see.
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn visible_notes<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[i64],
) -> ApiResult<HashMap<i64, note::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    push_note_select(&mut sql, actor);
    sql.push(" AND n.id IN ").bind_list(ids.iter().copied());
    let rows = note::Model::find_by_statement(sql.build()).all(db).await?;
    Ok(rows.into_iter().map(|n| (n.id, n)).collect())
}

/// The note `id` if the actor may see it; `NOT_FOUND` otherwise.
#[tracing::instrument(skip_all, fields(note_id = id), err(level = "debug"))]
pub async fn visible_note<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
) -> ApiResult<note::Model> {
    visible_notes(db, actor, &[id])
        .await?
        .remove(&id)
        .ok_or(ApiError::NotFound("Note"))
}

/// Checks the actor may change note `id` (`NOT_FOUND` when they cannot see it): a `PRIVATE`
/// note stays its author's while they can read the contact; a shared note (`TEAM`, `CUSTOMER`)
/// needs `WRITE` on the contact, from its author too, so an author downgraded to `READ` can no
/// longer edit, delete or attach files to what the team (or the customer) reads.
#[tracing::instrument(skip_all, fields(note_id = id), err(level = "debug"))]
pub async fn require_editable_note<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    what: &str,
) -> ApiResult<note::Model> {
    let note = visible_note(db, actor, id).await?;
    if note.author_id == actor.user_id && note.visibility == "PRIVATE" {
        return Ok(note);
    }
    require_contact(db, actor, note.contact_id, AccessLevel::Write, what).await?;
    Ok(note)
}

/// Appends `FROM tasks t WHERE <t visible to actor>` (see [`push_task_visible`]).
pub fn push_tasks_from(sql: &mut Sql, actor: &Actor) {
    sql.push(" FROM tasks t WHERE ");
    push_task_visible(sql, actor, "t");
}

/// Appends the condition "task `alias` is visible to `actor`": tasks are the team's work, so
/// staff see those of the contacts they may see and customer users see none.
pub fn push_task_visible(sql: &mut Sql, actor: &Actor, alias: &str) {
    sql.push(&format!("{alias}.organization_id = "))
        .bind(actor.org_id)
        .push(" AND ");
    match actor.kind {
        ActorKind::Customer { .. } => {
            sql.push("1 = 0");
        }
        ActorKind::Staff(_) => contact_visible(sql, actor, &format!("{alias}.contact_id")),
    }
}

/// Appends the condition "conversation `alias` is visible to `actor`": it is of the actor's
/// organization and both its contact and its channel are visible (all of the organization's
/// for owners and admins, granted ones for members; customer users see no channel, hence no
/// conversation).
pub fn push_conversation_visible(sql: &mut Sql, actor: &Actor, alias: &str) {
    sql.push(&format!("{alias}.organization_id = "))
        .bind(actor.org_id)
        .push(" AND ");
    contact_visible(sql, actor, &format!("{alias}.contact_id"));
    sql.push(" AND ");
    channel_visible(sql, actor, &format!("{alias}.channel_id"));
}

/// Appends the condition "message `alias` is visible to `actor`": its conversation is (see
/// [`push_conversation_visible`]), tested on the message's own conversation row by its key.
/// (Not `conversation_id IN (SELECT ...)`: for an owner that list is every conversation of the
/// organization, which SQLite builds on every query.)
pub fn push_message_visible(sql: &mut Sql, actor: &Actor, alias: &str) {
    sql.push(&format!("{alias}.organization_id = "))
        .bind(actor.org_id)
        .push(&format!(
            " AND EXISTS (SELECT 1 FROM conversations mcv WHERE mcv.id = {alias}.conversation_id AND "
        ));
    push_conversation_visible(sql, actor, "mcv");
    sql.push(")");
}

/// Appends the condition "user `alias` is visible to `actor`": staff see every staff user of
/// their organization and the customer users of contacts they may see; a customer user sees
/// themselves and their contact's consultant.
pub fn push_user_visible(sql: &mut Sql, actor: &Actor, alias: &str) {
    sql.push(&format!("{alias}.organization_id = "))
        .bind(actor.org_id)
        .push(" AND ");
    match actor.kind {
        ActorKind::Staff(_) => {
            sql.push(&format!("({alias}.kind = 'STAFF' OR "));
            contact_visible(sql, actor, &format!("{alias}.contact_id"));
            sql.push(")");
        }
        ActorKind::Customer { contact_id } => {
            sql.push(&format!("({alias}.id = "))
                .bind(actor.user_id)
                .push(&format!(
                    " OR {alias}.id = (SELECT cc.consultant_id FROM contacts cc WHERE cc.organization_id = "
                ))
                .bind(actor.org_id)
                .push(" AND cc.id = ")
                .bind(contact_id)
                .push("))");
        }
    }
}

/// Appends the condition "reminder `alias` is visible to `actor`": a reminder is its user's
/// alone (the rule of `reminders::get_many`).
pub fn push_reminder_visible(sql: &mut Sql, actor: &Actor, alias: &str) {
    sql.push(&format!("{alias}.organization_id = "))
        .bind(actor.org_id)
        .push(&format!(" AND {alias}.user_id = "))
        .bind(actor.user_id);
}

/// The active users among `users` who may read `note`, for telling people about it (a
/// mention). The same rule as [`push_notes_from`] seen from the note's side, so keep the two
/// together: staff who may see the note's contact (owners and admins; members with a grant on
/// it) when the note is shared or their own, and the contact's customer user when it is shared
/// with the customer.
#[tracing::instrument(skip_all, fields(note_id = note.id, count = users.len()), err(level = "debug"))]
pub async fn note_readers<C: ConnectionTrait>(
    db: &C,
    note: &note::Model,
    users: &[i64],
) -> ApiResult<Vec<i64>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT u.id FROM users u WHERE u.organization_id = ")
        .bind(note.organization_id)
        .push(" AND u.active = ")
        .bind(true)
        .push(" AND u.id IN ")
        .bind_list(users.iter().copied())
        .push(
            " AND ((u.kind = 'STAFF' AND (u.role IN ('OWNER', 'ADMIN') OR EXISTS (SELECT 1 \
             FROM contact_collaborators g WHERE g.organization_id = u.organization_id \
             AND g.user_id = u.id AND g.contact_id = ",
        )
        .bind(note.contact_id)
        .push("))");
    if note.visibility == "PRIVATE" {
        sql.push(" AND u.id = ").bind(note.author_id);
    }
    sql.push(")");
    if note.visibility == "CUSTOMER" {
        sql.push(" OR (u.kind = 'CUSTOMER' AND u.contact_id = ")
            .bind(note.contact_id)
            .push(")");
    }
    sql.push(") ORDER BY u.id");
    let rows = db.query_all_raw(sql.build()).await?;
    rows.iter()
        .map(|row| Ok(row.try_get::<i64>("", "id")?))
        .collect()
}
