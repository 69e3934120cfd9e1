//! Webhook deliveries: claiming the due ones for a worker, recording each attempt and what it
//! leads to, and the delivery log owners and admins read.
//!
//! A claim takes due deliveries with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so gateway
//! processes sharing the database share the work and never send one attempt twice at once;
//! it marks them `SENDING` with a lease. A process that dies mid-attempt leaves its rows
//! `SENDING`; once the lease runs out any worker claims them again, with the same
//! `webhook-id` (at least once, never lost). SQLite is one process's file, claimed the same
//! way without the row locks.
//!
//! Two rules shape a claim:
//! - **per-record order**: a delivery waits while an earlier one to the same endpoint about the
//!   same record is still pending or being sent, so a receiver sees `note.created` before
//!   `note.updated` even when the first needed retries;
//! - **per-endpoint cap**: no more than the endpoint's `max_in_flight` requests are under way at
//!   once, counted over every process (the claim locks the endpoint rows it counts for,
//!   skipping those another claim holds); an endpoint at its cap is set aside for the rest of
//!   the claim, so a backlog there never holds up deliveries to other endpoints.
//!
//! A worker may hold a few more deliveries of an endpoint than it may send at once (queued in
//! its process behind the sends under way, so that the next request goes out as soon as one
//! finishes instead of after a round trip to the database; see `crate::delivery`). They are
//! `SENDING` too, so the count a claim reads is an upper bound of the requests under way: a
//! claim lets this worker send to an endpoint at most its cap less the deliveries other workers
//! hold there ([`Claimed`] with the allowance), and no other worker's claim can then count fewer
//! than this worker holds. The sum over workers stays within the cap.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
};

use chrono::{DateTime, Duration, Utc};
use entity::{webhook_attempt, webhook_delivery, webhook_endpoint};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    FromQueryResult, QueryFilter, Statement, TransactionSession, TransactionTrait,
};
use webhooks::{
    client::{Attempt, Outcome},
    retry,
};

use super::{
    endpoints, now,
    outbox::{self, Pending},
    sql::{Sql, like_escape},
};
use crate::{
    error::{ApiError, ApiResult},
    service::actor::Actor,
};

/// An endpoint failing this long without a success is disabled.
pub const FAILING_LIMIT_DAYS: i64 = 5;

/// A delivery's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or for an earlier delivery about the same record).
    Pending,
    /// Being sent by a worker.
    Sending,
    /// The receiver answered 2xx.
    Succeeded,
    /// Given up: the schedule ran out, the receiver answered 410, or the endpoint went away.
    Failed,
}

impl DeliveryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// What one attempt led to, as the delivery log stores it (the sender's outcome).
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum AttemptOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Another answer, a timeout or a network error: retried on the schedule.
    Retry,
    /// The receiver answered 410 Gone: the endpoint was disabled.
    Gone,
    /// Nothing was sent: the URL's address is not allowed.
    Refused,
}

impl AttemptOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }

    /// The `outcome` label of the attempts metric.
    pub fn label(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retry => "retry",
            Self::Gone => "gone",
            Self::Refused => "refused",
        }
    }
}

impl From<Outcome> for AttemptOutcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Delivered => Self::Delivered,
            Outcome::Retry => Self::Retry,
            Outcome::Gone => Self::Gone,
            Outcome::Refused => Self::Refused,
        }
    }
}

/// A claimed delivery with what sending it needs.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// The delivery (attempts already counts this one).
    pub delivery: webhook_delivery::Model,
    /// Its endpoint (as the claim read it; shared by the claim's deliveries to it).
    pub endpoint: Arc<webhook_endpoint::Model>,
}

/// The most rounds one claim looks for due deliveries in: each round after the first looks only
/// at endpoints not set aside yet (at their cap, or held by another process's claim).
const CLAIM_ROUNDS: usize = 16;

/// Claims up to `limit` deliveries due at `at`, leased until `at + lease`, on the caller's
/// transaction (see [`settle_and_claim`]).
///
/// The first round looks at the due deliveries oldest first, twice as many as it may take. An
/// endpoint at its cap can take none of them; when some were left for that reason, the next
/// round looks only at the other endpoints that have deliveries due (found through the
/// endpoints, not by reading past the backlog), so a backlog at one endpoint's cap never holds
/// up the others.
async fn claim_on<'h, C: ConnectionTrait>(
    txn: &C,
    at: DateTime<Utc>,
    lease: Duration,
    limit: u64,
    holding: &'h HashMap<i64, Holding>,
) -> ApiResult<Claim<'h>> {
    let mut claim = Claim {
        postgres: txn.get_database_backend() == DbBackend::Postgres,
        at,
        lease_until: at + lease,
        holding,
        endpoints: HashMap::new(),
        room: HashMap::new(),
        allowed: HashMap::new(),
        set_aside: HashSet::new(),
        claimed: Vec::new(),
    };
    if claim.postgres {
        // The oldest due deliveries come from the due index in its order, read only as far as
        // the claim takes. Without this PostgreSQL may read every due delivery and sort them,
        // when its statistics say few are due (a new table, or a burst since the last
        // ANALYZE): measured, 9 ms a claim with 3,000 due, growing with the backlog. For this
        // transaction only; none of its later statements needs a sort.
        txn.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            "SET LOCAL enable_sort = off",
        ))
        .await?;
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut only = None;
    for _ in 0..CLAIM_ROUNDS {
        let wanted = limit.saturating_sub(claim.claimed.len());
        if wanted == 0 || !claim.round(txn, wanted, only.as_deref()).await? {
            break;
        }
        let wanted = limit.saturating_sub(claim.claimed.len());
        if wanted == 0 {
            break;
        }
        let others = claim.endpoints_with_due_work(txn, wanted).await?;
        if others.is_empty() {
            break;
        }
        only = Some(others);
    }
    Ok(claim)
}

/// The state of one claim across its rounds.
struct Claim<'a> {
    postgres: bool,
    at: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    /// What the claiming worker holds already, by endpoint.
    holding: &'a HashMap<i64, Holding>,
    /// The endpoints this claim holds (locked on PostgreSQL), by id.
    endpoints: HashMap<i64, Arc<webhook_endpoint::Model>>,
    /// How many more deliveries the worker may take of each of them.
    room: HashMap<i64, i64>,
    /// How many requests the worker may have under way to each of them.
    allowed: HashMap<i64, usize>,
    /// Endpoints at their cap, or held by another process's claim: not looked at again.
    set_aside: HashSet<i64>,
    claimed: Vec<Claimed>,
}

/// The condition on `d` of a delivery that may be sent now: due, or abandoned by a dead sender
/// (whose `next_attempt_at` passed when it was claimed). Spelled so that the partial index on
/// open deliveries by `next_attempt_at` serves it as a range: a claim reads the deliveries due
/// now, not the delivery log kept for the retention or the retries due later.
fn push_due(sql: &mut Sql, at: DateTime<Utc>) {
    sql.push("d.status IN ('PENDING', 'SENDING') AND d.next_attempt_at <= ")
        .bind(at)
        .push(" AND (d.status = 'PENDING' OR d.lease_until < ")
        .bind(at)
        .push(")");
}

/// The condition on `d` of a delivery not waiting behind an earlier one to the same endpoint
/// about the same record (per-record order).
const NOT_BEHIND_ANOTHER: &str = " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
     WHERE p.endpoint_id = d.endpoint_id AND p.record_key = d.record_key AND p.id < d.id \
     AND p.status IN ('PENDING', 'SENDING'))";

impl Claim<'_> {
    /// One round: up to `wanted` more deliveries, from the endpoints in `only` if given.
    /// Returns whether another round may find more: some deliveries were left because their
    /// endpoint was set aside, and (for the first round, which looks at every endpoint) it did
    /// not see every due delivery.
    async fn round<C: ConnectionTrait>(
        &mut self,
        txn: &C,
        wanted: usize,
        only: Option<&[i64]>,
    ) -> ApiResult<bool> {
        // Endpoint enabled, nothing earlier about the same record still open. What is wanted
        // (rows read and, on PostgreSQL, locked beyond it would be for nothing unless caps set
        // some aside, and then the next round looks at the other endpoints).
        let asked = wanted;
        let mut sql = Sql::new(txn.get_database_backend());
        sql.push(
            "SELECT d.* FROM webhook_deliveries d \
             JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled WHERE ",
        );
        push_due(&mut sql, self.at);
        sql.push(NOT_BEHIND_ANOTHER);
        if let Some(only) = only {
            sql.push(" AND d.endpoint_id IN ")
                .bind_list(only.iter().copied());
        }
        if !self.set_aside.is_empty() {
            sql.push(" AND d.endpoint_id NOT IN ")
                .bind_list(self.set_aside.iter().copied());
        }
        sql.push(" ORDER BY d.next_attempt_at, d.id")
            .limit(u64::try_from(asked).unwrap_or(u64::MAX));
        if self.postgres {
            sql.push(" FOR UPDATE OF d SKIP LOCKED");
        }
        let candidates = webhook_delivery::Model::find_by_statement(sql.build())
            .all(txn)
            .await?;
        let saw_all = candidates.len() < asked;
        if candidates.is_empty() {
            return Ok(false);
        }
        self.hold_endpoints(txn, &candidates).await?;

        let target = self.claimed.len().saturating_add(wanted);
        let first_new = self.claimed.len();
        let mut left_behind = false;
        for delivery in candidates {
            if self.claimed.len() >= target {
                break;
            }
            if self.set_aside.contains(&delivery.endpoint_id) {
                left_behind = true;
                continue;
            }
            let Some(endpoint) = self.endpoints.get(&delivery.endpoint_id) else {
                continue;
            };
            let room = self.room.entry(endpoint.id).or_insert(0);
            if *room <= 0 {
                self.set_aside.insert(endpoint.id);
                left_behind = true;
                continue;
            }
            *room -= 1;
            let endpoint = Arc::clone(endpoint);
            // Written for all the round's rows at once below.
            let mut delivery = delivery;
            delivery.status = DeliveryStatus::Sending.as_str().to_owned();
            delivery.lease_until = Some(self.lease_until);
            delivery.attempts += 1;
            self.claimed.push(Claimed { delivery, endpoint });
        }
        // A statement per `MARK_CHUNK` marks the round's rows (this transaction's: locked on
        // PostgreSQL, and SQLite has one writer) as the models above say, before a next round
        // looks again.
        for new in self.claimed[first_new..].chunks(MARK_CHUNK) {
            let mut sql = Sql::new(txn.get_database_backend());
            sql.push("UPDATE webhook_deliveries SET status = ")
                .bind(DeliveryStatus::Sending.as_str())
                .push(", lease_until = ")
                .bind(self.lease_until)
                .push(", attempts = attempts + 1 WHERE id IN ")
                .bind_list(padded(new.iter().map(|c| c.delivery.id)));
            txn.execute_raw(sql.build()).await?;
        }
        Ok(left_behind && !(saw_all && only.is_none()))
    }

    /// Up to `wanted` enabled endpoints, not set aside, with a delivery that may be sent now
    /// (due, and not behind another about its record), each probed through its own open
    /// deliveries (so a backlog elsewhere is not read).
    async fn endpoints_with_due_work<C: ConnectionTrait>(
        &self,
        txn: &C,
        wanted: usize,
    ) -> ApiResult<Vec<i64>> {
        let mut sql = Sql::new(txn.get_database_backend());
        sql.push("SELECT e.id FROM webhook_endpoints e WHERE e.enabled");
        if !self.set_aside.is_empty() {
            sql.push(" AND e.id NOT IN ")
                .bind_list(self.set_aside.iter().copied());
        }
        sql.push(" AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND ");
        push_due(&mut sql, self.at);
        sql.push(NOT_BEHIND_ANOTHER)
            .push(") ORDER BY e.id")
            .limit(u64::try_from(wanted).unwrap_or(u64::MAX));
        ids(txn, sql).await
    }

    /// Takes hold of the candidates' endpoints not held yet, counts what they have in flight
    /// over every process and works out how many requests this worker may have under way to
    /// each (the cap less what other workers hold) and how many more deliveries it may take. On
    /// PostgreSQL the endpoint rows are locked (`SKIP LOCKED`: one held by another process's
    /// claim is set aside for this one, so claims never wait on each other), so the count
    /// cannot change under this claim.
    async fn hold_endpoints<C: ConnectionTrait>(
        &mut self,
        txn: &C,
        candidates: &[webhook_delivery::Model],
    ) -> ApiResult<()> {
        let mut new_ids: Vec<i64> = candidates
            .iter()
            .map(|d| d.endpoint_id)
            .filter(|id| !self.endpoints.contains_key(id) && !self.set_aside.contains(id))
            .collect();
        new_ids.sort_unstable();
        new_ids.dedup();
        if new_ids.is_empty() {
            return Ok(());
        }
        let mut sql = Sql::new(txn.get_database_backend());
        sql.push("SELECT * FROM webhook_endpoints WHERE id IN ")
            .bind_list(padded(new_ids.iter().copied()))
            .push(" ORDER BY id");
        // `NO KEY UPDATE`, not `UPDATE`: it still keeps two claims (and the endpoint updates
        // of `settle`) apart, but not the `KEY SHARE` locks the outbox's foreign keys take, so
        // a change writing deliveries neither deadlocks with a claim nor has its endpoints
        // skipped by one.
        if self.postgres {
            sql.push(" FOR NO KEY UPDATE SKIP LOCKED");
        }
        let held = webhook_endpoint::Model::find_by_statement(sql.build())
            .all(txn)
            .await?;
        for id in &new_ids {
            if !held.iter().any(|e| e.id == *id) {
                self.set_aside.insert(*id);
            }
        }
        if held.is_empty() {
            return Ok(());
        }
        // Through the partial index on deliveries being sent, by endpoint: a claim reads what
        // is in flight, not the backlog or the delivery log.
        let mut sql = Sql::new(txn.get_database_backend());
        sql.push(
            "SELECT endpoint_id, COUNT(*) AS n FROM webhook_deliveries \
             WHERE status = 'SENDING' AND lease_until >= ",
        )
        .bind(self.at)
        .push(" AND endpoint_id IN ")
        .bind_list(padded(held.iter().map(|e| e.id)))
        .push(" GROUP BY endpoint_id");
        #[derive(FromQueryResult)]
        struct InFlight {
            endpoint_id: i64,
            n: i64,
        }
        let in_flight: HashMap<i64, i64> = InFlight::find_by_statement(sql.build())
            .all(txn)
            .await?
            .into_iter()
            .map(|row| (row.endpoint_id, row.n))
            .collect();
        for endpoint in held {
            let holding = self.holding.get(&endpoint.id).copied().unwrap_or_default();
            let mine = i64::try_from(holding.held).unwrap_or(i64::MAX);
            // This worker's deliveries are in the count (leased, not yet recorded).
            let others = (in_flight.get(&endpoint.id).copied().unwrap_or(0) - mine).max(0);
            let allowed = (i64::from(endpoint.max_in_flight) - others).max(0);
            let ahead = holding.ahead.clamp(0.0, MAX_AHEAD);
            // Rounded up: an endpoint worth queueing for gets at least one delivery ahead.
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            let queued = (allowed as f64 * ahead).ceil() as i64;
            self.room.insert(endpoint.id, allowed + queued - mine);
            self.allowed
                .insert(endpoint.id, usize::try_from(allowed).unwrap_or(0));
            self.endpoints.insert(endpoint.id, Arc::new(endpoint));
        }
        Ok(())
    }
}

/// What recording an attempt decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Delivered.
    Succeeded,
    /// Another attempt is scheduled.
    Retrying,
    /// Given up (schedule exhausted, or 410).
    Failed,
    /// Another worker had taken the delivery over (this one's lease ran out): only the
    /// attempt was logged. Or the delivery was deleted with its endpoint meanwhile: nothing
    /// was.
    Stale,
}

/// A finished attempt of a claimed delivery, waiting to be recorded.
#[derive(Clone, Debug)]
pub struct Finished {
    /// The delivery as claimed, with its endpoint.
    pub claimed: Claimed,
    /// How the attempt went.
    pub attempt: Attempt,
    /// When it finished.
    pub at: DateTime<Utc>,
}

/// What a worker holds of one endpoint's deliveries, for its next claim.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Holding {
    /// Deliveries it has claimed and not yet recorded: being sent, or queued to be.
    pub held: usize,
    /// How many deliveries it wants queued per request it may have under way (0: none; the
    /// delivery worker asks for some when the endpoint answers faster than a pass takes).
    pub ahead: f64,
}

/// The most deliveries a worker queues per request it may have under way to an endpoint.
pub const MAX_AHEAD: f64 = 16.0;

/// What a worker's pass writes and asks for.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// Attempts that finished, to record.
    pub finished: &'a [Finished],
    /// Deliveries it claimed but will not send (stopping, or queued too long): given back,
    /// due as they were.
    pub release: &'a [Claimed],
    /// What it holds already, by endpoint (see [`Holding`]).
    pub holding: &'a HashMap<i64, Holding>,
    /// The most deliveries to claim.
    pub limit: u64,
}

/// What a pass recorded and claimed.
#[derive(Debug, Default)]
pub struct Worked {
    /// What each finished attempt led to, in the order given.
    pub settled: Vec<Settled>,
    /// The deliveries claimed, oldest due first.
    pub claimed: Vec<Claimed>,
    /// For each endpoint the claim looked at: how many requests the worker may have under way
    /// to it (its cap less what other workers hold), until its next claim there.
    pub allowed: HashMap<i64, usize>,
}

/// Records the `finished` attempts, gives back the released deliveries, then claims up to
/// `limit` deliveries due at `at`, leased until `at + lease`, all in one transaction: a worker's
/// pass costs one transaction however many attempts it records and deliveries it claims, and
/// the claim sees what was just recorded (the deliveries no longer in flight, the next
/// delivery about a record now free to go).
///
/// Each attempt leads to success; 410, which disables the endpoint; or a retry on the schedule
/// (honouring `Retry-After`), giving up when the schedule is spent; an endpoint failing for
/// five days straight is disabled. Only the holder of a delivery's lease settles it.
///
/// When it fails nothing is written: the attempts can be recorded by a later call (and once
/// their lease has run out, another worker attempts them again: at least once, never lost).
#[tracing::instrument(skip_all, fields(finished = batch.finished.len(), limit = batch.limit), err(level = "debug"))]
pub async fn settle_and_claim<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    batch: Batch<'_>,
    at: DateTime<Utc>,
    lease: Duration,
) -> ApiResult<Worked> {
    if batch.finished.is_empty() && batch.release.is_empty() && batch.limit == 0 {
        return Ok(Worked::default());
    }
    let clock = std::time::Instant::now();
    let txn = db.begin().await?;
    let settled = settle_on(&txn, batch.finished).await?;
    release_on(&txn, batch.release).await?;
    let recorded = clock.elapsed();
    let mut worked = Worked {
        settled,
        ..Worked::default()
    };
    if batch.limit > 0 {
        let claim = claim_on(&txn, at, lease, batch.limit, batch.holding).await?;
        worked.claimed = claim.claimed;
        worked.allowed = claim.allowed;
    }
    let claimed = clock.elapsed();
    txn.commit().await?;
    tracing::debug!(
        recorded = batch.finished.len(),
        claimed = worked.claimed.len(),
        record_us = recorded.as_micros(),
        claim_us = (claimed - recorded).as_micros(),
        commit_us = (clock.elapsed() - claimed).as_micros(),
        "webhook pass steps"
    );
    Ok(worked)
}

/// Gives back deliveries claimed and never sent: due again as they were, the claim's attempt
/// count undone (each only while the worker still holds it).
async fn release_on<C: ConnectionTrait>(txn: &C, released: &[Claimed]) -> ApiResult<()> {
    for chunk in released.chunks(SETTLE_CHUNK) {
        let mut sql = Sql::new(txn.get_database_backend());
        sql.push("WITH v (d_id, d_attempts) AS (VALUES ");
        for (n, c) in chunk.iter().enumerate() {
            sql.push(if n == 0 { "(" } else { ", (" })
                .bind(c.delivery.id)
                .push(", ")
                .bind(c.delivery.attempts)
                .push(")");
        }
        sql.push(
            ") UPDATE webhook_deliveries SET status = 'PENDING', lease_until = NULL, \
             attempts = attempts - 1 FROM v \
             WHERE id = v.d_id AND status = 'SENDING' AND attempts = v.d_attempts",
        );
        txn.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// The most claimed deliveries one statement marks (see [`SETTLE_CHUNK`]).
const MARK_CHUNK: usize = 128;

/// The most attempts one statement records: six values a row in the delivery update, ten in
/// the attempt insert. Measured here, a statement's cost grows faster than its bound values:
/// sqlx binds each SQLite parameter by name, a lookup that walks the statement's list, and a
/// PostgreSQL `Bind` message past about 16 KiB (some 1,400 values) waited some 40-90 ms for
/// the socket (1,000 values: 1.3 ms; 1,600: 92 ms). A few statements of 64 rows cost less
/// than one of 512.
const SETTLE_CHUNK: usize = 64;

/// What an attempt leads to for its delivery: its next state, and when it is tried again.
fn decide(finished: &Finished) -> (DeliveryStatus, Option<DateTime<Utc>>) {
    match finished.attempt.outcome {
        Outcome::Delivered => (DeliveryStatus::Succeeded, None),
        Outcome::Gone => (DeliveryStatus::Failed, None),
        Outcome::Retry | Outcome::Refused => {
            let next_attempt = usize::try_from(finished.claimed.delivery.attempts)
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let retry_after = finished.attempt.retry_after;
            match retry::delay_before(next_attempt, retry::random_jitter(), retry_after) {
                Some(delay) => (
                    DeliveryStatus::Pending,
                    Some(finished.at + Duration::from_std(delay).unwrap_or(Duration::days(1))),
                ),
                None => (DeliveryStatus::Failed, None),
            }
        }
    }
}

/// Records `finished` on `txn` in a few statements whatever their number: one update of the
/// deliveries, one insert of the attempts, and statements about an endpoint only when its
/// health changes.
async fn settle_on<C: ConnectionTrait>(txn: &C, finished: &[Finished]) -> ApiResult<Vec<Settled>> {
    if finished.is_empty() {
        return Ok(Vec::new());
    }
    let decisions: Vec<_> = finished.iter().map(decide).collect();
    let updated = update_deliveries(txn, finished, &decisions).await?;
    let key = |f: &Finished| (f.claimed.delivery.id, f.claimed.delivery.attempts);
    // Not updated: taken over by another worker once the lease ran out (the attempt is still
    // logged), or deleted with its endpoint while the attempt was in flight (nothing is left to
    // log it against: an admin's ordinary action, not a fault).
    let missing: Vec<i64> = finished
        .iter()
        .filter(|f| !updated.contains(&key(f)))
        .map(|f| f.claimed.delivery.id)
        .collect();
    let existing = if missing.is_empty() {
        HashSet::new()
    } else {
        existing_deliveries(txn, &missing).await?
    };
    let logged: Vec<&Finished> = finished
        .iter()
        .filter(|f| updated.contains(&key(f)) || existing.contains(&f.claimed.delivery.id))
        .collect();
    for chunk in logged.chunks(SETTLE_CHUNK) {
        webhook_attempt::Entity::insert_many(chunk.iter().map(|f| attempt_row(f)))
            .exec_without_returning(txn)
            .await?;
    }
    record_health(txn, &logged).await?;
    Ok(finished
        .iter()
        .zip(&decisions)
        .map(|(f, (status, _))| match status {
            _ if !updated.contains(&key(f)) => Settled::Stale,
            DeliveryStatus::Succeeded => Settled::Succeeded,
            DeliveryStatus::Pending => Settled::Retrying,
            _ => Settled::Failed,
        })
        .collect())
}

/// Moves the deliveries on as `decisions` say, in one statement per chunk, each only while this
/// worker still holds it (`SENDING`, with the attempt count it claimed); returns the
/// `(id, attempts)` of those it moved.
async fn update_deliveries<C: ConnectionTrait>(
    txn: &C,
    finished: &[Finished],
    decisions: &[(DeliveryStatus, Option<DateTime<Utc>>)],
) -> ApiResult<HashSet<(i64, i32)>> {
    #[derive(FromQueryResult)]
    struct Moved {
        id: i64,
        attempts: i32,
    }
    let mut moved = HashSet::new();
    for (chunk, decided) in finished
        .chunks(SETTLE_CHUNK)
        .zip(decisions.chunks(SETTLE_CHUNK))
    {
        let mut sql = Sql::new(txn.get_database_backend());
        // A list of values joined to the table (`UPDATE ... FROM`, in both databases): one
        // statement moves every delivery, each to its own state.
        sql.push("WITH v (d_id, d_attempts, d_status, d_code, d_next, d_finished) AS (VALUES ");
        // Padded to a power of two with copies of the last row (one delivery joined to equal
        // rows is moved once), so the statement's text repeats and its prepared form is reused.
        let rows = chunk.iter().zip(decided);
        let last = rows.clone().next_back().into_iter();
        let rows = rows.chain(
            last.cycle()
                .take(chunk.len().next_power_of_two() - chunk.len()),
        );
        for (n, (f, (status, next))) in rows.enumerate() {
            let delivery = &f.claimed.delivery;
            sql.push(if n == 0 { "(" } else { ", (" })
                .bind(delivery.id)
                .push(", ")
                .bind(delivery.attempts)
                .push(", ")
                .bind(status.as_str())
                .push(", ")
                .bind(f.attempt.status.map(i32::from))
                .push(", ")
                .bind(next.unwrap_or(delivery.next_attempt_at))
                .push(", ")
                .bind(next.is_none().then_some(f.at))
                .push(")");
        }
        sql.push(
            ") UPDATE webhook_deliveries SET status = v.d_status, lease_until = NULL, \
             last_status_code = v.d_code, next_attempt_at = v.d_next, finished_at = v.d_finished \
             FROM v WHERE id = v.d_id AND status = 'SENDING' AND attempts = v.d_attempts \
             RETURNING id, attempts",
        );
        for row in Moved::find_by_statement(sql.build()).all(txn).await? {
            moved.insert((row.id, row.attempts));
        }
    }
    Ok(moved)
}

/// `items` padded to a power of two with copies of the last: an `IN` list's statement text
/// then takes a few forms, each prepared once and reused, instead of one per length.
fn padded<T: Copy>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.into_iter().collect();
    if let Some(&last) = items.last() {
        items.resize(items.len().next_power_of_two(), last);
    }
    items
}

/// Which of the deliveries `ids` are still there.
async fn existing_deliveries<C: ConnectionTrait>(
    txn: &C,
    wanted: &[i64],
) -> ApiResult<HashSet<i64>> {
    let mut sql = Sql::new(txn.get_database_backend());
    sql.push("SELECT id FROM webhook_deliveries WHERE id IN ")
        .bind_list(wanted.iter().copied());
    ids(txn, sql).await
}

/// The `id` column of what `sql` selects, collected as the caller needs it.
async fn ids<C: ConnectionTrait, B: FromIterator<i64>>(txn: &C, sql: Sql) -> ApiResult<B> {
    #[derive(FromQueryResult)]
    struct Id {
        id: i64,
    }
    Ok(Id::find_by_statement(sql.build())
        .all(txn)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// The delivery log's row of a finished attempt.
fn attempt_row(finished: &Finished) -> webhook_attempt::ActiveModel {
    let (delivery, attempt) = (&finished.claimed.delivery, &finished.attempt);
    webhook_attempt::ActiveModel {
        organization_id: Set(delivery.organization_id),
        delivery_id: Set(delivery.id),
        endpoint_id: Set(delivery.endpoint_id),
        attempt: Set(delivery.attempts),
        attempted_at: Set(finished.at),
        outcome: Set(AttemptOutcome::from(attempt.outcome).as_str().to_owned()),
        status_code: Set(attempt.status.map(i32::from)),
        latency_ms: Set(i64::try_from(attempt.latency.as_millis()).unwrap_or(i64::MAX)),
        error: Set(attempt.error.clone()),
        response_excerpt: Set(Some(attempt.response_excerpt.clone()).filter(|e| !e.is_empty())),
        ..Default::default()
    }
}

/// The endpoints' health after `logged` (in the order the attempts finished), endpoint by
/// endpoint in id order (so two workers recording at once take the rows' locks in the same
/// order). Each statement changes (and so locks) an endpoint's row only when its health
/// changes: a claim skips an endpoint row another transaction holds, and most attempts change
/// nothing here.
///
/// - A success ends the failing streak. The endpoint as claimed says whether there was one:
///   when none of its claims saw one, nothing is written (a failure recorded since, by a send
///   that overlapped, is cleared by the next success claimed after it, so the five days of
///   "failing straight" start at most one attempt early).
/// - A failure starts a streak (at the first failure after the last success) unless one is
///   running, and disables the endpoint once the streak is five days old.
/// - A 410 disables the endpoint.
async fn record_health<C: ConnectionTrait>(txn: &C, logged: &[&Finished]) -> ApiResult<()> {
    let mut by_endpoint: BTreeMap<i64, Vec<&Finished>> = BTreeMap::new();
    for f in logged {
        by_endpoint
            .entry(f.claimed.delivery.endpoint_id)
            .or_default()
            .push(f);
    }
    let failed = |f: &&&Finished| matches!(f.attempt.outcome, Outcome::Retry | Outcome::Refused);
    for (endpoint_id, attempts) in by_endpoint {
        let last_success = attempts
            .iter()
            .rposition(|f| f.attempt.outcome == Outcome::Delivered);
        let after_success = &attempts[last_success.map_or(0, |i| i + 1)..];
        let first_failure = after_success.iter().find(failed).map(|f| f.at);
        let last_failure = after_success.iter().rfind(failed).map(|f| f.at);
        let mut statements = Vec::new();
        match (first_failure, last_failure) {
            (Some(first), Some(last)) => {
                let mut sql = Sql::new(txn.get_database_backend());
                sql.push("UPDATE webhook_endpoints SET failing_since = ")
                    .bind(first)
                    .push(" WHERE id = ")
                    .bind(endpoint_id);
                if last_success.is_some() {
                    // The success in between ended any older streak.
                    sql.push(" AND (failing_since IS NULL OR failing_since < ")
                        .bind(first)
                        .push(")");
                } else {
                    sql.push(" AND failing_since IS NULL");
                }
                statements.push(sql);
                let mut sql = Sql::new(txn.get_database_backend());
                sql.push("UPDATE webhook_endpoints SET enabled = ")
                    .bind(false)
                    .push(", disabled_reason = 'FAILING', updated_at = ")
                    .bind(last)
                    .push(" WHERE id = ")
                    .bind(endpoint_id)
                    .push(" AND enabled AND failing_since <= ")
                    .bind(last - Duration::days(FAILING_LIMIT_DAYS));
                statements.push(sql);
            }
            _ if last_success.is_some()
                && attempts
                    .iter()
                    .any(|f| f.claimed.endpoint.failing_since.is_some()) =>
            {
                let mut sql = Sql::new(txn.get_database_backend());
                sql.push("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ")
                    .bind(endpoint_id)
                    .push(" AND failing_since IS NOT NULL");
                statements.push(sql);
            }
            _ => {}
        }
        if let Some(gone) = attempts
            .iter()
            .rfind(|f| f.attempt.outcome == Outcome::Gone)
        {
            let mut sql = Sql::new(txn.get_database_backend());
            sql.push("UPDATE webhook_endpoints SET enabled = ")
                .bind(false)
                .push(", disabled_reason = 'GONE', updated_at = ")
                .bind(gone.at)
                .push(" WHERE id = ")
                .bind(endpoint_id);
            statements.push(sql);
        }
        for sql in statements {
            txn.execute_raw(sql.build()).await?;
        }
    }
    Ok(())
}

/// Removes attempt rows older than `keep`, and deliveries finished before then whose attempts
/// are all gone. Returns how many attempt rows went.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn prune<C: ConnectionTrait>(
    db: &C,
    at: DateTime<Utc>,
    keep: Duration,
) -> ApiResult<u64> {
    let cutoff = at - keep;
    let attempts = webhook_attempt::Entity::delete_many()
        .filter(webhook_attempt::Column::AttemptedAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected;
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::FinishedAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(attempts)
}

/// How many deliveries wait to be sent, and since when the oldest has waited. The deliveries of
/// a disabled endpoint are left out: no worker sends them until it is enabled again, so they
/// would only make the backlog look stuck (after every 410, say).
#[derive(Clone, Copy, Debug, Default)]
pub struct Backlog {
    /// Deliveries pending or being sent to enabled endpoints.
    pub depth: i64,
    /// When the oldest of them was written.
    pub oldest: Option<DateTime<Utc>>,
}

/// The backlog over every organization (for `/metrics`).
pub async fn backlog<C: ConnectionTrait>(db: &C) -> ApiResult<Backlog> {
    #[derive(FromQueryResult)]
    struct Row {
        n: i64,
        oldest: Option<DateTime<Utc>>,
    }
    let sql = {
        let mut sql = Sql::new(db.get_database_backend());
        sql.push(
            "SELECT COUNT(*) AS n, MIN(d.created_at) AS oldest FROM webhook_deliveries d \
             JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled \
             WHERE d.status IN ('PENDING', 'SENDING')",
        );
        sql
    };
    let row = Row::find_by_statement(sql.build()).one(db).await?;
    Ok(row.map_or_else(Backlog::default, |r| Backlog {
        depth: r.n,
        oldest: r.oldest,
    }))
}

/// The delivery-log filter.
#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    /// Only deliveries in this state.
    pub status: Option<DeliveryStatus>,
    /// Only this event type, or those a pattern matches (`note.*`, `*`).
    pub event_type: Option<String>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
}

/// One page of an endpoint's deliveries, newest first (owners and admins).
#[tracing::instrument(skip_all, fields(endpoint_id), err(level = "debug"))]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    endpoint_id: i64,
    filter: &DeliveryFilter,
    before: Option<i64>,
    limit: u64,
) -> ApiResult<super::Page<webhook_delivery::Model>> {
    let endpoint = endpoints::get(db, actor, endpoint_id).await?;
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT * FROM webhook_deliveries WHERE organization_id = ")
        .bind(actor.org_id)
        .push(" AND endpoint_id = ")
        .bind(endpoint.id);
    if let Some(status) = filter.status {
        sql.push(" AND status = ").bind(status.as_str());
    }
    // An event type, or a pattern as endpoints subscribe with: `note.*`, or `*` for all.
    match filter.event_type.as_deref() {
        None | Some("*") => {}
        Some(pattern) => match pattern.strip_suffix(".*") {
            Some(kind) => {
                sql.push(" AND event_type LIKE ")
                    .bind(format!("{}.%", like_escape(kind)))
                    .push(" ESCAPE '\\'");
            }
            None => {
                sql.push(" AND event_type = ").bind(pattern.to_owned());
            }
        },
    }
    if let Some(since) = filter.since {
        sql.push(" AND created_at >= ").bind(since);
    }
    if let Some(until) = filter.until {
        sql.push(" AND created_at < ").bind(until);
    }
    if let Some(before) = before {
        sql.push(" AND id < ").bind(before);
    }
    sql.push(" ORDER BY id DESC").limit(limit + 1);
    let rows = webhook_delivery::Model::find_by_statement(sql.build())
        .all(db)
        .await?;
    Ok(super::Page::from_fetched(rows, limit))
}

/// One delivery of the actor's organization (owners and admins), or `NOT_FOUND`.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
) -> ApiResult<webhook_delivery::Model> {
    actor.require_org_admin("manage webhook endpoints")?;
    webhook_delivery::Entity::find_by_id(id)
        .filter(webhook_delivery::Column::OrganizationId.eq(actor.org_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("WebhookDelivery"))
}

/// The attempts of the given deliveries, oldest first, by delivery.
pub async fn attempts_of<C: ConnectionTrait>(
    db: &C,
    org: i64,
    ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<webhook_attempt::Model>>> {
    let rows = webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::OrganizationId.eq(org))
        .filter(webhook_attempt::Column::DeliveryId.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    let mut map: HashMap<i64, Vec<webhook_attempt::Model>> = HashMap::new();
    for row in rows {
        map.entry(row.delivery_id).or_default().push(row);
    }
    for list in map.values_mut() {
        list.sort_by_key(|a| a.id);
    }
    Ok(map)
}

/// Sends a delivery's event again, now: a new delivery with the same `webhook-id` and body
/// (receivers deduplicate on the id), behind any open delivery about the same record.
#[tracing::instrument(skip_all, fields(delivery_id = id), err(level = "debug"))]
pub async fn redeliver<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: i64,
) -> ApiResult<webhook_delivery::Model> {
    let original = get(db, actor, id).await?;
    let at = now();
    let copy = outbox::delivery(Pending {
        org: original.organization_id,
        endpoint_id: original.endpoint_id,
        message_id: &original.message_id,
        event_type: &original.event_type,
        record_key: &original.record_key,
        payload: &original.payload,
        at,
    })
    .insert(db)
    .await?;
    outbox::announce(db).await?;
    Ok(copy)
}

/// Queues a `webhook.test` event to one endpoint (whatever its event types; even when it is
/// disabled it is queued, and sent once it is enabled).
#[tracing::instrument(skip_all, fields(endpoint_id), err(level = "debug"))]
pub async fn send_test<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    endpoint_id: i64,
) -> ApiResult<webhook_delivery::Model> {
    let endpoint = endpoints::get(db, actor, endpoint_id).await?;
    let at = now();
    let message_id = outbox::new_message_id()?;
    let data = serde_json::json!({
        "endpoint": { "id": crate::ids::encode(crate::ids::Kind::WebhookEndpoint, endpoint.id) },
        "message": "A test event from Threadline.",
    });
    let body = outbox::body("webhook.test", at, data, &serde_json::Value::Null)?;
    let row = outbox::delivery(Pending {
        org: endpoint.organization_id,
        endpoint_id: endpoint.id,
        message_id: &message_id,
        event_type: "webhook.test",
        record_key: &format!("Test:{message_id}"),
        payload: &body,
        at,
    })
    .insert(db)
    .await?;
    outbox::announce(db).await?;
    Ok(row)
}
