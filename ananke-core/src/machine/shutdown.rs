//! The shutdown machine: `Quiescing -> Draining -> StoppingNodes -> Off`, plus `Failed`.
//!
//! It suspends Flux roots first and verifies the suspend held, scales workloads down tier by tier,
//! cordons and drains nodes (bounded, naming any blocking `PodDisruptionBudget`), then stops k3s on
//! the agents and last on the servers. Before every change it records in the journal what it
//! changes and what it found already so. In `cluster-only` mode it never powers a host off.
//!
//! It ends `Off` only when the observations confirmed every step: every node that is not ignored
//! seen with k3s inactive, every workload it scaled seen at 0, every Flux object it suspended seen
//! suspended, every drain finished (or held only by a `PodDisruptionBudget` under
//! `pdb_policy: proceed`). Otherwise it ends `Incomplete` with the list of what was not confirmed
//! and why ([`Unconfirmed`]): an effect's exit status is a hint, the next observation is the truth.

use super::step::{Context, Event, Tables};
use super::{Cause, Diagnostic, Failure, Input, Machine, Unconfirmed};
use crate::config::{Config, ShutdownMode, WorkloadRef};
use crate::effect::Effect;
use crate::gates::{GateId, GateReport};
use crate::journal::Journal;
use crate::observation::{FluxRef, SshStatus, UnitState};
use crate::time::Time;
use serde::{Deserialize, Serialize};
use statig::blocking::{InitializedStateMachine, IntoStateMachineExt as _};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

mod nodes;
mod power_off;
mod quiesce;
mod states;
mod verify;

pub use power_off::PowerOffPlan;
use states::State;

/// Options of one shutdown run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShutdownOptions {
    /// Why (`--reason`), recorded in the journal and the report.
    pub reason: String,
    /// `--mode` (default from the config: `cluster-only`).
    pub mode: ShutdownMode,
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
    /// The cluster is down: every step was observed done.
    Off,
    /// The run went as far as it could, but some steps were never observed done
    /// ([`ShutdownMachine::unconfirmed`] says which and why).
    Incomplete,
    /// The shutdown failed.
    Failed,
}

impl ShutdownState {
    /// The state's stable name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ShutdownState::Quiescing => "quiescing",
            ShutdownState::Draining => "draining",
            ShutdownState::StoppingNodes => "stopping-nodes",
            ShutdownState::Off => "off",
            ShutdownState::Incomplete => "incomplete",
            ShutdownState::Failed => "failed",
        }
    }
}

/// Where `Quiescing` is: suspending Flux, or scaling down one tier (index `tiers.len()` is the
/// tier of the unlisted workloads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quiesce {
    /// Suspending Flux objects.
    Suspending,
    /// Scaling down tier `n`.
    Scaling(usize),
}

/// The machine data of one shutdown run: the statig shared storage. Its flags are independent
/// facts of the run (seen, sent, timed out, answered), not one state spelled in bools.
#[allow(clippy::struct_excessive_bools)]
pub(crate) struct ShutdownRun {
    config: Arc<Config>,
    journal: Journal,
    options: ShutdownOptions,
    failure: Option<Failure>,
    /// An observation was handled already.
    observed: bool,
    /// Progress inside `Quiescing`.
    quiesce: Quiesce,
    /// Objects ananke suspended that this run observed suspended (to notice a reverted suspend).
    seen_suspended: BTreeSet<FluxRef>,
    /// `PodDisruptionBudgets` that blocked a drain, by node.
    pdb_blocks: BTreeMap<String, String>,
    /// What the current phase still waits for, from the last observation (for timeout messages).
    waiting_for: Vec<String>,
    /// `StopK3s` was sent to the servers.
    servers_stopping: bool,
    /// The node-stop deadline passed with agents still up: they no longer hold the servers.
    agents_timed_out: bool,
    /// The API was down at the first observation (its error): nothing was done through it.
    api_down_at_start: Option<String>,
    /// Whether the last observation reached the API.
    api_reachable: bool,
    /// Workloads observed at 0 replicas with no pods left.
    scaled_confirmed: BTreeSet<WorkloadRef>,
    /// Nodes whose drain was given up with pods left that no `PodDisruptionBudget` covers.
    drain_unfinished: BTreeMap<String, String>,
    /// Nodes whose k3s stop was refused for good, with the cause and the message.
    refused: BTreeMap<String, (Cause, String)>,
    /// Every node's SSH status and k3s unit at the last observation.
    last_nodes: BTreeMap<String, (SshStatus, UnitState)>,
    /// What the run did not see done (filled when it ends).
    unconfirmed: Vec<Unconfirmed>,
    /// `cluster-and-hosts`: the agents whose power-off has not returned yet.
    agents_powering_off: BTreeSet<String>,
    /// `cluster-and-hosts`: the servers, powered off once no agent is left powering off.
    servers_to_power_off: Vec<String>,
}

impl ShutdownRun {
    /// Record the failure (the first one wins).
    fn record_failure(&mut self, gate: Option<GateId>, reason: String) {
        if self.failure.is_none() {
            self.failure = Some(Failure { gate, reason });
        }
    }

    /// What the current phase waits for, as one line.
    fn waiting_line(&self) -> String {
        if self.waiting_for.is_empty() {
            "no observation yet".to_owned()
        } else {
            self.waiting_for.join("; ")
        }
    }
}

/// The shutdown machine.
pub struct ShutdownMachine {
    sm: InitializedStateMachine<ShutdownRun>,
    tables: Tables,
    /// Effects emitted while initializing, returned by the first `handle`.
    pending: Vec<Effect>,
}

impl ShutdownMachine {
    /// A machine that records what it changes in `journal`. An unfinished journal (a shutdown that
    /// did not reach `Off`) keeps its reason and start time: this run resumes it.
    #[must_use]
    pub fn new(config: Arc<Config>, mut journal: Journal, options: ShutdownOptions, now: Time) -> Self {
        let resuming = !journal.shutdown_completed && journal.shutdown_started_at.is_some();
        if !resuming {
            journal.shutdown_reason = None;
            journal.shutdown_started_at = None;
            // After a completed shutdown no startup undid, what it saw quiesced still holds.
            journal.quiesced &= journal.shutdown_completed;
        }
        // What the interrupted run saw done need not be seen again.
        let (seen_suspended, scaled_confirmed) = if journal.quiesced {
            (journal.changes.suspended.iter().cloned().collect(), journal.changes.scaled.keys().cloned().collect())
        } else {
            (BTreeSet::new(), BTreeSet::new())
        };
        journal.shutdown_reason.get_or_insert_with(|| options.reason.clone());
        journal.shutdown_started_at.get_or_insert(now);
        journal.shutdown_completed = false;
        let run = ShutdownRun {
            config,
            journal,
            options,
            failure: None,
            observed: false,
            quiesce: Quiesce::Suspending,
            seen_suspended,
            pdb_blocks: BTreeMap::new(),
            waiting_for: Vec::new(),
            servers_stopping: false,
            agents_timed_out: false,
            api_down_at_start: None,
            api_reachable: false,
            scaled_confirmed,
            drain_unfinished: BTreeMap::new(),
            refused: BTreeMap::new(),
            last_nodes: BTreeMap::new(),
            unconfirmed: Vec::new(),
            agents_powering_off: BTreeSet::new(),
            servers_to_power_off: Vec::new(),
        };
        let mut tables = Tables::default();
        let mut pending = Vec::new();
        let sm = run.uninitialized_state_machine().init_with_context(&mut tables.step(now, &mut pending));
        Self { sm, tables, pending }
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> ShutdownState {
        match self.sm.state() {
            State::Quiescing {} => ShutdownState::Quiescing,
            State::Draining {} => ShutdownState::Draining,
            State::StoppingNodes {} => ShutdownState::StoppingNodes,
            State::Off {} => ShutdownState::Off,
            State::Incomplete {} => ShutdownState::Incomplete,
            State::Failed {} => ShutdownState::Failed,
        }
    }

    /// The `PodDisruptionBudgets` that blocked a drain, by node.
    #[must_use]
    pub fn blocking_pdbs(&self) -> &BTreeMap<String, String> {
        &self.sm.pdb_blocks
    }

    /// What the run did not see done, once it ended (empty while it runs and after `Off`).
    #[must_use]
    pub fn unconfirmed(&self) -> &[Unconfirmed] {
        &self.sm.unconfirmed
    }
}

impl Machine for ShutdownMachine {
    fn handle(&mut self, now: Time, input: &Input) -> Vec<Effect> {
        let mut effects = std::mem::take(&mut self.pending);
        let sm = &mut self.sm;
        effects.extend(self.tables.handle(now, input, |step: &mut Context<'_>, event: &Event<'_>| {
            sm.handle_with_context(event, step);
        }));
        effects
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.tables.timers.next()
    }

    fn state_name(&self) -> &'static str {
        self.state().as_str()
    }

    fn is_terminal(&self) -> bool {
        matches!(self.state(), ShutdownState::Off | ShutdownState::Incomplete | ShutdownState::Failed)
    }

    fn failure(&self) -> Option<&Failure> {
        self.sm.failure.as_ref()
    }

    fn journal(&self) -> &Journal {
        &self.sm.journal
    }

    fn gates(&self) -> Option<&GateReport> {
        None
    }

    fn diagnostics(&self) -> &[Diagnostic] {
        &self.tables.diagnostics.list
    }

    fn unconfirmed(&self) -> &[Unconfirmed] {
        &self.sm.unconfirmed
    }
}
