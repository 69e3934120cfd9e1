//! Background work: firing due reminders, delivering webhooks and sweeping attachment
//! storage, all through one runner.
//!
//! Each job is one pass ([`Job::run_once`]) that says what it did; [`run`] repeats it until a
//! cancellation token fires: at once while a pass leaves work behind, when woken ([`Wake`]: a
//! signal on the live-updates bus from any gateway process, see [`crate::bus`], or a nudge
//! from this one), else after its pause (its interval, or sooner when the job knows when its
//! next work is due: the reminder scheduler); after a failed pass it backs off (from a second,
//! doubling up to a minute). A pass in progress is
//! never cut short (it may be in the middle of a transaction): the runner only stops between
//! passes and while it waits, then lets the job finish what it started ([`Job::stop`]); the
//! caller bounds how long it waits for that (see `startup::Application::run_until`). Tests
//! start the gateway with the timers off and run passes themselves through [`Jobs`], so none
//! of them waits for a timer.
//!
//! The durable work lives in tables and is claimed there (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL): reminders (`service::reminders::fire_due`) and webhook deliveries
//! (`service::deliveries::settle_and_claim`, sent by [`crate::delivery`]); both are safe with several
//! gateway processes at once, and the wake-ups only make them prompt.

use std::{future::Future, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tokio::{sync::Notify, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    bus::{Hub, Key, Registration},
    config::Config,
    delivery::{DeliverWebhooks, Drained, PruneWebhookLog},
    error::ApiResult,
    metrics::Metrics,
    service::{
        self,
        attachments::{Storage, SweepReport},
    },
};

/// One kind of periodic work.
pub trait Job: Send + Sync + 'static {
    /// What one pass did.
    type Done: std::fmt::Debug + Send;
    /// The job's name, for logs.
    const NAME: &'static str;

    /// Does one pass and reports what it did.
    fn run_once(
        &self,
        db: &DatabaseConnection,
    ) -> impl Future<Output = ApiResult<Self::Done>> + Send;

    /// Whether the pass left work behind (it stopped at its batch size): the runner then goes
    /// again at once instead of waiting.
    fn more_left(_done: &Self::Done) -> bool {
        false
    }

    /// What wakes the runner before its interval (none: the interval only).
    fn wake(&self) -> Option<Wake> {
        None
    }

    /// How long to wait after a pass that did `done`, at most `every` (a job that knows when
    /// its next work is due waits until then).
    fn pause(&self, _done: &Self::Done, every: Duration) -> Duration {
        every
    }

    /// Finishes what the passes started and left running (called once the runner stops).
    fn stop(&self, _db: &DatabaseConnection) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Wakes a runner before its interval: a nudge from this process, or a signal on the bus
/// from any process (registered with [`Wake::on`]).
#[derive(Clone, Debug, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// Wakes the runner (or its next wait, if it is busy).
    pub fn nudge(&self) {
        self.0.notify_one();
    }

    async fn wait(&self) {
        self.0.notified().await;
    }

    /// Wakes the runner on every bus signal under `key`, for as long as the registration is
    /// held.
    pub fn on(&self, hub: &Arc<Hub>, key: Key) -> Registration {
        hub.register_with(key, self.0.clone())
    }
}

/// Runs passes of `job` until one leaves no work behind; returns what each did.
pub async fn drain<J: Job>(job: &J, db: &DatabaseConnection) -> ApiResult<Vec<J::Done>> {
    let mut passes = Vec::new();
    loop {
        let done = job.run_once(db).await?;
        let more = J::more_left(&done);
        passes.push(done);
        if !more {
            return Ok(passes);
        }
    }
}

/// Runs `runner`, holding `registration` (its bus wake-up) for as long as it runs.
async fn with_registration(registration: Registration, runner: impl Future<Output = ()>) {
    runner.await;
    drop(registration);
}

/// The first back-off after a failed pass (or the job's interval, if shorter).
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// The longest a runner backs off after failed passes.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Runs `job` at once and then every `every` (sooner when woken) until `cancel` fires. A failed
/// pass is logged and tried again after a back-off that doubles, from a second (or `every`, if
/// shorter) up to a minute.
pub async fn run<J: Job>(
    job: J,
    db: DatabaseConnection,
    every: Duration,
    cancel: CancellationToken,
) {
    let wake = job.wake().unwrap_or_default();
    let mut failures: u32 = 0;
    while !cancel.is_cancelled() {
        let (more, next) = match job.run_once(&db).await {
            Ok(done) => {
                tracing::debug!(job = J::NAME, ?done, "pass done");
                failures = 0;
                (J::more_left(&done), job.pause(&done, every))
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::error!(job = J::NAME, %error, failures, "pass failed; trying again later");
                (false, every)
            }
        };
        if more {
            continue;
        }
        let pause = if failures == 0 {
            next.min(every)
        } else {
            // Not from `every`: for the reminder scheduler that is the longest it sleeps
            // (30 s), and a moment without the database must not make reminders a minute late.
            every
                .min(FIRST_BACKOFF)
                .saturating_mul(2u32.saturating_pow(failures.min(16) - 1))
                .min(MAX_BACKOFF.max(every))
        };
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
            () = wake.wait(), if failures == 0 => {}
        }
    }
    job.stop(&db).await;
    tracing::debug!(job = J::NAME, "stopped");
}

/// The reminder scheduler: fires due reminders (see `service::reminders::fire_due`: claimed
/// and marked in one statement, `SKIP LOCKED` on PostgreSQL, so two gateways never fire one
/// reminder twice), then sleeps until the next pending reminder is due. A reminder created or
/// snoozed on any gateway wakes every scheduler through the bus (`Signal::ReminderScheduled`),
/// so a sooner one is not slept past; the runner's interval (`THREADLINE_REMINDER_POLL_MS`) is
/// only the longest it sleeps without looking. Reminders that came due while no gateway ran
/// fire at the first pass after start.
#[derive(Clone, Debug)]
pub struct FireReminders {
    /// The most reminders one pass fires.
    pub batch: u64,
    /// Wakes the scheduler when the schedule changed.
    pub wake: Wake,
}

/// What one pass of [`FireReminders`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fired {
    /// How many reminders it fired.
    pub count: usize,
    /// Whether it stopped at the batch size (so more may be due).
    pub full: bool,
    /// When the next pending reminder is due, when there is one (read after firing).
    pub next_due: Option<DateTime<Utc>>,
}

impl Default for FireReminders {
    fn default() -> Self {
        Self {
            batch: 100,
            wake: Wake::default(),
        }
    }
}

impl FireReminders {
    /// One pass as if the time were `at`: fires up to a batch of the reminders due then, and
    /// reads when the next one is due. ([`Job::run_once`] is this at the current time; tests
    /// use a later one instead of waiting for a reminder to come due.)
    pub async fn run_at(&self, db: &DatabaseConnection, at: DateTime<Utc>) -> ApiResult<Fired> {
        let fired = service::reminders::fire_due(db, at, self.batch).await?;
        if !fired.is_empty() {
            tracing::info!(count = fired.len(), "fired reminders");
        }
        let full = u64::try_from(fired.len()).is_ok_and(|n| n >= self.batch);
        let next_due = if full {
            None
        } else {
            service::reminders::next_due(db).await?
        };
        Ok(Fired {
            count: fired.len(),
            full,
            next_due,
        })
    }
}

impl Job for FireReminders {
    type Done = Fired;
    const NAME: &'static str = "fire_reminders";

    fn run_once(&self, db: &DatabaseConnection) -> impl Future<Output = ApiResult<Fired>> + Send {
        self.run_at(db, service::now())
    }

    fn more_left(done: &Fired) -> bool {
        done.full
    }

    fn wake(&self) -> Option<Wake> {
        Some(self.wake.clone())
    }

    /// Until the next reminder is due (a millisecond past it, so that the pass then finds it
    /// due whatever the clock's rounding).
    fn pause(&self, done: &Fired, every: Duration) -> Duration {
        done.next_due.map_or(every, |due| {
            (due - service::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .saturating_add(Duration::from_millis(1))
                .min(every)
        })
    }
}

/// Removes attachment files no attachment names, once unchanged for `grace` (see
/// `service::attachments::sweep`; safe with several processes sharing the data directory).
#[derive(Clone, Debug)]
pub struct SweepAttachments {
    /// The attachment storage.
    pub storage: Arc<Storage>,
    /// How long an unreferenced file is left alone after it last changed.
    pub grace: Duration,
}

impl Job for SweepAttachments {
    type Done = SweepReport;
    const NAME: &'static str = "sweep_attachments";

    fn run_once(
        &self,
        db: &DatabaseConnection,
    ) -> impl Future<Output = ApiResult<SweepReport>> + Send {
        service::attachments::sweep(db, &self.storage, self.grace)
    }
}

/// The gateway's background jobs with their intervals, built from the configuration. The
/// gateway runs them ([`Jobs::spawn`]); tests call the `run once now` methods.
#[derive(Clone, Debug)]
pub struct Jobs {
    db: DatabaseConnection,
    /// Fires due reminders.
    pub reminders: FireReminders,
    /// The longest it sleeps without looking: `THREADLINE_REMINDER_POLL_MS`.
    pub reminders_every: Duration,
    /// Sweeps attachment storage.
    pub sweep: SweepAttachments,
    /// How often: `THREADLINE_ATTACHMENT_SWEEP_SECS`.
    pub sweep_every: Duration,
    /// Delivers webhooks.
    pub webhooks: DeliverWebhooks,
    /// How often it looks when nothing woke it: `THREADLINE_WEBHOOK_POLL_MS`.
    pub webhooks_every: Duration,
    /// Prunes the webhook delivery log (hourly).
    pub prune: PruneWebhookLog,
    /// The process's bus hub: wakes the scheduler and the delivery worker.
    hub: Arc<Hub>,
}

impl Jobs {
    /// The jobs of a gateway on `db` with `storage`, at the configured intervals.
    pub fn new(
        db: DatabaseConnection,
        config: &Config,
        storage: Arc<Storage>,
        metrics: Arc<Metrics>,
        hub: Arc<Hub>,
    ) -> ApiResult<Self> {
        let retention = i64::try_from(config.webhook_retention_days).unwrap_or(i64::MAX / 86_400);
        Ok(Self {
            db,
            reminders: FireReminders::default(),
            reminders_every: config.reminder_poll,
            sweep: SweepAttachments {
                storage,
                grace: config.attachment_sweep_grace,
            },
            sweep_every: config.attachment_sweep_interval,
            webhooks: DeliverWebhooks::new(
                config.webhook_timeout,
                usize::try_from(config.webhook_concurrency).unwrap_or(usize::MAX),
                webhooks::ssrf::Guard::new(config.webhook_allow_private),
                metrics,
            )?,
            webhooks_every: config.webhook_poll,
            prune: PruneWebhookLog {
                keep: chrono::Duration::days(retention.min(36_500)),
            },
            hub,
        })
    }

    /// Starts every job; each stops when `cancel` fires (after the pass it may be in, and the
    /// webhook sends it started). Await the set to know they stopped.
    pub fn spawn(&self, cancel: &CancellationToken) -> JoinSet<()> {
        let mut set = JoinSet::new();
        let schedule = self.reminders.wake.on(&self.hub, Key::ReminderSchedule);
        set.spawn(with_registration(
            schedule,
            run(
                self.reminders.clone(),
                self.db.clone(),
                self.reminders_every,
                cancel.child_token(),
            ),
        ));
        set.spawn(run(
            self.sweep.clone(),
            self.db.clone(),
            self.sweep_every,
            cancel.child_token(),
        ));
        let due = self.webhooks.waker().on(&self.hub, Key::Deliveries);
        set.spawn(with_registration(
            due,
            run(
                self.webhooks.clone(),
                self.db.clone(),
                self.webhooks_every,
                cancel.child_token(),
            ),
        ));
        set.spawn(run(
            self.prune,
            self.db.clone(),
            Duration::from_secs(3600),
            cancel.child_token(),
        ));
        set
    }

    /// Sends every webhook delivery due now, waiting for each attempt; returns what they led
    /// to.
    pub async fn deliver_webhooks(&self) -> ApiResult<Drained> {
        self.webhooks
            .drain_at(&self.db, crate::service::now())
            .await
    }

    /// Sends every webhook delivery due at `at` (a later time stands in for waiting for a
    /// retry), waiting for each attempt.
    pub async fn deliver_webhooks_at(&self, at: DateTime<Utc>) -> ApiResult<Drained> {
        self.webhooks.drain_at(&self.db, at).await
    }

    /// Prunes the webhook delivery log as if the time were `at`; returns the attempts removed.
    pub async fn prune_webhook_log_at(&self, at: DateTime<Utc>) -> ApiResult<u64> {
        crate::service::deliveries::prune(&self.db, at, self.prune.keep).await
    }

    /// Fires every reminder due now, a batch at a time; returns how many.
    pub async fn fire_due_reminders(&self) -> ApiResult<usize> {
        let passes = drain(&self.reminders, &self.db).await?;
        Ok(passes.iter().map(|p| p.count).sum())
    }

    /// Fires every reminder due at `at` (a later time stands in for waiting), a batch at a
    /// time; returns how many.
    pub async fn fire_reminders_due_at(&self, at: DateTime<Utc>) -> ApiResult<usize> {
        let mut count = 0;
        loop {
            let pass = self.reminders.run_at(&self.db, at).await?;
            count += pass.count;
            if !pass.full {
                return Ok(count);
            }
        }
    }

    /// Sweeps attachment storage once; returns what was removed.
    pub async fn sweep_attachments(&self) -> ApiResult<SweepReport> {
        self.sweep.run_once(&self.db).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use tokio::sync::{Notify, mpsc};

    use super::*;

    /// A job that reports each pass on a channel, optionally waits for a gate in the middle
    /// of it, and says "more left" after its first two passes.
    struct Probe {
        passes: mpsc::UnboundedSender<usize>,
        count: AtomicUsize,
        gate: Option<Arc<Notify>>,
        finished: Arc<AtomicBool>,
    }

    impl Probe {
        fn new(gate: Option<Arc<Notify>>) -> (Self, mpsc::UnboundedReceiver<usize>) {
            let (passes, rx) = mpsc::unbounded_channel();
            let probe = Self {
                passes,
                count: AtomicUsize::new(0),
                gate,
                finished: Arc::default(),
            };
            (probe, rx)
        }
    }

    impl Job for Probe {
        type Done = usize;
        const NAME: &'static str = "probe";

        async fn run_once(&self, _db: &DatabaseConnection) -> ApiResult<usize> {
            let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
            let _ = self.passes.send(n);
            if let Some(gate) = &self.gate {
                gate.notified().await;
            }
            self.finished.store(true, Ordering::SeqCst);
            Ok(n)
        }

        fn more_left(done: &usize) -> bool {
            *done <= 2
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);
    /// A bound on waits that should be immediate, so a broken runner fails instead of hanging.
    const PROMPTLY: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn a_runner_passes_at_start_and_stops_at_once_when_cancelled() {
        let (probe, mut passes) = Probe::new(None);
        let cancel = CancellationToken::new();
        let runner = tokio::spawn(run(
            probe,
            DatabaseConnection::default(),
            HOUR,
            cancel.clone(),
        ));
        // The first pass runs at start; the first two leave work behind, so three run at once.
        for expected in 1..=3 {
            let n = tokio::time::timeout(PROMPTLY, passes.recv())
                .await
                .expect("a pass without waiting for the timer")
                .expect("a pass");
            assert_eq!(n, expected);
        }
        // Now it waits an hour; only the cancellation can end it.
        cancel.cancel();
        tokio::time::timeout(PROMPTLY, runner)
            .await
            .expect("stopped promptly")
            .expect("no panic");
        assert!(passes.try_recv().is_err(), "no pass after the third");
    }

    #[tokio::test]
    async fn a_pass_in_progress_finishes_before_the_runner_stops() {
        let gate = Arc::new(Notify::new());
        let (probe, mut passes) = Probe::new(Some(gate.clone()));
        let finished = probe.finished.clone();
        let cancel = CancellationToken::new();
        let runner = tokio::spawn(run(
            probe,
            DatabaseConnection::default(),
            HOUR,
            cancel.clone(),
        ));
        tokio::time::timeout(PROMPTLY, passes.recv())
            .await
            .expect("the first pass started")
            .expect("a pass");
        cancel.cancel();
        // Give the runner every chance to drop the pass if it raced it with the token.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!runner.is_finished(), "the runner left a pass half done");
        gate.notify_one();
        tokio::time::timeout(PROMPTLY, runner)
            .await
            .expect("stopped once the pass finished")
            .expect("no panic");
        assert!(finished.load(Ordering::SeqCst));
        assert!(
            passes.try_recv().is_err(),
            "no new pass after the cancellation"
        );
    }

    /// A job whose first pass fails (the database was briefly unreachable), then succeeds.
    struct Flaky(mpsc::UnboundedSender<usize>, AtomicUsize);

    impl Job for Flaky {
        type Done = ();
        const NAME: &'static str = "flaky";

        async fn run_once(&self, _db: &DatabaseConnection) -> ApiResult<()> {
            let n = self.1.fetch_add(1, Ordering::SeqCst) + 1;
            let _ = self.0.send(n);
            if n == 1 {
                return Err(crate::error::ApiError::Database(sea_orm::DbErr::Custom(
                    "the database is down".into(),
                )));
            }
            Ok(())
        }
    }

    /// A failed pass is retried after a short back-off, not after twice the job's longest
    /// sleep: the reminder scheduler sleeps up to 30 s between looks, and a database that was
    /// down for a moment must not make every reminder due in the next minute late by that
    /// minute.
    #[tokio::test]
    async fn a_failed_pass_is_retried_within_a_second_whatever_the_interval() {
        let (passes, mut rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let runner = tokio::spawn(run(
            Flaky(passes, AtomicUsize::new(0)),
            DatabaseConnection::default(),
            Duration::from_secs(30),
            cancel.clone(),
        ));
        assert_eq!(rx.recv().await, Some(1));
        let failed = tokio::time::Instant::now();
        let retried = tokio::time::timeout(Duration::from_secs(3), rx.recv()).await;
        assert_eq!(
            retried.ok().flatten(),
            Some(2),
            "no retry within 3 s of the failure"
        );
        let retried_after = failed.elapsed();
        assert!(
            retried_after <= Duration::from_millis(1500),
            "retried after {retried_after:?}"
        );
        cancel.cancel();
        runner.await.expect("no panic");
    }

    #[tokio::test]
    async fn drain_runs_passes_until_nothing_is_left() {
        let (probe, _passes) = Probe::new(None);
        let done = drain(&probe, &DatabaseConnection::default())
            .await
            .expect("passes");
        assert_eq!(done, [1, 2, 3]);
    }
}
