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

pub use shutdown::{ShutdownMachine, ShutdownOptions, ShutdownState};
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
}
