//! Unit tests of the model's semantics.

use super::Model;
use crate::scenario::builtin;
use ananke_core::config::{K3sRole, WorkloadKind, WorkloadRef};
use ananke_core::machine::EffectOutcome;
use ananke_core::observation::{ConditionStatus, FluxKind, FluxRef};
use ananke_core::{Effect, Time};

fn lab() -> Model {
    Model::new(&builtin("titan-lab").unwrap(), 1)
}

fn secs(s: u64) -> Time {
    Time(s * 1000)
}

fn wl(kind: WorkloadKind, ns: &str, name: &str) -> WorkloadRef {
    WorkloadRef { kind, namespace: ns.into(), name: name.into() }
}

fn ks(name: &str) -> FluxRef {
    FluxRef { kind: FluxKind::Kustomization, object: ananke_core::config::ObjectRef { namespace: "flux-system".into(), name: name.into() } }
}

#[test]
fn a_running_lab_is_healthy() {
    let mut m = lab();
    let obs = m.observe(secs(1));
    assert!(obs.api.reachable);
    assert!(obs.nodes.iter().all(|n| n.kube.as_ref().is_some_and(|k| k.ready == ConditionStatus::True)));
    for w in &obs.workloads {
        assert_eq!(w.status.ready, w.spec_replicas.unwrap(), "{}", w.id);
    }
    assert!(obs.probes.values().all(|p| p.ok), "{:?}", obs.probes);
    assert!(obs.vault.iter().all(|v| !v.sealed && v.reachable));
    assert!(obs.git_server.unwrap().healthy);
    let flux = obs.flux.unwrap();
    assert!(flux.all().all(|f| f.condition("Ready").unwrap().status == ConditionStatus::True));
    assert!(obs.ingresses.iter().all(|i| !i.addresses.is_empty() && i.backends.iter().all(|b| b.ready_endpoints > 0)));
}

#[test]
fn the_api_needs_a_server_quorum_and_nodes_go_unknown_after_the_grace_period() {
    let mut m = lab();
    let stop = |node: &str| Effect::StopK3s { node: node.into(), role: K3sRole::Agent };
    assert_eq!(m.apply(secs(1), &stop("titan-03")), EffectOutcome::Ok);
    let obs = m.observe(secs(30));
    assert_eq!(obs.node("titan-03").unwrap().kube.as_ref().unwrap().ready, ConditionStatus::True, "stale until the grace period");
    let obs = m.observe(secs(60));
    let k = obs.node("titan-03").unwrap().kube.clone().unwrap();
    assert_eq!((k.ready, k.ready_reason.as_str()), (ConditionStatus::Unknown, "NodeStatusUnknown"));
    let _ = m.apply(secs(61), &Effect::StopK3s { node: "titan-01".into(), role: K3sRole::Server });
    assert!(m.observe(secs(80)).api.reachable, "2 of 3 servers");
    let _ = m.apply(secs(81), &Effect::StopK3s { node: "titan-02".into(), role: K3sRole::Server });
    assert!(!m.observe(secs(100)).api.reachable);
    let out = m.apply(secs(101), &Effect::Cordon { node: "titan-04".into() });
    assert!(matches!(out, EffectOutcome::Failed { transient: true, .. }));
}

#[test]
fn an_unsuspended_kustomization_reverts_a_scale_down_and_a_suspended_one_does_not() {
    let mut m = lab();
    let web = wl(WorkloadKind::Deployment, "apps", "web");
    assert_eq!(m.apply(secs(1), &Effect::Scale { workload: web.clone(), replicas: 0 }), EffectOutcome::Ok);
    let _ = m.apply(secs(2), &Effect::RequestReconcile { object: ks("apps"), token: "t1".into() });
    let obs = m.observe(secs(30));
    assert_eq!(obs.workload(&web).unwrap().spec_replicas, Some(2), "Flux re-applied the manifest");
    let apps = obs.flux.as_ref().unwrap().get(&ks("apps")).unwrap().clone();
    assert_eq!(apps.last_handled_reconcile_at.as_deref(), Some("t1"));
    let _ = m.apply(secs(31), &Effect::SuspendFlux { object: ks("apps") });
    let _ = m.apply(secs(32), &Effect::Scale { workload: web.clone(), replicas: 0 });
    // The root re-applies its children: `apps` is unsuspended again and reverts the scale.
    let obs = m.observe(secs(700));
    assert!(!obs.flux.as_ref().unwrap().get(&ks("apps")).unwrap().suspend);
    assert_eq!(obs.workload(&web).unwrap().spec_replicas, Some(2));
    // Roots first, then the child: the suspend holds.
    let _ = m.apply(secs(701), &Effect::SuspendFlux { object: ks("flux-system") });
    let _ = m.apply(secs(701), &Effect::SuspendFlux { object: ks("apps") });
    let _ = m.apply(secs(702), &Effect::Scale { workload: web.clone(), replicas: 0 });
    let _ = m.apply(secs(703), &Effect::RequestReconcile { object: ks("apps"), token: "t2".into() });
    let obs = m.observe(secs(3000));
    assert_eq!(obs.workload(&web).unwrap().spec_replicas, Some(0));
    assert_eq!(obs.workload(&web).unwrap().status.replicas, 0);
}

#[test]
fn the_source_cannot_fetch_while_its_git_server_is_down() {
    let mut m = lab();
    let gitea = wl(WorkloadKind::Deployment, "gitea", "gitea");
    let source = FluxRef { kind: FluxKind::GitRepository, object: ks("flux-system").object };
    let _ = m.apply(secs(1), &Effect::SuspendFlux { object: ks("flux-system") });
    let _ = m.apply(secs(1), &Effect::SuspendFlux { object: ks("gitea") });
    let _ = m.apply(secs(2), &Effect::Scale { workload: gitea.clone(), replicas: 0 });
    let _ = m.apply(secs(30), &Effect::RequestReconcile { object: source.clone(), token: "a".into() });
    let obs = m.observe(secs(40));
    assert!(!obs.git_server.as_ref().unwrap().healthy);
    let src = obs.flux.as_ref().unwrap().get(&source).unwrap().clone();
    assert_eq!(src.condition("Ready").unwrap().status, ConditionStatus::False);
    let _ = m.apply(secs(41), &Effect::Scale { workload: gitea, replicas: 1 });
    assert!(m.observe(secs(90)).git_server.unwrap().healthy);
    let _ = m.apply(secs(90), &Effect::RequestReconcile { object: source.clone(), token: "b".into() });
    let obs = m.observe(secs(100));
    assert_eq!(obs.flux.as_ref().unwrap().get(&source).unwrap().condition("Ready").unwrap().status, ConditionStatus::True);
}

#[test]
fn power_loss_darkens_hosts_after_their_battery_and_vault_comes_back_sealed() {
    let mut s = builtin("vault-breakglass").unwrap();
    s.faults.clear();
    let mut m = Model::new(&s, 1);
    m.power_loss(secs(10));
    let obs = m.observe(secs(20));
    assert!(obs.power.iter().all(|u| u.has("OB")));
    assert!(m.observe(secs(10 + 20 * 60 + 1)).node("titan-23").unwrap().ssh != ananke_core::observation::SshStatus::Reachable);
    assert!(!m.all_hosts_dark());
    m.advance(secs(10 + 30 * 60 + 1));
    assert!(m.all_hosts_dark());
    m.power_restore(secs(4000));
    let obs = m.observe(secs(4000 + 200));
    assert!(obs.nodes.iter().all(|n| n.ssh.is_reachable() && n.k3s_unit == ananke_core::observation::UnitState::Inactive));
    for n in ["titan-db", "titan-01", "titan-02", "titan-03", "titan-04"] {
        let role = if n.starts_with("titan-0") && n != "titan-03" && n != "titan-04" || n == "titan-db" { K3sRole::Server } else { K3sRole::Agent };
        assert_eq!(m.apply(secs(4200), &Effect::StartK3s { node: n.into(), role }), EffectOutcome::Ok);
    }
    for n in ["titan-db", "titan-01", "titan-02", "titan-03", "titan-04"] {
        let _ = m.apply(secs(4300), &Effect::Uncordon { node: n.into() });
    }
    let obs = m.observe(secs(4600));
    assert!(obs.api.reachable);
    assert!(obs.vault.iter().all(|v| v.sealed && v.reachable), "{:?}", obs.vault);
    assert_eq!(m.apply(secs(4601), &Effect::UnsealVault { pod: "vault-0".into() }), EffectOutcome::Ok);
    assert!(!m.observe(secs(4602)).vault[0].sealed);
}

#[test]
fn a_pdb_refuses_a_drain() {
    let s = builtin("pdb-blocks-drain").unwrap();
    let mut m = Model::new(&s, 1);
    let obs = m.observe(secs(1));
    let node = m.comps.iter().find(|c| c.name == "storage").map(|c| m.nodes[c.pods[0]].name.clone()).unwrap();
    let _ = m.apply(secs(2), &Effect::Cordon { node: node.clone() });
    assert_eq!(m.apply(secs(3), &Effect::Drain { node: node.clone() }), EffectOutcome::BlockedByPdb { pdb: "kube-system/local-path-provisioner".into() });
    let obs2 = m.observe(secs(4));
    assert!(obs2.pods_to_evict.iter().any(|p| p.blocked_by_pdb.is_some() && p.node == node));
    assert_eq!(m.eviction_attempts(&node), 1);
    assert!(obs.pods_to_evict.is_empty());
}

#[test]
fn cluster_state_diff_names_fields() {
    let mut m = lab();
    let before = m.cluster_state();
    let _ = m.apply(secs(1), &Effect::Cordon { node: "titan-03".into() });
    let diff = before.diff(&m.cluster_state());
    assert_eq!(diff, vec!["cordon of titan-03: false -> true".to_owned()]);
}
