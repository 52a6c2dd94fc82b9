//! The shapes of the state dir's report files. Every file carries `version`; a change of shape
//! bumps it. The shapes are pinned by golden tests.

use crate::effect::EffectKind;
use crate::gates::{GateOutcome, GateReport};
use crate::machine::{Diagnostic, Failure, Unconfirmed};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of every report shape in this module.
pub const REPORT_VERSION: u32 = 1;

/// How many per-run reports (and traces) `reports/` keeps.
pub const REPORT_HISTORY: usize = 50;

/// How many runs `runs.json` keeps.
pub const RUN_HISTORY: usize = 500;

/// `startup` or `shutdown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Command {
    /// `ananke startup`.
    Startup,
    /// `ananke shutdown`.
    Shutdown,
}

impl Command {
    /// The command's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Startup => "startup",
            Command::Shutdown => "shutdown",
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    /// Still running (progress only).
    Running,
    /// Dry run: the plan was reported, nothing changed.
    Planned,
    /// Startup reached Ready / shutdown reached Off, every step observed done.
    Succeeded,
    /// The run ended, but some of its steps were never observed done (the report's
    /// `unconfirmed` lists each with its cause).
    Incomplete,
    /// The machine failed (a gate, a deadline, a refused step).
    Failed,
    /// Stopped by a power event or a signal.
    Aborted,
}

impl RunOutcome {
    /// The outcome in the words of the reports (`succeeded`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Planned => "planned",
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Incomplete => "incomplete",
            RunOutcome::Failed => "failed",
            RunOutcome::Aborted => "aborted",
        }
    }
}

/// `startup-progress.json`: the live run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Shape version.
    pub version: u32,
    /// Run id.
    pub run_id: String,
    /// `startup` or `shutdown`.
    pub command: Command,
    /// Whether the run changes the cluster (`--execute`).
    pub execute: bool,
    /// Outcome so far.
    pub outcome: RunOutcome,
    /// The machine's state.
    pub state: String,
    /// What the run is doing now, in words.
    pub phase: String,
    /// Every gate's verdict and reasons (empty before the first evaluation).
    pub gates: Vec<GateOutcome>,
    /// When the run started (RFC 3339, wall clock).
    pub started_at: String,
    /// When this file was written (RFC 3339, wall clock).
    pub updated_at: String,
}

/// Time spent in one machine state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseTiming {
    /// State name.
    pub state: String,
    /// Milliseconds spent in it (run clock).
    pub millis: u64,
}

/// One effect the run executed (or planned) and what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectRecord {
    /// Run-clock milliseconds since the run started.
    pub at_ms: u64,
    /// Stable key.
    pub key: String,
    /// Why, in words.
    pub description: String,
    /// `ok`, `planned`, `blocked-by-pdb: ...` or `failed: ...` (never a secret).
    pub outcome: String,
}

/// A finished run: `last-startup-report.json`, `last-shutdown-report.json`, `reports/<run-id>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Shape version.
    pub version: u32,
    /// Run id.
    pub run_id: String,
    /// `startup` or `shutdown`.
    pub command: Command,
    /// What was driven: `host` or `sim:<scenario>`.
    pub target: String,
    /// ananke's version, with the commit and build date (`0.1.0 (commit 1a2b3c4d5e6f, built 2026-12-02)`).
    pub ananke_version: String,
    /// Whether the run changed the cluster.
    pub execute: bool,
    /// Shutdown reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Shutdown mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `--force-flux-branch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_flux_branch: Option<String>,
    /// How it ended.
    pub outcome: RunOutcome,
    /// The final machine state.
    pub final_state: String,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Started (RFC 3339, wall clock).
    pub started_at: String,
    /// Finished (RFC 3339, wall clock).
    pub finished_at: String,
    /// Total run-clock duration in milliseconds.
    pub duration_ms: u64,
    /// Time per machine state, in order.
    pub phases: Vec<PhaseTiming>,
    /// The last gate report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gates: Option<GateReport>,
    /// Effects by kind.
    pub effect_counts: BTreeMap<EffectKind, u32>,
    /// Every effect, in order.
    pub effects: Vec<EffectRecord>,
    /// Surprises the machine recorded.
    pub diagnostics: Vec<Diagnostic>,
    /// What the run set out to do and never saw done, each with its cause.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unconfirmed: Vec<Unconfirmed>,
    /// Warnings of the run itself (stale lock taken over, peer check forced, ...).
    pub warnings: Vec<String>,
    /// The trace file, relative to the state dir.
    pub trace: String,
}

impl RunReport {
    /// What the run leaves the operator to do by hand: the failure's instruction, then each item
    /// no observation confirmed (`item: cause`, without the world's last words, which change from
    /// run to run). The drill record counts them: every drill should leave fewer.
    #[must_use]
    pub fn manual_steps(&self) -> Vec<String> {
        let mut steps: Vec<String> = self.failure.iter().map(|f| f.reason.clone()).collect();
        steps.extend(self.unconfirmed.iter().map(|u| format!("{}: {}", u.item, u.cause)));
        steps
    }
}

/// One entry of `runs.json`: the drill record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Run id.
    pub run_id: String,
    /// `startup` or `shutdown`.
    pub command: Command,
    /// `host` or `sim:<scenario>`.
    pub target: String,
    /// Whether it executed.
    pub execute: bool,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Started (RFC 3339).
    pub started_at: String,
    /// Total milliseconds.
    pub duration_ms: u64,
    /// Milliseconds per phase.
    pub phases: Vec<PhaseTiming>,
    /// The shutdown's `--reason` (absent in entries written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The report's warnings (absent: none, or written before they were recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What the operator had to do by hand after the run (see [`RunReport::manual_steps`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manual_steps: Vec<String>,
}

impl RunSummary {
    /// The `runs.json` entry of `report`.
    #[must_use]
    pub fn of(report: &RunReport) -> Self {
        Self {
            run_id: report.run_id.clone(),
            command: report.command,
            target: report.target.clone(),
            execute: report.execute,
            outcome: report.outcome,
            started_at: report.started_at.clone(),
            duration_ms: report.duration_ms,
            phases: report.phases.clone(),
            reason: report.reason.clone(),
            warnings: report.warnings.clone(),
            manual_steps: report.manual_steps(),
        }
    }
}

/// `runs.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunHistory {
    /// Shape version.
    pub version: u32,
    /// Oldest first, at most [`RUN_HISTORY`].
    pub runs: Vec<RunSummary>,
}

impl RunHistory {
    /// Append `run`, dropping the oldest beyond [`RUN_HISTORY`].
    pub fn push(&mut self, run: RunSummary) {
        self.version = REPORT_VERSION;
        self.runs.push(run);
        if self.runs.len() > RUN_HISTORY {
            let extra = self.runs.len() - RUN_HISTORY;
            self.runs.drain(..extra);
        }
    }

    /// The `pct` percentile (0-100) of the durations of successful executed runs of `command`.
    #[must_use]
    pub fn percentile_ms(&self, command: Command, pct: u8) -> Option<u64> {
        let mut d: Vec<u64> = self
            .runs
            .iter()
            .filter(|r| r.command == command && r.execute && r.outcome == RunOutcome::Succeeded)
            .map(|r| r.duration_ms)
            .collect();
        if d.is_empty() {
            return None;
        }
        d.sort_unstable();
        let rank = (usize::from(pct.min(100)) * (d.len() - 1)).div_ceil(100);
        Some(d[rank])
    }
}

/// How many events `daemon-status.json` keeps.
pub const DAEMON_EVENTS: usize = 50;

/// One power domain in `daemon-status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonDomain {
    /// The UPS status last read.
    pub status: crate::observation::UpsStatus,
    /// The data is stale (upsd said so, or it is older than `daemon.stale_after`).
    pub stale: bool,
    /// Why no fresh data was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A run the daemon started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonChild {
    /// `startup` or `shutdown`.
    pub command: Command,
    /// Its pid.
    pub pid: u32,
    /// When it started (RFC 3339).
    pub started_at: String,
}

/// Something the daemon saw or did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonEvent {
    /// When (RFC 3339).
    pub at: String,
    /// What.
    pub message: String,
}

/// `daemon-status.json`: the power daemon's live state, shown by `ananke status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// Shape version.
    pub version: u32,
    /// The daemon's pid.
    pub pid: u32,
    /// When this file was written (RFC 3339).
    pub updated_at: String,
    /// The cluster phase as the daemon sees it.
    pub phase: crate::power::ClusterPhase,
    /// The shutdown budget in seconds.
    pub budget_s: u64,
    /// Every watched power domain.
    pub domains: Vec<DaemonDomain>,
    /// The run the daemon started, if one is running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<DaemonChild>,
    /// The last events, oldest first (at most [`DAEMON_EVENTS`]).
    pub events: Vec<DaemonEvent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ms: u64, outcome: RunOutcome) -> RunSummary {
        RunSummary {
            run_id: format!("r{ms}"),
            command: Command::Shutdown,
            target: "host".into(),
            execute: true,
            outcome,
            started_at: String::new(),
            duration_ms: ms,
            phases: vec![],
            reason: None,
            warnings: vec![],
            manual_steps: vec![],
        }
    }

    #[test]
    fn history_is_bounded_and_percentiles_use_successful_runs() {
        let mut h = RunHistory::default();
        assert_eq!(h.percentile_ms(Command::Shutdown, 95), None);
        for ms in 1..=10 {
            h.push(run(ms * 100, RunOutcome::Succeeded));
        }
        h.push(run(99_999, RunOutcome::Failed));
        assert_eq!(h.percentile_ms(Command::Shutdown, 0), Some(100));
        assert_eq!(h.percentile_ms(Command::Shutdown, 50), Some(600));
        assert_eq!(h.percentile_ms(Command::Shutdown, 100), Some(1000));
        for _ in 0..RUN_HISTORY {
            h.push(run(1, RunOutcome::Succeeded));
        }
        assert_eq!(h.runs.len(), RUN_HISTORY);
    }
}
