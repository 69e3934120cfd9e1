//! The workloads: each is a GraphQL operation against the gateway (from the real schema,
//! `schema/schema.graphql`) and the plain SQL that reads or writes the same data straight
//! from the database (the baseline), with variables drawn from the dataset per request.
//!
//! The baseline is what a hand-written server would send: the access rule stated in the same
//! query (a join on the member's grants), related rows joined in rather than fetched one by
//! one, and every value decoded. It does not do what the GraphQL layer adds (parsing,
//! validation, JSON), nor what the gateway does for its live updates and webhooks beyond
//! what the data needs (W5 reads the enabled webhook endpoints, as an outbox must, but takes
//! no advisory lock and sends no `NOTIFY`).

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait, Value,
};
use serde_json::{Value as Json, json};
use threadline::ids::{self, Kind};

use crate::{
    plan::{Plan, User},
    rng::Rng,
    words::{self, LAST_NAMES},
};

/// A workload of the suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// W1 as the owner: a random contact and its 50 newest timeline events with actor and
    /// subject.
    ContactPageOwner,
    /// W1 as a member: a random contact they may see, the same page.
    ContactPageMember,
    /// W2: a member's inbox, 50 conversations with unread counts, contact and channel.
    Inbox,
    /// W3: a member searches their contacts by a fragment of a name (20 a page, with emails).
    ContactSearch,
    /// W4: a member searches notes by a word (full text, 20 a page, with author and contact).
    NoteSearch,
    /// W5: a member writes a note with a label and a task on a contact they may write to.
    CreateNote,
    /// The framework's ceiling: `{ __typename }` as the owner (no baseline).
    Typename,
}

/// Every workload, in the order a run measures them.
pub const ALL: [Workload; 7] = [
    Workload::Typename,
    Workload::ContactPageOwner,
    Workload::ContactPageMember,
    Workload::Inbox,
    Workload::ContactSearch,
    Workload::NoteSearch,
    Workload::CreateNote,
];

/// The variables of one request, drawn from the dataset.
#[derive(Clone, Debug)]
pub struct Draw {
    /// Who makes the request.
    pub user: User,
    /// Whether that user is a member (otherwise the owner).
    pub member: bool,
    /// The contact (W1, W5).
    pub contact: i64,
    /// The label (W5).
    pub label: i64,
    /// The search text (W3, W4), or the note's text (W5).
    pub text: String,
}

const CONTACT_PAGE: &str = "query ContactPage($id: ID!) {
  contact(id: $id) {
    id
    name
    timeline(first: 50) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        occurredAt
        kind
        summary
        actor { id name }
        subject {
          __typename
          ... on Contact { id name }
          ... on Note { id subject }
          ... on Task { id description status }
          ... on Message { id body direction }
          ... on Reminder { id remindAt }
        }
      }
    }
  }
}";

const INBOX: &str = "query Inbox {
  conversations(first: 50) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      lastMessageAt
      unreadCount
      contact { id name }
      channel { id displayName }
    }
  }
}";

const CONTACT_SEARCH: &str = "query ContactSearch($q: String!) {
  contacts(first: 20, filter: { search: $q }) {
    pageInfo { hasNextPage endCursor }
    nodes { id name emails { email } }
  }
}";

const NOTE_SEARCH: &str = "query NoteSearch($q: String!) {
  notes(first: 20, filter: { search: $q }) {
    pageInfo { hasNextPage endCursor }
    nodes { id subject body createdAt author { id name } contact { id name } }
  }
}";

const CREATE_NOTE: &str = "mutation CreateNote($input: CreateNoteInput!) {
  createNote(input: $input) { id labels { id } tasks { id status } }
}";

const TYPENAME: &str = "{ __typename }";

impl Workload {
    /// The short name used on the command line (`w1-owner`).
    pub fn key(self) -> &'static str {
        match self {
            Self::ContactPageOwner => "w1-owner",
            Self::ContactPageMember => "w1-member",
            Self::Inbox => "w2",
            Self::ContactSearch => "w3",
            Self::NoteSearch => "w4",
            Self::CreateNote => "w5",
            Self::Typename => "typename",
        }
    }

    /// The name in reports.
    pub fn title(self) -> &'static str {
        match self {
            Self::ContactPageOwner => "W1 contact page (owner)",
            Self::ContactPageMember => "W1 contact page (member)",
            Self::Inbox => "W2 member inbox",
            Self::ContactSearch => "W3 contact search",
            Self::NoteSearch => "W4 note search",
            Self::CreateNote => "W5 createNote + label + task",
            Self::Typename => "{ __typename } ceiling",
        }
    }

    /// The workload named `key` (see [`Workload::key`]).
    pub fn parse(key: &str) -> Option<Self> {
        ALL.into_iter().find(|w| w.key() == key.trim())
    }

    /// Whether the workload writes (its rows are removed after the run).
    pub fn writes(self) -> bool {
        self == Self::CreateNote
    }

    /// Whether the workload has a plain-SQL baseline.
    pub fn has_baseline(self) -> bool {
        self != Self::Typename
    }

    /// The GraphQL document and its operation name.
    pub fn document(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::ContactPageOwner | Self::ContactPageMember => (CONTACT_PAGE, Some("ContactPage")),
            Self::Inbox => (INBOX, Some("Inbox")),
            Self::ContactSearch => (CONTACT_SEARCH, Some("ContactSearch")),
            Self::NoteSearch => (NOTE_SEARCH, Some("NoteSearch")),
            Self::CreateNote => (CREATE_NOTE, Some("CreateNote")),
            Self::Typename => (TYPENAME, None),
        }
    }

    /// Draws one request's variables.
    pub fn draw(self, plan: &Plan, rng: &mut Rng) -> Draw {
        let org = rng.pick(&plan.orgs);
        let member = rng.pick(&org.members);
        let as_member = !matches!(self, Self::ContactPageOwner | Self::Typename);
        let user = if as_member {
            member.user.clone()
        } else {
            org.owner.clone()
        };
        let contact = match self {
            Self::ContactPageOwner => *rng.pick(&org.contacts),
            Self::CreateNote => *rng.pick(&member.writable),
            _ => *rng.pick(&member.visible),
        };
        let text = match self {
            // A fragment of a last name, as people type it: 3 to 6 letters from anywhere.
            Self::ContactSearch => {
                let name = rng.pick(&LAST_NAMES).to_lowercase();
                let len = (3 + rng.below(4)).min(name.len());
                let start = rng.below(name.len() - len + 1);
                name[start..start + len].to_owned()
            }
            // One word of the vocabulary, any rank: from rare to in half the notes.
            Self::NoteSearch => words::word(rng.below(words::VOCABULARY)),
            Self::CreateNote => words::sentence(rng, 10, 41),
            _ => String::new(),
        };
        Draw {
            user,
            member: as_member,
            contact,
            label: *rng.pick(&org.labels),
            text,
        }
    }

    /// The GraphQL variables of `draw`.
    pub fn variables(self, draw: &Draw) -> Json {
        match self {
            Self::ContactPageOwner | Self::ContactPageMember => {
                json!({ "id": ids::encode(Kind::Contact, draw.contact) })
            }
            Self::ContactSearch | Self::NoteSearch => json!({ "q": draw.text }),
            Self::CreateNote => json!({ "input": {
                "contactId": ids::encode(Kind::Contact, draw.contact),
                "subject": "Benchmark note",
                "body": draw.text,
                "labelIds": [ids::encode(Kind::Label, draw.label)],
                "task": {
                    "description": "Follow up on the benchmark note",
                    "responsibleId": ids::encode(Kind::User, draw.user.id),
                },
            } }),
            Self::Inbox | Self::Typename => json!({}),
        }
    }

    /// Checks a GraphQL answer's `data` for `draw`: the shape and what must hold of the rows
    /// (a search result matches, every event has its actor and subject...).
    pub fn check(self, data: &Json, draw: &Draw) -> Result<(), String> {
        let fail = |what: &str| Err(format!("{}: {what}", self.key()));
        match self {
            Self::ContactPageOwner | Self::ContactPageMember => {
                let contact = &data["contact"];
                if contact["id"] != json!(ids::encode(Kind::Contact, draw.contact)) {
                    return fail("not the contact asked for");
                }
                let Some(nodes) = contact["timeline"]["nodes"].as_array() else {
                    return fail("no timeline");
                };
                // Every contact has at least its CONTACT_CREATED event.
                if nodes.is_empty() || nodes.len() > 50 {
                    return fail(&format!("{} events", nodes.len()));
                }
                if nodes
                    .iter()
                    .any(|n| n["actor"].is_null() || n["subject"]["__typename"].is_null())
                {
                    return fail("an event without its actor or subject");
                }
            }
            Self::Inbox => {
                let Some(nodes) = data["conversations"]["nodes"].as_array() else {
                    return fail("no conversations");
                };
                if nodes.len() > 50
                    || nodes.iter().any(|n| {
                        n["contact"].is_null()
                            || n["channel"].is_null()
                            || n["unreadCount"].as_i64().is_none_or(|c| c < 0)
                    })
                {
                    return fail("a conversation without its contact, channel or unread count");
                }
            }
            Self::ContactSearch => {
                let Some(nodes) = data["contacts"]["nodes"].as_array() else {
                    return fail("no contacts");
                };
                let q = draw.text.to_lowercase();
                let matches = |n: &Json| {
                    n["name"]
                        .as_str()
                        .is_some_and(|s| s.to_lowercase().contains(&q))
                        || n["emails"].as_array().is_some_and(|es| {
                            es.iter().any(|e| {
                                e["email"]
                                    .as_str()
                                    .is_some_and(|s| s.to_lowercase().contains(&q))
                            })
                        })
                };
                if nodes.len() > 20 || !nodes.iter().all(matches) {
                    return fail(&format!("a contact that does not match {q:?}"));
                }
            }
            Self::NoteSearch => {
                let Some(nodes) = data["notes"]["nodes"].as_array() else {
                    return fail("no notes");
                };
                let q = draw.text.to_lowercase();
                let matches = |n: &Json| {
                    let text = format!(
                        "{} {}",
                        n["subject"].as_str().unwrap_or_default(),
                        n["body"].as_str().unwrap_or_default()
                    )
                    .to_lowercase();
                    text.split(|c: char| !c.is_alphanumeric())
                        .any(|w| w.starts_with(&q))
                };
                if nodes.len() > 20
                    || !nodes
                        .iter()
                        .all(|n| matches(n) && !n["author"].is_null() && !n["contact"].is_null())
                {
                    return fail(&format!("a note that does not match {q:?}"));
                }
            }
            Self::CreateNote => {
                let note = &data["createNote"];
                let labels = note["labels"].as_array().map_or(0, Vec::len);
                let tasks = note["tasks"].as_array().map_or(0, Vec::len);
                if note["id"].is_null() || labels != 1 || tasks != 1 {
                    return fail("the note without its label and task");
                }
            }
            Self::Typename => {
                if data["__typename"].as_str().is_none() {
                    return fail("no __typename");
                }
            }
        }
        Ok(())
    }

    /// Runs the baseline of `draw` on `db`; returns how many statements it sent (`BEGIN` and
    /// `COMMIT` not counted, as the gateway's counter does not count them either).
    pub async fn baseline(self, db: &DatabaseConnection, draw: &Draw) -> Result<u32, String> {
        let result = match self {
            Self::ContactPageOwner | Self::ContactPageMember => contact_page(db, draw).await,
            Self::Inbox => inbox(db, draw).await,
            Self::ContactSearch => contact_search(db, draw).await,
            Self::NoteSearch => note_search(db, draw).await,
            Self::CreateNote => create_note(db, draw).await,
            Self::Typename => Ok(0),
        };
        result.map_err(|e| format!("{} baseline: {e}", self.key()))
    }
}

/// A statement with `$1`-style parameters, numbered `?1` on SQLite (same order on both).
fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

async fn all<C: ConnectionTrait>(
    db: &C,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<QueryResult>, sea_orm::DbErr> {
    db.query_all_raw(statement(db.get_database_backend(), sql, values))
        .await
}

/// Decodes every column of `row` as the listed types (`i` a number, `s` text, `o` optional
/// text, `t` a time), the way a server reads what it will send.
fn decode(row: &QueryResult, types: &str) -> Result<(), sea_orm::DbErr> {
    for (i, t) in types.chars().enumerate() {
        match t {
            'i' => {
                row.try_get_by_index::<Option<i64>>(i)?;
            }
            's' => {
                row.try_get_by_index::<String>(i)?;
            }
            'o' => {
                row.try_get_by_index::<Option<String>>(i)?;
            }
            't' => {
                row.try_get_by_index::<DateTime<Utc>>(i)?;
            }
            _ => unreachable!("decode types are i, s, o, t"),
        }
    }
    Ok(())
}

/// `JOIN contact_collaborators g ...` for a member (`$2` is the user), nothing for the owner.
fn contact_grant(draw: &Draw, column: &str) -> String {
    if draw.member {
        format!(
            " JOIN contact_collaborators g ON g.organization_id = $1 AND g.contact_id = {column} AND g.user_id = $2"
        )
    } else {
        String::new()
    }
}

async fn contact_page(db: &DatabaseConnection, draw: &Draw) -> Result<u32, sea_orm::DbErr> {
    let (org, user) = (draw.user.org_id, draw.user.id);
    let contact = all(
        db,
        &format!(
            "SELECT c.id, c.name FROM contacts c{} WHERE c.organization_id = $1 AND c.id = $3",
            contact_grant(draw, "c.id")
        ),
        vec![org.into(), user.into(), draw.contact.into()],
    )
    .await?;
    let Some(row) = contact.first() else {
        return Err(sea_orm::DbErr::RecordNotFound("contact".into()));
    };
    decode(row, "is")?;
    let channel_visible = if draw.member {
        "EXISTS (SELECT 1 FROM channel_collaborators vcg WHERE vcg.organization_id = $1 \
         AND vcg.user_id = $2 AND vcg.channel_id = e.audience_channel_id)"
    } else {
        "1 = 1"
    };
    let events = all(
        db,
        &format!(
            "SELECT e.id, e.occurred_at, e.kind, e.summary, e.subject_kind, u.id, u.name, \
             n.id, n.subject, t.id, t.description, t.status, m.id, m.body, m.direction, sc.id, sc.name \
             FROM timeline_events e \
             LEFT JOIN users u ON u.id = e.actor_id AND u.organization_id = e.organization_id \
             LEFT JOIN notes n ON e.subject_kind = 'Note' AND n.id = e.subject_id AND n.organization_id = e.organization_id \
             LEFT JOIN tasks t ON e.subject_kind = 'Task' AND t.id = e.subject_id AND t.organization_id = e.organization_id \
             LEFT JOIN messages m ON e.subject_kind = 'Message' AND m.id = e.subject_id AND m.organization_id = e.organization_id \
             LEFT JOIN contacts sc ON e.subject_kind = 'Contact' AND sc.id = e.subject_id AND sc.organization_id = e.organization_id \
             WHERE e.organization_id = $1 AND e.contact_id = $3 \
             AND (e.audience IN ('TEAM', 'CUSTOMER') OR (e.audience = 'PRIVATE' AND e.audience_user_id = $2) \
                  OR (e.audience = 'CHANNEL' AND {channel_visible})) \
             ORDER BY e.occurred_at DESC, e.id DESC LIMIT 51"
        ),
        vec![org.into(), user.into(), draw.contact.into()],
    )
    .await?;
    if events.is_empty() {
        return Err(sea_orm::DbErr::RecordNotFound("timeline events".into()));
    }
    for row in &events {
        decode(row, "itsssioioiooiooio")?;
    }
    Ok(2)
}

async fn inbox(db: &DatabaseConnection, draw: &Draw) -> Result<u32, sea_orm::DbErr> {
    let grants = if draw.member {
        " JOIN contact_collaborators g ON g.organization_id = cv.organization_id AND g.contact_id = cv.contact_id AND g.user_id = $2 \
          JOIN channel_collaborators cg ON cg.organization_id = cv.organization_id AND cg.channel_id = cv.channel_id AND cg.user_id = $2"
    } else {
        ""
    };
    // The page first, then the unread counts of its 50 conversations only.
    let rows = all(
        db,
        &format!(
            "SELECT p.id, p.last_message_at, c.id, c.name, ch.id, ch.display_name, \
             (SELECT COUNT(*) FROM messages m WHERE m.organization_id = p.organization_id \
               AND m.conversation_id = p.id AND m.direction = 'INBOUND' \
               AND m.id > COALESCE((SELECT r.last_read_message_id FROM conversation_reads r \
                 WHERE r.conversation_id = p.id AND r.user_id = $2), 0)) AS unread \
             FROM (SELECT cv.* FROM conversations cv{grants} WHERE cv.organization_id = $1 \
                   ORDER BY cv.last_message_at DESC, cv.id DESC LIMIT 51) p \
             JOIN contacts c ON c.id = p.contact_id \
             JOIN channels ch ON ch.id = p.channel_id \
             ORDER BY p.last_message_at DESC, p.id DESC"
        ),
        vec![draw.user.org_id.into(), draw.user.id.into()],
    )
    .await?;
    for row in &rows {
        decode(row, "itisisi")?;
    }
    Ok(1)
}

async fn contact_search(db: &DatabaseConnection, draw: &Draw) -> Result<u32, sea_orm::DbErr> {
    let pattern = format!("%{}%", draw.text.to_lowercase());
    let rows = all(
        db,
        &format!(
            "SELECT c.id, c.name FROM contacts c{} \
             WHERE c.organization_id = $1 AND c.archived = FALSE \
             AND (LOWER(c.name) LIKE $3 OR EXISTS (SELECT 1 FROM contact_emails e \
                  WHERE e.contact_id = c.id AND e.email LIKE $3)) \
             ORDER BY c.id LIMIT 21",
            contact_grant(draw, "c.id")
        ),
        vec![draw.user.org_id.into(), draw.user.id.into(), pattern.into()],
    )
    .await?;
    let mut ids = Vec::with_capacity(rows.len());
    for row in &rows {
        decode(row, "is")?;
        ids.push(row.try_get_by_index::<i64>(0)?);
    }
    if ids.is_empty() {
        return Ok(1);
    }
    let list = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let emails = all(
        db,
        &format!(
            "SELECT contact_id, email FROM contact_emails WHERE organization_id = $1 \
             AND contact_id IN ({list}) ORDER BY contact_id, position"
        ),
        vec![draw.user.org_id.into()],
    )
    .await?;
    for row in &emails {
        decode(row, "is")?;
    }
    Ok(2)
}

async fn note_search(db: &DatabaseConnection, draw: &Draw) -> Result<u32, sea_orm::DbErr> {
    let word = draw.text.to_lowercase();
    let (matching, query) = match db.get_database_backend() {
        DbBackend::Postgres => ("n.search @@ to_tsquery('simple', $3)", format!("{word}:*")),
        _ => (
            "n.id IN (SELECT rowid FROM notes_fts WHERE notes_fts MATCH $3)",
            format!("\"{word}\"*"),
        ),
    };
    let rows = all(
        db,
        &format!(
            "SELECT n.id, n.subject, n.body, n.created_at, u.id, u.name, c.id, c.name \
             FROM notes n{} \
             JOIN contacts c ON c.id = n.contact_id \
             JOIN users u ON u.id = n.author_id \
             WHERE n.organization_id = $1 AND (n.visibility <> 'PRIVATE' OR n.author_id = $2) \
             AND {matching} ORDER BY n.id DESC LIMIT 21",
            contact_grant(draw, "n.contact_id")
        ),
        vec![draw.user.org_id.into(), draw.user.id.into(), query.into()],
    )
    .await?;
    for row in &rows {
        decode(row, "iostisis")?;
    }
    Ok(1)
}

async fn create_note(db: &DatabaseConnection, draw: &Draw) -> Result<u32, sea_orm::DbErr> {
    let (org, user) = (draw.user.org_id, draw.user.id);
    let backend = db.get_database_backend();
    // On SQLite a write transaction takes the write lock at BEGIN (and waits for it): one
    // that starts reading and then writes fails at once if another connection (the
    // gateway's background jobs) wrote in between.
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    let contact = all(
        &txn,
        "SELECT c.id, c.name, g.access FROM contacts c JOIN contact_collaborators g \
         ON g.organization_id = c.organization_id AND g.contact_id = c.id AND g.user_id = $2 \
         WHERE c.organization_id = $1 AND c.id = $3",
        vec![org.into(), user.into(), draw.contact.into()],
    )
    .await?;
    let writable = contact
        .first()
        .map(|r| r.try_get_by_index::<String>(2))
        .transpose()?
        .is_some_and(|a| a != "READ");
    if !writable {
        return Err(sea_orm::DbErr::RecordNotFound(
            "a contact to write to".into(),
        ));
    }
    let labels = all(
        &txn,
        "SELECT id, name FROM labels WHERE organization_id = $1 AND id = $2",
        vec![org.into(), draw.label.into()],
    )
    .await?;
    if labels.len() != 1 {
        return Err(sea_orm::DbErr::RecordNotFound("label".into()));
    }
    // The outbox: one delivery per enabled endpoint (the dataset registers none).
    let endpoints = all(
        &txn,
        "SELECT id, event_types FROM webhook_endpoints WHERE organization_id = $1 AND enabled = TRUE",
        vec![org.into()],
    )
    .await?;
    let _ = endpoints.len();
    let now = Utc::now();
    let note = txn
        .query_one_raw(statement(
            backend,
            "INSERT INTO notes (organization_id, contact_id, author_id, subject, body, visibility, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'TEAM', $6, $6) RETURNING id",
            vec![
                org.into(),
                draw.contact.into(),
                user.into(),
                "Benchmark note".into(),
                draw.text.clone().into(),
                now.into(),
            ],
        ))
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotInserted)?
        .try_get_by_index::<i64>(0)?;
    txn.execute_raw(statement(
        backend,
        "INSERT INTO note_labels (note_id, label_id, organization_id) VALUES ($1, $2, $3)",
        vec![note.into(), draw.label.into(), org.into()],
    ))
    .await?;
    let task = txn
        .query_one_raw(statement(
            backend,
            "INSERT INTO tasks (organization_id, contact_id, description, scheduled_at, \
             responsible_id, creator_id, status, note_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5, 'PLANNED', $6, $4, $4) RETURNING id",
            vec![
                org.into(),
                draw.contact.into(),
                "Follow up on the benchmark note".into(),
                now.into(),
                user.into(),
                note.into(),
            ],
        ))
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotInserted)?
        .try_get_by_index::<i64>(0)?;
    txn.execute_raw(statement(
        backend,
        "INSERT INTO timeline_events (organization_id, contact_id, occurred_at, kind, actor_id, \
         subject_kind, subject_id, summary, data, audience) VALUES \
         ($1, $2, $3, 'NOTE_CREATED', $4, 'Note', $5, $6, '{}', 'TEAM'), \
         ($1, $2, $3, 'TASK_CREATED', $4, 'Task', $7, $8, '{}', 'TEAM')",
        vec![
            org.into(),
            draw.contact.into(),
            now.into(),
            user.into(),
            note.into(),
            "Benchmark added a note: Benchmark note".into(),
            task.into(),
            "Benchmark planned a task: Follow up on the benchmark note".into(),
        ],
    ))
    .await?;
    txn.commit().await?;
    Ok(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_has_a_key_that_parses_back() {
        for w in ALL {
            assert_eq!(Workload::parse(w.key()), Some(w));
        }
        assert_eq!(Workload::parse("w9"), None);
    }

    #[test]
    fn a_search_answer_that_does_not_match_is_an_error() {
        let draw = Draw {
            user: User { id: 1, org_id: 1 },
            member: true,
            contact: 1,
            label: 1,
            text: "adl".into(),
        };
        let good = json!({ "contacts": { "nodes": [
            { "name": "Ada Adler", "emails": [] },
            { "name": "Bo", "emails": [{ "email": "x.adler@mail.test" }] },
        ] } });
        assert_eq!(Workload::ContactSearch.check(&good, &draw), Ok(()));
        let bad = json!({ "contacts": { "nodes": [{ "name": "Bo", "emails": [] }] } });
        assert!(Workload::ContactSearch.check(&bad, &draw).is_err());
        let note = json!({ "notes": { "nodes": [{ "subject": null, "body": "Call about adlers",
            "author": { "id": "u" }, "contact": { "id": "c" } }] } });
        assert_eq!(Workload::NoteSearch.check(&note, &draw), Ok(()));
        let inner = json!({ "notes": { "nodes": [{ "subject": null, "body": "badly",
            "author": { "id": "u" }, "contact": { "id": "c" } }] } });
        assert!(Workload::NoteSearch.check(&inner, &draw).is_err());
    }
}
