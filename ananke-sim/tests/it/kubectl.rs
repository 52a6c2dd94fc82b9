//! `ananke-sim serve` against a client no one here wrote: the real `kubectl` (the one on the
//! machine, or Debian's `kubernetes-client`, which `scripts/test.sh` installs). Discovery, the
//! server-side Tables `kubectl get` prints, and the verbs an operator pokes a lab with, each
//! checked against what ananke's own adapter observes next.

use super::serve::{options, Lab};
use ananke_core::adapters::kube::{KubeCluster, KubeSettings};
use ananke_core::config::{WorkloadKind, WorkloadRef};
use ananke_core::observation::Observation;
use ananke_sim::serve::{ServeOptions, Server};
use ananke_sim::Scenario;
use std::process::Command;
use std::time::Duration;

/// `kubectl ARGS` against `lab` on a blocking thread (the server runs on the others):
/// (exit code, stdout, stderr). Its discovery cache stays in the lab's directory.
async fn kubectl(lab: &Lab, args: &[&str]) -> (i32, String, String) {
    let (kubeconfig, cache) = (lab.kubeconfig(), lab.dir.path().join("kubectl-cache"));
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(&cache)
            .args(&args)
            .output()
            .expect("kubectl runs (install it, or Debian's kubernetes-client: scripts/test.sh does)");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
    })
    .await
    .unwrap()
}

/// `kubectl ARGS`, which must succeed: its stdout.
async fn ok(lab: &Lab, args: &[&str]) -> String {
    let (code, stdout, stderr) = kubectl(lab, args).await;
    assert_eq!(code, 0, "kubectl {args:?}:\n{stdout}\n{stderr}");
    stdout
}

async fn serve(scenario: Scenario) -> Lab {
    let dir = tempfile::TempDir::new().unwrap();
    let opts = ServeOptions { dir: Some(dir.path().to_owned()), ..options() };
    let server = Server::start(scenario, opts).await.unwrap();
    let client = super::serve::client_from(server.kubeconfig_path().unwrap()).await.unwrap();
    Lab { server, dir, client }
}

/// What ananke's own adapter observes now.
async fn observe(lab: &Lab) -> Observation {
    let settings = KubeSettings { request_timeout: Duration::from_secs(5), ..KubeSettings::default() };
    KubeCluster::from_kubeconfig(&lab.kubeconfig(), settings).await.unwrap().observe().await
}

/// The row of `name` in a `kubectl get` table, split on whitespace.
fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    let line = table.lines().find(|l| l.split_whitespace().any(|w| w == name || w.ends_with(&format!("/{name}"))));
    line.unwrap_or_else(|| panic!("no row {name} in\n{table}")).split_whitespace().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_names_every_kind_with_its_short_names() {
    let lab = serve(ananke_sim::builtin("titan-lab").unwrap()).await;
    let resources = ok(&lab, &["api-resources"]).await;
    for (name, short) in [
        ("nodes", "no"),
        ("pods", "po"),
        ("deployments", "deploy"),
        ("statefulsets", "sts"),
        ("daemonsets", "ds"),
        ("poddisruptionbudgets", "pdb"),
        ("ingresses", "ing"),
        ("kustomizations", "ks"),
        ("gitrepositories", "gitrepo"),
        ("helmreleases", "hr"),
        ("namespaces", "ns"),
    ] {
        let r = row(&resources, name);
        assert_eq!(r[1], short, "{resources}");
    }
    let namespaces = ok(&lab, &["get", "ns"]).await;
    for ns in ["default", "kube-system", "apps", "flux-system", "vault"] {
        assert_eq!(row(&namespaces, ns)[1], "Active", "{namespaces}");
    }
    assert_eq!(ok(&lab, &["get", "ns", "apps", "-o", "name"]).await.trim(), "namespace/apps");
    let mode =
        std::fs::metadata(lab.kubeconfig()).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
    assert_eq!(mode.unwrap(), 0o600, "the kubeconfig holds the token");
    lab.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_prints_the_columns_an_operator_knows_in_every_output() {
    let lab = serve(ananke_sim::builtin("titan-lab").unwrap()).await;
    let nodes = ok(&lab, &["get", "nodes"]).await;
    assert!(nodes.starts_with("NAME") && nodes.lines().next().unwrap().contains("STATUS   ROLES"), "{nodes}");
    assert_eq!(row(&nodes, "titan-db")[1..3], ["Ready", "control-plane,master"], "{nodes}");
    assert_eq!(row(&nodes, "titan-04")[1..3], ["Ready", "<none>"], "{nodes}");
    let wide = ok(&lab, &["get", "nodes", "-o", "wide"]).await;
    assert!(
        wide.lines().next().unwrap().contains("INTERNAL-IP") && row(&wide, "titan-04").contains(&"192.0.2.14"),
        "{wide}"
    );
    let pods = ok(&lab, &["get", "pods", "-A", "-o", "wide"]).await;
    let web = row(&pods, "web-1");
    assert_eq!((web[0], web[2], web[3]), ("apps", "1/1", "Running"), "{pods}");
    let chunked = ok(&lab, &["get", "pods", "-A", "--chunk-size=4"]).await;
    assert_eq!(chunked.lines().count(), pods.lines().count(), "pages follow the continue token:\n{chunked}");
    let selected = ok(&lab, &["get", "pods", "-n", "apps", "-l", "app=web", "-o", "name"]).await;
    assert_eq!(selected.lines().count(), 2, "{selected}");
    let ks = ok(&lab, &["get", "ks", "-A"]).await;
    assert!(ks.lines().next().unwrap().contains("READY") && ks.contains("SUSPENDED"), "{ks}");
    let json = ok(&lab, &["get", "node", "titan-04", "-o", "json"]).await;
    let node: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(node["kind"], "Node");
    assert!(ok(&lab, &["get", "deploy", "web", "-n", "apps", "-o", "yaml"]).await.contains("kind: Deployment"));
    let described = ok(&lab, &["describe", "node", "titan-04"]).await;
    assert!(
        described.contains("Name:               titan-04") && described.contains("gitea-postgresql-0"),
        "{described}"
    );
    assert!(!described.contains("-9223372036854775808"), "allocatable is known: {described}");
    lab.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordon_scale_and_patch_change_what_ananke_observes_next() {
    let lab = serve(ananke_sim::builtin("titan-lab").unwrap()).await;
    assert!(ok(&lab, &["cordon", "titan-04"]).await.contains("node/titan-04 cordoned"));
    let nodes = ok(&lab, &["get", "nodes"]).await;
    assert_eq!(row(&nodes, "titan-04")[1], "Ready,SchedulingDisabled", "{nodes}");
    assert!(observe(&lab).await.node("titan-04").unwrap().kube.as_ref().unwrap().unschedulable);
    ok(&lab, &["uncordon", "titan-04"]).await;
    assert!(!observe(&lab).await.node("titan-04").unwrap().kube.as_ref().unwrap().unschedulable);
    // A strategic merge patch (kubectl's default for built-in kinds), then a merge patch.
    ok(&lab, &["patch", "node", "titan-03", "-p", r#"{"spec":{"unschedulable":true}}"#]).await;
    assert!(observe(&lab).await.node("titan-03").unwrap().kube.as_ref().unwrap().unschedulable);
    let web = WorkloadRef { kind: WorkloadKind::Deployment, namespace: "apps".into(), name: "web".into() };
    assert!(ok(&lab, &["scale", "deploy", "web", "-n", "apps", "--replicas=1"]).await.contains("scaled"));
    let spec = |obs: &Observation| obs.workloads.iter().find(|w| w.id == web).and_then(|w| w.spec_replicas);
    assert_eq!(spec(&observe(&lab).await), Some(1));
    ok(&lab, &["patch", "deploy", "web", "-n", "apps", "--type", "merge", "-p", r#"{"spec":{"replicas":3}}"#]).await;
    assert_eq!(spec(&observe(&lab).await), Some(3));
    lab.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_evicts_what_the_pdb_allows_and_names_the_pod_it_does_not() {
    let text =
        "base: titan-lab\nname: web-pdb\npdbs:\n  - { namespace: apps, name: web, component: web, min_available: 2 }\n";
    let lab = serve(Scenario::parse(text, "web-pdb.yaml").unwrap()).await;
    let pods = ok(&lab, &["get", "pods", "-A", "-o", "wide", "--field-selector", "spec.nodeName=titan-db"]).await;
    assert!(pods.contains("web-1") && pods.contains("coredns-0"), "{pods}");
    let args = ["drain", "titan-db", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=7s"];
    let (code, stdout, stderr) = kubectl(&lab, &args).await;
    let said = format!("{stdout}\n{stderr}");
    assert_ne!(code, 0, "the PDB holds web-1: {said}");
    assert!(said.contains("pod/coredns-0 evicted"), "{said}");
    assert!(
        said.contains("Cannot evict pod as it would violate the pod's disruption budget") && said.contains("web-1"),
        "{said}"
    );
    let left = ok(&lab, &["get", "pods", "-A", "--field-selector", "spec.nodeName=titan-db", "-o", "name"]).await;
    assert_eq!(left.trim(), "pod/web-1", "{left}");
    assert!(observe(&lab).await.node("titan-db").unwrap().kube.as_ref().unwrap().unschedulable, "drain cordons first");
    lab.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_prints_a_cordon_as_it_happens() {
    let lab = serve(ananke_sim::builtin("titan-lab").unwrap()).await;
    let (kubeconfig, cache) = (lab.kubeconfig(), lab.dir.path().join("kubectl-cache"));
    let watcher = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .args(["6", "kubectl", "--kubeconfig"])
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(&cache)
            .args(["get", "nodes", "--watch"])
            .output()
            .unwrap()
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    ok(&lab, &["cordon", "titan-05"]).await;
    let out = watcher.await.unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let last = printed.lines().last().unwrap_or_default().split_whitespace().collect::<Vec<_>>();
    assert_eq!(last[..2], ["titan-05", "Ready,SchedulingDisabled"], "{printed}");
    lab.server.shutdown().await;
}
