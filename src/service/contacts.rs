//! Contacts: listing and reading through the access model, and every change to them, each in
//! one transaction with its timeline event.
//!
//! Dependencies run one way: contacts calls down into access (who may see a contact; `get`,
//! `get_many`, `require` and `VisibleContact` are re-exported from there), grants, users,
//! settings and timeline; notes reads a contact's emails and phones here. None of them calls
//! back into contacts.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{contact, contact_address, contact_collaborator, contact_email, contact_phone};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, TransactionSession, TransactionTrait,
};
use serde_json::json;

pub use super::access::{
    VisibleContact, require_contact as require, visible_contact as get,
    visible_contacts as get_many,
};
pub use super::children::{addresses_of, emails_of, phones_of};
use super::{
    IdWindow,
    access::{self, AccessLevel, Resource},
    grants, now, replace_rows,
    settings::{self, Labelled},
    sql::{Sql, like_escape},
    timeline::{self, Audience, EventKind, NewEvent},
    users, validate,
};
use crate::{
    error::{ApiError, ApiResult},
    service::actor::Actor,
};

/// An email address to store on a contact.
#[derive(Clone, Debug)]
pub struct EmailInput {
    /// The address.
    pub email: String,
    /// Optional label ("work").
    pub label: Option<String>,
    /// Whether it is the primary address.
    pub primary: bool,
}

/// A phone number to store on a contact.
#[derive(Clone, Debug)]
pub struct PhoneInput {
    /// The number, with its country code.
    pub number: String,
    /// Optional label ("mobile").
    pub label: Option<String>,
    /// Whether it is the primary number.
    pub primary: bool,
}

/// A postal address to store on a contact.
#[derive(Clone, Debug, Default)]
pub struct AddressInput {
    /// Optional label ("billing").
    pub label: Option<String>,
    /// First line (required).
    pub line1: String,
    /// Second line.
    pub line2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Region, state or province.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Whether it is the primary address.
    pub primary: bool,
}

/// What `createContact` takes.
#[derive(Clone, Debug, Default)]
pub struct CreateContact {
    /// Display name.
    pub name: String,
    /// Email addresses.
    pub emails: Vec<EmailInput>,
    /// Phone numbers.
    pub phones: Vec<PhoneInput>,
    /// Postal addresses.
    pub addresses: Vec<AddressInput>,
    /// The responsible staff user.
    pub consultant_id: Option<i64>,
    /// Custom fields (a JSON object).
    pub custom_fields: Option<serde_json::Value>,
    /// Labels.
    pub label_ids: Vec<i64>,
}

/// What `updateContact` takes: absent fields stay as they are; a given list replaces the
/// stored one whole.
#[derive(Clone, Debug, Default)]
pub struct UpdateContact {
    /// New name.
    pub name: Option<String>,
    /// New email list.
    pub emails: Option<Vec<EmailInput>>,
    /// New phone list.
    pub phones: Option<Vec<PhoneInput>>,
    /// New address list.
    pub addresses: Option<Vec<AddressInput>>,
    /// New consultant; `Some(None)` clears it.
    pub consultant_id: Option<Option<i64>>,
    /// New custom fields (replaces the object).
    pub custom_fields: Option<serde_json::Value>,
    /// New labels (replace).
    pub label_ids: Option<Vec<i64>>,
}

/// The `contacts` filter.
#[derive(Clone, Debug, Default)]
pub struct ContactFilter {
    /// Words matched against name, email addresses and phone numbers.
    pub search: Option<String>,
    /// `true` lists only archived contacts; the default lists only active ones.
    pub archived: bool,
    /// Contacts carrying any of these labels.
    pub label_ids: Vec<i64>,
}

fn push_filter(sql: &mut Sql, filter: &ContactFilter) {
    sql.push(" AND c.archived = ").bind(filter.archived);
    if !filter.label_ids.is_empty() {
        sql.push(" AND EXISTS (SELECT 1 FROM contact_labels cl WHERE cl.contact_id = c.id AND cl.label_id IN ")
            .bind_list(filter.label_ids.iter().copied())
            .push(")");
    }
    let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return;
    };
    let pattern = format!("%{}%", like_escape(&search.to_lowercase()));
    sql.push(" AND (LOWER(c.name) LIKE ")
        .bind(pattern.clone())
        .push(" ESCAPE '\\' OR EXISTS (SELECT 1 FROM contact_emails e WHERE e.contact_id = c.id AND e.email LIKE ")
        .bind(pattern)
        .push(" ESCAPE '\\')");
    let digits: String = search.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 3 {
        sql.push(" OR EXISTS (SELECT 1 FROM contact_phones p WHERE p.contact_id = c.id AND p.number LIKE ")
            .bind(format!("%{digits}%"))
            .push(")");
    }
    sql.push(")");
}

/// One page of the contacts the actor may see, in creation order: `(rows, has_next,
/// has_previous)`.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: &ContactFilter,
    window: IdWindow,
) -> ApiResult<(Vec<VisibleContact>, bool, bool)> {
    access::check_label_filter(actor, &filter.label_ids)?;
    let mut sql = Sql::new(db.get_database_backend());
    Resource::Contact.push_select(&mut sql, actor);
    push_filter(&mut sql, filter);
    window.push(&mut sql, "c.id");
    let rows = db.query_all_raw(sql.build()).await?;
    let rows = rows
        .iter()
        .map(|row| {
            access::with_access(row).map(|(contact, access)| VisibleContact { contact, access })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(window.page(rows))
}

/// How many contacts the actor may see under `filter`.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn count<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: &ContactFilter,
) -> ApiResult<i64> {
    access::check_label_filter(actor, &filter.label_ids)?;
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT COUNT(*) AS n");
    Resource::Contact.push_from(&mut sql, actor);
    push_filter(&mut sql, filter);
    sql.count(db).await
}

struct CleanLists {
    emails: Vec<Point>,
    phones: Vec<Point>,
    addresses: Vec<AddressInput>,
}

/// A cleaned email address or phone number: the value, its label and whether it is primary.
type Point = (String, Option<String>, bool);

/// A contact's email addresses and phone numbers: two lists of one shape (a value, an optional
/// label, one primary entry, no value twice), told apart by how a value is checked.
struct PointList {
    /// The input list's name (`emails`).
    list: &'static str,
    /// The value's key in an entry (`email`).
    key: &'static str,
    /// The entries, as the limit's message names them.
    plural: &'static str,
    /// Checks and normalises one value (`field`, value).
    check: fn(&str, &str) -> ApiResult<String>,
}

const EMAILS: PointList = PointList {
    list: "emails",
    key: "email",
    plural: "email addresses",
    check: validate::email,
};

const PHONES: PointList = PointList {
    list: "phones",
    key: "number",
    plural: "phone numbers",
    check: validate::phone,
};

/// Checks the length of one of a contact's lists (at most 20 `plural`) and its primary flags:
/// at most one, and the first entry when none is.
fn primary_flags(field: &str, plural: &str, flags: &[bool]) -> ApiResult<Vec<bool>> {
    if flags.len() > 20 {
        return Err(ApiError::bad_input(field, format!("at most 20 {plural}")));
    }
    match flags.iter().filter(|p| **p).count() {
        0 => Ok((0..flags.len()).map(|i| i == 0).collect()),
        1 => Ok(flags.to_vec()),
        _ => Err(ApiError::bad_input(
            field,
            "at most one entry may be primary",
        )),
    }
}

/// Cleans a list of email addresses or phone numbers given as (value, label, primary).
fn clean_points(
    prefix: &str,
    kind: &PointList,
    entries: &[(&str, Option<&str>, bool)],
) -> ApiResult<Vec<Point>> {
    let field = format!("{prefix}{}", kind.list);
    let flags = primary_flags(
        &field,
        kind.plural,
        &entries.iter().map(|e| e.2).collect::<Vec<_>>(),
    )?;
    let mut out: Vec<Point> = Vec::new();
    for (i, (&(value, label, _), primary)) in entries.iter().zip(flags).enumerate() {
        let value_field = format!("{field}[{i}].{}", kind.key);
        let value = (kind.check)(&value_field, value)?;
        if out.iter().any(|(v, _, _)| *v == value) {
            return Err(ApiError::bad_input(
                value_field,
                format!("`{value}` is listed twice"),
            ));
        }
        let label = validate::optional(&format!("{field}[{i}].label"), label, 50)?;
        out.push((value, label, primary));
    }
    Ok(out)
}

fn clean_emails(prefix: &str, emails: &[EmailInput]) -> ApiResult<Vec<Point>> {
    let entries: Vec<_> = emails
        .iter()
        .map(|e| (e.email.as_str(), e.label.as_deref(), e.primary))
        .collect();
    clean_points(prefix, &EMAILS, &entries)
}

fn clean_phones(prefix: &str, phones: &[PhoneInput]) -> ApiResult<Vec<Point>> {
    let entries: Vec<_> = phones
        .iter()
        .map(|p| (p.number.as_str(), p.label.as_deref(), p.primary))
        .collect();
    clean_points(prefix, &PHONES, &entries)
}

fn clean_addresses(prefix: &str, addresses: &[AddressInput]) -> ApiResult<Vec<AddressInput>> {
    let field = format!("{prefix}addresses");
    let flags = primary_flags(
        &field,
        "addresses",
        &addresses.iter().map(|a| a.primary).collect::<Vec<_>>(),
    )?;
    addresses
        .iter()
        .zip(flags)
        .enumerate()
        .map(|(i, (a, primary))| {
            let f = |name: &str| format!("{field}[{i}].{name}");
            Ok(AddressInput {
                label: validate::optional(&f("label"), a.label.as_deref(), 50)?,
                line1: validate::name(&f("line1"), &a.line1)?,
                line2: validate::optional(&f("line2"), a.line2.as_deref(), 200)?,
                city: validate::optional(&f("city"), a.city.as_deref(), 100)?,
                region: validate::optional(&f("region"), a.region.as_deref(), 100)?,
                postal_code: validate::optional(&f("postalCode"), a.postal_code.as_deref(), 20)?,
                country: validate::optional(&f("country"), a.country.as_deref(), 100)?,
                primary,
            })
        })
        .collect()
}

async fn replace_emails<C: ConnectionTrait>(
    db: &C,
    org: i64,
    contact_id: i64,
    emails: &[Point],
) -> ApiResult<()> {
    let rows = emails
        .iter()
        .enumerate()
        .map(|(i, (email, label, primary))| contact_email::ActiveModel {
            organization_id: Set(org),
            contact_id: Set(contact_id),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            email: Set(email.clone()),
            label: Set(label.clone()),
            is_primary: Set(*primary),
            ..Default::default()
        })
        .collect();
    let old = contact_email::Entity::delete_many()
        .filter(contact_email::Column::OrganizationId.eq(org))
        .filter(contact_email::Column::ContactId.eq(contact_id));
    replace_rows(db, old, rows).await
}

async fn replace_phones<C: ConnectionTrait>(
    db: &C,
    org: i64,
    contact_id: i64,
    phones: &[Point],
) -> ApiResult<()> {
    let rows = phones
        .iter()
        .enumerate()
        .map(|(i, (number, label, primary))| contact_phone::ActiveModel {
            organization_id: Set(org),
            contact_id: Set(contact_id),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            number: Set(number.clone()),
            label: Set(label.clone()),
            is_primary: Set(*primary),
            ..Default::default()
        })
        .collect();
    let old = contact_phone::Entity::delete_many()
        .filter(contact_phone::Column::OrganizationId.eq(org))
        .filter(contact_phone::Column::ContactId.eq(contact_id));
    replace_rows(db, old, rows).await
}

async fn replace_addresses<C: ConnectionTrait>(
    db: &C,
    org: i64,
    contact_id: i64,
    addresses: &[AddressInput],
) -> ApiResult<()> {
    let rows = addresses
        .iter()
        .enumerate()
        .map(|(i, a)| contact_address::ActiveModel {
            organization_id: Set(org),
            contact_id: Set(contact_id),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            label: Set(a.label.clone()),
            line1: Set(a.line1.clone()),
            line2: Set(a.line2.clone()),
            city: Set(a.city.clone()),
            region: Set(a.region.clone()),
            postal_code: Set(a.postal_code.clone()),
            country: Set(a.country.clone()),
            is_primary: Set(a.primary),
            ..Default::default()
        })
        .collect();
    let old = contact_address::Entity::delete_many()
        .filter(contact_address::Column::OrganizationId.eq(org))
        .filter(contact_address::Column::ContactId.eq(contact_id));
    replace_rows(db, old, rows).await
}

fn clean_lists(
    emails: &[EmailInput],
    phones: &[PhoneInput],
    addresses: &[AddressInput],
) -> ApiResult<CleanLists> {
    Ok(CleanLists {
        emails: clean_emails("input.", emails)?,
        phones: clean_phones("input.", phones)?,
        addresses: clean_addresses("input.", addresses)?,
    })
}

/// Creates a contact with its emails, phones and addresses; the creator gets `ADMIN` on it.
/// Members and admins may create contacts; customer users may not.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    input: CreateContact,
) -> ApiResult<VisibleContact> {
    actor.require_staff("create contacts")?;
    let name = validate::name("input.name", &input.name)?;
    let lists = clean_lists(&input.emails, &input.phones, &input.addresses)?;
    let custom_fields = validate::custom_fields(
        "input.customFields",
        input.custom_fields.unwrap_or_else(|| json!({})),
    )?;
    let txn = db.begin().await?;
    if let Some(consultant) = input.consultant_id {
        users::require_active_staff(&txn, actor, consultant, "input.consultantId").await?;
    }
    let labels =
        settings::require_labels(&txn, actor.org_id, &input.label_ids, "input.labelIds").await?;
    let at = now();
    let row = contact::ActiveModel {
        organization_id: Set(actor.org_id),
        name: Set(name.clone()),
        consultant_id: Set(input.consultant_id),
        custom_fields: Set(custom_fields),
        archived: Set(false),
        archived_at: Set(None),
        created_by: Set(actor.user_id),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    replace_emails(&txn, actor.org_id, row.id, &lists.emails).await?;
    replace_phones(&txn, actor.org_id, row.id, &lists.phones).await?;
    replace_addresses(&txn, actor.org_id, row.id, &lists.addresses).await?;
    settings::set_labels(&txn, Labelled::Contact, actor.org_id, row.id, &labels).await?;
    grants::insert::<contact_collaborator::Model, _>(
        &txn,
        actor,
        row.id,
        actor.user_id,
        AccessLevel::Admin,
        at,
    )
    .await?;
    timeline::record(
        &txn,
        actor,
        NewEvent {
            contact_id: row.id,
            kind: EventKind::ContactCreated,
            subject_kind: "Contact",
            subject_id: row.id,
            summary: format!("{} created the contact {}", actor.name, name),
            data: json!({}),
            audience: Audience::Team,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(VisibleContact {
        contact: row,
        access: AccessLevel::Admin,
    })
}

/// Updates a contact's fields; needs `WRITE`. Writes a `CONTACT_UPDATED` event naming the
/// fields that changed (none when nothing did).
#[tracing::instrument(skip_all, fields(contact_id = id), err(level = "debug"))]
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    input: UpdateContact,
) -> ApiResult<VisibleContact> {
    let name = input
        .name
        .as_deref()
        .map(|n| validate::name("input.name", n))
        .transpose()?;
    let emails = input
        .emails
        .as_deref()
        .map(|e| clean_emails("input.", e))
        .transpose()?;
    let phones = input
        .phones
        .as_deref()
        .map(|p| clean_phones("input.", p))
        .transpose()?;
    let addresses = input
        .addresses
        .as_deref()
        .map(|a| clean_addresses("input.", a))
        .transpose()?;
    let custom_fields = input
        .custom_fields
        .map(|c| validate::custom_fields("input.customFields", c))
        .transpose()?;
    let txn = db.begin().await?;
    let visible = require(&txn, actor, id, AccessLevel::Write, "editing a contact").await?;
    if let Some(Some(consultant)) = input.consultant_id {
        users::require_active_staff(&txn, actor, consultant, "input.consultantId").await?;
    }
    let labels = match input.label_ids.as_deref() {
        Some(ids) => {
            Some(settings::require_labels(&txn, actor.org_id, ids, "input.labelIds").await?)
        }
        None => None,
    };
    let mut changed = Vec::new();
    let mut row = visible.contact.clone().into_active_model();
    if let Some(name) = name.filter(|n| *n != visible.contact.name) {
        row.name = Set(name);
        changed.push("name");
    }
    if let Some(consultant) = input
        .consultant_id
        .filter(|c| *c != visible.contact.consultant_id)
    {
        row.consultant_id = Set(consultant);
        changed.push("consultant");
    }
    if let Some(fields) = custom_fields.filter(|f| *f != visible.contact.custom_fields) {
        row.custom_fields = Set(fields);
        changed.push("customFields");
    }
    if let Some(emails) = &emails {
        replace_emails(&txn, actor.org_id, id, emails).await?;
        changed.push("emails");
    }
    if let Some(phones) = &phones {
        replace_phones(&txn, actor.org_id, id, phones).await?;
        changed.push("phones");
    }
    if let Some(addresses) = &addresses {
        replace_addresses(&txn, actor.org_id, id, addresses).await?;
        changed.push("addresses");
    }
    if let Some(labels) = &labels {
        settings::set_labels(&txn, Labelled::Contact, actor.org_id, id, labels).await?;
        changed.push("labels");
    }
    if changed.is_empty() {
        txn.commit().await?;
        return Ok(visible);
    }
    row.updated_at = Set(now());
    let row = row.update(&txn).await?;
    timeline::record(
        &txn,
        actor,
        NewEvent {
            contact_id: id,
            kind: EventKind::ContactUpdated,
            subject_kind: "Contact",
            subject_id: id,
            summary: format!(
                "{} updated {} of {}",
                actor.name,
                changed.join(", "),
                row.name
            ),
            data: json!({ "fields": changed }),
            audience: Audience::Team,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(VisibleContact {
        contact: row,
        access: visible.access,
    })
}

/// Archives (`true`) or unarchives (`false`) a contact; needs `WRITE`. Archiving an archived
/// contact changes nothing and writes no event.
#[tracing::instrument(skip_all, fields(contact_id = id, archived = archived), err(level = "debug"))]
pub async fn set_archived<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    archived: bool,
) -> ApiResult<VisibleContact> {
    let what = if archived {
        "archiving a contact"
    } else {
        "unarchiving a contact"
    };
    let txn = db.begin().await?;
    let visible = require(&txn, actor, id, AccessLevel::Write, what).await?;
    if visible.contact.archived == archived {
        txn.commit().await?;
        return Ok(visible);
    }
    let at: DateTime<Utc> = now();
    let mut row = visible.contact.clone().into_active_model();
    row.archived = Set(archived);
    row.archived_at = Set(archived.then_some(at));
    row.updated_at = Set(at);
    let row = row.update(&txn).await?;
    let (kind, verb) = if archived {
        (EventKind::ContactArchived, "archived")
    } else {
        (EventKind::ContactUnarchived, "unarchived")
    };
    timeline::record(
        &txn,
        actor,
        NewEvent {
            contact_id: id,
            kind,
            subject_kind: "Contact",
            subject_id: id,
            summary: format!("{} {verb} {}", actor.name, row.name),
            data: json!({}),
            audience: Audience::Team,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(VisibleContact {
        contact: row,
        access: visible.access,
    })
}

/// The labels of the given contacts (already visible to the caller), by contact, by name.
#[tracing::instrument(skip_all, fields(count = contact_ids.len()), err(level = "debug"))]
pub async fn labels_of<C: ConnectionTrait>(
    db: &C,
    org: i64,
    contact_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<entity::label::Model>>> {
    settings::labels_of(db, Labelled::Contact, org, contact_ids).await
}
