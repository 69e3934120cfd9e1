//! Per-user resource limits on this process: how many of something (open WebSocket
//! connections, multipart uploads in flight) one user holds at once.
//!
//! The counts live in this process's memory: they bound what one user can make this process
//! hold (sockets, temporary files), not a quota across instances, so behind a load balancer
//! with N instances a user may hold up to N times as many.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// What each user holds at once on this process, keyed by user id.
#[derive(Debug, Default)]
pub struct PerUserCounter {
    held: Mutex<HashMap<i64, usize>>,
}

/// One counted place, held by a user until it is dropped.
#[derive(Debug)]
pub struct PerUserSlot {
    counter: Arc<PerUserCounter>,
    user_id: i64,
}

impl PerUserCounter {
    /// Counts one more for `user_id`, unless the user already holds `max`: then `None`.
    pub fn acquire(self: &Arc<Self>, user_id: i64, max: usize) -> Option<PerUserSlot> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let count = held.entry(user_id).or_default();
        if *count >= max {
            if *count == 0 {
                held.remove(&user_id);
            }
            return None;
        }
        *count += 1;
        Some(PerUserSlot {
            counter: self.clone(),
            user_id,
        })
    }
}

impl Drop for PerUserSlot {
    fn drop(&mut self) {
        let mut held = self.counter.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = held.get_mut(&self.user_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(counter: &PerUserCounter, user_id: i64) -> usize {
        let held = counter.held.lock().expect("lock");
        held.get(&user_id).copied().unwrap_or(0)
    }

    #[test]
    fn counts_per_user_and_releases_on_drop() {
        let counter = Arc::new(PerUserCounter::default());
        let first = counter.acquire(1, 2).expect("first");
        let second = counter.acquire(1, 2).expect("second");
        assert!(
            counter.acquire(1, 2).is_none(),
            "a third one is over the cap"
        );
        assert!(
            counter.acquire(2, 2).is_some(),
            "another user is not affected"
        );
        assert_eq!(held(&counter, 1), 2);
        drop(first);
        assert_eq!(held(&counter, 1), 1);
        let third = counter
            .acquire(1, 2)
            .expect("a released place is free again");
        drop((second, third));
        assert_eq!(held(&counter, 1), 0);
        assert!(counter.acquire(3, 0).is_none());
        assert_eq!(
            counter.held.lock().expect("lock").len(),
            0,
            "no empty entries"
        );
    }
}
