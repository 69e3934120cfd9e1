//! The webhook delivery worker, run in every gateway process by the one job runner
//! ([`crate::jobs::run`]). A pass records the attempts that finished since the last one and
//! claims as many due deliveries as the process has free sending slots
//! (`THREADLINE_WEBHOOK_CONCURRENCY`; each endpoint's own cap is applied by the claim), in one
//! transaction ([`deliveries::settle_and_claim`]), and starts sending what it claimed; it does
//! not wait for the sends, so one slow receiver holds its own slots only. Each finished send
//! nudges the runner, whose next pass records it (with whatever else finished meanwhile) and
//! claims again (the next delivery about the same record may now be due). New events wake it
//! through the bus from any process; polling covers lost signals.
//!
//! Recording attempts in batches is what lets the worker keep up with a fast receiver: a
//! transaction per attempt cost more than the attempt itself (see `benches/webhooks.rs`). An
//! attempt waits for the pass after it to be recorded, holding its delivery (and its slot)
//! until then; if the process dies meanwhile, the lease runs out and another worker sends the
//! delivery again under the same `webhook-id`.
//!
//! Tests run the same passes through [`DeliverWebhooks::drain_at`], which also waits for the
//! sends, so no test sleeps to wait for a delivery.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tokio::task::JoinSet;
use webhooks::{
    client::{Attempt, Message, Outcome, Sender, SenderConfig},
    signing::Signer,
};

use crate::{
    error::{ApiError, ApiResult},
    jobs::{Job, Wake},
    metrics::Metrics,
    service::{
        self,
        deliveries::{self, AttemptOutcome, Claimed, Finished, Settled},
        endpoints,
    },
};

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Deliveries claimed and started.
    pub started: usize,
    /// Attempts finished before the pass that it recorded, by what they led to.
    pub recorded: Drained,
}

/// What a drain did, for tests: attempts by what they led to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    /// Attempts that delivered.
    pub succeeded: usize,
    /// Attempts after which another is scheduled.
    pub retrying: usize,
    /// Attempts after which the delivery gave up.
    pub failed: usize,
    /// Attempts whose delivery another worker had taken over, or that was deleted meanwhile.
    pub stale: usize,
}

impl Drained {
    fn add(&mut self, settled: Settled) {
        match settled {
            Settled::Succeeded => self.succeeded += 1,
            Settled::Retrying => self.retrying += 1,
            Settled::Failed => self.failed += 1,
            Settled::Stale => self.stale += 1,
        }
    }

    fn merge(&mut self, other: Self) {
        self.succeeded += other.succeeded;
        self.retrying += other.retrying;
        self.failed += other.failed;
        self.stale += other.stale;
    }

    /// How many attempts in all.
    pub fn total(&self) -> usize {
        self.succeeded + self.retrying + self.failed + self.stale
    }
}

/// The sends of one worker: those under way, and those finished but not recorded yet.
#[derive(Default)]
struct InFlight {
    sending: JoinSet<Finished>,
    finished: Vec<Finished>,
}

impl InFlight {
    /// Moves the sends that have finished to `finished`.
    fn collect(&mut self) {
        while let Some(joined) = self.sending.try_join_next() {
            self.keep(joined);
        }
    }

    fn keep(&mut self, joined: Result<Finished, tokio::task::JoinError>) {
        match joined {
            Ok(finished) => self.finished.push(finished),
            // Its delivery stays leased until the lease runs out, then is sent again.
            Err(error) => tracing::error!(%error, "a webhook send task failed"),
        }
    }
}

/// The delivery worker of one process.
#[derive(Clone)]
pub struct DeliverWebhooks {
    sender: Sender,
    lease: chrono::Duration,
    slots: usize,
    wake: Wake,
    metrics: Arc<Metrics>,
    in_flight: Arc<Mutex<InFlight>>,
    /// One pass at a time (a pass counts the free slots, then fills them).
    passing: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for DeliverWebhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliverWebhooks")
            .field("lease", &self.lease)
            .field("slots", &self.slots)
            .finish_non_exhaustive()
    }
}

impl DeliverWebhooks {
    /// A worker sending with `timeout` per attempt, at most `slots` at once, through `guard`.
    pub fn new(
        timeout: Duration,
        slots: usize,
        guard: webhooks::ssrf::Guard,
        metrics: Arc<Metrics>,
    ) -> ApiResult<Self> {
        let sender = Sender::new(SenderConfig { timeout, guard })
            .map_err(|e| ApiError::Internal(format!("the webhook HTTP client: {e}")))?;
        // A sender that died mid-attempt is presumed dead after twice the attempt's limit.
        let lease = chrono::Duration::from_std(timeout.saturating_mul(2))
            .unwrap_or(chrono::Duration::minutes(1));
        Ok(Self {
            sender,
            lease,
            slots: slots.max(1),
            wake: Wake::default(),
            metrics,
            in_flight: Arc::default(),
            passing: Arc::default(),
        })
    }

    /// What wakes this worker (nudged by finished sends; listen on PostgreSQL for new events).
    pub fn waker(&self) -> Wake {
        self.wake.clone()
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, InFlight> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// One pass as if the time were `at`: records the attempts finished since the last pass,
    /// claims what is due into the free slots and starts sending it.
    pub async fn pass_at(&self, db: &DatabaseConnection, at: DateTime<Utc>) -> ApiResult<Pass> {
        let _one_at_a_time = self.passing.lock().await;
        let (finished, free) = {
            let mut in_flight = self.in_flight();
            in_flight.collect();
            let finished = std::mem::take(&mut in_flight.finished);
            (finished, self.slots.saturating_sub(in_flight.sending.len()))
        };
        let limit = u64::try_from(free).unwrap_or(u64::MAX);
        let (settled, claimed) =
            match deliveries::settle_and_claim(db, &finished, at, self.lease, limit).await {
                Ok(done) => done,
                Err(error) => {
                    self.keep_unrecorded(finished);
                    return Err(error);
                }
            };
        let mut recorded = Drained::default();
        for (settled, f) in settled.into_iter().zip(&finished) {
            tracing::debug!(delivery = f.claimed.delivery.id, ?settled, status = ?f.attempt.status, "webhook attempt");
            recorded.add(settled);
        }
        let started = claimed.len();
        // The pass's clock: `at` plus the real time since (`at` is now, except in tests that
        // stand a later time in for waiting).
        let clock = Instant::now();
        // One signer per endpoint and pass (its keys are decoded once, not for every send).
        let mut signers: HashMap<i64, Arc<Result<Signer, String>>> = HashMap::new();
        let mut in_flight = self.in_flight();
        for delivery in claimed {
            let signer = signers
                .entry(delivery.endpoint.id)
                .or_insert_with(|| {
                    Arc::new(
                        endpoints::signer(&delivery.endpoint, service::now())
                            .map_err(|e| e.to_string()),
                    )
                })
                .clone();
            let this = self.clone();
            in_flight.sending.spawn(async move {
                let attempt = this.attempt(&delivery, &signer).await;
                this.metrics.record_webhook_attempt(
                    AttemptOutcome::from(attempt.outcome).label(),
                    attempt.latency,
                );
                let at = at
                    + chrono::Duration::from_std(clock.elapsed())
                        .unwrap_or(chrono::Duration::zero());
                this.wake.nudge();
                Finished {
                    claimed: delivery,
                    attempt,
                    at,
                }
            });
        }
        Ok(Pass { started, recorded })
    }

    /// Keeps attempts a failed pass could not record for the next pass, except those whose
    /// lease has run out meanwhile (another worker may be sending them again: they are
    /// dropped with an error, as a recording that failed always was).
    fn keep_unrecorded(&self, finished: Vec<Finished>) {
        let now = service::now();
        let (keep, drop): (Vec<_>, Vec<_>) = finished.into_iter().partition(|f| {
            f.claimed
                .delivery
                .lease_until
                .is_none_or(|until| until > now)
        });
        for f in &drop {
            tracing::error!(
                delivery = f.claimed.delivery.id,
                "a webhook attempt was not recorded before its lease ran out; it will be sent again"
            );
        }
        let mut in_flight = self.in_flight();
        let mut keep = keep;
        keep.append(&mut in_flight.finished);
        in_flight.finished = keep;
    }

    async fn attempt(&self, claimed: &Claimed, signer: &Result<Signer, String>) -> Attempt {
        let endpoint = &claimed.endpoint;
        let signer = match signer {
            Ok(signer) => signer,
            Err(error) => {
                return Attempt {
                    timestamp: service::now().timestamp(),
                    status: None,
                    latency: Duration::ZERO,
                    error: Some(error.clone()),
                    response_excerpt: String::new(),
                    retry_after: None,
                    outcome: Outcome::Refused,
                };
            }
        };
        let headers: Vec<(String, String)> = endpoint
            .headers
            .as_object()
            .map(|map| {
                map.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        self.sender
            .send(&Message {
                url: &endpoint.url,
                msg_id: &claimed.delivery.message_id,
                body: claimed.delivery.payload.as_bytes(),
                signer,
                extra_headers: &headers,
            })
            .await
    }

    /// Waits for every send started so far; they are recorded by the next pass.
    async fn wait_for_sends(&self) {
        let mut set = std::mem::take(&mut self.in_flight().sending);
        let mut done = Vec::new();
        while let Some(joined) = set.join_next().await {
            done.push(joined);
        }
        let mut in_flight = self.in_flight();
        for joined in done {
            in_flight.keep(joined);
        }
    }

    /// Whether nothing is being sent or waits to be recorded.
    fn idle(&self) -> bool {
        let in_flight = self.in_flight();
        in_flight.sending.is_empty() && in_flight.finished.is_empty()
    }

    /// Runs passes as if the time were `at`, waiting for their sends, until nothing more is
    /// due then (deliveries queued behind an earlier one about the same record included) and
    /// every attempt is recorded.
    pub async fn drain_at(&self, db: &DatabaseConnection, at: DateTime<Utc>) -> ApiResult<Drained> {
        let mut drained = Drained::default();
        loop {
            let pass = self.pass_at(db, at).await?;
            drained.merge(pass.recorded);
            if pass.started == 0 && pass.recorded.total() == 0 && self.idle() {
                return Ok(drained);
            }
            self.wait_for_sends().await;
        }
    }

    /// Waits for the sends under way and records every finished attempt, claiming nothing.
    async fn finish(&self, db: &DatabaseConnection) {
        self.wait_for_sends().await;
        let _one_at_a_time = self.passing.lock().await;
        let finished = std::mem::take(&mut self.in_flight().finished);
        if finished.is_empty() {
            return;
        }
        if let Err(error) =
            deliveries::settle_and_claim(db, &finished, service::now(), self.lease, 0).await
        {
            // Their leases run out and other attempts follow (at least once).
            tracing::error!(%error, attempts = finished.len(), "recording webhook attempts at shutdown");
        }
    }
}

impl Job for DeliverWebhooks {
    type Done = Pass;
    const NAME: &'static str = "deliver_webhooks";

    fn run_once(
        &self,
        db: &DatabaseConnection,
    ) -> impl std::future::Future<Output = ApiResult<Pass>> + Send {
        self.pass_at(db, service::now())
    }

    // Never "more left" at once: a full pass has no free slot, and each finished send wakes
    // the runner to record it and claim again.
    fn wake(&self) -> Option<Wake> {
        Some(self.wake.clone())
    }

    fn stop(&self, db: &DatabaseConnection) -> impl std::future::Future<Output = ()> + Send {
        let (this, db) = (self.clone(), db.clone());
        async move {
            this.finish(&db).await;
        }
    }
}

/// Removes webhook attempts (and finished deliveries) older than the retention.
#[derive(Clone, Copy, Debug)]
pub struct PruneWebhookLog {
    /// How long the log is kept.
    pub keep: chrono::Duration,
}

impl Job for PruneWebhookLog {
    type Done = u64;
    const NAME: &'static str = "prune_webhook_log";

    fn run_once(
        &self,
        db: &DatabaseConnection,
    ) -> impl std::future::Future<Output = ApiResult<u64>> + Send {
        deliveries::prune(db, service::now(), self.keep)
    }
}
