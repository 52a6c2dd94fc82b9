//! The Kubernetes adapter's effect paths that the happy-path tests do not take, against
//! `ananke-sim serve`: `StatefulSet` scaling, objects that are gone, answered errors classified as
//! transient or permanent (the facade's injected statuses), a failed pod list before a drain,
//! evictions answered with errors, refusals that name no PDB, requests that time out, and
//! kubeconfigs that cannot be used.

use super::serve::{options, start};
use ananke_core::adapters::kube::{KubeCluster, KubeError, KubeSettings};
use ananke_core::config::{ObjectRef, WorkloadKind, WorkloadRef};
use ananke_core::machine::EffectOutcome;
use ananke_core::observation::{FluxKind, FluxRef};
use ananke_core::Effect;
use ananke_sim::serve::state::Injection;
use ananke_sim::serve::Server;
use std::time::Duration;

fn settings() -> KubeSettings {
    KubeSettings {
        request_timeout: Duration::from_secs(5),
        retry_backoff: Duration::from_millis(20),
        ..KubeSettings::default()
    }
}

fn failed_with(outcome: &EffectOutcome, transient: bool, needle: &str) -> bool {
    matches!(outcome, EffectOutcome::Failed { transient: t, message } if *t == transient && message.contains(needle))
}

#[tokio::test]
async fn a_statefulset_scaled_to_0_keeps_its_count_before_in_an_annotation_until_scaled_back() {
    let lab = start("titan-lab", options()).await;
    let kube = KubeCluster::from_kubeconfig(&lab.kubeconfig(), settings()).await.unwrap();
    let prometheus =
        WorkloadRef { kind: WorkloadKind::StatefulSet, namespace: "monitoring".into(), name: "prometheus".into() };
    lab.server.clear_requests();
    let down = Effect::Scale { workload: prometheus.clone(), replicas: 0 };
    assert_eq!(kube.execute(&down).await, EffectOutcome::Ok);
    let log = lab.server.requests();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log[0].method == "GET" && log[0].target.ends_with("/statefulsets/prometheus"), "{log:?}");
    assert!(log[1].method == "PATCH" && log[1].target.contains("/statefulsets/prometheus"), "{log:?}");
    let seen = kube.observe().await;
    let w = seen.workloads.iter().find(|w| w.id.name == "prometheus").unwrap();
    assert_eq!((w.spec_replicas, w.replicas_before), (Some(0), Some(1)), "{w:?}");
    // A second scale-down (a resumed run) keeps the first count, not 0.
    assert_eq!(kube.execute(&down).await, EffectOutcome::Ok);
    let seen = kube.observe().await;
    let w = seen.workloads.iter().find(|w| w.id.name == "prometheus").unwrap();
    assert_eq!(w.replicas_before, Some(1), "{w:?}");
    assert_eq!(kube.execute(&Effect::Scale { workload: prometheus, replicas: 1 }).await, EffectOutcome::Ok);
    let seen = kube.observe().await;
    let w = seen.workloads.iter().find(|w| w.id.name == "prometheus").unwrap();
    assert_eq!((w.spec_replicas, w.replicas_before), (Some(1), None), "the mark goes with the restore: {w:?}");
}

#[tokio::test]
async fn effects_on_objects_that_are_gone_fail_permanently_naming_it() {
    let lab = start("titan-lab", options()).await;
    let kube = KubeCluster::from_kubeconfig(&lab.kubeconfig(), settings()).await.unwrap();
    let missing_sts = WorkloadRef { kind: WorkloadKind::StatefulSet, namespace: "apps".into(), name: "nope".into() };
    let missing_deploy = WorkloadRef { kind: WorkloadKind::Deployment, namespace: "apps".into(), name: "nope".into() };
    let source = FluxRef {
        kind: FluxKind::GitRepository,
        object: ObjectRef { namespace: "flux-system".into(), name: "nope".into() },
    };
    for effect in [
        Effect::Cordon { node: "titan-99".into() },
        Effect::Uncordon { node: "titan-99".into() },
        Effect::Scale { workload: missing_sts, replicas: 1 },
        Effect::Scale { workload: missing_deploy, replicas: 1 },
        Effect::ResumeFlux { object: source.clone() },
        Effect::RequestReconcile { object: source.clone(), token: "t".into() },
        Effect::SetFluxSource { object: source, url: Some("ssh://x".into()), branch: Some("main".into()) },
    ] {
        let outcome = kube.execute(&effect).await;
        assert!(
            failed_with(&outcome, false, "404") && failed_with(&outcome, false, "(the object is gone)"),
            "{effect:?}: {outcome:?}"
        );
    }
    // A drain of a node that does not exist evicts nothing: there is nothing left to do.
    assert_eq!(kube.execute(&Effect::Drain { node: "titan-99".into() }).await, EffectOutcome::Ok);
    let power_off = kube.execute(&Effect::PowerOffHost { node: "titan-03".into() }).await;
    assert!(failed_with(&power_off, false, "power off host titan-03 is not a Kubernetes API effect"), "{power_off:?}");
}

#[tokio::test]
async fn answered_errors_are_classified_by_status() {
    let lab = start("titan-lab", options()).await;
    let kube = KubeCluster::from_kubeconfig(&lab.kubeconfig(), settings()).await.unwrap();
    let apps = FluxRef {
        kind: FluxKind::Kustomization,
        object: ObjectRef { namespace: "flux-system".into(), name: "apps".into() },
    };
    for (code, transient) in [(409, true), (422, false), (429, true), (500, true), (504, true), (403, false)] {
        lab.server.inject(&[code]);
        let outcome = kube.execute(&Effect::SuspendFlux { object: apps.clone() }).await;
        assert!(
            failed_with(&outcome, transient, &format!("suspend Kustomization/flux-system/apps: {code}")),
            "{code}: {outcome:?}"
        );
    }
    // The pod list a drain starts with failing is the drain failing, as the list failed.
    lab.server.inject(&[500]);
    let outcome = kube.execute(&Effect::Drain { node: "titan-03".into() }).await;
    assert!(failed_with(&outcome, true, "list pods on titan-03: 500"), "{outcome:?}");
    lab.server.inject(&[403]);
    let outcome = kube.execute(&Effect::Drain { node: "titan-03".into() }).await;
    assert!(failed_with(&outcome, false, "list pods on titan-03: 403"), "{outcome:?}");
}

#[tokio::test]
async fn a_request_that_outlasts_its_bound_is_a_transient_timeout() {
    let lab = start("titan-lab", options()).await;
    let tight = KubeSettings { request_timeout: Duration::from_nanos(1), ..settings() };
    let kube = KubeCluster::from_kubeconfig(&lab.kubeconfig(), tight).await.unwrap();
    assert_eq!(kube.settings().request_timeout, Duration::from_nanos(1));
    for effect in [Effect::Cordon { node: "titan-03".into() }, Effect::Drain { node: "titan-03".into() }] {
        let outcome = kube.execute(&effect).await;
        assert!(failed_with(&outcome, true, "timed out after 0 ms"), "{effect:?}: {outcome:?}");
    }
}

#[tokio::test]
async fn an_unusable_kubeconfig_is_a_permanent_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.yaml");
    let err = KubeCluster::from_kubeconfig(&missing, settings()).await.unwrap_err();
    assert!(matches!(&err, KubeError::Kubeconfig { path, .. } if *path == missing.display().to_string()), "{err}");
    assert!(err.to_string().starts_with(&format!("kubeconfig {}: ", missing.display())), "{err}");
    let garbage = dir.path().join("garbage.yaml");
    std::fs::write(&garbage, "clusters: [ {").unwrap();
    assert!(matches!(KubeCluster::from_kubeconfig(&garbage, settings()).await, Err(KubeError::Kubeconfig { .. })));
    // Valid YAML naming a context that does not exist.
    let no_context = dir.path().join("no-context.yaml");
    std::fs::write(
        &no_context,
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\nclusters: []\ncontexts: []\nusers: []\n",
    )
    .unwrap();
    assert!(matches!(KubeCluster::from_kubeconfig(&no_context, settings()).await, Err(KubeError::Kubeconfig { .. })));
}

#[tokio::test]
async fn the_adapter_debug_output_shows_settings_and_no_client_internals() {
    let lab = start("titan-lab", options()).await;
    let kube = KubeCluster::from_kubeconfig(&lab.kubeconfig(), settings()).await.unwrap();
    let text = format!("{kube:?}");
    assert!(text.starts_with("KubeCluster { settings: KubeSettings {") && text.ends_with(".. }"), "{text}");
    assert!(!text.contains("token"), "{text}");
}

/// Cordon `node` and list the pods a drain of it must evict (`namespace/name`).
async fn cordoned(kube: &KubeCluster, node: &str) -> Vec<String> {
    assert_eq!(kube.execute(&Effect::Cordon { node: node.into() }).await, EffectOutcome::Ok);
    let seen = kube.observe().await;
    seen.pods_to_evict.iter().filter(|p| p.node == node).map(|p| p.pod.to_string()).collect()
}

/// Eviction requests pod `namespace/name` got through to the model.
fn evictions(server: &Server, pod: &str) -> u32 {
    let (ns, name) = pod.split_once('/').expect("namespace/name");
    server.with_state(|s| s.evictions.get(&(ns.to_owned(), name.to_owned())).copied().unwrap_or(0))
}

/// The node running the most pods a drain evicts (not a `DaemonSet`'s).
fn busiest_node(server: &Server) -> String {
    let mut per_node: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for pod in server.with_state(|s| s.model.serve_pods()) {
        if pod.workload.kind != WorkloadKind::DaemonSet {
            *per_node.entry(pod.node).or_default() += 1;
        }
    }
    per_node.into_iter().max_by_key(|(_, n)| *n).expect("a pod").0
}

fn eviction_of(pod: &str) -> String {
    let (ns, name) = pod.split_once('/').expect("namespace/name");
    format!("/namespaces/{ns}/pods/{name}/eviction")
}

#[tokio::test]
async fn evictions_answered_with_errors_fail_the_drain_after_the_other_pods_went() {
    let lab = start("titan-lab", options()).await;
    let kube = KubeCluster::from_kubeconfig(&lab.kubeconfig(), settings()).await.unwrap();
    let node = busiest_node(&lab.server);
    let pods = cordoned(&kube, &node).await;
    assert!(pods.len() >= 2, "{pods:?}");
    let (stuck, drain) = (pods[0].clone(), Effect::Drain { node: node.clone() });
    lab.server.inject_for(Injection::new("POST", &eviction_of(&stuck), 403));
    let outcome = kube.execute(&drain).await;
    assert!(failed_with(&outcome, false, &format!("evict pod {stuck}: 403 Forbidden")), "{outcome:?}");
    assert_eq!(evictions(&lab.server, &stuck), 0, "the injected answer never reached the model");
    assert_eq!(cordoned(&kube, &node).await, vec![stuck.clone()], "every other pod was evicted");

    // The apiserver's answer to a pod that several PDBs select: a 500 Failure sent with 201.
    lab.server.inject_for(Injection { http: 201, ..Injection::new("POST", &eviction_of(&stuck), 500) });
    let outcome = kube.execute(&drain).await;
    let injected = "500 InternalError: the server is currently unable to handle the request (injected)";
    assert!(failed_with(&outcome, true, &format!("evict pod {stuck}: {injected}")), "{outcome:?}");
    lab.server.inject_for(Injection { http: 200, ..Injection::new("POST", &eviction_of(&stuck), 422) });
    let outcome = kube.execute(&drain).await;
    assert!(failed_with(&outcome, false, &format!("evict pod {stuck}: 422 Invalid")), "{outcome:?}");

    // A pod already gone (404) is evicted; a failure aimed at another method leaves the eviction be.
    lab.server.inject_for(Injection::new("POST", &eviction_of(&stuck), 404));
    assert_eq!(kube.execute(&drain).await, EffectOutcome::Ok);
    assert_eq!(evictions(&lab.server, &stuck), 0);
    lab.server.inject_for(Injection::new("GET", &eviction_of(&stuck), 500));
    assert_eq!(kube.execute(&drain).await, EffectOutcome::Ok);
    assert_eq!(evictions(&lab.server, &stuck), 1);
    assert!(cordoned(&kube, &node).await.is_empty());
    assert_eq!(lab.server.with_state(|s| s.inject.len()), 1, "the GET-only failure is still waiting");
}

#[tokio::test]
async fn a_refusal_naming_no_pdb_is_traced_to_the_pdb_that_selects_the_pod() {
    let lab = start("pdb-blocks-drain", options()).await;
    let kube = KubeCluster::from_kubeconfig(&lab.kubeconfig(), settings()).await.unwrap();
    let storage = "kube-system/local-path-provisioner-0";
    let node = lab.server.with_state(|s| {
        s.model.serve_pods().into_iter().find(|p| p.workload.name == "local-path-provisioner").expect("its pod").node
    });
    assert!(cordoned(&kube, &node).await.contains(&storage.to_owned()));
    // Two refusals without details: the PDB is found by listing the namespace's PDBs.
    lab.server.inject_for(Injection { count: 2, ..Injection::new("POST", &eviction_of(storage), 429) });
    lab.server.clear_requests();
    let drain = Effect::Drain { node: node.clone() };
    let pdb = "kube-system/local-path-provisioner";
    assert_eq!(kube.execute(&drain).await, EffectOutcome::BlockedByPdb { pdb: pdb.into() });
    let log = lab.server.requests();
    let listed = |status: u16| {
        log.iter().any(|r| {
            r.method == "GET"
                && r.target.starts_with("/apis/policy/v1/namespaces/kube-system/poddisruptionbudgets")
                && r.status == status
        })
    };
    assert!(listed(200), "{log:?}");
    assert_eq!(evictions(&lab.server, storage), 0);
    // When that list fails too, the refusal still blocks the drain, naming no PDB.
    lab.server.inject_for(Injection::new("GET", "/poddisruptionbudgets", 500));
    let outcome = kube.execute(&drain).await;
    assert_eq!(outcome, EffectOutcome::BlockedByPdb { pdb: "kube-system/(unnamed)".into() });
    // Unhindered, the facade's own refusal names the PDB.
    assert_eq!(kube.execute(&drain).await, EffectOutcome::BlockedByPdb { pdb: pdb.into() });
    assert_eq!(evictions(&lab.server, storage), 1);
}

#[tokio::test]
async fn a_refusal_for_a_pod_no_pdb_selects_blocks_the_drain_before_any_failure() {
    let lab = start("titan-lab", options()).await;
    let kube = KubeCluster::from_kubeconfig(&lab.kubeconfig(), settings()).await.unwrap();
    let node = busiest_node(&lab.server);
    let pods = cordoned(&kube, &node).await;
    assert!(pods.len() >= 2, "{pods:?}");
    let (refused, failing) = (&pods[0], &pods[1]);
    lab.server.inject_for(Injection::new("POST", &eviction_of(refused), 429));
    lab.server.inject_for(Injection::new("POST", &eviction_of(failing), 503));
    let outcome = kube.execute(&Effect::Drain { node: node.clone() }).await;
    let ns = refused.split_once('/').expect("namespace/name").0;
    assert_eq!(outcome, EffectOutcome::BlockedByPdb { pdb: format!("{ns}/(unnamed)") });
    let mut left = cordoned(&kube, &node).await;
    left.sort();
    let mut expected = vec![refused.clone(), failing.clone()];
    expected.sort();
    assert_eq!(left, expected, "the other pods were evicted");
}
