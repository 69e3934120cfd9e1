//! Prometheus metrics: GraphQL requests by operation and outcome, their latency, and the SQL
//! statements the gateway ran (also how tests prove a page takes a fixed number of statements).

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// Latency histogram bucket bounds, in seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Distinct operation names kept as labels; later names are counted as `other` so a client
/// cannot grow the metrics without bound.
const MAX_OPERATION_LABELS: usize = 200;

/// The gateway's counters, shared by every request.
#[derive(Default)]
pub struct Metrics {
    sql_statements: AtomicU64,
    sql_failures: AtomicU64,
    inner: Mutex<Requests>,
}

#[derive(Default)]
struct Requests {
    by_operation: BTreeMap<(String, &'static str), u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

impl Metrics {
    /// Counts one SQL statement (called from the database driver's metric callback).
    pub fn record_statement(&self, failed: bool) {
        self.sql_statements.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.sql_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many SQL statements have run so far.
    pub fn statements(&self) -> u64 {
        self.sql_statements.load(Ordering::Relaxed)
    }

    /// Records one GraphQL request: its operation name, whether it had errors, and its latency.
    pub fn record_request(&self, operation: Option<&str>, ok: bool, elapsed: Duration) {
        let outcome = if ok { "ok" } else { "error" };
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let mut name = operation
            .filter(|n| !n.is_empty())
            .unwrap_or("anonymous")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(100)
            .collect::<String>();
        let known = inner.by_operation.keys().any(|(n, _)| *n == name);
        let distinct = inner
            .by_operation
            .keys()
            .map(|(n, _)| n.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if !known && distinct >= MAX_OPERATION_LABELS {
            name = "other".into();
        }
        *inner.by_operation.entry((name, outcome)).or_default() += 1;
        let seconds = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                inner.buckets[i] += 1;
            }
        }
        inner.count += 1;
        inner.sum_seconds += seconds;
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP threadline_sql_statements_total SQL statements executed.\n");
        out.push_str("# TYPE threadline_sql_statements_total counter\n");
        let _ = writeln!(
            out,
            "threadline_sql_statements_total {}",
            self.sql_statements.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP threadline_sql_statement_failures_total SQL statements that failed.\n",
        );
        out.push_str("# TYPE threadline_sql_statement_failures_total counter\n");
        let _ = writeln!(
            out,
            "threadline_sql_statement_failures_total {}",
            self.sql_failures.load(Ordering::Relaxed)
        );
        let Ok(inner) = self.inner.lock() else {
            return out;
        };
        out.push_str(
            "# HELP threadline_graphql_requests_total GraphQL requests by operation name and outcome.\n",
        );
        out.push_str("# TYPE threadline_graphql_requests_total counter\n");
        for ((name, outcome), count) in &inner.by_operation {
            let _ = writeln!(
                out,
                "threadline_graphql_requests_total{{operation=\"{name}\",outcome=\"{outcome}\"}} {count}"
            );
        }
        out.push_str(
            "# HELP threadline_graphql_request_duration_seconds GraphQL request latency.\n",
        );
        out.push_str("# TYPE threadline_graphql_request_duration_seconds histogram\n");
        for (bound, count) in BUCKETS.iter().zip(inner.buckets) {
            let _ = writeln!(
                out,
                "threadline_graphql_request_duration_seconds_bucket{{le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "threadline_graphql_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            inner.count
        );
        let _ = writeln!(
            out,
            "threadline_graphql_request_duration_seconds_sum {}",
            inner.sum_seconds
        );
        let _ = writeln!(
            out,
            "threadline_graphql_request_duration_seconds_count {}",
            inner.count
        );
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
        m.record_request(Some("Contacts"), true, Duration::from_millis(3));
        m.record_request(None, false, Duration::from_secs(5));
        let text = m.render();
        assert!(text.contains("threadline_sql_statements_total 1"));
        assert!(text.contains(
            "threadline_graphql_requests_total{operation=\"Contacts\",outcome=\"ok\"} 1"
        ));
        assert!(text.contains("operation=\"anonymous\",outcome=\"error\"} 1"));
        assert!(text.contains("duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("duration_seconds_bucket{le=\"+Inf\"} 2"));
    }
}
