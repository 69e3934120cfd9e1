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
//! - **per-endpoint cap**: no more than the endpoint's `max_in_flight` deliveries are being sent
//!   at once, counted over every process (the claim locks the endpoint rows it counts for,
//!   skipping those another claim holds); an endpoint at its cap is set aside for the rest of
//!   the claim, so a backlog there never holds up deliveries to other endpoints.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use entity::{webhook_attempt, webhook_delivery, webhook_endpoint};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    FromQueryResult, QueryFilter, TransactionSession, TransactionTrait,
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
    /// Its endpoint.
    pub endpoint: webhook_endpoint::Model,
}

/// The most rounds one claim looks for due deliveries in: each round after the first looks only
/// at endpoints not set aside yet (at their cap, or held by another process's claim).
const CLAIM_ROUNDS: usize = 16;

/// Claims up to `limit` deliveries due at `at`, leased until `at + lease`.
///
/// The first round looks at the due deliveries oldest first, twice as many as it may take. An
/// endpoint at its cap can take none of them; when some were left for that reason, the next
/// round looks only at the other endpoints that have deliveries due (found through the
/// endpoints, not by reading past the backlog), so a backlog at one endpoint's cap never holds
/// up the others.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn claim<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    at: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> ApiResult<Vec<Claimed>> {
    let txn = db.begin().await?;
    let mut claim = Claim {
        postgres: txn.get_database_backend() == DbBackend::Postgres,
        at,
        lease_until: at + lease,
        endpoints: HashMap::new(),
        in_flight: HashMap::new(),
        set_aside: HashSet::new(),
        claimed: Vec::new(),
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut only = None;
    for _ in 0..CLAIM_ROUNDS {
        let wanted = limit.saturating_sub(claim.claimed.len());
        if wanted == 0 || !claim.round(&txn, wanted, only.as_deref()).await? {
            break;
        }
        let wanted = limit.saturating_sub(claim.claimed.len());
        if wanted == 0 {
            break;
        }
        let others = claim.endpoints_with_due_work(&txn, wanted).await?;
        if others.is_empty() {
            break;
        }
        only = Some(others);
    }
    txn.commit().await?;
    Ok(claim.claimed)
}

/// The state of one claim across its rounds.
struct Claim {
    postgres: bool,
    at: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    /// The endpoints this claim holds (locked on PostgreSQL), by id.
    endpoints: HashMap<i64, webhook_endpoint::Model>,
    /// Their deliveries being sent, counted over every process.
    in_flight: HashMap<i64, i64>,
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

impl Claim {
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
        // Endpoint enabled, nothing earlier about the same record still open. Twice what is
        // wanted: the caps below may set some aside.
        let asked = wanted.saturating_mul(2);
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
            let busy = self.in_flight.entry(endpoint.id).or_insert(0);
            if *busy >= i64::from(endpoint.max_in_flight) {
                self.set_aside.insert(endpoint.id);
                left_behind = true;
                continue;
            }
            *busy += 1;
            let endpoint = endpoint.clone();
            // Written for all the round's rows at once below.
            let mut delivery = delivery;
            delivery.status = DeliveryStatus::Sending.as_str().to_owned();
            delivery.lease_until = Some(self.lease_until);
            delivery.attempts += 1;
            self.claimed.push(Claimed { delivery, endpoint });
        }
        // One statement marks the round's rows (this transaction's: locked on PostgreSQL, and
        // SQLite has one writer) as the models above say, before a next round looks again.
        let new = &self.claimed[first_new..];
        if !new.is_empty() {
            let mut sql = Sql::new(txn.get_database_backend());
            sql.push("UPDATE webhook_deliveries SET status = ")
                .bind(DeliveryStatus::Sending.as_str())
                .push(", lease_until = ")
                .bind(self.lease_until)
                .push(", attempts = attempts + 1 WHERE id IN ")
                .bind_list(new.iter().map(|c| c.delivery.id));
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
        #[derive(FromQueryResult)]
        struct Id {
            id: i64,
        }
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
        Ok(Id::find_by_statement(sql.build())
            .all(txn)
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect())
    }

    /// Takes hold of the candidates' endpoints not held yet and counts what they have in
    /// flight over every process. On PostgreSQL the endpoint rows are locked (`SKIP LOCKED`:
    /// one held by another process's claim is set aside for this one, so claims never wait on
    /// each other), so the count cannot change under this claim.
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
            .bind_list(new_ids.iter().copied())
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
        .bind_list(held.iter().map(|e| e.id))
        .push(" GROUP BY endpoint_id");
        #[derive(FromQueryResult)]
        struct InFlight {
            endpoint_id: i64,
            n: i64,
        }
        for row in InFlight::find_by_statement(sql.build()).all(txn).await? {
            self.in_flight.insert(row.endpoint_id, row.n);
        }
        for endpoint in held {
            self.endpoints.insert(endpoint.id, endpoint);
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

/// Records an attempt of a claimed delivery and what it leads to: success; 410, which
/// disables the endpoint; or a retry on the schedule (honouring `Retry-After`), giving up when
/// the schedule is spent; an endpoint failing for five days straight is disabled.
#[tracing::instrument(skip_all, fields(delivery_id = claimed.delivery.id), err(level = "debug"))]
pub async fn settle<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    claimed: &Claimed,
    attempt: &Attempt,
    at: DateTime<Utc>,
) -> ApiResult<Settled> {
    let delivery = &claimed.delivery;
    let txn = db.begin().await?;
    let (status, next) = match attempt.outcome {
        Outcome::Delivered => (DeliveryStatus::Succeeded, None),
        Outcome::Gone => (DeliveryStatus::Failed, None),
        Outcome::Retry | Outcome::Refused => {
            let next_attempt = usize::try_from(delivery.attempts)
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            match retry::delay_before(next_attempt, retry::random_jitter(), attempt.retry_after) {
                Some(delay) => (
                    DeliveryStatus::Pending,
                    Some(at + Duration::from_std(delay).unwrap_or(Duration::days(1))),
                ),
                None => (DeliveryStatus::Failed, None),
            }
        }
    };
    // Only the holder of the lease settles the delivery.
    let mut sql = Sql::new(txn.get_database_backend());
    sql.push("UPDATE webhook_deliveries SET status = ")
        .bind(status.as_str())
        .push(", lease_until = NULL, last_status_code = ")
        .bind(attempt.status.map(i32::from))
        .push(", next_attempt_at = ")
        .bind(next.unwrap_or(delivery.next_attempt_at))
        .push(", finished_at = ")
        .bind(next.is_none().then_some(at))
        .push(" WHERE id = ")
        .bind(delivery.id)
        .push(" AND status = 'SENDING' AND attempts = ")
        .bind(delivery.attempts);
    let updated = txn.execute_raw(sql.build()).await?.rows_affected();
    if updated == 0 && !exists(&txn, delivery.id).await? {
        // Deleted with its endpoint while the attempt was in flight: nothing left to log it
        // against (an admin's ordinary action, not a fault).
        txn.commit().await?;
        return Ok(Settled::Stale);
    }
    webhook_attempt::ActiveModel {
        organization_id: Set(delivery.organization_id),
        delivery_id: Set(delivery.id),
        endpoint_id: Set(delivery.endpoint_id),
        attempt: Set(delivery.attempts),
        attempted_at: Set(at),
        outcome: Set(AttemptOutcome::from(attempt.outcome).as_str().to_owned()),
        status_code: Set(attempt.status.map(i32::from)),
        latency_ms: Set(i64::try_from(attempt.latency.as_millis()).unwrap_or(i64::MAX)),
        error: Set(attempt.error.clone()),
        response_excerpt: Set(Some(attempt.response_excerpt.clone()).filter(|e| !e.is_empty())),
        ..Default::default()
    }
    .insert(&txn)
    .await?;

    // The endpoint's health. Each statement changes (and so locks) the endpoint's row only when
    // its health changes: a claim skips an endpoint row another transaction holds, and most
    // attempts change nothing here.
    let mut sql = Sql::new(txn.get_database_backend());
    let health = match attempt.outcome {
        // A success clears the failing streak, if there is one. The endpoint as claimed says
        // whether there was: skipping the statement when it was healthy then saves a round
        // trip per delivery, and a failure recorded since (by a send that overlapped this one)
        // is cleared by the next success claimed after it, so the five days of "failing
        // straight" start at most one attempt early. When it runs, the update writes (and on
        // PostgreSQL locks) the endpoint row only if there is a streak to clear: a row lock
        // per success would queue concurrent settles, and the claim's `FOR UPDATE`, on it.
        Outcome::Delivered if claimed.endpoint.failing_since.is_none() => None,
        Outcome::Delivered => {
            sql.push("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ")
                .bind(delivery.endpoint_id)
                .push(" AND failing_since IS NOT NULL");
            Some(sql)
        }
        Outcome::Gone => {
            sql.push("UPDATE webhook_endpoints SET enabled = ")
                .bind(false)
                .push(", disabled_reason = 'GONE', updated_at = ")
                .bind(at)
                .push(" WHERE id = ")
                .bind(delivery.endpoint_id);
            Some(sql)
        }
        Outcome::Retry | Outcome::Refused => {
            sql.push("UPDATE webhook_endpoints SET failing_since = ")
                .bind(at)
                .push(" WHERE id = ")
                .bind(delivery.endpoint_id)
                .push(" AND failing_since IS NULL");
            txn.execute_raw(sql.build()).await?;
            let mut sql = Sql::new(txn.get_database_backend());
            sql.push("UPDATE webhook_endpoints SET enabled = ")
                .bind(false)
                .push(", disabled_reason = 'FAILING', updated_at = ")
                .bind(at)
                .push(" WHERE id = ")
                .bind(delivery.endpoint_id)
                .push(" AND enabled AND failing_since <= ")
                .bind(at - Duration::days(FAILING_LIMIT_DAYS));
            Some(sql)
        }
    };
    if let Some(sql) = health {
        txn.execute_raw(sql.build()).await?;
    }
    txn.commit().await?;
    Ok(match (updated, status) {
        (0, _) => Settled::Stale,
        (_, DeliveryStatus::Succeeded) => Settled::Succeeded,
        (_, DeliveryStatus::Pending) => Settled::Retrying,
        _ => Settled::Failed,
    })
}

/// Whether delivery `id` is still there.
async fn exists<C: ConnectionTrait>(db: &C, id: i64) -> ApiResult<bool> {
    Ok(webhook_delivery::Entity::find_by_id(id)
        .one(db)
        .await?
        .is_some())
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
