//! What travels on the bus: a few numbers saying what changed, in a compact text form (a
//! PostgreSQL notification's payload is limited to 8,000 bytes, and small ones are cheap).

use std::{fmt, str::FromStr};

/// A committed change, as the bus carries it: who should look again, never what changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// A timeline event `event` was written about `contact` of `org`.
    Timeline {
        /// The organization.
        org: i64,
        /// The contact the event is about.
        contact: i64,
        /// The event's id.
        event: i64,
    },
    /// Reminders of `user` fired.
    Reminders {
        /// The organization.
        org: i64,
        /// The reminded user.
        user: i64,
    },
    /// `user` has a new notification.
    Notifications {
        /// The organization.
        org: i64,
        /// The notified user.
        user: i64,
    },
    /// `user`'s account or sessions changed (deactivated or reactivated, another role, name or
    /// email, a session ended): every process's caller cache forgets them (`auth::cache`).
    User {
        /// The organization.
        org: i64,
        /// The user.
        user: i64,
    },
    /// A reminder was scheduled or rescheduled: the reminder schedulers look at their next
    /// due time again.
    ReminderScheduled,
    /// Webhook deliveries were written or made due: the delivery workers claim.
    Deliveries,
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeline {
                org,
                contact,
                event,
            } => write!(f, "t:{org}:{contact}:{event}"),
            Self::Reminders { org, user } => write!(f, "r:{org}:{user}"),
            Self::Notifications { org, user } => write!(f, "n:{org}:{user}"),
            Self::User { org, user } => write!(f, "u:{org}:{user}"),
            Self::ReminderScheduled => f.write_str("s"),
            Self::Deliveries => f.write_str("w"),
        }
    }
}

/// A payload that is not a signal (from another version, or not ours).
#[derive(Debug, thiserror::Error)]
#[error("not a bus signal: {0:?}")]
pub struct NotASignal(String);

/// What separates the signals of one payload: a transaction publishes all of its signals (its
/// timeline events, its webhook deliveries) in one `NOTIFY`.
pub const SEPARATOR: char = ';';

/// The most bytes of one payload: PostgreSQL refuses a notification of 8,000 bytes or more.
pub const MAX_PAYLOAD: usize = 7_999;

/// The payloads that carry `signals`, in order, without repeats: as few as fit in
/// [`MAX_PAYLOAD`] bytes each (one for any ordinary write).
pub fn payloads(signals: &[Signal]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = String::new();
    let mut seen = Vec::with_capacity(signals.len());
    for signal in signals {
        if seen.contains(signal) {
            continue;
        }
        seen.push(*signal);
        let text = signal.to_string();
        if !current.is_empty() && current.len() + 1 + text.len() > MAX_PAYLOAD {
            payloads.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(SEPARATOR);
        }
        current.push_str(&text);
    }
    if !current.is_empty() {
        payloads.push(current);
    }
    payloads
}

/// The signals of a payload (see [`payloads`]), each parsed on its own: one malformed part
/// does not hide the others.
pub fn parse_payload(text: &str) -> impl Iterator<Item = Result<Signal, NotASignal>> + '_ {
    text.split(SEPARATOR).map(str::parse)
}

impl FromStr for Signal {
    type Err = NotASignal;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || NotASignal(text.chars().take(64).collect());
        let mut parts = text.split(':');
        let tag = parts.next().ok_or_else(bad)?;
        let numbers: Vec<i64> = parts
            .map(|p| p.parse().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        Ok(match (tag, numbers.as_slice()) {
            ("t", &[org, contact, event]) => Self::Timeline {
                org,
                contact,
                event,
            },
            ("r", &[org, user]) => Self::Reminders { org, user },
            ("n", &[org, user]) => Self::Notifications { org, user },
            ("u", &[org, user]) => Self::User { org, user },
            ("s", &[]) => Self::ReminderScheduled,
            ("w", &[]) => Self::Deliveries,
            _ => return Err(bad()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_reads_back_as_written() {
        let all = [
            Signal::Timeline {
                org: 1,
                contact: 22,
                event: 333,
            },
            Signal::Reminders { org: 1, user: 7 },
            Signal::Notifications { org: 2, user: 8 },
            Signal::User { org: 3, user: 9 },
            Signal::ReminderScheduled,
            Signal::Deliveries,
        ];
        for signal in all {
            assert_eq!(signal.to_string().parse::<Signal>().ok(), Some(signal));
        }
    }

    #[test]
    fn several_signals_travel_in_one_payload_and_read_back() {
        let signals = [
            Signal::Timeline {
                org: 1,
                contact: 22,
                event: 333,
            },
            Signal::Timeline {
                org: 1,
                contact: 22,
                event: 334,
            },
            Signal::Deliveries,
            Signal::Deliveries,
        ];
        let written = payloads(&signals);
        assert_eq!(written, ["t:1:22:333;t:1:22:334;w"]);
        let read: Vec<Signal> = parse_payload(&written[0])
            .collect::<Result<_, _>>()
            .expect("parses");
        assert_eq!(read, signals[..3]);
        assert!(payloads(&[]).is_empty());
    }

    #[test]
    fn a_long_batch_is_split_below_the_notification_limit() {
        let signals: Vec<Signal> = (0..2_000)
            .map(|event| Signal::Timeline {
                org: 1,
                contact: 2,
                event: 1_000_000 + event,
            })
            .collect();
        let written = payloads(&signals);
        assert!(written.len() > 1);
        assert!(written.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let read: Vec<Signal> = written
            .iter()
            .flat_map(|p| parse_payload(p))
            .collect::<Result<_, _>>()
            .expect("parses");
        assert_eq!(read, signals);
    }

    #[test]
    fn a_malformed_part_leaves_the_others() {
        let read: Vec<bool> = parse_payload("w;x:1;s").map(|r| r.is_ok()).collect();
        assert_eq!(read, [true, false, true]);
    }

    #[test]
    fn anything_else_is_refused() {
        for text in ["", "t", "t:1:2", "t:1:2:3:4", "r:x:1", "s:1", "q:1:2", "w "] {
            assert!(text.parse::<Signal>().is_err(), "{text:?}");
        }
    }
}
