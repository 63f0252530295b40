//! Exponential backoff, one implementation for every retry loop (the SQS sender, the Bridge client,
//! the shipper's per-message visibility), and the clamp applied to waits a server asks for.
//!
//! Two jitter policies, named as in the AWS Architecture Blog's "Exponential Backoff and Jitter":
//! *full* jitter draws uniformly in `[0, ceiling]`; *equal* jitter keeps half the ceiling and draws
//! the other half, so a retry never comes back almost at once.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Uniform in `[0, ceiling]`: spreads competing clients the most.
    Full,
    /// `ceiling/2 + uniform[0, ceiling/2]`: never less than half the ceiling.
    Equal,
    /// Exactly the ceiling (visibility timeouts: the delay is a promise, not a race).
    None,
}

/// `base · 2^(attempt-1)`, capped at `max`, with a jitter policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub jitter: Jitter,
}

impl Backoff {
    pub const fn new(base: Duration, max: Duration, jitter: Jitter) -> Self {
        Backoff { base, max, jitter }
    }

    /// The un-jittered delay before retry number `attempt` (1 = the first retry).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        // 2^20 already exceeds any cap in use; saturating keeps huge attempts harmless.
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The delay before retry number `attempt`, jittered.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        match self.jitter {
            Jitter::None => ceiling,
            Jitter::Full => Duration::from_millis(rand::random_range(0..=ms)),
            Jitter::Equal => Duration::from_millis(ms / 2 + rand::random_range(0..=ms - ms / 2)),
        }
    }
}

/// A wait asked for from outside (`Retry-After`, a token lifetime), held between `floor` and
/// `ceiling` so neither `0` nor `u64::MAX` seconds reach a timer.
pub fn clamp_wait(asked: Duration, floor: Duration, ceiling: Duration) -> Duration {
    asked.max(floor).min(ceiling.max(floor))
}

/// `now + d` without the panic `Instant + Duration` has on overflow: `None` past the far future.
pub fn checked_deadline(now: std::time::Instant, d: Duration) -> Option<std::time::Instant> {
    now.checked_add(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let b = Backoff::new(100 * MS, 1000 * MS, Jitter::None);
        let got: Vec<_> = (1..=6).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn clamp_holds_extremes() {
        let (lo, hi) = (200 * MS, Duration::from_secs(60));
        assert_eq!(clamp_wait(Duration::ZERO, lo, hi), lo);
        assert_eq!(clamp_wait(Duration::MAX, lo, hi), hi);
        assert_eq!(
            clamp_wait(Duration::from_secs(3), lo, hi),
            Duration::from_secs(3)
        );
    }

    proptest! {
        #[test]
        fn jitter_stays_in_its_band(attempt in any::<u32>(), base_ms in 0u64..100_000, max_ms in 0u64..10_000_000) {
            let (base, max) = (Duration::from_millis(base_ms), Duration::from_millis(max_ms));
            let full = Backoff::new(base, max, Jitter::Full);
            let equal = Backoff::new(base, max, Jitter::Equal);
            let ceiling = full.ceiling(attempt);
            prop_assert!(ceiling <= max);
            prop_assert!(full.delay(attempt) <= ceiling);
            let e = equal.delay(attempt);
            let half = Duration::from_millis(ceiling.as_millis() as u64 / 2);
            prop_assert!(e <= ceiling && e >= half, "{:?} not in [{:?}, {:?}]", e, half, ceiling);
        }
    }
}
