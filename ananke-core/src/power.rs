//! The power daemon's policy, pure: UPS readings and run results in, decisions out.
//!
//! - On battery past the debounce window, or low battery, or FSD: start a cluster-only shutdown
//!   once the remaining runtime falls below the shutdown budget (low battery and FSD: at once).
//! - A blip shorter than the debounce window: reported, nothing else.
//! - Power back in the middle of a shutdown: the configured policy (finish, or abort and restore).
//! - Power back and stable for `stable_for` after an ananke shutdown, with enough charge: startup.
//! - A UPS unreachable or stale: the configured policy, always reported, never silent.
//!
//! The daemon (the imperative shell) reads the UPSes, computes the budget from `runs.json`, feeds
//! this policy and carries out its decisions.

use crate::config::{DaemonSettings, PowerReturnPolicy, UpsLostPolicy};
use crate::observation::UpsStatus;
use crate::time::Time;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// An input to the policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "kebab-case")]
pub enum PowerInput {
    /// Fresh readings of every watched domain's UPS.
    Readings(Vec<UpsStatus>),
    /// The shutdown the policy started has ended (successfully or not). Either way the cluster
    /// waits for stable power to start up: a shutdown that did not complete left changes that
    /// the startup restores from the journal.
    ShutdownEnded {
        /// It reached `off`, every step observed done.
        succeeded: bool,
    },
    /// The shutdown the policy decided was not started: the coordinator said a peer does it.
    ShutdownDeferred,
    /// The startup the policy started has ended.
    StartupEnded {
        /// It reached `ready`.
        succeeded: bool,
    },
}

/// What the daemon must do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum PowerDecision {
    /// Run `shutdown --execute --mode cluster-only --reason <reason>`.
    StartShutdown {
        /// `power-<domain>`.
        reason: String,
    },
    /// Abort the running shutdown; then start up to restore through the journal.
    AbortShutdown,
    /// Run `startup --execute`.
    StartStartup,
    /// Abort the running startup (power failed again): a shutdown follows.
    AbortStartup,
    /// Something an operator must see (blips, lost UPSes, waits); logged and reported.
    Report {
        /// How loud: the daemon logs it at the matching journal priority.
        severity: Severity,
        /// What happened.
        message: String,
    },
}

/// How loud a [`PowerDecision::Report`] is (`journalctl -p warning` finds the last two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Normal but significant: a blip, mains back, a UPS reachable again.
    Notice,
    /// A shutdown decided, a UPS lost: the operator should look.
    Warning,
    /// A run the policy started did not end well.
    Error,
}

/// What the cluster is doing, as far as the daemon knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterPhase {
    /// Running (not taken down by ananke).
    Up,
    /// A shutdown the daemon started is running.
    ShuttingDown,
    /// Down after an ananke shutdown; waiting for stable power.
    Down,
    /// A startup the daemon started is running.
    StartingUp,
}

/// Per-domain tracking.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct DomainTrack {
    /// On battery (or assumed so) since.
    on_battery_since: Option<Time>,
    /// Mains present since (for the stability window).
    online_since: Option<Time>,
    /// Lost (unreachable or stale) since; reported once per loss.
    lost_since: Option<Time>,
    /// Last charge seen.
    charge: Option<f64>,
}

/// The power policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerPolicy {
    settings: DaemonSettings,
    phase: ClusterPhase,
    domains: BTreeMap<String, DomainTrack>,
    /// The shutdown budget: how long a shutdown takes, margin included.
    budget: Duration,
    /// The last shutdown did not complete: what it changed waits for a startup.
    unfinished: bool,
    /// That shutdown was tried once more on low battery.
    retried: bool,
    /// When the policy last handled an input: a deadline at or before it has been seen.
    #[serde(default)]
    last: Time,
}

/// Why the policy wants to be asked again at a time ([`PowerPolicy::poll_timeout`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "wake", content = "domain", rename_all = "kebab-case")]
pub enum PolicyWake {
    /// A domain's debounce window ends: on battery that long is no blip.
    Debounce(String),
    /// Every domain has had mains for `stable_for`: the startup may begin.
    StableFor,
    /// A run is going: its end comes as an input, and the daemon watches it every poll period.
    Run,
}

impl PowerPolicy {
    /// A policy for a cluster in `phase` with shutdown `budget` (see [`shutdown_budget`]).
    #[must_use]
    pub fn new(settings: DaemonSettings, phase: ClusterPhase, budget: Duration) -> Self {
        Self { settings, phase, domains: BTreeMap::new(), budget, unfinished: false, retried: false, last: Time::ZERO }
    }

    /// The same policy, knowing that the last shutdown did not complete (a daemon started with
    /// such a journal): low battery tries it once more.
    #[must_use]
    pub fn after_unfinished_shutdown(mut self) -> Self {
        self.unfinished = true;
        self
    }

    /// The cluster phase as the policy sees it.
    #[must_use]
    pub fn phase(&self) -> ClusterPhase {
        self.phase
    }

    /// The current shutdown budget.
    #[must_use]
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// When time passing alone may bring a decision, and why; `None` when only a new reading or a
    /// run's end can change anything (the cluster up and every UPS on mains, a domain past its
    /// debounce whose runtime the readings carry), so the daemon need not wake until one comes.
    /// Feed the last readings again at that time. A stale UPS is the monitor's deadline, not the
    /// policy's: the monitor reports it as unreachable once `stale_after` passed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<(Time, PolicyWake)> {
        match self.phase {
            ClusterPhase::ShuttingDown => Some((self.last.plus(self.settings.poll_interval.get()), PolicyWake::Run)),
            ClusterPhase::StartingUp => {
                let run = (self.last.plus(self.settings.poll_interval.get()), PolicyWake::Run);
                Some(self.debounce_end().filter(|(t, _)| *t < run.0).unwrap_or(run))
            }
            ClusterPhase::Up => self.debounce_end(),
            ClusterPhase::Down => {
                if !self.settings.auto_startup || !self.all_online() {
                    return None;
                }
                let stable = self.settings.stable_for.get();
                let at = self.domains.values().filter_map(|t| t.online_since).max()?.plus(stable);
                (at > self.last).then_some((at, PolicyWake::StableFor))
            }
        }
    }

    /// The earliest debounce window still running.
    fn debounce_end(&self) -> Option<(Time, PolicyWake)> {
        let debounce = self.settings.debounce.get();
        self.domains
            .iter()
            .filter_map(|(name, t)| t.on_battery_since.map(|since| (since.plus(debounce), name)))
            .filter(|(at, _)| *at > self.last)
            .min()
            .map(|(at, name)| (at, PolicyWake::Debounce(name.clone())))
    }

    /// Update the budget (after a new shutdown was measured).
    pub fn set_budget(&mut self, budget: Duration) {
        self.budget = budget;
    }

    /// Feed one input at `now`.
    pub fn handle(&mut self, now: Time, input: &PowerInput) -> Vec<PowerDecision> {
        self.last = self.last.max(now);
        match input {
            PowerInput::Readings(readings) => self.readings(now, readings),
            PowerInput::ShutdownEnded { succeeded } => {
                // After an abort the policy is already starting up: the aborted run's end is expected.
                if self.phase != ClusterPhase::ShuttingDown {
                    return Vec::new();
                }
                self.phase = ClusterPhase::Down;
                self.unfinished = !*succeeded;
                let mut out = Vec::new();
                if !*succeeded {
                    out.push(PowerDecision::Report {
                        severity: Severity::Error,
                        message: "the power shutdown did not complete: see its report; once power is stable the \
                                  startup restores what it changed"
                            .to_owned(),
                    });
                }
                out.extend(self.maybe_startup(now));
                out
            }
            PowerInput::ShutdownDeferred => {
                if self.phase == ClusterPhase::ShuttingDown {
                    self.phase = ClusterPhase::Up;
                }
                Vec::new()
            }
            PowerInput::StartupEnded { succeeded } => {
                if self.phase != ClusterPhase::StartingUp {
                    return Vec::new();
                }
                if *succeeded {
                    self.phase = ClusterPhase::Up;
                    (self.unfinished, self.retried) = (false, false);
                    return Vec::new();
                }
                // Try again only after another full window of stable power.
                self.phase = ClusterPhase::Down;
                for t in self.domains.values_mut() {
                    if t.online_since.is_some() {
                        t.online_since = Some(now);
                    }
                }
                vec![PowerDecision::Report {
                    severity: Severity::Error,
                    message: "the startup failed: see its report; retrying after another stable-power window"
                        .to_owned(),
                }]
            }
        }
    }

    fn readings(&mut self, now: Time, readings: &[UpsStatus]) -> Vec<PowerDecision> {
        let mut out = Vec::new();
        for ups in readings {
            self.track(now, ups, &mut out);
        }
        match self.phase {
            ClusterPhase::Up => out.extend(self.maybe_shutdown(now, readings)),
            ClusterPhase::ShuttingDown => {
                if self.all_online() && self.settings.power_return_policy == PowerReturnPolicy::Abort {
                    out.push(PowerDecision::AbortShutdown);
                    out.push(PowerDecision::StartStartup);
                    self.phase = ClusterPhase::StartingUp;
                }
            }
            ClusterPhase::Down => {
                out.extend(self.retry_unfinished(readings));
                out.extend(self.maybe_startup(now));
            }
            ClusterPhase::StartingUp => {
                let shutdown = self.maybe_shutdown(now, readings);
                if !shutdown.is_empty() {
                    out.push(PowerDecision::AbortStartup);
                    out.extend(shutdown);
                }
            }
        }
        out
    }

    /// Update one domain's tracking; report blips and losses.
    fn track(&mut self, now: Time, ups: &UpsStatus, out: &mut Vec<PowerDecision>) {
        let debounce = self.settings.debounce.get();
        let assume_battery = self.settings.ups_lost_policy == UpsLostPolicy::AssumeOnBattery;
        let t = self.domains.entry(ups.domain.clone()).or_default();
        if !ups.reachable {
            if t.lost_since.is_none() {
                t.lost_since = Some(now);
                let action = if assume_battery { "treating it as on battery" } else { "keeping the cluster as it is" };
                let cause = ups.error.as_deref().map_or_else(String::new, |why| format!(" ({why})"));
                out.push(PowerDecision::Report {
                    severity: Severity::Warning,
                    message: format!("UPS of {} unreachable or stale{cause}: {action}", ups.domain),
                });
            }
            if assume_battery && t.on_battery_since.is_none() {
                t.on_battery_since = Some(now);
                t.online_since = None;
            }
            return;
        }
        if let Some(since) = t.lost_since.take() {
            out.push(PowerDecision::Report {
                severity: Severity::Notice,
                message: format!("UPS of {} reachable again after {}s", ups.domain, now.since(since).as_secs()),
            });
        }
        t.charge = ups.charge;
        let on_battery = ups.has("OB") || ups.has("FSD");
        if on_battery {
            t.online_since = None;
            t.on_battery_since.get_or_insert(now);
        } else {
            if let Some(since) = t.on_battery_since.take() {
                let lasted = now.since(since);
                if lasted < debounce {
                    out.push(PowerDecision::Report {
                        severity: Severity::Notice,
                        message: format!(
                            "power blip on {} for {}s (under the {}s debounce): nothing done",
                            ups.domain,
                            lasted.as_secs(),
                            debounce.as_secs()
                        ),
                    });
                } else {
                    out.push(PowerDecision::Report {
                        severity: Severity::Notice,
                        message: format!("mains back on {} after {}s on battery", ups.domain, lasted.as_secs()),
                    });
                }
            }
            t.online_since.get_or_insert(now);
        }
    }

    fn all_online(&self) -> bool {
        !self.domains.is_empty() && self.domains.values().all(|t| t.online_since.is_some() && t.lost_since.is_none())
    }

    /// Start a shutdown if some domain is past the debounce and its runtime is below the budget,
    /// or reports low battery / FSD.
    fn maybe_shutdown(&mut self, now: Time, readings: &[UpsStatus]) -> Vec<PowerDecision> {
        let debounce = self.settings.debounce.get();
        for ups in readings {
            let Some(t) = self.domains.get(&ups.domain) else { continue };
            let Some(since) = t.on_battery_since else { continue };
            let urgent = ups.reachable && (ups.has("LB") || ups.has("FSD"));
            let debounced = now.since(since) >= debounce;
            // A lost UPS's last runtime is history, not a figure to wait on.
            let runtime = ups.runtime_s.filter(|_| ups.reachable).map(Duration::from_secs);
            let too_short = match runtime {
                Some(r) => r <= self.budget,
                // No runtime figure (or no UPS at all): past the debounce is all we know.
                None => true,
            };
            if urgent || (debounced && too_short) {
                self.phase = ClusterPhase::ShuttingDown;
                let why = if urgent {
                    "low battery or forced shutdown".to_owned()
                } else {
                    format!(
                        "on battery for {}s; runtime {} under the {}s shutdown budget",
                        now.since(since).as_secs(),
                        runtime.map_or("unknown".to_owned(), |r| format!("{}s", r.as_secs())),
                        self.budget.as_secs()
                    )
                };
                return vec![
                    PowerDecision::Report {
                        severity: Severity::Warning,
                        message: format!("shutting the cluster down for {}: {why}", ups.domain),
                    },
                    PowerDecision::StartShutdown { reason: format!("power-{}", ups.domain) },
                ];
            }
        }
        Vec::new()
    }

    /// After a shutdown that did not complete, low battery or FSD tries it once more (it resumes
    /// from the journal): a transient failure must not leave the cluster to a hard power loss.
    fn retry_unfinished(&mut self, readings: &[UpsStatus]) -> Vec<PowerDecision> {
        if !self.unfinished || self.retried {
            return Vec::new();
        }
        let Some(ups) = readings.iter().find(|u| u.reachable && (u.has("LB") || u.has("FSD"))) else {
            return Vec::new();
        };
        self.retried = true;
        self.phase = ClusterPhase::ShuttingDown;
        vec![
            PowerDecision::Report {
                severity: Severity::Warning,
                message: format!(
                    "low battery or forced shutdown on {} after a shutdown that did not complete: trying once more",
                    ups.domain
                ),
            },
            PowerDecision::StartShutdown { reason: format!("power-{}", ups.domain) },
        ]
    }

    /// Start up when every domain has had mains for `stable_for` with enough charge.
    fn maybe_startup(&mut self, now: Time) -> Vec<PowerDecision> {
        if !self.settings.auto_startup || !self.all_online() {
            return Vec::new();
        }
        let stable = self.settings.stable_for.get();
        let min = f64::from(self.settings.min_battery_charge);
        let ready = self
            .domains
            .values()
            .all(|t| t.online_since.is_some_and(|s| now.since(s) >= stable) && t.charge.is_none_or(|c| c >= min));
        if ready {
            self.phase = ClusterPhase::StartingUp;
            vec![PowerDecision::StartStartup]
        } else {
            Vec::new()
        }
    }
}

/// The shutdown budget: the `percentile` of past shutdown durations times `margin`, or
/// `default` before any shutdown was measured.
#[must_use]
pub fn shutdown_budget(past_ms: Option<u64>, settings: &DaemonSettings) -> Duration {
    let base = past_ms.map_or(settings.default_shutdown_budget.get(), Duration::from_millis);
    base.mul_f64(settings.safety_margin.max(1.0))
}

#[cfg(test)]
mod tests;
