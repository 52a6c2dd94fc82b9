//! Effects through the API, one attempt each (the runner owns retries): cordon and uncordon,
//! scale, drain by eviction, and Flux suspend, resume, reconcile requests and source changes.

use super::flux::{self, REQUESTED_AT};
use super::map;
use super::{CallFailure, KubeCluster};
use crate::config::WorkloadKind;
use crate::config::WorkloadRef;
use crate::effect::Effect;
use crate::machine::EffectOutcome;
use crate::observation::{FluxRef, CORDONED_BY_ANANKE, REPLICAS_BEFORE, SUSPENDED_BY_ANANKE};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DynamicObject, EvictParams, ListParams, Patch, PatchParams};
use kube::core::Status;
use serde_json::{json, Value};

fn failed(transient: bool, message: String) -> EffectOutcome {
    EffectOutcome::Failed { transient, message }
}

/// A fresh reconcile token: the wall clock in RFC 3339 with nanoseconds, as `flux reconcile` sets.
fn token() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

/// The PDB name a 429 eviction `Status` gives ("The disruption budget NAME needs ...").
fn pdb_in(status: &Status) -> Option<String> {
    let causes = status.details.as_ref().map(|d| d.causes.as_slice()).unwrap_or_default();
    causes
        .iter()
        .find_map(|c| c.message.strip_prefix("The disruption budget ")?.split_whitespace().next().map(str::to_owned))
}

impl KubeCluster {
    /// Execute `effect` once. API errors become [`EffectOutcome::Failed`], transient or not; an
    /// effect that is not an API effect fails permanently.
    pub async fn execute(&self, effect: &Effect) -> EffectOutcome {
        let result = match effect {
            Effect::Cordon { node } => self.cordon(node, true).await,
            Effect::Uncordon { node } => self.cordon(node, false).await,
            Effect::Drain { node } => return self.drain(node).await,
            Effect::Scale { workload, replicas } => match workload.kind {
                WorkloadKind::Deployment => {
                    self.scale(
                        Api::<Deployment>::namespaced(self.client.clone(), &workload.namespace),
                        workload,
                        *replicas,
                    )
                    .await
                }
                WorkloadKind::StatefulSet => {
                    self.scale(
                        Api::<StatefulSet>::namespaced(self.client.clone(), &workload.namespace),
                        workload,
                        *replicas,
                    )
                    .await
                }
                WorkloadKind::DaemonSet => {
                    return failed(
                        false,
                        format!("scale {workload} to {replicas}: a DaemonSet has no scale subresource"),
                    )
                }
            },
            Effect::SuspendFlux { object } => {
                let patch =
                    json!({"spec": {"suspend": true}, "metadata": {"annotations": {SUSPENDED_BY_ANANKE: "true"}}});
                self.patch_flux(object, "suspend", patch).await
            }
            Effect::ResumeFlux { object } => {
                // Resume and ask for a reconcile in one patch, as `flux resume` does.
                let annotations = json!({REQUESTED_AT: token(), SUSPENDED_BY_ANANKE: null});
                let patch = json!({"spec": {"suspend": false}, "metadata": {"annotations": annotations}});
                self.patch_flux(object, "resume", patch).await
            }
            Effect::RequestReconcile { object, token } => {
                self.patch_flux(
                    object,
                    "request a reconcile of",
                    json!({"metadata": {"annotations": {REQUESTED_AT: token}}}),
                )
                .await
            }
            Effect::SetFluxSource { object, url, branch } => {
                let mut spec = json!({});
                if let Some(url) = url {
                    spec["url"] = json!(url);
                }
                if let Some(branch) = branch {
                    // A tag, semver, name or commit would win over the branch: clear them (F8).
                    spec["ref"] = json!({"branch": branch, "tag": null, "semver": null, "name": null, "commit": null});
                }
                self.patch_flux(object, "set the source of", json!({ "spec": spec })).await
            }
            other => return failed(false, format!("{} is not a Kubernetes API effect", other.describe())),
        };
        match result {
            Ok(()) => EffectOutcome::Ok,
            Err(f) if f.is_not_found() => failed(false, format!("{} (the object is gone)", f.message)),
            Err(f) => f.outcome(),
        }
    }

    /// Cordon (or uncordon) `node` and mark it as cordoned by ananke (or drop the mark), in one
    /// merge patch, as `kubectl cordon` patches `spec.unschedulable`.
    async fn cordon(&self, node: &str, on: bool) -> Result<(), CallFailure> {
        let api: Api<Node> = Api::all(self.client.clone());
        let (verb, mark) = if on { ("cordon", json!("true")) } else { ("uncordon", Value::Null) };
        let patch = json!({"spec": {"unschedulable": on}, "metadata": {"annotations": {CORDONED_BY_ANANKE: mark}}});
        let what = format!("{verb} node {node}");
        self.bounded(&what, api.patch(node, &PatchParams::default(), &Patch::Merge(patch))).await.map(drop)
    }

    /// Scale `workload` to `replicas` with one merge patch of the object. Scaling to 0 also keeps
    /// the count before on the object ([`REPLICAS_BEFORE`], unless an earlier scale-down already
    /// did), so a lost journal can be rebuilt from the cluster; scaling up removes it.
    async fn scale<K>(&self, api: Api<K>, workload: &WorkloadRef, replicas: i32) -> Result<(), CallFailure>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
    {
        let what = format!("scale {workload} to {replicas}");
        let mut patch = json!({ "spec": { "replicas": replicas } });
        if replicas == 0 {
            let object = serde_json::to_value(self.bounded(&what, api.get(&workload.name)).await?).unwrap_or_default();
            let before = object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            // From 0 (a resumed run) the mark of the first scale-down stays as it is.
            if before > 0 {
                patch["metadata"] = json!({"annotations": {REPLICAS_BEFORE: before.to_string()}});
            }
        } else {
            patch["metadata"] = json!({"annotations": {REPLICAS_BEFORE: null}});
        }
        self.bounded(&what, api.patch(&workload.name, &PatchParams::default(), &Patch::Merge(patch))).await.map(drop)
    }

    async fn patch_flux(&self, object: &FluxRef, verb: &str, patch: Value) -> Result<(), CallFailure> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &object.object.namespace, &flux::resource(object.kind));
        let what = format!("{verb} {object}");
        self.bounded(&what, api.patch(&object.object.name, &PatchParams::default(), &Patch::Merge(patch)))
            .await
            .map(drop)
    }

    /// Evict every pod a drain must evict from `node`, one at a time. A PDB refusal (429) makes
    /// the outcome [`EffectOutcome::BlockedByPdb`] once the others were tried; a pod already gone
    /// (404) is evicted; a 2xx `Failure` status (several PDBs) is a failure (pitfall 24).
    async fn drain(&self, node: &str) -> EffectOutcome {
        let all: Api<Pod> = Api::all(self.client.clone());
        let params = ListParams::default().fields(&format!("spec.nodeName={node}"));
        let pods = match self.bounded(&format!("list pods on {node}"), all.list(&params)).await {
            Ok(list) => list.items,
            Err(f) => return f.outcome(),
        };
        let (mut blocked, mut failure) = (None, None);
        for pod in pods.iter().filter(|p| map::evictable(p)) {
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
            let what = format!("evict pod {ns}/{name}");
            // A PDB refusal is kept as the `Status` that may name the PDB; every other error is a
            // `CallFailure` like any call's (timeouts included).
            let eviction = async {
                match api.evict(&name, &EvictParams::default()).await {
                    Err(kube::Error::Api(status)) if status.code == 429 => Ok(Err(status)),
                    other => other.map(Ok),
                }
            };
            match self.bounded(&what, eviction).await {
                Ok(Ok(status)) if status.is_failure() => {
                    let transient = status.code == 429 || status.code >= 500;
                    failure = Some(failed(
                        transient,
                        format!("{what}: {} {}: {}", status.code, status.reason, status.message),
                    ));
                }
                Ok(Ok(_)) => {}
                Ok(Err(refusal)) => {
                    let pdb = match pdb_in(&refusal) {
                        Some(name) => format!("{ns}/{name}"),
                        None => self.pdb_selecting(pod).await.unwrap_or_else(|| format!("{ns}/(unnamed)")),
                    };
                    blocked = Some(pdb);
                }
                Err(f) if f.is_not_found() => {}
                Err(f) => failure = Some(f.outcome()),
            }
        }
        match (blocked, failure) {
            (Some(pdb), _) => EffectOutcome::BlockedByPdb { pdb },
            (None, Some(f)) => f,
            (None, None) => EffectOutcome::Ok,
        }
    }

    /// The PDB selecting `pod`, found by listing its namespace's PDBs (when a refusal names none).
    async fn pdb_selecting(&self, pod: &Pod) -> Option<String> {
        let ns = pod.metadata.namespace.clone()?;
        let api: Api<PodDisruptionBudget> = Api::namespaced(self.client.clone(), &ns);
        let list = self.bounded("list poddisruptionbudgets", api.list(&ListParams::default())).await.ok()?;
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        list.items
            .iter()
            .find(|p| p.spec.as_ref().and_then(|s| s.selector.as_ref()).is_some_and(|s| map::selects(s, &labels)))
            .map(|p| format!("{ns}/{}", p.metadata.name.clone().unwrap_or_default()))
    }
}
