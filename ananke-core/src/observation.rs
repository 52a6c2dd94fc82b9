//! The `Observation`: a plain snapshot of everything the gates and the machines read.
//!
//! Adapters (real or simulated) fill it; the core only reads it. It is serde-serializable because
//! traces record it: a replay feeds the same observations to the machines again.

use crate::config::{ObjectRef, WorkloadRef};
use crate::time::Time;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
mod marks;
mod node;
use marks::is_false;
pub use marks::{CORDONED_BY_ANANKE, REPLICAS_BEFORE, SUSPENDED_BY_ANANKE};
pub use node::{SshStatus, UnitState};

/// Everything ananke knows about the cluster at one instant.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Observation {
    /// When the observation was completed.
    pub at: Time,
    /// The Kubernetes API.
    pub api: ApiStatus,
    /// One entry per inventory node (and per node the API lists that the inventory does not).
    pub nodes: Vec<NodeObservation>,
    /// Flux objects; `None` when the API is unreachable or not observed.
    pub flux: Option<FluxObservation>,
    /// Deployments, `StatefulSets` and `DaemonSets`.
    pub workloads: Vec<Workload>,
    /// Pods still running on nodes being drained, with what blocks their eviction.
    pub pods_to_evict: Vec<PodToEvict>,
    /// Ingresses of the ingress checklist.
    pub ingresses: Vec<IngressObservation>,
    /// HTTP probe results, by checklist entry name (service checklist and critical endpoints).
    pub probes: BTreeMap<String, ProbeResult>,
    /// The in-cluster Git server's health, if one is configured.
    pub git_server: Option<GitServerHealth>,
    /// Vault pods' seal status.
    pub vault: Vec<VaultStatus>,
    /// UPS status per power domain.
    pub power: Vec<UpsStatus>,
}

/// Whether the Kubernetes API answered.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApiStatus {
    /// The API answered this cycle.
    pub reachable: bool,
    /// Why it did not, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Condition status, three-valued as Kubernetes has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ConditionStatus {
    /// `"True"`.
    True,
    /// `"False"`.
    False,
    /// `"Unknown"` (or absent).
    #[default]
    Unknown,
}

/// One node as SSH and the API see it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeObservation {
    /// Node name.
    pub name: String,
    /// SSH reachability and authentication.
    pub ssh: SshStatus,
    /// The node's k3s unit.
    pub k3s_unit: UnitState,
    /// The Node object, when the API answered and lists it.
    pub kube: Option<KubeNode>,
}

/// The fields of a Node object that matter.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KubeNode {
    /// Condition `Ready`.
    pub ready: ConditionStatus,
    /// Reason of the `Ready` condition.
    pub ready_reason: String,
    /// `spec.unschedulable` (cordon).
    pub unschedulable: bool,
    /// Taint keys present.
    pub taints: Vec<String>,
    /// ananke cordoned it: its mark [`CORDONED_BY_ANANKE`].
    #[serde(skip_serializing_if = "is_false")]
    pub cordoned_by_ananke: bool,
}

/// A Flux condition (`Ready`, `Reconciling`, `Stalled`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Condition {
    /// Condition type.
    #[serde(rename = "type")]
    pub type_: String,
    /// Status.
    pub status: ConditionStatus,
    /// Reason.
    pub reason: String,
    /// Message.
    pub message: String,
    /// `observedGeneration` of the condition (0 when absent).
    pub observed_generation: i64,
}

/// Kinds of Flux objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FluxKind {
    /// `source.toolkit.fluxcd.io/v1` `GitRepository`.
    GitRepository,
    /// `kustomize.toolkit.fluxcd.io/v1` Kustomization.
    Kustomization,
    /// `helm.toolkit.fluxcd.io/v2` `HelmRelease`.
    HelmRelease,
}

impl FluxKind {
    /// The kind's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            FluxKind::GitRepository => "GitRepository",
            FluxKind::Kustomization => "Kustomization",
            FluxKind::HelmRelease => "HelmRelease",
        }
    }
}

/// A reference to one Flux object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FluxRef {
    /// Kind.
    pub kind: FluxKind,
    /// Namespace and name.
    #[serde(flatten)]
    pub object: ObjectRef,
}

impl std::fmt::Display for FluxRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), self.object)
    }
}

/// One Flux object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FluxObject {
    /// Which object.
    #[serde(flatten)]
    pub id: FluxRef,
    /// `metadata.generation`.
    #[serde(default)]
    pub generation: i64,
    /// `status.observedGeneration`, absent before the controller first reconciles.
    #[serde(default)]
    pub observed_generation: Option<i64>,
    /// `spec.suspend`.
    #[serde(default)]
    pub suspend: bool,
    /// `status.conditions`.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// `spec.dependsOn` (Kustomizations and `HelmReleases`).
    #[serde(default)]
    pub depends_on: Vec<ObjectRef>,
    /// `spec.url` (`GitRepository`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `spec.ref.branch` (`GitRepository`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The Kustomization that applied this object (labels `kustomize.toolkit.fluxcd.io/name` and
    /// `/namespace`): its parent. `None` for a root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<ObjectRef>,
    /// Workloads this Kustomization or `HelmRelease` manages (from its inventory).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manages: Vec<WorkloadRef>,
    /// `metadata.annotations["reconcile.fluxcd.io/requestedAt"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<String>,
    /// `status.lastHandledReconcileAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// ananke suspended it: its mark [`SUSPENDED_BY_ANANKE`].
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspended_by_ananke: bool,
}

impl FluxObject {
    /// The condition of type `type_`, if present.
    #[must_use]
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

/// Flux as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FluxObservation {
    /// Whether the Flux CRDs are installed at all.
    pub installed: bool,
    /// `GitRepositories`.
    pub sources: Vec<FluxObject>,
    /// Kustomizations.
    pub kustomizations: Vec<FluxObject>,
    /// `HelmReleases`.
    pub helm_releases: Vec<FluxObject>,
}

impl FluxObservation {
    /// Every Flux object, sources first.
    pub fn all(&self) -> impl Iterator<Item = &FluxObject> {
        self.sources.iter().chain(&self.kustomizations).chain(&self.helm_releases)
    }

    /// The object `id`, if present.
    #[must_use]
    pub fn get(&self, id: &FluxRef) -> Option<&FluxObject> {
        let list = match id.kind {
            FluxKind::GitRepository => &self.sources,
            FluxKind::Kustomization => &self.kustomizations,
            FluxKind::HelmRelease => &self.helm_releases,
        };
        list.iter().find(|o| o.id == *id)
    }
}

/// One Deployment, `StatefulSet` or `DaemonSet` (the kstatus fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::struct_excessive_bools)] // each bool is one field of the Kubernetes object
pub struct Workload {
    /// Which workload.
    #[serde(flatten)]
    pub id: WorkloadRef,
    /// `metadata.generation`.
    #[serde(default)]
    pub generation: i64,
    /// `status.observedGeneration`, absent before the controller first acts.
    #[serde(default)]
    pub observed_generation: Option<i64>,
    /// Being deleted (`metadata.deletionTimestamp` set).
    #[serde(default)]
    pub terminating: bool,
    /// `spec.replicas` (absent means 1; `DaemonSets` have none).
    #[serde(default)]
    pub spec_replicas: Option<i32>,
    /// Status counters (absent = 0); `DaemonSets` map their `*NumberScheduled`/`number*` here.
    #[serde(default)]
    pub status: WorkloadStatus,
    /// Conditions (Deployments: `Available`, `Progressing`).
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// `spec.progressDeadlineSeconds` is set (Deployments).
    #[serde(default)]
    pub has_progress_deadline: bool,
    /// `StatefulSet` `updateStrategy.type == OnDelete`.
    #[serde(default)]
    pub on_delete: bool,
    /// Does the workload have a status at all (false right after creation).
    #[serde(default)]
    pub has_status: bool,
    /// The replica count before ananke scaled it to 0: its mark [`REPLICAS_BEFORE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas_before: Option<i32>,
}

/// Status counters of a workload. For `DaemonSets`: `desired` = desiredNumberScheduled,
/// `current` = currentNumberScheduled, `updated` = updatedNumberScheduled, `available` =
/// numberAvailable, `ready` = numberReady.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkloadStatus {
    /// `status.replicas` (`DaemonSet`: absent).
    pub replicas: i32,
    /// `status.updatedReplicas`.
    pub updated: i32,
    /// `status.readyReplicas`.
    pub ready: i32,
    /// `status.availableReplicas`.
    pub available: i32,
    /// `status.currentReplicas` (`StatefulSet`) or currentNumberScheduled (`DaemonSet`).
    pub current: i32,
    /// `DaemonSet` `desiredNumberScheduled` (None when absent).
    pub desired: Option<i32>,
    /// `StatefulSet` `currentRevision == updateRevision`.
    pub revisions_match: bool,
}

/// A pod that a drain must evict, and what the last eviction attempt said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodToEvict {
    /// Namespace and name.
    #[serde(flatten)]
    pub pod: ObjectRef,
    /// Node it runs on.
    pub node: String,
    /// Name of the PDB that blocked the last eviction, if one did.
    #[serde(default)]
    pub blocked_by_pdb: Option<String>,
}

/// An Ingress, as the ingress checklist reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IngressObservation {
    /// Namespace and name.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Hosts of its rules.
    pub hosts: Vec<String>,
    /// `spec.ingressClassName`.
    pub ingress_class: Option<String>,
    /// Load-balancer addresses published in its status (ip or hostname).
    pub addresses: Vec<String>,
    /// Backend services and whether each exists and has a ready endpoint on the right port.
    pub backends: Vec<IngressBackend>,
}

/// One backend of an Ingress.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IngressBackend {
    /// Service name.
    pub service: String,
    /// The Service exists.
    pub exists: bool,
    /// Ready endpoints serving the backend port.
    pub ready_endpoints: u32,
}

/// One HTTP probe's result (after the consecutive thresholds are applied by the adapter).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProbeResult {
    /// The check currently passes.
    pub ok: bool,
    /// Why it fails (connect refused, timeout, status, body, latency, certificate).
    pub reason: Option<String>,
    /// HTTP status of the last attempt.
    pub status: Option<u16>,
    /// Latency of the last attempt in milliseconds.
    pub latency_ms: Option<u64>,
}

/// Health of the in-cluster Git server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GitServerHealth {
    /// The health endpoint answered `pass` with a database check.
    pub healthy: bool,
    /// Why not.
    pub reason: Option<String>,
}

/// Seal status of one Vault pod.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VaultStatus {
    /// Pod name.
    pub pod: String,
    /// The pod answered.
    pub reachable: bool,
    /// Sealed.
    pub sealed: bool,
    /// Unseal threshold `t`.
    pub threshold: u32,
    /// Shares accepted so far.
    pub progress: u32,
}

/// A UPS's status, per power domain.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UpsStatus {
    /// Power domain name.
    pub domain: String,
    /// Data could be read and is fresh.
    pub reachable: bool,
    /// `ups.status` flags (`OL`, `OB`, `LB`, `FSD`, ...).
    pub flags: Vec<String>,
    /// `battery.charge` in percent.
    pub charge: Option<f64>,
    /// `battery.runtime` in seconds.
    pub runtime_s: Option<u64>,
    /// Why no fresh data was read, in words (unknown UPS with the names upsd serves, access
    /// denied, connection refused, stale for N s), when none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl UpsStatus {
    /// Whether the UPS reports flag `flag`.
    #[must_use]
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

impl Observation {
    /// The node named `name`.
    #[must_use]
    pub fn node(&self, name: &str) -> Option<&NodeObservation> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The workload `id`.
    #[must_use]
    pub fn workload(&self, id: &WorkloadRef) -> Option<&Workload> {
        self.workloads.iter().find(|w| w.id == *id)
    }
}
