//! Every power domain's UPS, one connection per `upsd` (or per driver socket, for the domains
//! with a `driver_socket`), reconnecting with a bounded backoff.

use super::{Credentials, NutError, UpsReading};
use crate::config::{DaemonSettings, PowerDomain};
use crate::observation::UpsStatus;
use driver_link::DriverLink;
use link::{Link, LinkKey, Retry};
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

/// How the monitor talks to `upsd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorSettings {
    /// Bound on connecting and on each request.
    pub request_timeout: Duration,
    /// A last good reading older than this is stale (`daemon.stale_after`).
    pub stale_after: Duration,
    /// Wait before the first reconnect attempt after a failed one; doubles per failure.
    pub backoff_initial: Duration,
    /// Longest wait between reconnect attempts.
    pub backoff_max: Duration,
}

impl MonitorSettings {
    /// Settings for the daemon: its `stale_after`, a 3 s request bound, and a backoff from 0.5 s
    /// up to 5 s (shorter than `stale_after` by default, so a restarted upsd is found quickly).
    #[must_use]
    pub fn from_daemon(daemon: &DaemonSettings) -> Self {
        Self {
            request_timeout: Duration::from_secs(3),
            stale_after: daemon.stale_after.get(),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(5),
        }
    }

    /// The wait after `failures` consecutive failed attempts (at least one).
    #[must_use]
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(16);
        self.backoff_initial.saturating_mul(factor).min(self.backoff_max)
    }
}

/// One power domain's UPS after a poll.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainPower {
    /// The status for the observation. `reachable` means fresh data was read this poll; when it is
    /// false, the flags, charge and runtime are the last good reading's (empty if none).
    pub status: UpsStatus,
    /// The data is not current: upsd said so (`DATA-STALE`, `DRIVER-NOT-CONNECTED`, a driver
    /// still in `WAIT`), or the last good reading is older than `stale_after`.
    pub stale: bool,
    /// Why no fresh data was read, when none was.
    pub error: Option<String>,
    /// The error needs an operator (wrong UPS name, refused credentials, ...).
    pub permanent: bool,
}

/// Why a domain has no fresh reading.
#[derive(Clone)]
struct ReadFailure {
    message: String,
    permanent: bool,
    stale: bool,
}

impl From<NutError> for ReadFailure {
    fn from(e: NutError) -> Self {
        Self { stale: e.is_stale_data(), permanent: !e.is_transient(), message: e.to_string() }
    }
}

/// One power domain, as its link reads it.
struct Watch {
    index: usize,
    domain: String,
    ups: String,
    last_good: Option<(Instant, UpsReading)>,
    /// The last report was a good reading (`last_good`, read then).
    fresh: bool,
}

impl Watch {
    fn new(index: usize, domain: &str, ups: &str) -> Self {
        Self { index, domain: domain.to_owned(), ups: ups.to_owned(), last_good: None, fresh: false }
    }

    /// upsd answered what it answered last time: the last report stands, and a good reading
    /// is as fresh as now.
    fn same(&mut self, now: Instant) {
        if let (true, Some((at, _))) = (self.fresh, self.last_good.as_mut()) {
            *at = now;
        }
    }

    fn report(&mut self, result: Result<UpsReading, ReadFailure>, now: Instant, stale_after: Duration) -> DomainPower {
        self.fresh = matches!(&result, Ok(reading) if reading.has_status());
        let failure = match result {
            Ok(reading) if reading.has_status() => {
                let status = status_of(&self.domain, true, &reading);
                self.last_good = Some((now, reading));
                return DomainPower { status, stale: false, error: None, permanent: false };
            }
            Ok(reading) => ReadFailure {
                message: match reading.raw.get("ups.status") {
                    Some(status) => {
                        format!("upsd reports ups.status {status:?} for UPS {:?}: its driver serves no data", self.ups)
                    }
                    None => format!("upsd has no ups.status for UPS {:?}", self.ups),
                },
                permanent: false,
                stale: true,
            },
            Err(failure) => failure,
        };
        let age = self.last_good.as_ref().map(|(at, _)| now.saturating_duration_since(*at));
        let old = age.is_some_and(|age| age > stale_after);
        let last = self.last_good.as_ref().map(|(_, r)| r.clone()).unwrap_or_default();
        let message = match age {
            Some(age) if old => format!("stale for {} s (no fresh reading since): {}", age.as_secs(), failure.message),
            _ => failure.message,
        };
        let mut status = status_of(&self.domain, false, &last);
        status.error = Some(message.clone());
        DomainPower { status, stale: failure.stale || old, error: Some(message), permanent: failure.permanent }
    }
}

fn status_of(domain: &str, reachable: bool, reading: &UpsReading) -> UpsStatus {
    UpsStatus {
        domain: domain.to_owned(),
        reachable,
        flags: reading.flags.clone(),
        charge: reading.charge,
        runtime_s: reading.runtime_s,
        error: None,
    }
}

/// Watches every power domain's UPS through `upsd`.
///
/// Domains on the same `upsd` (host, port, user and password file; and UPS, for those that log
/// in) share one connection; the
/// connections are polled concurrently (blocking I/O, one scoped thread per `upsd` when there are
/// several), each request bounded by [`MonitorSettings::request_timeout`].
pub struct UpsMonitor {
    links: Vec<Link>,
    /// The domains with a `driver_socket`, one link per socket.
    drivers: Vec<DriverLink>,
    /// Every domain's last report, in the order of the domains.
    reports: Vec<DomainPower>,
    settings: MonitorSettings,
}

impl UpsMonitor {
    /// A monitor for `domains`. Connects lazily, at the first [`poll`](Self::poll).
    ///
    /// # Errors
    /// [`NutError::Credentials`] when a domain's credentials are misconfigured or its password
    /// file cannot be read.
    pub fn new(domains: &[PowerDomain], settings: MonitorSettings) -> Result<Self, NutError> {
        let mut keys: Vec<LinkKey> = Vec::new();
        let mut links: Vec<Link> = Vec::new();
        let mut drivers: Vec<DriverLink> = Vec::new();
        for (index, domain) in domains.iter().enumerate() {
            let ups = &domain.ups;
            if let Some(path) = &ups.driver_socket {
                let at = drivers.iter().position(|d| d.path == *path).unwrap_or_else(|| {
                    drivers.push(DriverLink::new(path.clone()));
                    drivers.len() - 1
                });
                drivers[at].watches.push(Watch::new(index, &domain.name, &ups.name));
                continue;
            }
            // One connection per upsd and user; with credentials, one per UPS as well: `LOGIN`
            // names one UPS per connection (as upsmon's one connection per MONITOR line), and a
            // misspelled name must cost only its own domain, never the others on that upsd.
            let login = ups.username.is_some().then(|| ups.name.clone());
            let key = (ups.host.clone(), ups.port, ups.username.clone(), ups.password_file.clone(), login);
            let at = if let Some(at) = keys.iter().position(|k| *k == key) {
                at
            } else {
                links.push(Link {
                    host: ups.host.clone(),
                    port: ups.port,
                    credentials: Credentials::from_ups(ups)?,
                    client: None,
                    retry: Retry::default(),
                    watches: Vec::new(),
                    login_ups: ups.name.clone(),
                });
                keys.push(key);
                links.len() - 1
            };
            links[at].watches.push(Watch::new(index, &domain.name, &ups.name));
        }
        let reports = domains.iter().map(|d| unread(d.name.clone(), "not read yet".to_owned())).collect();
        Ok(Self { links, drivers, reports, settings })
    }

    /// Reads every domain's UPS once and reports each, in the order of the domains given to
    /// [`new`](Self::new). Never fails: what could not be read is reported in each
    /// [`DomainPower`]. Blocks for at most about twice the request timeout per `upsd` (a connect,
    /// then a request); several `upsd`s are read at once, one thread each.
    pub fn poll(&mut self) -> Vec<DomainPower> {
        self.refresh();
        self.reports.clone()
    }

    /// Reads every domain's UPS once, as [`poll`](Self::poll) does, into [`reports`](Self::reports);
    /// says whether any report may have changed. `false` means every upsd answered byte for byte
    /// what it answered at the last poll and no driver socket had news, so nothing needs to be
    /// looked at again: the daemon's idle poll stops there.
    pub fn refresh(&mut self) -> bool {
        let settings = self.settings;
        let updates: Vec<(usize, DomainPower)> = if let [] | [_] = self.links.as_slice() {
            self.links.iter_mut().flat_map(|link| link.poll(&settings)).collect()
        } else {
            std::thread::scope(|scope| {
                let polls: Vec<_> = self
                    .links
                    .iter_mut()
                    .map(|link| {
                        let watches: Vec<(usize, String)> =
                            link.watches.iter().map(|w| (w.index, w.domain.clone())).collect();
                        let poll = std::thread::Builder::new()
                            .name("ananke-nut".to_owned())
                            .spawn_scoped(scope, || link.poll(&settings));
                        (watches, poll)
                    })
                    .collect();
                polls.into_iter().flat_map(|(watches, poll)| joined(watches, poll)).collect()
            })
        };
        let pushed = self.refresh_pushed();
        pushed | self.apply(updates)
    }

    /// Reads what the UPS drivers' sockets (`driver_socket`) sent, without blocking (but for a
    /// reconnect, which waits up to the request timeout for the driver's state), and pings a
    /// silent driver; says whether any report may have changed. The `upsd`s are not read.
    pub fn refresh_pushed(&mut self) -> bool {
        let settings = self.settings;
        let updates: Vec<(usize, DomainPower)> =
            self.drivers.iter_mut().flat_map(|link| link.refresh(&settings)).collect();
        self.apply(updates)
    }

    /// Whether some domain is read by polling `upsd` (not through its driver's socket).
    #[must_use]
    pub fn polls_upsd(&self) -> bool {
        !self.links.is_empty()
    }

    /// The connected driver sockets, to wait on: one is readable when its driver has news.
    #[must_use]
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.drivers.iter().filter_map(DriverLink::fd).collect()
    }

    /// When the driver sockets next need a [`refresh_pushed`](Self::refresh_pushed) though no
    /// driver says anything (a `PING`, a silent driver going stale, a reconnect); `None` without
    /// driver sockets.
    #[must_use]
    pub fn next_due(&self) -> Option<Instant> {
        let now = Instant::now();
        self.drivers.iter().map(|link| link.next_due(&self.settings, now)).min()
    }

    /// Stores `updates` in the reports; says whether there were any.
    fn apply(&mut self, updates: Vec<(usize, DomainPower)>) -> bool {
        let changed = !updates.is_empty();
        for (index, power) in updates {
            if let Some(report) = self.reports.get_mut(index) {
                *report = power;
            }
        }
        changed
    }

    /// Every domain's report from the last [`refresh`](Self::refresh) or [`poll`](Self::poll)
    /// (before the first: unreachable, "not read yet").
    #[must_use]
    pub fn reports(&self) -> &[DomainPower] {
        &self.reports
    }

    /// Says goodbye to every `upsd` (`LOGOUT`), each bounded by the request timeout.
    pub fn close(self) {
        for client in self.links.into_iter().filter_map(|link| link.client) {
            // A failed goodbye changes nothing: the connection is closed either way.
            drop(client.logout());
        }
    }
}

/// A link's reports from its poll thread; when the thread could not start or did not finish,
/// every domain of the link says so, unreadable.
fn joined(
    watches: Vec<(usize, String)>,
    poll: std::io::Result<std::thread::ScopedJoinHandle<'_, Vec<(usize, DomainPower)>>>,
) -> Vec<(usize, DomainPower)> {
    let why = match poll.map(std::thread::ScopedJoinHandle::join) {
        Ok(Ok(reports)) => return reports,
        Ok(Err(_)) => "the poll thread for its upsd failed".to_owned(),
        Err(e) => format!("cannot start a poll thread for its upsd: {e}"),
    };
    watches
        .into_iter()
        .map(|(index, domain)| (index, DomainPower { stale: true, ..unread(domain, why.clone()) }))
        .collect()
}

/// A domain with no reading, for `why`.
fn unread(domain: String, why: String) -> DomainPower {
    let status = UpsStatus { domain, reachable: false, error: Some(why.clone()), ..UpsStatus::default() };
    DomainPower { status, stale: false, error: Some(why), permanent: false }
}

mod driver_link;
mod link;

#[cfg(test)]
mod tests;
