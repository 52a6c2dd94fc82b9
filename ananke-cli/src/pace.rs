//! The daemon's poll clock: a fixed period on the monotonic clock.
//!
//! The daemon sleeps most of its life, so its clock must cost as little as possible: one
//! `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)` per period is one system call and one wakeup
//! (a tokio sleep of a second wakes the thread twice, and an async runtime adds an `epoll_wait`
//! per wakeup). The deadline is absolute, so the rate does not drift with the time a poll takes.
//! A signal with a handler (SIGTERM, SIGINT) ends the sleep at once: the kernel never restarts
//! this call after a handler, whatever `SA_RESTART` says.

use rustix::io::Errno;
use rustix::thread::{clock_nanosleep_absolute, ClockId};
use rustix::time::{clock_gettime, Timespec};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Shortest period: a clock with a zero period would spin.
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// How a [`Pace::wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// The next period started.
    Period,
    /// A signal handler ran first; the period has not started yet.
    Signal,
}

/// A clock that starts a period every `period`, the first one period after [`Pace::new`].
#[derive(Debug)]
pub struct Pace {
    period: Timespec,
    next: Timespec,
}

impl Pace {
    /// A clock with `period` (at least 1 ms).
    #[must_use]
    pub fn new(period: Duration) -> Self {
        let period = period.max(MIN_PERIOD);
        let period = Timespec {
            tv_sec: i64::try_from(period.as_secs()).unwrap_or(i64::MAX / 4),
            tv_nsec: i64::from(period.subsec_nanos()),
        };
        let mut pace = Self { period, next: now() };
        pace.advance();
        pace
    }

    /// Sleeps until the next period starts, or until a signal handler runs.
    ///
    /// # Errors
    /// When the kernel refuses the sleep (it does not, for a valid deadline).
    pub fn wait(&mut self) -> io::Result<Woke> {
        match clock_nanosleep_absolute(ClockId::Monotonic, &self.next) {
            Ok(()) => {
                self.advance();
                Ok(Woke::Period)
            }
            Err(Errno::INTR) => Ok(Woke::Signal),
            Err(e) => Err(e.into()),
        }
    }

    /// Sleeps until the next period starts (`true`), or until `stop` is set (`false`): it is
    /// checked first and again whenever a signal handler cut the sleep short. A signal between
    /// the check and the sleep is seen at the end of that period.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_unless(&mut self, stop: &AtomicBool) -> io::Result<bool> {
        while !stop.load(Ordering::SeqCst) {
            if self.wait()? == Woke::Period {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The start of the period after the current one. A poll that overran whole periods starts
    /// the next one a full period from now, not at once (no burst of catch-up polls).
    fn advance(&mut self) {
        let now = now();
        self.next = match self.next.checked_add(self.period) {
            Some(next) if next > now => next,
            _ => now.checked_add(self.period).unwrap_or(now),
        };
    }
}

fn now() -> Timespec {
    clock_gettime(ClockId::Monotonic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn periods_keep_their_rate() {
        let mut pace = Pace::new(Duration::from_millis(20));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(pace.wait().expect("sleeps"), Woke::Period);
        }
        let three = start.elapsed();
        assert!(three >= Duration::from_millis(60), "three periods in {three:?}");
    }

    #[test]
    fn a_poll_that_overran_starts_the_next_period_a_full_period_later() {
        let mut pace = Pace::new(Duration::from_millis(20));
        let period = pace.period;
        // As if the last poll had taken three periods.
        pace.next = now().checked_sub(Timespec { tv_sec: 0, tv_nsec: 60_000_000 }).expect("a monotonic time");
        assert_eq!(pace.wait().expect("a deadline in the past"), Woke::Period);
        let (before, after) = (now(), now().checked_add(period).expect("no overflow"));
        assert!(pace.next > before && pace.next <= after, "no catch-up burst: next {:?}", pace.next);
    }

    #[test]
    fn a_set_stop_flag_ends_the_wait_before_any_sleep() {
        let mut pace = Pace::new(Duration::from_secs(3600));
        assert!(!pace.wait_unless(&AtomicBool::new(true)).expect("no sleep at all"));
        let mut pace = Pace::new(Duration::from_millis(5));
        assert!(pace.wait_unless(&AtomicBool::new(false)).expect("one period"));
    }

    #[test]
    fn a_zero_period_is_a_millisecond() {
        let mut pace = Pace::new(Duration::ZERO);
        let start = Instant::now();
        assert_eq!(pace.wait().expect("sleeps"), Woke::Period);
        assert!(start.elapsed() >= Duration::from_millis(1));
    }
}
