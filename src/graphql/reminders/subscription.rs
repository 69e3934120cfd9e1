//! The caller's reminders as they come due (`reminders` subscription).

use std::{collections::VecDeque, sync::Arc};

use async_graphql::{Context, Result, Subscription};

use crate::{
    bus::Key,
    graphql::{
        batch::Batcher,
        context::{Caller, ContextExt},
        loaders::Loaders,
        reminders::types::Reminder,
    },
    service::{self, contacts::VisibleContact},
};

/// Fired reminders read per wake-up; a larger burst is read in several rounds, without waiting.
const BATCH: u64 = 100;

/// The loaders a burst of fired reminders reads through, primed with the burst's contacts,
/// notes and tasks at each poll (one statement per kind for the burst).
struct Burst {
    contacts: Arc<Batcher<VisibleContact>>,
    notes: Arc<Batcher<entity::note::Model>>,
    tasks: Arc<Batcher<entity::task::Model>>,
}

impl Burst {
    fn of(loaders: &Loaders) -> Self {
        Self {
            contacts: loaders.contacts.clone(),
            notes: loaders.notes.clone(),
            tasks: loaders.tasks.clone(),
        }
    }

    async fn prime(&self, rows: &[entity::reminder::Model]) -> Result<()> {
        let contacts: Vec<i64> = rows.iter().map(|r| r.contact_id).collect();
        let notes: Vec<i64> = rows.iter().filter_map(|r| r.note_id).collect();
        let tasks: Vec<i64> = rows.iter().filter_map(|r| r.task_id).collect();
        futures_util::try_join!(
            self.contacts.prime(&contacts),
            self.notes.prime(&notes),
            self.tasks.prime(&tasks),
        )?;
        Ok(())
    }
}

/// The caller's reminders as they come due, on whichever instance fired them: woken by the bus
/// when one of the caller's reminders fires, it reads those fired after the last one sent.
pub async fn live(
    ctx: &Context<'_>,
) -> Result<impl futures_util::Stream<Item = Result<Reminder>> + use<>> {
    let Caller { db, actor } = ctx.caller()?;
    let actor = actor.clone();
    let db = db.clone();
    let readers = Arc::new(Burst::of(ctx.loaders()?));
    let changed = Arc::new(ctx.app()?.hub.register(Key::Reminders {
        org: actor.org_id,
        user: actor.user_id,
    }));
    let start = (service::reminders::fired_clock(&db).await?, 0_i64);
    // `more`: the last read filled a batch, so read again before waiting (a pass fires a
    // whole batch in one transaction, whose identical signals arrive as one).
    let state = (db, actor, start, VecDeque::<Reminder>::new(), false);
    Ok(futures_util::stream::unfold(
        state,
        move |(db, actor, mut last, mut queue, mut more)| {
            let (readers, changed) = (readers.clone(), changed.clone());
            async move {
                loop {
                    if let Some(reminder) = queue.pop_front() {
                        return Some((Ok(reminder), (db, actor, last, queue, more)));
                    }
                    if !more {
                        changed.changed().await;
                    }
                    match service::reminders::fired_since(&db, &actor, last, BATCH).await {
                        Ok(rows) => {
                            more = rows.len() as u64 == BATCH;
                            if let Some(newest) = rows.last() {
                                last = (newest.fired_at.unwrap_or(last.0), newest.id);
                            }
                            if let Err(error) = readers.prime(&rows).await {
                                return Some((Err(error), (db, actor, last, queue, false)));
                            }
                            queue.extend(rows.into_iter().map(Reminder));
                        }
                        Err(error) => {
                            return Some((Err(error.into()), (db, actor, last, queue, false)));
                        }
                    }
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
