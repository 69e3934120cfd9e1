//! The live timeline of a contact (`timelineEvents`).

use std::sync::Arc;

use async_graphql::{Context, ID, Result, Subscription};

use crate::{
    bus::Key,
    graphql::{
        batch::Batcher,
        context::{Caller, ContextExt},
        loaders::Loaders,
        timeline::types::TimelineEvent,
    },
    ids::{self, Kind},
    service,
};

/// Events read per wake-up; a larger burst is read in several rounds, without waiting.
const BATCH: u64 = 100;

/// The live timeline of one contact: woken by the bus (see `crate::bus`) whenever an event about
/// the contact is committed on any gateway instance, it reads the events newer than the last
/// one sent, filtered by the caller's access in SQL each time, so it stops when access is
/// revoked (the revocation is itself an event about the contact). An idle subscription costs
/// no database work.
pub async fn live(
    ctx: &Context<'_>,
    contact_id: i64,
) -> Result<impl futures_util::Stream<Item = Result<TimelineEvent>> + use<>> {
    let Caller { db, actor } = ctx.caller()?;
    let actor = actor.clone();
    let db = db.clone();
    let readers = Arc::new(Burst::of(ctx.loaders()?));
    // Registered before reading where to start, so nothing committed in between is missed.
    let changed = Arc::new(ctx.app()?.hub.register(Key::Contact {
        org: actor.org_id,
        contact: contact_id,
    }));
    // Start after what exists now; NOT_FOUND right away when the contact is not visible.
    let start = service::timeline::latest_id(&db, &actor, contact_id).await?;
    let state = (
        db,
        actor,
        start,
        std::collections::VecDeque::<TimelineEvent>::new(),
        false,
        false,
    );
    // `done`: an error ended it. `more`: the last read filled a batch, so read again before
    // waiting (the signals of a larger burst may have collapsed into the wake-up just taken).
    Ok(futures_util::stream::unfold(
        state,
        move |(db, actor, mut last, mut queue, done, mut more)| {
            let (readers, changed) = (readers.clone(), changed.clone());
            async move {
                if done {
                    return None;
                }
                loop {
                    if let Some(event) = queue.pop_front() {
                        return Some((Ok(event), (db, actor, last, queue, false, more)));
                    }
                    if !more {
                        changed.changed().await;
                    }
                    let (contact, batch) = match service::timeline::newer(
                        &db, &actor, contact_id, last, BATCH,
                    )
                    .await
                    {
                        Ok(found) => found,
                        Err(error) => {
                            return Some((
                                Err(error.into()),
                                (db, actor, last, queue, true, false),
                            ));
                        }
                    };
                    more = batch.len() as u64 == BATCH;
                    if let Some(newest) = batch.last() {
                        last = newest.id;
                    }
                    if let Err(error) = readers.prime(&batch).await {
                        return Some((Err(error), (db, actor, last, queue, true, false)));
                    }
                    let contact = Arc::new(contact);
                    queue.extend(
                        batch
                            .into_iter()
                            .map(|row| TimelineEvent::new(row, contact.clone())),
                    );
                }
            }
        },
    ))
}

/// The loaders a burst of live events reads through, primed with the whole burst's actors and
/// subjects at each poll: one statement per kind of row for the burst, as a timeline page.
struct Burst {
    users: Arc<Batcher<entity::user::Model>>,
    notes: Arc<Batcher<entity::note::Model>>,
    tasks: Arc<Batcher<entity::task::Model>>,
    messages: Arc<Batcher<entity::message::Model>>,
    reminders: Arc<Batcher<entity::reminder::Model>>,
}

impl Burst {
    fn of(loaders: &Loaders) -> Self {
        Self {
            users: loaders.users.clone(),
            notes: loaders.notes.clone(),
            tasks: loaders.tasks.clone(),
            messages: loaders.messages.clone(),
            reminders: loaders.reminders.clone(),
        }
    }

    /// Reads the actors and subjects of `events` (one batch per kind, together).
    async fn prime(&self, events: &[entity::timeline_event::Model]) -> Result<()> {
        let subjects = |kind: &str| -> Vec<i64> {
            events
                .iter()
                .filter(|e| e.subject_kind == kind)
                .map(|e| e.subject_id)
                .collect()
        };
        let actors: Vec<i64> = events.iter().filter_map(|e| e.actor_id).collect();
        let (notes, tasks, messages, reminders) = (
            subjects("Note"),
            subjects("Task"),
            subjects("Message"),
            subjects("Reminder"),
        );
        futures_util::try_join!(
            self.users.prime(&actors),
            self.notes.prime(&notes),
            self.tasks.prime(&tasks),
            self.messages.prime(&messages),
            self.reminders.prime(&reminders),
        )?;
        Ok(())
    }
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
