//! Time as a value: the core never reads a clock.
//!
//! `Time` is milliseconds on whatever clock the caller uses: for real runs a monotonic clock that
//! starts at 0 when the world is built (so a step of the wall clock, an NTP correction at boot,
//! moves no deadline), virtual milliseconds from 0 in the simulator. Every input carries one.
//! Wall-clock time appears only as timestamps (`started_at`, `finished_at`, `updated_at`) in the
//! journal's files, reports and progress, never as a machine input.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A point in time, in milliseconds on the caller's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Time(pub u64);

impl Time {
    /// The origin of the clock.
    pub const ZERO: Time = Time(0);

    /// Milliseconds since the origin.
    #[must_use]
    pub fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating.
    #[must_use]
    pub fn plus(self, d: Duration) -> Time {
        Time(self.0.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
    }

    /// The time elapsed since `earlier` (zero if `earlier` is later).
    #[must_use]
    pub fn since(self, earlier: Time) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl std::fmt::Display for Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "t+{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}
