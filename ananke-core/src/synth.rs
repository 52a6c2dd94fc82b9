//! Synthetic labs: deterministic configs and observations for tests, simulations and benchmarks.
//!
//! Everything here is a pure function of its arguments: the same call returns the same value, so
//! tests and benchmarks built on it are reproducible. The builders return *healthy* objects (a
//! Ready node, a Current Deployment, a Ready Kustomization, a published Ingress, a passing probe);
//! a test breaks one field to get the unhealthy case it wants.
//!
//! - [`lab_config`] builds a [`Config`] of a given [`LabSize`].
//! - [`healthy_observation`] builds an observation of any config in which gates 1-8 pass.
//! - [`large_observation`] is the benchmark's lab: `scale` × (5,000 nodes, 20,000 workloads,
//!   2,000 Kustomizations, 1,000 checklist results), every gate passing.

mod objects;

pub use objects::{condition, healthy_workload, passing_probe, published_ingress, ready_flux_object, ready_node};

use crate::config::{
    Config, Coordination, CoordinationRole, Exposure, FluxSettings, HttpCheck, HumanDuration, IngressCheck, Inventory,
    K3sRole, KubernetesSettings, Node, ObjectRef, PowerDomain, SshSettings, StartupSettings, Ups, WorkloadKind,
    WorkloadRef,
};
use crate::observation::{ApiStatus, FluxKind, FluxObservation, GitServerHealth, Observation};
use crate::time::Time;
use objects::{on_line, unsealed};
use std::collections::HashSet;

/// The Flux source URL of every synthetic lab.
pub const SOURCE_URL: &str = "ssh://git@gitea.lab.example/ops/cluster.git";
/// The Flux branch of every synthetic lab.
pub const BRANCH: &str = "main";
/// The generation every synthetic Flux object and workload is at (and has observed).
pub const GENERATION: i64 = 3;
/// The load-balancer address every synthetic Ingress is published at.
pub const INGRESS_ADDRESS: &str = "192.0.2.10";

/// How big a synthetic lab is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabSize {
    /// Inventory nodes (the first three, or all if fewer, are k3s servers).
    pub nodes: usize,
    /// Power domains; nodes are dealt to them in turn.
    pub power_domains: usize,
    /// Required Kustomizations (each gets one Deployment).
    pub kustomizations: usize,
    /// Workloads in all, including one Deployment per Kustomization.
    pub workloads: usize,
    /// Entries of `startup.require_ingress_checklist`.
    pub ingress_checks: usize,
    /// Entries of `startup.service_checklist`.
    pub service_checks: usize,
    /// Entries of `startup.critical_service_endpoints`.
    pub critical_endpoints: usize,
}

impl LabSize {
    /// A small lab for unit tests: 3 nodes in 2 power domains, 2 Kustomizations, one entry in
    /// each checklist.
    pub const SMALL: LabSize = LabSize {
        nodes: 3,
        power_domains: 2,
        kustomizations: 2,
        workloads: 2,
        ingress_checks: 1,
        service_checks: 1,
        critical_endpoints: 1,
    };

    /// The benchmark's base lab: 5,000 nodes, 20,000 workloads, 2,000 Kustomizations and 1,000
    /// checklist results (400 ingress checks, 400 service checks, 200 critical endpoints).
    pub const BENCHMARK: LabSize = LabSize {
        nodes: 5_000,
        power_domains: 10,
        kustomizations: 2_000,
        workloads: 20_000,
        ingress_checks: 400,
        service_checks: 400,
        critical_endpoints: 200,
    };

    /// Every count multiplied by `scale`.
    #[must_use]
    pub fn times(self, scale: usize) -> LabSize {
        LabSize {
            nodes: self.nodes * scale,
            power_domains: self.power_domains * scale,
            kustomizations: self.kustomizations * scale,
            workloads: self.workloads * scale,
            ingress_checks: self.ingress_checks * scale,
            service_checks: self.service_checks * scale,
            critical_endpoints: self.critical_endpoints * scale,
        }
    }
}

/// Node `i`'s name (`node-00001`, counting from 1).
#[must_use]
pub fn node_name(i: usize) -> String {
    format!("node-{:05}", i + 1)
}

/// A config of `size`: nodes `node-00001`..., domains `domain-1`..., Kustomizations
/// `flux-system/ks-00001`..., checklists `ingress-00001`/`service-00001`/`critical-00001`...
/// Flux sources from [`SOURCE_URL`] on [`BRANCH`]; no Vault, no in-cluster Git server.
#[must_use]
pub fn lab_config(size: LabSize) -> Config {
    let nodes: Vec<Node> = (0..size.nodes)
        .map(|i| Node {
            name: node_name(i),
            address: format!("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff),
            ssh_port: 22,
            role: if i < 3 { K3sRole::Server } else { K3sRole::Agent },
        })
        .collect();
    let domain_count = size.power_domains.max(1);
    let power_domains = (0..domain_count)
        .map(|d| PowerDomain {
            name: format!("domain-{}", d + 1),
            ups: Ups {
                name: format!("ups-{}", d + 1),
                host: "127.0.0.1".to_owned(),
                port: 3493,
                username: None,
                password_file: None,
                driver_socket: None,
            },
            nodes: nodes.iter().skip(d).step_by(domain_count).map(|n| n.name.clone()).collect(),
        })
        .collect();
    Config {
        cluster_name: "synth-lab".to_owned(),
        state_dir: "/var/lib/ananke".into(),
        observe_interval: HumanDuration::secs(5),
        expected_flux_source_url: SOURCE_URL.to_owned(),
        expected_flux_branch: BRANCH.to_owned(),
        inventory: Inventory { nodes },
        ssh: SshSettings {
            user: "ananke".to_owned(),
            identity_file: "/etc/ananke/id_ed25519".into(),
            known_hosts: "/etc/ananke/known_hosts".into(),
            connect_timeout: HumanDuration::secs(10),
            command_timeout: HumanDuration::secs(120),
            concurrency: 64,
            command_prefix: Vec::new(),
        },
        kubernetes: KubernetesSettings::default(),
        power_domains,
        flux: FluxSettings {
            source: object_ref("flux-system", "flux-system"),
            required_kustomizations: (0..size.kustomizations)
                .map(|i| object_ref("flux-system", &format!("ks-{:05}", i + 1)))
                .collect(),
            git_server: None,
        },
        startup: StartupSettings {
            require_node_inventory_reachability: true,
            ignore_unavailable_nodes: Vec::new(),
            require_ingress_checklist: (0..size.ingress_checks)
                .map(|i| IngressCheck {
                    namespace: format!("ingress-{:05}", i + 1),
                    name: "web".to_owned(),
                    host: format!("app-{:05}.lab.example", i + 1),
                    ingress_class: Some("traefik".to_owned()),
                })
                .collect(),
            service_checklist: (0..size.service_checks).map(|i| http_check(&format!("service-{:05}", i + 1))).collect(),
            critical_service_endpoints: (0..size.critical_endpoints)
                .map(|i| http_check(&format!("critical-{:05}", i + 1)))
                .collect(),
            vault_unseal_breakglass_command: None,
            node_boot_timeout: HumanDuration::secs(600),
            converge_timeout: HumanDuration::secs(1800),
            deadline: HumanDuration::secs(3600),
        },
        vault: None,
        soak: crate::config::SoakSettings::default(),
        shutdown: crate::config::ShutdownSettings::default(),
        daemon: crate::config::DaemonSettings::default(),
        coordination: Coordination {
            role: CoordinationRole::Coordinator,
            peer_hosts: Vec::new(),
            peer_state_dir: "/var/lib/ananke".into(),
            local_node: None,
        },
    }
}

/// An internal HTTP check named `name` at `http://<name>.lab.example/healthz`, expecting 200.
#[must_use]
pub fn http_check(name: &str) -> HttpCheck {
    HttpCheck {
        name: name.to_owned(),
        url: format!("http://{name}.lab.example/healthz"),
        exposure: Exposure::Internal,
        ingress_address: None,
        expect_status: vec![200],
        body_contains: None,
        body_matches: None,
        max_latency: HumanDuration::secs(5),
        timeout: HumanDuration::secs(10),
        tls_expiry_min: None,
        consecutive_successes: 1,
        consecutive_failures: 1,
    }
}

/// `namespace/name`.
#[must_use]
pub fn object_ref(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef { namespace: namespace.to_owned(), name: name.to_owned() }
}

/// An observation of `config` at `now` in which gates 1-8 pass.
///
/// Every inventory node is reachable and Ready; the API answers; Flux is installed, its source
/// at the expected URL and branch, every required Kustomization Ready and managing one Current
/// Deployment (named after the Kustomization, in a namespace of that name); the in-cluster Git
/// server, if configured, is running and healthy; every checklist Ingress is published with a
/// ready backend; every probe passes; every Vault pod is unsealed; every UPS is on line power.
#[must_use]
pub fn healthy_observation(config: &Config, now: Time) -> Observation {
    let mut workloads = Vec::with_capacity(config.flux.required_kustomizations.len() + 1);
    let mut seen: HashSet<WorkloadRef> = HashSet::new();
    let mut kustomizations = Vec::with_capacity(config.flux.required_kustomizations.len());
    for ks in &config.flux.required_kustomizations {
        let deployment =
            WorkloadRef { kind: WorkloadKind::Deployment, namespace: ks.name.clone(), name: ks.name.clone() };
        let mut object = ready_flux_object(FluxKind::Kustomization, ks.clone());
        object.manages.push(deployment.clone());
        kustomizations.push(object);
        if seen.insert(deployment.clone()) {
            workloads.push(healthy_workload(deployment, 1));
        }
    }
    if let Some(git) = &config.flux.git_server {
        if seen.insert(git.workload.clone()) {
            workloads.push(healthy_workload(git.workload.clone(), 1));
        }
    }
    let mut source = ready_flux_object(FluxKind::GitRepository, config.flux.source.clone());
    source.url = Some(config.expected_flux_source_url.clone());
    source.branch = Some(config.expected_flux_branch.clone());

    let startup = &config.startup;
    let probes = startup
        .service_checklist
        .iter()
        .chain(&startup.critical_service_endpoints)
        .map(|c| (c.name.clone(), passing_probe()))
        .collect();
    Observation {
        at: now,
        api: ApiStatus { reachable: true, error: None },
        nodes: config.inventory.nodes.iter().map(|n| ready_node(&n.name)).collect(),
        flux: Some(FluxObservation {
            installed: true,
            sources: vec![source],
            kustomizations,
            helm_releases: Vec::new(),
        }),
        workloads,
        pods_to_evict: Vec::new(),
        ingresses: startup.require_ingress_checklist.iter().map(published_ingress).collect(),
        probes,
        git_server: config.flux.git_server.as_ref().map(|_| GitServerHealth { healthy: true, reason: None }),
        vault: config.vault.iter().flat_map(|v| &v.pods).map(unsealed).collect(),
        power: config.power_domains.iter().map(|d| on_line(&d.name)).collect(),
    }
}

/// A config of `size` and an observation of it at [`Time::ZERO`] in which gates 1-8 pass.
///
/// Besides what [`healthy_observation`] gives, the lab holds `size.workloads` workloads in all: the
/// extra ones are Current `Deployment`, `StatefulSet` and `DaemonSet` objects in turn, in namespaces `team-0`,
/// `team-1`, ... of 100 workloads each.
#[must_use]
pub fn lab(size: LabSize) -> (Config, Observation) {
    let config = lab_config(size);
    let mut obs = healthy_observation(&config, Time::ZERO);
    let extra = size.workloads.saturating_sub(obs.workloads.len());
    obs.workloads.reserve(extra);
    for i in 0..extra {
        let kind = [WorkloadKind::Deployment, WorkloadKind::StatefulSet, WorkloadKind::DaemonSet][i % 3];
        let id = WorkloadRef { kind, namespace: format!("team-{}", i / 100), name: format!("app-{i:06}") };
        obs.workloads.push(healthy_workload(id, 2));
    }
    (config, obs)
}

/// The benchmark's lab: [`LabSize::BENCHMARK`] times `scale`, every gate 1-8 passing.
#[must_use]
pub fn large_observation(scale: usize) -> (Config, Observation) {
    lab(LabSize::BENCHMARK.times(scale))
}
