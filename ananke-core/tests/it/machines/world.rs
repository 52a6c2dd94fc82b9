//! A toy cluster that reacts to effects at once, and a driver that runs a machine against it.
//! Good enough to walk a machine through a whole run; the hand-written sequences in the other
//! modules pin each transition precisely.

use super::lab;
use ananke_core::config::WorkloadKind;
use ananke_core::effect::Effect;
use ananke_core::machine::{EffectOutcome, Input, Machine};
use ananke_core::observation::{ConditionStatus, Observation, SshStatus, UnitState};
use ananke_core::runner::{Next, RunLoop, StepSink};
use ananke_core::time::Time;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The truth of the toy cluster; [`World::observe`] shows what ananke would see of it.
#[derive(Debug, Clone)]
pub struct World {
    /// Everything, as if the API always answered.
    pub state: Observation,
    /// Nodes whose drain a `PodDisruptionBudget` blocks, with the PDB.
    pub pdb_block: BTreeMap<String, String>,
    /// Nodes whose drain succeeds without evicting anything.
    pub slow_drain: BTreeSet<String>,
    /// Nodes whose `systemctl stop` says success while k3s keeps running.
    pub wont_stop: BTreeSet<String>,
    /// Nodes whose k3s commands are refused for good, with the message.
    pub refuse: BTreeMap<String, String>,
    /// Standard unseal fails with this outcome.
    pub unseal_fails: Option<EffectOutcome>,
    /// The breakglass unseal fails with this outcome.
    pub breakglass_fails: Option<EffectOutcome>,
}

impl World {
    /// The healthy running lab.
    pub fn running() -> Self {
        Self {
            state: lab::healthy(),
            pdb_block: BTreeMap::new(),
            slow_drain: BTreeSet::new(),
            wont_stop: BTreeSet::new(),
            refuse: BTreeMap::new(),
            unseal_fails: None,
            breakglass_fails: None,
        }
    }

    /// After a power cut: every unit inactive, Vault sealed; the stored cluster state is kept.
    pub fn power_cut(&mut self) {
        for node in &mut self.state.nodes {
            node.k3s_unit = UnitState::Inactive;
        }
        for vault in &mut self.state.vault {
            vault.sealed = true;
        }
    }

    /// Whether the API answers: a quorum of servers is active.
    pub fn api_up(&self) -> bool {
        let active =
            lab::SERVERS.iter().filter(|s| self.state.node(s).is_some_and(|n| n.k3s_unit == UnitState::Active)).count();
        active >= 2
    }

    /// What ananke observes now.
    pub fn observe(&self) -> Observation {
        let mut obs = self.state.clone();
        let api = self.api_up();
        for node in &mut obs.nodes {
            let active = node.k3s_unit == UnitState::Active;
            if !node.ssh.is_reachable() {
                node.k3s_unit = UnitState::Unknown;
            }
            match (&mut node.kube, api) {
                (Some(kube), true) => {
                    kube.ready = if active { ConditionStatus::True } else { ConditionStatus::Unknown };
                }
                (kube, _) => *kube = None,
            }
        }
        if !api {
            obs.api.reachable = false;
            obs.api.error = Some("connection refused".to_owned());
            obs.flux = None;
            obs.workloads.clear();
            obs.pods_to_evict.clear();
            obs.ingresses.clear();
            obs.git_server = None;
            for vault in &mut obs.vault {
                vault.reachable = false;
            }
            for probe in obs.probes.values_mut() {
                probe.ok = false;
                probe.reason = Some("connection refused".to_owned());
            }
            return obs;
        }
        let replicas = |id| obs.workload(&id).and_then(|w| w.spec_replicas).unwrap_or(0);
        let gitea_up = replicas(lab::gitea()) > 0;
        let apps_up = replicas(lab::web()) > 0 && replicas(lab::db()) > 0;
        let sealed = obs.vault.iter().any(|v| v.sealed);
        obs.git_server = Some(ananke_core::observation::GitServerHealth {
            healthy: gitea_up,
            reason: (!gitea_up).then(|| "no healthy pod".to_owned()),
        });
        for probe in obs.probes.values_mut() {
            probe.ok = apps_up && !sealed;
            probe.reason = (!probe.ok).then(|| "HTTP 503".to_owned());
        }
        obs
    }

    /// Carry out `effect` and say how it went.
    pub fn apply(&mut self, effect: &Effect) -> EffectOutcome {
        let state = &mut self.state;
        match effect {
            Effect::StartK3s { node, .. } | Effect::StopK3s { node, .. } if self.refuse.contains_key(node) => {
                return EffectOutcome::Failed { transient: false, message: self.refuse[node].clone() };
            }
            Effect::StartK3s { node, .. } => {
                lab::node_mut(state, node).k3s_unit = UnitState::Active;
            }
            Effect::StopK3s { node, .. } => {
                if !self.wont_stop.contains(node) {
                    lab::node_mut(state, node).k3s_unit = UnitState::Inactive;
                }
            }
            Effect::Cordon { node } | Effect::Uncordon { node } => {
                let cordon = matches!(effect, Effect::Cordon { .. });
                if let Some(kube) = &mut lab::node_mut(state, node).kube {
                    kube.unschedulable = cordon;
                }
            }
            Effect::Drain { node } => {
                if let Some(pdb) = self.pdb_block.get(node) {
                    return EffectOutcome::BlockedByPdb { pdb: pdb.clone() };
                }
                if !self.slow_drain.contains(node) {
                    state.pods_to_evict.retain(|p| p.node != *node);
                }
            }
            Effect::Scale { workload, replicas } => {
                if workload.kind != WorkloadKind::DaemonSet {
                    lab::set_replicas(lab::workload_mut(state, workload), *replicas);
                }
            }
            Effect::SuspendFlux { object } | Effect::ResumeFlux { object } => {
                lab::flux_mut(state, object).suspend = matches!(effect, Effect::SuspendFlux { .. });
            }
            Effect::RequestReconcile { object, token } => {
                lab::flux_mut(state, object).requested_at = Some(token.clone());
            }
            Effect::SetFluxSource { object, url, branch } => {
                let source = lab::flux_mut(state, object);
                source.url = url.clone().or(source.url.take());
                source.branch = branch.clone().or(source.branch.take());
            }
            Effect::UnsealVault { pod } | Effect::UnsealVaultBreakglass { pod } => {
                let failure = if matches!(effect, Effect::UnsealVault { .. }) {
                    &self.unseal_fails
                } else {
                    &self.breakglass_fails
                };
                if let Some(outcome) = failure {
                    return outcome.clone();
                }
                if let Some(vault) = state.vault.iter_mut().find(|v| v.pod == *pod) {
                    vault.sealed = false;
                }
            }
            Effect::PowerOffHost { node } => {
                let n = lab::node_mut(state, node);
                n.ssh = SshStatus::Unreachable("no route to host".to_owned());
                n.k3s_unit = UnitState::Inactive;
            }
        }
        EffectOutcome::Ok
    }
}

/// A machine, the current time, and every effect it emitted.
pub struct Driver<M> {
    /// The machine.
    pub machine: M,
    /// The current time.
    pub now: Time,
    /// Every effect emitted, with its time.
    pub log: Vec<(Time, Effect)>,
}

impl<M: Machine> Driver<M> {
    /// A driver at time `now`.
    pub fn new(machine: M, now: Time) -> Self {
        Self { machine, now, log: Vec::new() }
    }

    /// Feed one input at the current time; returns the effects.
    pub fn feed(&mut self, input: &Input) -> Vec<Effect> {
        let effects = self.machine.handle(self.now, input);
        self.log.extend(effects.iter().map(|e| (self.now, e.clone())));
        effects
    }

    /// Feed an observation.
    pub fn observe(&mut self, obs: &Observation) -> Vec<Effect> {
        self.feed(&Input::Observed(Box::new(obs.clone())))
    }

    /// Report an effect's result.
    pub fn done(&mut self, effect: &Effect, outcome: EffectOutcome) -> Vec<Effect> {
        self.feed(&Input::EffectDone { key: effect.key(), outcome })
    }

    /// Advance the clock by `by`, ticking if a timer is due.
    pub fn advance(&mut self, by: Duration) -> Vec<Effect> {
        self.now = self.now.plus(by);
        self.tick_if_due()
    }

    /// Tick if a timer is due.
    pub fn tick_if_due(&mut self) -> Vec<Effect> {
        match self.machine.poll_timeout() {
            Some(at) if at <= self.now => self.feed(&Input::Tick),
            _ => Vec::new(),
        }
    }

    /// Apply `effects` to `world` and report each result; effects emitted in reaction are applied
    /// too.
    pub fn execute(&mut self, world: &mut World, effects: Vec<Effect>) {
        let mut queue = effects;
        while !queue.is_empty() {
            let mut next = Vec::new();
            for effect in queue {
                let outcome = world.apply(&effect);
                next.extend(self.done(&effect, outcome));
            }
            queue = next;
        }
    }

    /// One cycle: advance `by`, tick if due, observe `world`, execute the effects.
    pub fn cycle(&mut self, world: &mut World, by: Duration) {
        let effects = self.advance(by);
        self.execute(world, effects);
        let effects = self.observe(&world.observe());
        self.execute(world, effects);
    }

    /// Drive the machine against `world` through the core's `RunLoop` (the rules `ananke` runs),
    /// observing every `by`, until the machine is terminal or `max` observations were made;
    /// returns the observations made.
    pub fn run(&mut self, world: &mut World, by: Duration, max: usize) -> usize {
        let mut log = Log(Vec::new());
        let mut now = self.now;
        let mut observations = 0;
        let mut lp = RunLoop::new(&mut self.machine, now, by);
        loop {
            match lp.poll(now, &mut log) {
                Next::Done => break,
                Next::Observe if observations == max => break,
                Next::Observe => {
                    observations += 1;
                    lp.observed(now, world.observe(), &mut log);
                }
                Next::Execute(effects) => {
                    let outcomes = effects.iter().map(|e| world.apply(e)).collect();
                    lp.executed(now, outcomes, &mut log);
                }
                Next::Wait { until, .. } => now = until,
            }
        }
        self.now = now;
        self.log.extend(log.0);
        observations
    }

    /// As [`run`](Self::run), but the effects `hold` selects are not executed: they are returned,
    /// in the order emitted, for the test to answer itself.
    pub fn run_holding(
        &mut self,
        world: &mut World,
        by: Duration,
        max: usize,
        hold: impl Fn(&Effect) -> bool,
    ) -> Vec<Effect> {
        let mut kept = Vec::new();
        for _ in 0..max {
            if self.machine.is_terminal() {
                break;
            }
            let mut queue = self.advance(by);
            queue.extend(self.observe(&world.observe()));
            while !queue.is_empty() {
                let mut next = Vec::new();
                for effect in queue {
                    if hold(&effect) {
                        kept.push(effect);
                    } else {
                        let outcome = world.apply(&effect);
                        next.extend(self.done(&effect, outcome));
                    }
                }
                queue = next;
            }
        }
        kept
    }

    /// Every emitted effect.
    pub fn effects(&self) -> impl Iterator<Item = &Effect> {
        self.log.iter().map(|(_, e)| e)
    }
}

/// Every effect a step emitted, with its time.
struct Log(Vec<(Time, Effect)>);

impl StepSink for Log {
    fn record(&mut self, step: &ananke_core::runner::Step<'_>) {
        self.0.extend(step.effects.iter().map(|e| (step.time, e.clone())));
    }
}

/// `n` seconds.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
