//! When to try a delivery again: the Standard Webhooks schedule after the first attempt
//! (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), never sooner than a receiver's `Retry-After`.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Waits before attempts 2, 3, …; eight attempts in all.
pub fn standard() -> Vec<Duration> {
    [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

/// SQS delays a message at most 15 minutes; longer waits are chained hop by hop.
pub const MAX_SQS_DELAY: Duration = Duration::from_secs(15 * 60);

/// A receiver may ask for a longer wait, not an endless one.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The wait before the attempt after `attempts_made` (counted from the start of this round),
/// or `None` when the schedule is spent.
pub fn next_wait(
    schedule: &[Duration],
    attempts_made: usize,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let planned = *schedule.get(attempts_made.checked_sub(1)?)?;
    Some(match retry_after {
        Some(asked) => planned.max(asked.min(MAX_RETRY_AFTER)),
        None => planned,
    })
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    (at - now).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_schedule() {
        let s = standard();
        assert_eq!(next_wait(&s, 1, None), Some(Duration::from_secs(5)));
        assert_eq!(next_wait(&s, 2, None), Some(Duration::from_secs(300)));
        assert_eq!(next_wait(&s, 7, None), Some(Duration::from_secs(36000)));
        assert_eq!(next_wait(&s, 8, None), None, "eight attempts in all");
        assert_eq!(next_wait(&s, 0, None), None);
    }

    #[test]
    fn retry_after_can_only_lengthen_the_wait() {
        let s = standard();
        assert_eq!(
            next_wait(&s, 1, Some(Duration::from_secs(120))),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            next_wait(&s, 2, Some(Duration::from_secs(1))),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            next_wait(&s, 1, Some(Duration::from_secs(10_000_000))),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 10:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 09:00:00 GMT", now),
            None
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
