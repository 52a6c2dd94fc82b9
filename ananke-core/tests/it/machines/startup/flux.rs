//! Startup `FluxDeadlocked`: the out-of-band bring-up of the in-cluster Git server.

use super::past_nodes_up;
use crate::machines::lab;
use crate::machines::world::secs;
use ananke_core::effect::Effect;
use ananke_core::gates::GateId;
use ananke_core::journal::Journal;
use ananke_core::machine::{Machine, StartupState};
use ananke_core::observation::{ConditionStatus, FluxKind, GitServerHealth};
use ananke_core::time::Time;
use std::sync::Arc;

#[test]
fn flux_deadlocked_scales_the_git_server_out_of_band_then_requests_a_reconcile() {
    let mut journal = Journal::default();
    journal.changes.scaled.insert(lab::gitea(), 2);
    journal.changes.scaled.insert(lab::web(), 3);
    let mut obs = lab::healthy();
    lab::set_replicas(lab::workload_mut(&mut obs, &lab::gitea()), 0);
    lab::set_replicas(lab::workload_mut(&mut obs, &lab::web()), 0);
    obs.git_server = Some(GitServerHealth { healthy: false, reason: Some("502".to_owned()) });
    let mut d = past_nodes_up(Arc::new(lab::config()), journal, &obs);
    assert_eq!(d.machine.state(), StartupState::FluxDeadlocked);
    assert_eq!(d.machine.poll_timeout(), Some(Time(1_800_000)), "converge timeout armed");

    let mut effects = d.observe(&obs);
    effects.sort_by_key(Effect::key);
    let mut want = vec![
        Effect::Scale { workload: lab::gitea(), replicas: 2 },
        Effect::Scale { workload: lab::web(), replicas: 3 },
    ];
    want.sort_by_key(Effect::key);
    assert_eq!(effects, want, "the Git server and every other journaled workload: Flux is still suspended");
    lab::set_replicas(lab::workload_mut(&mut obs, &lab::gitea()), 2);
    d.observe(&obs);
    assert!(!d.machine.journal().changes.scaled.contains_key(&lab::gitea()));
    assert_eq!(d.machine.state(), StartupState::FluxDeadlocked);

    d.advance(secs(10));
    obs.git_server = Some(GitServerHealth { healthy: true, reason: None });
    let source = lab::fx(FluxKind::GitRepository, "flux-system", "flux-system");
    lab::flux_mut(&mut obs, &source).conditions[0].status = ConditionStatus::False;
    let effects = d.observe(&obs);
    assert_eq!(d.machine.state(), StartupState::Converging);
    assert_eq!(effects[0], Effect::RequestReconcile { object: source.clone(), token: "ananke-10000".to_owned() });

    // The source is still not Ready when the Flux retry timer fires: request again.
    d.observe(&obs);
    let effects = d.advance(secs(60));
    assert_eq!(effects, [Effect::RequestReconcile { object: source, token: "ananke-70000".to_owned() }]);
}

#[test]
fn a_git_server_at_zero_that_the_journal_does_not_know_is_scaled_to_one() {
    let mut obs = lab::healthy();
    lab::set_replicas(lab::workload_mut(&mut obs, &lab::gitea()), 0);
    obs.git_server = None;
    let mut d = past_nodes_up(Arc::new(lab::config()), Journal::default(), &obs);
    assert_eq!(d.machine.state(), StartupState::FluxDeadlocked);
    assert_eq!(d.observe(&obs), [Effect::Scale { workload: lab::gitea(), replicas: 1 }]);
}

#[test]
fn a_git_server_that_never_gets_healthy_fails_the_drift_guard_at_the_converge_timeout() {
    let mut obs = lab::healthy();
    obs.git_server = Some(GitServerHealth { healthy: false, reason: Some("database check failed".to_owned()) });
    let mut d = past_nodes_up(Arc::new(lab::config()), Journal::default(), &obs);
    d.observe(&obs);
    d.advance(secs(1800));
    assert_eq!(d.machine.state(), StartupState::Failed);
    let failure = d.machine.failure().unwrap();
    assert_eq!(failure.gate, Some(GateId::FluxDrift));
    assert_eq!(
        failure.reason,
        "in-cluster Git server Deployment/gitea/gitea never became healthy: database check failed"
    );
}

#[test]
fn the_workloads_deployed_with_the_git_server_are_brought_up_with_it() {
    let database = lab::wl(ananke_core::config::WorkloadKind::StatefulSet, "gitea", "gitea-postgresql");
    let mut journal = Journal::default();
    journal.changes.scaled = [(lab::gitea(), 1), (database.clone(), 1), (lab::web(), 3)].into_iter().collect();
    let mut obs = lab::healthy();
    obs.workloads.push(lab::workload(database.clone(), 0));
    for w in [lab::gitea(), lab::web()] {
        lab::set_replicas(lab::workload_mut(&mut obs, &w), 0);
    }
    let mut bundle =
        lab::flux_object(lab::fx(FluxKind::Kustomization, "flux-system", "gitea"), Some(&lab::k_root()), &[]);
    bundle.manages = vec![database.clone(), lab::gitea()];
    obs.flux.as_mut().unwrap().kustomizations.push(bundle);
    obs.git_server = Some(GitServerHealth { healthy: false, reason: None });
    let mut d = past_nodes_up(Arc::new(lab::config()), journal, &obs);
    assert_eq!(d.machine.state(), StartupState::FluxDeadlocked);
    let effects = d.observe(&obs);
    for w in [&database, &lab::gitea(), &lab::web()] {
        assert!(
            effects.iter().any(|e| matches!(e, Effect::Scale { workload, .. } if workload == w)),
            "{w} restored with the Git server: {effects:?}"
        );
    }
    lab::set_replicas(lab::workload_mut(&mut obs, &database), 1);
    d.observe(&obs);
    assert!(!d.machine.journal().changes.scaled.contains_key(&database));
}
