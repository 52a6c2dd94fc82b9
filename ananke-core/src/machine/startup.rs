//! Startup machine: TODO(machines helper) — placeholder API so the workspace compiles.

use super::{Diagnostic, Failure, Input, Machine};
use crate::config::Config;
use crate::effect::Effect;
use crate::gates::GateReport;
use crate::journal::Journal;
use crate::time::Time;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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

/// The startup machine.
pub struct StartupMachine {
    journal: Journal,
}

impl StartupMachine {
    /// A machine that restores what `journal` recorded.
    #[must_use]
    pub fn new(_config: Arc<Config>, journal: Journal, _options: StartupOptions, _now: Time) -> Self {
        Self { journal }
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> StartupState {
        StartupState::Off
    }
}

impl Machine for StartupMachine {
    fn handle(&mut self, _now: Time, _input: &Input) -> Vec<Effect> {
        Vec::new()
    }
    fn poll_timeout(&self) -> Option<Time> {
        None
    }
    fn state_name(&self) -> &'static str {
        "off"
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
