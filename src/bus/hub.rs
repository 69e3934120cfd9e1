//! The per-process index of who waits for which signals, and the wake-ups.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::Notify;

use super::Signal;
use crate::auth::cache::CallerCache;

/// What a registration waits for.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Key {
    /// New timeline events of one contact (`timelineEvents`).
    Contact {
        /// The organization.
        org: i64,
        /// The contact.
        contact: i64,
    },
    /// One user's fired reminders (`reminders`).
    Reminders {
        /// The organization.
        org: i64,
        /// The user.
        user: i64,
    },
    /// One user's new notifications (`notifications`).
    Notifications {
        /// The organization.
        org: i64,
        /// The user.
        user: i64,
    },
    /// Changes to one user's account (their open sockets).
    User {
        /// The organization.
        org: i64,
        /// The user.
        user: i64,
    },
    /// The reminder schedule (the reminder scheduler).
    ReminderSchedule,
    /// Due webhook deliveries (the delivery worker).
    Deliveries,
}

impl Key {
    /// Whether a registration under this key is woken after the bus reconnects: the keys whose
    /// changes the catch-up read cannot find (see [`Hub::wake_after_reconnect`]).
    fn woken_after_reconnect(self) -> bool {
        matches!(
            self,
            Self::User { .. } | Self::ReminderSchedule | Self::Deliveries
        )
    }
}

impl From<Signal> for Key {
    fn from(signal: Signal) -> Self {
        match signal {
            Signal::Timeline { org, contact, .. } => Self::Contact { org, contact },
            Signal::Reminders { org, user } => Self::Reminders { org, user },
            Signal::Notifications { org, user } => Self::Notifications { org, user },
            Signal::User { org, user } => Self::User { org, user },
            Signal::ReminderScheduled => Self::ReminderSchedule,
            Signal::Deliveries => Self::Deliveries,
        }
    }
}

type Waiters = Vec<(u64, Arc<Notify>)>;

/// Who waits for what in this process. Cheap to hold many registrations: each is one entry in
/// a map and a `Notify`, and nothing runs for it until a signal under its key arrives.
///
/// The hub also keeps the process's [`CallerCache`] right: a user's signal drops their
/// entries before anyone is woken, and the cache is trusted only while the bus listens.
#[derive(Default)]
pub struct Hub {
    index: Mutex<HashMap<Key, Waiters>>,
    next: AtomicU64,
    delivered: AtomicU64,
    /// The timeline events whose signals arrived since the last catch-up read looked: that
    /// read wakes nobody for them again (see [`Hub::deliver_missed`]).
    live_events: Mutex<HashSet<i64>>,
    /// Who the gateway's tokens stand for (see [`CallerCache`]).
    callers: Arc<CallerCache>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("registrations", &self.registrations())
            .field("signals_delivered", &self.signals_delivered())
            .field("callers", &self.callers.len())
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub that keeps `callers` right (a default hub keeps an empty, disabled cache).
    pub fn new(callers: Arc<CallerCache>) -> Self {
        Self {
            callers,
            ..Self::default()
        }
    }

    /// The process's caller cache.
    pub fn callers(&self) -> &Arc<CallerCache> {
        &self.callers
    }

    /// A transaction of this process published `signal` (it reaches the listeners when the
    /// transaction commits): a user's change is pending in the caller cache until then. Called
    /// from the database connection's statement hook (see `super::local::Tap`).
    pub fn published(&self, signal: Signal) {
        if let Signal::User { org, user } = signal {
            self.callers.published(org, user);
        }
    }

    /// The bus started (`true`) or stopped (`false`) listening. Signals published while it
    /// did not listen are lost, so the caller cache starts empty either way, and is used only
    /// while it listens.
    pub fn set_listening(&self, up: bool) {
        self.callers.listening(up);
    }

    fn index(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Waiters>> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers interest in `key`; the registration is woken by every signal under it until
    /// it is dropped.
    pub fn register(self: &Arc<Self>, key: Key) -> Registration {
        self.register_with(key, Arc::new(Notify::new()))
    }

    /// Registers `notify` under `key` (a background job's own wake-up).
    pub fn register_with(self: &Arc<Self>, key: Key, notify: Arc<Notify>) -> Registration {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.index()
            .entry(key)
            .or_default()
            .push((id, notify.clone()));
        Registration {
            hub: self.clone(),
            key,
            id,
            notify,
        }
    }

    /// Wakes every registration under the signal's key (a signal from the broker).
    pub fn deliver(&self, signal: Signal) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        match signal {
            Signal::Timeline { event, .. } => {
                self.live_events
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(event);
            }
            // Before anyone is woken: a socket re-checking its caller must not find the old
            // answer in the cache.
            Signal::User { org, user } => self.callers.changed(org, user),
            _ => {}
        }
        self.wake(Key::from(signal));
    }

    /// For the catch-up read: whether the timeline event `event` found in the database still
    /// needs its signals delivered, that is whether its broker signal never arrived. Without
    /// this, every safety read woke each subscription of every contact written to in the last
    /// interval (10,000 subscribers re-reading at once, about 3 s of stall on one SQLite
    /// connection, in `benches/live.rs`), though they had all been told already.
    pub fn missed_event(&self, event: i64) -> bool {
        !self
            .live_events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&event)
    }

    /// For the catch-up read, once it has looked at every event up to `event`: forgets the
    /// signals of those events (what arrives later stays for the next read).
    pub fn forget_events_up_to(&self, event: i64) {
        self.live_events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|id| *id > event);
    }

    /// Wakes every registration under `key`.
    pub fn wake(&self, key: Key) {
        if let Some(waiters) = self.index().get(&key) {
            for (_, notify) in waiters {
                notify.notify_one();
            }
        }
    }

    /// After the bus reconnected: wakes the registrations whose changes cannot be found by the
    /// catch-up read (open sockets re-check their user, the reminder scheduler and the
    /// delivery worker look again).
    pub fn wake_after_reconnect(&self) {
        for (key, waiters) in self.index().iter() {
            if key.woken_after_reconnect() {
                for (_, notify) in waiters {
                    notify.notify_one();
                }
            }
        }
    }

    /// Registrations currently held (for metrics and tests).
    pub fn registrations(&self) -> usize {
        self.index().values().map(Vec::len).sum()
    }

    /// Signals delivered to this hub since it started (for metrics and tests).
    pub fn signals_delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    fn remove(&self, key: Key, id: u64) {
        let mut index = self.index();
        if let Some(waiters) = index.get_mut(&key) {
            waiters.retain(|(other, _)| *other != id);
            if waiters.is_empty() {
                index.remove(&key);
            }
        }
    }
}

/// Interest in one key, until dropped.
#[derive(Debug)]
pub struct Registration {
    hub: Arc<Hub>,
    key: Key,
    id: u64,
    notify: Arc<Notify>,
}

impl Registration {
    /// Waits until a signal under the key arrives (at once when one arrived since the last
    /// wait: wake-ups are never lost, and several collapse into one).
    pub async fn changed(&self) {
        self.notify.notified().await;
    }

    /// The key this registration waits for.
    pub fn key(&self) -> Key {
        self.key
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.remove(self.key, self.id);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const CONTACT: Key = Key::Contact { org: 1, contact: 2 };

    async fn woken(registration: &Registration) -> bool {
        tokio::time::timeout(Duration::from_millis(50), registration.changed())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_signal_wakes_only_its_key() {
        let hub = Arc::new(Hub::default());
        let contact = hub.register(CONTACT);
        let other = hub.register(Key::Contact { org: 1, contact: 3 });
        let other_org = hub.register(Key::Contact { org: 9, contact: 2 });
        hub.deliver(Signal::Timeline {
            org: 1,
            contact: 2,
            event: 10,
        });
        assert!(woken(&contact).await);
        assert!(!woken(&other).await);
        assert!(!woken(&other_org).await);
    }

    #[test]
    fn the_catch_up_read_skips_events_whose_signal_arrived_until_it_has_looked() {
        let hub = Hub::default();
        hub.deliver(Signal::Timeline {
            org: 1,
            contact: 2,
            event: 10,
        });
        hub.deliver(Signal::Timeline {
            org: 1,
            contact: 2,
            event: 12,
        });
        assert!(!hub.missed_event(10), "its signal arrived");
        assert!(hub.missed_event(11), "written, never signalled");
        // The read looked up to 11: 12 arrived after it and stays known for the next one.
        hub.forget_events_up_to(11);
        assert!(hub.missed_event(10));
        assert!(!hub.missed_event(12));
    }

    #[tokio::test]
    async fn a_signal_before_the_wait_is_not_lost_and_several_collapse() {
        let hub = Arc::new(Hub::default());
        let registration = hub.register(Key::Reminders { org: 1, user: 5 });
        for _ in 0..3 {
            hub.deliver(Signal::Reminders { org: 1, user: 5 });
        }
        assert!(woken(&registration).await);
        assert!(!woken(&registration).await, "three signals, one wake-up");
    }

    #[tokio::test]
    async fn a_dropped_registration_leaves_the_index() {
        let hub = Arc::new(Hub::default());
        let first = hub.register(CONTACT);
        let second = hub.register(CONTACT);
        assert_eq!(hub.registrations(), 2);
        drop(first);
        assert_eq!(hub.registrations(), 1);
        hub.wake(CONTACT);
        assert!(woken(&second).await);
        drop(second);
        assert_eq!(hub.registrations(), 0);
        assert!(hub.index().is_empty());
    }

    #[tokio::test]
    async fn a_reconnect_wakes_what_reading_cannot_catch_up() {
        let hub = Arc::new(Hub::default());
        let user = hub.register(Key::User { org: 1, user: 1 });
        let schedule = hub.register(Key::ReminderSchedule);
        let contact = hub.register(CONTACT);
        hub.wake_after_reconnect();
        assert!(woken(&user).await);
        assert!(woken(&schedule).await);
        assert!(!woken(&contact).await, "caught up by reading instead");
    }
}
