//! Rendering the model's Flux objects (reference §2.10–2.12): `GitRepositories`, `Kustomizations`
//! and `HelmReleases` with their spec, the labels of the Kustomization that applied them, the
//! reconcile request annotation, and a status with conditions and generations.

use super::kinds::Kind;
use super::objects::{condition_status, Keyed};
use super::patch::REQUESTED_AT;
use ananke_core::observation::{FluxKind, FluxObject, Observation};
use serde_json::{json, Value};

fn render(f: &FluxObject, kind: Kind) -> Value {
    let (ns, name) = (&f.id.object.namespace, &f.id.object.name);
    let mut meta = json!({"name": name, "namespace": ns, "generation": f.generation});
    if let Some(parent) = &f.managed_by {
        meta["labels"] = json!({"kustomize.toolkit.fluxcd.io/name": parent.name, "kustomize.toolkit.fluxcd.io/namespace": parent.namespace});
    }
    if let Some(token) = &f.requested_at {
        meta["annotations"] = json!({ REQUESTED_AT: token });
    }
    let depends_on: Vec<Value> =
        f.depends_on.iter().map(|d| json!({"name": d.name, "namespace": d.namespace})).collect();
    let mut spec = match f.id.kind {
        FluxKind::GitRepository => {
            let mut spec = json!({"url": f.url.clone().unwrap_or_default(), "interval": "1m", "timeout": "60s", "secretRef": {"name": name}});
            spec["ref"] = f.branch.as_ref().map_or_else(|| json!({}), |b| json!({ "branch": b }));
            spec
        }
        FluxKind::Kustomization => {
            json!({"interval": "10m", "path": format!("./{name}"), "prune": true, "wait": true, "timeout": "5m",
            "sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}})
        }
        FluxKind::HelmRelease => json!({"interval": "30m", "releaseName": name,
            "chart": {"spec": {"chart": name, "sourceRef": {"kind": "HelmRepository", "name": "charts", "namespace": "flux-system"}}}}),
    };
    spec["suspend"] = json!(f.suspend);
    if !depends_on.is_empty() {
        spec["dependsOn"] = Value::Array(depends_on);
    }
    let conditions: Vec<Value> = f
        .conditions
        .iter()
        .map(|c| {
            let mut v = json!({"type": c.type_, "status": condition_status(c.status), "reason": c.reason, "message": c.message});
            if c.observed_generation != 0 {
                v["observedGeneration"] = json!(c.observed_generation);
            }
            v
        })
        .collect();
    let mut status = json!({ "conditions": conditions });
    if let Some(og) = f.observed_generation {
        status["observedGeneration"] = json!(og);
    }
    if let Some(handled) = &f.last_handled_reconcile_at {
        status["lastHandledReconcileAt"] = json!(handled);
    }
    if let (FluxKind::GitRepository, Some(branch)) = (f.id.kind, &f.branch) {
        status["artifact"] = json!({"path": format!("gitrepository/{ns}/{name}/5eed.tar.gz"), "revision": format!("{branch}@sha1:5eed"),
            "url": format!("http://source-controller.flux-system.svc.cluster.local./gitrepository/{ns}/{name}/5eed.tar.gz"),
            "digest": "sha256:5eed", "lastUpdateTime": "2026-01-01T00:00:00Z"});
    }
    json!({"apiVersion": kind.api_version(), "kind": kind.name(), "metadata": meta, "spec": spec, "status": status})
}

/// The Flux objects of `kind` (one of the three Flux kinds).
#[must_use]
pub fn objects(obs: &Observation, kind: Kind) -> Vec<Keyed> {
    let Some(flux) = &obs.flux else { return Vec::new() };
    let list = match kind {
        Kind::GitRepository => &flux.sources,
        Kind::Kustomization => &flux.kustomizations,
        Kind::HelmRelease => &flux.helm_releases,
        _ => return Vec::new(),
    };
    list.iter().map(|f| ((f.id.object.namespace.clone(), f.id.object.name.clone()), render(f, kind))).collect()
}
