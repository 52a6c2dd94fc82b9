//! Every effect kind's name, idempotency key, plan line and wire tag, from one table.

use super::{Effect, EffectKind};
use crate::config::{K3sRole, ObjectRef, WorkloadKind, WorkloadRef};
use crate::observation::{FluxKind, FluxRef};

fn flux(kind: FluxKind, name: &str) -> FluxRef {
    FluxRef { kind, object: ObjectRef { namespace: "flux-system".into(), name: name.into() } }
}

fn workload(kind: WorkloadKind, name: &str) -> WorkloadRef {
    WorkloadRef { kind, namespace: "apps".into(), name: name.into() }
}

/// (effect, kind, key, describe) for every variant.
fn table() -> Vec<(Effect, EffectKind, &'static str, &'static str)> {
    let node = || "titan-01".to_string();
    vec![
        (
            Effect::StartK3s { node: node(), role: K3sRole::Server },
            EffectKind::StartK3s,
            "start-k3s:titan-01",
            "start k3s on titan-01",
        ),
        (
            Effect::StopK3s { node: node(), role: K3sRole::Agent },
            EffectKind::StopK3s,
            "stop-k3s:titan-01",
            "stop k3s-agent on titan-01",
        ),
        (Effect::Cordon { node: node() }, EffectKind::Cordon, "cordon:titan-01", "cordon node titan-01"),
        (
            Effect::Uncordon { node: node() },
            EffectKind::Uncordon,
            "uncordon:titan-01",
            "uncordon node titan-01 (ananke cordoned it)",
        ),
        (Effect::Drain { node: node() }, EffectKind::Drain, "drain:titan-01", "evict the pods still on titan-01"),
        (
            Effect::Scale { workload: workload(WorkloadKind::StatefulSet, "db"), replicas: 0 },
            EffectKind::Scale,
            "scale:StatefulSet/apps/db=0",
            "scale StatefulSet/apps/db to 0",
        ),
        (
            Effect::SuspendFlux { object: flux(FluxKind::Kustomization, "apps") },
            EffectKind::SuspendFlux,
            "suspend-flux:Kustomization/flux-system/apps",
            "suspend Kustomization/flux-system/apps",
        ),
        (
            Effect::ResumeFlux { object: flux(FluxKind::HelmRelease, "gitea") },
            EffectKind::ResumeFlux,
            "resume-flux:HelmRelease/flux-system/gitea",
            "resume HelmRelease/flux-system/gitea (ananke suspended it)",
        ),
        (
            Effect::RequestReconcile { object: flux(FluxKind::Kustomization, "apps"), token: "t42".into() },
            EffectKind::RequestReconcile,
            "request-reconcile:Kustomization/flux-system/apps@t42",
            "request a reconcile of Kustomization/flux-system/apps",
        ),
        (
            Effect::SetFluxSource {
                object: flux(FluxKind::GitRepository, "infra"),
                url: Some("ssh://git@mirror/infra".into()),
                branch: Some("main".into()),
            },
            EffectKind::SetFluxSource,
            "set-flux-source:GitRepository/flux-system/infra:ssh://git@mirror/infra#main",
            "set GitRepository/flux-system/infra source to ssh://git@mirror/infra branch main",
        ),
        (
            Effect::SetFluxSource { object: flux(FluxKind::GitRepository, "infra"), url: None, branch: None },
            EffectKind::SetFluxSource,
            "set-flux-source:GitRepository/flux-system/infra:-#-",
            "set GitRepository/flux-system/infra source to (unchanged url) branch (unchanged)",
        ),
        (
            Effect::UnsealVault { pod: "vault-0".into() },
            EffectKind::UnsealVault,
            "unseal-vault:vault-0",
            "unseal vault pod vault-0 with the standard shares",
        ),
        (
            Effect::UnsealVaultBreakglass { pod: "vault-0".into() },
            EffectKind::UnsealVaultBreakglass,
            "unseal-vault-breakglass:vault-0",
            "unseal vault pod vault-0 with the breakglass command's shares",
        ),
        (
            Effect::PowerOffHost { node: node() },
            EffectKind::PowerOffHost,
            "power-off-host:titan-01",
            "power off host titan-01",
        ),
    ]
}

#[test]
fn every_effect_has_its_kind_key_and_plan_line() {
    for (effect, kind, key, describe) in table() {
        assert_eq!(effect.kind(), kind, "{effect:?}");
        assert_eq!(effect.key(), key, "{effect:?}");
        assert_eq!(effect.describe(), describe, "{effect:?}");
        assert!(effect.is_mutating(), "{effect:?} must need --execute");
    }
}

#[test]
fn the_table_covers_every_kind_once_by_name() {
    let mut kinds: Vec<EffectKind> = table().iter().map(|(_, k, _, _)| *k).collect();
    kinds.dedup();
    assert_eq!(kinds.len(), 13, "one row per kind (SetFluxSource twice, adjacent)");
    let names: std::collections::BTreeSet<&str> = kinds.iter().map(|k| k.as_str()).collect();
    assert_eq!(names.len(), 13, "kind names are distinct");
}

#[test]
fn wire_tag_and_kind_serialization_match_the_kind_name() {
    for (effect, kind, _, _) in table() {
        let json = serde_json::to_value(&effect).expect("serialize effect");
        assert_eq!(json["effect"], kind.as_str(), "{json}");
        assert_eq!(serde_json::to_value(kind).expect("serialize kind"), kind.as_str());
        let back: Effect = serde_json::from_value(json).expect("deserialize effect");
        assert_eq!(back, effect);
    }
}

#[test]
fn keys_differ_where_the_effects_differ() {
    let a = Effect::Scale { workload: workload(WorkloadKind::Deployment, "web"), replicas: 0 };
    let b = Effect::Scale { workload: workload(WorkloadKind::Deployment, "web"), replicas: 2 };
    assert_ne!(a.key(), b.key(), "a different target replica count is a different command");
    let only_branch = Effect::SetFluxSource {
        object: flux(FluxKind::GitRepository, "infra"),
        url: None,
        branch: Some("recovery".into()),
    };
    assert_eq!(only_branch.key(), "set-flux-source:GitRepository/flux-system/infra:-#recovery");
    assert_eq!(only_branch.describe(), "set GitRepository/flux-system/infra source to (unchanged url) branch recovery");
}
