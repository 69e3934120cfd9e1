//! The caller's notifications as they arrive (`notifications` subscription).

use std::{collections::VecDeque, sync::Arc};

use async_graphql::{Context, Result, Subscription};

use crate::{
    bus::Key,
    graphql::{
        batch::Batcher,
        context::{Caller, ContextExt},
        loaders::Loaders,
        notifications::types::Notification,
    },
    service::{self, contacts::VisibleContact},
};

/// Notifications read per wake-up; a larger burst is read in several rounds, without waiting.
const BATCH: u64 = 100;

/// The loaders a burst of notifications reads through, primed with the burst's actors,
/// contacts and subjects at each read (one statement per kind for the burst).
struct Burst {
    users: Arc<Batcher<entity::user::Model>>,
    contacts: Arc<Batcher<VisibleContact>>,
    notes: Arc<Batcher<entity::note::Model>>,
    tasks: Arc<Batcher<entity::task::Model>>,
    reminders: Arc<Batcher<entity::reminder::Model>>,
}

impl Burst {
    fn of(loaders: &Loaders) -> Self {
        Self {
            users: loaders.users.clone(),
            contacts: loaders.contacts.clone(),
            notes: loaders.notes.clone(),
            tasks: loaders.tasks.clone(),
            reminders: loaders.reminders.clone(),
        }
    }

    async fn prime(&self, rows: &[entity::notification::Model]) -> Result<()> {
        let subjects = |kind: &str| -> Vec<i64> {
            rows.iter()
                .filter(|r| r.subject_kind == kind)
                .map(|r| r.subject_id)
                .collect()
        };
        let actors: Vec<i64> = rows.iter().filter_map(|r| r.actor_id).collect();
        let contacts: Vec<i64> = rows.iter().map(|r| r.contact_id).collect();
        let (notes, tasks, reminders) = (subjects("Note"), subjects("Task"), subjects("Reminder"));
        futures_util::try_join!(
            self.users.prime(&actors),
            self.contacts.prime(&contacts),
            self.notes.prime(&notes),
            self.tasks.prime(&tasks),
            self.reminders.prime(&reminders),
        )?;
        Ok(())
    }
}

/// What the stream carries from one item to the next.
struct State {
    db: sea_orm::DatabaseConnection,
    actor: service::actor::Actor,
    /// The newest notification id read.
    last: i64,
    queue: VecDeque<Notification>,
    /// The last read filled a batch: read again before waiting.
    more: bool,
}

/// The caller's notifications as they arrive, from whichever gateway wrote them: woken by the
/// bus when one is written for the caller, it reads those newer than the last one sent,
/// through the same access-checked query as the `notifications` list. An idle subscription
/// costs no database work.
pub async fn live(
    ctx: &Context<'_>,
) -> Result<impl futures_util::Stream<Item = Result<Notification>> + use<>> {
    let Caller { db, actor } = ctx.caller()?;
    let readers = Arc::new(Burst::of(ctx.loaders()?));
    // Registered before reading where to start, so nothing committed in between is missed.
    let changed = Arc::new(ctx.app()?.hub.register(Key::Notifications {
        org: actor.org_id,
        user: actor.user_id,
    }));
    let last = service::notifications::latest_id(db, actor).await?;
    let state = State {
        db: db.clone(),
        actor: actor.clone(),
        last,
        queue: VecDeque::new(),
        more: false,
    };
    Ok(futures_util::stream::unfold(state, move |mut state| {
        let (readers, changed) = (readers.clone(), changed.clone());
        async move {
            loop {
                if let Some(notification) = state.queue.pop_front() {
                    return Some((Ok(notification), state));
                }
                if !state.more {
                    changed.changed().await;
                }
                let rows =
                    match service::notifications::newer(&state.db, &state.actor, state.last, BATCH)
                        .await
                    {
                        Ok(rows) => rows,
                        Err(error) => {
                            state.more = false;
                            return Some((Err(error.into()), state));
                        }
                    };
                state.more = rows.len() as u64 == BATCH;
                if let Some(newest) = rows.last() {
                    state.last = newest.id;
                }
                if let Err(error) = readers.prime(&rows).await {
                    return Some((Err(error), state));
                }
                state.queue.extend(rows.into_iter().map(Notification));
            }
        }
    }))
}

/// The notifications subscription.
#[derive(Default)]
pub struct NotificationsSubscription;

#[Subscription]
impl NotificationsSubscription {
    /// The caller's notifications as they arrive (assignments, mentions, fired reminders),
    /// written by any gateway instance.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl futures_util::Stream<Item = Result<Notification>> + use<>> {
        live(ctx).await
    }
}
