//! Notes: written about a contact, optionally attached to a record elsewhere, private to their
//! author, shared with the team, or shared with the contact's customer user too.
//!
//! Dependencies run one way: notes calls down into access (who may see or change a note; `get`,
//! `get_many` and `require_editable` are re-exported from there), attachments (a note's files),
//! planning (a note's task), reminders, settings, contacts, timeline and notifications (the
//! users a note mentions). Tasks calls notes (a completion's closing note); nothing below calls
//! back into notes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{contact, label, note, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    FromQueryResult, IntoActiveModel, QueryFilter, TransactionSession, TransactionTrait,
};
use serde_json::json;

use super::{
    Page,
    access::{self, AccessLevel, Resource, VisibleContact},
    contacts, notifications, now, planning,
    reminders::{self, RemindOf},
    settings::{self, Labelled},
    sql::{Sql, joined, push_columns},
    timeline::{self, Audience, EventKind, Events, NewEvent},
    validate,
};
pub use super::{
    access::{
        require_editable_note as require_editable, visible_note as get, visible_notes as get_many,
    },
    timeline::title_of,
};
use crate::{
    error::{ApiError, ApiResult},
    service::actor::Actor,
};

/// Who may read a note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Visibility {
    /// Its author only.
    Private,
    /// Everyone with read access to the contact.
    Team,
    /// Also the contact's customer user.
    Customer,
}

impl Visibility {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }

    /// The timeline audience of a note with this visibility by `author`.
    pub fn audience(self, author: i64) -> Audience {
        match self {
            Self::Private => Audience::Private(author),
            Self::Team => Audience::Team,
            Self::Customer => Audience::Customer,
        }
    }
}

/// A record elsewhere (an order, a product, a booking...) a note is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachedTo {
    /// Its kind, such as `order`.
    pub kind: String,
    /// Its id in the system it lives in.
    pub id: String,
}

/// What `createNote` takes.
#[derive(Clone, Debug, Default)]
pub struct CreateNote {
    /// The contact.
    pub contact_id: i64,
    /// Subject line.
    pub subject: Option<String>,
    /// Plain-text body.
    pub body: Option<String>,
    /// HTML body; sanitised before it is stored.
    pub body_html: Option<String>,
    /// Who may read it (default `TEAM`).
    pub visibility: Option<Visibility>,
    /// Labels.
    pub label_ids: Vec<i64>,
    /// Task type.
    pub type_id: Option<i64>,
    /// A template that fills the subject and body not given.
    pub template_id: Option<i64>,
    /// A record elsewhere.
    pub attached_to: Option<AttachedTo>,
    /// A task to create with the note.
    pub task: Option<planning::CreateTask>,
    /// A reminder for the author.
    pub remind_at: Option<DateTime<Utc>>,
    /// Files already in storage, to record on the note.
    pub attachments: super::attachments::Uploads,
}

/// What `updateNote` takes; absent fields stay as they are.
#[derive(Clone, Debug, Default)]
pub struct UpdateNote {
    /// New subject; `Some(None)` clears it.
    pub subject: Option<Option<String>>,
    /// New body.
    pub body: Option<String>,
    /// New HTML body; `Some(None)` clears it.
    pub body_html: Option<Option<String>>,
    /// New visibility.
    pub visibility: Option<Visibility>,
    /// New labels (replace).
    pub label_ids: Option<Vec<i64>>,
    /// New type; `Some(None)` clears it.
    pub type_id: Option<Option<i64>>,
    /// New attachment target; `Some(None)` clears it.
    pub attached_to: Option<Option<AttachedTo>>,
}

/// The `notes` filter.
#[derive(Clone, Debug, Default)]
pub struct NoteFilter {
    /// Notes of this contact.
    pub contact_id: Option<i64>,
    /// Notes by this author.
    pub author_id: Option<i64>,
    /// Notes carrying any of these labels.
    pub label_ids: Vec<i64>,
    /// Notes of this visibility.
    pub visibility: Option<Visibility>,
    /// Words, each matched as a word prefix in the subject and body (full-text index).
    pub search: Option<String>,
    /// Notes attached to this record.
    pub attached_to: Option<AttachedTo>,
}

/// The words of a search, for the full-text index: letters and digits only, so nothing the
/// user types can reach the index's query syntax.
fn search_terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(str::to_lowercase)
        .collect()
}

fn push_filter(sql: &mut Sql, filter: &NoteFilter) {
    if let Some(contact) = filter.contact_id {
        sql.push(" AND n.contact_id = ").bind(contact);
    }
    if let Some(author) = filter.author_id {
        sql.push(" AND n.author_id = ").bind(author);
    }
    if let Some(visibility) = filter.visibility {
        sql.push(" AND n.visibility = ").bind(visibility.as_str());
    }
    if let Some(target) = &filter.attached_to {
        sql.push(" AND n.attached_kind = ")
            .bind(target.kind.clone())
            .push(" AND n.attached_id = ")
            .bind(target.id.clone());
    }
    if !filter.label_ids.is_empty() {
        sql.push(
            " AND EXISTS (SELECT 1 FROM note_labels nl WHERE nl.note_id = n.id AND nl.label_id IN ",
        )
        .bind_list(filter.label_ids.iter().copied())
        .push(")");
    }
    let terms = filter
        .search
        .as_deref()
        .map(search_terms)
        .unwrap_or_default();
    if !terms.is_empty() {
        if sql.backend() == DbBackend::Postgres {
            let query = terms
                .iter()
                .map(|t| format!("{t}:*"))
                .collect::<Vec<_>>()
                .join(" & ");
            sql.push(" AND n.search @@ to_tsquery('simple', ")
                .bind(query)
                .push(")");
        } else {
            let query = terms
                .iter()
                .map(|t| format!("\"{t}\"*"))
                .collect::<Vec<_>>()
                .join(" ");
            sql.push(" AND n.id IN (SELECT rowid FROM notes_fts WHERE notes_fts MATCH ")
                .bind(query)
                .push(")");
        }
    }
}

/// What a notes page reads about its notes in its own statement, beside the notes (what the
/// page's fields show, so that they need no statements of their own).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoteJoins {
    /// Each note's author, a user the caller may see.
    pub author: bool,
    /// Each note's contact, with the caller's access to it.
    pub contact: bool,
}

/// A note of a notes page, with what [`NoteJoins`] asked to read with it: `None` means not
/// read (load it separately), `Some(None)` that there is none the caller may see.
#[derive(Clone, Debug)]
pub struct NoteRow {
    /// The note.
    pub note: note::Model,
    /// Its author, a user the caller may see.
    pub author: Option<Option<user::Model>>,
    /// Its contact (visible, since the note is), with the caller's access to it.
    pub contact: Option<Option<VisibleContact>>,
}

/// Column prefixes of the rows a notes page reads with its notes.
const AUTHOR: &str = "u__";
const CONTACT: &str = "c__";

/// One page of the notes the actor may see, newest first, before row id `after`, with the
/// related rows `joins` asks for, all in one statement: the page is chosen first (the access
/// rule, filter, search and order of the plain list), then only its rows are joined to their
/// authors and contacts, each join under its table's own access rule (the user loader's
/// [`access::push_user_visible`], the contact loader's [`access::Resource::push_left_join`]),
/// so that a row the caller may not see reads as none.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: &NoteFilter,
    after: Option<i64>,
    limit: u64,
    joins: NoteJoins,
) -> ApiResult<Page<NoteRow>> {
    access::check_label_filter(actor, &filter.label_ids)?;
    let mut sql = Sql::new(db.get_database_backend());
    let wrapped = joins.author || joins.contact;
    if wrapped {
        sql.push("SELECT p.*");
        if joins.author {
            push_columns::<user::Entity>(&mut sql, "u", AUTHOR);
        }
        if joins.contact {
            push_columns::<contact::Entity>(&mut sql, "c", CONTACT);
            sql.push(&format!(
                ", {} AS contact_access",
                Resource::level(actor, "g")
            ));
        }
        sql.push(" FROM (");
    }
    access::push_note_select(&mut sql, actor);
    push_filter(&mut sql, filter);
    if let Some(after) = after {
        sql.push(" AND n.id < ").bind(after);
    }
    sql.push(" ORDER BY n.id DESC").limit(limit + 1);
    if wrapped {
        sql.push(") p");
        if joins.author {
            sql.push(" LEFT JOIN users u ON u.id = p.author_id AND ");
            access::push_user_visible(&mut sql, actor, "u");
        }
        if joins.contact {
            Resource::Contact.push_left_join(&mut sql, actor, "p.contact_id", "c", "g");
        }
        sql.push(" ORDER BY p.id DESC");
    }
    let mut rows = Vec::new();
    for row in db.query_all_raw(sql.build()).await? {
        let author = if joins.author {
            Some(joined::<user::Model>(&row, AUTHOR)?)
        } else {
            None
        };
        let contact = if joins.contact {
            Some(match joined::<contact::Model>(&row, CONTACT)? {
                Some(contact) => {
                    let text: String = row.try_get("", "contact_access")?;
                    let access = AccessLevel::parse(&text).ok_or_else(|| {
                        ApiError::Internal(format!("unknown access level {text}"))
                    })?;
                    Some(VisibleContact { contact, access })
                }
                None => None,
            })
        } else {
            None
        };
        rows.push(NoteRow {
            note: note::Model::from_query_result(&row, "")?,
            author,
            contact,
        });
    }
    Ok(Page::from_fetched(rows, limit))
}

/// How many notes the actor may see under `filter`.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn count<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: &NoteFilter,
) -> ApiResult<i64> {
    access::check_label_filter(actor, &filter.label_ids)?;
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT COUNT(*) AS n");
    access::push_notes_from(&mut sql, actor);
    push_filter(&mut sql, filter);
    sql.count(db).await
}

/// The labels of the given notes, by note.
#[tracing::instrument(skip_all, fields(count = note_ids.len()), err(level = "debug"))]
pub async fn labels_of<C: ConnectionTrait>(
    db: &C,
    org: i64,
    note_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<label::Model>>> {
    settings::labels_of(db, Labelled::Note, org, note_ids).await
}

/// Sanitises note HTML with ammonia: no scripts, no event handlers, no `javascript:` URLs;
/// links get `rel="noopener noreferrer"`. Images keep their source only when it is one of the
/// gateway's own attachments (`/attachments/...`): a remote image would load from a third party
/// whenever the note is shown (a tracking pixel on notes shared with customers), so its `src` is
/// dropped, for every visibility, because a note's visibility can change after it is written.
pub fn sanitize_html(html: &str) -> String {
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer"))
        .attribute_filter(|element, attribute, value| {
            if element == "img" && attribute == "src" && !is_own_attachment_url(value) {
                return None;
            }
            Some(value.into())
        })
        .clean(html)
        .to_string()
}

/// Whether an image source points at the gateway's own attachment download route (a path on
/// this origin, not a protocol-relative `//host/...` URL).
fn is_own_attachment_url(src: &str) -> bool {
    src.trim()
        .strip_prefix("/attachments/")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains("//") && !rest.contains('\\'))
}

/// The instance setting that records that the notes' stored HTML went through the sanitiser
/// that drops remote image sources (notes written before kept them).
pub const HTML_RECLEANED_SETTING: &str = "notes_html_recleaned_remote_images";

/// How many notes one query of [`reclean_stored_html`] reads.
const RECLEAN_BATCH: u64 = 200;

/// Runs the stored `notes.body_html` that holds images through [`sanitize_html`] again, in
/// batches by id, and returns how many notes changed. A note changes only if its HTML is still
/// the one read (a concurrent edit wins), and nothing else of the row is touched. Sanitising
/// twice gives the same HTML, so running it again (or from two processes at once) changes
/// nothing more.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn reclean_stored_html<C: ConnectionTrait>(db: &C) -> ApiResult<u64> {
    let backend = db.get_database_backend();
    let mut after = 0i64;
    let mut changed = 0u64;
    loop {
        let mut sql = Sql::new(backend);
        sql.push("SELECT n.id, n.body_html FROM notes n WHERE n.id > ")
            .bind(after)
            .push(" AND n.body_html LIKE '%<img%' ORDER BY n.id")
            .limit(RECLEAN_BATCH);
        let rows = db.query_all_raw(sql.build()).await?;
        for row in &rows {
            let id: i64 = row.try_get("", "id")?;
            let html: String = row.try_get("", "body_html")?;
            after = id;
            let clean = sanitize_html(&html);
            if clean == html {
                continue;
            }
            let mut update = Sql::new(backend);
            update
                .push("UPDATE notes SET body_html = ")
                .bind(clean)
                .push(" WHERE id = ")
                .bind(id)
                .push(" AND body_html = ")
                .bind(html);
            changed += db.execute_raw(update.build()).await?.rows_affected();
        }
        if (rows.len() as u64) < RECLEAN_BATCH {
            break;
        }
    }
    Ok(changed)
}

/// Runs [`reclean_stored_html`] once per database, at start-up after the migrations: skipped
/// when [`HTML_RECLEANED_SETTING`] says it has run. Gateways starting at once may both run it,
/// which is harmless.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn reclean_stored_html_once<C: ConnectionTrait>(db: &C) -> ApiResult<Option<u64>> {
    if crate::db::setting(db, HTML_RECLEANED_SETTING)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let changed = reclean_stored_html(db).await?;
    crate::db::setting_or_insert(db, HTML_RECLEANED_SETTING, || now().to_rfc3339()).await?;
    if changed > 0 {
        tracing::info!(changed, "removed remote image sources from stored notes");
    }
    Ok(Some(changed))
}

/// Fills `{{contact.name}}`, `{{contact.email}}`, `{{contact.phone}}`, `{{user.name}}`,
/// `{{user.email}}` and `{{date}}` in template text; other placeholders stay as written.
pub fn fill_placeholders(text: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let key = after[..end].trim();
                match values.iter().find(|(k, _)| *k == key) {
                    Some((_, value)) => out.push_str(value),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn attached(field: &str, target: Option<AttachedTo>) -> ApiResult<Option<AttachedTo>> {
    let Some(target) = target else {
        return Ok(None);
    };
    let kind = target.kind.trim().to_lowercase();
    if kind.is_empty()
        || kind.len() > 50
        || !kind
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ApiError::bad_input(
            format!("{field}.kind"),
            "use a short name such as order, product or booking (letters, digits, - and _)",
        ));
    }
    let id = validate::name(&format!("{field}.id"), &target.id)?;
    Ok(Some(AttachedTo { kind, id }))
}

async fn template_values<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    contact: &entity::contact::Model,
) -> ApiResult<Vec<(&'static str, String)>> {
    let emails = contacts::emails_of(db, actor.org_id, &[contact.id]).await?;
    let phones = contacts::phones_of(db, actor.org_id, &[contact.id]).await?;
    let author = entity::user::Entity::find_by_id(actor.user_id)
        .one(db)
        .await?;
    Ok(vec![
        ("contact.name", contact.name.clone()),
        (
            "contact.email",
            emails
                .iter()
                .find(|e| e.is_primary)
                .or(emails.first())
                .map(|e| e.email.clone())
                .unwrap_or_default(),
        ),
        (
            "contact.phone",
            phones
                .iter()
                .find(|p| p.is_primary)
                .or(phones.first())
                .map(|p| p.number.clone())
                .unwrap_or_default(),
        ),
        ("user.name", actor.name.clone()),
        ("user.email", author.map(|a| a.email).unwrap_or_default()),
        ("date", now().format("%Y-%m-%d").to_string()),
    ])
}

/// Refuses a template whose expansion outgrows a note's `part` (at most `max` characters).
fn expanded_fits(part: &str, filled: &str, max: usize) -> ApiResult<()> {
    let len = filled.chars().count();
    if len <= max {
        return Ok(());
    }
    Err(ApiError::bad_input(
        "input.templateId",
        format!(
            "the template's {part} expands to {len} characters for this contact, over a note's limit of {max}; shorten the template or write the note's {part} yourself"
        ),
    ))
}

/// What [`create`] wrote, as it committed: the note, its labels (by name) and its task, so
/// the answer needs no second read.
#[derive(Clone, Debug)]
pub struct Created {
    /// The note.
    pub note: note::Model,
    /// Its labels, by name.
    pub labels: Vec<label::Model>,
    /// The task written with it, if one was asked for.
    pub task: Option<entity::task::Model>,
}

/// Creates a note (`WRITE` on the contact), with its labels, the task and the reminder asked
/// for, and its `NOTE_CREATED` event (and the task's `TASK_CREATED`), all in one transaction.
#[tracing::instrument(skip_all, fields(contact_id = input.contact_id), err(level = "debug"))]
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    input: CreateNote,
) -> ApiResult<Created> {
    actor.require_staff("write notes")?;
    let mut subject = validate::subject("input.subject", input.subject.as_deref())?;
    let mut body = validate::body("input.body", input.body.as_deref())?;
    let body_html = validate::long_text("input.bodyHtml", input.body_html.as_deref(), 200_000)?
        .map(|h| sanitize_html(&h));
    let attached_to = attached("input.attachedTo", input.attached_to)?;
    let visibility = input.visibility.unwrap_or(Visibility::Team);
    if let Some(at) = input.remind_at
        && at <= now()
    {
        return Err(ApiError::bad_input(
            "input.remindAt",
            "must be in the future",
        ));
    }
    let txn = db.begin().await?;
    let contact = require_can_create(&txn, actor, input.contact_id).await?;
    let labels =
        settings::require_label_rows(&txn, actor.org_id, &input.label_ids, "input.labelIds")
            .await?;
    if let Some(type_id) = input.type_id {
        settings::task_type(&txn, actor.org_id, type_id).await?;
    }
    if let Some(template_id) = input.template_id {
        let template = settings::template(&txn, actor.org_id, template_id).await?;
        let values = template_values(&txn, actor, &contact.contact).await?;
        // The expanded text is checked like typed text: placeholders (a contact's name, say)
        // can make a template within its own limit expand past a note's.
        if subject.is_none()
            && let Some(template_subject) = &template.subject
        {
            let filled = fill_placeholders(template_subject, &values);
            expanded_fits("subject", &filled, validate::SUBJECT_MAX)?;
            subject = validate::subject("input.templateId", Some(&filled))?;
        }
        if body.is_none() {
            let filled = fill_placeholders(&template.body, &values);
            expanded_fits("body", &filled, validate::BODY_MAX)?;
            body = validate::body("input.templateId", Some(&filled))?;
        }
    }
    let body = body.unwrap_or_default();
    if subject.is_none() && body.is_empty() && body_html.is_none() {
        return Err(ApiError::bad_input(
            "input.body",
            "a note needs a subject, a body or an HTML body",
        ));
    }
    let at = now();
    let row = note::ActiveModel {
        organization_id: Set(actor.org_id),
        contact_id: Set(contact.contact.id),
        author_id: Set(actor.user_id),
        subject: Set(subject.clone()),
        body: Set(body.clone()),
        body_html: Set(body_html),
        visibility: Set(visibility.as_str().to_owned()),
        type_id: Set(input.type_id),
        template_id: Set(input.template_id),
        attached_kind: Set(attached_to.as_ref().map(|a| a.kind.clone())),
        attached_id: Set(attached_to.as_ref().map(|a| a.id.clone())),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let label_ids: Vec<i64> = labels.iter().map(|l| l.id).collect();
    settings::add_labels(&txn, Labelled::Note, actor.org_id, row.id, &label_ids).await?;
    super::attachments::record(&txn, actor, row.id, &input.attachments).await?;
    // The note's event and its task's are written together, before the commit.
    let mut events = Events::new(actor);
    events
        .add(
            &txn,
            NewEvent {
                contact_id: contact.contact.id,
                kind: EventKind::NoteCreated,
                subject_kind: "Note",
                subject_id: row.id,
                summary: format!(
                    "{} added a note: {}",
                    actor.name,
                    title_of(subject.as_deref(), &body)
                ),
                data: json!({}),
                audience: visibility.audience(actor.user_id),
            },
        )
        .await?;
    notifications::mentions_in_note(&txn, actor, &row).await?;
    if let Some(remind_at) = input.remind_at {
        reminders::add(
            &txn,
            actor.org_id,
            actor.user_id,
            contact.contact.id,
            RemindOf::Note(row.id),
            remind_at,
        )
        .await?;
    }
    let task = match input.task {
        Some(mut task) => {
            task.contact_id = contact.contact.id;
            Some(
                planning::create_in(
                    &txn,
                    actor,
                    &contact,
                    task,
                    planning::Origin {
                        note_id: Some(row.id),
                        ..planning::Origin::default()
                    },
                    "input.task.",
                    &mut events,
                )
                .await?,
            )
        }
        None => None,
    };
    events.write(&txn).await?;
    txn.commit().await?;
    Ok(Created {
        note: row,
        labels,
        task,
    })
}

/// Checks that the actor may write a note about `contact_id` and returns the contact: a staff
/// user with `WRITE` on it (`NOT_FOUND` when they cannot see it, `FORBIDDEN` when they may only
/// read it). [`create`] runs it in its transaction; `createNote` also runs it before storing
/// uploaded files.
#[tracing::instrument(skip_all, fields(contact_id = contact_id), err(level = "debug"))]
pub async fn require_can_create<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    contact_id: i64,
) -> ApiResult<VisibleContact> {
    actor.require_staff("write notes")?;
    access::require_contact(db, actor, contact_id, AccessLevel::Write, "writing a note").await
}

/// Updates a note: its author, or anyone with `WRITE` on the contact for a shared note. A
/// change of visibility moves the note's timeline events to the new audience.
#[tracing::instrument(skip_all, fields(note_id = id), err(level = "debug"))]
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
    input: UpdateNote,
) -> ApiResult<note::Model> {
    let subject = input
        .subject
        .map(|s| validate::subject("input.subject", s.as_deref()))
        .transpose()?;
    let body = input
        .body
        .as_deref()
        .map(|b| validate::body("input.body", Some(b)))
        .transpose()?;
    let body_html = input
        .body_html
        .map(|h| {
            validate::long_text("input.bodyHtml", h.as_deref(), 200_000)
                .map(|h| h.map(|h| sanitize_html(&h)))
        })
        .transpose()?;
    let attached_to = input
        .attached_to
        .map(|a| attached("input.attachedTo", a))
        .transpose()?;
    let txn = db.begin().await?;
    let note = require_editable(&txn, actor, id, "editing a note").await?;
    if note.author_id != actor.user_id && input.visibility == Some(Visibility::Private) {
        return Err(ApiError::forbidden(
            "only the author may make a note private",
        ));
    }
    // Sharing a private note publishes it: that needs `WRITE`, as writing a shared note does.
    if note.visibility == Visibility::Private.as_str()
        && input.visibility.is_some_and(|v| v != Visibility::Private)
    {
        access::require_contact(
            &txn,
            actor,
            note.contact_id,
            AccessLevel::Write,
            "sharing a note",
        )
        .await?;
    }
    let labels = match input.label_ids.as_deref() {
        Some(ids) => {
            Some(settings::require_labels(&txn, actor.org_id, ids, "input.labelIds").await?)
        }
        None => None,
    };
    if let Some(Some(type_id)) = input.type_id {
        settings::task_type(&txn, actor.org_id, type_id).await?;
    }
    let old_visibility = Visibility::parse(&note.visibility).unwrap_or(Visibility::Team);
    let mut row = note.clone().into_active_model();
    if let Some(subject) = subject {
        row.subject = Set(subject);
    }
    if let Some(body) = body {
        row.body = Set(body.unwrap_or_default());
    }
    if let Some(html) = body_html {
        row.body_html = Set(html);
    }
    if let Some(visibility) = input.visibility {
        row.visibility = Set(visibility.as_str().to_owned());
    }
    if let Some(type_id) = input.type_id {
        row.type_id = Set(type_id);
    }
    if let Some(target) = attached_to {
        row.attached_kind = Set(target.as_ref().map(|a| a.kind.clone()));
        row.attached_id = Set(target.map(|a| a.id));
    }
    row.updated_at = Set(now());
    let row = row.update(&txn).await?;
    let mut changed = changed_fields(&note, &row);
    if let Some(labels) = labels {
        settings::set_labels(&txn, Labelled::Note, actor.org_id, id, &labels).await?;
        changed.push("labels");
    }
    let visibility = Visibility::parse(&row.visibility).unwrap_or(Visibility::Team);
    if visibility != old_visibility {
        let (audience, user) = match visibility.audience(row.author_id) {
            Audience::Private(user) => ("PRIVATE", Some(user)),
            Audience::Customer => ("CUSTOMER", None),
            Audience::Team | Audience::Channel(_) => ("TEAM", None),
        };
        entity::timeline_event::Entity::update_many()
            .col_expr(entity::timeline_event::Column::Audience, audience.into())
            .col_expr(entity::timeline_event::Column::AudienceUserId, user.into())
            .filter(entity::timeline_event::Column::OrganizationId.eq(actor.org_id))
            .filter(entity::timeline_event::Column::SubjectKind.eq("Note"))
            .filter(entity::timeline_event::Column::SubjectId.eq(id))
            .exec(&txn)
            .await?;
    }
    timeline::record(
        &txn,
        actor,
        NewEvent {
            contact_id: row.contact_id,
            kind: EventKind::NoteUpdated,
            subject_kind: "Note",
            subject_id: row.id,
            summary: format!(
                "{} edited a note: {}",
                actor.name,
                title_of(row.subject.as_deref(), &row.body)
            ),
            data: json!({ "fields": changed }),
            audience: visibility.audience(row.author_id),
        },
    )
    .await?;
    // Whoever the edit newly mentions, or newly lets read a mention, is told (once per note).
    if changed
        .iter()
        .any(|f| matches!(*f, "subject" | "body" | "bodyHtml" | "visibility"))
    {
        notifications::mentions_in_note(&txn, actor, &row).await?;
    }
    txn.commit().await?;
    Ok(row)
}

/// The API names of the fields an update changed (labels are added by the caller: they are
/// not on the row), for the `NOTE_UPDATED` event and the webhook's `updatedFields`.
fn changed_fields(before: &note::Model, after: &note::Model) -> Vec<&'static str> {
    super::changed(&[
        ("subject", before.subject != after.subject),
        ("body", before.body != after.body),
        ("bodyHtml", before.body_html != after.body_html),
        ("visibility", before.visibility != after.visibility),
        ("type", before.type_id != after.type_id),
        (
            "attachedTo",
            (&before.attached_kind, &before.attached_id)
                != (&after.attached_kind, &after.attached_id),
        ),
    ])
}

/// Deletes a note (same rights as editing). Its earlier events keep their place in the timeline
/// but lose its content, and a `NOTE_DELETED` event without content is written.
#[tracing::instrument(skip_all, fields(note_id = id), err(level = "debug"))]
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
) -> ApiResult<i64> {
    let txn = db.begin().await?;
    let note = require_editable(&txn, actor, id, "deleting a note").await?;
    let visibility = Visibility::parse(&note.visibility).unwrap_or(Visibility::Team);
    entity::timeline_event::Entity::update_many()
        .col_expr(
            entity::timeline_event::Column::Summary,
            sea_orm::sea_query::Expr::value("A note that was later deleted"),
        )
        .col_expr(
            entity::timeline_event::Column::Data,
            sea_orm::sea_query::Expr::value(json!({})),
        )
        .filter(entity::timeline_event::Column::OrganizationId.eq(actor.org_id))
        .filter(entity::timeline_event::Column::SubjectKind.eq("Note"))
        .filter(entity::timeline_event::Column::SubjectId.eq(id))
        .exec(&txn)
        .await?;
    // Before the note (and its reminders, with it) goes: their summaries quote it.
    notifications::forget_note(&txn, actor.org_id, id).await?;
    note::Entity::delete_by_id(id).exec(&txn).await?;
    timeline::record(
        &txn,
        actor,
        NewEvent {
            contact_id: note.contact_id,
            kind: EventKind::NoteDeleted,
            subject_kind: "Note",
            subject_id: id,
            summary: format!("{} deleted a note", actor.name),
            data: json!({}),
            audience: visibility.audience(note.author_id),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_scripts_handlers_and_javascript_urls() {
        let dirty = r#"<p onclick="x()">Hi <script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">link</a><a href="https://ok.example">ok</a></p>"#;
        let clean = sanitize_html(dirty);
        assert!(!clean.contains("script"), "{clean}");
        assert!(!clean.contains("onerror"), "{clean}");
        assert!(!clean.contains("onclick"), "{clean}");
        assert!(!clean.contains("javascript:"), "{clean}");
        assert!(clean.contains(r#"href="https://ok.example""#), "{clean}");
    }

    #[test]
    fn drops_remote_image_sources_and_keeps_own_attachments() {
        let dirty = concat!(
            r#"<img src="https://track.example/p.gif" alt="a">"#,
            r#"<img src="//track.example/p.gif">"#,
            r#"<img src="http://track.example/p.gif">"#,
            r#"<img src="/attachments/QXR0YWNobWVudDox" alt="own">"#,
        );
        let clean = sanitize_html(dirty);
        assert!(!clean.contains("track.example"), "{clean}");
        assert!(
            clean.contains(r#"src="/attachments/QXR0YWNobWVudDox""#),
            "{clean}"
        );
        assert!(clean.contains(r#"alt="a""#), "{clean}");
    }

    #[test]
    fn fills_known_placeholders_only() {
        let values = [
            ("contact.name", "Ada".to_owned()),
            ("date", "2026-11-23".to_owned()),
        ];
        assert_eq!(
            fill_placeholders("Hi {{contact.name}}, {{ date }} {{unknown}} {{", &values),
            "Hi Ada, 2026-11-23 {{unknown}} {{"
        );
    }

    #[test]
    fn search_terms_are_words_only() {
        assert_eq!(
            search_terms("Renewal \"call\"* OR x:y"),
            ["renewal", "call", "or", "x", "y"]
        );
    }
}
