//! The live timeline of a contact (`timelineEvents`).

use async_graphql::{Context, ID, Result, Subscription};

use crate::{
    graphql::{
        context::{Caller, ContextExt},
        timeline::types::TimelineEvent,
    },
    ids::{self, Kind},
    service,
};

/// The live timeline of one contact: polls the database (the one place every gateway instance
/// writes to) for events newer than the last one sent, filtered by the caller's access in SQL
/// each time, so it works whichever instance made the change and stops when access is revoked.
pub async fn live(
    ctx: &Context<'_>,
    contact_id: i64,
) -> Result<impl futures_util::Stream<Item = Result<TimelineEvent>> + use<>> {
    let Caller { db, actor } = ctx.caller()?;
    let actor = actor.clone();
    let db = db.clone();
    let interval = ctx.app()?.poll.0;
    // Start after what exists now; NOT_FOUND right away when the contact is not visible.
    let start = service::timeline::latest_id(&db, &actor, contact_id).await?;
    let state = (
        db,
        actor,
        start,
        std::collections::VecDeque::<TimelineEvent>::new(),
        false,
    );
    Ok(futures_util::stream::unfold(
        state,
        move |(db, actor, mut last, mut queue, done)| async move {
            if done {
                return None;
            }
            loop {
                if let Some(event) = queue.pop_front() {
                    return Some((Ok(event), (db, actor, last, queue, false)));
                }
                tokio::time::sleep(interval).await;
                let (contact, batch) =
                    match service::timeline::newer(&db, &actor, contact_id, last, 100).await {
                        Ok(found) => found,
                        Err(error) => {
                            return Some((Err(error.into()), (db, actor, last, queue, true)));
                        }
                    };
                if let Some(newest) = batch.last() {
                    last = newest.id;
                }
                let contact = std::sync::Arc::new(contact);
                queue.extend(batch.into_iter().map(|row| TimelineEvent {
                    row,
                    contact: contact.clone(),
                }));
            }
        },
    ))
}

/// The live timeline subscription.
#[derive(Default)]
pub struct TimelineSubscription;

#[Subscription]
impl TimelineSubscription {
    /// The live timeline of one contact, filtered by the caller's access as `timeline` is:
    /// every event written after the subscription started, from whichever gateway instance.
    async fn timeline_events(
        &self,
        ctx: &Context<'_>,
        contact_id: ID,
    ) -> Result<impl futures_util::Stream<Item = Result<TimelineEvent>> + use<>> {
        ctx.caller()?;
        let contact_id = ids::decode(Kind::Contact, &contact_id)?;
        live(ctx, contact_id).await
    }
}
