//! Per-organization settings: task types, outcomes, labels and message templates. Staff users
//! of the organization may read them (customer users may not: they are the organization's
//! internal working vocabulary, `FORBIDDEN`); owners and admins change them. Which labels a
//! contact or a note carries is stored here too ([`set_labels`], [`labels_of`]).
//!
//! Dependencies run one way: contacts, notes and planning call down into this module; it uses
//! only validate and the SQL builder.

use std::collections::HashMap;

use entity::{label, message_template, outcome, task, task_type};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    FromQueryResult, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder,
};

use super::{now, sql::Sql, validate};
use crate::{
    error::{ApiError, ApiResult},
    service::actor::Actor,
};

/// The answer to a second setting of one kind with the same name (the tables' unique keys).
fn duplicate(what: &str, name: &str) -> impl FnOnce(DbErr) -> ApiError {
    ApiError::conflict_on_duplicate(format!("a {what} named `{name}` already exists"))
}

/// What a task type is made of.
#[derive(Clone, Debug, Default)]
pub struct TaskTypeInput {
    /// Display name.
    pub name: Option<String>,
    /// The type `CONTINUE` suggests for the follow-up; `Some(None)` clears it.
    pub next_type_id: Option<Option<i64>>,
    /// Minutes after completion for the suggested follow-up; `Some(None)` clears it.
    pub next_delay_minutes: Option<Option<i32>>,
}

/// The organization's task types, by name (staff only).
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn task_types<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
) -> ApiResult<Vec<task_type::Model>> {
    actor.require_staff("read the organization's task types")?;
    Ok(task_type::Entity::find()
        .filter(task_type::Column::OrganizationId.eq(actor.org_id))
        .order_by_asc(task_type::Column::Name)
        .all(db)
        .await?)
}

/// One task type of the actor's organization, or `NOT_FOUND`.
#[tracing::instrument(skip_all, fields(task_type_id = id), err(level = "debug"))]
pub async fn task_type<C: ConnectionTrait>(
    db: &C,
    org: i64,
    id: i64,
) -> ApiResult<task_type::Model> {
    task_type::Entity::find_by_id(id)
        .filter(task_type::Column::OrganizationId.eq(org))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("TaskType"))
}

fn delay(field: &str, minutes: Option<i32>) -> ApiResult<Option<i32>> {
    match minutes {
        Some(m) if !(0..=525_600).contains(&m) => Err(ApiError::bad_input(
            field,
            "must be between 0 and 525600 minutes (a year)",
        )),
        other => Ok(other),
    }
}

/// Creates or updates (`id`) a task type; owners and admins only.
#[tracing::instrument(skip_all, fields(task_type_id = ?id), err(level = "debug"))]
pub async fn save_task_type<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Option<i64>,
    input: TaskTypeInput,
) -> ApiResult<task_type::Model> {
    actor.require_org_admin("change task types")?;
    let name = input
        .name
        .as_deref()
        .map(|n| validate::name("input.name", n))
        .transpose()?;
    let next_delay = input
        .next_delay_minutes
        .map(|d| delay("input.nextDelayMinutes", d))
        .transpose()?;
    if let Some(Some(next)) = input.next_type_id {
        task_type(db, actor.org_id, next).await?;
    }
    let mut row = match id {
        Some(id) => task_type(db, actor.org_id, id).await?.into_active_model(),
        None => task_type::ActiveModel {
            organization_id: Set(actor.org_id),
            created_at: Set(now()),
            name: Set(name
                .clone()
                .ok_or_else(|| ApiError::bad_input("input.name", "is required"))?),
            ..Default::default()
        },
    };
    if let Some(name) = &name {
        row.name = Set(name.clone());
    }
    if let Some(next) = input.next_type_id {
        row.next_type_id = Set(next);
    }
    if let Some(delay) = next_delay {
        row.next_delay_minutes = Set(delay);
    }
    let label = name.unwrap_or_default();
    match id {
        Some(_) => row.update(db).await.map_err(duplicate("task type", &label)),
        None => row.insert(db).await.map_err(duplicate("task type", &label)),
    }
}

/// Deletes a task type; tasks and notes of that type keep existing without a type.
#[tracing::instrument(skip_all, fields(task_type_id = id), err(level = "debug"))]
pub async fn delete_task_type<C: ConnectionTrait>(db: &C, actor: &Actor, id: i64) -> ApiResult<()> {
    actor.require_org_admin("change task types")?;
    let row = task_type(db, actor.org_id, id).await?;
    task_type::Entity::delete_by_id(row.id).exec(db).await?;
    Ok(())
}

/// The organization's outcomes, oldest first (the seeded ones lead; staff only).
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn outcomes<C: ConnectionTrait>(db: &C, actor: &Actor) -> ApiResult<Vec<outcome::Model>> {
    actor.require_staff("read the organization's outcomes")?;
    Ok(outcome::Entity::find()
        .filter(outcome::Column::OrganizationId.eq(actor.org_id))
        .order_by_asc(outcome::Column::Id)
        .all(db)
        .await?)
}

/// One outcome of the organization, or `NOT_FOUND`.
#[tracing::instrument(skip_all, fields(outcome_id = id), err(level = "debug"))]
pub async fn outcome<C: ConnectionTrait>(db: &C, org: i64, id: i64) -> ApiResult<outcome::Model> {
    outcome::Entity::find_by_id(id)
        .filter(outcome::Column::OrganizationId.eq(org))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Outcome"))
}

/// Creates or renames (`id`) an outcome; owners and admins only.
#[tracing::instrument(skip_all, fields(outcome_id = ?id), err(level = "debug"))]
pub async fn save_outcome<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Option<i64>,
    name: &str,
) -> ApiResult<outcome::Model> {
    actor.require_org_admin("change outcomes")?;
    let name = validate::name("input.name", name)?;
    let mut row = match id {
        Some(id) => outcome(db, actor.org_id, id).await?.into_active_model(),
        None => outcome::ActiveModel {
            organization_id: Set(actor.org_id),
            code: Set(None),
            created_at: Set(now()),
            ..Default::default()
        },
    };
    row.name = Set(name.clone());
    match id {
        Some(_) => row.update(db).await.map_err(duplicate("outcome", &name)),
        None => row.insert(db).await.map_err(duplicate("outcome", &name)),
    }
}

/// Deletes an outcome no task was completed with; one in use answers `CONFLICT` (rename it
/// instead), so task history keeps its outcomes.
#[tracing::instrument(skip_all, fields(outcome_id = id), err(level = "debug"))]
pub async fn delete_outcome<C: ConnectionTrait>(db: &C, actor: &Actor, id: i64) -> ApiResult<()> {
    actor.require_org_admin("change outcomes")?;
    let row = outcome(db, actor.org_id, id).await?;
    let used = task::Entity::find()
        .filter(task::Column::OrganizationId.eq(actor.org_id))
        .filter(task::Column::OutcomeId.eq(row.id))
        .count(db)
        .await?;
    if used > 0 {
        return Err(ApiError::conflict(format!(
            "{used} task(s) were completed with `{}`; rename the outcome instead",
            row.name
        )));
    }
    outcome::Entity::delete_by_id(row.id).exec(db).await?;
    Ok(())
}

/// The organization's labels, by name (staff only).
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn labels<C: ConnectionTrait>(db: &C, actor: &Actor) -> ApiResult<Vec<label::Model>> {
    actor.require_staff("read the organization's labels")?;
    Ok(label::Entity::find()
        .filter(label::Column::OrganizationId.eq(actor.org_id))
        .order_by_asc(label::Column::Name)
        .all(db)
        .await?)
}

fn color(field: &str, value: Option<&str>) -> ApiResult<Option<String>> {
    match value.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c)
            if c.len() == 7
                && c.starts_with('#')
                && c[1..].chars().all(|h| h.is_ascii_hexdigit()) =>
        {
            Ok(Some(c.to_lowercase()))
        }
        Some(c) => Err(ApiError::bad_input(
            field,
            format!("`{c}` is not a color such as #1f6feb"),
        )),
    }
}

/// Creates or updates (`id`) a label; owners and admins only.
#[tracing::instrument(skip_all, fields(label_id = ?id), err(level = "debug"))]
pub async fn save_label<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Option<i64>,
    name: Option<&str>,
    new_color: Option<Option<&str>>,
) -> ApiResult<label::Model> {
    actor.require_org_admin("change labels")?;
    let name = name.map(|n| validate::name("input.name", n)).transpose()?;
    let new_color = new_color.map(|c| color("input.color", c)).transpose()?;
    let mut row = match id {
        Some(id) => label::Entity::find_by_id(id)
            .filter(label::Column::OrganizationId.eq(actor.org_id))
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("Label"))?
            .into_active_model(),
        None => label::ActiveModel {
            organization_id: Set(actor.org_id),
            name: Set(name
                .clone()
                .ok_or_else(|| ApiError::bad_input("input.name", "is required"))?),
            color: Set(None),
            created_at: Set(now()),
            ..Default::default()
        },
    };
    if let Some(name) = &name {
        row.name = Set(name.clone());
    }
    if let Some(c) = new_color {
        row.color = Set(c);
    }
    let shown = name.unwrap_or_default();
    match id {
        Some(_) => row.update(db).await.map_err(duplicate("label", &shown)),
        None => row.insert(db).await.map_err(duplicate("label", &shown)),
    }
}

/// Deletes a label; notes lose it.
#[tracing::instrument(skip_all, fields(label_id = id), err(level = "debug"))]
pub async fn delete_label<C: ConnectionTrait>(db: &C, actor: &Actor, id: i64) -> ApiResult<()> {
    actor.require_org_admin("change labels")?;
    let deleted = label::Entity::delete_many()
        .filter(label::Column::OrganizationId.eq(actor.org_id))
        .filter(label::Column::Id.eq(id))
        .exec(db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(ApiError::NotFound("Label"));
    }
    Ok(())
}

/// The organization's message templates, by name (staff only).
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn templates<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
) -> ApiResult<Vec<message_template::Model>> {
    actor.require_staff("read the organization's message templates")?;
    Ok(message_template::Entity::find()
        .filter(message_template::Column::OrganizationId.eq(actor.org_id))
        .order_by_asc(message_template::Column::Name)
        .all(db)
        .await?)
}

/// One template of the organization, or `NOT_FOUND`.
#[tracing::instrument(skip_all, fields(template_id = id), err(level = "debug"))]
pub async fn template<C: ConnectionTrait>(
    db: &C,
    org: i64,
    id: i64,
) -> ApiResult<message_template::Model> {
    message_template::Entity::find_by_id(id)
        .filter(message_template::Column::OrganizationId.eq(org))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("MessageTemplate"))
}

/// What a message template is made of.
#[derive(Clone, Debug, Default)]
pub struct TemplateInput {
    /// Display name.
    pub name: Option<String>,
    /// Subject; `Some(None)` clears it.
    pub subject: Option<Option<String>>,
    /// Body.
    pub body: Option<String>,
}

/// Creates or updates (`id`) a message template; owners and admins only.
#[tracing::instrument(skip_all, fields(template_id = ?id), err(level = "debug"))]
pub async fn save_template<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Option<i64>,
    input: TemplateInput,
) -> ApiResult<message_template::Model> {
    actor.require_org_admin("change message templates")?;
    let name = input
        .name
        .as_deref()
        .map(|n| validate::name("input.name", n))
        .transpose()?;
    let subject = input
        .subject
        .map(|s| validate::subject("input.subject", s.as_deref()))
        .transpose()?;
    let body = input
        .body
        .as_deref()
        .map(|b| validate::body("input.body", Some(b)))
        .transpose()?;
    let at = now();
    let mut row = match id {
        Some(id) => template(db, actor.org_id, id).await?.into_active_model(),
        None => message_template::ActiveModel {
            organization_id: Set(actor.org_id),
            name: Set(name
                .clone()
                .ok_or_else(|| ApiError::bad_input("input.name", "is required"))?),
            subject: Set(None),
            body: Set(String::new()),
            created_at: Set(at),
            ..Default::default()
        },
    };
    if let Some(name) = &name {
        row.name = Set(name.clone());
    }
    if let Some(subject) = subject {
        row.subject = Set(subject);
    }
    if let Some(body) = body {
        row.body = Set(body.unwrap_or_default());
    }
    row.updated_at = Set(at);
    let shown = name.unwrap_or_default();
    match id {
        Some(_) => row
            .update(db)
            .await
            .map_err(duplicate("message template", &shown)),
        None => row
            .insert(db)
            .await
            .map_err(duplicate("message template", &shown)),
    }
}

/// Deletes a message template; notes written from it keep their text.
#[tracing::instrument(skip_all, fields(template_id = id), err(level = "debug"))]
pub async fn delete_template<C: ConnectionTrait>(db: &C, actor: &Actor, id: i64) -> ApiResult<()> {
    actor.require_org_admin("change message templates")?;
    let row = template(db, actor.org_id, id).await?;
    message_template::Entity::delete_by_id(row.id)
        .exec(db)
        .await?;
    Ok(())
}

/// Checks that every id is a label of the organization (`NOT_FOUND` otherwise) and returns
/// them sorted and deduplicated; `field` names the list in errors.
pub async fn require_labels<C: ConnectionTrait>(
    db: &C,
    org: i64,
    ids: &[i64],
    field: &str,
) -> ApiResult<Vec<i64>> {
    let mut ids: Vec<i64> = require_label_rows(db, org, ids, field)
        .await?
        .iter()
        .map(|l| l.id)
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Checks the labels as [`require_labels`] does and returns their rows, by name (as
/// [`labels_of`] lists a record's labels), for a write that answers with what it wrote.
pub async fn require_label_rows<C: ConnectionTrait>(
    db: &C,
    org: i64,
    ids: &[i64],
    field: &str,
) -> ApiResult<Vec<label::Model>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > 50 {
        return Err(ApiError::bad_input(field, "at most 50 labels"));
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Ordered in SQL, so the database's collation orders them as `labels_of` does.
    let found = label::Entity::find()
        .filter(label::Column::OrganizationId.eq(org))
        .filter(label::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(label::Column::Name)
        .all(db)
        .await?;
    if found.len() != ids.len() {
        return Err(ApiError::NotFound("Label"));
    }
    Ok(found)
}

/// The records that carry labels, each kind with its own table of links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Labelled {
    /// Contacts (`contact_labels`).
    Contact,
    /// Notes (`note_labels`).
    Note,
}

impl Labelled {
    /// The table of links and its column naming the record.
    fn table_and_column(self) -> (&'static str, &'static str) {
        match self {
            Self::Contact => ("contact_labels", "contact_id"),
            Self::Note => ("note_labels", "note_id"),
        }
    }
}

/// Replaces the labels of record `record_id` with `ids` (checked by [`require_labels`]), on
/// the caller's transaction.
pub async fn set_labels<C: ConnectionTrait>(
    db: &C,
    on: Labelled,
    org: i64,
    record_id: i64,
    ids: &[i64],
) -> ApiResult<()> {
    let (table, column) = on.table_and_column();
    let mut delete = Sql::new(db.get_database_backend());
    delete
        .push(&format!("DELETE FROM {table} WHERE organization_id = "))
        .bind(org)
        .push(&format!(" AND {column} = "))
        .bind(record_id);
    db.execute_raw(delete.build()).await?;
    add_labels(db, on, org, record_id, ids).await
}

/// Gives record `record_id` the labels `ids` (checked by [`require_labels`]) on the caller's
/// transaction, for a record written on it that has none yet (nothing to replace).
pub async fn add_labels<C: ConnectionTrait>(
    db: &C,
    on: Labelled,
    org: i64,
    record_id: i64,
    ids: &[i64],
) -> ApiResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let (table, column) = on.table_and_column();
    let mut insert = Sql::new(db.get_database_backend());
    insert.push(&format!(
        "INSERT INTO {table} ({column}, label_id, organization_id) VALUES "
    ));
    for (i, label_id) in ids.iter().enumerate() {
        if i > 0 {
            insert.push(", ");
        }
        insert
            .push("(")
            .bind(record_id)
            .push(", ")
            .bind(*label_id)
            .push(", ")
            .bind(org)
            .push(")");
    }
    db.execute_raw(insert.build()).await?;
    Ok(())
}

/// The labels of the given records (already visible to the caller), by record, by name.
pub async fn labels_of<C: ConnectionTrait>(
    db: &C,
    on: Labelled,
    org: i64,
    ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<label::Model>>> {
    let (table, column) = on.table_and_column();
    let mut sql = Sql::new(db.get_database_backend());
    sql.push(&format!(
        "SELECT x.{column} AS owner_id, l.id, l.organization_id, l.name, l.color, l.created_at \
         FROM {table} x JOIN labels l ON l.id = x.label_id WHERE x.organization_id = "
    ))
    .bind(org)
    .push(&format!(" AND x.{column} IN "))
    .bind_list(ids.iter().copied())
    .push(" ORDER BY l.name");
    let mut map: HashMap<i64, Vec<label::Model>> = HashMap::new();
    for row in db.query_all_raw(sql.build()).await? {
        let owner: i64 = row.try_get("", "owner_id")?;
        map.entry(owner)
            .or_default()
            .push(label::Model::from_query_result(&row, "")?);
    }
    Ok(map)
}

/// The task types among `ids` of the organization.
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn types_of<C: ConnectionTrait>(
    db: &C,
    org: i64,
    ids: &[i64],
) -> ApiResult<HashMap<i64, task_type::Model>> {
    Ok(task_type::Entity::find()
        .filter(task_type::Column::OrganizationId.eq(org))
        .filter(task_type::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect())
}

/// The outcomes among `ids` of the organization.
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn outcomes_of<C: ConnectionTrait>(
    db: &C,
    org: i64,
    ids: &[i64],
) -> ApiResult<HashMap<i64, outcome::Model>> {
    Ok(outcome::Entity::find()
        .filter(outcome::Column::OrganizationId.eq(org))
        .filter(outcome::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect())
}

/// The message templates among `ids` of the organization.
#[tracing::instrument(skip_all, fields(count = ids.len()), err(level = "debug"))]
pub async fn templates_of<C: ConnectionTrait>(
    db: &C,
    org: i64,
    ids: &[i64],
) -> ApiResult<HashMap<i64, message_template::Model>> {
    Ok(message_template::Entity::find()
        .filter(message_template::Column::OrganizationId.eq(org))
        .filter(message_template::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect())
}
