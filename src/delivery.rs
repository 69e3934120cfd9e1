//! The webhook delivery worker, run in every gateway process by the one job runner
//! ([`crate::jobs::run`]). A pass claims as many due deliveries as the process has free sending
//! slots (`THREADLINE_WEBHOOK_CONCURRENCY`; each endpoint's own cap is applied by the claim)
//! and starts sending them; it does not wait for them, so one slow receiver holds its own slots
//! only. Each finished send records its attempt and nudges the runner, which claims again
//! (the next delivery about the same record may now be due). New events wake it through
//! PostgreSQL's `NOTIFY` from any process; polling covers SQLite and lost notifications.
//!
//! Tests run the same passes through [`DeliverWebhooks::drain_at`], which also waits for the
//! sends, so no test sleeps to wait for a delivery.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tokio::task::JoinSet;
use webhooks::client::{Attempt, Message, Outcome, Sender, SenderConfig};

use crate::{
    error::{ApiError, ApiResult},
    jobs::{Job, Wake},
    metrics::Metrics,
    service::{
        self,
        deliveries::{self, AttemptOutcome, Claimed, Settled},
        endpoints,
    },
};

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Deliveries claimed and started.
    pub started: usize,
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
}

/// The delivery worker of one process.
#[derive(Clone)]
pub struct DeliverWebhooks {
    sender: Sender,
    lease: chrono::Duration,
    slots: usize,
    wake: Wake,
    metrics: Arc<Metrics>,
    sending: Arc<Mutex<JoinSet<Option<Settled>>>>,
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
            sending: Arc::default(),
        })
    }

    /// What wakes this worker (nudged by finished sends; listen on PostgreSQL for new events).
    pub fn waker(&self) -> Wake {
        self.wake.clone()
    }

    fn sending(&self) -> std::sync::MutexGuard<'_, JoinSet<Option<Settled>>> {
        self.sending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One pass as if the time were `at`: claims what is due into the free slots and starts
    /// sending it.
    pub async fn pass_at(&self, db: &DatabaseConnection, at: DateTime<Utc>) -> ApiResult<Pass> {
        let free = {
            let mut sending = self.sending();
            while sending.try_join_next().is_some() {}
            self.slots.saturating_sub(sending.len())
        };
        if free == 0 {
            return Ok(Pass::default());
        }
        let claimed =
            deliveries::claim(db, at, self.lease, u64::try_from(free).unwrap_or(u64::MAX)).await?;
        let started = claimed.len();
        // The pass's clock: `at` plus the real time since (`at` is now, except in tests that
        // stand a later time in for waiting).
        let clock = Instant::now();
        let mut sending = self.sending();
        for delivery in claimed {
            let this = self.clone();
            let db = db.clone();
            sending.spawn(async move {
                let settled = this.deliver(&db, &delivery, at, clock).await;
                this.wake.nudge();
                settled
            });
        }
        Ok(Pass { started })
    }

    /// Sends one claimed delivery and records the attempt; `None` when recording failed (the
    /// lease then runs out and another attempt follows).
    async fn deliver(
        &self,
        db: &DatabaseConnection,
        claimed: &Claimed,
        at: DateTime<Utc>,
        clock: Instant,
    ) -> Option<Settled> {
        let attempt = self.attempt(claimed).await;
        self.metrics.record_webhook_attempt(
            AttemptOutcome::from(attempt.outcome).label(),
            attempt.latency,
        );
        let settled_at =
            at + chrono::Duration::from_std(clock.elapsed()).unwrap_or(chrono::Duration::zero());
        match deliveries::settle(db, claimed, &attempt, settled_at).await {
            Ok(settled) => {
                tracing::debug!(delivery = claimed.delivery.id, ?settled, status = ?attempt.status, "webhook attempt");
                Some(settled)
            }
            Err(error) => {
                tracing::error!(delivery = claimed.delivery.id, %error, "recording a webhook attempt");
                None
            }
        }
    }

    async fn attempt(&self, claimed: &Claimed) -> Attempt {
        let endpoint = &claimed.endpoint;
        let signer = match endpoints::signer(endpoint, service::now()) {
            Ok(signer) => signer,
            Err(error) => {
                return Attempt {
                    timestamp: service::now().timestamp(),
                    status: None,
                    latency: Duration::ZERO,
                    error: Some(error.to_string()),
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
                signer: &signer,
                extra_headers: &headers,
            })
            .await
    }

    /// Waits for every send started so far.
    async fn join_all(&self) -> Vec<Option<Settled>> {
        let mut set = std::mem::take(&mut *self.sending());
        let mut done = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(settled) => done.push(settled),
                Err(error) => tracing::error!(%error, "a webhook send task failed"),
            }
        }
        done
    }

    /// Runs passes as if the time were `at`, waiting for their sends, until nothing more is
    /// due then (deliveries queued behind an earlier one about the same record included).
    pub async fn drain_at(&self, db: &DatabaseConnection, at: DateTime<Utc>) -> ApiResult<Drained> {
        let mut drained = Drained::default();
        loop {
            let pass = self.pass_at(db, at).await?;
            let settled = self.join_all().await;
            for s in settled.iter().flatten() {
                match s {
                    Settled::Succeeded => drained.succeeded += 1,
                    Settled::Retrying => drained.retrying += 1,
                    Settled::Failed => drained.failed += 1,
                    Settled::Stale => {}
                }
            }
            if pass.started == 0 {
                return Ok(drained);
            }
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
    // the runner to claim again.
    fn wake(&self) -> Option<Wake> {
        Some(self.wake.clone())
    }

    fn stop(&self) -> impl std::future::Future<Output = ()> + Send {
        let this = self.clone();
        async move {
            this.join_all().await;
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
