//! Exponential backoff with jitter, for reconnecting and for retrying catch-up
//! requests.

use std::time::Duration;

/// Delays that double from `base` up to `cap`, each drawn at random from the
/// upper half of its step ("equal jitter"): never less than half the step, so
/// a struggling server gets real relief, and spread out so that the clients a
/// restart disconnected do not all come back in the same millisecond.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap: cap.max(base),
            attempt: 0,
        }
    }

    /// The delay before the next attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.delay_at(self.attempt, rand::random::<f64>());
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Starts over from `base`, after a success.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The step for `attempt` (0-based): `base * 2^attempt`, at most `cap`.
    fn step(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The delay for `attempt` given a random `unit` in `[0, 1)`.
    fn delay_at(&self, attempt: u32, unit: f64) -> Duration {
        let step = self.step(attempt);
        let half = step / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn steps_double_up_to_the_cap() {
        let backoff = Backoff::new(100 * MS, 10_000 * MS);
        let steps: Vec<u128> = (0..10).map(|a| backoff.step(a).as_millis()).collect();
        assert_eq!(
            steps,
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]
        );
        assert_eq!(
            backoff.step(u32::MAX),
            10_000 * MS,
            "huge attempt counts neither overflow nor panic"
        );
    }

    #[test]
    fn jitter_stays_in_the_upper_half_of_the_step() {
        let backoff = Backoff::new(100 * MS, 10_000 * MS);
        for (attempt, unit, expected) in [
            (0, 0.0, 50),
            (0, 0.5, 75),
            (0, 0.999_999, 99),
            (3, 0.0, 400),
            (20, 1.0, 10_000),
        ] {
            assert_eq!(
                backoff.delay_at(attempt, unit).as_millis(),
                expected,
                "attempt {attempt}, unit {unit}"
            );
        }
    }

    #[test]
    fn next_delay_grows_and_reset_starts_over() {
        let mut backoff = Backoff::new(100 * MS, 1_000 * MS);
        let delays: Vec<Duration> = (0..6).map(|_| backoff.next_delay()).collect();
        for (attempt, delay) in delays.iter().enumerate() {
            let step = backoff.step(attempt as u32);
            assert!(
                *delay >= step / 2 && *delay <= step,
                "attempt {attempt}: {delay:?} outside {step:?}"
            );
        }
        backoff.reset();
        assert!(backoff.next_delay() <= 100 * MS);
    }

    #[test]
    fn a_cap_below_the_base_is_raised_to_it() {
        let backoff = Backoff::new(500 * MS, 100 * MS);
        assert_eq!(backoff.step(0), 500 * MS);
        assert_eq!(backoff.step(5), 500 * MS);
    }
}
