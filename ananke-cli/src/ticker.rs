//! The daemon's poll clock: a periodic `timerfd` read through tokio's reactor.
//!
//! A tokio `sleep` of a second wakes the thread twice (the timer wheel first moves the entry from
//! its 64 ms level to its 1 ms level, then fires it), and the daemon sleeps most of its life. A
//! periodic `timerfd` wakes it once per period, at a fixed rate that does not drift with the time
//! a poll takes.

use rustix::time::{
    timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec,
};
use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// A clock that ticks every `period`, the first tick one period after [`Ticker::new`].
pub struct Ticker {
    fd: AsyncFd<OwnedFd>,
}

impl Ticker {
    /// A ticker with `period` (at least 1 ms). Must be called inside a tokio runtime with I/O.
    ///
    /// # Errors
    /// When the kernel refuses a timerfd (or the runtime has no I/O driver).
    pub fn new(period: Duration) -> io::Result<Self> {
        let period = period.max(Duration::from_millis(1));
        let fd = timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC)?;
        let every = Timespec {
            tv_sec: i64::try_from(period.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(period.subsec_nanos()),
        };
        timerfd_settime(&fd, TimerfdTimerFlags::empty(), &Itimerspec { it_interval: every, it_value: every })?;
        // tokio deprecates the safe constructor because a registered descriptor could be closed
        // behind the reactor's back; the AsyncFd owns this one (an OwnedFd), so it cannot be,
        // and the replacement needs `unsafe`, which this crate forbids.
        #[allow(deprecated)]
        let fd = AsyncFd::with_interest(fd, Interest::READABLE)?;
        Ok(Self { fd })
    }

    /// Waits for the next tick; returns how many periods ended since the last call (1 unless the
    /// caller was late).
    ///
    /// # Errors
    /// When reading the timerfd fails.
    pub async fn tick(&mut self) -> io::Result<u64> {
        loop {
            let mut ready = self.fd.readable().await?;
            let mut expirations = [0u8; 8];
            if let Ok(read) = ready.try_io(|fd| Ok(rustix::io::read(fd.get_ref(), &mut expirations)?)) {
                read?;
                // A read takes every expiration: nothing is left to read until the next one, so
                // the next tick waits at once instead of trying a read that would block.
                ready.clear_ready();
                return Ok(u64::from_ne_bytes(expirations));
            }
            // Woken without an expiration to read (the readiness was stale): wait again.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn ticks_once_per_period_and_counts_missed_ones() {
        let mut ticker = Ticker::new(Duration::from_millis(20)).expect("a timerfd");
        let start = Instant::now();
        assert_eq!(ticker.tick().await.expect("a tick"), 1);
        assert_eq!(ticker.tick().await.expect("a tick"), 1);
        assert!(start.elapsed() >= Duration::from_millis(40), "two periods: {:?}", start.elapsed());
        // A caller late by three periods learns that they passed.
        std::thread::sleep(Duration::from_millis(65));
        assert!(ticker.tick().await.expect("a tick") >= 3);
    }

    #[tokio::test]
    async fn a_stale_readiness_waits_for_the_next_expiration() {
        let mut ticker = Ticker::new(Duration::from_millis(20)).expect("a timerfd");
        std::thread::sleep(Duration::from_millis(25));
        // The reactor learns the timerfd is readable, then someone else takes the expiration.
        drop(ticker.fd.readable().await.expect("readable"));
        let mut taken = [0u8; 8];
        rustix::io::read(ticker.fd.get_ref(), &mut taken).expect("an expiration");
        // The tick finds nothing to read, waits, and counts the next expiration (or more, if late).
        assert!(ticker.tick().await.expect("a tick after a stale readiness") >= 1);
    }

    #[tokio::test]
    async fn a_zero_period_is_taken_as_one_millisecond() {
        let mut ticker = Ticker::new(Duration::ZERO).expect("a timerfd");
        assert!(ticker.tick().await.expect("a tick") >= 1);
    }
}
