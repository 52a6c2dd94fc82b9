//! The readiness rules, table-driven: kstatus over workloads, the flux CLI rule over Flux objects.

use ananke_core::config::{WorkloadKind, WorkloadRef};
use ananke_core::gates::health::{flux_ready, workload_health, Health};
use ananke_core::observation::{ConditionStatus, FluxKind, FluxObject, Workload, WorkloadStatus};
use ananke_core::synth::{condition, healthy_workload, object_ref, ready_flux_object};

use ConditionStatus::{False, True, Unknown};
use WorkloadKind::{DaemonSet, Deployment, StatefulSet};

/// What a case expects: the verdict's kind and a fragment of its message.
#[derive(Debug)]
enum Want {
    Current,
    InProgress(&'static str),
    Failed(&'static str),
    Terminating,
}

fn matches(got: &Health, want: &Want) -> bool {
    match (got, want) {
        (Health::Current, Want::Current) | (Health::Terminating, Want::Terminating) => true,
        (Health::InProgress(m), Want::InProgress(f)) | (Health::Failed(m), Want::Failed(f)) => m.contains(f),
        _ => false,
    }
}

fn workload(kind: WorkloadKind, replicas: i32) -> Workload {
    healthy_workload(WorkloadRef { kind, namespace: "apps".to_owned(), name: "web".to_owned() }, replicas)
}

type Case = (&'static str, WorkloadKind, fn(&mut Workload), Want);

const WORKLOAD_CASES: &[Case] = &[
    ("deployment available", Deployment, |_| {}, Want::Current),
    (
        "deployment scaled to 0",
        Deployment,
        |w| {
            w.spec_replicas = Some(0);
            w.status = WorkloadStatus::default();
        },
        Want::Current,
    ),
    (
        "deployment absent spec.replicas reads as 1",
        Deployment,
        |w| {
            w.spec_replicas = None;
            w.status.replicas = 0;
        },
        Want::InProgress("0/1 replicas created"),
    ),
    ("deployment too few replicas", Deployment, |w| w.status.replicas = 1, Want::InProgress("1/3 replicas created")),
    ("deployment not all updated", Deployment, |w| w.status.updated = 2, Want::InProgress("2/3 replicas updated")),
    ("deployment old replicas terminating", Deployment, |w| w.status.replicas = 4, Want::InProgress("1 old replicas")),
    (
        "deployment updated not available",
        Deployment,
        |w| w.status.available = 2,
        Want::InProgress("2/3 updated replicas available"),
    ),
    ("deployment not ready", Deployment, |w| w.status.ready = 1, Want::InProgress("1/3 replicas ready")),
    (
        "deployment progressing",
        Deployment,
        |w| {
            w.conditions[1] = condition("Progressing", True, "ReplicaSetUpdated", "");
        },
        Want::InProgress("new ReplicaSet not available"),
    ),
    (
        "deployment without progress deadline needs no Progressing",
        Deployment,
        |w| {
            w.has_progress_deadline = false;
            w.conditions.retain(|c| c.type_ != "Progressing");
        },
        Want::Current,
    ),
    (
        "deployment not Available",
        Deployment,
        |w| {
            w.conditions[0] = condition("Available", False, "MinimumReplicasUnavailable", "");
        },
        Want::InProgress("Deployment not Available"),
    ),
    (
        "deployment progress deadline exceeded",
        Deployment,
        |w| {
            w.status.ready = 0;
            w.conditions[1] = condition("Progressing", False, "ProgressDeadlineExceeded", "timed out");
        },
        Want::Failed("progress deadline exceeded"),
    ),
    ("statefulset rolled out", StatefulSet, |_| {}, Want::Current),
    (
        "statefulset revisions differ",
        StatefulSet,
        |w| w.status.revisions_match = false,
        Want::InProgress("update revision"),
    ),
    (
        "statefulset not all current",
        StatefulSet,
        |w| w.status.current = 2,
        Want::InProgress("2/3 replicas at the current revision"),
    ),
    ("statefulset not ready", StatefulSet, |w| w.status.ready = 0, Want::InProgress("0/3 replicas ready")),
    ("statefulset extra replicas", StatefulSet, |w| w.status.replicas = 5, Want::InProgress("2 extra replicas")),
    (
        "statefulset OnDelete is user-managed",
        StatefulSet,
        |w| {
            w.on_delete = true;
            w.status.revisions_match = false;
            w.status.ready = 0;
        },
        Want::Current,
    ),
    ("daemonset scheduled everywhere", DaemonSet, |_| {}, Want::Current),
    (
        "daemonset missing desired",
        DaemonSet,
        |w| w.status.desired = None,
        Want::InProgress("desiredNumberScheduled is absent"),
    ),
    ("daemonset not scheduled", DaemonSet, |w| w.status.current = 1, Want::InProgress("1/3 pods scheduled")),
    ("daemonset not updated", DaemonSet, |w| w.status.updated = 1, Want::InProgress("1/3 pods updated")),
    ("daemonset not available", DaemonSet, |w| w.status.available = 1, Want::InProgress("1/3 pods available")),
    ("daemonset not ready", DaemonSet, |w| w.status.ready = 2, Want::InProgress("2/3 pods ready")),
    (
        "daemonset without generation",
        DaemonSet,
        |w| {
            w.generation = 0;
            w.observed_generation = Some(0);
        },
        Want::InProgress("metadata.generation"),
    ),
    (
        "generation not observed",
        Deployment,
        |w| w.observed_generation = Some(2),
        Want::InProgress("generation 3 not observed yet (observed 2)"),
    ),
    (
        "no observed generation (kstatus blind spot)",
        StatefulSet,
        |w| w.observed_generation = None,
        Want::InProgress("status.observedGeneration is absent"),
    ),
    (
        "no status at all (kstatus blind spot)",
        DaemonSet,
        |w| {
            w.has_status = false;
            w.status = WorkloadStatus::default();
        },
        Want::InProgress("no status yet"),
    ),
    (
        "terminating beats everything",
        Deployment,
        |w| {
            w.terminating = true;
            w.has_status = false;
        },
        Want::Terminating,
    ),
    (
        "Reconciling=True",
        Deployment,
        |w| {
            w.conditions.push(condition("Reconciling", True, "Progressing", ""));
        },
        Want::InProgress("Reconciling=True"),
    ),
    (
        "Stalled=True",
        StatefulSet,
        |w| {
            w.conditions.push(condition("Stalled", True, "Broken", "no quota"));
        },
        Want::Failed("Stalled=True (Broken): no quota"),
    ),
];

#[test]
fn workload_health_follows_kstatus_without_its_blind_spot() {
    for (name, kind, mutate, want) in WORKLOAD_CASES {
        let mut w = workload(*kind, 3);
        mutate(&mut w);
        let got = workload_health(&w);
        assert!(matches(&got, want), "{name}: got {got:?}, want {want:?}");
        assert_eq!(got.is_current(), matches!(want, Want::Current), "{name}");
    }
}

#[test]
fn health_reads_as_a_sentence() {
    assert_eq!(Health::InProgress("1/3 replicas ready".to_owned()).to_string(), "in progress: 1/3 replicas ready");
    assert_eq!(Health::Failed("x".to_owned()).to_string(), "failed: x");
    assert_eq!(Health::Terminating.to_string(), "terminating");
    assert_eq!(Health::Current.to_string(), "current");
}

type FluxCase = (&'static str, fn(&mut FluxObject), Result<(), &'static str>);

const FLUX_CASES: &[FluxCase] = &[
    ("ready", |_| {}, Ok(())),
    ("never reconciled", |o| o.observed_generation = None, Err("not reconciled yet: status.observedGeneration is absent")),
    ("observed generation 0", |o| o.observed_generation = Some(0), Err("not reconciled yet")),
    ("no Ready condition", |o| o.conditions.clear(), Err("no Ready condition yet")),
    ("Ready=False", |o| {
        o.conditions[0] = condition("Ready", False, "DependencyNotReady", "dependency 'flux-system/infra' is not ready");
    }, Err("Ready=False (DependencyNotReady): dependency 'flux-system/infra' is not ready")),
    ("Ready=Unknown without message", |o| o.conditions[0] = condition("Ready", Unknown, "", ""), Err("Ready=Unknown")),
    ("Reconciling=True", |o| {
        o.conditions[0] = condition("Ready", Unknown, "Progressing", "Reconciliation in progress");
        o.conditions.push(condition("Reconciling", True, "Progressing", "Reconciliation in progress"));
    }, Err("Reconciling=True (Progressing): Reconciliation in progress; Ready=Unknown (Progressing): Reconciliation in progress")),
    ("Stalled=True", |o| {
        o.conditions[0] = condition("Ready", False, "BuildFailed", "kustomize build failed");
        o.conditions.push(condition("Stalled", True, "BuildFailed", "kustomize build failed"));
    }, Err("Stalled=True (BuildFailed): kustomize build failed; Ready=False (BuildFailed)")),
    ("Ready condition for an older generation", |o| {
        o.generation = 4;
        o.observed_generation = Some(4);
    }, Err("Ready condition is for generation 3, the object is at generation 4")),
    ("no per-condition generation (HelmRelease), status current", |o| o.conditions[0].observed_generation = 0, Ok(())),
    ("no per-condition generation, status behind", |o| {
        o.conditions[0].observed_generation = 0;
        o.generation = 4;
    }, Err("generation 4 not observed yet (observed 3)")),
    ("condition current but status behind (kstatus generic rule)", |o| {
        o.generation = 4;
        o.conditions[0].observed_generation = 4;
    }, Err("generation 4 not observed yet")),
];

#[test]
fn flux_ready_follows_the_flux_cli() {
    for (name, mutate, want) in FLUX_CASES {
        let mut o = ready_flux_object(FluxKind::Kustomization, object_ref("flux-system", "apps"));
        mutate(&mut o);
        match (flux_ready(&o), want) {
            (Ok(()), Ok(())) => {}
            (Err(got), Err(fragment)) => assert!(got.contains(fragment), "{name}: got {got:?}, want {fragment:?}"),
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}
