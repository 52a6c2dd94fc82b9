//! The Kubernetes adapter's effect paths that the happy-path tests do not take, against
//! `ananke-sim serve`: `StatefulSet` scaling, objects that are gone, answered errors classified as
//! transient or permanent (the facade's injected statuses), a failed pod list before a drain,
//! requests that time out, and kubeconfigs that cannot be used.

use super::serve::{options, start};
use ananke_core::adapters::kube::{KubeCluster, KubeError, KubeSettings};
use ananke_core::config::{ObjectRef, WorkloadKind, WorkloadRef};
use ananke_core::machine::EffectOutcome;
use ananke_core::observation::{FluxKind, FluxRef};
use ananke_core::Effect;
use std::time::Duration;

fn settings() -> KubeSettings {
    KubeSettings { request_timeout: Duration::from_secs(5), retry_backoff: Duration::from_millis(20), ..KubeSettings::default() }
}

fn failed_with(outcome: &EffectOutcome, transient: bool, needle: &str) -> bool {
    matches!(outcome, EffectOutcome::Failed { transient: t, message } if *t == transient && message.contains(needle))
}

#[tokio::test]
async fn a_statefulset_scales_through_its_scale_subresource() {
    let lab = start("titan-lab", options()).await;
    let kube = KubeCluster::from_kubeconfig(&lab.kubeconfig(), settings()).await.unwrap();
    let prometheus = WorkloadRef { kind: WorkloadKind::StatefulSet, namespace: "monitoring".into(), name: "prometheus".into() };
    lab.server.clear_requests();
    assert_eq!(kube.execute(&Effect::Scale { workload: prometheus, replicas: 0 }).await, EffectOutcome::Ok);
    let log = lab.server.requests();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].method == "PATCH" && log[0].target.contains("/statefulsets/prometheus/scale"), "{log:?}");
    let seen = kube.observe().await;
    let w = seen.workloads.iter().find(|w| w.id.name == "prometheus").unwrap();
    assert_eq!(w.spec_replicas, Some(0), "{w:?}");
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
        assert!(failed_with(&outcome, false, "404") && failed_with(&outcome, false, "(the object is gone)"), "{effect:?}: {outcome:?}");
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
        assert!(failed_with(&outcome, transient, &format!("suspend Kustomization/flux-system/apps: {code}")), "{code}: {outcome:?}");
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
    std::fs::write(&no_context, "apiVersion: v1\nkind: Config\ncurrent-context: gone\nclusters: []\ncontexts: []\nusers: []\n").unwrap();
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
