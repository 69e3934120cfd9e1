//! The retry schedule: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, each with
//! up to ±20 % jitter so that many failed deliveries do not retry in lockstep; a `Retry-After`
//! from the receiver is honoured when it asks for longer, up to 24 hours.

use std::time::{Duration, SystemTime};

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

/// The largest share of a scheduled delay that jitter adds or removes (issue 11: ±20 %).
pub const JITTER_SHARE: f64 = 0.2;

/// The longest wait a receiver's `Retry-After` can ask for; longer requests are cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How long to wait before attempt number `next_attempt` (1-based), or `None` when the
/// schedule is exhausted. `jitter` is in [-1, 1] (see [`random_jitter`]) and scales the delay
/// by up to ±[`JITTER_SHARE`]; `retry_after` is the receiver's request (see
/// [`parse_retry_after`]), used when longer than the jittered delay and capped at
/// [`MAX_RETRY_AFTER`].
pub fn delay_before(
    next_attempt: usize,
    jitter: f64,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let base = *SCHEDULE.get(next_attempt.checked_sub(1)?)?;
    // NaN would poison the product; treat it as no jitter.
    let jitter = if jitter.is_nan() {
        0.0
    } else {
        jitter.clamp(-1.0, 1.0)
    };
    let jittered = base.mul_f64(1.0 + JITTER_SHARE * jitter);
    Some(match retry_after {
        Some(asked) if asked > jittered => asked.min(MAX_RETRY_AFTER),
        _ => jittered,
    })
}

/// A jitter value in [-1, 1] from the operating system's random source (0 if it is unavailable:
/// an unjittered retry is still a retry).
pub fn random_jitter() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.0;
    }
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) * 2.0 - 1.0
}

/// Parses a `Retry-After` header value (RFC 9110, section 10.2.3): either delta-seconds
/// (`"120"`) or an HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`, also the two obsolete date
/// forms), the latter taken relative to `now`. A date in the past asks for no wait; a value that
/// is neither form is `None`. The result is not capped: [`delay_before`] does that.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits but too large for u64 is still "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn follows_the_schedule_with_twenty_percent_jitter() {
        assert_eq!(delay_before(1, 0.7, None), Some(Duration::ZERO));
        assert_eq!(delay_before(2, 0.0, None), Some(Duration::from_secs(5)));
        assert_eq!(delay_before(2, 1.0, None), Some(Duration::from_secs(6)));
        assert_eq!(delay_before(3, 1.0, None), Some(Duration::from_secs(360)));
        assert_eq!(delay_before(4, -1.0, None), Some(Duration::from_secs(1440)));
        assert_eq!(delay_before(4, -0.5, None), Some(Duration::from_secs(1620)));
        // Out-of-range jitter is clamped, NaN ignored.
        assert_eq!(delay_before(3, 7.0, None), Some(Duration::from_secs(360)));
        assert_eq!(
            delay_before(3, f64::NAN, None),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            delay_before(8, 0.0, None),
            Some(Duration::from_secs(36_000))
        );
        assert_eq!(
            delay_before(8, 1.0, None),
            Some(Duration::from_secs(43_200))
        );
        assert_eq!(delay_before(9, 0.0, None), None);
        assert_eq!(delay_before(0, 0.0, None), None);
        let mut seen_low = false;
        let mut seen_high = false;
        for _ in 0..1000 {
            let j = random_jitter();
            assert!((-1.0..=1.0).contains(&j));
            seen_low |= j < -0.5;
            seen_high |= j > 0.5;
            let delay = delay_before(5, j, None).expect("in the schedule");
            assert!(delay >= Duration::from_secs(5760) && delay <= Duration::from_secs(8640));
        }
        assert!(seen_low && seen_high, "jitter spans its range");
    }

    #[test]
    fn retry_after_is_honoured_when_longer_and_capped_at_a_day() {
        assert_eq!(
            delay_before(2, 0.0, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(60))
        );
        // Shorter than the schedule: the schedule wins.
        assert_eq!(
            delay_before(3, 0.0, Some(Duration::from_secs(1))),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            delay_before(2, 0.0, Some(Duration::from_secs(3 * 24 * 3600))),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            delay_before(2, 0.0, Some(Duration::MAX)),
            Some(MAX_RETRY_AFTER)
        );
        // An exhausted schedule stays exhausted whatever the receiver asks.
        assert_eq!(delay_before(9, 0.0, Some(Duration::from_secs(60))), None);
    }

    #[test]
    fn parses_retry_after_values() {
        // 2015-10-21T07:28:00Z, the RFC's example date.
        let date = UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let now = date - Duration::from_secs(90);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        for form in [
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2015",
        ] {
            assert_eq!(
                parse_retry_after(form, now),
                Some(Duration::from_secs(90)),
                "{form}"
            );
        }
        // A date already past asks for no wait.
        assert_eq!(
            parse_retry_after(
                "Wed, 21 Oct 2015 07:28:00 GMT",
                date + Duration::from_secs(5)
            ),
            Some(Duration::ZERO)
        );
        for bad in [
            "",
            "-5",
            "1.5",
            "soon",
            "+10",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "١٢",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }
}
