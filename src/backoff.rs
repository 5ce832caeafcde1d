//! The one back-off every reconnecting or restarting actor uses: the wait
//! before the next attempt doubles with each consecutive failure from
//! [`FIRST`] up to [`MAX`], and the count starts over once the actor has run
//! for [`HEALTHY_AFTER`] without failing, so an outage an hour ago does not
//! make today's first restart wait the full cap. Pure logic; the caller
//! sleeps.

use std::time::{Duration, Instant};

/// Wait after the first failure in a row.
pub const FIRST: Duration = Duration::from_millis(100);
/// Longest wait between attempts.
pub const MAX: Duration = Duration::from_secs(5);
/// A run this long without failing resets the count.
pub const HEALTHY_AFTER: Duration = Duration::from_secs(10);

/// Consecutive failures and when the last one happened.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    failures: u32,
    last_failure: Option<Instant>,
}

impl Backoff {
    /// Records a failure at `now` and returns how long to wait before the
    /// next attempt.
    pub fn fail_at(&mut self, now: Instant) -> Duration {
        let healthy = self
            .last_failure
            .is_none_or(|last| now.saturating_duration_since(last) >= HEALTHY_AFTER);
        if healthy {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(now);
        self.delay()
    }

    /// Records a failure now; the wait before the next attempt.
    pub fn fail(&mut self) -> Duration {
        self.fail_at(Instant::now())
    }

    /// The wait the current count asks for (zero before any failure).
    pub fn delay(&self) -> Duration {
        match self.failures {
            0 => Duration::ZERO,
            n => (FIRST * 2u32.saturating_pow((n - 1).min(10))).min(MAX),
        }
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wait doubles with each failure in a row and stops at the cap.
    #[test]
    fn grows_to_a_cap() {
        let mut backoff = Backoff::default();
        let start = Instant::now();
        assert_eq!(backoff.delay(), Duration::ZERO);
        assert_eq!(backoff.fail_at(start), FIRST);
        assert_eq!(backoff.fail_at(start), FIRST * 2);
        for _ in 0..20 {
            backoff.fail_at(start);
        }
        assert_eq!(backoff.delay(), MAX);
    }

    /// After a healthy period the next failure waits the shortest time again.
    #[test]
    fn resets_after_a_healthy_period() {
        let mut backoff = Backoff::default();
        let start = Instant::now();
        for _ in 0..10 {
            backoff.fail_at(start);
        }
        assert_eq!(backoff.delay(), MAX);
        assert_eq!(backoff.fail_at(start + HEALTHY_AFTER), FIRST);
        assert_eq!(backoff.failures(), 1);
    }
}
