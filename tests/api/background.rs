//! The periodic jobs beside the server: with their timers on (as `serve` runs them), a
//! shutdown cancels them and the gateway stops without waiting out their grace period.

use std::time::Instant;

use threadline::startup::JOBS_SHUTDOWN_GRACE;

use crate::helpers::spawn_app_with_timers;

#[tokio::test]
async fn shutdown_stops_the_periodic_jobs_promptly() {
    let mut app = spawn_app_with_timers().await;
    // The gateway serves while its jobs run.
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    // Jobs that ignored the cancellation would hold the shutdown for the whole grace period
    // (the sweep waits an hour between passes) before being abandoned.
    let started = Instant::now();
    app.stop().await.expect("served until the signal");
    let took = started.elapsed();
    assert!(
        took < JOBS_SHUTDOWN_GRACE / 2,
        "the gateway took {took:?} to stop"
    );
}
