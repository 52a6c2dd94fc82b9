//! The domains read through one `upsd` connection ([`Link`]), and the backoff of failed
//! connection attempts ([`Retry`]) it shares with the driver sockets' links.

use super::super::{Credentials, ErrCode, NutClient, NutError, UpsReading};
use super::{DomainPower, MonitorSettings, ReadFailure, Watch};
use std::path::PathBuf;
use std::time::Instant;

/// What makes two domains share a [`Link`]: upsd's host and port, the user, the password file
/// and, for a link that logs in, the UPS.
pub(super) type LinkKey = (String, u16, Option<String>, Option<PathBuf>, Option<String>);

/// One `upsd` (host, port and user; and UPS, when it logs in) and the domains read through it.
pub(super) struct Link {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) credentials: Option<Credentials>,
    pub(super) client: Option<NutClient>,
    pub(super) retry: Retry,
    pub(super) watches: Vec<Watch>,
    /// The UPS named in `LOGIN` (the link's only UPS when it logs in).
    pub(super) login_ups: String,
}

impl Link {
    /// Reads each UPS of this link once (domains may share a UPS); the reports of the domains
    /// whose UPS answered anything but what it answered at the last poll (those are unchanged).
    pub(super) fn poll(&mut self, settings: &MonitorSettings) -> Vec<(usize, DomainPower)> {
        let mut out = Vec::new();
        // Results a later domain on the same UPS reuses (kept only when one does).
        let mut shared: Vec<(usize, Result<Option<UpsReading>, ReadFailure>)> = Vec::new();
        let mut watches = std::mem::take(&mut self.watches);
        for i in 0..watches.len() {
            let first = watches[..i].iter().position(|w| w.ups == watches[i].ups);
            let result = if let Some((_, result)) = shared.iter().find(|(at, _)| Some(*at) == first) {
                result.clone()
            } else {
                let result = self.read(&watches[i].ups, settings);
                if watches[i + 1..].iter().any(|w| w.ups == watches[i].ups) {
                    shared.push((i, result.clone()));
                }
                result
            };
            let (watch, now) = (&mut watches[i], Instant::now());
            match result {
                Ok(None) => watch.same(now),
                Ok(Some(reading)) => out.push((watch.index, watch.report(Ok(reading), now, settings.stale_after))),
                Err(failure) => out.push((watch.index, watch.report(Err(failure), now, settings.stale_after))),
            }
        }
        self.watches = watches;
        out
    }

    /// Reads one UPS: `None` when upsd answered what it answered last time on this connection. A
    /// connection that was in use and broke is replaced at once, once: an upsd restart between
    /// two polls then costs no reading.
    fn read(&mut self, ups: &str, settings: &MonitorSettings) -> Result<Option<UpsReading>, ReadFailure> {
        let reused = self.client.is_some();
        self.read_once(ups, settings, reused)
    }

    /// One read on the live (or a new) connection; `again`: a broken connection is replaced
    /// and the read made once more.
    fn read_once(
        &mut self,
        ups: &str,
        settings: &MonitorSettings,
        again: bool,
    ) -> Result<Option<UpsReading>, ReadFailure> {
        let client = self.connected(settings)?;
        match client.power_changed(ups) {
            Ok(reading) => Ok(reading.cloned()),
            Err(e) if e.breaks_connection() => {
                self.client = None;
                if again {
                    self.read_once(ups, settings, false)
                } else {
                    Err(self.retry.failed(e, settings))
                }
            }
            Err(e) => {
                let (e, broke) = name_known(client, e, ups);
                if broke {
                    // `LIST UPS` left the connection out of step: the next read starts afresh.
                    self.client = None;
                }
                Err(e.into())
            }
        }
    }

    /// The live connection, or a new one when the backoff allows.
    fn connected(&mut self, settings: &MonitorSettings) -> Result<&mut NutClient, ReadFailure> {
        let client = if let Some(client) = self.client.take() {
            client
        } else {
            self.retry.wait(Instant::now())?;
            let client = self.open(settings).map_err(|e| self.retry.failed(e, settings))?;
            self.retry = Retry::default();
            client
        };
        Ok(self.client.insert(client))
    }

    fn open(&self, settings: &MonitorSettings) -> Result<NutClient, NutError> {
        let mut client = NutClient::connect(&self.host, self.port, settings.request_timeout)?;
        if let Some(credentials) = &self.credentials {
            if let Err(e) = client.login(credentials, &self.login_ups) {
                return Err(name_known(&mut client, e, &self.login_ups).0);
            }
        }
        Ok(client)
    }
}

/// `e`, or for `ERR UNKNOWN-UPS` the names upsd does serve, asked on the same connection: a
/// misspelled `ups.name` is then fixed from the message alone. Also whether asking broke the
/// connection (it must then be dropped).
fn name_known(client: &mut NutClient, e: NutError, ups: &str) -> (NutError, bool) {
    match e {
        NutError::Server { addr, code: ErrCode::UnknownUps, .. } => {
            let (known, broke) = match client.list_ups() {
                Ok(list) => (Some(list.into_iter().map(|u| u.name).collect()), false),
                Err(e) => (None, e.breaks_connection()),
            };
            (NutError::UnknownUps { addr, ups: ups.to_owned(), known }, broke)
        }
        e => (e, false),
    }
}

/// Failed connection attempts in a row, and when the next may be made.
#[derive(Default)]
pub(super) struct Retry {
    pub(super) failures: u32,
    /// When the next attempt may be made, and the last attempt's failure.
    pub(super) next: Option<(Instant, ReadFailure)>,
}

impl Retry {
    /// `Err` (the last failure, with the wait) while the backoff does not allow an attempt.
    pub(super) fn wait(&self, now: Instant) -> Result<(), ReadFailure> {
        match &self.next {
            Some((at, last)) if now < *at => Err(ReadFailure {
                message: format!("{} (next attempt in {} ms)", last.message, (*at - now).as_millis()),
                ..last.clone()
            }),
            _ => Ok(()),
        }
    }

    /// When the next attempt may be made (now, when it may be made at once).
    pub(super) fn next_at(&self, now: Instant) -> Instant {
        self.next.as_ref().map_or(now, |(at, _)| *at)
    }

    /// Records a failed attempt and schedules the next one.
    pub(super) fn failed(&mut self, e: NutError, settings: &MonitorSettings) -> ReadFailure {
        self.failures = self.failures.saturating_add(1);
        let failure = ReadFailure::from(e);
        self.next = Some((Instant::now() + settings.backoff(self.failures), failure.clone()));
        failure
    }
}
