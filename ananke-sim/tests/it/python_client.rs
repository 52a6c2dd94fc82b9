//! `ananke-sim serve` against the official Python `kubernetes` client (from `PyPI`), installed in a
//! virtualenv this test creates once under cargo's per-target temp dir: namespaces, nodes, pods
//! and Kustomizations listed, a deployment's replicas patched through the scale subresource (and
//! seen by ananke's adapter), and a watch.

use super::serve::{options, Lab};
use ananke_core::adapters::kube::{KubeCluster, KubeSettings};
use ananke_sim::serve::{ServeOptions, Server};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The client's version, pinned: the test must not change under us.
const CLIENT: &str = "kubernetes==37.0.2";

const SCRIPT: &str = r#"
import json, sys
from kubernetes import client, config, watch
config.load_kube_config(sys.argv[1])
core, apps, custom = client.CoreV1Api(), client.AppsV1Api(), client.CustomObjectsApi()
namespaces = sorted(n.metadata.name for n in core.list_namespace().items)
nodes = sorted(n.metadata.name for n in core.list_node().items)
pods = [p.metadata.name for p in core.list_pod_for_all_namespaces().items]
ks = custom.list_namespaced_custom_object("kustomize.toolkit.fluxcd.io", "v1", "flux-system", "kustomizations")
apps.patch_namespaced_deployment_scale("web", "apps", {"spec": {"replicas": 1}})
replicas = apps.read_namespaced_deployment("web", "apps").spec.replicas
events = []
w = watch.Watch()
for e in w.stream(core.list_node, timeout_seconds=3):
    events.append([e["type"], e["object"].metadata.name])
    if len(events) == 3:
        w.stop()
print(json.dumps({"namespaces": namespaces, "nodes": nodes, "pods": pods,
    "kustomizations": sorted(k["metadata"]["name"] for k in ks["items"]), "replicas": replicas, "events": events}))
"#;

/// A virtualenv with the client, made once (a second run finds it).
fn venv() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("py-kubernetes");
    let python = dir.join("bin/python");
    let ready =
        |python: &Path| Command::new(python).args(["-c", "import kubernetes"]).status().is_ok_and(|s| s.success());
    if !ready(&python) {
        let made =
            Command::new("python3").arg("-m").arg("venv").arg("--clear").arg(&dir).status().expect("python3 runs");
        assert!(made.success(), "python3 -m venv (Debian: python3-venv)");
        let pip = Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", CLIENT])
            .status();
        assert!(pip.expect("pip runs").success(), "pip install {CLIENT} (needs PyPI)");
        assert!(ready(&python), "the client imports");
    }
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_lists_patches_and_watches() {
    let python = tokio::task::spawn_blocking(venv).await.unwrap();
    let dir = tempfile::TempDir::new().unwrap();
    let opts = ServeOptions { dir: Some(dir.path().to_owned()), ..options() };
    let server = Server::start(ananke_sim::builtin("titan-lab").unwrap(), opts).await.unwrap();
    let client = super::serve::client_from(server.kubeconfig_path().unwrap()).await.unwrap();
    let lab = Lab { server, dir, client };
    let kubeconfig = lab.kubeconfig();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python).args(["-c", SCRIPT]).arg(kubeconfig).output().unwrap()
    })
    .await
    .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let names = |key: &str| -> Vec<String> {
        seen[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
    };
    for ns in ["apps", "default", "flux-system", "kube-system", "vault"] {
        assert!(names("namespaces").contains(&ns.to_owned()), "{seen}");
    }
    assert_eq!(names("nodes").len(), 10, "{seen}");
    assert!(names("pods").contains(&"web-0".to_owned()), "{seen}");
    assert!(names("kustomizations").contains(&"apps".to_owned()), "{seen}");
    assert_eq!(seen["replicas"], 1, "{seen}");
    let events = seen["events"].as_array().unwrap();
    assert_eq!(events.len(), 3, "{seen}");
    assert!(events.iter().all(|e| e[0] == "ADDED"), "{seen}");
    let settings = KubeSettings { request_timeout: Duration::from_secs(5), ..KubeSettings::default() };
    let obs = KubeCluster::from_kubeconfig(&lab.kubeconfig(), settings).await.unwrap().observe().await;
    let web = obs.workloads.iter().find(|w| w.id.namespace == "apps" && w.id.name == "web").unwrap();
    assert_eq!(web.spec_replicas, Some(1), "ananke sees the client's patch");
    lab.server.shutdown().await;
}
