//! Gate 5: workload convergence.

use crate::fixtures::{break_gate, evaluate, lab, soak_done, workload};
use ananke_core::config::{WorkloadKind, WorkloadRef};
use ananke_core::gates::{workloads, GateId, Verdict};
use ananke_core::observation::{ConditionStatus, WorkloadStatus};
use ananke_core::synth::{condition, healthy_workload};

#[test]
fn workloads_pass_when_every_one_is_current() {
    let (config, mut obs) = lab();
    let id = |kind, name: &str| WorkloadRef { kind, namespace: "vault".to_owned(), name: name.to_owned() };
    obs.workloads.push(healthy_workload(id(WorkloadKind::StatefulSet, "vault"), 3));
    obs.workloads.push(healthy_workload(id(WorkloadKind::DaemonSet, "vault-agent"), 3));
    let mut scaled_down = healthy_workload(id(WorkloadKind::Deployment, "idle"), 0);
    scaled_down.status = WorkloadStatus::default();
    obs.workloads.push(scaled_down);
    assert!(workloads::check(&config, &obs).passed(), "{:?}", workloads::check(&config, &obs).reasons);
}

#[test]
fn workloads_fail_naming_each_workload_and_why() {
    let (config, mut obs) = lab();
    workload(&mut obs, "ks-00001").status.ready = 0;
    let stuck = workload(&mut obs, "ks-00002");
    stuck.conditions[1] = condition(
        "Progressing",
        ConditionStatus::False,
        "ProgressDeadlineExceeded",
        "ReplicaSet \"ks-00002-5d8f\" has timed out progressing.",
    );
    let outcome = workloads::check(&config, &obs);
    assert_eq!(outcome.verdict, Verdict::Fail);
    assert_eq!(
        outcome.reasons,
        [
            "Deployment ks-00001/ks-00001: in progress: 0/1 replicas ready",
            "Deployment ks-00002/ks-00002: failed: progress deadline exceeded: Progressing=False (ProgressDeadlineExceeded): ReplicaSet \"ks-00002-5d8f\" has timed out progressing.",
        ]
    );
}

#[test]
fn a_workload_its_controller_has_not_seen_is_not_healthy() {
    let (config, mut obs) = lab();
    let fresh = workload(&mut obs, "ks-00001");
    fresh.has_status = false;
    fresh.observed_generation = None;
    let outcome = workloads::check(&config, &obs);
    assert_eq!(
        outcome.reasons,
        ["Deployment ks-00001/ks-00001: in progress: no status yet: its controller has not acted on it"]
    );
}

#[test]
fn workloads_are_blocked_by_the_kustomizations() {
    let (mut config, mut obs) = lab();
    let mut soak = soak_done();
    break_gate(GateId::FluxKustomizations, &mut config, &mut obs, &mut soak);
    workload(&mut obs, "ks-00001").terminating = true;
    let report = evaluate(&config, &obs);
    assert_eq!(report.get(GateId::Workloads).verdict, Verdict::Blocked(GateId::FluxKustomizations));
}
