//! Deterministic batching: the one N+1 strategy. A field asks a [`Batcher`] for the row it
//! shows; the batcher only notes the key. The request's [`Dispatcher`] starts every noted batch
//! (one statement each) when execution can make no more progress without them, so a page of 5
//! and a page of 50 take the same statements, however slowly the machine runs.
//!
//! Why not a timing window (async-graphql's `DataLoader` waits 1 ms): the engine resolves a
//! list through nested `FuturesUnordered`s, which hand control back to the runtime after every
//! two items that still have work to do. Under load the window closes half-way through a page
//! and the batch splits, so a statement count is not a property of the query any more.
//! [`Driven`] instead polls execution with a waker that notes whether execution asked to be
//! polled again (a yield, more work now) or is waiting (for batches or other I/O), and
//! dispatches only in the second case, and only once every batch it started before has
//! answered (so the keys noted after the answers of several batches go out together, whatever
//! order those answers came in). Batches run inside the same poll, so every answer of one
//! batch is delivered before execution looks at any of them.
//!
//! A dispatcher that nothing drives (a schema executed directly) falls back to a short timer,
//! so a load never waits forever. Batchers keep no cache: a live subscription reads each
//! event's rows as they are now.

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
    time::Duration,
};

use futures_util::{
    Stream, StreamExt,
    future::{BoxFuture, join_all},
    stream::FuturesUnordered,
};
use tokio::sync::oneshot;

use crate::error::ApiError;

/// What a batch fetch answers: the rows found, by key (a missing key has no row).
pub type Fetched<V> = async_graphql::Result<HashMap<i64, V>>;

/// Reads the rows of many keys in one statement.
pub type FetchFn<V> = Box<dyn Fn(Vec<i64>) -> BoxFuture<'static, Fetched<V>> + Send + Sync>;

/// How long an undriven dispatcher waits before starting what was asked for.
const UNDRIVEN_DELAY: Duration = Duration::from_millis(2);

/// A batcher with keys waiting, seen from the dispatcher.
trait Pending: Send + Sync {
    /// Takes the waiting keys and returns the fetch that answers them.
    fn start(&self) -> Option<BoxFuture<'static, ()>>;
}

/// The batches of one request (or one WebSocket operation) waiting to start.
#[derive(Default)]
pub struct Dispatcher {
    waiting: Mutex<Vec<Arc<dyn Pending>>>,
    driven: AtomicBool,
}

impl Dispatcher {
    /// A dispatcher for one request.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn note(self: &Arc<Self>, batcher: Arc<dyn Pending>) {
        lock(&self.waiting).push(batcher);
        if !self.driven.load(Ordering::Acquire) {
            let this = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(UNDRIVEN_DELAY).await;
                join_all(this.start_all()).await;
            });
        }
    }

    /// Starts every waiting batch.
    fn start_all(&self) -> Vec<BoxFuture<'static, ()>> {
        let waiting = std::mem::take(&mut *lock(&self.waiting));
        waiting.iter().filter_map(|b| b.start()).collect()
    }
}

/// Locks a mutex whose data stays valid if a holder panicked (only plain pushes and takes
/// happen under these locks).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waiting keys of one batcher and who waits for them.
struct Queue<V> {
    keys: HashSet<i64>,
    waiters: Vec<(i64, oneshot::Sender<async_graphql::Result<Option<V>>>)>,
}

/// Loads rows of one kind by key, batched with every other key the request asks for at the
/// same point of execution.
pub struct Batcher<V> {
    fetch: Arc<FetchFn<V>>,
    dispatcher: Arc<Dispatcher>,
    queue: Mutex<Queue<V>>,
    /// Answers read ahead for a burst of records (see [`Batcher::prime`]).
    primed: Mutex<HashMap<i64, Option<V>>>,
}

impl<V: Clone + Send + Sync + 'static> Batcher<V> {
    /// A batcher that reads through `fetch`, dispatched by `dispatcher`.
    pub fn new(dispatcher: &Arc<Dispatcher>, fetch: FetchFn<V>) -> Arc<Self> {
        Arc::new(Self {
            fetch: Arc::new(fetch),
            dispatcher: dispatcher.clone(),
            queue: Mutex::new(Queue {
                keys: HashSet::new(),
                waiters: Vec::new(),
            }),
            primed: Mutex::default(),
        })
    }

    /// Reads `keys` in one batch and keeps the answers (a key without a row answers `None`)
    /// for the loads that follow, in place of what was kept before. For a live subscription,
    /// whose events arrive in bursts and are resolved one at a time: it reads the rows of a
    /// whole burst at once, as it is polled, and the events' fields then find them here.
    pub async fn prime(self: &Arc<Self>, keys: &[i64]) -> async_graphql::Result<()> {
        lock(&self.primed).clear();
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        keys.dedup();
        let answers =
            futures_util::future::try_join_all(keys.iter().map(|k| self.load_one(*k))).await?;
        let mut primed = lock(&self.primed);
        primed.extend(keys.into_iter().zip(answers));
        Ok(())
    }

    /// The row of `key`, or `None` when there is none (or the caller may not see it).
    pub async fn load_one(self: &Arc<Self>, key: i64) -> async_graphql::Result<Option<V>> {
        if let Some(answer) = lock(&self.primed).get(&key) {
            return Ok(answer.clone());
        }
        let (tx, rx) = oneshot::channel();
        let first = {
            let mut queue = lock(&self.queue);
            queue.keys.insert(key);
            queue.waiters.push((key, tx));
            queue.waiters.len() == 1
        };
        if first {
            self.dispatcher.note(self.clone());
        }
        // A batch that never answered (its fetch panicked, the runtime is shutting down) is a
        // fault of the server: `INTERNAL`, not the caller's `BAD_USER_INPUT`.
        rx.await.unwrap_or_else(|_| {
            Err(async_graphql::Error::new_with_source(ApiError::Internal(
                "a batched read was dropped before it answered".into(),
            )))
        })
    }
}

impl<V: Clone + Default + Send + Sync + 'static> Batcher<V> {
    /// The rows hanging off `key` (a loader of lists): empty when there are none.
    pub async fn load_or_default(self: &Arc<Self>, key: i64) -> async_graphql::Result<V> {
        Ok(self.load_one(key).await?.unwrap_or_default())
    }
}

impl<V: Clone + Send + Sync + 'static> Pending for Batcher<V> {
    fn start(&self) -> Option<BoxFuture<'static, ()>> {
        let Queue { keys, waiters } = std::mem::replace(
            &mut *lock(&self.queue),
            Queue {
                keys: HashSet::new(),
                waiters: Vec::new(),
            },
        );
        if waiters.is_empty() {
            return None;
        }
        let mut keys: Vec<i64> = keys.into_iter().collect();
        keys.sort_unstable();
        let fetch = self.fetch.clone();
        Some(Box::pin(async move {
            let result = fetch(keys).await;
            for (key, waiter) in waiters {
                let answer = match &result {
                    Ok(rows) => Ok(rows.get(&key).cloned()),
                    Err(error) => Err(error.clone()),
                };
                // A waiter that went away (its request was cancelled) needs no answer.
                let _ = waiter.send(answer);
            }
        }))
    }
}

/// Notes whether the future it wakes asked to be polled again while it was being polled.
struct Flag {
    woken: AtomicBool,
    outer: Waker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.outer.wake_by_ref();
    }
}

/// Execution (a future or a stream) driven so that its batches start exactly when it waits.
pub struct Driven<T> {
    inner: Pin<Box<T>>,
    dispatcher: Option<Arc<Dispatcher>>,
    running: FuturesUnordered<BoxFuture<'static, ()>>,
}

impl<T> Driven<T> {
    /// Drives `inner`, starting the batches of `dispatcher` (none for an anonymous request).
    pub fn new(dispatcher: Option<Arc<Dispatcher>>, inner: T) -> Self {
        if let Some(d) = &dispatcher {
            d.driven.store(true, Ordering::Release);
        }
        Self {
            inner: Box::pin(inner),
            dispatcher,
            running: FuturesUnordered::new(),
        }
    }

    /// Polls `step` (one poll of the inner future or stream) until it is ready, yields, or
    /// waits with no batch left to start.
    fn drive<R>(
        &mut self,
        cx: &mut Context<'_>,
        mut step: impl FnMut(Pin<&mut T>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        loop {
            // Deliver what finished batches answered before execution looks again.
            while let Poll::Ready(Some(())) = self.running.poll_next_unpin(cx) {}
            let flag = Arc::new(Flag {
                woken: AtomicBool::new(false),
                outer: cx.waker().clone(),
            });
            let waker = Waker::from(flag.clone());
            let polled = step(self.inner.as_mut(), &mut Context::from_waker(&waker));
            if polled.is_ready() {
                return polled;
            }
            if flag.woken.load(Ordering::Acquire) {
                // Execution yielded with work left (the waker already rescheduled us).
                return Poll::Pending;
            }
            if !self.running.is_empty() {
                // Wait for every running batch before starting the next: the fields that each
                // one's answers unblock note their keys first, so one level of the query is
                // one batch per loader whichever batch answers first.
                return Poll::Pending;
            }
            let started = match &self.dispatcher {
                Some(d) => d.start_all(),
                None => Vec::new(),
            };
            if started.is_empty() {
                return Poll::Pending;
            }
            self.running.extend(started);
        }
    }
}

impl<F: Future> Future for Driven<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.get_mut().drive(cx, |inner, cx| inner.poll(cx))
    }
}

impl<S: Stream> Stream for Driven<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.get_mut().drive(cx, |inner, cx| inner.poll_next(cx))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use futures_util::future::try_join_all;

    use super::*;

    /// A batcher of squares that counts its fetches.
    fn squares(dispatcher: &Arc<Dispatcher>, fetches: &Arc<AtomicUsize>) -> Arc<Batcher<i64>> {
        let fetches = fetches.clone();
        Batcher::new(
            dispatcher,
            Box::new(move |keys: Vec<i64>| {
                fetches.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    tokio::task::yield_now().await;
                    Ok(keys.into_iter().map(|k| (k, k * k)).collect())
                })
            }),
        )
    }

    /// A page of `n` items, each reading two related rows, the second depending on the first,
    /// nested as the engine nests lists and objects (it yields after every two items).
    async fn page(users: Arc<Batcher<i64>>, n: i64) -> async_graphql::Result<Vec<i64>> {
        try_join_all((0..n).map(|i| {
            let users = users.clone();
            async move {
                let mut fields = FuturesUnordered::new();
                fields.push(Box::pin({
                    let users = users.clone();
                    async move {
                        let first = users.load_or_default(i).await?;
                        let second = users.load_one(1000 + first % 7).await?;
                        Ok::<_, async_graphql::Error>(second.unwrap_or_default())
                    }
                }));
                let mut sum = 0;
                while let Some(value) = fields.next().await {
                    sum += value?;
                }
                Ok(sum)
            }
        }))
        .await
    }

    #[tokio::test]
    async fn a_driven_page_takes_one_fetch_per_level_whatever_its_size() {
        for n in [1, 5, 50, 500] {
            let dispatcher = Dispatcher::new();
            let fetches = Arc::new(AtomicUsize::new(0));
            let users = squares(&dispatcher, &fetches);
            let sums = Driven::new(Some(dispatcher), page(users, n))
                .await
                .expect("page");
            assert_eq!(sums.len() as i64, n);
            assert_eq!(sums[3.min(n as usize - 1)], {
                let i = 3.min(n - 1);
                (1000 + (i * i) % 7) * (1000 + (i * i) % 7)
            });
            assert_eq!(fetches.load(Ordering::SeqCst), 2, "fetches for {n} items");
        }
    }

    /// A batcher answering `k + 1` after `delay`, counting its fetches.
    fn slow(
        dispatcher: &Arc<Dispatcher>,
        delay: Duration,
        fetches: &Arc<AtomicUsize>,
    ) -> Arc<Batcher<i64>> {
        let fetches = fetches.clone();
        Batcher::new(
            dispatcher,
            Box::new(move |keys: Vec<i64>| {
                fetches.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    tokio::time::sleep(delay).await;
                    Ok(keys.into_iter().map(|k| (k, k + 1)).collect())
                })
            }),
        )
    }

    #[tokio::test]
    async fn keys_noted_after_several_batches_answer_go_out_together() {
        // Contacts answer fast and channels slowly; both lead to users. The users of both
        // are one batch, whichever answers first.
        let dispatcher = Dispatcher::new();
        let (fast, slow_count, users_count) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let contacts = slow(&dispatcher, Duration::ZERO, &fast);
        let channels = slow(&dispatcher, Duration::from_millis(30), &slow_count);
        let users = slow(&dispatcher, Duration::ZERO, &users_count);
        let items = (0..20).map(|i| {
            let (contacts, channels, users) = (contacts.clone(), channels.clone(), users.clone());
            async move {
                let (a, b) = futures_util::future::join(
                    async {
                        let c = contacts.load_or_default(i).await?;
                        users.load_one(c).await
                    },
                    async {
                        let c = channels.load_or_default(100 + i).await?;
                        users.load_one(c).await
                    },
                )
                .await;
                Ok::<_, async_graphql::Error>(a?.unwrap_or_default() + b?.unwrap_or_default())
            }
        });
        let sums = Driven::new(Some(dispatcher), try_join_all(items))
            .await
            .expect("page");
        assert_eq!(sums[0], 2 + 102);
        assert_eq!(users_count.load(Ordering::SeqCst), 1, "one users batch");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_do_not_split_while_the_runtime_is_busy() {
        // Busy tasks compete for both workers; the driven page still fetches once per level.
        let stop = Arc::new(AtomicBool::new(false));
        let busy: Vec<_> = (0..4)
            .map(|_| {
                let stop = stop.clone();
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::black_box((0..20_000).sum::<u64>());
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for _ in 0..20 {
            let dispatcher = Dispatcher::new();
            let fetches = Arc::new(AtomicUsize::new(0));
            let users = squares(&dispatcher, &fetches);
            Driven::new(Some(dispatcher), page(users, 200))
                .await
                .expect("page");
            assert_eq!(fetches.load(Ordering::SeqCst), 2);
        }
        stop.store(true, Ordering::Relaxed);
        for task in busy {
            task.await.expect("busy task");
        }
    }

    #[tokio::test]
    async fn an_undriven_load_still_answers() {
        let dispatcher = Dispatcher::new();
        let fetches = Arc::new(AtomicUsize::new(0));
        let users = squares(&dispatcher, &fetches);
        assert_eq!(users.load_one(9).await.expect("load"), Some(81));
    }

    #[tokio::test]
    async fn a_failed_fetch_answers_every_waiter_with_its_error() {
        let dispatcher = Dispatcher::new();
        let failing: Arc<Batcher<i64>> = Batcher::new(
            &dispatcher,
            Box::new(|_| Box::pin(async { Err(async_graphql::Error::new("database down")) })),
        );
        let both = Driven::new(
            Some(dispatcher),
            futures_util::future::join(failing.load_one(1), failing.load_one(2)),
        )
        .await;
        for answer in [both.0, both.1] {
            assert_eq!(answer.expect_err("fails").message, "database down");
        }
    }

    #[tokio::test]
    async fn a_batch_that_never_answers_is_an_internal_error() {
        let dispatcher = Dispatcher::new();
        let lost: Arc<Batcher<i64>> = Batcher::new(
            &dispatcher,
            Box::new(|_| Box::pin(async { panic!("the fetch died") })),
        );
        let error = lost.load_one(1).await.expect_err("no answer");
        let source = error
            .source
            .as_ref()
            .and_then(|s| s.downcast_ref::<ApiError>());
        assert!(matches!(source, Some(ApiError::Internal(_))), "{error:?}");
    }

    #[tokio::test]
    async fn a_driven_stream_dispatches_between_items() {
        let dispatcher = Dispatcher::new();
        let fetches = Arc::new(AtomicUsize::new(0));
        let users = squares(&dispatcher, &fetches);
        let items = futures_util::stream::iter(0..3).then(move |i| {
            let users = users.clone();
            async move { page(users, 10).await.map(|s| s.len() as i64 + i) }
        });
        let got: Vec<_> = Driven::new(Some(dispatcher), items).collect().await;
        assert_eq!(got.len(), 3);
        assert_eq!(fetches.load(Ordering::SeqCst), 6);
    }
}
