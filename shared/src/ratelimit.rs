//! Fixed one-minute windows per API key. The counter lives on the key's own item so that
//! authenticating and counting are one conditional UpdateItem (see `store::keys::authorize`).

use chrono::{DateTime, Utc};

/// The window a moment falls in: minutes since the epoch.
pub fn window_of(now: DateTime<Utc>) -> i64 {
    now.timestamp().div_euclid(60)
}

/// Seconds until the window that holds `now` ends (1..=60), for `Retry-After`.
pub fn seconds_to_reset(now: DateTime<Utc>) -> u64 {
    (60 - now.timestamp().rem_euclid(60)) as u64
}

/// What the caller may still do in this window; sent as rate-limit headers on every response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    pub limit: u32,
    pub remaining: u32,
    pub reset_in: u64,
}

impl RateState {
    pub fn after(limit: u32, used: u32, now: DateTime<Utc>) -> Self {
        Self {
            limit,
            remaining: limit.saturating_sub(used),
            reset_in: seconds_to_reset(now),
        }
    }

    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", self.reset_in.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn windows_are_whole_minutes() {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        assert_eq!(
            window_of(t) + 1,
            window_of(t + chrono::Duration::seconds(60))
        );
        assert_eq!(window_of(t), window_of(t + chrono::Duration::seconds(59)));
        assert_eq!(seconds_to_reset(t), 60);
        assert_eq!(seconds_to_reset(t + chrono::Duration::seconds(59)), 1);
    }

    #[test]
    fn remaining_never_underflows() {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 30).unwrap();
        assert_eq!(RateState::after(100, 100, t).remaining, 0);
        assert_eq!(RateState::after(100, 101, t).remaining, 0);
        assert_eq!(
            RateState::after(100, 1, t),
            RateState {
                limit: 100,
                remaining: 99,
                reset_in: 30
            }
        );
    }
}
