//! A short, per-container memory of refusals: what this container refused lately is refused
//! again with no I/O, so a flood of one bad key, or from one client address already over its
//! window, costs DynamoDB nothing after its first refusal in each container.
//!
//! Bounded in time (each entry until a moment its caller chooses) and in size (a flood of
//! distinct entries forgets the oldest at once: each then costs its one try anyway).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

pub struct Refusals(Mutex<Option<HashMap<String, Instant>>>);

impl Refusals {
    /// Entries kept at most.
    pub const MOST: usize = 4096;

    pub const fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// How long `key` is still refused, if it is.
    pub fn holds(&self, key: &str, now: Instant) -> Option<Duration> {
        let guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard
            .as_ref()
            .and_then(|entries| entries.get(key))
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }

    /// Refuses `key` until `until`.
    pub fn remember(&self, key: &str, until: Instant, now: Instant) {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entries = guard.get_or_insert_with(HashMap::new);
        if entries.len() >= Self::MOST {
            entries.retain(|_, until| *until > now);
            if entries.len() >= Self::MOST {
                entries.clear();
            }
        }
        entries.insert(key.to_owned(), until);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap().as_ref().map_or(0, HashMap::len)
    }
}

impl Default for Refusals {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_last_until_their_time_and_stay_bounded() {
        let refused = Refusals::new();
        let t0 = Instant::now();
        refused.remember("a", t0 + Duration::from_secs(60), t0);
        assert_eq!(
            refused.holds("a", t0 + Duration::from_secs(59)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(refused.holds("a", t0 + Duration::from_secs(60)), None);
        assert_eq!(refused.holds("b", t0), None);
        for i in 0..Refusals::MOST + 10 {
            refused.remember(&i.to_string(), t0 + Duration::from_secs(60), t0);
        }
        assert!(refused.len() <= Refusals::MOST, "{}", refused.len());
    }
}
