//! Builders of single healthy objects: a Ready node, a Current workload, a Ready Flux object, a
//! published Ingress, a passing probe.

use super::{BRANCH, GENERATION, INGRESS_ADDRESS};
use crate::config::{IngressCheck, ObjectRef, VaultPod, WorkloadKind, WorkloadRef};
use crate::observation::{
    Condition, ConditionStatus, FluxKind, FluxObject, FluxRef, IngressBackend, IngressObservation, KubeNode,
    NodeObservation, ProbeResult, SshStatus, UnitState, UpsStatus, VaultStatus, Workload, WorkloadStatus,
};

/// A condition with `observedGeneration` [`GENERATION`].
#[must_use]
pub fn condition(type_: &str, status: ConditionStatus, reason: &str, message: &str) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status,
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation: GENERATION,
    }
}

/// A node reachable over SSH, its k3s unit active, Ready and schedulable.
#[must_use]
pub fn ready_node(name: &str) -> NodeObservation {
    NodeObservation {
        name: name.to_owned(),
        ssh: SshStatus::Reachable,
        k3s_unit: UnitState::Active,
        kube: Some(KubeNode {
            ready: ConditionStatus::True,
            ready_reason: "KubeletReady".to_owned(),
            unschedulable: false,
            taints: Vec::new(),
            cordoned_by_ananke: false,
        }),
    }
}

/// A Flux object at [`GENERATION`], reconciled, `Ready=True`, not suspended.
#[must_use]
pub fn ready_flux_object(kind: FluxKind, object: ObjectRef) -> FluxObject {
    let message = match kind {
        FluxKind::GitRepository => format!("stored artifact for revision '{BRANCH}@sha1:0123abc'"),
        FluxKind::Kustomization => format!("Applied revision: {BRANCH}@sha1:0123abc"),
        FluxKind::HelmRelease => "Helm upgrade succeeded".to_owned(),
    };
    FluxObject {
        id: FluxRef { kind, object },
        generation: GENERATION,
        observed_generation: Some(GENERATION),
        suspend: false,
        conditions: vec![condition("Ready", ConditionStatus::True, "ReconciliationSucceeded", &message)],
        depends_on: Vec::new(),
        url: None,
        branch: None,
        managed_by: None,
        manages: Vec::new(),
        requested_at: None,
        last_handled_reconcile_at: None,
        suspended_by_ananke: false,
    }
}

/// A Current workload of `replicas` replicas (a `DaemonSet`: `replicas` pods scheduled), at
/// [`GENERATION`], with the status its controller writes once it has converged.
#[must_use]
pub fn healthy_workload(id: WorkloadRef, replicas: i32) -> Workload {
    let (spec_replicas, status, conditions) = match id.kind {
        WorkloadKind::Deployment => (
            Some(replicas),
            counters(replicas, None),
            vec![
                condition("Available", ConditionStatus::True, "MinimumReplicasAvailable", ""),
                condition("Progressing", ConditionStatus::True, "NewReplicaSetAvailable", ""),
            ],
        ),
        WorkloadKind::StatefulSet => (Some(replicas), counters(replicas, None), Vec::new()),
        WorkloadKind::DaemonSet => {
            (None, WorkloadStatus { replicas: 0, ..counters(replicas, Some(replicas)) }, Vec::new())
        }
    };
    Workload {
        id,
        generation: GENERATION,
        observed_generation: Some(GENERATION),
        terminating: false,
        spec_replicas,
        status,
        conditions,
        has_progress_deadline: true,
        on_delete: false,
        has_status: true,
        replicas_before: None,
    }
}

fn counters(n: i32, desired: Option<i32>) -> WorkloadStatus {
    WorkloadStatus { replicas: n, updated: n, ready: n, available: n, current: n, desired, revisions_match: true }
}

/// The Ingress `check` asks for, routing its host, with its class, published at
/// [`INGRESS_ADDRESS`], backed by one existing Service with one ready endpoint.
#[must_use]
pub fn published_ingress(check: &IngressCheck) -> IngressObservation {
    IngressObservation {
        namespace: check.namespace.clone(),
        name: check.name.clone(),
        hosts: vec![check.host.clone()],
        ingress_class: Some(check.ingress_class.clone().unwrap_or_else(|| "traefik".to_owned())),
        addresses: vec![INGRESS_ADDRESS.to_owned()],
        backends: vec![IngressBackend { service: format!("{}-http", check.name), exists: true, ready_endpoints: 1 }],
    }
}

/// A passing probe: HTTP 200 in 5 ms.
#[must_use]
pub fn passing_probe() -> ProbeResult {
    ProbeResult { ok: true, reason: None, status: Some(200), latency_ms: Some(5) }
}

pub(super) fn unsealed(pod: &VaultPod) -> VaultStatus {
    VaultStatus { pod: pod.name.clone(), reachable: true, sealed: false, threshold: 3, progress: 0 }
}

pub(super) fn on_line(domain: &str) -> UpsStatus {
    UpsStatus {
        domain: domain.to_owned(),
        reachable: true,
        flags: vec!["OL".to_owned()],
        charge: Some(100.0),
        runtime_s: Some(3600),
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::{ready_flux_object, unsealed, FluxKind, ObjectRef, VaultPod};
    use crate::observation::ConditionStatus;

    #[test]
    fn ready_flux_objects_carry_the_message_of_their_kind() {
        let object = || ObjectRef { namespace: "flux-system".into(), name: "x".into() };
        for (kind, message) in [
            (FluxKind::GitRepository, "stored artifact for revision"),
            (FluxKind::Kustomization, "Applied revision"),
            (FluxKind::HelmRelease, "Helm upgrade succeeded"),
        ] {
            let o = ready_flux_object(kind, object());
            let ready = o.conditions.iter().find(|c| c.type_ == "Ready").expect("a Ready condition");
            assert_eq!(ready.status, ConditionStatus::True);
            assert!(ready.message.starts_with(message), "{kind:?}: {}", ready.message);
            assert!(!o.suspend);
        }
    }

    #[test]
    fn an_unsealed_pod_is_reachable_and_not_sealed() {
        let pod = VaultPod { name: "vault-1".into(), address: "https://vault-1.vault-internal:8200".into() };
        let v = unsealed(&pod);
        assert_eq!(v.pod, "vault-1");
        assert!(v.reachable && !v.sealed);
        assert_eq!((v.threshold, v.progress), (3, 0));
    }
}
