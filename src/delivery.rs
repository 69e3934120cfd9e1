//! The webhook delivery worker, run in every gateway process by the one job runner
//! ([`crate::jobs::run`]).
//!
//! A pass records the attempts that finished since the last one and claims due deliveries, in
//! one transaction ([`deliveries::settle_and_claim`]), and starts sending what it claimed; it
//! does not wait for the sends, so one slow receiver holds its own slots only. Each finished
//! send nudges the runner, whose next pass records it (with whatever else finished meanwhile)
//! and claims again (the next delivery about the same record may now be due). New events wake
//! it through the bus from any process; polling covers lost signals.
//!
//! The sends to one endpoint form a lane: at most as many at once as the claim allowed (the
//! endpoint's cap less what other workers hold), and at most `THREADLINE_WEBHOOK_CONCURRENCY`
//! over all lanes. For a receiver that answers faster than a pass takes, a lane also keeps a
//! few claimed deliveries queued (sized from the measured pass and answer times, see
//! [`ahead`]): when a send finishes the next one starts at once, instead of after the round
//! trips of a pass, so the database is off the path of the requests. A queued delivery is
//! `SENDING` like one on the wire (leased: if the process dies, another worker sends it after
//! the lease); one that waited longer than [`MAX_QUEUED`], or whose endpoint answered 410, is
//! given back (due again, as it was) instead of sent.
//!
//! Tests run the same passes through [`DeliverWebhooks::drain_at`], which also waits for the
//! sends, so no test sleeps to wait for a delivery.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    ops::Bound,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
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
        deliveries::{self, AttemptOutcome, Batch, Claimed, Finished, Holding, MAX_AHEAD, Settled},
        endpoints,
    },
};

/// The longest a claimed delivery waits in its lane before it is given back instead of sent
/// (and never so long that the lease would run out before its attempt could).
pub const MAX_QUEUED: Duration = Duration::from_secs(1);

/// A lane with nothing to send is forgotten (with the answer times it measured) after this.
const LANE_IDLE: Duration = Duration::from_secs(60);

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Sends started (of deliveries it claimed, or queued before).
    pub started: usize,
    /// Deliveries claimed.
    pub claimed: usize,
    /// Deliveries given back unsent.
    pub released: usize,
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
    /// Deliveries claimed and given back unsent (queued when their endpoint answered 410, or
    /// for too long).
    pub released: usize,
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
        self.released += other.released;
    }

    /// How many attempts in all (deliveries given back made none).
    pub fn total(&self) -> usize {
        self.succeeded + self.retrying + self.failed + self.stale
    }
}

/// What sending to an endpoint needs besides the delivery, worked out once per pass.
struct Prepared {
    /// Its keys, or why they could not be read.
    signer: Result<Signer, String>,
    /// Its extra headers.
    headers: Vec<(String, String)>,
}

impl Prepared {
    fn of(endpoint: &entity::webhook_endpoint::Model) -> Self {
        Self {
            signer: endpoints::signer(endpoint, service::now()).map_err(|e| e.to_string()),
            headers: endpoint
                .headers
                .as_object()
                .map(|map| {
                    map.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// A claimed delivery waiting for its lane.
struct Queued {
    claimed: Claimed,
    prepared: Arc<Prepared>,
    /// The claiming pass's time (`at`) and clock: the attempt's time is `at` plus the real time
    /// since (`at` is now, except in tests that stand a later time in for waiting).
    at: DateTime<Utc>,
    clock: Instant,
}

/// The sends to one endpoint.
struct Lane {
    queued: VecDeque<Queued>,
    running: usize,
    /// How many may be under way at once (from the last claim there).
    allowed: usize,
    /// The endpoint answered 410: nothing more is sent until that is recorded.
    halted: bool,
    /// The 410 is in the pass under way (the lane resumes when it is recorded).
    halt_recording: bool,
    /// The answer time, in seconds (a moving average).
    latency: Option<f64>,
    last_used: Instant,
}

impl Lane {
    fn new() -> Self {
        Self {
            queued: VecDeque::new(),
            running: 0,
            allowed: 0,
            halted: false,
            halt_recording: false,
            latency: None,
            last_used: Instant::now(),
        }
    }

    fn held(&self) -> usize {
        self.running + self.queued.len()
    }
}

/// The sends of one worker.
#[derive(Default)]
struct Local {
    lanes: BTreeMap<i64, Lane>,
    /// Sends under way, over all lanes.
    running: usize,
    /// Attempts finished, to record.
    finished: Vec<Finished>,
    /// Deliveries to give back.
    release: Vec<Claimed>,
    /// Stopping: start no send.
    stopping: bool,
    /// The lane that started a send last (lanes take turns).
    cursor: i64,
    /// How long a pass takes, in seconds (a moving average).
    pass: f64,
}

/// The share a new measurement has in a moving average.
const SMOOTHING: f64 = 0.2;

fn smooth(average: Option<f64>, sample: f64) -> f64 {
    average.map_or(sample, |a| a + SMOOTHING * (sample - a))
}

/// How many deliveries a lane keeps queued per send it may have under way: enough to keep it
/// busy through twice the time a pass takes, when its receiver answers faster than that; none
/// for slower receivers (queueing would gain nothing there) or before an answer was timed.
pub fn ahead(latency: Option<f64>, pass: f64) -> f64 {
    match latency {
        Some(latency) if pass > 0.0 => {
            let ahead = 2.0 * pass / latency.max(1e-6);
            if ahead < 0.1 {
                0.0
            } else {
                ahead.min(MAX_AHEAD)
            }
        }
        _ => 0.0,
    }
}

/// The delivery worker of one process.
#[derive(Clone)]
pub struct DeliverWebhooks {
    sender: Sender,
    lease: chrono::Duration,
    /// The longest a delivery may wait in its lane.
    max_queued: Duration,
    slots: usize,
    wake: Wake,
    metrics: Arc<Metrics>,
    local: Arc<Mutex<Local>>,
    /// Notified when the last send under way finishes.
    idle: Arc<Notify>,
    /// One pass at a time (a pass counts what the worker holds, then claims).
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

/// Does the bookkeeping of a send when it ends (also if it panicked: its delivery then stays
/// leased, and is sent again once the lease runs out).
struct SendGuard {
    worker: DeliverWebhooks,
    endpoint_id: i64,
    finished: Option<Finished>,
}

impl Drop for SendGuard {
    fn drop(&mut self) {
        let worker = &self.worker;
        {
            let mut local = worker.local();
            local.running = local.running.saturating_sub(1);
            if let Some(lane) = local.lanes.get_mut(&self.endpoint_id) {
                lane.running = lane.running.saturating_sub(1);
                lane.last_used = Instant::now();
                if let Some(finished) = &self.finished {
                    let latency = finished.attempt.latency.as_secs_f64();
                    lane.latency = Some(smooth(lane.latency, latency));
                    if finished.attempt.outcome == Outcome::Gone {
                        lane.halted = true;
                    }
                }
            }
            if let Some(finished) = self.finished.take() {
                local.finished.push(finished);
            }
            worker.dispatch(&mut local);
            if local.running == 0 {
                worker.idle.notify_waiters();
            }
        }
        worker.wake.nudge();
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
        // A sender that died mid-attempt is presumed dead after twice the attempt's limit; a
        // delivery leaves its queue in time for its attempt to end within the lease.
        let lease = chrono::Duration::from_std(timeout.saturating_mul(2))
            .unwrap_or(chrono::Duration::minutes(1));
        Ok(Self {
            sender,
            lease,
            max_queued: MAX_QUEUED.min(timeout),
            slots: slots.max(1),
            wake: Wake::default(),
            metrics,
            local: Arc::default(),
            idle: Arc::default(),
            passing: Arc::default(),
        })
    }

    /// What wakes this worker (nudged by finished sends; listen on PostgreSQL for new events).
    pub fn waker(&self) -> Wake {
        self.wake.clone()
    }

    fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts what the lanes may send now, lanes taking turns; returns how many.
    fn dispatch(&self, local: &mut Local) -> usize {
        let mut started = 0;
        while !local.stopping && local.running < self.slots {
            let cursor = local.cursor;
            let ready = |(_, lane): &(&i64, &Lane)| {
                !lane.halted && lane.running < lane.allowed && !lane.queued.is_empty()
            };
            let next = local
                .lanes
                .range((Bound::Excluded(cursor), Bound::Unbounded))
                .chain(local.lanes.range(..=cursor))
                .find(ready)
                .map(|(id, _)| *id);
            let Some(id) = next else { break };
            local.cursor = id;
            let Some(lane) = local.lanes.get_mut(&id) else {
                break;
            };
            let Some(queued) = lane.queued.pop_front() else {
                continue;
            };
            if queued.clock.elapsed() > self.max_queued {
                local.release.push(queued.claimed);
                continue;
            }
            lane.running += 1;
            local.running += 1;
            started += 1;
            tokio::spawn(self.clone().send(id, queued));
        }
        started
    }

    /// Sends one queued delivery; its guard records the outcome and starts the next send.
    async fn send(self, endpoint_id: i64, queued: Queued) {
        let mut guard = SendGuard {
            worker: self.clone(),
            endpoint_id,
            finished: None,
        };
        let attempt = self.attempt(&queued.claimed, &queued.prepared).await;
        self.metrics.record_webhook_attempt(
            AttemptOutcome::from(attempt.outcome).label(),
            attempt.latency,
        );
        let at = queued.at
            + chrono::Duration::from_std(queued.clock.elapsed())
                .unwrap_or(chrono::Duration::zero());
        guard.finished = Some(Finished {
            claimed: queued.claimed,
            attempt,
            at,
        });
    }

    /// One pass as if the time were `at`: records the attempts finished since the last pass,
    /// gives back what will not be sent, claims what is due into the free slots (and lane
    /// queues) and starts sending it.
    pub async fn pass_at(&self, db: &DatabaseConnection, at: DateTime<Utc>) -> ApiResult<Pass> {
        let _one_at_a_time = self.passing.lock().await;
        let (finished, release, holding, limit) = self.prepare();
        let batch = Batch {
            finished: &finished,
            release: &release,
            holding: &holding,
            limit,
        };
        let timed = Instant::now();
        let worked = match deliveries::settle_and_claim(db, batch, at, self.lease).await {
            Ok(worked) => worked,
            Err(error) => {
                let mut local = self.local();
                for lane in local.lanes.values_mut() {
                    lane.halt_recording = false;
                }
                let (mut finished, mut release) = (finished, release);
                finished.append(&mut local.finished);
                local.finished = finished;
                release.append(&mut local.release);
                local.release = release;
                return Err(error);
            }
        };
        let took = timed.elapsed().as_secs_f64();

        let mut recorded = Drained::default();
        for (settled, f) in worked.settled.iter().zip(&finished) {
            tracing::debug!(delivery = f.claimed.delivery.id, ?settled, status = ?f.attempt.status, "webhook attempt");
            recorded.add(*settled);
        }
        let claimed = worked.claimed.len();
        let clock = Instant::now();
        // Keys and headers once per endpoint and pass, not for every send.
        let mut prepared: HashMap<i64, Arc<Prepared>> = HashMap::new();
        let mut local = self.local();
        if limit > 0 {
            local.pass = if local.pass > 0.0 {
                smooth(Some(local.pass), took)
            } else {
                took
            };
        }
        for lane in local.lanes.values_mut() {
            if lane.halt_recording {
                lane.halted = false;
                lane.halt_recording = false;
            }
        }
        for (endpoint_id, allowed) in worked.allowed {
            local
                .lanes
                .entry(endpoint_id)
                .or_insert_with(Lane::new)
                .allowed = allowed;
        }
        for delivery in worked.claimed {
            let endpoint_id = delivery.endpoint.id;
            let prepared = prepared
                .entry(endpoint_id)
                .or_insert_with(|| Arc::new(Prepared::of(&delivery.endpoint)))
                .clone();
            let lane = local.lanes.entry(endpoint_id).or_insert_with(Lane::new);
            lane.last_used = clock;
            lane.queued.push_back(Queued {
                claimed: delivery,
                prepared,
                at,
                clock,
            });
        }
        let started = self.dispatch(&mut local);
        tracing::debug!(
            recorded = finished.len(),
            released = release.len(),
            claimed,
            started,
            queued = local.lanes.values().map(|l| l.queued.len()).sum::<usize>(),
            running = local.running,
            took_us = (took * 1e6) as u64,
            "webhook pass"
        );
        Ok(Pass {
            started,
            claimed,
            released: release.len(),
            recorded,
        })
    }

    /// What the next pass records, gives back, holds and may claim; lanes halted by a 410
    /// and deliveries queued too long are given back, idle lanes forgotten.
    fn prepare(&self) -> (Vec<Finished>, Vec<Claimed>, HashMap<i64, Holding>, u64) {
        let mut local = self.local();
        let mut release = std::mem::take(&mut local.release);
        let max_queued = self.max_queued;
        let stopping = local.stopping;
        for lane in local.lanes.values_mut() {
            if lane.halted {
                release.extend(lane.queued.drain(..).map(|q| q.claimed));
                lane.halt_recording = true;
            }
            while lane
                .queued
                .front()
                .is_some_and(|q| stopping || q.clock.elapsed() > max_queued)
            {
                if let Some(q) = lane.queued.pop_front() {
                    release.push(q.claimed);
                }
            }
        }
        local
            .lanes
            .retain(|_, lane| lane.held() > 0 || lane.last_used.elapsed() < LANE_IDLE);
        let finished = std::mem::take(&mut local.finished);
        let pass = local.pass;
        let mut holding = HashMap::new();
        // The free sending slots, and room in the queues of the lanes that keep one.
        let mut limit = self.slots.saturating_sub(local.running);
        for (id, lane) in &local.lanes {
            let ahead = ahead(lane.latency, pass);
            holding.insert(
                *id,
                Holding {
                    held: lane.held(),
                    ahead,
                },
            );
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_precision_loss,
                clippy::cast_sign_loss
            )]
            let queue = (lane.allowed as f64 * ahead).ceil() as usize;
            limit += queue.saturating_sub(lane.queued.len());
        }
        let limit = if stopping {
            0
        } else {
            u64::try_from(limit).unwrap_or(u64::MAX)
        };
        (finished, release, holding, limit)
    }

    async fn attempt(&self, claimed: &Claimed, prepared: &Prepared) -> Attempt {
        let signer = match &prepared.signer {
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
        self.sender
            .send(&Message {
                url: &claimed.endpoint.url,
                msg_id: &claimed.delivery.message_id,
                body: claimed.delivery.payload.as_bytes(),
                signer,
                extra_headers: &prepared.headers,
            })
            .await
    }

    /// Waits until no send is under way (the lanes start their queued deliveries as sends
    /// finish); the next pass records them.
    async fn wait_for_sends(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.local().running == 0 {
                return;
            }
            idle.await;
        }
    }

    /// Runs passes as if the time were `at`, waiting for their sends, until nothing more is
    /// due then (deliveries queued behind an earlier one about the same record included) and
    /// every attempt is recorded.
    pub async fn drain_at(&self, db: &DatabaseConnection, at: DateTime<Utc>) -> ApiResult<Drained> {
        let mut drained = Drained::default();
        loop {
            let pass = self.pass_at(db, at).await?;
            drained.merge(pass.recorded);
            drained.released += pass.released;
            let busy = {
                let local = self.local();
                local.running > 0 || !local.finished.is_empty()
            };
            if pass.claimed == 0 && pass.released == 0 && pass.recorded.total() == 0 && !busy {
                return Ok(drained);
            }
            self.wait_for_sends().await;
        }
    }

    /// Stops sending, waits for the sends under way, records them and gives back what was
    /// queued, claiming nothing. The worker can be used again afterwards.
    async fn finish(&self, db: &DatabaseConnection) {
        self.local().stopping = true;
        self.wait_for_sends().await;
        {
            let _one_at_a_time = self.passing.lock().await;
            let (finished, release, holding, _) = self.prepare();
            let batch = Batch {
                finished: &finished,
                release: &release,
                holding: &holding,
                limit: 0,
            };
            if let Err(error) =
                deliveries::settle_and_claim(db, batch, service::now(), self.lease).await
            {
                // Their leases run out and other attempts follow (at least once).
                tracing::error!(%error, attempts = finished.len(), released = release.len(), "recording webhook attempts while stopping");
            }
        }
        self.local().stopping = false;
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

    // Never "more left" at once: each finished send wakes the runner to record it and claim
    // again.
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
