//! Whole runs and crash safety: a shutdown then a startup restore the lab exactly, operator-set
//! state survives both, and a machine rebuilt from the journal persisted at any step finishes the
//! run as if nothing had happened.

use super::lab;
use super::shutdown::shutdown;
use super::startup::startup;
use super::world::{secs, Driver, World};
use ananke_core::config::ShutdownMode;
use ananke_core::effect::Effect;
use ananke_core::journal::Journal;
use ananke_core::machine::{
    Machine, ShutdownMachine, ShutdownOptions, ShutdownState, StartupMachine, StartupOptions, StartupState,
};
use ananke_core::observation::{FluxKind, FluxRef};
use std::sync::Arc;

fn operator_held() -> FluxRef {
    lab::fx(FluxKind::Kustomization, "flux-system", "operator-held")
}

/// The running lab with operator-set state: a suspended Kustomization, a cordoned node, a
/// Deployment at 0.
fn lab_with_operator_state() -> World {
    let mut world = World::running();
    let mut held = lab::flux_object(operator_held(), Some(&lab::k_root()), &[]);
    held.suspend = true;
    world.state.flux.as_mut().unwrap().kustomizations.push(held);
    lab::node_mut(&mut world.state, "titan-03").kube.as_mut().unwrap().unschedulable = true;
    lab::set_replicas(lab::workload_mut(&mut world.state, &lab::grafana()), 0);
    world
}

fn run_shutdown(world: &mut World, journal: Journal) -> Driver<ShutdownMachine> {
    let mut d = shutdown(Arc::new(lab::config()), journal, ShutdownMode::ClusterOnly);
    d.run(world, secs(1), 200);
    assert_eq!(d.machine.state(), ShutdownState::Off, "{:?}", d.machine.failure());
    d
}

fn run_startup(world: &mut World, journal: Journal) -> Driver<StartupMachine> {
    let mut d = startup(Arc::new(lab::config()), journal, StartupOptions::default());
    d.run(world, secs(5), 400);
    assert_eq!(d.machine.state(), StartupState::Ready, "{:?}", d.machine.failure());
    d
}

/// What a startup may change: replicas, suspends, cordons.
type Restorable = (Vec<(String, Option<i32>)>, Vec<(String, bool)>, Vec<(String, bool)>);

/// The lab's [`Restorable`] state.
fn restorable(world: &World) -> Restorable {
    let s = &world.state;
    let replicas = s.workloads.iter().map(|w| (w.id.to_string(), w.spec_replicas)).collect();
    let flux = s.flux.as_ref().unwrap();
    let suspends =
        flux.kustomizations.iter().chain(&flux.helm_releases).map(|o| (o.id.to_string(), o.suspend)).collect();
    let cordons = s.nodes.iter().map(|n| (n.name.clone(), n.kube.as_ref().unwrap().unschedulable)).collect();
    (replicas, suspends, cordons)
}

#[test]
fn a_shutdown_then_a_startup_restore_the_lab_and_keep_what_the_operator_set() {
    let mut world = lab_with_operator_state();
    let before = restorable(&world);
    let down = run_shutdown(&mut world, Journal::default());
    let journal = down.machine.journal().clone();
    let changes = &journal.changes;
    assert!(journal.shutdown_completed);
    assert_eq!(changes.suspended, [lab::k_root(), lab::k_infra(), lab::k_apps(), lab::hr_vault()]);
    assert_eq!(changes.already_suspended.iter().collect::<Vec<_>>(), [&operator_held()]);
    assert_eq!(changes.already_cordoned.iter().collect::<Vec<_>>(), ["titan-03"]);
    assert_eq!(changes.cordoned.len(), 4);
    assert_eq!(changes.already_scaled_to_zero.iter().collect::<Vec<_>>(), [&lab::grafana()]);
    assert_eq!(changes.scaled.len(), 3, "web, db, gitea; not kube-system, not DaemonSets");

    world.power_cut();
    let mut up = startup(Arc::new(lab::config()), journal, StartupOptions::default());
    let mut states = vec![up.machine.state()];
    for _ in 0..400 {
        if up.machine.is_terminal() {
            break;
        }
        up.cycle(&mut world, secs(5));
        if states.last() != Some(&up.machine.state()) {
            states.push(up.machine.state());
        }
    }
    assert_eq!(
        states,
        [
            StartupState::Off,
            StartupState::NodesUp,
            StartupState::FluxDeadlocked,
            StartupState::Converging,
            StartupState::Soaking,
            StartupState::Ready
        ]
    );
    assert_eq!(restorable(&world), before, "exactly as before the shutdown");
    let changes = &up.machine.journal().changes;
    assert!(changes.is_empty() && changes.stopped.is_empty());
    assert!(changes.already_suspended.contains(&operator_held()));
    assert!(!up.effects().any(|e| matches!(e,
        Effect::Uncordon { node } if node == "titan-03")));
    assert!(!up.effects().any(|e| *e == Effect::ResumeFlux { object: operator_held() }));
    assert!(!up.effects().any(|e| matches!(e, Effect::Scale { workload, .. } if *workload == lab::grafana())));
}

#[test]
fn a_shutdown_rebuilt_from_the_journal_of_any_step_ends_with_the_same_journal() {
    let mut world = lab_with_operator_state();
    let reference = run_shutdown(&mut world, Journal::default()).machine.journal().clone();
    let steps = {
        let mut world = lab_with_operator_state();
        let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
        d.run(&mut world, secs(1), 200)
    };
    for crash_at in 1..steps {
        for effects_lost in [false, true] {
            let mut world = lab_with_operator_state();
            let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
            d.run(&mut world, secs(1), crash_at - 1);
            let tick = d.advance(secs(1));
            d.execute(&mut world, tick);
            let effects = d.observe(&world.observe());
            if !effects_lost {
                d.execute(&mut world, effects);
            }
            let persisted = d.machine.journal().clone();
            let options = ShutdownOptions { reason: "restarted".to_owned(), mode: ShutdownMode::ClusterOnly };
            let rebuilt = ShutdownMachine::new(Arc::new(lab::config()), persisted, options, d.now);
            let mut d = Driver::new(rebuilt, d.now);
            d.run(&mut world, secs(1), 200);
            assert_eq!(d.machine.state(), ShutdownState::Off, "crash at {crash_at}");
            let journal = d.machine.journal();
            assert_eq!(journal.changes, reference.changes, "crash at step {crash_at}, effects lost: {effects_lost}");
            assert_eq!(journal.shutdown_reason.as_deref(), Some("graceful-maintenance"), "resumed, not restarted");
        }
    }
}

#[test]
fn a_startup_rebuilt_from_the_journal_of_any_step_restores_the_same_lab() {
    let mut world = lab_with_operator_state();
    let journal = run_shutdown(&mut world, Journal::default()).machine.journal().clone();
    world.power_cut();
    let down = world.clone();
    let expected = {
        let mut world = down.clone();
        run_startup(&mut world, journal.clone());
        restorable(&world)
    };
    for crash_at in (1..80).step_by(3) {
        let mut world = down.clone();
        let mut d = startup(Arc::new(lab::config()), journal.clone(), StartupOptions::default());
        d.run(&mut world, secs(5), crash_at);
        let persisted = d.machine.journal().clone();
        // The operator scales the workloads already restored: the rerun must leave them be.
        let restored: Vec<_> =
            journal.changes.scaled.keys().filter(|w| !persisted.changes.scaled.contains_key(w)).cloned().collect();
        for w in &restored {
            lab::set_replicas(lab::workload_mut(&mut world.state, w), 5);
        }
        let replicas: Vec<_> = expected
            .0
            .iter()
            .map(|(id, n)| (id.clone(), if restored.iter().any(|w| w.to_string() == *id) { Some(5) } else { *n }))
            .collect();
        let rebuilt = StartupMachine::new(Arc::new(lab::config()), persisted.clone(), StartupOptions::default(), d.now);
        let mut d = Driver::new(rebuilt, d.now);
        d.run(&mut world, secs(5), 400);
        assert_eq!(d.machine.state(), StartupState::Ready, "crash at {crash_at}: {:?}", d.machine.failure());
        let (now_replicas, suspends, cordons) = restorable(&world);
        assert_eq!(now_replicas, replicas, "crash at {crash_at}");
        assert_eq!((suspends, cordons), (expected.1.clone(), expected.2.clone()), "crash at {crash_at}");
        assert!(d.machine.journal().changes.is_empty());
        for effect in d.effects() {
            match effect {
                Effect::Scale { workload, replicas } if *replicas > 0 => {
                    assert!(
                        persisted.changes.scaled.contains_key(workload) || *workload == lab::gitea(),
                        "crash at {crash_at}: {effect:?} not journaled"
                    );
                    assert!(!restored.contains(workload), "crash at {crash_at}: {effect:?} redone");
                }
                Effect::ResumeFlux { object } => {
                    assert!(persisted.changes.suspended.contains(object));
                }
                Effect::Uncordon { node } => assert!(persisted.changes.cordoned.contains(node)),
                _ => {}
            }
        }
    }
}
