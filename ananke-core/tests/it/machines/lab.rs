//! A small hand-built lab for the machine tests: a five-node config and observations of it in
//! which gates 1-8 pass, built field by field from the gate rules.

use ananke_core::config::{Config, ObjectRef, WorkloadKind, WorkloadRef};
use ananke_core::observation::{
    ApiStatus, Condition, ConditionStatus, FluxKind, FluxObject, FluxObservation, FluxRef, GitServerHealth,
    IngressBackend, IngressObservation, KubeNode, NodeObservation, Observation, ProbeResult, SshStatus, UnitState,
    VaultStatus, Workload, WorkloadStatus,
};
use ananke_core::time::Time;
use std::sync::Arc;

/// The k3s servers of the lab.
pub const SERVERS: [&str; 3] = ["titan-01", "titan-02", "titan-03"];
/// The k3s agents of the lab.
pub const AGENTS: [&str; 2] = ["titan-04", "titan-05"];
/// The Flux source URL the drift guard expects.
pub const URL: &str = "ssh://git@gitea.gitea:22/titan/titan-iac.git";

const YAML: &str = r"
cluster_name: test-lab
expected_flux_source_url: ssh://git@gitea.gitea:22/titan/titan-iac.git
expected_flux_branch: main
inventory:
  nodes:
    - { name: titan-01, address: 192.0.2.1, role: server }
    - { name: titan-02, address: 192.0.2.2, role: server }
    - { name: titan-03, address: 192.0.2.3, role: server }
    - { name: titan-04, address: 192.0.2.4, role: agent }
    - { name: titan-05, address: 192.0.2.5, role: agent }
ssh: { user: ananke, identity_file: /k, known_hosts: /kh }
power_domains:
  - { name: statera, ups: { name: statera }, nodes: [titan-04, titan-05] }
  - { name: pyrphoros, ups: { name: pyrphoros }, nodes: [titan-01, titan-02, titan-03] }
flux:
  source: { namespace: flux-system, name: flux-system }
  required_kustomizations:
    - { namespace: flux-system, name: infrastructure }
    - { namespace: flux-system, name: apps }
  git_server:
    workload: { kind: Deployment, namespace: gitea, name: gitea }
    health_url: http://gitea.gitea:3000/api/healthz
startup:
  require_ingress_checklist:
    - { namespace: apps, name: web, host: web.lab.example }
  service_checklist:
    - { name: web, url: http://web.apps }
  critical_service_endpoints:
    - { name: api, url: http://api.apps/healthz }
  vault_unseal_breakglass_command: { argv: [/usr/local/bin/breakglass] }
  node_boot_timeout: 10m
  converge_timeout: 30m
  deadline: 1h
soak: { duration: 5m, interval: 15s, max_regressions: 2 }
shutdown:
  tiers:
    - [ { kind: Deployment, namespace: apps, name: web } ]
    - [ { kind: StatefulSet, namespace: apps, name: db } ]
  drain_timeout: 2m
  scale_down_timeout: 5m
  node_stop_timeout: 2m
  deadline: 20m
coordination: { role: coordinator }
";

/// The lab's config.
pub fn config() -> Config {
    serde_yaml_ng::from_str(YAML).expect("the test lab config parses")
}

/// The lab's config after `edit`.
pub fn config_with(edit: impl FnOnce(&mut Config)) -> Arc<Config> {
    let mut config = config();
    edit(&mut config);
    Arc::new(config)
}

/// A workload reference.
pub fn wl(kind: WorkloadKind, namespace: &str, name: &str) -> WorkloadRef {
    WorkloadRef { kind, namespace: namespace.to_owned(), name: name.to_owned() }
}

/// A Flux object reference.
pub fn fx(kind: FluxKind, namespace: &str, name: &str) -> FluxRef {
    FluxRef { kind, object: obj(namespace, name) }
}

/// A namespaced object reference.
pub fn obj(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef { namespace: namespace.to_owned(), name: name.to_owned() }
}

/// The web Deployment (tier 0).
pub fn web() -> WorkloadRef {
    wl(WorkloadKind::Deployment, "apps", "web")
}
/// The database `StatefulSet` (tier 1).
pub fn db() -> WorkloadRef {
    wl(WorkloadKind::StatefulSet, "apps", "db")
}
/// The in-cluster Git server (unlisted tier).
pub fn gitea() -> WorkloadRef {
    wl(WorkloadKind::Deployment, "gitea", "gitea")
}
/// Grafana (unlisted tier).
pub fn grafana() -> WorkloadRef {
    wl(WorkloadKind::Deployment, "monitoring", "grafana")
}
/// The root Kustomization.
pub fn k_root() -> FluxRef {
    fx(FluxKind::Kustomization, "flux-system", "flux-system")
}
/// `infrastructure`, child of the root.
pub fn k_infra() -> FluxRef {
    fx(FluxKind::Kustomization, "flux-system", "infrastructure")
}
/// `apps`, child of the root, depends on `infrastructure`.
pub fn k_apps() -> FluxRef {
    fx(FluxKind::Kustomization, "flux-system", "apps")
}
/// The Vault `HelmRelease`, child of `infrastructure`.
pub fn hr_vault() -> FluxRef {
    fx(FluxKind::HelmRelease, "vault", "vault")
}

fn condition(type_: &str, status: ConditionStatus, reason: &str) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status,
        reason: reason.to_owned(),
        message: String::new(),
        observed_generation: 0,
    }
}

/// A Ready, reconciled Flux object.
pub fn flux_object(id: FluxRef, parent: Option<&FluxRef>, depends_on: &[&FluxRef]) -> FluxObject {
    FluxObject {
        id,
        generation: 2,
        observed_generation: Some(2),
        suspend: false,
        conditions: vec![condition("Ready", ConditionStatus::True, "ReconciliationSucceeded")],
        depends_on: depends_on.iter().map(|d| d.object.clone()).collect(),
        url: None,
        branch: None,
        managed_by: parent.map(|p| p.object.clone()),
        manages: Vec::new(),
        requested_at: None,
        last_handled_reconcile_at: None,
        suspended_by_ananke: false,
    }
}

/// A kstatus-Current workload at `replicas`.
pub fn workload(id: WorkloadRef, replicas: i32) -> Workload {
    let mut w = Workload {
        id,
        generation: 4,
        observed_generation: Some(4),
        terminating: false,
        spec_replicas: Some(replicas),
        status: WorkloadStatus::default(),
        conditions: Vec::new(),
        has_progress_deadline: true,
        on_delete: false,
        has_status: true,
        replicas_before: None,
    };
    set_replicas(&mut w, replicas);
    w
}

/// Set a workload's desired and actual replicas, keeping it Current.
pub fn set_replicas(w: &mut Workload, replicas: i32) {
    let daemonset = w.id.kind == WorkloadKind::DaemonSet;
    w.spec_replicas = if daemonset { None } else { Some(replicas) };
    w.status = WorkloadStatus {
        replicas: if daemonset { 0 } else { replicas },
        updated: replicas,
        ready: replicas,
        available: replicas,
        current: replicas,
        desired: daemonset.then_some(replicas),
        revisions_match: true,
    };
    w.conditions = if w.id.kind == WorkloadKind::Deployment {
        vec![
            condition("Available", ConditionStatus::True, "MinimumReplicasAvailable"),
            condition("Progressing", ConditionStatus::True, "NewReplicaSetAvailable"),
        ]
    } else {
        Vec::new()
    };
}

/// A Ready, schedulable node reachable over SSH with k3s active.
pub fn ready_node(name: &str) -> NodeObservation {
    NodeObservation {
        name: name.to_owned(),
        ssh: SshStatus::Reachable,
        k3s_unit: UnitState::Active,
        kube: Some(KubeNode {
            ready: ConditionStatus::True,
            ready_reason: "KubeletReady".to_owned(),
            unschedulable: false,
            taints: Vec::new(),
            cordoned_by_ananke: false,
        }),
    }
}

/// The healthy running lab: gates 1-8 pass.
pub fn healthy() -> Observation {
    let mut source = flux_object(fx(FluxKind::GitRepository, "flux-system", "flux-system"), None, &[]);
    source.url = Some(URL.to_owned());
    source.branch = Some("main".to_owned());
    let ok = ProbeResult { ok: true, reason: None, status: Some(200), latency_ms: Some(3) };
    Observation {
        at: Time::ZERO,
        api: ApiStatus { reachable: true, error: None },
        nodes: SERVERS.iter().chain(&AGENTS).map(|n| ready_node(n)).collect(),
        flux: Some(FluxObservation {
            installed: true,
            sources: vec![source],
            kustomizations: vec![
                flux_object(k_root(), None, &[]),
                flux_object(k_infra(), Some(&k_root()), &[]),
                flux_object(k_apps(), Some(&k_root()), &[&k_infra()]),
            ],
            helm_releases: vec![flux_object(hr_vault(), Some(&k_infra()), &[])],
        }),
        workloads: vec![
            workload(web(), 3),
            workload(db(), 1),
            workload(gitea(), 1),
            workload(grafana(), 2),
            workload(wl(WorkloadKind::DaemonSet, "monitoring", "node-exporter"), 5),
            workload(wl(WorkloadKind::Deployment, "kube-system", "coredns"), 2),
        ],
        pods_to_evict: Vec::new(),
        ingresses: vec![IngressObservation {
            namespace: "apps".to_owned(),
            name: "web".to_owned(),
            hosts: vec!["web.lab.example".to_owned()],
            ingress_class: Some("traefik".to_owned()),
            addresses: vec!["192.0.2.100".to_owned()],
            backends: vec![IngressBackend { service: "web".to_owned(), exists: true, ready_endpoints: 3 }],
        }],
        probes: [("web".to_owned(), ok.clone()), ("api".to_owned(), ok)].into_iter().collect(),
        git_server: Some(GitServerHealth { healthy: true, reason: None }),
        vault: vec![VaultStatus {
            pod: "vault-0".to_owned(),
            reachable: true,
            sealed: false,
            threshold: 3,
            progress: 0,
        }],
        power: Vec::new(),
    }
}

/// The lab with every host powered but k3s stopped everywhere: SSH answers, the API does not.
pub fn all_down() -> Observation {
    let mut obs = Observation {
        api: ApiStatus { reachable: false, error: Some("connection refused".to_owned()) },
        ..Observation::default()
    };
    for name in SERVERS.iter().chain(&AGENTS) {
        obs.nodes.push(NodeObservation {
            name: (*name).to_owned(),
            ssh: SshStatus::Reachable,
            k3s_unit: UnitState::Inactive,
            kube: None,
        });
    }
    obs
}

/// The node `name` of `obs`.
pub fn node_mut<'a>(obs: &'a mut Observation, name: &str) -> &'a mut NodeObservation {
    obs.nodes.iter_mut().find(|n| n.name == name).expect("node in the observation")
}

/// The Flux object `id` of `obs`.
pub fn flux_mut<'a>(obs: &'a mut Observation, id: &FluxRef) -> &'a mut FluxObject {
    let flux = obs.flux.as_mut().expect("flux observed");
    flux.sources
        .iter_mut()
        .chain(flux.kustomizations.iter_mut())
        .chain(flux.helm_releases.iter_mut())
        .find(|o| o.id == *id)
        .expect("flux object in the observation")
}

/// The workload `id` of `obs`.
pub fn workload_mut<'a>(obs: &'a mut Observation, id: &WorkloadRef) -> &'a mut Workload {
    obs.workloads.iter_mut().find(|w| w.id == *id).expect("workload in the observation")
}
