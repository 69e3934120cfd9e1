//! The domain logic and access rules. Services take a connection or transaction and the
//! caller's [`Actor`](crate::service::actor::Actor); they know nothing of GraphQL.
//!
//! Services depend on each other one way, from the top of this list down; none calls one above
//! it, so there are no circles:
//!
//! - `tasks` (completing a task may write a note);
//! - `notes`;
//! - `contacts`, `channels`, `collaborators`, `conversations`;
//! - `planning` (a task row, for tasks and for a note's task);
//! - `grants` (contact and channel collaborators), `reminders`;
//! - `sessions` (sign-in, passwords, refresh tokens);
//! - `timeline`, `users`, `attachments`, `notifications` (assignments, mentions, fired reminders);
//! - `deliveries` (claiming, settling and listing webhook deliveries);
//! - `outbox` (webhook deliveries, written with each timeline event);
//! - `payload` (the record a webhook event carries), `endpoints` (webhook endpoints);
//! - `access` (who may see a contact, a channel, a note), `settings`;
//! - `children` (a record's emails, phones, addresses, tags, attachments);
//! - `sql`, `validate`, `organizations`, `passwords`, `actor` (who a call runs as), `mentions` (who a text names).
//!
//! Public entry points that do I/O carry `#[tracing::instrument]`: a span with the ids at hand,
//! and the error, if any, recorded at debug level (a caller's mistake is not the gateway's
//! error; database and internal errors are logged where they are mapped for the client).

pub mod access;
pub mod actor;
pub mod attachments;
pub mod channels;
pub mod children;
pub mod collaborators;
pub mod contacts;
pub mod conversations;
pub mod deliveries;
pub mod endpoints;
pub mod grants;
pub mod mentions;
pub mod notes;
pub mod notifications;
pub mod organizations;
pub mod outbox;
pub mod passwords;
pub mod payload;
pub mod planning;
pub mod reminders;
pub mod sessions;
pub mod settings;
pub mod sql;
pub mod tasks;
pub mod timeline;
pub mod users;
pub mod validate;

use chrono::{DateTime, SubsecRound, Utc};

/// The current time at microsecond precision, which both databases store exactly, so that a
/// value read back equals the value written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The API names of the fields whose values differ, in the order given (an update's event and
/// its webhook's `updatedFields`).
pub fn changed(fields: &[(&'static str, bool)]) -> Vec<&'static str> {
    fields
        .iter()
        .filter(|(_, differs)| *differs)
        .map(|(name, _)| *name)
        .collect()
}

/// One page of a keyset-paginated list: `limit` rows and whether more follow.
pub struct Page<T> {
    /// The rows, in list order.
    pub rows: Vec<T>,
    /// Whether another page follows.
    pub has_next: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` fetched rows.
    pub fn from_fetched(mut rows: Vec<T>, limit: u64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let has_next = rows.len() > limit;
        rows.truncate(limit);
        Self { rows, has_next }
    }
}

/// Which slice of an id-ordered list to read: forward after a cursor (`first`/`after`) or
/// backward before one (`last`/`before`).
#[derive(Clone, Copy, Debug)]
pub struct IdWindow {
    /// Rows after this id (forward).
    pub after: Option<i64>,
    /// Rows before this id (backward).
    pub before: Option<i64>,
    /// How many rows.
    pub limit: u64,
    /// Read backward: the `limit` rows just before `before` (or the last rows).
    pub backward: bool,
}

impl IdWindow {
    /// Appends the keyset condition and the order for id column `column`.
    pub fn push(&self, sql: &mut sql::Sql, column: &str) {
        if let Some(after) = self.after {
            sql.push(&format!(" AND {column} > ")).bind(after);
        }
        if let Some(before) = self.before {
            sql.push(&format!(" AND {column} < ")).bind(before);
        }
        let dir = if self.backward { "DESC" } else { "ASC" };
        sql.push(&format!(" ORDER BY {column} {dir}"))
            .limit(self.limit + 1);
    }

    /// Builds the page from the fetched rows, in ascending order either way. `has_next` then
    /// means "more after the page" and `has_previous` "more before it".
    pub fn page<T>(&self, rows: Vec<T>) -> (Vec<T>, bool, bool) {
        let page = Page::from_fetched(rows, self.limit);
        if self.backward {
            let mut rows = page.rows;
            rows.reverse();
            (rows, self.before.is_some(), page.has_next)
        } else {
            (page.rows, page.has_next, self.after.is_some())
        }
    }
}

/// Replaces a parent's child rows on the caller's transaction: deletes what `delete` selects
/// and inserts `rows` (a contact's emails, phones and addresses, a task's tags).
pub async fn replace_rows<C, A>(
    db: &C,
    delete: sea_orm::DeleteMany<A::Entity>,
    rows: Vec<A>,
) -> crate::error::ApiResult<()>
where
    C: sea_orm::ConnectionTrait,
    A: sea_orm::ActiveModelTrait + Send,
{
    delete.exec(db).await?;
    if !rows.is_empty() {
        <A::Entity as sea_orm::EntityTrait>::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
