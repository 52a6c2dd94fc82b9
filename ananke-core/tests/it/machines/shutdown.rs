//! Shutdown: `Quiescing` by hand (Flux suspend order, tiers), the journal setup, the deadline.

use super::lab;
use super::startup::keys;
use super::world::{secs, Driver};
use ananke_core::config::{Config, ShutdownMode};
use ananke_core::effect::Effect;
use ananke_core::journal::Journal;
use ananke_core::machine::{EffectOutcome, Machine, ShutdownMachine, ShutdownOptions, ShutdownState};
use ananke_core::observation::{FluxKind, Observation};
use ananke_core::time::Time;
use std::sync::Arc;

mod nodes;
mod tiers;

/// A shutdown machine at time 0.
pub fn shutdown(config: Arc<Config>, journal: Journal, mode: ShutdownMode) -> Driver<ShutdownMachine> {
    let options = ShutdownOptions { reason: "graceful-maintenance".to_owned(), mode };
    Driver::new(ShutdownMachine::new(config, journal, options, Time::ZERO), Time::ZERO)
}

/// `obs` with every Kustomization and `HelmRelease` suspended.
pub fn suspend_all(obs: &mut Observation) {
    let flux = obs.flux.as_mut().unwrap();
    for o in flux.kustomizations.iter_mut().chain(flux.helm_releases.iter_mut()) {
        o.suspend = true;
    }
}

#[test]
fn a_new_shutdown_records_its_reason_and_a_resumed_one_keeps_the_first() {
    let options = |reason: &str| ShutdownOptions { reason: reason.to_owned(), mode: ShutdownMode::ClusterOnly };
    let config = Arc::new(lab::config());
    let m = ShutdownMachine::new(Arc::clone(&config), Journal::default(), options("graceful-maintenance"), Time(5000));
    let j = m.journal();
    assert_eq!(
        (j.shutdown_reason.as_deref(), j.shutdown_started_at, j.shutdown_completed),
        (Some("graceful-maintenance"), Some(Time(5000)), false)
    );
    assert_eq!(m.state(), ShutdownState::Quiescing);
    assert_eq!(m.state_name(), "quiescing");
    assert_eq!(m.poll_timeout(), Some(Time(305_000)), "the suspend step is bounded");

    let unfinished = m.journal().clone();
    let m = ShutdownMachine::new(Arc::clone(&config), unfinished, options("ups-low-battery"), Time(9000));
    assert_eq!(m.journal().shutdown_reason.as_deref(), Some("graceful-maintenance"));
    assert_eq!(m.journal().shutdown_started_at, Some(Time(5000)));

    let mut finished = m.journal().clone();
    finished.shutdown_completed = true;
    let m = ShutdownMachine::new(config, finished, options("ups-low-battery"), Time(9000));
    let j = m.journal();
    assert_eq!(
        (j.shutdown_reason.as_deref(), j.shutdown_started_at, j.shutdown_completed),
        (Some("ups-low-battery"), Some(Time(9000)), false)
    );
}

#[test]
fn flux_is_suspended_roots_first_and_children_once_their_parent_is_observed_suspended() {
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    let mut obs = lab::healthy();
    assert_eq!(keys(&d.observe(&obs)), ["suspend-flux:Kustomization/flux-system/flux-system"]);
    assert_eq!(d.machine.journal().changes.suspended, [lab::k_root()], "journaled in the step that emits it");
    assert!(d.observe(&obs).is_empty(), "in flight");

    lab::flux_mut(&mut obs, &lab::k_root()).suspend = true;
    assert_eq!(
        keys(&d.observe(&obs)),
        ["suspend-flux:Kustomization/flux-system/infrastructure", "suspend-flux:Kustomization/flux-system/apps"]
    );
    lab::flux_mut(&mut obs, &lab::k_infra()).suspend = true;
    lab::flux_mut(&mut obs, &lab::k_apps()).suspend = true;
    assert_eq!(keys(&d.observe(&obs)), ["suspend-flux:HelmRelease/vault/vault"]);
    lab::flux_mut(&mut obs, &lab::hr_vault()).suspend = true;
    assert_eq!(keys(&d.observe(&obs)), ["scale:Deployment/apps/web=0"], "scaling starts once every suspend is seen");
    let changes = &d.machine.journal().changes;
    assert_eq!(changes.suspended, [lab::k_root(), lab::k_infra(), lab::k_apps(), lab::hr_vault()]);
    assert!(changes.already_suspended.is_empty());
    assert!(!d
        .effects()
        .any(|e| matches!(e, Effect::SuspendFlux { object } if object.kind == FluxKind::GitRepository)));
}

#[test]
fn an_object_an_operator_suspended_is_journaled_as_such_and_never_touched() {
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    let mut obs = lab::healthy();
    lab::flux_mut(&mut obs, &lab::k_apps()).suspend = true;
    d.observe(&obs);
    lab::flux_mut(&mut obs, &lab::k_root()).suspend = true;
    d.observe(&obs);
    let changes = &d.machine.journal().changes;
    assert!(changes.already_suspended.contains(&lab::k_apps()));
    assert!(!changes.suspended.contains(&lab::k_apps()));
    assert!(!d.effects().any(|e| *e == Effect::SuspendFlux { object: lab::k_apps() }));
}

#[test]
fn a_reverted_suspend_is_noticed_and_suspended_again_at_once() {
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    let mut obs = lab::healthy();
    let root = Effect::SuspendFlux { object: lab::k_root() };
    d.observe(&obs);
    d.done(&root, EffectOutcome::Ok);
    lab::flux_mut(&mut obs, &lab::k_root()).suspend = true;
    d.observe(&obs);
    lab::flux_mut(&mut obs, &lab::k_root()).suspend = false;
    assert_eq!(d.observe(&obs), [root]);
    assert!(d
        .machine
        .diagnostics()
        .iter()
        .any(|x| x.message.contains("suspend of Kustomization/flux-system/flux-system was reverted")));
    assert_eq!(d.machine.journal().changes.suspended.first(), Some(&lab::k_root()), "still ananke's");
}

#[test]
fn flux_that_does_not_confirm_the_suspend_in_time_does_not_hold_the_shutdown() {
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    let obs = lab::healthy();
    d.observe(&obs);
    d.advance(secs(300));
    assert!(d.machine.diagnostics().iter().any(|x| x.message.starts_with("Flux suspend not confirmed in time")));
    let effects = keys(&d.observe(&obs));
    assert!(effects.contains(&"scale:Deployment/apps/web=0".to_owned()), "{effects:?}");
}

#[test]
fn an_api_unreachable_at_the_first_observation_goes_straight_to_stopping_nodes() {
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    let mut obs = lab::all_down();
    for node in &mut obs.nodes {
        node.k3s_unit = ananke_core::observation::UnitState::Active;
    }
    assert!(d.observe(&obs).is_empty());
    assert_eq!(d.machine.state(), ShutdownState::StoppingNodes);
    assert!(d.machine.diagnostics()[0].message.contains("Kubernetes API unreachable at the first observation"));
    assert_eq!(keys(&d.observe(&obs)), ["stop-k3s:titan-04", "stop-k3s:titan-05"]);
}

#[test]
fn the_run_deadline_fails_the_shutdown_naming_what_it_waited_for() {
    let config = Arc::new({
        let mut c = lab::config();
        c.shutdown.deadline = ananke_core::config::HumanDuration::secs(240);
        c
    });
    let mut d = shutdown(config, Journal::default(), ShutdownMode::ClusterOnly);
    d.observe(&lab::healthy());
    d.advance(secs(240));
    assert_eq!(d.machine.state(), ShutdownState::Failed);
    assert!(d.machine.is_terminal());
    let reason = &d.machine.failure().unwrap().reason;
    assert!(
        reason.starts_with(
            "shutdown deadline of 4m exceeded; waiting for: Kustomization/flux-system/flux-system not suspended"
        ),
        "{reason}"
    );
    assert!(d.observe(&lab::healthy()).is_empty());
}

#[test]
fn a_permanent_effect_failure_fails_the_shutdown_and_a_transient_one_is_retried() {
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    let obs = lab::healthy();
    let root = Effect::SuspendFlux { object: lab::k_root() };
    d.observe(&obs);
    d.done(&root, EffectOutcome::Failed { transient: true, message: "429".to_owned() });
    assert!(d.observe(&obs).is_empty());
    d.advance(secs(30));
    assert_eq!(d.observe(&obs), std::slice::from_ref(&root));
    d.done(&root, EffectOutcome::Failed { transient: false, message: "forbidden".to_owned() });
    assert_eq!(d.machine.state(), ShutdownState::Failed);
    assert_eq!(d.machine.failure().unwrap().reason, "suspend Kustomization/flux-system/flux-system failed: forbidden");
}
