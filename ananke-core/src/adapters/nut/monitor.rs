//! Every power domain's UPS, one connection per `upsd`, reconnecting with a bounded backoff.

use super::{Credentials, NutClient, NutError, UpsReading};
use crate::config::{DaemonSettings, PowerDomain};
use crate::observation::UpsStatus;
use std::path::PathBuf;
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
struct Failure {
    message: String,
    permanent: bool,
    stale: bool,
}

impl From<NutError> for Failure {
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
}

impl Watch {
    fn report(&mut self, result: Result<UpsReading, Failure>, now: Instant, stale_after: Duration) -> DomainPower {
        let failure = match result {
            Ok(reading) if reading.has_status() => {
                let status = status_of(&self.domain, true, &reading);
                self.last_good = Some((now, reading));
                return DomainPower { status, stale: false, error: None, permanent: false };
            }
            Ok(reading) => Failure {
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
        let old = self.last_good.as_ref().is_some_and(|(at, _)| now.saturating_duration_since(*at) > stale_after);
        let last = self.last_good.as_ref().map(|(_, r)| r.clone()).unwrap_or_default();
        DomainPower {
            status: status_of(&self.domain, false, &last),
            stale: failure.stale || old,
            error: Some(failure.message),
            permanent: failure.permanent,
        }
    }
}

fn status_of(domain: &str, reachable: bool, reading: &UpsReading) -> UpsStatus {
    UpsStatus {
        domain: domain.to_owned(),
        reachable,
        flags: reading.flags.clone(),
        charge: reading.charge,
        runtime_s: reading.runtime_s,
    }
}

/// One `upsd` (host, port and user) and the domains read through it.
struct Link {
    host: String,
    port: u16,
    credentials: Option<Credentials>,
    client: Option<NutClient>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<(String, bool)>,
    watches: Vec<Watch>,
}

impl Link {
    /// Reads each UPS of this link once (domains may share a UPS) and reports every domain.
    fn poll(&mut self, settings: &MonitorSettings) -> Vec<(usize, DomainPower)> {
        let mut out = Vec::with_capacity(self.watches.len());
        // Readings a later domain on the same UPS reuses (kept only when one does).
        let mut shared: Vec<(String, Result<UpsReading, Failure>)> = Vec::new();
        for i in 0..self.watches.len() {
            // A copy: logging in (`open`) reads the first watch's UPS name.
            let ups = self.watches[i].ups.clone();
            let result = if let Some((_, result)) = shared.iter().find(|(name, _)| *name == ups) {
                result.clone()
            } else {
                let result = self.read(&ups, settings);
                if self.watches[i + 1..].iter().any(|w| w.ups == ups) {
                    shared.push((ups, result.clone()));
                }
                result
            };
            let watch = &mut self.watches[i];
            out.push((watch.index, watch.report(result, Instant::now(), settings.stale_after)));
        }
        out
    }

    /// Reads one UPS. A connection that was in use and broke is replaced at once, once: an upsd
    /// restart between two polls then costs no reading.
    fn read(&mut self, ups: &str, settings: &MonitorSettings) -> Result<UpsReading, Failure> {
        let reused = self.client.is_some();
        for attempt in 0..2 {
            let client = self.connected(settings)?;
            match client.power(ups) {
                Ok(reading) => return Ok(reading),
                Err(e) if e.breaks_connection() => {
                    self.client = None;
                    if !(reused && attempt == 0) {
                        return Err(self.failed(e, settings));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Failure { message: "unreachable: retried once".to_owned(), permanent: false, stale: false })
    }

    /// The live connection, or a new one when the backoff allows.
    fn connected(&mut self, settings: &MonitorSettings) -> Result<&mut NutClient, Failure> {
        if self.client.is_none() {
            if let (Some(at), Some((message, permanent))) = (self.retry_at, &self.last_error) {
                let now = Instant::now();
                if now < at {
                    let wait = at - now;
                    let message = format!("{message} (next attempt in {} ms)", wait.as_millis());
                    return Err(Failure { message, permanent: *permanent, stale: false });
                }
            }
            match self.open(settings) {
                Ok(client) => {
                    self.client = Some(client);
                    self.failures = 0;
                    self.retry_at = None;
                    self.last_error = None;
                }
                Err(e) => return Err(self.failed(e, settings)),
            }
        }
        self.client.as_mut().ok_or_else(|| Failure {
            message: "no connection".to_owned(),
            permanent: false,
            stale: false,
        })
    }

    fn open(&self, settings: &MonitorSettings) -> Result<NutClient, NutError> {
        let mut client = NutClient::connect(&self.host, self.port, settings.request_timeout)?;
        if let (Some(credentials), Some(first)) = (&self.credentials, self.watches.first()) {
            client.login(credentials, &first.ups)?;
        }
        Ok(client)
    }

    /// Records a failed attempt and schedules the next one.
    fn failed(&mut self, e: NutError, settings: &MonitorSettings) -> Failure {
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(Instant::now() + settings.backoff(self.failures));
        let failure = Failure::from(e);
        self.last_error = Some((failure.message.clone(), failure.permanent));
        failure
    }
}

/// Watches every power domain's UPS through `upsd`.
///
/// Domains on the same `upsd` (host, port, user and password file) share one connection; the
/// connections are polled concurrently (blocking I/O, one scoped thread per `upsd` when there are
/// several), each request bounded by [`MonitorSettings::request_timeout`].
pub struct UpsMonitor {
    links: Vec<Link>,
    domains: usize,
    settings: MonitorSettings,
}

impl UpsMonitor {
    /// A monitor for `domains`. Connects lazily, at the first [`poll`](Self::poll).
    ///
    /// # Errors
    /// [`NutError::Credentials`] when a domain's credentials are misconfigured or its password
    /// file cannot be read.
    pub fn new(domains: &[PowerDomain], settings: MonitorSettings) -> Result<Self, NutError> {
        let mut keys: Vec<(String, u16, Option<String>, Option<PathBuf>)> = Vec::new();
        let mut links: Vec<Link> = Vec::new();
        for (index, domain) in domains.iter().enumerate() {
            let ups = &domain.ups;
            let key = (ups.host.clone(), ups.port, ups.username.clone(), ups.password_file.clone());
            let at = if let Some(at) = keys.iter().position(|k| *k == key) {
                at
            } else {
                links.push(Link {
                    host: ups.host.clone(),
                    port: ups.port,
                    credentials: Credentials::from_ups(ups)?,
                    client: None,
                    failures: 0,
                    retry_at: None,
                    last_error: None,
                    watches: Vec::new(),
                });
                keys.push(key);
                links.len() - 1
            };
            let watch = Watch { index, domain: domain.name.clone(), ups: ups.name.clone(), last_good: None };
            links[at].watches.push(watch);
        }
        Ok(Self { links, domains: domains.len(), settings })
    }

    /// Reads every domain's UPS once, in the order of the domains given to [`new`](Self::new).
    /// Never fails: what could not be read is reported in each [`DomainPower`]. Blocks for at most
    /// about twice the request timeout per `upsd` (a connect, then a request); several `upsd`s are
    /// read at once, one thread each.
    pub fn poll(&mut self) -> Vec<DomainPower> {
        let settings = self.settings;
        let mut all: Vec<(usize, DomainPower)> = if let [link] = self.links.as_mut_slice() {
            link.poll(&settings)
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
        all.sort_by_key(|(index, _)| *index);
        debug_assert_eq!(all.len(), self.domains);
        all.into_iter().map(|(_, power)| power).collect()
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
    let unread = |(index, domain): (usize, String)| {
        let status = UpsStatus { domain, reachable: false, flags: Vec::new(), charge: None, runtime_s: None };
        (index, DomainPower { status, stale: true, error: Some(why.clone()), permanent: false })
    };
    watches.into_iter().map(unread).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> MonitorSettings {
        MonitorSettings::from_daemon(&DaemonSettings::default())
    }

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        let s = settings();
        assert_eq!(s.backoff(1), Duration::from_millis(500));
        assert_eq!(s.backoff(2), Duration::from_secs(1));
        assert_eq!(s.backoff(4), Duration::from_secs(4));
        assert_eq!(s.backoff(5), Duration::from_secs(5));
        assert_eq!(s.backoff(u32::MAX), Duration::from_secs(5));
        assert_eq!(s.stale_after, Duration::from_secs(15));
    }

    fn reading(status: &str) -> UpsReading {
        let raw = [("ups.status", status), ("battery.charge", "80"), ("battery.runtime", "1200")];
        UpsReading::from_vars(raw.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    fn failure(stale: bool) -> Failure {
        Failure { message: "boom".to_owned(), permanent: false, stale }
    }

    #[test]
    fn a_failure_keeps_the_last_reading_and_turns_stale_with_age() {
        let mut watch = Watch { index: 0, domain: "statera".to_owned(), ups: "dummy".to_owned(), last_good: None };
        let t0 = Instant::now();
        let fresh = watch.report(Ok(reading("OB DISCHRG")), t0, Duration::from_secs(15));
        assert!(fresh.status.reachable && fresh.status.has("OB") && !fresh.stale && fresh.error.is_none());
        assert_eq!((fresh.status.charge, fresh.status.runtime_s), (Some(80.0), Some(1200)));

        let blip = watch.report(Err(failure(false)), t0 + Duration::from_secs(2), Duration::from_secs(15));
        assert!(!blip.status.reachable && !blip.stale && blip.status.has("OB"));
        assert_eq!(blip.error.as_deref(), Some("boom"));

        let old = watch.report(Err(failure(false)), t0 + Duration::from_secs(16), Duration::from_secs(15));
        assert!(!old.status.reachable && old.stale);

        let said = watch.report(Err(failure(true)), t0 + Duration::from_secs(1), Duration::from_secs(15));
        assert!(said.stale);
    }

    #[test]
    fn a_driver_in_wait_is_stale_and_no_reading_is_empty() {
        let mut watch = Watch { index: 0, domain: "d".to_owned(), ups: "u".to_owned(), last_good: None };
        let wait = watch.report(Ok(reading("WAIT")), Instant::now(), Duration::from_secs(15));
        assert!(!wait.status.reachable && wait.stale && wait.status.flags.is_empty());
        assert!(wait.error.as_deref().is_some_and(|e| e.contains("ups.status")));
    }

    #[test]
    fn a_poll_thread_that_failed_or_never_started_reports_its_domains_unread() {
        let watches = || vec![(0, "statera".to_owned()), (2, "aether".to_owned())];
        let never = joined(watches(), Err(std::io::Error::other("no threads left")));
        let panicked = std::thread::scope(|scope| {
            let poll = std::thread::Builder::new().spawn_scoped(scope, || -> Vec<(usize, DomainPower)> {
                panic!("a poll that panics");
            });
            joined(watches(), poll)
        });
        for (reports, why) in [
            (never, "cannot start a poll thread for its upsd: no threads left"),
            (panicked, "the poll thread for its upsd failed"),
        ] {
            let got: Vec<(usize, &str, bool, bool, Option<&str>)> = reports
                .iter()
                .map(|(i, p)| (*i, p.status.domain.as_str(), p.status.reachable, p.stale, p.error.as_deref()))
                .collect();
            assert_eq!(got, [(0, "statera", false, true, Some(why)), (2, "aether", false, true, Some(why))]);
        }
    }
}
