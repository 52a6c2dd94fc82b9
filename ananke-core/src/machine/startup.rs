//! The startup machine: `Off -> NodesUp -> [FluxDeadlocked] -> Converging -> Soaking -> Ready`,
//! plus `Failed`.
//!
//! It starts k3s in a quorum-safe order, restores exactly what the journal says the shutdown
//! changed (and removes each entry once the observation confirms it), breaks the Flux ↔ in-cluster
//! Git deadlock, unseals Vault (breakglass as the fallback), and declares `Ready` only after every
//! gate passed at the end of a soak without regression.

use super::step::{Context, Event, Tables};
use super::{Diagnostic, Failure, Input, Machine};
use crate::config::Config;
use crate::effect::Effect;
use crate::gates::{self, GateId, GateReport, SoakProgress};
use crate::journal::Journal;
use crate::observation::Observation;
use crate::time::Time;
use serde::{Deserialize, Serialize};
use statig::blocking::{InitializedStateMachine, IntoStateMachineExt as _};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

mod boot;
mod restore;
mod states;

use states::State;

/// How long the Kubernetes API may stay unreachable during the soak before it counts as a
/// regression: an observation that could not reach the API says little about the cluster (the
/// adapters' calls fail transiently now and then), an outage does.
pub const SOAK_API_GRACE: Duration = Duration::from_secs(60);

/// Options of one startup run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartupOptions {
    /// `--force-flux-branch`: set the source branch before the drift guard.
    pub force_flux_branch: Option<String>,
}

/// The startup machine's states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartupState {
    /// Cluster down; starting k3s.
    Off,
    /// Nodes up; restoring scheduling, checking Flux.
    NodesUp,
    /// Flux cannot fetch from the in-cluster Git server; bringing it up out of band.
    FluxDeadlocked,
    /// Restoring workloads, unsealing Vault, resuming Flux; waiting for gates 1-8.
    Converging,
    /// Every gate green; soaking.
    Soaking,
    /// Startup complete.
    Ready,
    /// Startup failed.
    Failed,
}

impl StartupState {
    /// The state's stable name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            StartupState::Off => "off",
            StartupState::NodesUp => "nodes-up",
            StartupState::FluxDeadlocked => "flux-deadlocked",
            StartupState::Converging => "converging",
            StartupState::Soaking => "soaking",
            StartupState::Ready => "ready",
            StartupState::Failed => "failed",
        }
    }
}

/// The machine data of one startup run: the statig shared storage.
pub(crate) struct StartupRun {
    config: Arc<Config>,
    journal: Journal,
    options: StartupOptions,
    /// The last gate report.
    report: Option<GateReport>,
    /// The gates as the last observation in `Off` showed them (a startup that fails before it
    /// evaluates them itself still reports them).
    boot_gates: Option<GateReport>,
    /// When the current soak started.
    soak_started_at: Option<Time>,
    /// Every regression seen during any soak of this run.
    regressions: Vec<String>,
    /// Since when the API has been unreachable during the soak.
    api_down_since: Option<Time>,
    failure: Option<Failure>,
    /// Vault pods whose standard unseal failed, with the message.
    unseal_failed: BTreeMap<String, String>,
    /// What the last observation said about the cluster, for failure reasons.
    seen: Seen,
    /// The cluster's marks were compared with the journal (or adopted, for a lost journal).
    marks_checked: bool,
    /// Where a lost journal's changes came from, for the report.
    restore_source: Option<String>,
}

/// Facts from the last observation that a timer's failure reason needs (a timer carries no
/// observation).
#[derive(Debug, Clone, Default)]
struct Seen {
    /// The API answered.
    api_reachable: bool,
    /// Why the API did not answer.
    api_error: Option<String>,
    /// Servers that are not up, each with why.
    stuck_servers: Vec<String>,
    /// Agents (and every node once the API is up) that are not up, each with why.
    stuck_nodes: Vec<String>,
    /// Why the in-cluster Git server is not healthy.
    git_server: Option<String>,
    /// The source `GitRepository` is Ready.
    source_ready: bool,
    /// Vault pods observed sealed.
    sealed: Vec<String>,
    /// Nodes of `startup.ignore_unavailable_nodes` that are not up, each with why.
    ignored_down: Vec<String>,
}

impl StartupRun {
    fn soak_progress(&self, now: Time) -> SoakProgress {
        SoakProgress {
            started_at: self.soak_started_at,
            now,
            required: self.config.soak.duration.get(),
            regressions: Vec::new(),
        }
    }

    /// Evaluate every gate against `obs` and keep the report.
    fn evaluate(&mut self, now: Time, obs: &Observation) {
        self.report = Some(gates::evaluate(&self.config, obs, &self.soak_progress(now)));
    }

    /// The first failing gate among 1-8 of the last report, with its reasons.
    fn first_failing_gate(&self) -> Option<(GateId, String)> {
        let report = self.report.as_ref()?;
        report
            .outcomes
            .iter()
            .find(|o| o.gate != GateId::Soak && !o.passed())
            .map(|o| (o.gate, format!("{}: {}", o.gate, o.reasons.join("; "))))
    }

    /// Record the failure (the first one wins).
    fn record_failure(&mut self, gate: Option<GateId>, reason: String) {
        if self.failure.is_none() {
            self.failure = Some(Failure { gate, reason });
        }
    }
}

/// The config this run works with: nodes whose k3s was stopped before the shutdown, not by
/// ananke, are left as found, and so counted as ignored (like `startup.ignore_unavailable_nodes`).
/// Returns the config and those nodes.
fn left_as_found(config: Arc<Config>, journal: &Journal) -> (Arc<Config>, Vec<String>) {
    let changes = &journal.changes;
    let found: Vec<String> = changes
        .already_stopped
        .iter()
        .filter(|n| !changes.stopped.contains(*n) && !config.is_ignored(n))
        .cloned()
        .collect();
    if found.is_empty() {
        return (config, found);
    }
    let mut config = (*config).clone();
    config.startup.ignore_unavailable_nodes.extend(found.iter().cloned());
    (Arc::new(config), found)
}

/// `--force-flux-branch BRANCH` means "this run expects BRANCH": the drift guard checks the
/// forced branch instead of `expected_flux_branch` (so forcing another branch never runs into a
/// guaranteed drift failure). Returns the config and, when it changed, a diagnostic saying so.
fn expect_forced_branch(config: Arc<Config>, options: &StartupOptions) -> (Arc<Config>, Option<String>) {
    let Some(branch) = options.force_flux_branch.as_ref().filter(|b| **b != config.expected_flux_branch) else {
        return (config, None);
    };
    let message = format!(
        "--force-flux-branch {branch}: this run expects the Flux source on branch {branch}, not expected_flux_branch {}",
        config.expected_flux_branch
    );
    let mut config = (*config).clone();
    config.expected_flux_branch.clone_from(branch);
    (Arc::new(config), Some(message))
}

/// The startup machine.
pub struct StartupMachine {
    sm: InitializedStateMachine<StartupRun>,
    tables: Tables,
    /// Effects emitted while initializing, returned by the first `handle`.
    pending: Vec<Effect>,
}

impl StartupMachine {
    /// A machine that restores what `journal` recorded.
    #[must_use]
    pub fn new(config: Arc<Config>, mut journal: Journal, options: StartupOptions, now: Time) -> Self {
        // A startup restores: what the shutdown saw quiesced no longer holds once one began.
        journal.quiesced = false;
        let (config, found) = left_as_found(config, &journal);
        let (config, forced) = expect_forced_branch(config, &options);
        let run = StartupRun {
            config,
            journal,
            options,
            report: None,
            boot_gates: None,
            soak_started_at: None,
            regressions: Vec::new(),
            api_down_since: None,
            failure: None,
            unseal_failed: BTreeMap::new(),
            seen: Seen::default(),
            marks_checked: false,
            restore_source: None,
        };
        let mut tables = Tables::default();
        if let Some(message) = forced {
            tables.diagnostics.push(now, message);
        }
        for node in found {
            tables.diagnostics.push(
                now,
                format!("node {node}: k3s was stopped before the shutdown, not by ananke: left as found (counted as ignored)"),
            );
        }
        let mut pending = Vec::new();
        let sm = run.uninitialized_state_machine().init_with_context(&mut tables.step(now, &mut pending));
        Self { sm, tables, pending }
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> StartupState {
        match self.sm.state() {
            State::Off {} => StartupState::Off,
            State::NodesUp {} => StartupState::NodesUp,
            State::FluxDeadlocked {} => StartupState::FluxDeadlocked,
            State::Converging {} => StartupState::Converging,
            State::Soaking {} => StartupState::Soaking,
            State::Ready {} => StartupState::Ready,
            State::Failed {} => StartupState::Failed,
        }
    }

    /// Every regression seen during the soaks of this run.
    #[must_use]
    pub fn regressions(&self) -> &[String] {
        &self.sm.regressions
    }

    /// When the current soak started, if one is running (or ran to `Ready`).
    #[must_use]
    pub fn soak_started_at(&self) -> Option<Time> {
        self.sm.soak_started_at
    }
}

impl Machine for StartupMachine {
    fn handle(&mut self, now: Time, input: &Input) -> Vec<Effect> {
        let mut effects = std::mem::take(&mut self.pending);
        let sm = &mut self.sm;
        effects.extend(self.tables.handle(now, input, |step: &mut Context<'_>, event: &Event<'_>| {
            sm.handle_with_context(event, step);
        }));
        effects
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.tables.timers.next()
    }

    fn state_name(&self) -> &'static str {
        self.state().as_str()
    }

    fn is_terminal(&self) -> bool {
        matches!(self.state(), StartupState::Ready | StartupState::Failed)
    }

    fn failure(&self) -> Option<&Failure> {
        self.sm.failure.as_ref()
    }

    fn journal(&self) -> &Journal {
        &self.sm.journal
    }

    fn gates(&self) -> Option<&GateReport> {
        self.sm.report.as_ref().or(self.sm.boot_gates.as_ref())
    }

    fn warnings(&self) -> Vec<String> {
        let ignored = self.sm.seen.ignored_down.iter();
        let ignored = ignored.map(|n| format!("ignored node (startup.ignore_unavailable_nodes) unavailable: {n}"));
        self.sm.restore_source.iter().cloned().chain(ignored).collect()
    }

    fn diagnostics(&self) -> &[Diagnostic] {
        &self.tables.diagnostics.list
    }
}
