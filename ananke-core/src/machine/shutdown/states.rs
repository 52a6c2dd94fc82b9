//! The shutdown machine's states and transitions (statig, blocking mode).
//!
//! `Quiescing`, `Draining` and `StoppingNodes` sit in the `shutting_down` superstate, which arms
//! and reacts to the run deadline and handles effect results.

use super::{PowerOffPlan, Quiesce, ShutdownRun};
use crate::config::PdbPolicy;
use crate::effect::Effect;
use crate::machine::step::{Context, Event};
use crate::machine::{Cause, EffectOutcome, Timer};
use statig::prelude::*;

#[state_machine(
    initial = "State::quiescing()",
    state(derive(Debug, Clone, Copy, PartialEq, Eq)),
    visibility = "pub(crate)"
)]
impl ShutdownRun {
    /// Suspend Flux (roots first, verifying each suspend held), then scale workloads to 0 tier by
    /// tier. With the API unreachable at the first observation, go straight to stopping nodes.
    #[state(superstate = "shutting_down", entry_action = "enter_quiescing")]
    fn quiescing(&mut self, context: &mut Context<'_>, event: &Event<'_>) -> Outcome<State> {
        match event {
            Event::Observed(obs) => {
                let first = !self.observed;
                self.observed = true;
                self.note(obs);
                if first && !obs.api.reachable {
                    let error = obs.api.error.as_deref().unwrap_or("no answer");
                    context.diagnose(format!(
                        "Kubernetes API unreachable at the first observation ({error}): cannot suspend Flux, \
                         scale down nor drain; stopping nodes"
                    ));
                    if !self.journal.quiesced {
                        self.api_down_at_start = Some(error.to_owned());
                    }
                    return Transition(State::stopping_nodes());
                }
                if self.quiesce(context, obs) {
                    Transition(State::draining())
                } else {
                    Handled
                }
            }
            Event::Timeout(Timer::PhaseDeadline) => {
                let line = self.waiting_line();
                match self.quiesce {
                    Quiesce::Suspending => {
                        context.diagnose(format!("Flux suspend not confirmed in time, scaling down anyway: {line}"));
                        self.start_tier(context, 0);
                    }
                    Quiesce::Scaling(tier) => {
                        context.diagnose(format!("tier {tier} not scaled down in time, going on: {line}"));
                        self.start_tier(context, tier + 1);
                    }
                }
                Handled
            }
            _ => Super,
        }
    }

    /// Bound the Flux suspend step by the scale-down timeout.
    #[action]
    fn enter_quiescing(&mut self, context: &mut Context<'_>) {
        context.arm(Timer::PhaseDeadline, self.config.shutdown.scale_down_timeout.get());
    }

    /// Cordon every node not already unschedulable, then drain the nodes that still run pods;
    /// stop the nodes once nothing remains to evict.
    #[state(superstate = "shutting_down", entry_action = "enter_draining")]
    fn draining(&mut self, context: &mut Context<'_>, event: &Event<'_>) -> Outcome<State> {
        match event {
            Event::Observed(obs) => {
                self.note(obs);
                if self.drain(context, obs) {
                    self.journal.quiesced = self.verify_quiesce().is_empty();
                    Transition(State::stopping_nodes())
                } else {
                    Handled
                }
            }
            Event::Done { effect: Effect::Drain { node }, outcome: EffectOutcome::BlockedByPdb { pdb } } => {
                self.pdb_blocks.insert(node.clone(), pdb.clone());
                Handled
            }
            Event::Timeout(Timer::PhaseDeadline) => {
                let pdbs = self.blocking_pdb_line();
                let timeout = self.config.shutdown.drain_timeout;
                match (self.config.shutdown.pdb_policy, pdbs) {
                    (PdbPolicy::Fail, Some(pdbs)) => {
                        self.fail(format!("drain blocked after {timeout} by PodDisruptionBudget(s) {pdbs}"))
                    }
                    (_, pdbs) => {
                        let pdbs = pdbs.map_or_else(String::new, |p| format!("; blocking PodDisruptionBudget(s) {p}"));
                        context.diagnose(format!(
                            "drain not finished after {timeout}{pdbs}; stopping nodes anyway: {}",
                            self.waiting_line()
                        ));
                        Transition(State::stopping_nodes())
                    }
                }
            }
            _ => Super,
        }
    }

    /// Bound the drain.
    #[action]
    fn enter_draining(&mut self, context: &mut Context<'_>) {
        self.waiting_for.clear();
        context.arm(Timer::PhaseDeadline, self.config.shutdown.drain_timeout.get());
    }

    /// Stop k3s on every agent, then, once every agent is down, on the servers.
    #[state(superstate = "shutting_down", entry_action = "enter_stopping_nodes")]
    fn stopping_nodes(&mut self, context: &mut Context<'_>, event: &Event<'_>) -> Outcome<State> {
        match event {
            Event::Observed(obs) => {
                self.note(obs);
                if self.stop_nodes(context, obs) {
                    self.finish()
                } else {
                    Handled
                }
            }
            Event::Done {
                effect: Effect::StopK3s { node, .. },
                outcome: EffectOutcome::Failed { transient: false, message },
            } => {
                // A refusal will not change by asking again: the node no longer holds the run.
                context.diagnose(format!("k3s stop on {node} refused: {message}"));
                self.refused.insert(node.clone(), (Cause::of_message(message), message.clone()));
                Handled
            }
            Event::Timeout(Timer::PhaseDeadline) => {
                let line = self.waiting_line();
                if self.servers_stopping {
                    context.diagnose(format!("k3s stop not confirmed in time on: {line}"));
                    return self.finish();
                }
                // Agents still up: stop the servers anyway, and give them a window of their own.
                context.diagnose(format!("k3s stop not confirmed in time on: {line}; stopping the servers anyway"));
                self.agents_timed_out = true;
                self.stop_servers_anyway(context);
                context.arm(Timer::PhaseDeadline, self.config.shutdown.node_stop_timeout.get());
                Handled
            }
            _ => Super,
        }
    }

    /// Bound the node stop.
    #[action]
    fn enter_stopping_nodes(&mut self, context: &mut Context<'_>) {
        self.waiting_for.clear();
        context.arm(Timer::PhaseDeadline, self.config.shutdown.node_stop_timeout.get());
    }

    /// Reactions shared by the running phases: the run deadline and effect results.
    #[superstate(entry_action = "enter_shutting_down")]
    fn shutting_down(&mut self, context: &mut Context<'_>, event: &Event<'_>) -> Outcome<State> {
        match event {
            Event::Done { effect, outcome } => match outcome {
                EffectOutcome::Ok => Handled,
                EffectOutcome::BlockedByPdb { pdb } => {
                    context.diagnose(format!("{} reported PodDisruptionBudget {pdb}; will retry", effect.describe()));
                    Handled
                }
                EffectOutcome::Failed { transient: true, message } => {
                    context.diagnose(format!("{} failed, will retry: {message}", effect.describe()));
                    Handled
                }
                EffectOutcome::Failed { transient: false, message } => {
                    self.fail(format!("{} failed: {message}", effect.describe()))
                }
            },
            Event::Timeout(Timer::RunDeadline) => {
                let reason = format!(
                    "shutdown deadline of {} exceeded; waiting for: {}",
                    self.config.shutdown.deadline,
                    self.waiting_line()
                );
                self.fail(reason)
            }
            Event::Observed(_) | Event::Timeout(_) => Handled,
        }
    }

    /// Arm the run deadline.
    #[action]
    fn enter_shutting_down(&mut self, context: &mut Context<'_>) {
        context.arm(Timer::RunDeadline, self.config.shutdown.deadline.get());
    }

    /// The cluster is down. Further inputs are handled by doing nothing (a failed power-off is a
    /// diagnostic).
    #[state(entry_action = "enter_off")]
    fn off(&mut self, context: &mut Context<'_>, event: &Event<'_>) -> Outcome<State> {
        if let Event::Done { effect, outcome } = event {
            if let EffectOutcome::Failed { message, .. } = outcome {
                context.diagnose(format!("{} failed after the shutdown: {message}", effect.describe()));
            }
            if let Effect::PowerOffHost { node } = effect {
                self.powered_off(context, node);
            }
        }
        Handled
    }

    /// Record the shutdown as completed; in `cluster-and-hosts` mode only, power every host off,
    /// servers last.
    #[action]
    fn enter_off(&mut self, context: &mut Context<'_>) {
        context.stop_all_timers();
        self.journal.shutdown_completed = true;
        self.power_off_hosts(context);
    }

    /// The run went as far as it could; `unconfirmed` lists what was not seen done. The journal
    /// stays unfinished, so a startup (or `bootstrap`) restores what this run changed. Failed
    /// power-offs are diagnostics, as in `Off`.
    #[state(entry_action = "enter_incomplete")]
    fn incomplete(&mut self, context: &mut Context<'_>, event: &Event<'_>) -> Outcome<State> {
        self.off(context, event)
    }

    /// Disarm every timer; in `cluster-and-hosts` mode, power the hosts off all the same (the UPS
    /// will not wait for the nodes that did not answer).
    #[action]
    fn enter_incomplete(&mut self, context: &mut Context<'_>) {
        context.stop_all_timers();
        self.power_off_hosts(context);
    }

    /// The shutdown failed; `failure` says why. Further inputs are handled by doing nothing.
    #[state(entry_action = "enter_failed")]
    fn failed(event: &Event<'_>) -> Outcome<State> {
        let _ = event;
        Handled
    }

    /// Disarm every timer; note what was not confirmed, for the report.
    #[action]
    fn enter_failed(&mut self, context: &mut Context<'_>) {
        context.stop_all_timers();
        self.unconfirmed = self.verify();
    }
}

impl ShutdownRun {
    /// Record why the run failed and go to `Failed`.
    fn fail(&mut self, reason: String) -> Outcome<State> {
        self.record_failure(None, reason);
        Transition(State::failed())
    }

    /// The run is over: `Off` when every step was observed done, `Incomplete` otherwise.
    fn finish(&mut self) -> Outcome<State> {
        self.unconfirmed = self.verify();
        if self.unconfirmed.is_empty() {
            Transition(State::off())
        } else {
            Transition(State::incomplete())
        }
    }

    /// In `cluster-and-hosts` mode only, power the hosts off ([`PowerOffPlan`]): the agents now,
    /// the servers once every agent's power-off has returned ([`Self::powered_off`]), the host
    /// ananke runs on never.
    fn power_off_hosts(&mut self, context: &mut Context<'_>) {
        let plan = PowerOffPlan::of(&self.config, self.options.mode);
        if let Some(local) = &plan.spared {
            context.diagnose(format!("{local}: {}", PowerOffPlan::spared_why()));
        }
        self.servers_to_power_off = plan.servers;
        for node in plan.agents {
            if context.offer(Effect::PowerOffHost { node: node.clone() }) {
                self.agents_powering_off.insert(node);
            }
        }
        if self.agents_powering_off.is_empty() {
            self.power_off_servers(context);
        }
    }

    /// A power-off returned (done or failed: the UPS will not wait); the servers' turn once no
    /// agent is left.
    fn powered_off(&mut self, context: &mut Context<'_>, node: &str) {
        if self.agents_powering_off.remove(node) && self.agents_powering_off.is_empty() {
            self.power_off_servers(context);
        }
    }

    fn power_off_servers(&mut self, context: &mut Context<'_>) {
        for node in std::mem::take(&mut self.servers_to_power_off) {
            context.offer(Effect::PowerOffHost { node });
        }
    }
}
