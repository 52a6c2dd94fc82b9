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
    FluxRef {
        kind: FluxKind::Kustomization,
        object: ananke_core::config::ObjectRef { namespace: "flux-system".into(), name: name.into() },
    }
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
    assert_eq!(
        obs.node("titan-03").unwrap().kube.as_ref().unwrap().ready,
        ConditionStatus::True,
        "stale until the grace period"
    );
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
    assert_eq!(
        obs.flux.as_ref().unwrap().get(&source).unwrap().condition("Ready").unwrap().status,
        ConditionStatus::True
    );
}

#[test]
fn power_loss_darkens_hosts_after_their_battery_and_vault_comes_back_sealed() {
    let mut s = builtin("vault-breakglass").unwrap();
    s.faults.clear();
    let mut m = Model::new(&s, 1);
    m.power_loss(secs(10));
    let obs = m.observe(secs(20));
    assert!(obs.power.iter().all(|u| u.has("OB")));
    assert!(
        m.observe(secs(10 + 20 * 60 + 1)).node("titan-23").unwrap().ssh
            != ananke_core::observation::SshStatus::Reachable
    );
    assert!(!m.all_hosts_dark());
    m.advance(secs(10 + 30 * 60 + 1));
    assert!(m.all_hosts_dark());
    m.power_restore(secs(4000));
    let obs = m.observe(secs(4000 + 200));
    assert!(obs
        .nodes
        .iter()
        .all(|n| n.ssh.is_reachable() && n.k3s_unit == ananke_core::observation::UnitState::Inactive));
    for n in ["titan-db", "titan-01", "titan-02", "titan-03", "titan-04"] {
        let role = if n.starts_with("titan-0") && n != "titan-03" && n != "titan-04" || n == "titan-db" {
            K3sRole::Server
        } else {
            K3sRole::Agent
        };
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
    assert_eq!(
        m.apply(secs(3), &Effect::Drain { node: node.clone() }),
        EffectOutcome::BlockedByPdb { pdb: "kube-system/local-path-provisioner".into() }
    );
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

fn refused(message: &str) -> EffectOutcome {
    EffectOutcome::Failed { transient: false, message: message.into() }
}

#[test]
fn effects_on_objects_that_do_not_exist_are_refused_and_change_nothing() {
    let mut s = builtin("titan-lab").unwrap();
    let coredns = s.components.iter_mut().find(|c| c.name == "coredns").unwrap();
    coredns.workload.as_mut().unwrap().kind = WorkloadKind::DaemonSet;
    let mut m = Model::new(&s, 1);
    let before = m.cluster_state();
    let ghost_wl = wl(WorkloadKind::Deployment, "apps", "ghost");
    let daemonset = wl(WorkloadKind::DaemonSet, "kube-system", "coredns");
    let ghost = ks("ghost");
    let cases = [
        (Effect::StartK3s { node: "titan-99".into(), role: K3sRole::Agent }, "unknown host titan-99".to_owned()),
        (Effect::PowerOffHost { node: "titan-99".into() }, "unknown host titan-99".to_owned()),
        (Effect::UnsealVault { pod: "vault-9".into() }, "unknown vault pod vault-9".to_owned()),
        (Effect::UnsealVaultBreakglass { pod: "vault-9".into() }, "unknown vault pod vault-9".to_owned()),
        (Effect::Cordon { node: "titan-99".into() }, "nodes \"titan-99\" not found".to_owned()),
        (Effect::Uncordon { node: "titan-99".into() }, "nodes \"titan-99\" not found".to_owned()),
        (Effect::Drain { node: "titan-99".into() }, "nodes \"titan-99\" not found".to_owned()),
        (Effect::Scale { workload: ghost_wl.clone(), replicas: 1 }, format!("{ghost_wl} not found")),
        (Effect::Scale { workload: daemonset.clone(), replicas: 0 }, format!("{daemonset} has no scale subresource")),
        (Effect::SuspendFlux { object: ghost.clone() }, format!("{ghost} not found")),
        (Effect::ResumeFlux { object: ghost.clone() }, format!("{ghost} not found")),
        (Effect::RequestReconcile { object: ghost.clone(), token: "t".into() }, format!("{ghost} not found")),
        (
            Effect::SetFluxSource { object: ghost.clone(), url: None, branch: Some("drill".into()) },
            format!("{ghost} not found"),
        ),
    ];
    for (k, (effect, message)) in cases.iter().enumerate() {
        assert_eq!(m.apply(secs(1 + k as u64), effect), refused(message), "{effect:?}");
    }
    assert_eq!(before.diff(&m.cluster_state()), Vec::<String>::new());
    assert_eq!(m.observe(secs(30)).workload(&daemonset).unwrap().spec_replicas, Some(2));
}

#[test]
fn a_vault_pod_that_does_not_run_cannot_be_unsealed_until_it_runs_again() {
    let mut m = lab();
    let vault = wl(WorkloadKind::StatefulSet, "vault", "vault");
    let _ = m.apply(secs(1), &Effect::SuspendFlux { object: ks("flux-system") });
    let _ = m.apply(secs(1), &Effect::SuspendFlux { object: ks("vault") });
    assert_eq!(m.apply(secs(2), &Effect::Scale { workload: vault.clone(), replicas: 1 }), EffectOutcome::Ok);
    let obs = m.observe(secs(3));
    assert_eq!(
        obs.vault.iter().map(|v| (v.reachable, v.sealed)).collect::<Vec<_>>(),
        [(true, false), (false, true), (false, true)]
    );
    let out = m.apply(secs(4), &Effect::UnsealVault { pod: "vault-2".into() });
    let refused = "dial tcp vault-2.vault-internal:8200: connect: connection refused".to_owned();
    assert_eq!(out, EffectOutcome::Failed { transient: true, message: refused });
    let _ = m.apply(secs(5), &Effect::Scale { workload: vault, replicas: 3 });
    assert!(m.observe(secs(60)).vault[2].reachable);
    assert_eq!(m.apply(secs(61), &Effect::UnsealVaultBreakglass { pod: "vault-2".into() }), EffectOutcome::Ok);
    assert!(!m.observe(secs(62)).vault[2].sealed);
}

#[test]
fn a_branch_change_strikes_once_its_phase_has_begun() {
    use crate::scenario::{Fault, Phase, PhaseAt};
    let mut s = builtin("titan-lab").unwrap();
    let at = PhaseAt { phase: Phase::Startup, after: std::time::Duration::from_secs(10).into() };
    s.faults.push(Fault::BranchChange { source: "flux-system".into(), branch: "drill".into(), at });
    s.faults.push(Fault::BranchChange { source: "no-such-source".into(), branch: "drill".into(), at });
    let mut m = Model::new(&s, 1);
    let source = FluxRef { kind: FluxKind::GitRepository, object: ks("flux-system").object };
    let branch = |m: &mut Model, t| {
        let obs = m.observe(secs(t));
        let f = obs.flux.unwrap().get(&source).unwrap().clone();
        (f.branch.unwrap(), f.generation)
    };
    assert_eq!(branch(&mut m, 50), ("main".to_owned(), 1), "the startup has not begun");
    m.begin_phase(Phase::Startup, secs(100));
    assert_eq!(branch(&mut m, 109), ("main".to_owned(), 1));
    assert_eq!(branch(&mut m, 110), ("drill".to_owned(), 2));
}

#[test]
fn a_lab_without_vault_runs_every_workload() {
    let mut s = builtin("titan-lab").unwrap();
    s.vault = None;
    // The StatefulSet is a plain app in a lab that runs no Vault.
    s.components.iter_mut().find(|c| c.name == "vault").unwrap().kind = crate::scenario::ComponentKind::App;
    let mut m = Model::new(&s, 1);
    let obs = m.observe(secs(1));
    assert!(obs.vault.is_empty());
    for w in &obs.workloads {
        assert_eq!(w.status.ready, w.spec_replicas.unwrap(), "{}", w.id);
    }
    assert!(m.component_up("vault") && m.component_up("web"));
    assert!(!m.component_up("no-such-component"));
}

fn component(name: &str, kind: crate::scenario::ComponentKind) -> crate::scenario::ComponentSpec {
    crate::scenario::ComponentSpec {
        name: name.into(),
        kind,
        depends_on: Vec::new(),
        start: std::time::Duration::from_secs(20).into(),
        stop: std::time::Duration::from_secs(10).into(),
        workload: None,
        host: None,
        nodes: Vec::new(),
    }
}

#[test]
fn a_datastore_runs_start_after_its_host_boots_and_stops_with_it() {
    let mut s = builtin("titan-lab").unwrap();
    s.components.push(crate::scenario::ComponentSpec {
        host: Some("titan-db".into()),
        ..component("db", crate::scenario::ComponentKind::Datastore)
    });
    s.components.push(component("hostless", crate::scenario::ComponentKind::Datastore));
    let mut m = Model::new(&s, 1);
    m.advance(secs(30));
    assert!(m.component_up("db"));
    assert!(!m.component_up("hostless"));
    assert_eq!(m.apply(secs(31), &Effect::PowerOffHost { node: "titan-db".into() }), EffectOutcome::Ok);
    assert!(!m.component_up("db"));
    m.power_restore(secs(40));
    // titan-db boots in 90 s, then the datastore takes its 20 s start.
    m.advance(secs(40 + 90 + 19));
    assert!(!m.component_up("db"));
    m.advance(secs(40 + 90 + 20));
    assert!(m.component_up("db"));
}

fn pods_of(m: &Model, workload: &WorkloadRef) -> Vec<String> {
    m.serve_pods().into_iter().filter(|p| &p.workload == workload).map(|p| p.node).collect()
}

#[test]
fn pods_run_only_on_their_eligible_nodes() {
    let mut s = builtin("titan-lab").unwrap();
    s.components.iter_mut().find(|c| c.name == "web").unwrap().nodes = vec!["titan-05".into()];
    let mut m = Model::new(&s, 1);
    let web = wl(WorkloadKind::Deployment, "apps", "web");
    assert_eq!(pods_of(&m, &web), ["titan-05", "titan-05"]);
    let _ = m.apply(secs(1), &Effect::Cordon { node: "titan-05".into() });
    assert_eq!(m.apply(secs(2), &Effect::Drain { node: "titan-05".into() }), EffectOutcome::Ok);
    m.advance(secs(300));
    assert!(pods_of(&m, &web).is_empty(), "no other node may run web");
    let _ = m.apply(secs(301), &Effect::Uncordon { node: "titan-05".into() });
    m.advance(secs(301 + 15));
    assert_eq!(pods_of(&m, &web), ["titan-05", "titan-05"]);
}

#[test]
fn scaling_down_before_a_lost_pod_is_replaced_cancels_the_replacement() {
    let mut m = lab();
    let web = wl(WorkloadKind::Deployment, "apps", "web");
    let c = m.workload_index[&web];
    let node = pods_of(&m, &web)[0].clone();
    assert_eq!(m.evict_one(secs(1), &web, &node), super::Eviction::Evicted);
    assert_eq!(m.comps[c].heal_at, Some(secs(1 + 15)), "web starts in 15 s");
    let _ = m.apply(secs(2), &Effect::Scale { workload: web.clone(), replicas: 1 });
    assert_eq!((m.comps[c].pods.len(), m.comps[c].heal_at), (1, None));
    m.advance(secs(60));
    assert_eq!(pods_of(&m, &web).len(), 1);
}

#[test]
fn an_eviction_of_a_pod_that_does_not_run_finds_nothing() {
    let mut m = lab();
    let web = wl(WorkloadKind::Deployment, "apps", "web");
    let on = pods_of(&m, &web);
    let off = m.nodes.iter().map(|n| n.name.clone()).find(|n| !on.contains(n)).unwrap();
    assert_eq!(m.evict_one(secs(1), &wl(WorkloadKind::Deployment, "apps", "ghost"), &on[0]), super::Eviction::NotFound);
    assert_eq!(m.evict_one(secs(1), &web, "titan-99"), super::Eviction::NotFound);
    assert_eq!(m.evict_one(secs(1), &web, &off), super::Eviction::NotFound);
    let _ = m.apply(secs(2), &Effect::SuspendFlux { object: ks("flux-system") });
    let _ = m.apply(secs(2), &Effect::SuspendFlux { object: ks("apps") });
    let _ = m.apply(secs(3), &Effect::Scale { workload: web.clone(), replicas: 0 });
    m.advance(secs(60));
    assert_eq!(m.evict_one(secs(61), &web, &on[0]), super::Eviction::NotFound, "web is down");
    assert_eq!(pods_of(&m, &web), Vec::<String>::new());
}

#[test]
fn a_pdb_with_a_spare_pod_allows_an_eviction_and_forgets_its_refusal() {
    let mut m = Model::new(&builtin("pdb-blocks-drain").unwrap(), 1);
    let storage = wl(WorkloadKind::Deployment, "kube-system", "local-path-provisioner");
    let node = pods_of(&m, &storage)[0].clone();
    let n = m.node_index[&node];
    let _ = m.apply(secs(1), &Effect::Cordon { node: node.clone() });
    let blocked = super::Eviction::Blocked { pdb: "local-path-provisioner".into(), min_available: 1, healthy: 1 };
    assert_eq!(m.evict_one(secs(2), &storage, &node), blocked);
    assert_eq!(m.nodes[n].blocked_by.as_deref(), Some("kube-system/local-path-provisioner"));
    let _ = m.apply(secs(3), &Effect::Scale { workload: storage.clone(), replicas: 2 });
    m.advance(secs(3 + 20));
    assert_eq!(pods_of(&m, &storage).len(), 2, "the second pod runs on an uncordoned node");
    assert_eq!(m.evict_one(secs(30), &storage, &node), super::Eviction::Evicted);
    assert_eq!(m.nodes[n].blocked_by, None);
    assert!(!pods_of(&m, &storage).contains(&node));
}

#[test]
fn cluster_state_diff_names_what_only_one_side_has() {
    let mut s = builtin("titan-lab").unwrap();
    let with_jh = Model::new(&s, 1).cluster_state();
    s.nodes.retain(|n| n.name != "titan-jh");
    let without_jh = Model::new(&s, 1).cluster_state();
    assert_eq!(with_jh.diff(&without_jh), ["cordon of titan-jh: false -> (missing)"]);
    assert_eq!(without_jh.diff(&with_jh), ["cordon of titan-jh: (missing) -> false"]);
}

#[test]
fn a_source_pointed_at_a_missing_repository_or_branch_fails_its_fetch() {
    let mut m = lab();
    let source = FluxRef { kind: FluxKind::GitRepository, object: ks("flux-system").object };
    let fetch = |m: &mut Model, t, url: Option<&str>, branch: Option<&str>| {
        let (url, branch) = (url.map(str::to_owned), branch.map(str::to_owned));
        assert_eq!(m.apply(secs(t), &Effect::SetFluxSource { object: source.clone(), url, branch }), EffectOutcome::Ok);
        let obs = m.observe(secs(t + 10));
        let ready = obs.flux.unwrap().get(&source).unwrap().condition("Ready").unwrap().clone();
        (ready.status, ready.message)
    };
    let (status, message) = fetch(&mut m, 1, None, Some("nope"));
    assert_eq!(status, ConditionStatus::False);
    assert!(message.contains("couldn't find remote ref \"refs/heads/nope\""), "{message}");
    let (status, message) = fetch(&mut m, 20, Some("ssh://git@elsewhere/x.git"), Some("main"));
    assert_eq!(status, ConditionStatus::False);
    assert!(message.contains("unable to clone 'ssh://git@elsewhere/x.git': repository not found"), "{message}");
    let url = "ssh://git@gitea-ssh.gitea.svc.cluster.local:22/titan/titan-iac.git";
    assert_eq!(fetch(&mut m, 40, Some(url), None).0, ConditionStatus::True);
}
