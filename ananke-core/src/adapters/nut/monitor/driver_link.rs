//! The domains read through one UPS driver's socket ([`DriverSocket`]): pushed changes, a `PING`
//! when the driver has been silent, a reconnect with the monitor's backoff when it went away.

use super::super::{DriverSocket, UpsReading};
use super::{DomainPower, MonitorSettings, ReadFailure, Retry, Watch};
use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One driver socket and the domains it feeds.
pub(super) struct DriverLink {
    pub(super) path: PathBuf,
    socket: Option<DriverSocket>,
    retry: Retry,
    pub(super) watches: Vec<Watch>,
}

impl DriverLink {
    pub(super) fn new(path: PathBuf) -> Self {
        Self { path, socket: None, retry: Retry::default(), watches: Vec::new() }
    }

    /// The socket to wait on, while connected.
    pub(super) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.socket.as_ref().map(DriverSocket::fd)
    }

    /// When this link needs a refresh though the driver says nothing: to `PING` it, to call it
    /// stale (once: a driver already stale is only pinged again), or to reconnect.
    pub(super) fn next_due(&self, settings: &MonitorSettings, now: Instant) -> Instant {
        let Some(socket) = &self.socket else { return self.retry.next_at(now) };
        let ping = socket.next_ping(ping_every(settings));
        let stale = socket.last_heard() + settings.stale_after + Duration::from_millis(1);
        if stale > now {
            ping.min(stale)
        } else {
            ping
        }
    }

    /// Reads what the driver sent; the reports of the domains it changed (none when nothing
    /// changed: a good reading then stays fresh).
    pub(super) fn refresh(&mut self, settings: &MonitorSettings) -> Vec<(usize, DomainPower)> {
        let now = Instant::now();
        let result = match self.news(now, settings) {
            Ok(None) => {
                self.watches.iter_mut().for_each(|w| w.same(now));
                return Vec::new();
            }
            Ok(Some(reading)) => Ok(reading),
            Err(failure) => Err(failure),
        };
        self.watches.iter_mut().map(|w| (w.index, w.report(result.clone(), now, settings.stale_after))).collect()
    }

    /// `Ok(None)`: nothing new since a good report; `Ok(Some)`: a reading to report; `Err`: why
    /// there is no good reading.
    fn news(&mut self, now: Instant, settings: &MonitorSettings) -> Result<Option<UpsReading>, ReadFailure> {
        let socket = if let Some(socket) = self.socket.as_mut() {
            socket
        } else {
            self.retry.wait(now)?;
            match DriverSocket::connect(&self.path, settings.request_timeout) {
                Ok(socket) => {
                    self.retry = Retry::default();
                    self.socket.insert(socket)
                }
                Err(e) => return Err(self.retry.failed(e, settings)),
            }
        };
        let changed = match socket.receive(now).and_then(|c| socket.ping_if_due(now, ping_every(settings)).map(|()| c))
        {
            Ok(changed) => changed,
            Err(e) => {
                self.socket = None;
                return Err(self.retry.failed(e, settings));
            }
        };
        let Some(reading) = socket.reading() else {
            return Err(failure("connected; the driver has not sent its state yet".to_owned(), false));
        };
        if !socket.data_ok() {
            return Err(failure("the driver reports its data stale (DATASTALE)".to_owned(), true));
        }
        let silent = now.saturating_duration_since(socket.last_heard());
        if silent > settings.stale_after {
            let message = format!("the driver has said nothing for {} ms, not even to PING", silent.as_millis());
            return Err(failure(message, true));
        }
        let reported = self.watches.iter().all(|w| w.fresh);
        Ok((changed || !reported).then(|| reading.clone()))
    }
}

/// How long a driver may be silent before it is pinged: a third of `stale_after`, so that even a
/// driver with a slow update loop answers well before its data would go stale.
fn ping_every(settings: &MonitorSettings) -> Duration {
    (settings.stale_after / 3).max(Duration::from_millis(10))
}

fn failure(message: String, stale: bool) -> ReadFailure {
    ReadFailure { message, permanent: false, stale }
}
