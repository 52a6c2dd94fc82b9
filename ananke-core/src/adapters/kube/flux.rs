//! Flux objects as dynamic objects with static API resources (no discovery, reference §1.5 and
//! §1.7 O2): `GitRepositories`, `Kustomizations` and `HelmReleases`, and what they manage (the
//! `kustomize.toolkit.fluxcd.io/*` and `helm.toolkit.fluxcd.io/*` labels Flux puts on what it
//! applies).

use super::map::condition_status;
use crate::config::{ObjectRef, WorkloadRef};
use crate::observation::{Condition, FluxKind, FluxObject, FluxRef, Workload, SUSPENDED_BY_ANANKE};
use kube::api::{ApiResource, DynamicObject};
use serde_json::Value;
use std::collections::HashMap;

/// The reconcile request annotation.
pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

/// The API resource of a Flux kind.
#[must_use]
pub fn resource(kind: FluxKind) -> ApiResource {
    let (group, version, plural) = match kind {
        FluxKind::GitRepository => ("source.toolkit.fluxcd.io", "v1", "gitrepositories"),
        FluxKind::Kustomization => ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations"),
        FluxKind::HelmRelease => ("helm.toolkit.fluxcd.io", "v2", "helmreleases"),
    };
    ApiResource {
        group: group.to_owned(),
        version: version.to_owned(),
        api_version: format!("{group}/{version}"),
        kind: kind.as_str().to_owned(),
        plural: plural.to_owned(),
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

/// Workloads by the Flux object that applied them: `(label prefix, namespace, name)`.
#[must_use]
pub fn managed(
    workloads: &[(Workload, Option<std::collections::BTreeMap<String, String>>)],
) -> HashMap<(&'static str, String, String), Vec<WorkloadRef>> {
    let mut out: HashMap<(&'static str, String, String), Vec<WorkloadRef>> = HashMap::new();
    for (w, labels) in workloads {
        let Some(labels) = labels else { continue };
        for prefix in ["kustomize", "helm"] {
            let get = |field: &str| labels.get(&format!("{prefix}.toolkit.fluxcd.io/{field}")).cloned();
            if let (Some(name), Some(namespace)) = (get("name"), get("namespace")) {
                out.entry((prefix, namespace, name)).or_default().push(w.id.clone());
            }
        }
    }
    out
}

/// One Flux object of `kind`.
#[must_use]
pub fn object(
    kind: FluxKind,
    o: &DynamicObject,
    managed: &HashMap<(&'static str, String, String), Vec<WorkloadRef>>,
) -> FluxObject {
    let namespace = o.metadata.namespace.clone().unwrap_or_default();
    let name = o.metadata.name.clone().unwrap_or_default();
    let spec = o.data.get("spec");
    let status = o.data.get("status");
    let label = |k: &str| o.metadata.labels.as_ref().and_then(|l| l.get(k)).cloned();
    let managed_by = match (label("kustomize.toolkit.fluxcd.io/name"), label("kustomize.toolkit.fluxcd.io/namespace")) {
        (Some(name), Some(namespace)) => Some(ObjectRef { namespace, name }),
        _ => None,
    };
    let conditions = status
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| Condition {
            type_: text(c.get("type")).unwrap_or_default(),
            status: condition_status(c.get("status").and_then(Value::as_str).unwrap_or_default()),
            reason: text(c.get("reason")).unwrap_or_default(),
            message: text(c.get("message")).unwrap_or_default(),
            observed_generation: c.get("observedGeneration").and_then(Value::as_i64).unwrap_or(0),
        })
        .collect();
    let depends_on = spec
        .and_then(|s| s.get("dependsOn"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| ObjectRef {
            namespace: text(d.get("namespace")).unwrap_or_else(|| namespace.clone()),
            name: text(d.get("name")).unwrap_or_default(),
        })
        .collect();
    let source = kind == FluxKind::GitRepository;
    let prefix = if kind == FluxKind::HelmRelease { "helm" } else { "kustomize" };
    let applied = if source {
        Vec::new()
    } else {
        managed.get(&(prefix, namespace.clone(), name.clone())).cloned().unwrap_or_default()
    };
    FluxObject {
        generation: o.metadata.generation.unwrap_or(0),
        observed_generation: status.and_then(|s| s.get("observedGeneration")).and_then(Value::as_i64),
        suspend: spec.and_then(|s| s.get("suspend")).and_then(Value::as_bool).unwrap_or(false),
        conditions,
        depends_on,
        url: if source { text(spec.and_then(|s| s.get("url"))) } else { None },
        branch: if source { text(spec.and_then(|s| s.pointer("/ref/branch"))) } else { None },
        managed_by,
        manages: applied,
        requested_at: o.metadata.annotations.as_ref().and_then(|a| a.get(REQUESTED_AT)).cloned(),
        last_handled_reconcile_at: text(status.and_then(|s| s.get("lastHandledReconcileAt"))),
        suspended_by_ananke: o.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(SUSPENDED_BY_ANANKE)),
        id: FluxRef { kind, object: ObjectRef { namespace, name } },
    }
}
