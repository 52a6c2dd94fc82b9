//! PATCH semantics (reference §7 item 3): JSON merge patch (RFC 7386), strategic merge accepted
//! for built-in kinds when it is a plain map, and what a patched object means for the model: the
//! effects it amounts to, plus the labels and annotations the model does not keep.

use super::kinds::Kind;
use ananke_core::config::{ObjectRef, WorkloadKind, WorkloadRef};
use ananke_core::observation::{FluxKind, FluxRef};
use ananke_core::Effect;
use serde_json::{Map, Value};

/// The annotation a Flux reconcile request sets.
pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

/// Apply merge patch `patch` to `target` (RFC 7386: objects merge, `null` deletes, the rest
/// replaces).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *target = patch.clone();
        return;
    };
    let mut t = match std::mem::take(target) {
        Value::Object(t) => t,
        _ => Map::new(),
    };
    for (key, value) in fields {
        if value.is_null() {
            t.remove(key);
        } else {
            merge_patch(t.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
    *target = Value::Object(t);
}

/// Fold merge patch `later` into merge patch `earlier`, so that applying the result equals
/// applying both in turn (`null`s are kept: they still delete).
pub fn compose(earlier: &mut Value, later: &Value) {
    let Value::Object(fields) = later else {
        *earlier = later.clone();
        return;
    };
    let mut e = match std::mem::take(earlier) {
        Value::Object(e) => e,
        _ => Map::new(),
    };
    for (key, value) in fields {
        match (e.get_mut(key), value) {
            (Some(slot @ Value::Object(_)), Value::Object(_)) => compose(slot, value),
            _ => {
                e.insert(key.clone(), value.clone());
            }
        }
    }
    *earlier = Value::Object(e);
}

/// Whether a strategic merge patch body holds an array of objects (list merge keys, directives):
/// only a plain map is the same as a merge patch.
#[must_use]
pub fn has_object_arrays(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.iter().any(|i| i.is_object() || has_object_arrays(i)),
        Value::Object(fields) => fields.values().any(has_object_arrays),
        _ => false,
    }
}

/// What a patch changes in the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mutation {
    /// Effects to apply to the model, in order.
    pub effects: Vec<Effect>,
    /// Labels and annotations to keep over every render (a merge patch of `metadata`).
    pub metadata: Option<Value>,
}

/// Remove the field at `path`, returning it.
fn take(v: &mut Value, path: &[&str]) -> Option<Value> {
    let (last, parents) = path.split_last()?;
    let mut cur = v;
    for p in parents {
        cur = cur.get_mut(*p)?;
    }
    cur.as_object_mut()?.remove(*last)
}

fn flag(v: Option<&Value>) -> Result<bool, String> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!("expected a boolean, got {other}")),
    }
}

fn text(v: Option<Value>, field: &str) -> Result<Option<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("{field}: expected a string, got {other}")),
    }
}

/// The first path where `a` and `b` differ.
fn first_difference(a: &Value, b: &Value, path: &str) -> String {
    if let (Value::Object(x), Value::Object(y)) = (a, b) {
        for key in x.keys().chain(y.keys()) {
            if x.get(key) != y.get(key) {
                return first_difference(
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                    &format!("{path}.{key}"),
                );
            }
        }
    }
    path.trim_start_matches('.').to_owned()
}

fn flux_kind(kind: Kind) -> Option<FluxKind> {
    match kind {
        Kind::GitRepository => Some(FluxKind::GitRepository),
        Kind::Kustomization => Some(FluxKind::Kustomization),
        Kind::HelmRelease => Some(FluxKind::HelmRelease),
        _ => None,
    }
}

/// Read the replicas a scale or workload patch asks for (`422` text when invalid).
///
/// # Errors
/// When `v` is not a non-negative integer.
pub fn replicas(v: Option<&Value>) -> Result<i32, String> {
    match v.and_then(Value::as_i64).map(i32::try_from) {
        Some(Ok(r)) if r >= 0 => Ok(r),
        _ => Err(format!(
            "spec.replicas: Invalid value: {}: must be greater than or equal to 0",
            v.cloned().unwrap_or(Value::Null)
        )),
    }
}

/// Both sides of a change: the object before and after the patch. Fields are taken out of both
/// as they are understood; whatever differs at the end is not modelled.
struct Sides {
    cur: Value,
    new: Value,
}

impl Sides {
    fn take(&mut self, path: &[&str]) -> (Option<Value>, Option<Value>) {
        (take(&mut self.cur, path), take(&mut self.new, path))
    }

    fn flag(&mut self, path: &[&str]) -> Result<(bool, bool), String> {
        let (a, b) = self.take(path);
        Ok((flag(a.as_ref())?, flag(b.as_ref())?))
    }

    fn text(&mut self, path: &[&str], field: &str) -> Result<(Option<String>, Option<String>), String> {
        let (a, b) = self.take(path);
        Ok((text(a, field)?, text(b, field)?))
    }
}

/// Cordon, uncordon and scale.
fn core_effects(kind: Kind, id: &ObjectRef, sides: &mut Sides, effects: &mut Vec<Effect>) -> Result<(), String> {
    match kind {
        Kind::Node => {
            let (was, is) = sides.flag(&["spec", "unschedulable"])?;
            if was != is {
                let node = id.name.clone();
                effects.push(if is { Effect::Cordon { node } } else { Effect::Uncordon { node } });
            }
        }
        Kind::Deployment | Kind::StatefulSet => {
            let (was, is) = sides.take(&["spec", "replicas"]);
            if was != is {
                let replicas = replicas(is.as_ref())?;
                let kind = if kind == Kind::StatefulSet { WorkloadKind::StatefulSet } else { WorkloadKind::Deployment };
                let workload = WorkloadRef { kind, namespace: id.namespace.clone(), name: id.name.clone() };
                effects.push(Effect::Scale { workload, replicas });
            }
        }
        _ => {}
    }
    Ok(())
}

/// Suspend, resume, source changes (`GitRepository`) and reconcile requests.
fn flux_effects(object: &FluxRef, sides: &mut Sides, effects: &mut Vec<Effect>) -> Result<(), String> {
    let (was, is) = sides.flag(&["spec", "suspend"])?;
    if was != is {
        let object = object.clone();
        effects.push(if is { Effect::SuspendFlux { object } } else { Effect::ResumeFlux { object } });
    }
    if object.kind == FluxKind::GitRepository {
        let url = sides.text(&["spec", "url"], "spec.url")?;
        let branch = sides.text(&["spec", "ref", "branch"], "spec.ref.branch")?;
        if let Some(u) =
            url.1.as_deref().filter(|u| !["http://", "https://", "ssh://"].iter().any(|p| u.starts_with(p)))
        {
            return Err(format!(
                "spec.url: Invalid value: \"{u}\": spec.url in body should match '^(http|https|ssh)://.*$'"
            ));
        }
        if url.0 != url.1 || branch.0 != branch.1 {
            let url = url.1.filter(|u| url.0.as_ref() != Some(u));
            let branch = branch.1.filter(|b| branch.0.as_ref() != Some(b));
            effects.push(Effect::SetFluxSource { object: object.clone(), url, branch });
        }
    }
    if let (before, Some(token)) = sides.text(&["metadata", "annotations", REQUESTED_AT], REQUESTED_AT)? {
        if before.as_ref() != Some(&token) {
            effects.push(Effect::RequestReconcile { object: object.clone(), token });
        }
    }
    Ok(())
}

/// The labels and annotations of `patch` the model does not keep (a Flux object's reconcile
/// request is the model's).
fn kept_metadata(kind: Kind, patch: &Value) -> Option<Value> {
    let mut metadata = Map::new();
    for field in ["labels", "annotations"] {
        if let Some(Value::Object(m)) = patch.get("metadata").and_then(|m| m.get(field)) {
            let kept: Map<String, Value> = m
                .iter()
                .filter(|(k, _)| k.as_str() != REQUESTED_AT || flux_kind(kind).is_none())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !kept.is_empty() {
                metadata.insert(field.to_owned(), Value::Object(kept));
            }
        }
    }
    (!metadata.is_empty()).then(|| serde_json::json!({ "metadata": metadata }))
}

/// The effects that turn object `current` into `patched`, for `kind` `namespace/name`; `patch` is
/// the client's body (its labels and annotations are kept as an overlay).
///
/// # Errors
/// A message for a `422 Invalid` when the patch changes something the model does not hold.
pub fn mutation(
    kind: Kind,
    id: &ObjectRef,
    current: &Value,
    patched: &Value,
    patch: &Value,
) -> Result<Mutation, String> {
    let mut sides = Sides { cur: current.clone(), new: patched.clone() };
    let mut effects = Vec::new();
    core_effects(kind, id, &mut sides, &mut effects)?;
    if let Some(fk) = flux_kind(kind) {
        flux_effects(&FluxRef { kind: fk, object: id.clone() }, &mut sides, &mut effects)?;
    }
    for path in [
        ["metadata", "labels"],
        ["metadata", "annotations"],
        ["metadata", "resourceVersion"],
        ["metadata", "managedFields"],
    ] {
        sides.take(&path);
    }
    sides.take(&["status"]);
    if sides.cur != sides.new {
        let field = first_difference(&sides.cur, &sides.new, "");
        return Err(format!("{field}: the simulator does not model changes to this field"));
    }
    Ok(Mutation { effects, metadata: kept_metadata(kind, patch) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_merges_objects_replaces_arrays_and_deletes_nulls() {
        let mut doc = json!({"spec": {"suspend": true, "ref": {"tag": "v1", "branch": "a"}, "list": [1, 2]}});
        merge_patch(&mut doc, &json!({"spec": {"suspend": null, "ref": {"tag": null, "branch": "main"}, "list": [3]}}));
        assert_eq!(doc, json!({"spec": {"ref": {"branch": "main"}, "list": [3]}}));
        let mut overlay = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        compose(&mut overlay, &json!({"metadata": {"labels": {"b": null}}}));
        assert_eq!(overlay, json!({"metadata": {"labels": {"a": "1", "b": null}}}));
        assert!(has_object_arrays(&json!({"spec": {"taints": [{"key": "x"}]}})));
        assert!(!has_object_arrays(&json!({"spec": {"unschedulable": true, "x": [1]}})));
    }

    #[test]
    fn patches_become_effects_and_unmodelled_changes_are_refused() {
        let id = ObjectRef { namespace: "flux-system".into(), name: "apps".into() };
        let cur = json!({"metadata": {"name": "apps"}, "spec": {"suspend": true, "interval": "10m"}});
        let patch = json!({"spec": {"suspend": null}, "metadata": {"annotations": {REQUESTED_AT: "t1", "note": "x"}}});
        let mut new = cur.clone();
        merge_patch(&mut new, &patch);
        let m = mutation(Kind::Kustomization, &id, &cur, &new, &patch).unwrap();
        assert_eq!(m.effects.len(), 2);
        assert!(matches!(&m.effects[1], Effect::RequestReconcile { token, .. } if token == "t1"));
        assert_eq!(m.metadata, Some(json!({"metadata": {"annotations": {"note": "x"}}})));
        let bad = json!({"spec": {"interval": "1m"}});
        let mut new = cur.clone();
        merge_patch(&mut new, &bad);
        assert!(mutation(Kind::Kustomization, &id, &cur, &new, &bad).unwrap_err().starts_with("spec.interval"));
        let scale = json!({"spec": {"replicas": -1}});
        let cur = json!({"spec": {"replicas": 2}});
        let mut new = cur.clone();
        merge_patch(&mut new, &scale);
        assert!(mutation(Kind::Deployment, &id, &cur, &new, &scale).is_err());
    }

    /// `mutation` of `kind` `namespace/name` for merge patch `patch` over `cur`.
    fn patched(kind: Kind, cur: &Value, patch: &Value) -> Result<Mutation, String> {
        let id = ObjectRef { namespace: "ns".into(), name: "obj".into() };
        let mut new = cur.clone();
        merge_patch(&mut new, patch);
        mutation(kind, &id, cur, &new, patch)
    }

    #[test]
    fn patches_turn_scalars_into_objects_and_a_scalar_patch_replaces() {
        let mut doc = json!({"a": 1});
        merge_patch(&mut doc, &json!({"a": {"b": 2}, "c": {"d": null, "e": 3}}));
        assert_eq!(doc, json!({"a": {"b": 2}, "c": {"e": 3}}));
        merge_patch(&mut doc, &json!("whole"));
        assert_eq!(doc, json!("whole"));
        let mut overlay = json!("scalar");
        compose(&mut overlay, &json!({"metadata": {"labels": {"a": null}}}));
        assert_eq!(overlay, json!({"metadata": {"labels": {"a": null}}}));
        compose(&mut overlay, &json!({"metadata": {"labels": "x"}}));
        assert_eq!(overlay, json!({"metadata": {"labels": "x"}}));
        compose(&mut overlay, &json!(null));
        assert_eq!(overlay, json!(null));
    }

    #[test]
    fn replicas_of_deployments_and_statefulsets_scale_their_own_kind() {
        let cur = json!({"spec": {"replicas": 2}});
        for (kind, workload_kind) in
            [(Kind::Deployment, WorkloadKind::Deployment), (Kind::StatefulSet, WorkloadKind::StatefulSet)]
        {
            let m = patched(kind, &cur, &json!({"spec": {"replicas": 0}})).unwrap();
            let workload = WorkloadRef { kind: workload_kind, namespace: "ns".into(), name: "obj".into() };
            assert_eq!(m.effects, vec![Effect::Scale { workload, replicas: 0 }]);
            assert_eq!(m.metadata, None);
            assert_eq!(patched(kind, &cur, &json!({"spec": {"replicas": 2}})).unwrap().effects, Vec::new());
        }
    }

    #[test]
    fn flux_patches_suspend_and_set_git_sources_and_wrong_types_are_refused() {
        let cur = json!({"spec": {"url": "https://git.example/a", "ref": {"branch": "main"}}});
        let m = patched(Kind::GitRepository, &cur, &json!({"spec": {"url": "ssh://git.example/b"}})).unwrap();
        let object =
            FluxRef { kind: FluxKind::GitRepository, object: ObjectRef { namespace: "ns".into(), name: "obj".into() } };
        let set = |url: Option<&str>, branch: Option<&str>| Effect::SetFluxSource {
            object: object.clone(),
            url: url.map(str::to_owned),
            branch: branch.map(str::to_owned),
        };
        assert_eq!(m.effects, vec![set(Some("ssh://git.example/b"), None)]);
        let m = patched(Kind::GitRepository, &cur, &json!({"spec": {"ref": {"branch": "dev"}}})).unwrap();
        assert_eq!(m.effects, vec![set(None, Some("dev"))]);
        let m = patched(Kind::GitRepository, &cur, &json!({"spec": {"suspend": true}})).unwrap();
        assert_eq!(m.effects, vec![Effect::SuspendFlux { object: object.clone() }], "an unchanged source sets nothing");
        let m = patched(Kind::HelmRelease, &json!({"spec": {}}), &json!({"spec": {"suspend": true}})).unwrap();
        let release = FluxRef { kind: FluxKind::HelmRelease, object: object.object.clone() };
        assert_eq!(m.effects, vec![Effect::SuspendFlux { object: release }]);
        assert_eq!(
            patched(Kind::GitRepository, &cur, &json!({"spec": {"url": "git.example/b"}})).unwrap_err(),
            "spec.url: Invalid value: \"git.example/b\": spec.url in body should match '^(http|https|ssh)://.*$'"
        );
        assert_eq!(
            patched(Kind::GitRepository, &cur, &json!({"spec": {"url": 5}})).unwrap_err(),
            "spec.url: expected a string, got 5"
        );
        assert_eq!(
            patched(Kind::Kustomization, &cur, &json!({"spec": {"suspend": "yes"}})).unwrap_err(),
            "expected a boolean, got \"yes\""
        );
    }
}
