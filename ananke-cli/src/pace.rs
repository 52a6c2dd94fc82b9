//! The daemon's clock: a fixed period on the monotonic clock, and a wait that also ends when a UPS
//! driver's socket has news.
//!
//! The daemon sleeps most of its life, so its wait must cost as little as possible: one `poll(2)`
//! per wakeup, on the driver sockets it watches (none when it only polls upsd), with the time left
//! to the period's start as its timeout: one system call, one wakeup, and no async runtime (a tokio
//! sleep of a second wakes the thread twice and adds an `epoll_wait` per wakeup). The period's
//! start is absolute, so the rate does not drift with the time a poll takes. A quiet daemon (every
//! UPS read through its driver's socket, nothing waiting on the clock) skips periods: it waits as
//! long as it is told, or until a driver speaks. A signal with a handler (SIGTERM, SIGINT) ends the
//! wait at once: the kernel never restarts `poll` after a handler, whatever `SA_RESTART` says.

use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use rustix::time::{clock_gettime, ClockId, Timespec};
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Shortest period: a clock with a zero period would spin.
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// How a [`Pace::wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// The next period started (or the longer wait asked for is over).
    Period,
    /// A socket waited on is readable; the period has not started yet.
    Readable,
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
        let period = timespec(period.max(MIN_PERIOD));
        let mut pace = Self { period, next: now() };
        pace.advance();
        pace
    }

    /// Sleeps until the next period starts, or, with `longer`, until that much time has passed
    /// (the periods in between are skipped); until one of `fds` is readable; or until a signal
    /// handler runs.
    ///
    /// # Errors
    /// When the kernel refuses the wait (it does not, for valid sockets).
    pub fn wait(&mut self, fds: &[BorrowedFd<'_>], longer: Option<Duration>) -> io::Result<Woke> {
        let start = now();
        let deadline = match longer {
            Some(wait) => start.checked_add(timespec(wait)).unwrap_or(self.next),
            None => self.next,
        };
        let timeout = deadline.checked_sub(start).filter(|t| t.tv_sec >= 0).unwrap_or(ZERO);
        let mut polls: Vec<PollFd<'_>> = fds.iter().map(|fd| PollFd::new(fd, PollFlags::IN)).collect();
        match poll(&mut polls, Some(&timeout)) {
            Ok(0) => {
                self.advance();
                Ok(Woke::Period)
            }
            Ok(_) if now() >= self.next => {
                self.advance();
                Ok(Woke::Period)
            }
            Ok(_) => Ok(Woke::Readable),
            Err(Errno::INTR) => Ok(Woke::Signal),
            Err(e) => Err(e.into()),
        }
    }

    /// As [`wait`](Self::wait), until a period starts or a socket is readable (`Some`), or until
    /// `stop` is set (`None`): it is checked first and again whenever a signal handler cut the
    /// wait short. A signal between the check and the wait is seen when that wait ends.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_unless(
        &mut self,
        stop: &AtomicBool,
        fds: &[BorrowedFd<'_>],
        longer: Option<Duration>,
    ) -> io::Result<Option<Woke>> {
        while !stop.load(Ordering::SeqCst) {
            match self.wait(fds, longer)? {
                Woke::Signal => {}
                woke => return Ok(Some(woke)),
            }
        }
        Ok(None)
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

const ZERO: Timespec = Timespec { tv_sec: 0, tv_nsec: 0 };

fn timespec(d: Duration) -> Timespec {
    Timespec { tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4), tv_nsec: i64::from(d.subsec_nanos()) }
}

fn now() -> Timespec {
    clock_gettime(ClockId::Monotonic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;
    use std::time::Instant;

    #[test]
    fn periods_keep_their_rate() {
        let mut pace = Pace::new(Duration::from_millis(20));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(pace.wait(&[], None).expect("sleeps"), Woke::Period);
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
        assert_eq!(pace.wait(&[], None).expect("a deadline in the past"), Woke::Period);
        let (before, after) = (now(), now().checked_add(period).expect("no overflow"));
        assert!(pace.next > before && pace.next <= after, "no catch-up burst: next {:?}", pace.next);
    }

    #[test]
    fn a_set_stop_flag_ends_the_wait_before_any_sleep() {
        let mut pace = Pace::new(Duration::from_secs(3600));
        assert_eq!(pace.wait_unless(&AtomicBool::new(true), &[], None).expect("no sleep at all"), None);
        let mut pace = Pace::new(Duration::from_millis(5));
        assert_eq!(pace.wait_unless(&AtomicBool::new(false), &[], None).expect("one period"), Some(Woke::Period));
    }

    #[test]
    fn a_zero_period_is_a_millisecond() {
        let mut pace = Pace::new(Duration::ZERO);
        let start = Instant::now();
        assert_eq!(pace.wait(&[], None).expect("sleeps"), Woke::Period);
        assert!(start.elapsed() >= Duration::from_millis(1));
    }

    #[test]
    fn a_readable_socket_ends_the_wait_before_the_period() {
        let (ours, mut theirs) = UnixStream::pair().expect("a socket pair");
        let mut pace = Pace::new(Duration::from_secs(3600));
        theirs.write_all(b"x").expect("write");
        let start = Instant::now();
        assert_eq!(pace.wait(&[ours.as_fd()], None).expect("readable"), Woke::Readable);
        assert_eq!(
            pace.wait_unless(&AtomicBool::new(false), &[ours.as_fd()], None).expect("readable"),
            Some(Woke::Readable)
        );
        assert!(start.elapsed() < Duration::from_secs(60));
        // A socket with nothing to read waits out the period.
        let (quiet, _peer) = UnixStream::pair().expect("a socket pair");
        let mut pace = Pace::new(Duration::from_millis(20));
        assert_eq!(pace.wait(&[quiet.as_fd()], None).expect("the period"), Woke::Period);
    }

    #[test]
    fn a_longer_wait_skips_periods_and_then_keeps_the_rate() {
        let mut pace = Pace::new(Duration::from_millis(10));
        let start = Instant::now();
        assert_eq!(pace.wait(&[], Some(Duration::from_millis(80))).expect("sleeps"), Woke::Period);
        assert!(start.elapsed() >= Duration::from_millis(80), "{:?}", start.elapsed());
        let after = now();
        assert!(pace.next > after && pace.next <= after.checked_add(pace.period).expect("no overflow"));
        // A readable socket after the period's start is a period: the upsd polls are due too.
        let (ours, mut theirs) = UnixStream::pair().expect("a socket pair");
        theirs.write_all(b"x").expect("write");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(pace.wait(&[ours.as_fd()], Some(Duration::from_secs(3600))).expect("readable"), Woke::Period);
    }
}
