//! Property tests over random input sequences: random node readiness and SSH flips, Flux suspend
//! flags, replica counts, Vault seals, probe failures, random effect outcomes and time steps.

use super::lab;
use ananke_core::config::{ShutdownMode, WorkloadRef};
use ananke_core::effect::Effect;
use ananke_core::gates::{self, SoakProgress};
use ananke_core::journal::Journal;
use ananke_core::machine::startup::SOAK_API_GRACE;
use ananke_core::machine::{
    EffectOutcome, Input, Machine, ShutdownMachine, ShutdownOptions, StartupMachine, StartupOptions, StartupState,
};
use ananke_core::observation::{ConditionStatus, FluxRef, Observation, PodToEvict, SshStatus, UnitState};
use ananke_core::time::Time;
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// A whole-cluster fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    ApiDown,
    VaultSealed,
    GitServerDown,
    ProbeFails,
    /// The source `GitRepository` tracks another branch.
    BranchDrift,
    /// The source `GitRepository` fetches from another URL.
    UrlDrift,
}

/// What to break in a healthy observation.
#[derive(Debug, Clone)]
struct Chaos {
    faults: Vec<Fault>,
    /// (node index, what): 0 ssh unreachable, 1 unit inactive, 2 not Ready, 3 cordoned.
    nodes: Vec<(usize, u8)>,
    /// Flux objects (index into Kustomizations then `HelmReleases`) observed suspended.
    suspended: Vec<usize>,
    /// (workload index, replicas).
    replicas: Vec<(usize, i32)>,
    pods: Vec<usize>,
}

fn chaos() -> impl Strategy<Value = Chaos> {
    let fault = prop_oneof![
        Just(Fault::ApiDown),
        Just(Fault::VaultSealed),
        Just(Fault::GitServerDown),
        Just(Fault::ProbeFails),
        Just(Fault::BranchDrift),
        Just(Fault::UrlDrift),
    ];
    (
        prop::collection::vec(fault, 0..2),
        prop::collection::vec((0..5usize, 0..4u8), 0..3),
        prop::collection::vec(0..4usize, 0..3),
        prop::collection::vec((0..6usize, 0..4i32), 0..3),
        prop::collection::vec(0..5usize, 0..3),
    )
        .prop_map(|(faults, nodes, suspended, replicas, pods)| Chaos { faults, nodes, suspended, replicas, pods })
}

/// One input of a random run.
#[derive(Debug, Clone)]
enum Step {
    /// A healthy observation (`None`) or a broken one.
    Observe(Option<Chaos>),
    /// The result of an in-flight effect (picked by index): 0-5 ok, 6 transient failure, 7
    /// permanent failure, 8 PDB block.
    Done(usize, u8),
    /// A tick.
    Tick,
}

fn steps() -> impl Strategy<Value = Vec<(u64, Step)>> {
    let step = prop_oneof![
        5 => prop::option::weighted(0.3, chaos()).prop_map(Step::Observe),
        3 => (any::<usize>(), 0..9u8).prop_map(|(i, o)| Step::Done(i, o)),
        1 => Just(Step::Tick),
    ];
    prop::collection::vec((0..90u64, step), 1..120)
}

fn journal() -> impl Strategy<Value = Journal> {
    let nodes = prop::collection::btree_set(
        prop::sample::select(lab::SERVERS.iter().chain(&lab::AGENTS).map(|n| (*n).to_owned()).collect::<Vec<_>>()),
        0..3,
    );
    let flux = prop::collection::vec(0..4usize, 0..4);
    let workloads = prop::collection::vec((0..4usize, prop::bool::weighted(0.8)), 0..4);
    (nodes.clone(), nodes, flux, prop::option::of(0..4usize), workloads).prop_map(
        |(cordoned, already, flux, held, scaled)| {
            let mut journal = Journal::default();
            journal.changes.cordoned = cordoned;
            journal.changes.already_cordoned = already.difference(&journal.changes.cordoned).cloned().collect();
            let objects = flux_objects();
            for i in flux {
                if !journal.changes.suspended.contains(&objects[i]) {
                    journal.changes.suspended.push(objects[i].clone());
                }
            }
            if let Some(i) = held.filter(|i| !journal.changes.suspended.contains(&objects[*i])) {
                journal.changes.already_suspended.insert(objects[i].clone());
            }
            let healthy = lab::healthy();
            for (i, right) in scaled {
                let w = &healthy.workloads[i];
                journal.changes.scaled.insert(w.id.clone(), if right { w.spec_replicas.unwrap() } else { 7 });
            }
            journal
        },
    )
}

fn flux_objects() -> Vec<FluxRef> {
    vec![lab::k_root(), lab::k_infra(), lab::k_apps(), lab::hr_vault()]
}

/// A healthy observation broken by `chaos`.
fn observation(chaos: Option<&Chaos>) -> Observation {
    let mut obs = lab::healthy();
    let Some(chaos) = chaos else { return obs };
    let names: Vec<&str> = lab::SERVERS.iter().chain(&lab::AGENTS).copied().collect();
    for (i, what) in &chaos.nodes {
        let node = lab::node_mut(&mut obs, names[*i]);
        match what {
            0 => node.ssh = SshStatus::Unreachable("timeout".to_owned()),
            1 => node.k3s_unit = UnitState::Inactive,
            2 => node.kube.as_mut().unwrap().ready = ConditionStatus::False,
            _ => node.kube.as_mut().unwrap().unschedulable = true,
        }
    }
    for i in &chaos.suspended {
        lab::flux_mut(&mut obs, &flux_objects()[*i]).suspend = true;
    }
    for (i, n) in &chaos.replicas {
        lab::set_replicas(&mut obs.workloads[*i], *n);
    }
    for i in &chaos.pods {
        obs.pods_to_evict.push(PodToEvict {
            pod: lab::obj("apps", "p"),
            node: names[*i].to_owned(),
            blocked_by_pdb: None,
        });
    }
    obs.vault[0].sealed = chaos.faults.contains(&Fault::VaultSealed);
    if chaos.faults.contains(&Fault::GitServerDown) {
        obs.git_server = None;
    }
    if chaos.faults.contains(&Fault::ProbeFails) {
        obs.probes.get_mut("api").unwrap().ok = false;
    }
    let source = ananke_core::observation::FluxRef {
        kind: ananke_core::observation::FluxKind::GitRepository,
        object: lab::obj("flux-system", "flux-system"),
    };
    if chaos.faults.contains(&Fault::BranchDrift) {
        lab::flux_mut(&mut obs, &source).branch = Some("drill".to_owned());
    }
    if chaos.faults.contains(&Fault::UrlDrift) {
        lab::flux_mut(&mut obs, &source).url = Some("ssh://git@mirror.invalid/titan.git".to_owned());
    }
    if chaos.faults.contains(&Fault::ApiDown) {
        obs.api.reachable = false;
        obs.flux = None;
        obs.workloads.clear();
        for node in &mut obs.nodes {
            node.kube = None;
        }
    }
    obs
}

fn outcome(code: u8) -> EffectOutcome {
    match code {
        0..=5 => EffectOutcome::Ok,
        6 => EffectOutcome::Failed { transient: true, message: "timeout".to_owned() },
        7 => EffectOutcome::Failed { transient: false, message: "forbidden".to_owned() },
        _ => EffectOutcome::BlockedByPdb { pdb: "apps/pdb".to_owned() },
    }
}

/// What a run did: every effect with its time, and the state after each input.
#[derive(Debug, PartialEq)]
struct Trace {
    effects: Vec<(Time, Effect)>,
    states: Vec<&'static str>,
    journal: Journal,
}

/// Feed `steps` to `machine`; `check` sees the machine, the input and its time after each step.
fn drive<M: Machine>(
    mut machine: M,
    steps: &[(u64, Step)],
    mut check: impl FnMut(&M, &Input, Time, &str, &[Effect]),
) -> Trace {
    let mut now = Time::ZERO;
    let mut in_flight: Vec<Effect> = Vec::new();
    let mut trace = Trace { effects: Vec::new(), states: Vec::new(), journal: Journal::default() };
    for (dt, step) in steps {
        now = now.plus(Duration::from_secs(*dt));
        let input = match step {
            Step::Observe(chaos) => Input::Observed(Box::new(observation(chaos.as_ref()))),
            Step::Done(i, code) if !in_flight.is_empty() => {
                let effect = in_flight.remove(i % in_flight.len());
                Input::EffectDone { key: effect.key(), outcome: outcome(*code) }
            }
            Step::Done(..) | Step::Tick => Input::Tick,
        };
        let before = machine.state_name();
        let effects = machine.handle(now, &input);
        check(&machine, &input, now, before, &effects);
        in_flight.extend(effects.iter().cloned());
        trace.effects.extend(effects.into_iter().map(|e| (now, e)));
        trace.states.push(machine.state_name());
    }
    trace.journal = machine.journal().clone();
    trace
}

fn startup(journal: &Journal) -> StartupMachine {
    StartupMachine::new(Arc::new(lab::config()), journal.clone(), StartupOptions::default(), Time::ZERO)
}

fn shutdown(journal: &Journal, mode: ShutdownMode) -> ShutdownMachine {
    let options = ShutdownOptions { reason: "test".to_owned(), mode };
    ShutdownMachine::new(Arc::new(lab::config()), journal.clone(), options, Time::ZERO)
}

/// Whether `effect` restores something: only what the journal says ananke changed may be.
fn restores_only_journaled(effect: &Effect, journal: &Journal, gitea: &WorkloadRef) -> bool {
    let changes = &journal.changes;
    match effect {
        Effect::Uncordon { node } => changes.cordoned.contains(node),
        Effect::ResumeFlux { object } => {
            changes.suspended.contains(object) && !changes.already_suspended.contains(object)
        }
        Effect::Scale { workload, replicas } if *replicas > 0 => match changes.scaled.get(workload) {
            Some(n) => n == replicas,
            None => workload == gitea && *replicas == 1,
        },
        _ => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn startup_is_ready_only_after_a_full_clean_soak_and_restores_only_the_journal(journal in journal(), steps in steps()) {
        let config = lab::config();
        let mut observations: Vec<(Time, Observation)> = Vec::new();
        let mut soak_from = 0;
        let mut ready = 0;
        let trace = drive(startup(&journal), &steps, |m: &StartupMachine, input, now, before, _| {
            if let Input::Observed(obs) = input {
                observations.push((now, (**obs).clone()));
            }
            if m.state() == StartupState::Soaking && before != "soaking" {
                soak_from = observations.len() - 1;
                assert_eq!(m.soak_started_at(), Some(now));
            }
            if m.state() == StartupState::Ready && before != "ready" {
                ready += 1;
                assert_eq!(before, "soaking", "Ready only from Soaking");
                assert!(m.gates().unwrap().all_pass(), "the last report passes every gate");
                let start = m.soak_started_at().unwrap();
                assert!(now.since(start) >= config.soak.duration.get(), "the soak ran its full duration");
                let mut api_down_since = None;
                for (at, obs) in &observations[soak_from..] {
                    if !obs.api.reachable {
                        let since = *api_down_since.get_or_insert(*at);
                        assert!(at.since(since) < SOAK_API_GRACE, "an API outage during the soak (at {at})");
                        continue;
                    }
                    api_down_since = None;
                    let report = gates::evaluate(&config, obs, &SoakProgress::default());
                    assert!(report.all_pass_before_soak(), "no regression during the soak (observation at {at})");
                    assert!(obs.vault.iter().all(|v| !v.sealed));
                }
            }
        });
        for (_, effect) in &trace.effects {
            prop_assert!(restores_only_journaled(effect, &journal, &lab::gitea()), "{effect:?} not journaled");
            prop_assert!(!matches!(effect, Effect::PowerOffHost { .. }), "{:?}", effect);
        }
        prop_assert!(ready <= 1);
        let again = drive(startup(&journal), &steps, |_, _, _, _, _| {});
        prop_assert_eq!(trace, again, "same inputs, same effects");
    }

    #[test]
    fn nothing_is_resumed_while_the_source_drifts_and_a_drift_seen_with_the_nodes_up_fails_at_once(journal in journal(), steps in steps()) {
        let config = lab::config();
        let drifted = |obs: &Observation| !gates::flux_drift::check(&config, obs).passed();
        let mut last_drifted = false;
        let mut resumed_while_drifted = Vec::new();
        let mut not_failed = Vec::new();
        drive(startup(&journal), &steps, |m: &StartupMachine, input, now, before, effects| {
            if let Input::Observed(obs) = input {
                last_drifted = drifted(obs);
                // Past `Off`, a drift the run cannot fix (no --force-flux-branch) fails it at once.
                let past_off = !matches!(before, "off" | "failed" | "ready");
                if last_drifted && obs.flux.is_some() && past_off && m.state() != StartupState::Failed {
                    not_failed.push((now, m.state_name()));
                }
            }
            if last_drifted {
                resumed_while_drifted.extend(effects.iter().filter(|e| matches!(e, Effect::ResumeFlux { .. })).cloned());
            }
        });
        prop_assert!(resumed_while_drifted.is_empty(), "resumed while drifted: {:?}", resumed_while_drifted);
        prop_assert!(not_failed.is_empty(), "a drift seen with the cluster up did not fail the run: {:?}", not_failed);
    }

    #[test]
    fn cluster_only_shutdown_never_powers_a_host_off_and_keeps_a_consistent_journal(journal in journal(), steps in steps()) {
        let trace = drive(shutdown(&journal, ShutdownMode::ClusterOnly), &steps, |m: &ShutdownMachine, _, _, _, _| {
            let changes = &m.journal().changes;
            assert!(changes.scaled.values().all(|n| *n != 0), "an original count is never 0");
            assert!(changes.cordoned.is_disjoint(&changes.already_cordoned));
            assert!(changes.suspended.iter().all(|f| !changes.already_suspended.contains(f)));
            assert!(changes.scaled.keys().all(|w| !changes.already_scaled_to_zero.contains(w)));
        });
        for (_, effect) in &trace.effects {
            prop_assert!(!matches!(effect, Effect::PowerOffHost { .. }), "{effect:?} in cluster-only");
            prop_assert!(!matches!(effect, Effect::Uncordon { .. } | Effect::ResumeFlux { .. }), "{:?}", effect);
            prop_assert!(!matches!(effect, Effect::Scale { replicas, .. } if *replicas > 0), "{:?}", effect);
        }
        let again = drive(shutdown(&journal, ShutdownMode::ClusterOnly), &steps, |_, _, _, _, _| {});
        prop_assert_eq!(trace, again, "same inputs, same effects");
    }
}
