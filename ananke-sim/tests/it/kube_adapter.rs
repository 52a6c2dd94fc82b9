//! The Kubernetes adapter (ananke-core feature `kube`) against `ananke-sim serve`.

use super::serve::{options, start, Lab};
use ananke_core::adapters::kube::{KubeCluster, KubeSettings};
use ananke_core::config::{ObjectRef, WorkloadKind, WorkloadRef};
use ananke_core::machine::EffectOutcome;
use ananke_core::observation::{FluxKind, FluxObject, FluxRef, Observation, SshStatus, UnitState};
use ananke_core::{Effect, Time};
use ananke_sim::serve::ServeOptions;
use ananke_sim::{builtin, Model};
use std::collections::BTreeSet;
use std::time::Duration;

fn settings() -> KubeSettings {
    KubeSettings {
        request_timeout: Duration::from_secs(5),
        retry_backoff: Duration::from_millis(20),
        ..KubeSettings::default()
    }
}

async fn adapter(lab: &Lab) -> KubeCluster {
    KubeCluster::from_kubeconfig(&lab.kubeconfig(), settings()).await.unwrap()
}

/// The fields the facade renders, in a comparable order. Deployments have no
/// `status.currentReplicas`, so the model's `current` is not rendered for them.
fn comparable(obs: &Observation) -> Observation {
    let mut o = obs.clone();
    o.at = Time::ZERO;
    o.probes.clear();
    o.git_server = None;
    o.vault.clear();
    o.power.clear();
    o.nodes.iter_mut().for_each(|n| {
        n.ssh = SshStatus::default();
        n.k3s_unit = UnitState::default();
    });
    o.nodes.sort_by(|a, b| a.name.cmp(&b.name));
    for w in &mut o.workloads {
        if w.id.kind == WorkloadKind::Deployment {
            w.status.current = 0;
        }
    }
    o.workloads.sort_by(|a, b| a.id.cmp(&b.id));
    o.pods_to_evict.sort_by(|a, b| (&a.pod.namespace, &a.pod.name).cmp(&(&b.pod.namespace, &b.pod.name)));
    o.ingresses.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    if let Some(f) = &mut o.flux {
        for list in [&mut f.sources, &mut f.kustomizations, &mut f.helm_releases] {
            list.sort_by(|a, b| a.id.cmp(&b.id));
            for x in list.iter_mut() {
                x.manages.sort();
            }
        }
    }
    o
}

fn model_observation(lab: &Lab) -> Observation {
    lab.server.with_state(|s| {
        let now = s.now();
        s.model.observe(now)
    })
}

fn flux_ref(kind: FluxKind, namespace: &str, name: &str) -> FluxRef {
    FluxRef { kind, object: ObjectRef { namespace: namespace.into(), name: name.into() } }
}

#[tokio::test]
async fn observation_equals_the_models_own() {
    let lab = start("titan-lab", options()).await;
    let kube = adapter(&lab).await;
    let seen = kube.observe().await;
    assert!(seen.api.reachable, "{:?}", seen.api);
    assert_eq!(comparable(&seen), comparable(&model_observation(&lab)));
    let flux = seen.flux.as_ref().unwrap();
    assert!(flux.installed && flux.kustomizations.iter().any(|k| !k.manages.is_empty()));
    assert!(
        seen.ingresses.iter().all(|i| i.backends.iter().all(|b| b.exists && b.ready_endpoints > 0)),
        "{:?}",
        seen.ingresses
    );

    let node = seen.nodes.iter().map(|n| n.name.clone()).find(|n| n == "titan-03").unwrap();
    assert_eq!(kube.execute(&Effect::Cordon { node }).await, EffectOutcome::Ok);
    let seen = kube.observe().await;
    assert!(!seen.pods_to_evict.is_empty());
    assert_eq!(comparable(&seen), comparable(&model_observation(&lab)));
}

#[tokio::test]
async fn one_list_per_kind_per_cycle() {
    let lab = start("titan-lab", options()).await;
    let kube = adapter(&lab).await;
    lab.server.clear_requests();
    let _ = kube.observe().await;
    let log = lab.server.requests();
    let paths: BTreeSet<String> = log.iter().map(|r| r.target.clone()).collect();
    assert_eq!(log.len(), 12, "{log:?}");
    assert_eq!(paths.len(), 12, "one request per kind: {paths:?}");
    assert!(log.iter().all(|r| r.method == "GET" && r.status == 200 && r.target.ends_with('?')));
}

/// Apply `effect` to a fresh model of `scenario` and through the adapter to the served one; both
/// must end in the same restorable state, pods and Flux fields.
async fn same_as_model(lab: &Lab, reference: &mut Model, kube: &KubeCluster, effect: Effect) -> EffectOutcome {
    let direct = reference.apply(Time::ZERO, &effect);
    let through = kube.execute(&effect).await;
    assert_eq!(through, direct, "{effect:?}");
    let (state, pods, flux) = lab.server.with_state(|s| {
        let obs = s.model.observe(Time::ZERO);
        (s.model.cluster_state(), s.model.serve_pods(), obs.flux)
    });
    assert_eq!(state, reference.cluster_state(), "{effect:?}");
    let placement =
        |p: Vec<ananke_sim::model::PodView>| p.into_iter().map(|p| (p.workload, p.node)).collect::<BTreeSet<_>>();
    assert_eq!(placement(pods), placement(reference.serve_pods()), "{effect:?}");
    let strip = |f: &FluxObject| (f.id.clone(), f.generation, f.suspend, f.url.clone(), f.branch.clone());
    let fields =
        |o: Option<ananke_core::observation::FluxObservation>| o.map(|f| f.all().map(strip).collect::<Vec<_>>());
    assert_eq!(fields(flux), fields(Some(reference.observe(Time::ZERO).flux.unwrap())), "{effect:?}");
    through
}

#[tokio::test]
async fn every_effect_changes_the_served_model_as_apply_would() {
    let lab = start("titan-lab", options()).await;
    let kube = adapter(&lab).await;
    let mut reference = Model::new(&builtin("titan-lab").unwrap(), 0);
    let web = WorkloadRef { kind: WorkloadKind::Deployment, namespace: "apps".into(), name: "web".into() };
    let apps = flux_ref(FluxKind::Kustomization, "flux-system", "apps");
    let source = flux_ref(FluxKind::GitRepository, "flux-system", "flux-system");
    let node = lab.server.with_state(|s| s.model.serve_pods().into_iter().find(|p| p.workload == web).unwrap().node);
    for effect in [
        Effect::SuspendFlux { object: apps.clone() },
        Effect::Scale { workload: web.clone(), replicas: 1 },
        Effect::Cordon { node: node.clone() },
        Effect::Drain { node: node.clone() },
        Effect::Uncordon { node: node.clone() },
        Effect::RequestReconcile { object: apps.clone(), token: "t-1".into() },
        Effect::ResumeFlux { object: apps.clone() },
        Effect::SetFluxSource { object: source.clone(), url: None, branch: Some("drill".into()) },
        Effect::SetFluxSource { object: source, url: Some("ssh://git@example.invalid/x.git".into()), branch: None },
    ] {
        assert_eq!(same_as_model(&lab, &mut reference, &kube, effect).await, EffectOutcome::Ok);
    }
    let gone =
        kube.execute(&Effect::SuspendFlux { object: flux_ref(FluxKind::HelmRelease, "monitoring", "gone") }).await;
    assert!(
        matches!(&gone, EffectOutcome::Failed { transient: false, message } if message.contains("gone")),
        "{gone:?}"
    );
    let daemon = WorkloadRef { kind: WorkloadKind::DaemonSet, namespace: "x".into(), name: "y".into() };
    assert!(matches!(
        kube.execute(&Effect::Scale { workload: daemon, replicas: 0 }).await,
        EffectOutcome::Failed { transient: false, .. }
    ));
    assert!(matches!(
        kube.execute(&Effect::UnsealVault { pod: "vault-0".into() }).await,
        EffectOutcome::Failed { transient: false, .. }
    ));
}

#[tokio::test]
async fn a_pdb_refusal_names_the_pdb() {
    let lab = start("pdb-blocks-drain", options()).await;
    let kube = adapter(&lab).await;
    let mut reference = Model::new(&builtin("pdb-blocks-drain").unwrap(), 0);
    let storage = WorkloadRef {
        kind: WorkloadKind::Deployment,
        namespace: "kube-system".into(),
        name: "local-path-provisioner".into(),
    };
    let node =
        lab.server.with_state(|s| s.model.serve_pods().into_iter().find(|p| p.workload == storage).unwrap().node);
    same_as_model(&lab, &mut reference, &kube, Effect::Cordon { node: node.clone() }).await;
    let seen = kube.observe().await;
    let pod = seen.pods_to_evict.iter().find(|p| p.pod.name == "local-path-provisioner-0").unwrap();
    assert_eq!(pod.blocked_by_pdb.as_deref(), Some("kube-system/local-path-provisioner"));
    let outcome = same_as_model(&lab, &mut reference, &kube, Effect::Drain { node }).await;
    assert_eq!(outcome, EffectOutcome::BlockedByPdb { pdb: "kube-system/local-path-provisioner".into() });
}

#[tokio::test]
async fn flux_not_installed_is_data_not_an_error() {
    let lab = start("titan-lab", ServeOptions { flux_installed: false, ..options() }).await;
    let seen = adapter(&lab).await.observe().await;
    assert!(seen.api.reachable);
    let flux = seen.flux.unwrap();
    assert!(!flux.installed && flux.all().next().is_none());
    assert!(lab
        .server
        .requests()
        .iter()
        .any(|r| r.status == 404 && r.target.starts_with("/apis/helm.toolkit.fluxcd.io/")));
}

#[tokio::test]
async fn answered_503_is_transient_and_never_silently_retried() {
    let lab = start("titan-lab", options()).await;
    let kube = adapter(&lab).await;
    lab.server.inject(&[503]);
    lab.server.clear_requests();
    let outcome = kube.execute(&Effect::Cordon { node: "titan-05".into() }).await;
    assert!(
        matches!(&outcome, EffectOutcome::Failed { transient: true, message } if message.contains("503")),
        "{outcome:?}"
    );
    assert_eq!(lab.server.requests().len(), 1, "kube's own retry is off");
    lab.server.inject(&[429, 504, 503]);
    lab.server.clear_requests();
    let seen = kube.observe().await;
    assert!(seen.api.reachable, "the adapter's bounded read retry absorbs a few failures");
    assert_eq!(lab.server.requests().len(), 15);

    let flaky = start("api-flaky", options()).await;
    let kube = adapter(&flaky).await;
    let mut failures = 0;
    for i in 0..40 {
        flaky.server.clear_requests();
        let node = format!("titan-0{}", 3 + i % 4);
        let effect = if i % 2 == 0 { Effect::Cordon { node } } else { Effect::Uncordon { node } };
        match kube.execute(&effect).await {
            EffectOutcome::Ok => {}
            EffectOutcome::Failed { transient: true, .. } => failures += 1,
            other => panic!("{other:?}"),
        }
        assert_eq!(flaky.server.requests().len(), 1);
    }
    assert!(failures > 0, "15 % of 40 calls fail");
}

#[tokio::test]
async fn a_stopped_api_is_unreachable_data() {
    let lab = start("titan-lab", options()).await;
    let kube = adapter(&lab).await;
    assert!(kube.observe().await.api.reachable);
    let Lab { server, dir: _dir, .. } = lab;
    server.shutdown().await;
    let seen = kube.observe().await;
    assert!(!seen.api.reachable);
    assert!(seen.api.error.as_deref().is_some_and(|e| e.contains("cannot reach the API")), "{:?}", seen.api);
    assert!(seen.flux.is_none() && seen.workloads.is_empty());
    let outcome = kube.execute(&Effect::Cordon { node: "titan-03".into() }).await;
    assert!(matches!(outcome, EffectOutcome::Failed { transient: true, .. }), "{outcome:?}");
}
