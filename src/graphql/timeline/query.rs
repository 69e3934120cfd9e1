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
        page::{distinct_by, items_select, page_size},
        timeline::types::{TimelineEvent, TimelineFilter},
    },
    ids::{self, Kind},
    service::{
        self,
        contacts::VisibleContact,
        timeline::{EventJoins, TimelineFilter as ServiceFilter},
        validate::timestamp,
    },
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
        timeline_page(ctx, TimelineOf::Id(contact_id), first, after, filter).await
    }
}

/// Whose timeline a page is of.
pub enum TimelineOf<'a> {
    /// A contact by id, not read yet: the page reads it, `NOT_FOUND` unless the caller may see it.
    Id(i64),
    /// A contact the caller has read as visible in this request (a `Contact` object's row).
    Read(&'a VisibleContact),
}

/// Resolves a timeline page for `timeline(contactId)` and `Contact.timeline`, reading the
/// events' actors and subjects with the events when the page's items ask for them.
pub async fn timeline_page(
    ctx: &Context<'_>,
    of: TimelineOf<'_>,
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
    let joins = EventJoins {
        actor: items_select(ctx, "actor"),
        subject: items_select(ctx, "subject"),
    };
    let (contact, page) = match of {
        TimelineOf::Id(contact_id) => {
            service::timeline::list(db, actor, contact_id, &service_filter, cursor, limit, joins)
                .await?
        }
        // The `Contact` object's row was read (and access-checked) for this caller already.
        TimelineOf::Read(contact) => {
            let page =
                service::timeline::page(db, actor, contact, &service_filter, cursor, limit, joins)
                    .await?;
            (contact.clone(), page)
        }
    };

    let contact = Arc::new(contact);
    Ok(crate::graphql::page::connection(
        page.rows.into_iter().map(|row| {
            (
                encode_cursor(&row.event),
                TimelineEvent {
                    row: row.event,
                    contact: contact.clone(),
                    actor: row.actor,
                    subject: row.subject,
                },
            )
        }),
        cursor.is_some(),
        page.has_next,
        EmptyFields,
    ))
}
