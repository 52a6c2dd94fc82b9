//! The startup machine's states and transitions (statig, blocking mode).
//!
//! Every state but `Ready` and `Failed` sits in the `recovering` superstate, which reacts to the
//! run deadline, the Flux retry timer and effect results.

use super::{StartupRun, SOAK_API_GRACE};
use crate::effect::Effect;
use crate::gates::{GateId, GateReport};
use crate::machine::step::{Context, Event};
use crate::machine::{EffectOutcome, Timer};
use crate::observation::Observation;
use statig::prelude::*;

/// How long the machine waits before requesting another reconcile of the source `GitRepository`
/// while it is not Ready.
pub(crate) const FLUX_RETRY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

#[state_machine(initial = "State::off()", state(derive(Debug, Clone, Copy, PartialEq, Eq)), visibility = "pub(crate)")]
impl StartupRun {
    /// Cluster down: start k3s on every reachable server together (embedded etcd needs a quorum),
    /// then on the agents once the API answers; wait until every expected node is Ready.
    #[state(superstate = "recovering", entry_action = "enter_off")]
    fn off(&mut self, context: &mut Context<'_>, event: &Event<'_>) -> Outcome<State> {
        match event {
            Event::Observed(obs) => {
                self.adopt_marks(context, obs);
                self.start_nodes(context, obs);
                self.uncordon_ready(context, obs);
                self.boot_gates = Some(crate::gates::evaluate(&self.config, obs, &self.soak_progress(context.now)));
                if self.all_nodes_up(obs) {
                    Transition(State::nodes_up())
                } else {
                    Handled
                }
            }
            Event::Timeout(Timer::BootGrace) => {
                let (gate, reason) = self.boot_failure();
                self.fail(Some(gate), reason)
            }
            _ => Super,
        }
    }

    /// Arm the boot grace and the run deadline.
    #[action]
    fn enter_off(&mut self, context: &mut Context<'_>) {
        context.arm(Timer::BootGrace, self.config.startup.node_boot_timeout.get());
        context.arm(Timer::RunDeadline, self.config.startup.deadline.get());
    }

    /// Nodes are up: scheduling is being restored; the next observation decides whether Flux is
    /// deadlocked on the in-cluster Git server.
    #[state(superstate = "recovering", entry_action = "enter_nodes_up")]
    fn nodes_up(&mut self, context: &mut Context<'_>, event: &Event<'_>) -> Outcome<State> {
        match event {
            Event::Observed(obs) => {
                if let Some(reason) = self.drift_blocks(obs) {
                    return self.fail(Some(GateId::FluxDrift), reason);
                }
                self.tend(context, obs);
                if self.git_server_down(obs) {
                    Transition(State::flux_deadlocked())
                } else {
                    Transition(State::converging())
                }
            }
            _ => Super,
        }
    }

    /// Stop the boot grace and uncordon every node the journal says ananke cordoned.
    #[action]
    fn enter_nodes_up(&mut self, context: &mut Context<'_>) {
        context.timers.stop(Timer::BootGrace);
        // Every expected node was just seen Ready; others are uncordoned once observed.
        let expected = |n: &String| self.config.node(n).is_some() && !self.config.is_ignored(n);
        for node in self.journal.changes.cordoned.iter().filter(|n| expected(n)) {
            context.offer(Effect::Uncordon { node: node.clone() });
        }
    }

    /// Flux cannot fetch from the in-cluster Git server: scale the server (and every other journaled
    /// workload, Flux being suspended) back up out of band, unseal Vault, and wait for the server to
    /// be healthy; then request a reconcile of the source.
    #[state(superstate = "recovering", entry_action = "enter_converge_window")]
    fn flux_deadlocked(&mut self, context: &mut Context<'_>, event: &Event<'_>) -> Outcome<State> {
        match event {
            Event::Observed(obs) => {
                if let Some(reason) = self.drift_blocks(obs) {
                    return self.fail(Some(GateId::FluxDrift), reason);
                }
                self.tend(context, obs);
                // Flux stays suspended until the source is back, so nothing can revert a restore:
                // bring every journaled workload back now, in parallel with the Git server, and
                // unseal Vault as soon as its pods answer.
                self.restore_scaled(context, obs);
                self.bring_up_git_server(context, obs);
                self.unseal_vault(context, obs);
                self.evaluate(context.now, obs);
                if self.git_server_down(obs) {
                    Handled
                } else {
                    self.request_source_reconcile(context);
                    Transition(State::converging())
                }
            }
            Event::Timeout(Timer::Converge) => {
                let reason = format!(
                    "in-cluster Git server {} never became healthy: {}",
                    self.git_server_name(),
                    self.seen.git_server.as_deref().unwrap_or("not observed")
                );
                self.fail(Some(GateId::FluxDrift), reason)
            }
            _ => Super,
        }
    }

    /// Arm the converge timeout unless an earlier state armed it (the budget carries over from
    /// `FluxDeadlocked` to `Converging`).
    #[action]
    fn enter_converge_window(&mut self, context: &mut Context<'_>) {
        context.arm_unless_armed(Timer::Converge, self.config.startup.converge_timeout.get());
    }

    /// Unseal Vault, restore the journaled replica counts, then resume what ananke suspended in
    /// `dependsOn` order; soak once gates 1-8 pass and nothing remains to restore.
    #[state(superstate = "recovering", entry_action = "enter_converge_window")]
    fn converging(&mut self, context: &mut Context<'_>, event: &Event<'_>) -> Outcome<State> {
        match event {
            Event::Observed(obs) => {
                if let Some(reason) = self.drift_blocks(obs) {
                    return self.fail(Some(GateId::FluxDrift), reason);
                }
                if self.converge(context, obs) {
                    Transition(State::soaking())
                } else {
                    Handled
                }
            }
            Event::Timeout(Timer::Converge) => {
                let (gate, reason) = match self.first_failing_gate() {
                    Some((gate, reason)) => (Some(gate), reason),
                    None => (None, format!("still restoring: {}", self.restore_backlog())),
                };
                self.fail(gate, format!("converge timeout: {reason}"))
            }
            _ => Super,
        }
    }

    /// Every gate but the soak is green: keep checking; a regression goes back to `Converging`
    /// (too many fail the run); at the soak's end with every gate green, startup is `Ready`.
    #[state(superstate = "recovering", entry_action = "enter_soaking", exit_action = "exit_soaking")]
    fn soaking(&mut self, context: &mut Context<'_>, event: &Event<'_>) -> Outcome<State> {
        match event {
            Event::Observed(obs) => match self.drift_blocks(obs) {
                Some(reason) => self.fail(Some(GateId::FluxDrift), reason),
                None => self.soak(context, obs),
            },
            // The soak timer only wakes the runner up for an observation at the soak's end.
            Event::Timeout(Timer::Soak) => Handled,
            _ => Super,
        }
    }

    /// Start the soak from zero: stop the converge timeout, arm the soak's end.
    #[action]
    fn enter_soaking(&mut self, context: &mut Context<'_>) {
        context.timers.stop(Timer::Converge);
        self.soak_started_at = Some(context.now);
        self.api_down_since = None;
        context.arm(Timer::Soak, self.config.soak.duration.get());
    }

    /// Leaving the soak: its end no longer matters.
    #[action]
    fn exit_soaking(context: &mut Context<'_>) {
        context.timers.stop(Timer::Soak);
    }

    /// Reactions shared by every non-terminal state: the run deadline, the Flux retry timer,
    /// effect results; anything else is handled by doing nothing.
    #[superstate]
    fn recovering(&mut self, context: &mut Context<'_>, event: &Event<'_>) -> Outcome<State> {
        match event {
            Event::Done { effect, outcome } => match self.effect_failure(context, effect, outcome) {
                Some((gate, reason)) => self.fail(gate, reason),
                None => Handled,
            },
            Event::Timeout(Timer::RunDeadline) => {
                let (gate, reason) = match self.first_failing_gate() {
                    Some((gate, reason)) => (gate, reason),
                    None if self.report.is_none() => self.boot_failure(),
                    // A report with gates 1-8 green: what holds the run is a restore or the soak.
                    None => (GateId::Soak, format!("still restoring or soaking: {}", self.restore_backlog())),
                };
                self.fail(Some(gate), format!("startup deadline exceeded: {reason}"))
            }
            Event::Timeout(Timer::FluxRetry) => {
                if !self.seen.source_ready {
                    self.request_source_reconcile(context);
                }
                Handled
            }
            Event::Observed(_) | Event::Timeout(_) => Handled,
        }
    }

    /// Startup complete: the last gate report has every gate passing. Further inputs are handled
    /// by doing nothing.
    #[state(entry_action = "enter_ready")]
    fn ready(event: &Event<'_>) -> Outcome<State> {
        let _ = event;
        Handled
    }

    /// Disarm every timer; the cluster is up again, so the journal no longer says it is down
    /// because of ananke.
    #[action]
    fn enter_ready(&mut self, context: &mut Context<'_>) {
        context.stop_all_timers();
        // The shutdown is undone: the next shutdown starts afresh instead of resuming it.
        self.journal.shutdown_completed = false;
        self.journal.shutdown_started_at = None;
        self.journal.shutdown_reason = None;
        self.journal.quiesced = false;
        self.journal.changes.already_stopped.clear();
    }

    /// Startup failed; `failure` says why. Further inputs are handled by doing nothing.
    #[state(entry_action = "enter_failed")]
    fn failed(event: &Event<'_>) -> Outcome<State> {
        let _ = event;
        Handled
    }

    /// Disarm every timer.
    #[action]
    fn enter_failed(context: &mut Context<'_>) {
        context.stop_all_timers();
    }
}

impl StartupRun {
    /// Record why the run failed and go to `Failed`.
    fn fail(&mut self, gate: Option<GateId>, reason: String) -> Outcome<State> {
        self.record_failure(gate, reason);
        Transition(State::failed())
    }

    /// One observation in `Converging`; returns whether to start soaking.
    fn converge(&mut self, context: &mut Context<'_>, obs: &Observation) -> bool {
        self.tend(context, obs);
        self.unseal_vault(context, obs);
        if self.restore_scaled(context, obs) {
            self.resume_flux(context, obs);
        }
        self.evaluate(context.now, obs);
        let green = self.report.as_ref().is_some_and(GateReport::all_pass_before_soak);
        green && self.nothing_to_restore(obs) && self.seen.sealed.is_empty()
    }

    /// One observation in `Soaking`.
    fn soak(&mut self, context: &mut Context<'_>, obs: &Observation) -> Outcome<State> {
        if obs.api.reachable {
            self.api_down_since = None;
        } else {
            // One failed look at the API says little about the cluster; an outage does.
            let since = *self.api_down_since.get_or_insert(context.now);
            if context.now.since(since) < SOAK_API_GRACE {
                let error = obs.api.error.as_deref().unwrap_or("no answer");
                context.diagnose(format!(
                    "Kubernetes API unreachable during the soak ({error}); a regression if it lasts {}s",
                    SOAK_API_GRACE.as_secs()
                ));
                return Handled;
            }
        }
        self.tend(context, obs);
        self.unseal_vault(context, obs);
        self.evaluate(context.now, obs);
        let regression = match self.first_failing_gate() {
            Some((_, reason)) => Some(reason),
            None if !self.seen.sealed.is_empty() => Some(format!("vault: sealed {}", self.seen.sealed.join(", "))),
            None => None,
        };
        if let Some(regression) = regression {
            self.regressions.push(regression);
            let max = self.config.soak.max_regressions;
            if self.regressions.len() > usize::try_from(max).unwrap_or(usize::MAX) {
                let reason = format!(
                    "{} regressions during the soak (at most {max}): {}",
                    self.regressions.len(),
                    self.regressions.join(" | ")
                );
                return self.fail(Some(GateId::Soak), reason);
            }
            context.diagnose(format!(
                "soak regression, converging again: {}",
                self.regressions.last().map_or("", String::as_str)
            ));
            return Transition(State::converging());
        }
        if self.report.as_ref().is_some_and(GateReport::all_pass) {
            Transition(State::ready())
        } else {
            Handled
        }
    }

    /// Request a reconcile of the source `GitRepository` and re-check it later.
    fn request_source_reconcile(&mut self, context: &mut Context<'_>) {
        let object = self.source_ref();
        let token = format!("ananke-{}", context.now.as_millis());
        context.offer(Effect::RequestReconcile { object, token });
        context.arm(Timer::FluxRetry, FLUX_RETRY_INTERVAL);
    }

    /// What a finished effect means for the run: `Some((gate, reason))` fails it.
    fn effect_failure(
        &mut self,
        context: &mut Context<'_>,
        effect: &Effect,
        outcome: &EffectOutcome,
    ) -> Option<(Option<GateId>, String)> {
        let (transient, message) = match outcome {
            EffectOutcome::Ok => return None,
            EffectOutcome::BlockedByPdb { pdb } => {
                context.diagnose(format!(
                    "{} reported a PodDisruptionBudget block ({pdb}); will retry",
                    effect.describe()
                ));
                return None;
            }
            EffectOutcome::Failed { transient, message } => (*transient, message),
        };
        match effect {
            Effect::UnsealVault { pod } => {
                if self.config.startup.vault_unseal_breakglass_command.is_none() {
                    return Some((
                        None,
                        format!("vault pod {pod} still sealed: standard unseal failed: {message}; no breakglass command configured"),
                    ));
                }
                context.diagnose(format!(
                    "standard unseal of vault pod {pod} failed: {message}; using the breakglass command"
                ));
                self.unseal_failed.insert(pod.clone(), message.clone());
                context.offer(Effect::UnsealVaultBreakglass { pod: pod.clone() });
                None
            }
            Effect::UnsealVaultBreakglass { pod } => {
                let standard = self.unseal_failed.get(pod).map_or("", String::as_str);
                Some((
                    None,
                    format!("vault pod {pod} still sealed: standard unseal failed: {standard}; breakglass unseal failed: {message}"),
                ))
            }
            _ if transient => {
                context.diagnose(format!("{} failed, will retry: {message}", effect.describe()));
                None
            }
            _ => Some((None, format!("{} failed: {message}", effect.describe()))),
        }
    }
}
