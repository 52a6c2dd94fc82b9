//! `ananke shutdown`.

use super::run::{run_command, RunRequest};
use crate::global::GlobalArgs;
use ananke_core::config::ShutdownMode;
use ananke_core::machine::{ShutdownMachine, ShutdownOptions};
use ananke_core::store::reports::Command;
use ananke_core::trace::TraceOptions;
use clap::{Args, ValueEnum};

/// How far a shutdown goes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Stop the cluster; hosts stay powered (the default).
    ClusterOnly,
    /// Stop the cluster, then power the hosts off.
    ClusterAndHosts,
}

/// Take the cluster down gracefully before the UPS runs dry.
#[derive(Debug, Args)]
pub struct ShutdownArgs {
    /// Act. Without it, ananke observes once and prints the plan; nothing changes.
    #[arg(long)]
    pub execute: bool,
    /// Why (recorded in the journal and the report), e.g. `graceful-maintenance`, `power-statera`.
    #[arg(long, value_name = "REASON")]
    pub reason: String,
    /// `cluster-only` never powers a host off [default: the config's `shutdown.mode`].
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<ModeArg>,
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

impl ShutdownArgs {
    /// Run the command; returns the exit code.
    #[must_use]
    pub fn exec(self) -> u8 {
        let explicit = self.mode.map(|m| match m {
            ModeArg::ClusterOnly => ShutdownMode::ClusterOnly,
            ModeArg::ClusterAndHosts => ShutdownMode::ClusterAndHosts,
        });
        let req = RunRequest {
            command: Command::Shutdown,
            execute: self.execute,
            reason: Some(self.reason.clone()),
            mode: explicit.map(|m| m.as_str().to_owned()),
            force_flux_branch: None,
            force: self.force,
            json: self.json,
            bootstrap: None,
            global: &self.global,
        };
        let reason = self.reason.clone();
        run_command(&req, |config, journal, now| {
            let mode = explicit.unwrap_or(config.shutdown.mode);
            let options = ShutdownOptions { reason, mode };
            let trace =
                TraceOptions { reason: Some(options.reason.clone()), mode: Some(mode), force_flux_branch: None };
            (ShutdownMachine::new(config, journal, options, now), trace)
        })
    }
}
