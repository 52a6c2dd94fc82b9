//! Shutdown machine: TODO(machines helper) — placeholder API so the workspace compiles.

use super::{Diagnostic, Failure, Input, Machine};
use crate::config::Config;
use crate::effect::Effect;
use crate::gates::GateReport;
use crate::journal::Journal;
use crate::time::Time;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Options of one shutdown run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShutdownOptions {
    /// Why (`--reason`), recorded in the journal and the report.
    pub reason: String,
    /// `--mode` (default from the config: `cluster-only`).
    pub mode: crate::config::ShutdownMode,
}

/// The shutdown machine's states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShutdownState {
    /// Suspending Flux (roots first), then scaling workloads down.
    Quiescing,
    /// Cordoning and draining nodes.
    Draining,
    /// Stopping k3s: agents first, servers last.
    StoppingNodes,
    /// The cluster is down.
    Off,
    /// The shutdown failed.
    Failed,
}

/// The shutdown machine.
pub struct ShutdownMachine {
    journal: Journal,
}

impl ShutdownMachine {
    /// A machine that records what it changes in `journal`.
    #[must_use]
    pub fn new(_config: Arc<Config>, journal: Journal, _options: ShutdownOptions, _now: Time) -> Self {
        Self { journal }
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> ShutdownState {
        ShutdownState::Quiescing
    }
}

impl Machine for ShutdownMachine {
    fn handle(&mut self, _now: Time, _input: &Input) -> Vec<Effect> {
        Vec::new()
    }
    fn poll_timeout(&self) -> Option<Time> {
        None
    }
    fn state_name(&self) -> &'static str {
        "quiescing"
    }
    fn is_terminal(&self) -> bool {
        false
    }
    fn failure(&self) -> Option<&Failure> {
        None
    }
    fn journal(&self) -> &Journal {
        &self.journal
    }
    fn gates(&self) -> Option<&GateReport> {
        None
    }
    fn diagnostics(&self) -> &[Diagnostic] {
        &[]
    }
}
