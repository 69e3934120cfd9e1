//! The retry schedule: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, each with
//! up to ±10 % jitter so that many failed deliveries do not retry in lockstep; a `Retry-After`
//! from the receiver is honoured when it asks for longer.

use std::time::Duration;

/// The delay before each attempt; attempt 1 is immediate.
pub const SCHEDULE: [Duration; 8] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// How long to wait before attempt number `next_attempt` (1-based), or `None` when the
/// schedule is exhausted. `jitter` is in [-1, 1]; `retry_after` is the receiver's request.
pub fn delay_before(
    next_attempt: usize,
    jitter: f64,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let base = *SCHEDULE.get(next_attempt.checked_sub(1)?)?;
    let factor = 1.0 + 0.1 * jitter.clamp(-1.0, 1.0);
    let jittered = base.mul_f64(factor);
    Some(match retry_after {
        Some(asked) if asked > jittered => asked.min(Duration::from_secs(24 * 3600)),
        _ => jittered,
    })
}

/// A jitter value in [-1, 1] from the operating system's random source.
pub fn random_jitter() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.0;
    }
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_schedule_with_bounded_jitter() {
        assert_eq!(delay_before(1, 0.7, None), Some(Duration::ZERO));
        assert_eq!(delay_before(2, 0.0, None), Some(Duration::from_secs(5)));
        assert_eq!(delay_before(3, 1.0, None), Some(Duration::from_secs(330)));
        assert_eq!(delay_before(4, -1.0, None), Some(Duration::from_secs(1620)));
        assert_eq!(
            delay_before(8, 0.0, None),
            Some(Duration::from_secs(36_000))
        );
        assert_eq!(delay_before(9, 0.0, None), None);
        assert_eq!(delay_before(0, 0.0, None), None);
        assert_eq!(
            delay_before(2, 0.0, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            delay_before(3, 0.0, Some(Duration::from_secs(1))),
            Some(Duration::from_secs(300))
        );
        for _ in 0..100 {
            let j = random_jitter();
            assert!((-1.0..=1.0).contains(&j));
        }
    }
}
