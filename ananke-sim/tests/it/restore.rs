//! A full shutdown then startup restores every replica count, suspend flag and cordon exactly,
//! including what an operator had already scaled down, suspended or cordoned.

use ananke_core::config::{WorkloadKind, WorkloadRef};
use ananke_core::observation::{FluxKind, FluxRef};

fn assert_restored(name: &str) -> ananke_sim::run::ScenarioRun {
    let run = super::run_builtin(name, 0);
    let startup = run.startup.as_ref().expect("a cycle runs the startup");
    assert_eq!(startup.outcome.state, "ready", "{name}: {:?}", startup.outcome.failure);
    let diff = run.before.diff(&run.after);
    assert!(diff.is_empty(), "{name}: not restored:\n{}", diff.join("\n"));
    // Field by field, so a missing key is caught as well as a changed value.
    assert_eq!(run.before.replicas, run.after.replicas);
    assert_eq!(run.before.suspended, run.after.suspended);
    assert_eq!(run.before.cordoned, run.after.cordoned);
    assert_eq!(run.before.sources, run.after.sources);
    run
}

#[test]
fn titan_lab_cycle_restores_the_cluster_state() {
    let run = assert_restored("titan-lab");
    let shutdown = run.shutdown.unwrap();
    assert_eq!(shutdown.outcome.state, "off");
    assert!(shutdown.outcome.journal.changes.scaled.len() >= 5, "{:?}", shutdown.outcome.journal.changes.scaled);
}

#[test]
fn what_an_operator_set_before_the_shutdown_survives_the_cycle() {
    let run = assert_restored("operator-state-preserved");
    let sandbox =
        WorkloadRef { kind: WorkloadKind::Deployment, namespace: "sandbox".into(), name: "playground".into() };
    assert_eq!(run.after.replicas[&sandbox], 0);
    assert!(run.after.cordoned["titan-05"]);
    let ks = FluxRef {
        kind: FluxKind::Kustomization,
        object: ananke_core::config::ObjectRef { namespace: "flux-system".into(), name: "sandbox".into() },
    };
    assert!(run.after.suspended[&ks]);
    let journal = &run.shutdown.unwrap().outcome.journal.changes;
    assert!(journal.already_cordoned.contains("titan-05"));
    assert!(journal.already_suspended.contains(&ks));
    assert!(journal.already_scaled_to_zero.contains(&sandbox));
}
