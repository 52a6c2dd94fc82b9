//! `ananke bootstrap`: what `ananke-bootstrap.service` runs at boot.

use super::run::{run_command, RunRequest};
use super::run_json::{BootstrapDecision, RunOutput};
use super::startup::startup_machine;
use crate::exit;
use crate::global::GlobalArgs;
use crate::target::{state_dir_for, Target};
use ananke_core::runner::World;
use ananke_core::store::reports::Command;
use ananke_sim::world::Purpose;
use clap::Args;

/// Bring the cluster back at boot if ananke shut it down (its journal says so) or the cluster is
/// down; otherwise do nothing.
#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Act. Without it, bootstrap says what it would decide and prints the startup plan.
    #[arg(long)]
    pub execute: bool,
    /// Run even while a peer host (`coordination.peer_hosts`) runs ananke; the report's warnings
    /// name the overridden run. The lock on this host is never overridden.
    #[arg(long)]
    pub force: bool,
    /// Print the decision with the plan or the executed run's report as JSON (shape `version` 1).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

impl BootstrapArgs {
    /// Run the command; returns the exit code.
    #[must_use]
    pub fn exec(self) -> u8 {
        let state = match state_dir_for(&self.global) {
            Ok(s) => s,
            Err(code) => return code,
        };
        let journal = match state.read_journal() {
            Ok(j) => j,
            Err(e) => {
                crate::log_error!("{e}");
                crate::journal::say(crate::journal::Priority::Err, &lost_journal_help(&state, "damaged"));
                return exit::USAGE_OR_CONFIG;
            }
        };
        if let Some(warning) = missing_journal_warning(&state) {
            crate::journal::say(crate::journal::Priority::Warning, &warning);
        }
        let why = if journal.shutdown_completed {
            let reason = journal.shutdown_reason.as_deref().unwrap_or("unknown reason");
            format!("ananke shut the cluster down ({reason})")
        } else if journal.pending_restore() {
            let reason = journal.shutdown_reason.as_deref().unwrap_or("unknown reason");
            let pending = journal.pending_lines();
            let pending = if pending.is_empty() { "nothing listed".to_owned() } else { pending.join("; ") };
            format!("an ananke shutdown ({reason}) did not complete; restoring what it changed: {pending}")
        } else {
            let target = match Target::open(&self.global, Purpose::Observe, false) {
                Ok(t) => t,
                Err(code) => return code,
            };
            let observation = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt.block_on(target.world.observe()),
                Err(e) => {
                    crate::log_error!("{e}");
                    return exit::STATE_IO;
                }
            };
            let marks = ananke_core::journal::Changes::from_marks(&observation);
            // No journal (lost with the whole state dir, say), but ananke's marks on the cluster.
            if observation.api.reachable && !marks.is_empty() && !state.journal_path().exists() {
                format!(
                    "the journal is missing; the cluster carries ananke's marks of {} changes to restore",
                    marks.scaled.len() + marks.suspended.len() + marks.cordoned.len()
                )
            } else if observation.api.reachable {
                return self.nothing_to_do("the cluster is up and ananke did not shut it down");
            } else {
                let error = observation.api.error.unwrap_or_else(|| "no answer".to_owned());
                format!("the cluster is down (Kubernetes API: {error})")
            }
        };
        crate::journal::say(crate::journal::Priority::Notice, &format!("bootstrap: {why}: starting up"));
        let req = RunRequest {
            command: Command::Startup,
            execute: self.execute,
            reason: Some(format!("bootstrap: {why}")),
            mode: None,
            force_flux_branch: None,
            force: self.force,
            json: self.json,
            bootstrap: Some(&why),
            global: &self.global,
        };
        run_command(&req, |config, journal, now| startup_machine(config, journal, None, now))
    }
}

impl BootstrapArgs {
    /// Say that there is nothing to do, and why.
    fn nothing_to_do(&self, why: &str) -> u8 {
        if !self.json {
            println!("bootstrap: {why}: nothing to do");
            return exit::SUCCESS;
        }
        let mut out = RunOutput::new("bootstrap", None, self.execute);
        out.bootstrap = Some(BootstrapDecision { starts_up: false, why });
        match crate::output::print_json(&out) {
            Ok(()) => exit::SUCCESS,
            Err(_) => exit::STATE_IO,
        }
    }
}

/// The warning for a journal that is missing while `runs.json` shows that the last executed run
/// on this host was a shutdown: what it changed cannot be restored from the journal.
pub(crate) fn missing_journal_warning(state: &ananke_core::store::StateDir) -> Option<String> {
    if state.journal_path().exists() {
        return None;
    }
    let runs = state.read_runs().ok()?;
    let last = runs.runs.iter().rev().find(|r| r.execute)?;
    (last.command == Command::Shutdown).then(|| lost_journal_help(state, "missing"))
}

/// What to do about a journal that is `how` (missing, damaged) after an ananke shutdown.
pub(crate) fn lost_journal_help(state: &ananke_core::store::StateDir, how: &str) -> String {
    let how_to = if how == "missing" {
        "`ananke bootstrap --execute` rebuilds it from the ananke.io marks ananke put on what it scaled down, \
         suspended and cordoned, and restores that"
    } else {
        "move the damaged file aside, then `ananke bootstrap --execute` rebuilds the journal from the ananke.io \
         marks ananke put on what it scaled down, suspended and cordoned, and restores that"
    };
    format!(
        "WARNING: the journal {} is {how}, but the state dir shows an ananke shutdown \
         (see `ananke report last --command shutdown`): {how_to}",
        state.journal_path().display()
    )
}
