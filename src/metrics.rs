//! Prometheus metrics: GraphQL requests by operation and outcome, their latency, the SQL
//! statements the gateway ran (also how tests prove a page takes a fixed number of statements),
//! webhooks: attempts by outcome, their latency, and the outbox backlog (queue depth and
//! the oldest waiting delivery's age, read from the database when scraped, so every gateway
//! process reports the shared queue), and WebSockets: those open, those the gateway closed by
//! reason, and subscriptions ended because their client fell behind.
//!
//! The exposition is `prometheus-client`'s Prometheus text format (version 0.0.4), so names,
//! escaping and the histogram's cumulative buckets follow the library rather than our own
//! `format!` calls.

use std::{
    collections::HashSet,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use prometheus_client::{
    encoding::{EncodeLabelSet, prometheus_text},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// Latency histogram bucket bounds, in seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Distinct operation names kept as labels; later names are counted as `other` so a client
/// cannot grow the metrics without bound.
const MAX_OPERATION_LABELS: usize = 200;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The labels of `threadline_graphql_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: String,
    outcome: &'static str,
}

/// The labels of `threadline_webhook_attempts_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    outcome: &'static str,
}

/// The labels of `threadline_websocket_server_closes_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CloseLabels {
    reason: &'static str,
}

/// The gateway's counters, shared by every request.
pub struct Metrics {
    registry: Registry,
    sql_statements: Counter,
    sql_failures: Counter,
    requests: Family<RequestLabels, Counter>,
    latency: Histogram,
    webhook_attempts: Family<AttemptLabels, Counter>,
    webhook_latency: Histogram,
    webhook_queue_depth: Gauge,
    webhook_oldest_age: Gauge,
    live_registrations: Gauge,
    bus_signals: Gauge,
    caller_cache_entries: Gauge,
    caller_cache_hits: Gauge,
    caller_cache_misses: Gauge,
    websockets_open: Gauge,
    websocket_server_closes: Family<CloseLabels, Counter>,
    subscriptions_fell_behind: Counter,
    /// The operation names already used as labels (the family cannot say which names it has
    /// without encoding them all).
    operations: Mutex<HashSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let sql_statements = Counter::default();
        let sql_failures = Counter::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Histogram::new(BUCKETS);
        let mut registry = Registry::default();
        // Counters are registered without their `_total` suffix: the encoder adds it.
        registry.register(
            "threadline_sql_statements",
            "SQL statements executed",
            sql_statements.clone(),
        );
        registry.register(
            "threadline_sql_statement_failures",
            "SQL statements that failed",
            sql_failures.clone(),
        );
        registry.register(
            "threadline_graphql_requests",
            "GraphQL requests by operation name and outcome",
            requests.clone(),
        );
        registry.register(
            "threadline_graphql_request_duration_seconds",
            "GraphQL request latency",
            latency.clone(),
        );
        let webhook_attempts = Family::<AttemptLabels, Counter>::default();
        // 10 ms to about 20 s: a delivery's timeout is 15 s by default.
        let webhook_latency = Histogram::new(exponential_buckets(0.01, 2.0, 12));
        let webhook_queue_depth = Gauge::default();
        let webhook_oldest_age = Gauge::default();
        registry.register(
            "threadline_webhook_attempts",
            "Webhook delivery attempts by outcome (delivered, retry, gone, refused)",
            webhook_attempts.clone(),
        );
        registry.register(
            "threadline_webhook_attempt_duration_seconds",
            "Webhook delivery attempt latency",
            webhook_latency.clone(),
        );
        registry.register(
            "threadline_webhook_queue_depth",
            "Webhook deliveries pending or being sent to enabled endpoints, over every gateway process",
            webhook_queue_depth.clone(),
        );
        registry.register(
            "threadline_webhook_oldest_pending_seconds",
            "Age of the oldest webhook delivery still pending or being sent to an enabled endpoint",
            webhook_oldest_age.clone(),
        );
        let live_registrations = Gauge::default();
        let bus_signals = Gauge::default();
        registry.register(
            "threadline_live_registrations",
            "Live subscriptions and jobs this process holds on the bus (each waits for a signal)",
            live_registrations.clone(),
        );
        registry.register(
            "threadline_bus_signals_received",
            "Signals this process's bus has received since it started",
            bus_signals.clone(),
        );
        let caller_cache_entries = Gauge::default();
        let caller_cache_hits = Gauge::default();
        let caller_cache_misses = Gauge::default();
        registry.register(
            "threadline_caller_cache_entries",
            "Callers (user and sign-in session) this process remembers",
            caller_cache_entries.clone(),
        );
        registry.register(
            "threadline_caller_cache_hits",
            "Requests whose caller was known without reading the database, since start",
            caller_cache_hits.clone(),
        );
        registry.register(
            "threadline_caller_cache_misses",
            "Requests whose caller was read from the database, since start",
            caller_cache_misses.clone(),
        );
        let websockets_open = Gauge::default();
        let websocket_server_closes = Family::<CloseLabels, Counter>::default();
        let subscriptions_fell_behind = Counter::default();
        registry.register(
            "threadline_websockets_open",
            "WebSocket connections open on this process",
            websockets_open.clone(),
        );
        registry.register(
            "threadline_websocket_server_closes",
            "WebSocket connections the gateway closed by reason (idle, no_pong, shutdown)",
            websocket_server_closes.clone(),
        );
        registry.register(
            "threadline_websocket_subscriptions_fell_behind",
            "Subscriptions ended because their client read too slowly",
            subscriptions_fell_behind.clone(),
        );
        Self {
            registry,
            live_registrations,
            bus_signals,
            caller_cache_entries,
            caller_cache_hits,
            caller_cache_misses,
            sql_statements,
            sql_failures,
            requests,
            latency,
            webhook_attempts,
            webhook_latency,
            webhook_queue_depth,
            webhook_oldest_age,
            websockets_open,
            websocket_server_closes,
            subscriptions_fell_behind,
            operations: Mutex::default(),
        }
    }
}

impl Metrics {
    /// Counts one SQL statement (called from the database driver's metric callback).
    pub fn record_statement(&self, failed: bool) {
        self.sql_statements.inc();
        if failed {
            self.sql_failures.inc();
        }
    }

    /// Counts a WebSocket connection opening.
    pub fn websocket_opened(&self) {
        self.websockets_open.inc();
    }

    /// Counts a WebSocket connection closing.
    pub fn websocket_closed(&self) {
        self.websockets_open.dec();
    }

    /// Counts a WebSocket connection the gateway closed for `reason` (`idle`, `no_pong`,
    /// `shutdown`).
    pub fn websocket_closed_by_server(&self, reason: &'static str) {
        self.websocket_server_closes
            .get_or_create(&CloseLabels { reason })
            .inc();
    }

    /// Counts a subscription ended because its client read too slowly.
    pub fn subscription_fell_behind(&self) {
        self.subscriptions_fell_behind.inc();
    }

    /// How many SQL statements have run so far.
    pub fn statements(&self) -> u64 {
        self.sql_statements.get()
    }

    /// Records one GraphQL request: its operation name, whether it had errors, and its latency.
    pub fn record_request(&self, operation: Option<&str>, ok: bool, elapsed: Duration) {
        let name = operation
            .filter(|n| !n.is_empty())
            .unwrap_or("anonymous")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(100)
            .collect::<String>();
        let operation = {
            // A poisoned set still holds valid names: a panic elsewhere must not stop counting.
            let mut known = self
                .operations
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if known.contains(&name) {
                name
            } else if known.len() < MAX_OPERATION_LABELS {
                known.insert(name.clone());
                name
            } else {
                "other".to_owned()
            }
        };
        let outcome = if ok { "ok" } else { "error" };
        self.requests
            .get_or_create(&RequestLabels { operation, outcome })
            .inc();
        self.latency.observe(elapsed.as_secs_f64());
    }

    /// Records one webhook delivery attempt: its outcome (`delivered`, `retry`, `gone`,
    /// `refused`) and latency.
    pub fn record_webhook_attempt(&self, outcome: &'static str, elapsed: Duration) {
        self.webhook_attempts
            .get_or_create(&AttemptLabels { outcome })
            .inc();
        self.webhook_latency.observe(elapsed.as_secs_f64());
    }

    /// Sets the webhook backlog: how many deliveries wait, and how long the oldest has.
    pub fn set_webhook_backlog(&self, depth: i64, oldest_age: Duration) {
        self.webhook_queue_depth.set(depth);
        self.webhook_oldest_age
            .set(i64::try_from(oldest_age.as_secs()).unwrap_or(i64::MAX));
    }

    /// Sets the bus's numbers: registrations held and signals received so far.
    pub fn set_bus(&self, registrations: usize, signals: u64) {
        self.live_registrations
            .set(i64::try_from(registrations).unwrap_or(i64::MAX));
        self.bus_signals
            .set(i64::try_from(signals).unwrap_or(i64::MAX));
    }

    /// Sets the caller cache's numbers: entries held, and hits and misses so far.
    pub fn set_caller_cache(&self, entries: usize, hits: u64, misses: u64) {
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.caller_cache_entries
            .set(gauge(u64::try_from(entries).unwrap_or(u64::MAX)));
        self.caller_cache_hits.set(gauge(hits));
        self.caller_cache_misses.set(gauge(misses));
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a `String` cannot fail; an error would only mean a half-written answer.
        if let Err(error) = prometheus_text::encode(&mut out, &self.registry) {
            tracing::error!(%error, "encoding the metrics failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        m.record_statement(false);
        m.record_statement(true);
        m.record_request(Some("Contacts"), true, Duration::from_millis(3));
        m.record_request(None, false, Duration::from_secs(5));
        let text = m.render();
        assert!(text.contains("threadline_sql_statements_total 2"), "{text}");
        assert!(
            text.contains("threadline_sql_statement_failures_total 1"),
            "{text}"
        );
        assert!(text.contains(
            "threadline_graphql_requests_total{operation=\"Contacts\",outcome=\"ok\"} 1"
        ));
        assert!(text.contains("operation=\"anonymous\",outcome=\"error\"} 1"));
        assert!(
            text.contains("duration_seconds_bucket{le=\"0.001\"} 0"),
            "{text}"
        );
        assert!(text.contains("duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("threadline_graphql_request_duration_seconds_count 2"));
        assert!(text.contains("# TYPE threadline_graphql_request_duration_seconds histogram"));
        assert_eq!(m.statements(), 2);
    }

    #[test]
    fn operation_names_are_bounded() {
        let m = Metrics::default();
        for i in 0..MAX_OPERATION_LABELS + 5 {
            m.record_request(Some(&format!("Op{i}")), true, Duration::ZERO);
        }
        m.record_request(Some("Op0"), false, Duration::ZERO);
        let text = m.render();
        assert!(
            text.contains("operation=\"other\",outcome=\"ok\"} 5"),
            "{text}"
        );
        assert!(text.contains("operation=\"Op0\",outcome=\"error\"} 1"));
        assert!(!text.contains(&format!("\"Op{MAX_OPERATION_LABELS}\"")));
    }
}
