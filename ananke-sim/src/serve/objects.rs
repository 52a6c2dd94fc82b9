//! Rendering the model as Kubernetes objects (reference §2): nodes, pods, workloads, PDBs,
//! services, endpoint slices and ingresses. Integers stay integers, every list item carries
//! `kind` and `apiVersion`; conditions get their times from the store.

use super::kinds::Kind;
use crate::model::{PdbView, ServiceView};
use crate::scenario::Scenario;
use ananke_core::config::{K3sRole, WorkloadKind, WorkloadRef};
use ananke_core::observation::{ConditionStatus, FluxKind, Observation, Workload};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

/// A rendered object keyed by namespace and name.
pub type Keyed = ((String, String), Value);

/// One running pod, named by the facade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEntry {
    /// Pod name.
    pub name: String,
    /// The workload that owns it.
    pub workload: WorkloadRef,
    /// Its node.
    pub node: String,
    /// Ready.
    pub ready: bool,
    /// Its address.
    pub ip: String,
}

/// Everything one render reads.
pub struct View<'a> {
    /// The model's observation (API fields).
    pub obs: &'a Observation,
    /// Running pods.
    pub pods: &'a [PodEntry],
    /// PDBs.
    pub pdbs: &'a [PdbView],
    /// Services.
    pub services: &'a [ServiceView],
    /// The scenario (node roles and addresses).
    pub scenario: &'a Scenario,
}

/// `"True"`, `"False"` or `"Unknown"`.
#[must_use]
pub fn condition_status(s: ConditionStatus) -> &'static str {
    match s {
        ConditionStatus::True => "True",
        ConditionStatus::False => "False",
        ConditionStatus::Unknown => "Unknown",
    }
}

fn head(kind: Kind, namespace: Option<&str>, name: &str) -> Value {
    let mut meta = json!({ "name": name });
    if let Some(ns) = namespace {
        meta["namespace"] = Value::String(ns.to_owned());
    }
    json!({ "apiVersion": kind.api_version(), "kind": kind.name(), "metadata": meta })
}

/// The namespaces every cluster has, whether or not anything lives in them.
pub const BUILTIN_NAMESPACES: [&str; 4] = ["default", "kube-node-lease", "kube-public", "kube-system"];

/// One `Active` Namespace per name.
#[must_use]
pub fn namespaces(names: &std::collections::BTreeSet<String>) -> Vec<Keyed> {
    names
        .iter()
        .map(|name| {
            let mut obj = head(Kind::Namespace, None, name);
            obj["metadata"]["labels"] = json!({ "kubernetes.io/metadata.name": name });
            obj["spec"] = json!({ "finalizers": ["kubernetes"] });
            obj["status"] = json!({ "phase": "Active" });
            keyed("", name, obj)
        })
        .collect()
}

fn keyed(namespace: &str, name: &str, obj: Value) -> Keyed {
    ((namespace.to_owned(), name.to_owned()), obj)
}

/// Labels Flux puts on what it applies: `kustomize.toolkit.fluxcd.io/*` for a Kustomization's
/// objects, `helm.toolkit.fluxcd.io/*` for a `HelmRelease`'s.
#[must_use]
pub fn flux_labels(obs: &Observation) -> BTreeMap<WorkloadRef, Map<String, Value>> {
    let mut out: BTreeMap<WorkloadRef, Map<String, Value>> = BTreeMap::new();
    for f in obs.flux.iter().flat_map(|f| f.kustomizations.iter().chain(&f.helm_releases)) {
        let prefix = if f.id.kind == FluxKind::HelmRelease { "helm" } else { "kustomize" };
        for w in &f.manages {
            let labels = out.entry(w.clone()).or_default();
            labels.insert(format!("{prefix}.toolkit.fluxcd.io/name"), Value::String(f.id.object.name.clone()));
            labels
                .insert(format!("{prefix}.toolkit.fluxcd.io/namespace"), Value::String(f.id.object.namespace.clone()));
        }
    }
    out
}

/// Nodes.
#[must_use]
pub fn nodes(view: &View<'_>) -> Vec<Keyed> {
    let mut out = Vec::new();
    for (i, n) in view.obs.nodes.iter().enumerate() {
        let Some(kube) = &n.kube else { continue };
        let spec = view.scenario.node(&n.name);
        let mut obj = head(Kind::Node, None, &n.name);
        let mut labels = json!({"kubernetes.io/hostname": n.name, "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "k3s"});
        if spec.is_some_and(|s| s.role == K3sRole::Server) {
            labels["node-role.kubernetes.io/control-plane"] = json!("true");
            labels["node-role.kubernetes.io/master"] = json!("true");
        }
        obj["metadata"]["labels"] = labels;
        let mut node_spec = json!({ "podCIDR": format!("10.42.{i}.0/24") });
        if kube.unschedulable {
            node_spec["unschedulable"] = json!(true);
        }
        if !kube.taints.is_empty() {
            node_spec["taints"] = kube.taints.iter().map(|k| json!({"key": k, "effect": "NoSchedule"})).collect();
        }
        obj["spec"] = node_spec;
        let message = match kube.ready {
            ConditionStatus::True => "kubelet is posting ready status",
            ConditionStatus::False => "container runtime network not ready: cni plugin not initialized",
            ConditionStatus::Unknown => "Kubelet stopped posting node status.",
        };
        let address = spec.and_then(|s| s.address.clone()).unwrap_or_else(|| format!("192.0.2.{}", 100 + i));
        obj["status"] = json!({
            "conditions": [{"type": "Ready", "status": condition_status(kube.ready), "reason": kube.ready_reason,
                "message": message, "lastHeartbeatTime": ""}],
            "addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": n.name}],
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "64Gi"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "64Gi"},
            "nodeInfo": {"kubeletVersion": "v1.33.5+k3s1", "containerRuntimeVersion": "containerd://2.0.5-k3s1",
                "osImage": "Debian GNU/Linux 12 (bookworm)", "architecture": "arm64", "kernelVersion": "6.12.0",
                "operatingSystem": "linux", "machineID": "", "systemUUID": "", "bootID": "", "kubeProxyVersion": ""},
        });
        out.push(keyed("", &n.name, obj));
    }
    out
}

fn owner(w: &WorkloadRef) -> Value {
    let (api, kind, name) = match w.kind {
        WorkloadKind::Deployment => ("apps/v1", "ReplicaSet", format!("{}-5d9c7b", w.name)),
        WorkloadKind::StatefulSet => ("apps/v1", "StatefulSet", w.name.clone()),
        WorkloadKind::DaemonSet => ("apps/v1", "DaemonSet", w.name.clone()),
    };
    json!([{"apiVersion": api, "kind": kind, "name": name, "uid": format!("owner-{}-{}", w.namespace, w.name), "controller": true, "blockOwnerDeletion": true}])
}

/// Pods.
#[must_use]
pub fn pods(view: &View<'_>) -> Vec<Keyed> {
    view.pods
        .iter()
        .map(|p| {
            let mut obj = head(Kind::Pod, Some(&p.workload.namespace), &p.name);
            obj["metadata"]["labels"] = json!({ "app": p.workload.name });
            obj["metadata"]["ownerReferences"] = owner(&p.workload);
            let ready = if p.ready { "True" } else { "False" };
            obj["spec"] = json!({"nodeName": p.node, "containers": [{"name": p.workload.name, "image": format!("registry.example/{}:1", p.workload.name)}],
                "terminationGracePeriodSeconds": 30});
            obj["status"] = json!({"phase": "Running", "podIP": p.ip,
                "conditions": [{"type": "Ready", "status": ready}, {"type": "ContainersReady", "status": ready}, {"type": "PodScheduled", "status": "True"}],
                "containerStatuses": [{"name": p.workload.name, "ready": p.ready, "restartCount": 0, "image": format!("registry.example/{}:1", p.workload.name), "imageID": "", "started": true}]});
            keyed(&p.workload.namespace, &p.name, obj)
        })
        .collect()
}

fn conditions(w: &Workload) -> Value {
    w.conditions
        .iter()
        .map(|c| json!({"type": c.type_, "status": condition_status(c.status), "reason": c.reason, "message": c.message}))
        .collect()
}

/// `Deployments`, `StatefulSets` or `DaemonSets` (`kind`).
#[must_use]
pub fn workloads(
    view: &View<'_>,
    kind: WorkloadKind,
    labels: &BTreeMap<WorkloadRef, Map<String, Value>>,
) -> Vec<Keyed> {
    let api_kind = match kind {
        WorkloadKind::Deployment => Kind::Deployment,
        WorkloadKind::StatefulSet => Kind::StatefulSet,
        WorkloadKind::DaemonSet => Kind::DaemonSet,
    };
    let mut out = Vec::new();
    for w in view.obs.workloads.iter().filter(|w| w.id.kind == kind) {
        let (ns, name) = (&w.id.namespace, &w.id.name);
        let mut obj = head(api_kind, Some(ns), name);
        let mut meta_labels = labels.get(&w.id).cloned().unwrap_or_default();
        meta_labels.insert("app".to_owned(), Value::String(name.clone()));
        obj["metadata"]["labels"] = Value::Object(meta_labels);
        obj["metadata"]["generation"] = json!(w.generation);
        let mut spec = json!({"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name, "image": format!("registry.example/{name}:1")}]}}});
        if kind != WorkloadKind::DaemonSet {
            spec["replicas"] = json!(w.spec_replicas.unwrap_or(1));
        }
        if w.has_progress_deadline {
            spec["progressDeadlineSeconds"] = json!(600);
        }
        if kind == WorkloadKind::StatefulSet {
            spec["serviceName"] = json!(name);
            spec["updateStrategy"] = json!({"type": if w.on_delete { "OnDelete" } else { "RollingUpdate" }});
        }
        obj["spec"] = spec;
        if w.has_status {
            let s = &w.status;
            let mut status = match kind {
                WorkloadKind::DaemonSet => json!({"desiredNumberScheduled": s.desired.or(w.spec_replicas).unwrap_or(0),
                    "currentNumberScheduled": s.current, "updatedNumberScheduled": s.updated, "numberAvailable": s.available,
                    "numberReady": s.ready, "numberMisscheduled": 0}),
                _ => {
                    json!({"replicas": s.replicas, "updatedReplicas": s.updated, "readyReplicas": s.ready, "availableReplicas": s.available})
                }
            };
            if kind == WorkloadKind::StatefulSet {
                status["currentReplicas"] = json!(s.current);
                status["currentRevision"] = json!(format!("{name}-1"));
                status["updateRevision"] = json!(format!("{name}-{}", if s.revisions_match { 1 } else { 2 }));
            }
            if let Some(og) = w.observed_generation {
                status["observedGeneration"] = json!(og);
            }
            if !w.conditions.is_empty() {
                status["conditions"] = conditions(w);
            }
            obj["status"] = status;
        }
        if w.terminating {
            obj["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        out.push(keyed(ns, name, obj));
    }
    out
}

/// `PodDisruptionBudgets`.
#[must_use]
pub fn pdbs(view: &View<'_>) -> Vec<Keyed> {
    view.pdbs
        .iter()
        .map(|p| {
            let mut obj = head(Kind::PodDisruptionBudget, Some(&p.namespace), &p.name);
            obj["metadata"]["generation"] = json!(1);
            obj["spec"] = json!({"minAvailable": p.min_available, "selector": {"matchLabels": {"app": p.workload.name}}});
            let allowed = p.disruptions_allowed();
            obj["status"] = json!({"observedGeneration": 1, "disruptionsAllowed": allowed, "currentHealthy": p.healthy,
                "desiredHealthy": p.min_available, "expectedPods": p.healthy,
                "conditions": [{"type": "DisruptionAllowed", "status": if allowed > 0 { "True" } else { "False" },
                    "reason": if allowed > 0 { "SufficientPods" } else { "InsufficientPods" }, "message": "", "observedGeneration": 1}]});
            keyed(&p.namespace, &p.name, obj)
        })
        .collect()
}

/// Services (one named port `http`).
#[must_use]
pub fn services(view: &View<'_>) -> Vec<Keyed> {
    view.services
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut obj = head(Kind::Service, Some(&s.namespace), &s.name);
            let mut spec = json!({"type": "ClusterIP", "clusterIP": format!("10.43.{}.{}", i / 250, i % 250 + 2),
                "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}]});
            if let Some(w) = &s.workload {
                spec["selector"] = json!({ "app": w.name });
            }
            obj["spec"] = spec;
            obj["status"] = json!({"loadBalancer": {}});
            keyed(&s.namespace, &s.name, obj)
        })
        .collect()
}

/// One `EndpointSlice` per Service: an endpoint per pod of its workload.
#[must_use]
pub fn endpoint_slices(view: &View<'_>) -> Vec<Keyed> {
    let mut by_workload: HashMap<&WorkloadRef, Vec<&PodEntry>> = HashMap::new();
    for p in view.pods {
        by_workload.entry(&p.workload).or_default().push(p);
    }
    view.services
        .iter()
        .map(|s| {
            let name = format!("{}-sim", s.name);
            let mut obj = head(Kind::EndpointSlice, Some(&s.namespace), &name);
            obj["metadata"]["labels"] = json!({"kubernetes.io/service-name": s.name, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"});
            obj["addressType"] = json!("IPv4");
            let pods = s.workload.as_ref().and_then(|w| by_workload.get(w)).map(Vec::as_slice).unwrap_or_default();
            obj["endpoints"] = pods
                .iter()
                .map(|p| json!({"addresses": [p.ip], "conditions": {"ready": p.ready, "serving": p.ready, "terminating": false},
                    "nodeName": p.node, "targetRef": {"kind": "Pod", "namespace": s.namespace, "name": p.name}}))
                .collect();
            obj["ports"] = json!([{"name": "http", "port": 8080, "protocol": "TCP"}]);
            keyed(&s.namespace, &name, obj)
        })
        .collect()
}

/// Ingresses: one rule per host, a path per backend (port `http`).
#[must_use]
pub fn ingresses(view: &View<'_>) -> Vec<Keyed> {
    view.obs
        .ingresses
        .iter()
        .map(|i| {
            let mut obj = head(Kind::Ingress, Some(&i.namespace), &i.name);
            obj["metadata"]["generation"] = json!(1);
            let paths: Vec<Value> = i
                .backends
                .iter()
                .enumerate()
                .map(|(k, b)| json!({"path": if k == 0 { "/".to_owned() } else { format!("/{}", b.service) }, "pathType": "Prefix",
                    "backend": {"service": {"name": b.service, "port": {"name": "http"}}}}))
                .collect();
            let mut spec = json!({"rules": i.hosts.iter().map(|h| json!({"host": h, "http": {"paths": paths}})).collect::<Vec<_>>()});
            if let Some(class) = &i.ingress_class {
                spec["ingressClassName"] = json!(class);
            }
            obj["spec"] = spec;
            let published: Vec<Value> = i
                .addresses
                .iter()
                .map(|a| if a.parse::<std::net::IpAddr>().is_ok() { json!({"ip": a}) } else { json!({"hostname": a}) })
                .collect();
            obj["status"] = json!({"loadBalancer": {"ingress": published}});
            keyed(&i.namespace, &i.name, obj)
        })
        .collect()
}
