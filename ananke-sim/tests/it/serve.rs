//! `ananke-sim serve`'s Kubernetes API facade, driven by a real kube 5 client over HTTPS.

use ananke_sim::builtin;
use ananke_sim::serve::{ServeOptions, Server};
use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DynamicObject, EvictParams, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, Config};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

/// A served scenario, its output dir and a client built from the kubeconfig it wrote.
pub struct Lab {
    pub server: Server,
    pub dir: TempDir,
    pub client: Client,
}

impl Lab {
    pub fn kubeconfig(&self) -> PathBuf {
        self.server.kubeconfig_path().expect("written").to_owned()
    }
}

/// Options for tests: a stopped clock (time moves only when a test says so), quick bookmarks.
pub fn options() -> ServeOptions {
    ServeOptions { speed: 0.0, bookmark_every: Duration::from_millis(150), ..ServeOptions::default() }
}

/// A kube client from `path`, without kube's retries and never through a proxy (pitfalls 1, 19).
pub async fn client_from(path: &Path) -> Result<Client, String> {
    let kubeconfig = Kubeconfig::read_from(path).map_err(|e| e.to_string())?;
    let mut config =
        Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.map_err(|e| e.to_string())?;
    config.default_retry = false;
    config.proxy_url = None;
    config.read_timeout = Some(Duration::from_secs(10));
    Client::try_from(config).map_err(|e| e.to_string())
}

/// Serve built-in `name`.
pub async fn start(name: &str, options: ServeOptions) -> Lab {
    let dir = TempDir::new().unwrap();
    let server = Server::start(builtin(name).unwrap(), ServeOptions { dir: Some(dir.path().to_owned()), ..options })
        .await
        .unwrap();
    let client = client_from(server.kubeconfig_path().unwrap()).await.unwrap();
    Lab { server, dir, client }
}

pub fn api_code(e: &kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone()),
        other => panic!("expected an API error, got {other}"),
    }
}

fn kustomizations(client: &Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("kustomize.toolkit.fluxcd.io", "v1", "Kustomization");
    Api::namespaced_with(client.clone(), "flux-system", &ApiResource::from_gvk_with_plural(&gvk, "kustomizations"))
}

#[tokio::test]
async fn tls_with_the_generated_ca_and_bearer_token() {
    let lab = start("titan-lab", options()).await;
    let version = lab.client.apiserver_version().await.unwrap();
    assert_eq!(version.git_version, "v1.33.5+k3s1");
    let nodes = Api::<Node>::all(lab.client.clone()).list(&ListParams::default()).await.unwrap();
    assert_eq!(nodes.items.len(), 10);
    let rv: u64 = nodes.metadata.resource_version.as_deref().unwrap().parse().unwrap();
    assert!(rv > 0);

    let text = std::fs::read_to_string(lab.kubeconfig()).unwrap();
    let without_ca: Vec<&str> = text.lines().filter(|l| !l.contains("certificate-authority-data")).collect();
    let path = lab.dir.path().join("no-ca.yaml");
    std::fs::write(&path, without_ca.join("\n")).unwrap();
    let untrusting = client_from(&path).await.unwrap();
    let err = Api::<Node>::all(untrusting).list(&ListParams::default()).await.unwrap_err();
    assert!(!matches!(err, kube::Error::Api(_)), "the TLS handshake must fail: {err}");

    let path = lab.dir.path().join("wrong-token.yaml");
    std::fs::write(&path, text.replace(lab.server.token(), "sim-wrong")).unwrap();
    let stranger = client_from(&path).await.unwrap();
    let err = Api::<Node>::all(stranger).list(&ListParams::default()).await.unwrap_err();
    assert_eq!(api_code(&err), (401, "Unauthorized".to_owned()));
    let log = lab.server.requests();
    assert!(log.iter().any(|r| r.status == 401 && r.target == "/api/v1/nodes?"), "{log:?}");
    let file = std::fs::read_to_string(lab.dir.path().join("requests.jsonl")).unwrap();
    assert_eq!(file.lines().count(), log.len());
    assert!(!file.contains(lab.server.token()), "the request log never holds the token");
}

#[tokio::test]
async fn cordon_by_strategic_merge_reaches_the_model() {
    let lab = start("titan-lab", options()).await;
    let nodes = Api::<Node>::all(lab.client.clone());
    let before = nodes.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let node = nodes.cordon("titan-03").await.unwrap();
    assert_eq!(node.spec.as_ref().and_then(|s| s.unschedulable), Some(true));
    let taints = node.spec.unwrap().taints.unwrap();
    assert!(taints.iter().any(|t| t.key == "node.kubernetes.io/unschedulable"));
    assert!(lab.server.with_state(|s| s.model.cluster_state().cordoned["titan-03"]));
    let after = nodes.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    assert!(after.parse::<u64>().unwrap() > before.parse::<u64>().unwrap());
    let cordoned = nodes.list(&ListParams::default().fields("spec.unschedulable=true")).await.unwrap();
    assert_eq!(cordoned.items.len(), 1);
    nodes.uncordon("titan-03").await.unwrap();
    assert!(!lab.server.with_state(|s| s.model.cluster_state().cordoned["titan-03"]));
    let err = nodes.cordon("no-such-node").await.unwrap_err();
    assert_eq!(api_code(&err), (404, "NotFound".to_owned()));
    let requests = lab.server.requests();
    assert!(requests.iter().any(|r| r.method == "PATCH" && r.target == "/api/v1/nodes/titan-03?"));
}

#[tokio::test]
async fn flux_merge_patches_nulls_and_no_strategic_merge() {
    let lab = start("titan-lab", options()).await;
    let api = kustomizations(&lab.client);
    let params = PatchParams::default();
    let before = api.get("apps").await.unwrap();
    let suspended = api.patch("apps", &params, &Patch::Merge(json!({"spec": {"suspend": true}}))).await.unwrap();
    assert_eq!(suspended.data["spec"]["suspend"], json!(true));
    assert_eq!(suspended.metadata.generation, before.metadata.generation.map(|g| g + 1));
    let resumed = api
        .patch(
            "apps",
            &params,
            &Patch::Merge(json!({"spec": {"suspend": null},
        "metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "t-1", "note": "kept"}}})),
        )
        .await
        .unwrap();
    assert_eq!(resumed.data["spec"]["suspend"], json!(false));
    let annotations = resumed.metadata.annotations.unwrap();
    assert_eq!(
        (annotations["reconcile.fluxcd.io/requestedAt"].as_str(), annotations["note"].as_str()),
        ("t-1", "kept")
    );
    let err = api.patch("apps", &params, &Patch::Strategic(json!({"spec": {"suspend": true}}))).await.unwrap_err();
    assert_eq!(api_code(&err), (415, "UnsupportedMediaType".to_owned()));
    let err = api.patch("apps", &params, &Patch::Merge(json!({"spec": {"interval": "1m"}}))).await.unwrap_err();
    assert_eq!(api_code(&err), (422, "Invalid".to_owned()));
    let err = api
        .patch("apps", &params, &Patch::Merge(json!({"metadata": {"resourceVersion": "1"}, "spec": {"suspend": true}})))
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (409, "Conflict".to_owned()));
    let dry = api
        .patch(
            "apps",
            &PatchParams { dry_run: true, ..params.clone() },
            &Patch::Merge(json!({"spec": {"suspend": true}})),
        )
        .await
        .unwrap();
    assert_eq!(dry.data["spec"]["suspend"], json!(true));
    assert!(!lab.server.with_state(|s| s
        .model
        .cluster_state()
        .suspended
        .iter()
        .any(|(k, v)| k.object.name == "apps" && *v)));
    let err = api.get("nope").await.unwrap_err();
    assert_eq!(api_code(&err), (404, "NotFound".to_owned()));
}

#[tokio::test]
async fn field_and_label_selectors() {
    let lab = start("titan-lab", options()).await;
    let pods = Api::<Pod>::all(lab.client.clone());
    let all = pods.list(&ListParams::default()).await.unwrap().items;
    let node = all[0].spec.as_ref().unwrap().node_name.clone().unwrap();
    let on_node = pods.list(&ListParams::default().fields(&format!("spec.nodeName={node}"))).await.unwrap().items;
    assert!(!on_node.is_empty() && on_node.len() < all.len());
    assert!(on_node.iter().all(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some(node.as_str())));
    let web = Api::<Pod>::namespaced(lab.client.clone(), "apps")
        .list(&ListParams::default().labels("app in (web,other)"))
        .await
        .unwrap();
    assert_eq!(web.items.len(), 2);
    let running =
        pods.list(&ListParams::default().fields("status.phase=Running,metadata.namespace!=apps")).await.unwrap();
    assert_eq!(running.items.len(), all.len() - 2);
    let err = pods.list(&ListParams::default().fields("spec.schedulerName=x")).await.unwrap_err();
    assert_eq!(api_code(&err), (400, "BadRequest".to_owned()));
    let page = pods.list(&ListParams::default().limit(3)).await.unwrap();
    assert_eq!(page.items.len(), 3);
    let rest =
        pods.list(&ListParams::default().continue_token(page.metadata.continue_.as_deref().unwrap())).await.unwrap();
    assert_eq!(rest.items.len(), all.len() - 3);
}

#[tokio::test]
async fn eviction_201_404_and_429_when_a_pdb_refuses() {
    let lab = start("titan-lab", options()).await;
    let pods = Api::<Pod>::namespaced(lab.client.clone(), "apps");
    let status = pods.evict("web-0", &EvictParams::default()).await.unwrap();
    assert!(status.is_success() && status.code == 201, "{status:?}");
    let names: Vec<String> =
        pods.list(&ListParams::default()).await.unwrap().items.into_iter().filter_map(|p| p.metadata.name).collect();
    assert_eq!(names, vec!["web-1".to_owned()]);
    let err = pods.evict("web-0", &EvictParams::default()).await.unwrap_err();
    assert_eq!(api_code(&err), (404, "NotFound".to_owned()));

    let lab = start("pdb-blocks-drain", options()).await;
    let pods = Api::<Pod>::namespaced(lab.client.clone(), "kube-system");
    let err = pods.evict("local-path-provisioner-0", &EvictParams::default()).await.unwrap_err();
    let kube::Error::Api(status) = err else { panic!("{err}") };
    assert_eq!((status.code, status.reason.as_str()), (429, "TooManyRequests"));
    let cause = &status.details.unwrap().causes[0];
    assert!(
        cause.message.starts_with("The disruption budget local-path-provisioner needs 1 healthy pods"),
        "{}",
        cause.message
    );
    assert!(pods.get("local-path-provisioner-0").await.is_ok());
    let attempts = lab
        .server
        .with_state(|s| s.evictions.get(&("kube-system".to_owned(), "local-path-provisioner-0".to_owned())).copied());
    assert_eq!(attempts, Some(1));
}

#[tokio::test]
async fn scale_subresource_sets_the_model_replicas() {
    let lab = start("titan-lab", options()).await;
    let api = Api::<Deployment>::namespaced(lab.client.clone(), "apps");
    let generation = api.get("web").await.unwrap().metadata.generation.unwrap();
    let scale =
        api.patch_scale("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 0}}))).await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(0));
    assert_eq!(api.get_scale("web").await.unwrap().spec.unwrap().replicas, Some(0));
    assert_eq!(api.get("web").await.unwrap().metadata.generation, Some(generation + 1));
    let replicas = lab
        .server
        .with_state(|s| s.model.cluster_state().replicas.iter().find(|(w, _)| w.name == "web").map(|(_, r)| *r));
    assert_eq!(replicas, Some(0));
    let err = api
        .patch_scale("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": -1}})))
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (422, "Invalid".to_owned()));
}

#[tokio::test]
async fn watch_with_bookmarks_changes_and_in_stream_410() {
    let lab = start("titan-lab", ServeOptions { history: 8, ..options() }).await;
    let nodes = Api::<Node>::all(lab.client.clone());
    let mut stream = nodes.watch(&WatchParams::default().timeout(10), "0").await.unwrap().boxed();
    let mut added = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap().unwrap().unwrap() {
            WatchEvent::Added(_) => added += 1,
            WatchEvent::Bookmark(b) => {
                assert_eq!(b.types.kind, "Node");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(added, 10);
    nodes.cordon("titan-04").await.unwrap();
    let modified = loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap().unwrap().unwrap() {
            WatchEvent::Modified(n) => break n,
            WatchEvent::Bookmark(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(modified.metadata.name.as_deref(), Some("titan-04"));
    let mut old = nodes.watch(&WatchParams::default().timeout(10), "1").await.unwrap().boxed();
    match old.next().await.unwrap().unwrap() {
        WatchEvent::Error(status) => assert_eq!((status.code, status.reason.as_str()), (410, "Expired")),
        other => panic!("expected an in-stream 410, got {other:?}"),
    }
    assert!(old.next().await.is_none(), "the stream ends after the 410");
    let watches = lab.server.requests().into_iter().filter(|r| r.target.contains("watch=true")).count();
    assert_eq!(watches, 2);
}

#[tokio::test]
async fn the_clock_moves_the_model_and_watches_see_it() {
    let lab = start("titan-lab", ServeOptions { speed: 500.0, ..options() }).await;
    let pods = Api::<Pod>::namespaced(lab.client.clone(), "apps");
    let rv = pods.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let mut stream = pods.watch(&WatchParams::default().timeout(10), &rv).await.unwrap().boxed();
    let deployments = Api::<Deployment>::namespaced(lab.client.clone(), "apps");
    deployments
        .patch_scale("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 0}})))
        .await
        .unwrap();
    let mut deleted = BTreeSet::new();
    while deleted.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap().unwrap().unwrap() {
            WatchEvent::Deleted(p) => {
                deleted.insert(p.metadata.name.unwrap());
            }
            WatchEvent::Bookmark(_) | WatchEvent::Modified(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(deleted, BTreeSet::from(["web-0".to_owned(), "web-1".to_owned()]));
    assert!(pods.list(&ListParams::default()).await.unwrap().items.is_empty());
    assert!(lab.server.with_state(|s| s.now()) > ananke_core::Time::ZERO);
}

#[tokio::test]
async fn no_server_quorum_answers_503() {
    let lab = start("titan-lab", options()).await;
    lab.server.with_state(|s| {
        let now = s.now();
        for node in ["titan-db", "titan-01"] {
            let effect = ananke_core::Effect::StopK3s { node: node.into(), role: ananke_core::config::K3sRole::Server };
            assert_eq!(s.model.apply(now, &effect), ananke_core::machine::EffectOutcome::Ok);
        }
    });
    lab.server.advance(ananke_core::Time(60_000));
    let err = Api::<Node>::all(lab.client.clone()).list(&ListParams::default()).await.unwrap_err();
    assert_eq!(api_code(&err), (503, "ServiceUnavailable".to_owned()));
}

/// Ends the served child if a test fails before it does.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[tokio::test]
async fn the_cli_serves_until_sigterm() {
    use std::io::{BufRead, BufReader};
    let dir = TempDir::new().unwrap();
    let mut child = Reaper(
        std::process::Command::new(env!("CARGO_BIN_EXE_ananke-sim"))
            .args(["serve", "titan-lab", "--speed", "0", "--dir"])
            .arg(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let kubeconfig = lines.next().unwrap().unwrap();
    let port = lines.next().unwrap().unwrap();
    assert_eq!(kubeconfig, format!("kubeconfig: {}", dir.path().join("kubeconfig.yaml").display()));
    assert!(port.strip_prefix("port: ").unwrap().parse::<u16>().unwrap() > 0);
    let client = client_from(&dir.path().join("kubeconfig.yaml")).await.unwrap();
    assert_eq!(Api::<Node>::all(client).list(&ListParams::default()).await.unwrap().items.len(), 10);
    let status = std::process::Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(child.0.wait().unwrap().success(), "SIGTERM ends the server cleanly");
    let log = std::fs::read_to_string(dir.path().join("requests.jsonl")).unwrap();
    assert!(log.contains("\"target\":\"/api/v1/nodes?\""), "{log}");
}
