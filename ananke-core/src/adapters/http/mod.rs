//! The probes port over HTTP (reqwest, rustls on ring): the service checklist, the critical
//! endpoints and the in-cluster Git server's health.
//!
//! A [`Prober`] holds every check of `startup.service_checklist` and
//! `startup.critical_service_endpoints`. Each cycle ([`Prober::probe`]) runs every check at once,
//! at most [`ProberOptions::concurrency`] in flight, each bounded by its own `timeout`, and turns
//! the attempts into [`ProbeResult`]s through the check's consecutive thresholds: a check passes
//! after `consecutive_successes` passing attempts in a row and fails again after
//! `consecutive_failures` failing attempts in a row. Every failure says why: connection refused,
//! timed out, status, body, latency, certificate.
//!
//! An external check connects to its `ingress_address` while the URL's host goes out as `Host`
//! and as TLS SNI, exactly as a browser reaching the ingress by name would. The port comes from
//! the URL when it has one, otherwise from the ingress address.

mod attempt;
mod cert;
pub mod gitea;
mod tls;

pub use gitea::GitServerProbe;
pub use tls::Roots;

use crate::config::{Config, Exposure, HttpCheck};
use crate::observation::ProbeResult;
use attempt::{Attempt, Target};
use futures_util::stream::{self, StreamExt};
use std::collections::BTreeMap;
use std::time::Duration;

/// Why a prober or client could not be built. All are permanent: the configuration or the CA
/// files must change.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The TLS setup failed (an unusable CA certificate).
    #[error("TLS setup: {0}")]
    Tls(String),
    /// A CA file could not be read or parsed.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A check cannot be run as configured.
    #[error("check {check}: {reason}")]
    Check {
        /// The check's name.
        check: String,
        /// What is wrong.
        reason: String,
    },
}

/// The whole chain of an error's causes, `outer: inner: innermost`.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    text
}

/// A client trusting `roots` (HTTP/1, no proxy, no redirects), for the other adapters over HTTP.
#[cfg(feature = "vault")]
pub(crate) fn tls_client(roots: &Roots, connect_timeout: Duration) -> Result<reqwest::Client, HttpError> {
    tls::client(&roots.client_config()?, connect_timeout, None)
}

#[cfg(feature = "vault")]
pub(crate) use attempt::describe_error;

/// Settings of a prober that are not part of the checklists.
#[derive(Debug, Clone)]
pub struct ProberOptions {
    /// Checks in flight at once (at least 1).
    pub concurrency: usize,
    /// Trusted CA certificates: the system's plus any extra ones.
    pub roots: Roots,
}

impl Default for ProberOptions {
    fn default() -> Self {
        Self { concurrency: 16, roots: Roots::default() }
    }
}

/// The consecutive-success and -failure counters of one check, kept across cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Streak {
    ok: bool,
    successes: u32,
    failures: u32,
}

impl Streak {
    /// Count one attempt and flip `ok` when a threshold is reached.
    fn record(&mut self, passed: bool, need_successes: u32, need_failures: u32) {
        if passed {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            self.ok |= self.successes >= need_successes.max(1);
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
            self.ok &= self.failures < need_failures.max(1);
        }
    }
}

/// One check with its client and its counters.
#[derive(Debug)]
struct Entry {
    target: Target,
    streak: Streak,
}

/// Every HTTP check of the config, with counters kept across [`Prober::probe`] cycles.
#[derive(Debug)]
pub struct Prober {
    entries: Vec<Entry>,
    concurrency: usize,
}

impl Prober {
    /// A prober for the config's service checklist and critical endpoints.
    ///
    /// # Errors
    /// See [`Prober::new`].
    pub fn from_config(config: &Config, options: &ProberOptions) -> Result<Prober, HttpError> {
        let checks = config.startup.service_checklist.iter().chain(&config.startup.critical_service_endpoints);
        Prober::new(checks.cloned(), options)
    }

    /// A prober for `checks`. Internal checks share one client; each external check has its own,
    /// with its host resolved to the ingress address.
    ///
    /// # Errors
    /// An unusable CA certificate, an external check without a valid `ingress_address` or URL
    /// host, or a `body_matches` that is not a regular expression.
    pub fn new(checks: impl IntoIterator<Item = HttpCheck>, options: &ProberOptions) -> Result<Prober, HttpError> {
        let tls = options.roots.client_config()?;
        let connect_timeout = Duration::from_secs(10);
        let internal = tls::client(&tls, connect_timeout, None)?;
        let mut entries = Vec::new();
        for check in checks {
            let bad = |reason: String| HttpError::Check { check: check.name.clone(), reason };
            let body_regex = match &check.body_matches {
                Some(re) => Some(regex::Regex::new(re).map_err(|e| bad(format!("body_matches: {e}")))?),
                None => None,
            };
            let client = match check.exposure {
                Exposure::Internal => internal.clone(),
                Exposure::External => {
                    let url = reqwest::Url::parse(&check.url).map_err(|e| bad(format!("url: {e}")))?;
                    let host = url.host_str().ok_or_else(|| bad("url has no host".to_owned()))?;
                    let value = check.ingress_address.as_deref().ok_or_else(|| {
                        bad("an external check needs `ingress_address` (ip:port of the ingress)".to_owned())
                    })?;
                    let addr = tls::ingress_addr(value)
                        .ok_or_else(|| bad(format!("ingress_address `{value}` is not ip:port")))?;
                    let timeout = check.timeout.get().min(connect_timeout);
                    tls::client(&tls, timeout, Some((host, addr)))?
                }
            };
            entries.push(Entry { target: Target { check, client, body_regex }, streak: Streak::default() });
        }
        Ok(Prober { entries, concurrency: options.concurrency.max(1) })
    }

    /// Run every check once (concurrently, bounded) and return each check's result after its
    /// consecutive thresholds.
    pub async fn probe(&mut self) -> BTreeMap<String, ProbeResult> {
        let attempts: Vec<(usize, Attempt)> = stream::iter(self.entries.iter().enumerate())
            .map(|(i, entry)| async move { (i, attempt::run(&entry.target).await) })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut results = BTreeMap::new();
        for (i, attempt) in attempts {
            let entry = &mut self.entries[i];
            let check = &entry.target.check;
            entry.streak.record(attempt.failure.is_none(), check.consecutive_successes, check.consecutive_failures);
            results.insert(check.name.clone(), result_of(entry.streak, check, attempt));
        }
        results
    }
}

/// The observation's view of a check: its verdict, and why, counting the streak in progress.
fn result_of(streak: Streak, check: &HttpCheck, attempt: Attempt) -> ProbeResult {
    let reason = match (streak.ok, attempt.failure) {
        (true, None) => None,
        (true, Some(why)) => Some(format!(
            "still passing, failure {} of {} in a row: {why}",
            streak.failures, check.consecutive_failures
        )),
        (false, Some(why)) => Some(why),
        (false, None) => Some(format!(
            "passing {} of {} consecutive successes needed",
            streak.successes, check.consecutive_successes
        )),
    };
    ProbeResult { ok: streak.ok, reason, status: attempt.status, latency_ms: attempt.latency_ms }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streak_flips_only_at_the_thresholds() {
        let mut s = Streak::default();
        let seen: Vec<bool> = [true, true, false, true, true, true, false, false, true, false, false, false]
            .into_iter()
            .map(|passed| {
                s.record(passed, 3, 3);
                s.ok
            })
            .collect();
        assert_eq!(seen, [false, false, false, false, false, true, true, true, true, true, true, false]);
        let mut s = Streak::default();
        s.record(true, 0, 0);
        assert!(s.ok, "a zero threshold counts as one");
        s.record(false, 0, 0);
        assert!(!s.ok);
    }

    #[test]
    fn results_say_where_the_streak_stands() {
        let check: HttpCheck = serde_json::from_value(serde_json::json!({
            "name": "grafana", "url": "http://127.0.0.1:1/", "consecutive_successes": 2, "consecutive_failures": 2
        }))
        .unwrap();
        let pass = Attempt { status: Some(200), latency_ms: Some(3), failure: None };
        let fail = Attempt { status: Some(503), latency_ms: Some(3), failure: Some("status 503 not in [200]".into()) };
        let waiting = Streak { ok: false, successes: 1, failures: 0 };
        assert_eq!(
            result_of(waiting, &check, pass.clone()).reason.unwrap(),
            "passing 1 of 2 consecutive successes needed"
        );
        let holding = Streak { ok: true, successes: 0, failures: 1 };
        let r = result_of(holding, &check, fail.clone());
        assert!(r.ok);
        assert_eq!(r.reason.unwrap(), "still passing, failure 1 of 2 in a row: status 503 not in [200]");
        let failing = Streak { ok: false, successes: 0, failures: 2 };
        assert_eq!(result_of(failing, &check, fail).reason.unwrap(), "status 503 not in [200]");
        let passing = Streak { ok: true, successes: 2, failures: 0 };
        assert_eq!(
            result_of(passing, &check, pass),
            ProbeResult { ok: true, reason: None, status: Some(200), latency_ms: Some(3) }
        );
    }
}
