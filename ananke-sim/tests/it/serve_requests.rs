//! `ananke-sim serve`'s answers to requests off the happy path: health and unknown paths, methods
//! and subresources it does not serve, malformed bodies and parameters, dry runs, and watches that
//! stream lists or fall behind the change log. Sent raw where a typed kube client would refuse to.

use super::serve::{api_code, options, start};
use ananke_sim::serve::ServeOptions;
use futures_util::StreamExt;
use http_body_util::BodyExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, EvictParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::Client;
use serde_json::{json, Value};
use std::time::Duration;

/// Send `method uri` with `body` as `content_type`; the status and the body text.
async fn raw(client: &Client, method: &str, uri: &str, content_type: &str, body: &str) -> (u16, String) {
    let request = hyper::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(kube::client::Body::from(body.as_bytes().to_vec()))
        .expect("a valid request");
    let response = client.send(request).await.expect("an answer");
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.expect("a body").to_bytes();
    (status, String::from_utf8(bytes.to_vec()).expect("UTF-8"))
}

/// The code, reason and message of a `Status` body.
fn status(body: &str) -> (u64, String, String) {
    let v: Value = serde_json::from_str(body).expect("a JSON Status");
    assert_eq!(v["kind"], "Status", "{body}");
    let text = |f: &str| v[f].as_str().unwrap_or_default().to_owned();
    (v["code"].as_u64().unwrap_or_default(), text("reason"), text("message"))
}

const MERGE: &str = "application/merge-patch+json";

#[tokio::test]
async fn health_unknown_paths_methods_and_subresources() {
    let lab = start("titan-lab", options()).await;
    let c = &lab.client;
    for path in ["/healthz", "/readyz", "/livez"] {
        assert_eq!(raw(c, "GET", path, "", "").await, (200, "ok".to_owned()), "{path}");
    }
    assert_eq!(raw(c, "GET", "/metrics", "", "").await, (404, "404 page not found".to_owned()));
    let not_served = "the server could not find the requested resource".to_owned();
    for path in ["/api/v1/configmaps", "/api/v1/namespaces/apps/pods/web-0/log"] {
        let (code, body) = raw(c, "GET", path, "", "").await;
        assert_eq!((code, status(&body)), (404, (404, "NotFound".to_owned(), not_served.clone())), "{path}");
    }
    let (code, body) = raw(c, "DELETE", "/api/v1/nodes/titan-03", "", "").await;
    let (_, reason, message) = status(&body);
    assert_eq!((code, reason.as_str()), (405, "MethodNotAllowed"));
    assert!(message.ends_with("(DELETE)"), "{message}");
    assert!(lab.server.with_state(|s| s.store.get(ananke_sim::serve::kinds::Kind::Node, "", "titan-03").is_some()));
    let (code, body) = raw(c, "GET", "/api/v1/pods?limit=2&continue=garbage", "", "").await;
    assert_eq!((code, status(&body).2), (400, "invalid continue token".to_owned()));
    let log = lab.server.requests();
    assert!(log
        .iter()
        .any(|r| (r.method.as_str(), r.target.as_str(), r.status) == ("DELETE", "/api/v1/nodes/titan-03", 405)));
}

#[tokio::test]
async fn malformed_patches_are_refused_and_a_matching_resource_version_applies() {
    let lab = start("titan-lab", options()).await;
    let c = &lab.client;
    let node = "/api/v1/nodes/titan-03";
    let (code, body) = raw(c, "PATCH", node, MERGE, "[1]").await;
    assert_eq!((code, status(&body).2), (400, "the patch must be a JSON object".to_owned()));
    let (code, body) = raw(c, "PATCH", node, MERGE, "{not json").await;
    assert!(code == 400 && status(&body).2.starts_with("error decoding patch"), "{code} {body}");
    let taints = r#"{"spec": {"taints": [{"key": "x", "effect": "NoSchedule"}]}}"#;
    let (code, body) = raw(c, "PATCH", node, "application/strategic-merge-patch+json", taints).await;
    assert_eq!(
        (code, status(&body).1, status(&body).2),
        (
            415,
            "UnsupportedMediaType".to_owned(),
            "the simulator accepts only plain-map strategic merge patches".to_owned()
        )
    );
    assert!(!lab.server.with_state(|s| s.model.cluster_state().cordoned["titan-03"]), "nothing refused applies");

    let nodes = Api::<Node>::all(c.clone());
    let rv = nodes.get("titan-03").await.unwrap().metadata.resource_version.unwrap();
    let patch = json!({"metadata": {"resourceVersion": rv}, "spec": {"unschedulable": true}});
    let cordoned = nodes.patch("titan-03", &PatchParams::default(), &Patch::Merge(patch)).await.unwrap();
    assert_eq!(cordoned.spec.and_then(|s| s.unschedulable), Some(true));
    assert!(lab.server.with_state(|s| s.model.cluster_state().cordoned["titan-03"]));

    let deployments = Api::<Deployment>::namespaced(c.clone(), "apps");
    let scaled = deployments
        .patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 1}})))
        .await
        .unwrap();
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(1));
    let replicas = lab
        .server
        .with_state(|s| s.model.cluster_state().replicas.iter().find(|(w, _)| w.name == "web").map(|(_, r)| *r));
    assert_eq!(replicas, Some(1));
}

#[tokio::test]
async fn scale_by_put_dry_runs_and_bad_bodies() {
    let lab = start("titan-lab", options()).await;
    let c = &lab.client;
    let uri = "/apis/apps/v1/namespaces/monitoring/statefulsets/prometheus/scale";
    let (code, body) = raw(c, "PUT", uri, "application/json", "{not json").await;
    assert_eq!((code, status(&body).1), (400, "BadRequest".to_owned()));
    let (code, body) = raw(c, "PATCH", uri, "application/json-patch+json", "[]").await;
    assert_eq!((code, status(&body).1), (415, "UnsupportedMediaType".to_owned()));
    let (code, body) = raw(c, "PUT", uri, "application/json", r#"{"spec": {"replicas": 0}}"#).await;
    let scale: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((code, &scale["kind"], &scale["spec"]["replicas"]), (200, &json!("Scale"), &json!(0)));
    let statefulsets = Api::<StatefulSet>::namespaced(c.clone(), "monitoring");
    assert_eq!(statefulsets.get("prometheus").await.unwrap().spec.and_then(|s| s.replicas), Some(0));

    let deployments = Api::<Deployment>::namespaced(c.clone(), "apps");
    let dry = PatchParams { dry_run: true, ..PatchParams::default() };
    let wanted = deployments.patch_scale("web", &dry, &Patch::Merge(json!({"spec": {"replicas": 0}}))).await.unwrap();
    assert_eq!(wanted.spec.and_then(|s| s.replicas), Some(0));
    assert_eq!(
        deployments.get_scale("web").await.unwrap().spec.and_then(|s| s.replicas),
        Some(2),
        "a dry run changes nothing"
    );
    let err = statefulsets.replace_scale("nope", &PostParams::default(), &Scale::default()).await.unwrap_err();
    assert_eq!(api_code(&err), (404, "NotFound".to_owned()));
}

#[tokio::test]
async fn eviction_bodies_and_dry_runs() {
    let lab = start("titan-lab", options()).await;
    let c = &lab.client;
    let uri = "/api/v1/namespaces/apps/pods/web-0/eviction";
    let (code, body) = raw(c, "POST", uri, "application/json", "nope").await;
    assert!(code == 400 && status(&body).2.starts_with("error decoding eviction"), "{code} {body}");
    let other =
        r#"{"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-1", "namespace": "apps"}}"#;
    let (code, body) = raw(c, "POST", uri, "application/json", other).await;
    assert_eq!((code, status(&body).2), (400, "name in URL does not match name in Eviction object".to_owned()));
    let pods = Api::<Pod>::namespaced(c.clone(), "apps");
    let dry =
        EvictParams { post_options: PostParams { dry_run: true, ..PostParams::default() }, ..EvictParams::default() };
    let answer = pods.evict("web-0", &dry).await.unwrap();
    assert_eq!(answer.code, 201);
    assert_eq!(pods.list(&ListParams::default()).await.unwrap().items.len(), 2, "a dry run evicts nothing");
    assert!(lab.server.with_state(|s| s.evictions.is_empty()));
}

#[tokio::test]
async fn watch_parameters_are_checked() {
    let lab = start("titan-lab", options()).await;
    let pods = Api::<Pod>::all(lab.client.clone());
    let bad_field = WatchParams::default().fields("spec.schedulerName=x").timeout(5);
    let err = pods.watch(&bad_field, "0").await.map(|_| ()).unwrap_err();
    assert_eq!(api_code(&err), (400, "BadRequest".to_owned()));
    let (code, body) = raw(&lab.client, "GET", "/api/v1/pods?watch=true&resourceVersion=abc", "", "").await;
    assert_eq!((code, status(&body).2), (400, "invalid resource version: abc".to_owned()));
}

#[tokio::test]
async fn a_streaming_list_ends_its_initial_events_with_a_marked_bookmark() {
    let lab = start("titan-lab", options()).await;
    let nodes = Api::<Node>::all(lab.client.clone());
    let mut stream = nodes.watch(&WatchParams::streaming_lists().timeout(10), "").await.unwrap().boxed();
    let mut added = 0;
    let bookmark = loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap().unwrap().unwrap() {
            WatchEvent::Added(_) => added += 1,
            WatchEvent::Bookmark(b) => break b,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(added, 10);
    assert_eq!(bookmark.metadata.annotations.get("k8s.io/initial-events-end").map(String::as_str), Some("true"));
}

#[tokio::test]
async fn a_watcher_behind_the_change_log_gets_an_in_stream_410() {
    let lab = start("titan-lab", ServeOptions { history: 4, ..options() }).await;
    let nodes = Api::<Node>::all(lab.client.clone());
    let rv = nodes.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let mut stream = nodes.watch(&WatchParams::default().timeout(10), &rv).await.unwrap().boxed();
    match tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap().unwrap().unwrap() {
        WatchEvent::Bookmark(_) => {}
        other => panic!("expected a bookmark while nothing changes, got {other:?}"),
    }
    lab.server.with_state(|s| {
        for node in ["titan-03", "titan-04", "titan-05", "titan-06", "titan-23", "titan-24"] {
            assert_eq!(
                s.apply(&ananke_core::Effect::Cordon { node: node.into() }),
                ananke_core::machine::EffectOutcome::Ok
            );
        }
    });
    match tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap().unwrap().unwrap() {
        WatchEvent::Error(status) => assert_eq!((status.code, status.reason.as_str()), (410, "Expired")),
        other => panic!("expected an in-stream 410, got {other:?}"),
    }
    assert!(stream.next().await.is_none(), "the stream ends after the 410");
}
