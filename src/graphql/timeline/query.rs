//! The timeline query and connection (`timeline(contactId)` and `Contact.timeline`).

use std::sync::Arc;

use async_graphql::{
    Context, ID, Object, Result,
    connection::{Connection, EmptyFields},
};

use super::types::{decode_cursor, encode_cursor};
use crate::{
    error::ApiError,
    graphql::{
        context::{Caller, ContextExt},
        page::{distinct_by, page_size},
        timeline::types::{TimelineEvent, TimelineFilter},
    },
    ids::{self, Kind},
    service::{self, timeline::TimelineFilter as ServiceFilter, validate::timestamp},
};

/// A contact's timeline.
#[derive(Default)]
pub struct TimelineQuery;

#[Object]
impl TimelineQuery {
    /// A contact's timeline, newest first: what happened to it, as far as the caller may see
    /// (another user's private note is not there; a customer user sees what is shared with them).
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        contact_id: ID,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<TimelineFilter>,
    ) -> Result<Connection<String, TimelineEvent>> {
        ctx.caller()?;
        let contact_id = ids::decode(Kind::Contact, &contact_id)?;
        timeline_page(ctx, contact_id, first, after, filter).await
    }
}

/// Resolves a timeline page for `timeline(contactId)` and `Contact.timeline`.
pub async fn timeline_page(
    ctx: &Context<'_>,
    contact_id: i64,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<TimelineFilter>,
) -> Result<Connection<String, TimelineEvent, EmptyFields>> {
    let Caller { db, actor } = ctx.caller()?;
    let limit = page_size(first)?;
    let cursor = decode_cursor(after.as_deref())?;
    let filter = filter.unwrap_or_default();
    timestamp("filter.since", filter.since)?;
    timestamp("filter.until", filter.until)?;
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && since >= until
    {
        return Err(ApiError::bad_input("filter.until", "must be later than filter.since").into());
    }
    let service_filter = ServiceFilter {
        kinds: distinct_by(filter.kinds.unwrap_or_default(), |k| *k as u8)
            .into_iter()
            .map(|k| service::timeline::EventKind::from(k).as_str().to_owned())
            .collect(),
        since: filter.since,
        until: filter.until,
    };
    let (contact, page) =
        service::timeline::list(db, actor, contact_id, &service_filter, cursor, limit).await?;

    let contact = Arc::new(contact);
    Ok(crate::graphql::page::connection(
        page.rows.into_iter().map(|row| {
            (
                encode_cursor(&row),
                TimelineEvent {
                    row,
                    contact: contact.clone(),
                },
            )
        }),
        cursor.is_some(),
        page.has_next,
        EmptyFields,
    ))
}
