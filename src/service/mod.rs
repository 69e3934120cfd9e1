//! The domain logic and access rules. Services take a connection or transaction and the
//! caller's [`Actor`](crate::auth::Actor); they know nothing of GraphQL.

pub mod access;
pub mod attachments;
pub mod channels;
pub mod collaborators;
pub mod contacts;
pub mod conversations;
pub mod notes;
pub mod organizations;
pub mod reminders;
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

/// A list result of the service layer (the loaders' fetch functions return it).
pub type ApiResultVec<T> = crate::error::ApiResult<Vec<T>>;
