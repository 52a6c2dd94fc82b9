//! Faults a scenario schedules: when they strike is relative to a phase of the run.
//!
//! In YAML a fault is written with its tag: `- !node-lost { node: titan-23 }`, or a bare name for
//! faults without fields: `- standard-unseal-fails`.

use ananke_core::config::HumanDuration;
use serde::{Deserialize, Serialize};

/// A phase of a run, which fault times are relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The start of the whole run.
    #[default]
    Run,
    /// The start of the shutdown.
    Shutdown,
    /// The start of the outage (mains lost after the shutdown).
    Outage,
    /// The start of the startup.
    Startup,
}

/// A time relative to the start of a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseAt {
    /// The phase (default: the start of the run).
    #[serde(default)]
    pub phase: Phase,
    /// Time after the phase began.
    #[serde(default)]
    pub after: HumanDuration,
}

/// One scheduled fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// The host does not come back once it lost power (it never boots again).
    NodeLost {
        /// Node name.
        node: String,
    },
    /// SSH authentication to the node fails (the node refuses ananke's key).
    SshAuthFails {
        /// Node name.
        node: String,
    },
    /// The node presents a host key that `known_hosts` does not record for it (reinstalled).
    HostKeyChanged {
        /// Node name.
        node: String,
    },
    /// `sudo` refuses ananke's privileged commands on the node (no sudoers rule): SSH and
    /// `systemctl is-active` work, `systemctl start|stop` is refused.
    SudoRefused {
        /// Node name.
        node: String,
    },
    /// The node's k3s unit does not stop: `systemctl stop` returns success and k3s keeps running.
    K3sWontStop {
        /// Node name.
        node: String,
    },
    /// The node's k3s takes this much longer to start.
    SlowK3s {
        /// Node name.
        node: String,
        /// Extra start time.
        extra: HumanDuration,
    },
    /// The standard unseal shares cannot be retrieved (breakglass shares still work).
    StandardUnsealFails,
    /// The check fails for `duration`, `after_healthy` after it first passes in the startup.
    EndpointFlap {
        /// Check name.
        check: String,
        /// Delay after the check first passes during the startup.
        after_healthy: HumanDuration,
        /// How long it fails.
        duration: HumanDuration,
    },
    /// Mains power is lost for every power domain.
    PowerLoss {
        /// When.
        at: PhaseAt,
    },
    /// Mains power returns.
    PowerRestore {
        /// When.
        at: PhaseAt,
    },
    /// The API fails calls (5xx, timeouts) at `rate` between `from` and `until`.
    ApiFlaky {
        /// Probability of failure of one call or one observation's API read.
        rate: f64,
        /// Start (default: the start of the run).
        #[serde(default)]
        from: PhaseAt,
        /// End (default: never).
        #[serde(default)]
        until: Option<PhaseAt>,
    },
    /// Someone changes a `GitRepository`'s branch.
    BranchChange {
        /// `GitRepository` name.
        source: String,
        /// New branch.
        branch: String,
        /// When.
        at: PhaseAt,
    },
}
