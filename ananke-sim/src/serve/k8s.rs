//! The Kubernetes API requests (reference §1 and §7): version and health, list (with selectors,
//! `limit` and `continue`), get, merge and strategic merge PATCH, the scale subresource, and
//! eviction with PDB semantics. Watches are handed to [`super::watch`].

use super::kinds::{parse_path, Kind, Route, Target};
use super::patch::{has_object_arrays, merge_patch, mutation, replicas};
use super::select::Selector;
use super::state::{Evicted, State};
use super::store::status;
use super::table;
use super::watch::WatchSpec;
use ananke_core::config::{ObjectRef, WorkloadKind, WorkloadRef};
use ananke_core::machine::EffectOutcome;
use ananke_core::Effect;
use bytes::Bytes;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::identity;
use std::time::Duration;

/// What to answer.
#[derive(Debug)]
pub enum Reply {
    /// A JSON body with a status code.
    Json(u16, Bytes),
    /// A plain-text body.
    Text(u16, &'static str),
    /// A watch stream.
    Watch(WatchSpec),
}

/// One request, as the handler sees it.
#[derive(Debug)]
pub struct Request<'a> {
    /// Method (`GET`, `PATCH`, ...).
    pub method: &'a str,
    /// Path without the query.
    pub path: &'a str,
    /// Decoded query pairs (empty pairs dropped).
    pub query: HashMap<String, String>,
    /// `Content-Type`.
    pub content_type: &'a str,
    /// `Accept` (`as=Table` asks for server-side printing, [`super::table`]).
    pub accept: &'a str,
    /// Body.
    pub body: &'a [u8],
}

/// Decode a query string with form-urlencoded rules (`+` is a space), ignoring empty pairs.
#[must_use]
pub fn parse_query(query: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn json_reply(code: u16, v: &Value) -> Reply {
    Reply::Json(code, Bytes::from(serde_json::to_vec(v).unwrap_or_default()))
}

/// A `Status` reply.
#[must_use]
pub fn fail(code: u16, reason: &str, message: &str) -> Reply {
    json_reply(code, &status(code, reason, message, None))
}

fn not_found(route: &Route, name: &str) -> Reply {
    let details = json!({"name": name, "group": route.kind.group(), "kind": route.kind.plural()});
    let message = format!("{} \"{name}\" not found", route.kind.plural());
    json_reply(404, &status(404, "NotFound", &message, Some(details)))
}

/// Answer one request against `state` (already refreshed by the caller).
pub fn handle(state: &mut State, req: &Request<'_>) -> Reply {
    if let Some((code, injected)) = state.take_injection(req.method, req.path) {
        return json_reply(code, &injected);
    }
    if !state.model.api_reachable() || state.model.api_request_fails() {
        return fail(503, "ServiceUnavailable", "the server is currently unable to handle the request");
    }
    let route = match parse_path(req.path, state.flux_installed) {
        Target::Version => {
            return json_reply(
                200,
                &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.5+k3s1", "gitCommit": "ananke-sim",
                "gitTreeState": "clean", "buildDate": "2025-09-01T00:00:00Z", "goVersion": "go1.24.6", "compiler": "gc", "platform": "linux/arm64"}),
            )
        }
        Target::Health => return Reply::Text(200, "ok"),
        Target::Discovery(which) if req.method == "GET" => {
            return json_reply(200, &super::discovery::document(&which, state.flux_installed))
        }
        Target::Discovery(_) => return fail(405, "MethodNotAllowed", "discovery documents are read with GET"),
        Target::Unknown => return Reply::Text(404, "404 page not found"),
        Target::UnknownResource => return fail(404, "NotFound", "the server could not find the requested resource"),
        Target::Resource(route) => route,
    };
    let sub = route.subresource.as_deref();
    match (req.method, route.name.as_deref(), sub) {
        ("GET", None, None) if req.query.get("watch").is_some_and(|w| w == "true" || w == "1") => {
            watch(state, &route, req)
        }
        ("GET", None, None) => list(state, &route, req),
        ("GET", Some(name), None) => {
            match state.store.get(route.kind, route.namespace.as_deref().unwrap_or_default(), name) {
                Some(s) if table::wants_table(req.accept) => table_reply(state, route.kind, &[&s.obj], req),
                Some(s) => Reply::Json(200, s.json.clone()),
                None => not_found(&route, name),
            }
        }
        ("GET" | "PATCH" | "PUT", Some(name), Some("scale"))
            if matches!(route.kind, Kind::Deployment | Kind::StatefulSet) =>
        {
            scale(state, &route, name, req).unwrap_or_else(identity)
        }
        ("PATCH", Some(name), None) => patch(state, &route, name, req).unwrap_or_else(identity),
        ("POST", Some(name), Some("eviction")) if route.kind == Kind::Pod => evict(state, &route, name, req),
        (_, _, Some(_)) => fail(404, "NotFound", "the server could not find the requested resource"),
        (method, _, _) => fail(
            405,
            "MethodNotAllowed",
            &format!("the server does not allow this method on the requested resource ({method})"),
        ),
    }
}

fn selector(route: &Route, req: &Request<'_>) -> Result<Selector, Reply> {
    Selector::parse(
        route.kind,
        req.query.get("labelSelector").map(String::as_str),
        req.query.get("fieldSelector").map(String::as_str),
    )
    .map_err(|m| fail(400, "BadRequest", &m))
}

fn list(state: &State, route: &Route, req: &Request<'_>) -> Reply {
    let sel = match selector(route, req) {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    let rv = state.store.rv();
    let offset =
        match req.query.get("continue").map(|c| c.split_once('-').map(|(r, o)| (r.parse::<u64>(), o.parse::<usize>())))
        {
            None => 0,
            Some(Some((Ok(_), Ok(o)))) => o,
            Some(_) => return fail(400, "BadRequest", "invalid continue token"),
        };
    let limit = req.query.get("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0);
    let items =
        state.store.list(route.kind, route.namespace.as_deref()).filter(|s| sel.is_empty() || sel.matches(&s.obj));
    if table::wants_table(req.accept) {
        let mut objects: Vec<&Value> =
            items.skip(offset).take(limit.map_or(usize::MAX, |l| l + 1)).map(|s| &s.obj).collect();
        let more = limit.is_some_and(|l| objects.len() > l);
        objects.truncate(limit.unwrap_or(usize::MAX));
        let mut reply = table_value(state, route.kind, &objects, req);
        if more {
            reply["metadata"]["continue"] = json!(format!("{rv}-{}", offset + objects.len()));
        }
        return json_reply(200, &reply);
    }
    let mut body = Vec::with_capacity(4096);
    let mut count = 0;
    let mut more = false;
    body.extend_from_slice(br#"{"items":["#);
    for s in items.skip(offset) {
        if limit.is_some_and(|l| count == l) {
            more = true;
            break;
        }
        if count > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&s.json);
        count += 1;
    }
    let mut meta = json!({ "resourceVersion": rv.to_string() });
    if more {
        meta["continue"] = json!(format!("{rv}-{}", offset + count));
    }
    let head =
        json!({"apiVersion": route.kind.api_version(), "kind": format!("{}List", route.kind.name()), "metadata": meta});
    let head = serde_json::to_string(&head).unwrap_or_default();
    body.extend_from_slice(b"],");
    body.extend_from_slice(head.trim_start_matches('{').as_bytes());
    Reply::Json(200, Bytes::from(body))
}

/// `objects` as a `Table` (the store's resourceVersion; ages on the model's clock, the one its
/// `creationTimestamp`s are on).
fn table_reply(state: &State, kind: Kind, objects: &[&Value], req: &Request<'_>) -> Reply {
    json_reply(200, &table_value(state, kind, objects, req))
}

fn table_value(state: &State, kind: Kind, objects: &[&Value], req: &Request<'_>) -> Value {
    let include = table::Include::from_query(req.query.get("includeObject").map(String::as_str));
    let rv = state.store.rv().to_string();
    table::table(kind, objects, &rv, include, super::state::wall(state.now()))
}

fn watch(state: &State, route: &Route, req: &Request<'_>) -> Reply {
    let sel = match selector(route, req) {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    let rv = match req.query.get("resourceVersion").map(String::as_str) {
        None | Some("" | "0") => None,
        Some(text) => match text.parse::<u64>() {
            Ok(rv) => Some(rv),
            Err(_) => return fail(400, "BadRequest", &format!("invalid resource version: {text}")),
        },
    };
    let timeout = req.query.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).unwrap_or(1800);
    let _ = state;
    Reply::Watch(WatchSpec {
        kind: route.kind,
        namespace: route.namespace.clone(),
        selector: sel,
        rv,
        bookmarks: req.query.get("allowWatchBookmarks").is_some_and(|b| b == "true"),
        initial_end: req.query.get("sendInitialEvents").is_some_and(|b| b == "true"),
        timeout: Duration::from_secs(timeout),
        table: table::wants_table(req.accept)
            .then(|| table::Include::from_query(req.query.get("includeObject").map(String::as_str))),
    })
}

/// Check the patch content type for `kind`.
fn patch_body(kind: Kind, req: &Request<'_>) -> Result<Value, Reply> {
    let media = req.content_type.split(';').next().unwrap_or_default().trim();
    let strategic = media == "application/strategic-merge-patch+json";
    if !(media == "application/merge-patch+json" || strategic && !kind.is_custom()) {
        return Err(fail(415, "UnsupportedMediaType", &format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {media})")));
    }
    let body: Value =
        serde_json::from_slice(req.body).map_err(|e| fail(400, "BadRequest", &format!("error decoding patch: {e}")))?;
    if !body.is_object() {
        return Err(fail(400, "BadRequest", "the patch must be a JSON object"));
    }
    if strategic && has_object_arrays(&body) {
        return Err(fail(415, "UnsupportedMediaType", "the simulator accepts only plain-map strategic merge patches"));
    }
    Ok(body)
}

fn run_effects(state: &mut State, effects: &[Effect]) -> Result<(), Reply> {
    for effect in effects {
        match state.apply(effect) {
            EffectOutcome::Ok | EffectOutcome::BlockedByPdb { .. } => {}
            EffectOutcome::Failed { transient: true, message } => {
                return Err(fail(503, "ServiceUnavailable", &message))
            }
            EffectOutcome::Failed { transient: false, message } => return Err(fail(422, "Invalid", &message)),
        }
    }
    Ok(())
}

fn dry_run(req: &Request<'_>) -> bool {
    req.query.get("dryRun").is_some_and(|d| d == "All")
}

/// A reply either way: `Err` carries the failure `Status` early.
type Answer = Result<Reply, Reply>;

fn patch(state: &mut State, route: &Route, name: &str, req: &Request<'_>) -> Answer {
    let ns = route.namespace.clone().unwrap_or_default();
    let current =
        state.store.get(route.kind, &ns, name).map(|s| s.obj.clone()).ok_or_else(|| not_found(route, name))?;
    let body = patch_body(route.kind, req)?;
    if body
        .pointer("/metadata/resourceVersion")
        .is_some_and(|rv| Some(rv) != current.pointer("/metadata/resourceVersion"))
    {
        return Err(fail(409, "Conflict", &format!("Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", route.kind.plural())));
    }
    let mut patched = current.clone();
    merge_patch(&mut patched, &body);
    let id = ObjectRef { namespace: ns.clone(), name: name.to_owned() };
    let change = mutation(route.kind, &id, &current, &patched, &body)
        .map_err(|message| fail(422, "Invalid", &format!("{} \"{name}\" is invalid: {message}", route.kind.name())))?;
    if dry_run(req) {
        return Ok(json_reply(200, &patched));
    }
    run_effects(state, &change.effects)?;
    if let Some(meta) = &change.metadata {
        state.add_overlay(route.kind, &ns, name, meta);
    }
    state.refresh();
    // Patches never remove an object; the lookup is for its new rendering.
    Ok(state
        .store
        .get(route.kind, &ns, name)
        .map_or_else(|| not_found(route, name), |s| Reply::Json(200, s.json.clone())))
}

fn scale_of(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "resourceVersion": meta["resourceVersion"], "uid": meta["uid"]},
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": format!("app={}", meta["name"].as_str().unwrap_or_default())}})
}

fn scale(state: &mut State, route: &Route, name: &str, req: &Request<'_>) -> Answer {
    let ns = route.namespace.clone().unwrap_or_default();
    let current =
        state.store.get(route.kind, &ns, name).map(|s| scale_of(&s.obj)).ok_or_else(|| not_found(route, name))?;
    let wanted = match req.method {
        "GET" => return Ok(json_reply(200, &current)),
        "PUT" => serde_json::from_slice::<Value>(req.body).map_err(|e| fail(400, "BadRequest", &e.to_string()))?,
        _ => {
            let mut next = current.clone();
            merge_patch(&mut next, &patch_body(route.kind, req)?);
            next
        }
    };
    let replicas = replicas(wanted.pointer("/spec/replicas"))
        .map_err(|message| fail(422, "Invalid", &format!("Scale.autoscaling \"{name}\" is invalid: {message}")))?;
    if dry_run(req) {
        return Ok(json_reply(200, &wanted));
    }
    let kind = if route.kind == Kind::Deployment { WorkloadKind::Deployment } else { WorkloadKind::StatefulSet };
    let effect =
        Effect::Scale { workload: WorkloadRef { kind, namespace: ns.clone(), name: name.to_owned() }, replicas };
    run_effects(state, &[effect])?;
    state.refresh();
    // Scaling never removes the workload; the lookup is for its new rendering.
    Ok(state
        .store
        .get(route.kind, &ns, name)
        .map_or_else(|| not_found(route, name), |s| json_reply(200, &scale_of(&s.obj))))
}

fn evict(state: &mut State, route: &Route, name: &str, req: &Request<'_>) -> Reply {
    let ns = route.namespace.clone().unwrap_or_default();
    let body: Value = match serde_json::from_slice(req.body) {
        Ok(b) => b,
        Err(e) => return fail(400, "BadRequest", &format!("error decoding eviction: {e}")),
    };
    if body.pointer("/metadata/name").and_then(Value::as_str).is_some_and(|n| n != name) {
        return fail(400, "BadRequest", "name in URL does not match name in Eviction object");
    }
    if dry_run(req) {
        return json_reply(201, &status(201, "", "", None));
    }
    match state.evict(&ns, name) {
        Evicted::Done => {
            state.refresh();
            json_reply(201, &status(201, "", "", None))
        }
        Evicted::NotFound => not_found(route, name),
        Evicted::Blocked { pdb, min_available, healthy } => {
            let details = json!({"causes": [{"reason": "DisruptionBudget",
                "message": format!("The disruption budget {pdb} needs {min_available} healthy pods and has {healthy} currently")}]});
            json_reply(
                429,
                &status(
                    429,
                    "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    Some(details),
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ananke_core::config::K3sRole;
    use ananke_core::Time;

    /// The code and `Status` of a failed `run_effects`.
    fn failure(outcome: Result<(), Reply>) -> (u16, Value) {
        let Err(Reply::Json(code, body)) = outcome else { panic!("expected a Status, got {outcome:?}") };
        (code, serde_json::from_slice(&body).expect("a JSON Status"))
    }

    #[test]
    fn failed_effects_answer_422_when_permanent_and_503_when_transient() {
        let mut state = State::new(crate::builtin("titan-lab").expect("built in"), 0, 0.0, 64, true);
        assert!(run_effects(&mut state, &[Effect::Cordon { node: "titan-03".into() }]).is_ok());
        let (code, status) = failure(run_effects(&mut state, &[Effect::Cordon { node: "no-such-node".into() }]));
        assert_eq!(
            (code, status["reason"].as_str(), status["message"].as_str()),
            (422, Some("Invalid"), Some("nodes \"no-such-node\" not found"))
        );
        let now = state.now();
        for node in ["titan-db", "titan-01"] {
            let stop = Effect::StopK3s { node: node.into(), role: K3sRole::Server };
            assert_eq!(state.model.apply(now, &stop), EffectOutcome::Ok);
        }
        state.clock.jump(Time(60_000));
        state.refresh();
        assert!(!state.model.api_reachable(), "no server quorum, no API");
        let (code, status) = failure(run_effects(&mut state, &[Effect::Uncordon { node: "titan-03".into() }]));
        assert_eq!((code, status["reason"].as_str()), (503, Some("ServiceUnavailable")));
        assert!(status["message"].as_str().is_some_and(|m| m.contains("connection refused")), "{status}");
    }
}
