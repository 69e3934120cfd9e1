//! The caller cache: who a token stands for (its user, role or contact, and whether its sign-in
//! session is still open), remembered in process so that a request does not read the user and
//! the session from the database each time, yet loses access at once when either changes.
//!
//! **What keeps it right.** Every change that can take a caller's access away or alter it
//! (deactivation and reactivation, a new role, name or email, a signed-out or revoked session,
//! a changed password) publishes [`Signal::User`](crate::bus::Signal::User) on its own
//! transaction, and the bus hands it to this cache on every gateway process sharing the
//! database (on PostgreSQL through `LISTEN`, when the transaction commits; see `crate::bus`).
//! A signal drops every entry of that user. Around that:
//!
//! - **The publishing process itself** does not wait for its own notification: the statement
//!   that publishes marks the user *pending* ([`CallerCache::published`], from the database
//!   connection's statement hook, before the commit). A pending user is read from the
//!   database on every request and never stored until their signal arrives (or, should it
//!   never come, for example after a rollback, until the time to live has passed). So the
//!   request right after `deactivateUser` on the same process is refused, even before the
//!   notification comes back. Another process is told by the notification itself: there the
//!   change takes effect within the notification's latency (milliseconds).
//! - **A read that raced with a change** is not stored: every invalidation advances an epoch,
//!   and a result is stored only if the epoch has not moved since the lookup that missed
//!   (a read that began before a change was published may have seen the old rows).
//! - **The listening connection** ([`CallerCache::listening`]): until the bus listens, from
//!   the moment its connection is found lost until a new one listens, after it fell behind,
//!   and while the catch-up read that follows each of these runs (signals wait for it),
//!   nothing is served from the cache nor stored in it (every request reads the database, as
//!   before the cache); when it listens again the cache starts empty, because notifications
//!   sent in between were lost.
//! - **SQLite** has no cross-process notifications: one process owns the file (see the
//!   README), and its in-process bus carries the same signals through the same calls. Should
//!   several gateways of one process serve the same file (the tests run two), each one only
//!   trusts its cache while it is the file's only gateway ([`SqliteOwner`]), and starts empty
//!   again after another one has come.
//! - **A time to live** (`THREADLINE_CALLER_CACHE_TTL_SECS`, 30 s by default) bounds what a
//!   change made outside the gateway (an `UPDATE users` typed into `psql`) or a silently dead
//!   listening connection can leave stale; **a size bound** (`THREADLINE_CALLER_CACHE_ENTRIES`,
//!   10,000 by default, `0` turns the cache off) keeps a client with many valid tokens from
//!   growing memory: past it, expired entries go first, then arbitrary ones (an evicted
//!   caller is simply read from the database again).
//!
//! Refusals are cached too (a deactivated user's token, a signed-out session), so a client
//! that keeps sending one costs no statement either; a reactivation publishes the same signal.
//! Only the gateway's own HS256 tokens are cached: an identity provider's token is resolved by
//! email on every request (see `auth::authenticate_oidc`).

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use super::{Actor, TokenSubject};

/// The default time an entry is served: 30 s.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);
/// The default number of entries held: 10,000.
pub const DEFAULT_ENTRIES: usize = 10_000;

/// Pending users (changes published by this process whose signal has not come back) kept
/// before the expired ones are swept.
const PENDING_SWEEP_AT: usize = 1024;

/// How big the cache may grow and how long an entry is served.
#[derive(Clone, Copy, Debug)]
pub struct CacheSettings {
    /// The most entries (one per user and sign-in session); `0` turns the cache off.
    pub entries: usize,
    /// How long an entry is served without a signal.
    pub ttl: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            entries: DEFAULT_ENTRIES,
            ttl: DEFAULT_TTL,
        }
    }
}

/// One user of one organization: what a [`Signal::User`](crate::bus::Signal::User) names.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct UserKey {
    org: i64,
    user: i64,
}

/// What was found for one token subject: the actor, or `None` when the token is refused.
struct Entry {
    session: Option<i64>,
    actor: Option<Actor>,
    expires: Instant,
}

/// Changes this process published for a user whose signal has not come back yet.
struct Pending {
    count: u32,
    until: Instant,
}

#[derive(Default)]
struct Inner {
    /// Whether the bus listens: entries are served and stored only then.
    listening: bool,
    /// Advanced by every invalidation: a read that missed stores its result only if no
    /// invalidation came in between.
    epoch: u64,
    /// The entries by user (a user has one per sign-in session, and one for tokens without).
    users: HashMap<UserKey, Vec<Entry>>,
    /// How many entries `users` holds.
    len: usize,
    pending: HashMap<UserKey, Pending>,
    /// The other gateways' arrivals on the SQLite file seen so far (see [`SqliteOwner`]).
    arrivals_seen: u64,
}

impl Inner {
    fn clear(&mut self) {
        self.users.clear();
        self.len = 0;
        self.epoch += 1;
    }

    fn forget(&mut self, key: UserKey) {
        if let Some(entries) = self.users.remove(&key) {
            self.len -= entries.len();
        }
        self.epoch += 1;
    }

    /// Whether `key` has a change of this process in flight; forgets it once expired.
    fn is_pending(&mut self, key: UserKey, now: Instant) -> bool {
        match self.pending.get(&key) {
            Some(pending) if pending.until > now => true,
            Some(_) => {
                self.pending.remove(&key);
                false
            }
            None => false,
        }
    }

    /// Makes room for one more entry: expired ones first, then about a sixteenth of the users.
    fn make_room(&mut self, capacity: usize, now: Instant) {
        if self.len < capacity {
            return;
        }
        let mut removed = 0;
        self.users.retain(|_, entries| {
            let before = entries.len();
            entries.retain(|e| e.expires > now);
            removed += before - entries.len();
            !entries.is_empty()
        });
        self.len -= removed;
        if self.len < capacity {
            return;
        }
        let victims: Vec<UserKey> = self
            .users
            .keys()
            .take((self.users.len() / 16).max(1))
            .copied()
            .collect();
        for key in victims {
            if let Some(entries) = self.users.remove(&key) {
                self.len -= entries.len();
            }
        }
    }
}

/// Whether a lookup found the caller.
pub enum Lookup {
    /// Found: the actor, or `None` when the token is refused (user inactive, session ended).
    Hit(Option<Actor>),
    /// Not found (or not to be trusted now): read the database, then hand the result and this
    /// ticket to [`CallerCache::store`].
    Miss(Ticket),
}

/// A missed lookup, to store the database's answer under if nothing changed in between.
#[derive(Debug)]
pub struct Ticket {
    key: UserKey,
    session: Option<i64>,
    epoch: u64,
}

/// The process's cache of token callers (see the module documentation).
pub struct CallerCache {
    settings: CacheSettings,
    inner: Mutex<Inner>,
    /// Set on SQLite: the file's registration among this process's gateways.
    owner: Option<SqliteOwner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Default for CallerCache {
    /// A cache that holds nothing: every lookup misses (the gateway's tools, unit tests).
    fn default() -> Self {
        Self::new(
            CacheSettings {
                entries: 0,
                ttl: DEFAULT_TTL,
            },
            None,
        )
    }
}

impl CallerCache {
    /// A cache with `settings`; `owner` is the SQLite file's registration (`None` on
    /// PostgreSQL, where notifications reach every process).
    pub fn new(settings: CacheSettings, owner: Option<SqliteOwner>) -> Self {
        Self {
            settings,
            inner: Mutex::default(),
            owner,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn enabled(&self) -> bool {
        self.settings.entries > 0
    }

    /// Whether entries may be served and stored now: the bus listens and, on SQLite, this is
    /// the file's only gateway in the process (and has been since the cache was last emptied).
    fn trusted(&self, inner: &mut Inner) -> bool {
        if !inner.listening {
            return false;
        }
        match &self.owner {
            None => true,
            Some(owner) => {
                let (gateways, arrivals) = owner.state();
                if arrivals != inner.arrivals_seen {
                    // Another gateway came (and may have gone): what it changed never reached
                    // this cache.
                    inner.clear();
                    inner.arrivals_seen = arrivals;
                }
                gateways == 1
            }
        }
    }

    /// The cached caller of `subject`, or a ticket to store what the database says.
    pub fn lookup(&self, subject: &TokenSubject) -> Lookup {
        let key = UserKey {
            org: subject.org_id,
            user: subject.user_id,
        };
        let mut inner = self.lock();
        let ticket = Ticket {
            key,
            session: subject.session_id,
            epoch: inner.epoch,
        };
        if !self.enabled() {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return Lookup::Miss(ticket);
        }
        let now = Instant::now();
        let found = if self.trusted(&mut inner) && !inner.is_pending(key, now) {
            inner.users.get(&key).and_then(|entries| {
                entries
                    .iter()
                    .find(|e| e.session == subject.session_id && e.expires > now)
                    .map(|e| e.actor.clone())
            })
        } else {
            None
        };
        match found {
            Some(actor) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Lookup::Hit(actor)
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                // The epoch after `trusted` may have emptied the cache.
                Lookup::Miss(Ticket {
                    epoch: inner.epoch,
                    ..ticket
                })
            }
        }
    }

    /// Stores what the database said for a missed lookup (`None`: the token is refused),
    /// unless something was invalidated since the lookup, the user has a change of this
    /// process in flight, or the cache is not to be trusted now.
    pub fn store(&self, ticket: Ticket, actor: Option<&Actor>) {
        if !self.enabled() {
            return;
        }
        let now = Instant::now();
        let mut inner = self.lock();
        // `trusted` first: it may empty the cache, which moves the epoch.
        if !self.trusted(&mut inner)
            || ticket.epoch != inner.epoch
            || inner.is_pending(ticket.key, now)
        {
            return;
        }
        let expires = now + self.settings.ttl;
        if let Some(entry) = inner
            .users
            .get_mut(&ticket.key)
            .and_then(|entries| entries.iter_mut().find(|e| e.session == ticket.session))
        {
            entry.actor = actor.cloned();
            entry.expires = expires;
            return;
        }
        inner.make_room(self.settings.entries, now);
        inner.users.entry(ticket.key).or_default().push(Entry {
            session: ticket.session,
            actor: actor.cloned(),
            expires,
        });
        inner.len += 1;
    }

    /// A transaction of this process published a change of `user` (not committed yet): until
    /// its signal arrives, the user is read from the database on every request.
    pub fn published(&self, org: i64, user: i64) {
        if !self.enabled() {
            return;
        }
        let key = UserKey { org, user };
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.pending.len() >= PENDING_SWEEP_AT {
            inner.pending.retain(|_, p| p.until > now);
        }
        let pending = inner.pending.entry(key).or_insert(Pending {
            count: 0,
            until: now,
        });
        pending.count = pending.count.saturating_add(1);
        pending.until = now + self.settings.ttl;
        inner.forget(key);
    }

    /// The bus delivered a change of `user` (committed, by any process): forgets their
    /// entries, and one change of this process in flight for them.
    pub fn changed(&self, org: i64, user: i64) {
        if !self.enabled() {
            return;
        }
        let key = UserKey { org, user };
        let mut inner = self.lock();
        inner.forget(key);
        if let Some(pending) = inner.pending.get_mut(&key) {
            pending.count = pending.count.saturating_sub(1);
            if pending.count == 0 {
                inner.pending.remove(&key);
            }
        }
    }

    /// The bus started (`true`) or stopped (`false`) listening: either way the cache starts
    /// empty, and it is used only while the bus listens.
    pub fn listening(&self, up: bool) {
        let mut inner = self.lock();
        inner.clear();
        inner.listening = up;
    }

    /// How many entries the cache holds.
    pub fn len(&self) -> usize {
        self.lock().len
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lookups answered from the cache, and lookups that read the database, since start.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite: which gateways of this process serve one file.

/// The gateways of this process serving one SQLite file.
#[derive(Debug, Default)]
struct FileGateways {
    /// How many serve it now.
    gateways: AtomicUsize,
    /// How many ever started serving it.
    arrivals: AtomicU64,
}

type Registry = Mutex<HashMap<PathBuf, Weak<FileGateways>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

/// One gateway's registration as a server of an SQLite file, until dropped. SQLite's bus is
/// in-process and per gateway, so a gateway cannot hear what another one changed in the same
/// file: its cache is trusted only while it is the file's only gateway.
#[derive(Debug)]
pub struct SqliteOwner {
    file: Arc<FileGateways>,
    /// The arrivals counted when this gateway registered (its own included).
    arrived: u64,
}

impl SqliteOwner {
    /// Registers a gateway serving the SQLite database of `url` (`sqlite://path?...`); `None`
    /// for any other URL. An in-memory database is never shared, so it gets a registration of
    /// its own.
    pub fn register(url: &str) -> Option<Self> {
        let path = sqlite_path(url)?;
        let file = match path {
            Some(path) => {
                let path = std::fs::canonicalize(&path).unwrap_or(path);
                let mut files = registry().lock().unwrap_or_else(PoisonError::into_inner);
                files.retain(|_, file| file.strong_count() > 0);
                let file = files.get(&path).and_then(Weak::upgrade).unwrap_or_default();
                files.insert(path, Arc::downgrade(&file));
                file
            }
            None => Arc::default(),
        };
        file.gateways.fetch_add(1, Ordering::SeqCst);
        let arrived = file.arrivals.fetch_add(1, Ordering::SeqCst) + 1;
        Some(Self { file, arrived })
    }

    /// How many gateways serve the file now, and the arrivals since this one registered.
    fn state(&self) -> (usize, u64) {
        (
            self.file.gateways.load(Ordering::SeqCst),
            self.file.arrivals.load(Ordering::SeqCst) - self.arrived,
        )
    }
}

impl Drop for SqliteOwner {
    fn drop(&mut self) {
        self.file.gateways.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The file of an SQLite URL: `Some(Some(path))`, `Some(None)` for an in-memory database,
/// `None` when the URL is not SQLite's.
fn sqlite_path(url: &str) -> Option<Option<PathBuf>> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let memory =
        path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory");
    Some((!memory).then(|| Path::new(path).to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::actor::{ActorKind, Role};

    fn subject(user: i64, session: Option<i64>) -> TokenSubject {
        TokenSubject {
            user_id: user,
            org_id: 1,
            session_id: session,
        }
    }

    fn actor(user: i64, role: Role) -> Actor {
        Actor {
            user_id: user,
            org_id: 1,
            kind: ActorKind::Staff(role),
            name: format!("user {user}"),
            session_id: None,
        }
    }

    fn listening(entries: usize, ttl: Duration) -> CallerCache {
        let cache = CallerCache::new(CacheSettings { entries, ttl }, None);
        cache.listening(true);
        cache
    }

    /// Looks `subject` up; on a miss stores `answer` at once.
    fn fill(cache: &CallerCache, subject: &TokenSubject, answer: Option<&Actor>) {
        match cache.lookup(subject) {
            Lookup::Miss(ticket) => cache.store(ticket, answer),
            Lookup::Hit(_) => panic!("expected a miss"),
        }
    }

    fn hit(cache: &CallerCache, subject: &TokenSubject) -> Option<Option<Actor>> {
        match cache.lookup(subject) {
            Lookup::Hit(actor) => Some(actor),
            Lookup::Miss(_) => None,
        }
    }

    #[test]
    fn a_stored_caller_is_served_until_their_signal() {
        let cache = listening(100, DEFAULT_TTL);
        let (token, session) = (subject(7, None), subject(7, Some(3)));
        fill(&cache, &token, Some(&actor(7, Role::Admin)));
        fill(&cache, &session, None);
        let served = hit(&cache, &token).flatten().expect("served");
        assert_eq!(served.kind, ActorKind::Staff(Role::Admin));
        assert!(matches!(hit(&cache, &session), Some(None)), "a refusal");
        assert_eq!(cache.len(), 2);
        cache.changed(1, 8);
        assert!(hit(&cache, &token).is_some(), "another user's signal");
        cache.changed(1, 7);
        assert!(hit(&cache, &token).is_none() && hit(&cache, &session).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn a_read_that_raced_with_a_change_is_not_stored() {
        let cache = listening(100, DEFAULT_TTL);
        let token = subject(7, None);
        let Lookup::Miss(ticket) = cache.lookup(&token) else {
            panic!("a miss");
        };
        // The change commits and its signal arrives while the read is in flight.
        cache.changed(1, 7);
        cache.store(ticket, Some(&actor(7, Role::Admin)));
        assert!(hit(&cache, &token).is_none());
        // Any invalidation counts: the epoch is the cache's, not the user's.
        let Lookup::Miss(ticket) = cache.lookup(&token) else {
            panic!("a miss");
        };
        cache.changed(1, 99);
        cache.store(ticket, Some(&actor(7, Role::Admin)));
        assert!(hit(&cache, &token).is_none());
    }

    #[test]
    fn a_change_in_flight_is_read_from_the_database_until_its_signal() {
        let cache = listening(100, DEFAULT_TTL);
        let token = subject(7, None);
        fill(&cache, &token, Some(&actor(7, Role::Admin)));
        cache.published(1, 7);
        assert!(hit(&cache, &token).is_none(), "pending: not served");
        fill(&cache, &token, Some(&actor(7, Role::Member)));
        assert!(hit(&cache, &token).is_none(), "pending: not stored");
        // Two changes in flight: the first signal leaves the second pending.
        cache.published(1, 7);
        cache.changed(1, 7);
        fill(&cache, &token, Some(&actor(7, Role::Member)));
        assert!(hit(&cache, &token).is_none(), "still pending");
        cache.changed(1, 7);
        fill(&cache, &token, Some(&actor(7, Role::Member)));
        let served = hit(&cache, &token).flatten().expect("served again");
        assert_eq!(served.kind, ActorKind::Staff(Role::Member));
    }

    #[test]
    fn a_change_whose_signal_never_comes_is_pending_for_the_ttl_only() {
        let cache = listening(100, Duration::from_millis(30));
        let token = subject(7, None);
        cache.published(1, 7);
        fill(&cache, &token, None);
        assert!(hit(&cache, &token).is_none());
        std::thread::sleep(Duration::from_millis(40));
        fill(&cache, &token, None);
        assert!(matches!(hit(&cache, &token), Some(None)));
    }

    #[test]
    fn nothing_is_served_or_kept_while_the_bus_does_not_listen() {
        let cache = CallerCache::new(CacheSettings::default(), None);
        let token = subject(7, None);
        fill(&cache, &token, Some(&actor(7, Role::Owner)));
        assert!(hit(&cache, &token).is_none(), "not listening yet");
        cache.listening(true);
        fill(&cache, &token, Some(&actor(7, Role::Owner)));
        assert!(hit(&cache, &token).is_some());
        // The connection drops: signals sent now are lost.
        cache.listening(false);
        assert!(hit(&cache, &token).is_none());
        let Lookup::Miss(ticket) = cache.lookup(&token) else {
            panic!("a miss");
        };
        cache.listening(true);
        // A read begun while the bus was down is not stored once it is back.
        cache.store(ticket, Some(&actor(7, Role::Owner)));
        assert!(hit(&cache, &token).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn entries_expire_and_the_size_is_bounded() {
        let cache = listening(64, Duration::from_millis(30));
        let token = subject(1, None);
        fill(&cache, &token, Some(&actor(1, Role::Member)));
        std::thread::sleep(Duration::from_millis(40));
        assert!(hit(&cache, &token).is_none(), "expired");
        for user in 0..10_000 {
            fill(&cache, &subject(user + 100, Some(user)), None);
            assert!(cache.len() <= 64);
        }
        assert!(cache.len() >= 32, "{}", cache.len());
    }

    #[test]
    fn a_size_of_zero_turns_the_cache_off() {
        let cache = listening(0, DEFAULT_TTL);
        let token = subject(7, None);
        fill(&cache, &token, Some(&actor(7, Role::Owner)));
        assert!(hit(&cache, &token).is_none());
        assert_eq!(cache.hits_and_misses(), (0, 2));
    }

    #[test]
    fn an_sqlite_file_trusts_only_its_only_gateway() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let first = CallerCache::new(CacheSettings::default(), SqliteOwner::register(&url));
        first.listening(true);
        let token = subject(7, None);
        fill(&first, &token, Some(&actor(7, Role::Owner)));
        assert!(hit(&first, &token).is_some());
        let second = SqliteOwner::register(&url).expect("sqlite");
        assert!(hit(&first, &token).is_none(), "two gateways on the file");
        fill(&first, &token, Some(&actor(7, Role::Owner)));
        assert!(hit(&first, &token).is_none(), "and nothing stored");
        drop(second);
        assert!(
            hit(&first, &token).is_none(),
            "emptied after the other came"
        );
        fill(&first, &token, Some(&actor(7, Role::Owner)));
        assert!(hit(&first, &token).is_some(), "alone again");
        // Another file, and memory, are not shared.
        let other = format!("sqlite://{}?mode=rwc", dir.path().join("u.db").display());
        let _other = SqliteOwner::register(&other).expect("sqlite");
        let _memory = SqliteOwner::register("sqlite::memory:").expect("sqlite");
        assert!(hit(&first, &token).is_some());
        assert!(SqliteOwner::register("postgres://x@h/db").is_none());
    }
}
