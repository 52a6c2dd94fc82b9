//! `ananke startup`.

use super::run::{run_command, RunRequest};
use crate::global::GlobalArgs;
use ananke_core::machine::{StartupMachine, StartupOptions};
use ananke_core::store::reports::Command;
use ananke_core::trace::TraceOptions;
use ananke_core::{Config, Journal, Time};
use clap::Args;
use std::sync::Arc;

/// Bring the cluster back after power returns.
#[derive(Debug, Args)]
pub struct StartupArgs {
    /// Act. Without it, ananke observes once and prints the plan; nothing changes.
    #[arg(long)]
    pub execute: bool,
    /// Set the Flux source's branch to BRANCH and expect BRANCH for this run: `main` resets a
    /// drill branch back to the expected `main`; another branch (a drill) is checked by the drift
    /// guard instead of `expected_flux_branch`, for this run only, and recorded in the report.
    #[arg(long, value_name = "BRANCH")]
    pub force_flux_branch: Option<String>,
    /// Run even while a peer host (`coordination.peer_hosts`) runs ananke; the report's warnings
    /// name the overridden run. The lock on this host is never overridden.
    #[arg(long)]
    pub force: bool,
    /// Print the plan, or the executed run's report, as JSON (shape `version` 1).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

impl StartupArgs {
    /// Run the command; returns the exit code.
    #[must_use]
    pub fn exec(self) -> u8 {
        let req = RunRequest {
            command: Command::Startup,
            execute: self.execute,
            reason: None,
            mode: None,
            force_flux_branch: self.force_flux_branch.clone(),
            force: self.force,
            json: self.json,
            bootstrap: None,
            global: &self.global,
        };
        let branch = self.force_flux_branch.clone();
        run_command(&req, |config, journal, now| startup_machine(config, journal, branch, now))
    }
}

/// A startup machine and its trace options.
pub fn startup_machine(
    config: Arc<Config>,
    journal: Journal,
    force_flux_branch: Option<String>,
    now: Time,
) -> (StartupMachine, TraceOptions) {
    let trace = TraceOptions { force_flux_branch: force_flux_branch.clone(), ..TraceOptions::default() };
    (StartupMachine::new(config, journal, StartupOptions { force_flux_branch }, now), trace)
}
