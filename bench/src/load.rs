//! Runs one operation from many concurrent clients for a fixed time or request count, and
//! collects each request's latency and every error.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::rng::Rng;

/// What one request returns: the statements it sent (when the client knows), or an error.
pub type Outcome = Result<u32, String>;

/// One kind of request, made by client number `client` with its own generator.
pub trait Operation: Send + Sync + 'static {
    /// Makes one request.
    fn call<'a>(
        &'a self,
        client: usize,
        rng: &'a mut Rng,
    ) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;
}

/// When a run stops.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// After this long.
    After(Duration),
    /// After this many requests over all clients.
    Requests(u64),
}

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Each request's latency, in microseconds.
    pub latencies_us: Vec<u32>,
    /// Requests that failed (an HTTP error, a GraphQL error, a wrong answer, an SQL error).
    pub errors: u64,
    /// The first few error messages.
    pub error_examples: Vec<String>,
    /// Statements the requests reported sending.
    pub statements: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Sample {
    /// Requests made (successful or not).
    pub fn requests(&self) -> u64 {
        self.latencies_us.len() as u64
    }

    /// Adds another run's measures to this one.
    pub fn merge(&mut self, other: Sample) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        for e in other.error_examples {
            if self.error_examples.len() < 5 {
                self.error_examples.push(e);
            }
        }
        self.statements += other.statements;
        self.elapsed += other.elapsed;
    }

    /// Requests a second over the run's wall time.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.requests() as f64 / secs
        } else {
            0.0
        }
    }

    /// The latency below which a share `p` (0..=1) of the requests finished.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies_us.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        let index = ((sorted.len() - 1) as f64 * p).round() as usize;
        Duration::from_micros(u64::from(sorted[index]))
    }
}

/// Runs `op` from `clients` concurrent clients until `stop`; client `i` draws with the
/// generator of (`seed`, `i`), so a run makes the same requests for the same seed.
pub async fn run(op: Arc<dyn Operation>, clients: usize, stop: Stop, seed: u64) -> Sample {
    let started = Instant::now();
    let issued = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let (op, issued) = (op.clone(), issued.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(seed, 1_000 + client as u64);
            let mut sample = Sample::default();
            loop {
                match stop {
                    Stop::After(d) if started.elapsed() >= d => break,
                    Stop::Requests(n) if issued.fetch_add(1, Ordering::Relaxed) >= n => break,
                    _ => {}
                }
                let t = Instant::now();
                let outcome = op.call(client, &mut rng).await;
                let us = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
                sample.latencies_us.push(us);
                match outcome {
                    Ok(statements) => sample.statements += u64::from(statements),
                    Err(e) => {
                        sample.errors += 1;
                        if sample.error_examples.len() < 5 {
                            sample.error_examples.push(e);
                        }
                    }
                }
            }
            sample
        }));
    }
    let mut total = Sample::default();
    for task in tasks {
        match task.await {
            Ok(sample) => total.merge(sample),
            Err(e) => {
                total.errors += 1;
                total
                    .error_examples
                    .push(format!("a client task failed: {e}"));
            }
        }
    }
    total.elapsed = started.elapsed();
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sleepy;

    impl Operation for Sleepy {
        fn call<'a>(
            &'a self,
            client: usize,
            rng: &'a mut Rng,
        ) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>> {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                if client == 0 && rng.below(2) == 0 {
                    Err("odd".into())
                } else {
                    Ok(2)
                }
            })
        }
    }

    #[tokio::test]
    async fn a_request_count_is_met_exactly_and_errors_are_counted() {
        let sample = run(Arc::new(Sleepy), 4, Stop::Requests(40), 1).await;
        assert_eq!(sample.requests(), 40);
        assert_eq!(sample.statements + 2 * sample.errors, 80);
        assert!(sample.percentile(0.5) >= Duration::from_millis(1));
        assert!(sample.percentile(0.99) >= sample.percentile(0.5));
        assert!(sample.throughput() > 0.0);
    }
}
