//! The startup and shutdown state machines (statig, blocking mode).
//!
//! The API mirrors quinn-proto: `handle(now, input) -> Vec<Effect>`, `poll_timeout()` for the next
//! deadline, and read-only getters. A handler never does I/O and never reads a clock.

use crate::effect::Effect;
use crate::gates::{GateId, GateReport};
use crate::journal::Journal;
use crate::observation::Observation;
use crate::time::Time;
use serde::{Deserialize, Serialize};

pub mod shutdown;
pub mod startup;
mod step;
pub mod timers;

pub use shutdown::{PowerOffPlan, ShutdownMachine, ShutdownOptions, ShutdownState};
pub use startup::{StartupMachine, StartupOptions, StartupState};
pub use step::RETRY_INTERVAL;
pub use timers::{Timer, TimerTable};

/// An input to a machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "kebab-case")]
pub enum Input {
    /// A fresh observation of the cluster.
    Observed(Box<Observation>),
    /// The result of an effect the machine asked for.
    EffectDone {
        /// The effect's key ([`Effect::key`]).
        key: String,
        /// What happened.
        outcome: EffectOutcome,
    },
    /// The time given by `poll_timeout()` was reached.
    Tick,
}

/// What happened when the runner executed an effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum EffectOutcome {
    /// Done.
    Ok,
    /// A drain could not finish because a `PodDisruptionBudget` refuses evictions.
    BlockedByPdb {
        /// The blocking PDB (`namespace/name`).
        pdb: String,
    },
    /// Failed after the runner's own retries.
    Failed {
        /// Whether trying again later may help.
        transient: bool,
        /// What went wrong (never a secret).
        message: String,
    },
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The gate that failed, when a gate is the cause.
    pub gate: Option<GateId>,
    /// What went wrong, for the operator.
    pub reason: String,
}

/// Why something a run set out to do was not seen done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// The host (or its SSH port) did not answer.
    Unreachable,
    /// The host refused ananke's key.
    AuthRefused,
    /// The host presented a key that `known_hosts` does not record for it.
    HostKeyChanged,
    /// The command was refused on the host (sudo wants a password, polkit, permissions).
    PermissionDenied,
    /// No answer within the timeout.
    TimedOut,
    /// The Kubernetes API did not answer, so nothing could be done or seen through it.
    ApiDown,
    /// The command was accepted but the observation still shows the thing running.
    StillRunning,
    /// The command ran and failed for another reason.
    CommandFailed,
}

impl Cause {
    /// The cause's stable name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Unreachable => "unreachable",
            Cause::AuthRefused => "authentication refused",
            Cause::HostKeyChanged => "host key changed",
            Cause::PermissionDenied => "permission denied",
            Cause::TimedOut => "timed out",
            Cause::ApiDown => "API down",
            Cause::StillRunning => "still running",
            Cause::CommandFailed => "command failed",
        }
    }

    /// The cause an effect's failure message names. The adapters word their errors so that this
    /// is unambiguous (`ssh::SshError`'s messages; the simulator uses the same words).
    #[must_use]
    pub fn of_message(message: &str) -> Cause {
        let has = |needles: &[&str]| needles.iter().any(|n| message.contains(n));
        if has(&["refused public key authentication", "(publickey"]) {
            Cause::AuthRefused
        } else if has(&["host key"]) {
            Cause::HostKeyChanged
        } else if has(&[
            "was refused",
            "password is required",
            "Permission denied",
            "Interactive authentication required",
            "Access denied",
            "not allowed",
            "terminal is required",
        ]) {
            Cause::PermissionDenied
        } else if has(&["within", "timed out", "deadline"]) {
            Cause::TimedOut
        } else if has(&["cannot connect", "No route to host", "connection refused", "unreachable"]) {
            Cause::Unreachable
        } else {
            Cause::CommandFailed
        }
    }

    /// The cause behind a node's SSH status, when SSH does not reach it.
    #[must_use]
    pub fn of_ssh(ssh: &crate::observation::SshStatus) -> Option<Cause> {
        use crate::observation::SshStatus;
        match ssh {
            SshStatus::Reachable => None,
            SshStatus::Unknown => Some(Cause::Unreachable),
            SshStatus::Unreachable(detail) => Some(match Cause::of_message(detail) {
                Cause::TimedOut => Cause::TimedOut,
                _ => Cause::Unreachable,
            }),
            SshStatus::AuthFailed(detail) => Some(match Cause::of_message(detail) {
                Cause::HostKeyChanged => Cause::HostKeyChanged,
                _ => Cause::AuthRefused,
            }),
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a run set out to do that no observation confirmed: it keeps a shutdown from being
/// `succeeded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unconfirmed {
    /// What was not confirmed (`node titan-07: k3s-agent still running`, `Deployment apps/web`).
    pub item: String,
    /// Why.
    pub cause: Cause,
    /// The last thing the world said about it (an error message, an observed state).
    pub detail: String,
}

impl std::fmt::Display for Unconfirmed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.item, self.cause, self.detail)
    }
}

/// A surprising observation or result, recorded instead of panicking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// When it was seen.
    pub at: Time,
    /// What was seen.
    pub message: String,
}

/// What the runner and the simulator need from either machine.
pub trait Machine {
    /// Feed one input at time `now`; returns the effects to execute, in order.
    fn handle(&mut self, now: Time, input: &Input) -> Vec<Effect>;
    /// The next time the machine wants a [`Input::Tick`], if any.
    fn poll_timeout(&self) -> Option<Time>;
    /// The current state's stable name (`off`, `nodes-up`, ...).
    fn state_name(&self) -> &'static str;
    /// Whether the machine reached a terminal state (done or failed).
    fn is_terminal(&self) -> bool;
    /// Why it failed, if it did.
    fn failure(&self) -> Option<&Failure>;
    /// The journal as the machine has updated it (persist before executing effects).
    fn journal(&self) -> &Journal;
    /// The last gate report, if the machine evaluated gates.
    fn gates(&self) -> Option<&GateReport>;
    /// Diagnostics recorded so far.
    fn diagnostics(&self) -> &[Diagnostic];
    /// What the run set out to do and did not see done (a terminal run with items here is not
    /// `succeeded`).
    fn unconfirmed(&self) -> &[Unconfirmed] {
        &[]
    }
    /// What the report's warnings must say about the run's end (an ignored node that is down).
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::{Cause, Unconfirmed};
    use crate::observation::SshStatus;

    #[test]
    fn a_failure_message_names_its_cause() {
        let cases = [
            ("node n1: 127.0.0.1:22 refused public key authentication as ananke", Cause::AuthRefused),
            ("ssh: titan-05: Permission denied (publickey)", Cause::AuthRefused),
            ("node n1: host key of [127.0.1.1]:22 changed: presented SHA256:x, kh line 3 records another", Cause::HostKeyChanged),
            ("node n1: `'sudo' '-n' 'systemctl' 'stop' 'k3s'` was refused (exit status 1): sudo: a password is required", Cause::PermissionDenied),
            ("Failed to stop k3s.service: Interactive authentication required.", Cause::PermissionDenied),
            ("node n1: no SSH session with 10.0.0.1:22 within 10s", Cause::TimedOut),
            ("node n1: cannot connect to 10.0.0.1:22: Connection reset", Cause::Unreachable),
            ("node n1: `'systemctl' 'stop' 'k3s'` failed with exit status 1: Job failed", Cause::CommandFailed),
        ];
        for (message, cause) in cases {
            assert_eq!(Cause::of_message(message), cause, "{message}");
        }
    }

    #[test]
    fn an_ssh_status_names_why_a_node_is_out_of_reach() {
        assert_eq!(Cause::of_ssh(&SshStatus::Reachable), None);
        assert_eq!(Cause::of_ssh(&SshStatus::Unknown), Some(Cause::Unreachable));
        assert_eq!(Cause::of_ssh(&SshStatus::Unreachable("no route to host".into())), Some(Cause::Unreachable));
        assert_eq!(Cause::of_ssh(&SshStatus::Unreachable("no SSH session within 10s".into())), Some(Cause::TimedOut));
        assert_eq!(Cause::of_ssh(&SshStatus::AuthFailed("host key of x changed".into())), Some(Cause::HostKeyChanged));
        // Whatever else an authentication failure says, the host refused ananke.
        assert_eq!(Cause::of_ssh(&SshStatus::AuthFailed("connection refused".into())), Some(Cause::AuthRefused));
    }

    #[test]
    fn causes_and_items_read_as_words_and_serialize_kebab_case() {
        let all = [
            Cause::Unreachable,
            Cause::AuthRefused,
            Cause::HostKeyChanged,
            Cause::PermissionDenied,
            Cause::TimedOut,
            Cause::ApiDown,
            Cause::StillRunning,
            Cause::CommandFailed,
        ];
        let words: Vec<String> = all.iter().map(ToString::to_string).collect();
        assert_eq!(
            words,
            [
                "unreachable",
                "authentication refused",
                "host key changed",
                "permission denied",
                "timed out",
                "API down",
                "still running",
                "command failed"
            ]
        );
        let item =
            Unconfirmed { item: "node n1: k3s stopped".into(), cause: Cause::ApiDown, detail: "no answer".into() };
        assert_eq!(item.to_string(), "node n1: k3s stopped: API down (no answer)");
        let json = serde_json::to_value(&item).unwrap();
        assert_eq!(json["cause"], "api-down");
    }
}
