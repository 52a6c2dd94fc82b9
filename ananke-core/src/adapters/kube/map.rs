//! From Kubernetes objects to the observation: nodes, workloads (the kstatus fields, §3), the pods
//! a drain must evict (kubectl drain's filters, §1.3) and ingresses with their backends (§4).

use crate::config::{ObjectRef, WorkloadKind, WorkloadRef};
use crate::observation::{
    Condition, ConditionStatus, IngressBackend, IngressObservation, KubeNode, PodToEvict, Workload, WorkloadStatus,
    CORDONED_BY_ANANKE, REPLICAS_BEFORE,
};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressServiceBackend};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// `"True"`/`"False"`/anything else.
#[must_use]
pub fn condition_status(s: &str) -> ConditionStatus {
    match s {
        "True" => ConditionStatus::True,
        "False" => ConditionStatus::False,
        _ => ConditionStatus::Unknown,
    }
}

fn name_of(meta: &ObjectMeta) -> (String, String) {
    (meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default())
}

/// A Node's name and the fields gates read.
#[must_use]
pub fn node(n: &Node) -> (String, KubeNode) {
    let ready =
        n.status.as_ref().and_then(|s| s.conditions.as_ref()).and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
    let mut taints: Vec<String> = Vec::new();
    for t in n.spec.as_ref().and_then(|s| s.taints.as_ref()).into_iter().flatten() {
        if !taints.contains(&t.key) {
            taints.push(t.key.clone());
        }
    }
    let kube = KubeNode {
        ready: ready.map_or(ConditionStatus::Unknown, |c| condition_status(&c.status)),
        ready_reason: ready.and_then(|c| c.reason.clone()).unwrap_or_default(),
        unschedulable: n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false),
        taints,
        cordoned_by_ananke: annotation(&n.metadata, CORDONED_BY_ANANKE).is_some(),
    };
    (n.metadata.name.clone().unwrap_or_default(), kube)
}

fn base(kind: WorkloadKind, meta: &ObjectMeta, has_status: bool) -> Workload {
    let (namespace, name) = name_of(meta);
    Workload {
        id: WorkloadRef { kind, namespace, name },
        generation: meta.generation.unwrap_or(0),
        observed_generation: None,
        terminating: meta.deletion_timestamp.is_some(),
        spec_replicas: None,
        status: WorkloadStatus { revisions_match: true, ..WorkloadStatus::default() },
        conditions: Vec::new(),
        has_progress_deadline: false,
        on_delete: false,
        has_status,
        replicas_before: annotation(meta, REPLICAS_BEFORE).and_then(|n| n.parse().ok()),
    }
}

/// The value of annotation `key`, if the object has it.
pub fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref().and_then(|a| a.get(key)).map(String::as_str)
}

/// A Deployment (`status.currentReplicas` does not exist for it: `current` stays 0).
#[must_use]
pub fn deployment(d: &Deployment) -> Workload {
    let mut w = base(WorkloadKind::Deployment, &d.metadata, d.status.is_some());
    let spec = d.spec.as_ref();
    w.spec_replicas = spec.and_then(|s| s.replicas);
    w.has_progress_deadline = spec.and_then(|s| s.progress_deadline_seconds).is_some();
    if let Some(s) = &d.status {
        w.observed_generation = s.observed_generation;
        w.status.replicas = s.replicas.unwrap_or(0);
        w.status.updated = s.updated_replicas.unwrap_or(0);
        w.status.ready = s.ready_replicas.unwrap_or(0);
        w.status.available = s.available_replicas.unwrap_or(0);
        w.conditions = s
            .conditions
            .iter()
            .flatten()
            .map(|c| Condition {
                type_: c.type_.clone(),
                status: condition_status(&c.status),
                reason: c.reason.clone().unwrap_or_default(),
                message: c.message.clone().unwrap_or_default(),
                observed_generation: 0,
            })
            .collect();
    }
    w
}

/// A `StatefulSet`.
#[must_use]
pub fn statefulset(s: &StatefulSet) -> Workload {
    let mut w = base(WorkloadKind::StatefulSet, &s.metadata, s.status.is_some());
    let spec = s.spec.as_ref();
    w.spec_replicas = spec.and_then(|s| s.replicas);
    w.on_delete = spec.and_then(|s| s.update_strategy.as_ref()).and_then(|u| u.type_.as_deref()) == Some("OnDelete");
    if let Some(st) = &s.status {
        w.observed_generation = st.observed_generation;
        w.status.replicas = st.replicas;
        w.status.updated = st.updated_replicas.unwrap_or(0);
        w.status.ready = st.ready_replicas.unwrap_or(0);
        w.status.available = st.available_replicas.unwrap_or(0);
        w.status.current = st.current_replicas.unwrap_or(0);
        w.status.revisions_match = st.current_revision == st.update_revision;
    }
    w
}

/// A `DaemonSet`: its `*NumberScheduled`/`number*` counters in the status fields.
#[must_use]
pub fn daemonset(d: &DaemonSet) -> Workload {
    let mut w = base(WorkloadKind::DaemonSet, &d.metadata, d.status.is_some());
    if let Some(s) = &d.status {
        w.observed_generation = s.observed_generation;
        w.status.desired = Some(s.desired_number_scheduled);
        w.status.current = s.current_number_scheduled;
        w.status.updated = s.updated_number_scheduled.unwrap_or(0);
        w.status.available = s.number_available.unwrap_or(0);
        w.status.ready = s.number_ready;
    }
    w
}

/// Whether `selector` selects `labels` (`matchLabels` and `matchExpressions`).
#[must_use]
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_labels = selector.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    let by_expressions = selector.match_expressions.iter().flatten().all(|e| {
        let value = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    by_labels && by_expressions
}

/// Whether a drain evicts `pod` (kubectl drain's filters): not finished, not a mirror pod, not
/// owned by a `DaemonSet`.
#[must_use]
pub fn evictable(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default();
    let mirror = pod.metadata.annotations.as_ref().is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    let daemon =
        pod.metadata.owner_references.iter().flatten().any(|o| o.controller == Some(true) && o.kind == "DaemonSet");
    !matches!(phase, "Succeeded" | "Failed") && !mirror && !daemon
}

/// The PDB (`namespace/name`) that selects `pod` and allows no disruption now, if any.
#[must_use]
pub fn blocking_pdb(pod: &Pod, pdbs: &[PodDisruptionBudget]) -> Option<String> {
    let (ns, _) = name_of(&pod.metadata);
    let empty = BTreeMap::new();
    let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
    pdbs.iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()))
        .filter(|p| p.spec.as_ref().and_then(|s| s.selector.as_ref()).is_some_and(|s| selects(s, labels)))
        .find(|p| p.status.as_ref().is_some_and(|s| s.disruptions_allowed <= 0))
        .map(|p| format!("{ns}/{}", p.metadata.name.clone().unwrap_or_default()))
}

/// Pods on the cordoned nodes that a drain must still evict.
#[must_use]
pub fn pods_to_evict(pods: &[Pod], cordoned: &BTreeSet<String>, pdbs: &[PodDisruptionBudget]) -> Vec<PodToEvict> {
    pods.iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some_and(|n| cordoned.contains(n)))
        .filter(|p| evictable(p))
        .map(|p| {
            let (namespace, name) = name_of(&p.metadata);
            PodToEvict {
                pod: ObjectRef { namespace, name },
                node: p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default(),
                blocked_by_pdb: blocking_pdb(p, pdbs),
            }
        })
        .collect()
}

/// Ready endpoints of service `namespace/name` serving port `port` (by name; any port when the
/// backend names none the Service can resolve).
fn ready_endpoints(slices: &[EndpointSlice], namespace: &str, service: &str, port: Option<&str>) -> u32 {
    let mut count = 0;
    for slice in slices {
        let owner = slice.metadata.labels.as_ref().and_then(|l| l.get("kubernetes.io/service-name"));
        if slice.metadata.namespace.as_deref() != Some(namespace) || owner.map(String::as_str) != Some(service) {
            continue;
        }
        let serves =
            port.is_none_or(|p| slice.ports.iter().flatten().any(|sp| sp.name.as_deref().unwrap_or_default() == p));
        if serves {
            let ready =
                slice.endpoints.iter().filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false)).count();
            count += u32::try_from(ready).unwrap_or(u32::MAX);
        }
    }
    count
}

/// The port name a backend reaches: its own `port.name`, or the name of the Service port with its
/// number.
fn port_name(backend: &IngressServiceBackend, service: Option<&Service>) -> Option<String> {
    let port = backend.port.as_ref()?;
    if let Some(name) = &port.name {
        return Some(name.clone());
    }
    let number = port.number?;
    service?.spec.as_ref()?.ports.iter().flatten().find(|p| p.port == number).and_then(|p| p.name.clone())
}

/// Ingresses with their published addresses and each backend's existence and ready endpoints.
#[must_use]
pub fn ingresses(ingresses: &[Ingress], services: &[Service], slices: &[EndpointSlice]) -> Vec<IngressObservation> {
    let by_name: HashMap<(String, String), &Service> = services.iter().map(|s| (name_of(&s.metadata), s)).collect();
    ingresses
        .iter()
        .map(|ing| {
            let (namespace, name) = name_of(&ing.metadata);
            let spec = ing.spec.as_ref();
            let mut backends: Vec<&IngressServiceBackend> = Vec::new();
            let paths = spec
                .and_then(|s| s.rules.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|r| r.http.as_ref())
                .flat_map(|h| &h.paths);
            for b in spec
                .and_then(|s| s.default_backend.as_ref())
                .into_iter()
                .chain(paths.map(|p| &p.backend))
                .filter_map(|b| b.service.as_ref())
            {
                if !backends.iter().any(|x| x.name == b.name) {
                    backends.push(b);
                }
            }
            let addresses = ing
                .status
                .as_ref()
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|i| i.ip.clone().or_else(|| i.hostname.clone()))
                .collect();
            IngressObservation {
                hosts: spec
                    .and_then(|s| s.rules.as_ref())
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.host.clone())
                    .collect(),
                ingress_class: spec.and_then(|s| s.ingress_class_name.clone()),
                addresses,
                backends: backends
                    .into_iter()
                    .map(|b| {
                        let service = by_name.get(&(namespace.clone(), b.name.clone())).copied();
                        let port = port_name(b, service);
                        IngressBackend {
                            service: b.name.clone(),
                            exists: service.is_some(),
                            ready_endpoints: if service.is_some() {
                                ready_endpoints(slices, &namespace, &b.name, port.as_deref())
                            } else {
                                0
                            },
                        }
                    })
                    .collect(),
                namespace,
                name,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{from_value, json};

    fn pod(labels: &serde_json::Value, owner: &str, phase: &str, mirror: bool) -> Pod {
        let annotations = if mirror { json!({"kubernetes.io/config.mirror": "x"}) } else { json!({}) };
        from_value(json!({"metadata": {"name": "p", "namespace": "ns", "labels": labels, "annotations": annotations,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner, "name": "o", "uid": "u", "controller": true}]},
            "spec": {"nodeName": "n1", "containers": []}, "status": {"phase": phase}}))
        .unwrap()
    }

    #[test]
    fn drain_filters_and_blocking_pdbs() {
        assert!(evictable(&pod(&json!({}), "ReplicaSet", "Running", false)));
        assert!(!evictable(&pod(&json!({}), "DaemonSet", "Running", false)));
        assert!(!evictable(&pod(&json!({}), "ReplicaSet", "Succeeded", false)));
        assert!(!evictable(&pod(&json!({}), "ReplicaSet", "Running", true)));
        let pdb = |allowed: i32| -> PodDisruptionBudget {
            from_value(json!({"metadata": {"name": "web-pdb", "namespace": "ns"},
                "spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]},
                    {"key": "tier", "operator": "DoesNotExist"}]}},
                "status": {"disruptionsAllowed": allowed, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}}))
            .unwrap()
        };
        let web = pod(&json!({"app": "web"}), "ReplicaSet", "Running", false);
        assert_eq!(blocking_pdb(&web, &[pdb(0)]).as_deref(), Some("ns/web-pdb"));
        assert_eq!(blocking_pdb(&web, &[pdb(1)]), None);
        assert_eq!(blocking_pdb(&pod(&json!({"app": "db"}), "ReplicaSet", "Running", false), &[pdb(0)]), None);
        let cordoned = BTreeSet::from(["n1".to_owned()]);
        assert_eq!(pods_to_evict(std::slice::from_ref(&web), &cordoned, &[]).len(), 1);
        assert!(pods_to_evict(&[web], &BTreeSet::new(), &[]).is_empty());
    }

    #[test]
    fn ingress_backends_resolve_ports_by_name_or_number() {
        let ingress: Ingress = from_value(json!({"metadata": {"name": "i", "namespace": "ns"},
            "spec": {"ingressClassName": "traefik", "defaultBackend": {"service": {"name": "missing", "port": {"number": 80}}},
                "rules": [{"host": "h.example", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                    {"path": "/x", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}, {"hostname": "lb.example"}]}}}))
        .unwrap();
        let service: Service = from_value(
            json!({"metadata": {"name": "web", "namespace": "ns"}, "spec": {"ports": [{"name": "http", "port": 80}]}}),
        )
        .unwrap();
        let slice: EndpointSlice = from_value(json!({"addressType": "IPv4",
            "metadata": {"name": "web-x", "namespace": "ns", "labels": {"kubernetes.io/service-name": "web"}},
            "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {}}, {"addresses": ["10.0.0.2"], "conditions": {"ready": false}}],
            "ports": [{"name": "http", "port": 8080}]}))
        .unwrap();
        let seen = ingresses(&[ingress], &[service], &[slice]);
        assert_eq!(seen[0].hosts, vec!["h.example".to_owned()]);
        assert_eq!(seen[0].addresses, vec!["192.0.2.1".to_owned(), "lb.example".to_owned()]);
        let backends: Vec<(&str, bool, u32)> =
            seen[0].backends.iter().map(|b| (b.service.as_str(), b.exists, b.ready_endpoints)).collect();
        assert_eq!(backends, vec![("missing", false, 0), ("web", true, 1)]);
    }

    #[test]
    fn workloads_without_status_and_daemonset_counters() {
        let d: Deployment = from_value(json!({"metadata": {"name": "web", "namespace": "apps", "generation": 3},
            "spec": {"replicas": 2, "selector": {}, "template": {}}}))
        .unwrap();
        let w = deployment(&d);
        assert_eq!((w.has_status, w.observed_generation, w.spec_replicas, w.generation), (false, None, Some(2), 3));
        assert!(w.conditions.is_empty() && !w.has_progress_deadline);
        let ds: DaemonSet = from_value(json!({"metadata": {"name": "agent", "namespace": "kube-system"},
            "status": {"observedGeneration": 4, "desiredNumberScheduled": 5, "currentNumberScheduled": 4,
                "updatedNumberScheduled": 3, "numberAvailable": 2, "numberReady": 1, "numberMisscheduled": 0}}))
        .unwrap();
        let w = daemonset(&ds);
        assert_eq!(
            w.id,
            WorkloadRef { kind: WorkloadKind::DaemonSet, namespace: "kube-system".into(), name: "agent".into() }
        );
        assert_eq!((w.has_status, w.observed_generation, w.status.desired), (true, Some(4), Some(5)));
        let s = &w.status;
        assert_eq!((s.current, s.updated, s.available, s.ready), (4, 3, 2, 1));
        let bare = daemonset(&from_value(json!({"metadata": {"name": "agent"}})).unwrap());
        assert_eq!((bare.has_status, bare.status.desired, bare.observed_generation), (false, None, None));
    }

    #[test]
    fn selectors_refuse_unknown_operators() {
        let labels = BTreeMap::from([("app".to_owned(), "web".to_owned())]);
        let with = |operator: &str| -> LabelSelector {
            from_value(json!({"matchExpressions": [{"key": "app", "operator": operator, "values": ["db"]}]})).unwrap()
        };
        assert!(selects(&with("NotIn"), &labels) && selects(&with("Exists"), &labels));
        assert!(!selects(&with("In"), &labels) && !selects(&with("DoesNotExist"), &labels));
        assert!(!selects(&with("Matches"), &labels), "an operator the API does not know selects nothing");
    }

    #[test]
    fn endpoints_count_only_for_the_port_the_backend_reaches() {
        let slice = |name: &str, port: &str| -> EndpointSlice {
            from_value(json!({"addressType": "IPv4",
                "metadata": {"name": name, "namespace": "ns", "labels": {"kubernetes.io/service-name": "web"}},
                "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"name": port, "port": 8080}]}))
            .unwrap()
        };
        let slices = [slice("web-a", "http"), slice("web-b", "metrics")];
        assert_eq!(ready_endpoints(&slices, "ns", "web", Some("http")), 1);
        assert_eq!(ready_endpoints(&slices, "ns", "web", Some("grpc")), 0);
        assert_eq!(ready_endpoints(&slices, "ns", "web", None), 2);
        assert_eq!(ready_endpoints(&slices, "other", "web", None), 0);
    }
}
