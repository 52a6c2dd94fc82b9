//! Runs the daemon did not start: a run a daemon before a restart started, the bootstrap's, an
//! operator's. The daemon finds them by the run lock, waits for them (or stops a startup when
//! power fails), and acts on their outcome once the lock is released.

use super::{budget, Daemon};
use ananke_core::power::{ClusterPhase, PowerInput};
use ananke_core::store::lock::{held, LockHolder};
use ananke_core::store::reports::RunOutcome;
use ananke_core::store::StateDir;
use ananke_core::Time;
use std::time::{Duration, Instant};

/// The phase at start: a run holding the lock, or what the journal says.
pub(super) fn initial_phase(state: &StateDir, holder: Option<&LockHolder>) -> ClusterPhase {
    if let Some(holder) = holder {
        return if holder.command == "shutdown" { ClusterPhase::ShuttingDown } else { ClusterPhase::StartingUp };
    }
    match state.read_journal() {
        // A shutdown that completed, or one that did not (its changes are still to be undone).
        Ok(j) if j.pending_restore() => ClusterPhase::Down,
        _ => ClusterPhase::Up,
    }
}

impl Daemon {
    /// A run the daemon adopted at its start has released the lock: tell the policy how it ended
    /// (its report says; none is a run that did not succeed).
    pub(super) fn reap_adopted(&mut self, now: Time) {
        let Some(run) = self.adopted.as_ref().filter(|_| held(self.state.root()).is_none()) else { return };
        let report = self.state.read_report(&run.run_id).ok().flatten();
        let outcome = report.as_ref().map_or("no report", |r| r.outcome.as_str());
        let succeeded = report.is_some_and(|r| r.outcome == RunOutcome::Succeeded);
        let input = if run.command == "startup" {
            PowerInput::StartupEnded { succeeded }
        } else {
            self.policy.set_budget(budget(&self.state, &self.config));
            PowerInput::ShutdownEnded { succeeded }
        };
        let message = format!("the adopted {} run {} (pid {}) ended: {outcome}", run.command, run.run_id, run.pid);
        self.adopted = None;
        let priority = if succeeded { crate::journal::Priority::Info } else { crate::journal::Priority::Err };
        self.event_at(priority, message);
        for decision in self.policy.handle(now, &input) {
            self.carry_out(decision);
        }
    }

    /// Stop a run the daemon did not start (SIGTERM to the pid its lock names, when the lock is
    /// of this boot), and wait until its lock is released.
    pub(super) fn abort_adopted(&mut self, holder: &LockHolder) {
        self.event_at(
            crate::journal::Priority::Warning,
            format!(
                "aborting the {} run {} (pid {}) the daemon did not start",
                holder.command, holder.run_id, holder.pid
            ),
        );
        let this_boot = holder.boot_id.is_none() || holder.boot_id == ananke_core::store::lock::boot_id();
        if holder.pid != 0 && this_boot {
            let _ = std::process::Command::new("kill").args(["-TERM", &holder.pid.to_string()]).status();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while held(self.state.root()).is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
