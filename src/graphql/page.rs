//! Relay connections: page size rules, opaque keyset cursors, the cost of a page, and the one
//! builder every connection of the schema is made with ([`connection`]).

use async_graphql::connection::{Connection, Edge, EmptyFields};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{ApiError, ApiResult};

/// Page size when `first` is not given.
pub const DEFAULT_PAGE: u64 = 20;
/// Largest page; a larger `first` is capped to it.
pub const MAX_PAGE: u64 = 100;

/// The page size for `first`: default 20, capped at 100, negative refused.
pub fn page_size(first: Option<i32>) -> ApiResult<u64> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(n) if n < 0 => Err(ApiError::bad_input("first", "must be zero or more")),
        Some(n) => Ok(u64::try_from(n).unwrap_or(0).min(MAX_PAGE)),
    }
}

/// The highest cost one field is given, so that sums of many fields cannot overflow.
const MAX_FIELD_COST: usize = 1 << 40;

/// The cost of a connection field for the complexity limit: the page it may return (`first`
/// or `last`, default [`DEFAULT_PAGE`], at most [`MAX_PAGE`]) times the cost of what is asked
/// under each item, plus one for the field itself. Used as
/// `#[graphql(complexity = "crate::graphql::page::page_cost(first, last, child_complexity)")]`.
pub fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    // A negative size costs nothing here: the resolver refuses it before reading anything.
    let first = page_size(first).unwrap_or(0);
    let last = last.map_or(0, |n| page_size(Some(n)).unwrap_or(0));
    list_cost(
        usize::try_from(first.max(last)).unwrap_or(usize::MAX),
        child_complexity,
    )
}

/// The cost of a list field without page arguments: `max_items` (the most it may hold, or a
/// typical upper size for lists bounded only by the organization's settings) times the cost of
/// each item, plus one.
pub fn list_cost(max_items: usize, child_complexity: usize) -> usize {
    max_items
        .saturating_mul(child_complexity.max(1))
        .saturating_add(1)
        .min(MAX_FIELD_COST)
}

/// The items in the order of `key`, each key once: a filter's list of enum values can be long
/// but holds only a few distinct ones, and each becomes a bound parameter.
pub fn distinct_by<T, K: Ord>(mut items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    items.sort_by_key(&key);
    items.dedup_by(|a, b| key(a) == key(b));
    items
}

/// The assumed size of lists whose length only the organization's own settings bound (labels,
/// task types, collaborators...), for their cost.
pub const SETTINGS_LIST_COST: usize = 50;

/// The window of an id-ordered list from Relay arguments: `first`/`after` forward, or
/// `last`/`before` backward (not both directions at once).
pub fn id_window(
    first: Option<i32>,
    after: Option<&str>,
    last: Option<i32>,
    before: Option<&str>,
) -> ApiResult<crate::service::IdWindow> {
    if last.is_some() && first.is_some() {
        return Err(ApiError::bad_input(
            "last",
            "use first/after or last/before, not both",
        ));
    }
    let backward = last.is_some() || (before.is_some() && first.is_none());
    let limit = match (backward, last) {
        (true, Some(n)) if n < 0 => {
            return Err(ApiError::bad_input("last", "must be zero or more"));
        }
        (true, Some(n)) => u64::try_from(n).unwrap_or(0).min(MAX_PAGE),
        (true, None) => DEFAULT_PAGE,
        (false, _) => page_size(first)?,
    };
    let before = match before {
        None => None,
        Some(b) => decode_cursor(Some(b))
            .map_err(|_| ApiError::bad_input("before", "is not a cursor this list gave out"))?,
    };
    Ok(crate::service::IdWindow {
        after: decode_cursor(after)?,
        before,
        limit,
        backward,
    })
}

/// An opaque cursor for a row id in a list ordered by id.
pub fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

/// The text inside an opaque cursor, if it is one this gateway could have written.
fn opaque_text(cursor: &str) -> Option<String> {
    String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()
}

/// The row id in a cursor from [`encode_cursor`]; `BAD_USER_INPUT` on `after` otherwise.
pub fn decode_cursor(cursor: Option<&str>) -> ApiResult<Option<i64>> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    opaque_text(cursor)
        .and_then(|s| s.strip_prefix("id:").and_then(|n| n.parse::<i64>().ok()))
        .map(Some)
        .ok_or_else(|| ApiError::bad_input("after", "is not a cursor this list gave out"))
}

/// Whether the items of the connection field `ctx` resolves (under `nodes`, or `edges { node }`)
/// select `field`, through fragments too: the page then reads the rows that field shows in its
/// own statement instead of leaving them to a loader. (`@skip`/`@include` are not evaluated: a
/// skipped field is read for nothing, never missed.)
pub fn items_select(ctx: &async_graphql::Context<'_>, field: &str) -> bool {
    let look = ctx.look_ahead();
    look.field("nodes").field(field).exists()
        || look.field("edges").field("node").field(field).exists()
}

/// Builds a connection from a page of `(cursor, item)` pairs, the connection's own extra
/// `fields` (such as `totalCount`, or `EmptyFields`) and whether there are pages before and
/// after it.
pub fn connection<T, F>(
    edges: impl IntoIterator<Item = (String, T)>,
    has_previous: bool,
    has_next: bool,
    fields: F,
) -> Connection<String, T, F>
where
    T: async_graphql::OutputType,
    F: async_graphql::ObjectType,
{
    let mut connection = Connection::with_additional_fields(has_previous, has_next, fields);
    connection.edges = edges
        .into_iter()
        .map(|(cursor, item)| Edge::with_additional_fields(cursor, item, EmptyFields))
        .collect();
    connection
}

/// Builds a connection from a page of items keyed by row id (see [`connection`]).
pub fn id_connection<T, F>(
    items: Vec<T>,
    has_next: bool,
    has_previous: bool,
    id_of: impl Fn(&T) -> i64,
    fields: F,
) -> Connection<String, T, F>
where
    T: async_graphql::OutputType,
    F: async_graphql::ObjectType,
{
    let edges = items
        .into_iter()
        .map(|item| (encode_cursor(id_of(&item)), item));
    connection(edges, has_previous, has_next, fields)
}

/// Splits a `MaybeUndefined` input into "leave as is" (`None`), "clear" (`Some(None)`) and
/// "set" (`Some(Some(..))`), converting the value with `f`.
pub fn maybe<T, U>(
    value: async_graphql::MaybeUndefined<T>,
    f: impl FnOnce(T) -> ApiResult<U>,
) -> ApiResult<Option<Option<U>>> {
    Ok(match value {
        async_graphql::MaybeUndefined::Undefined => None,
        async_graphql::MaybeUndefined::Null => Some(None),
        async_graphql::MaybeUndefined::Value(v) => Some(Some(f(v)?)),
    })
}

/// An opaque cursor for a row in a list ordered by (time, id); `tag` names the list.
pub fn encode_time_cursor(tag: &str, at: chrono::DateTime<chrono::Utc>, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{tag}:{}:{id}", at.timestamp_micros()))
}

/// The (time, id) in a cursor from [`encode_time_cursor`] with the same `tag`;
/// `BAD_USER_INPUT` on `after` otherwise, including a forged time outside the years every
/// stored time falls in (see `validate::timestamp`): PostgreSQL would refuse it, and SQLite
/// would compare it as text out of time order.
pub fn decode_time_cursor(
    tag: &str,
    cursor: Option<&str>,
) -> ApiResult<Option<(chrono::DateTime<chrono::Utc>, i64)>> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    opaque_text(cursor)
        .and_then(|s| {
            let (micros, id) = s.strip_prefix(tag)?.strip_prefix(':')?.split_once(':')?;
            let at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?;
            crate::service::validate::timestamp("after", Some(at)).ok()?;
            Some((at, id.parse().ok()?))
        })
        .map(Some)
        .ok_or_else(|| ApiError::bad_input("after", "is not a cursor this list gave out"))
}
