//! The caller's reminders as they come due (`reminders` subscription).

use std::collections::VecDeque;

use async_graphql::{Context, Result, Subscription};

use crate::{
    graphql::{
        context::{Caller, ContextExt},
        reminders::types::Reminder,
    },
    service,
};

/// The caller's reminders as they come due, on whichever instance fired them: polls the
/// reminders table for ones fired after the subscription started.
pub async fn live(
    ctx: &Context<'_>,
) -> Result<impl futures_util::Stream<Item = Result<Reminder>> + use<>> {
    let Caller { db, actor } = ctx.caller()?;
    let actor = actor.clone();
    let db = db.clone();
    let interval = ctx.app()?.poll.0;
    let start = (service::now(), 0_i64);
    let state = (db, actor, start, VecDeque::<Reminder>::new());
    Ok(futures_util::stream::unfold(
        state,
        move |(db, actor, mut last, mut queue)| async move {
            loop {
                if let Some(reminder) = queue.pop_front() {
                    return Some((Ok(reminder), (db, actor, last, queue)));
                }
                tokio::time::sleep(interval).await;
                match service::reminders::fired_since(&db, &actor, last).await {
                    Ok(rows) => {
                        if let Some(newest) = rows.last() {
                            last = (newest.fired_at.unwrap_or(last.0), newest.id);
                        }
                        queue.extend(rows.into_iter().map(Reminder));
                    }
                    Err(error) => return Some((Err(error.into()), (db, actor, last, queue))),
                }
            }
        },
    ))
}

/// The reminders subscription.
#[derive(Default)]
pub struct RemindersSubscription;

#[Subscription]
impl RemindersSubscription {
    /// The caller's reminders as they come due (fired by any gateway instance).
    async fn reminders(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl futures_util::Stream<Item = Result<Reminder>> + use<>> {
        live(ctx).await
    }
}
