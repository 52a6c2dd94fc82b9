//! The model's state: hosts, k3s units, components, Flux objects, Vault pods, power domains.
//!
//! Everything is indexed by position (names are resolved once, when an effect arrives), so the
//! per-step cost stays a few passes over small vectors.

use crate::scenario::{ComponentKind, Scenario};
use ananke_core::config::{K3sRole, WorkloadRef};
use ananke_core::observation::{ConditionStatus, FluxKind, FluxRef};
use ananke_core::Time;

/// Milliseconds of a scenario duration.
pub(crate) fn ms(d: ananke_core::config::HumanDuration) -> u64 {
    u64::try_from(d.get().as_millis()).unwrap_or(u64::MAX)
}

/// A k3s unit's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Inactive.
    Stopped,
    /// `systemctl start` issued; serving at `serving_at`.
    Starting { serving_at: Time },
    /// Serving (a server counts toward quorum; the kubelet runs).
    Serving { since: Time },
    /// `systemctl stop` + killall issued; inactive at `done_at`.
    Stopping { done_at: Time },
}

/// One host and its k3s. Its flags are independent facts of the host, not a state in disguise.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone)]
pub(crate) struct NodeSim {
    pub name: String,
    pub role: K3sRole,
    pub domain: usize,
    pub boot: u64,
    pub k3s_start: u64,
    pub k3s_stop: u64,
    pub kubelet_ready: u64,
    /// The host has power.
    pub powered: bool,
    /// The host answers SSH from then on (`None`: never, until power returns).
    pub up_at: Option<Time>,
    /// Never boots again once it lost power.
    pub lost: bool,
    pub auth_fails: bool,
    /// Presents a host key other than the one `known_hosts` records.
    pub host_key_changed: bool,
    /// `sudo` refuses the privileged commands.
    pub sudo_refused: bool,
    /// `systemctl stop` succeeds and k3s keeps running.
    pub wont_stop: bool,
    pub unit: Unit,
    /// When the kubelet is ready (set when the unit starts serving).
    pub kubelet_at: Time,
    /// API-stored `Ready` condition and its reason.
    pub ready: ConditionStatus,
    pub reason: &'static str,
    /// Last time the kubelet posted status (while the API answered).
    pub heartbeat: Time,
    /// Whether it was posting at the last settle.
    pub posting: bool,
    /// `spec.unschedulable`.
    pub cordoned: bool,
    /// ananke's annotation: ananke cordoned it.
    pub cordoned_by_ananke: bool,
    /// The PDB that refused the last eviction from this node.
    pub blocked_by: Option<String>,
}

impl NodeSim {
    /// Why SSH refuses ananke on this host, in the real adapter's words, if it does.
    pub fn ssh_refusal(&self) -> Option<String> {
        let name = &self.name;
        if self.host_key_changed {
            Some(format!(
                "node {name}: host key of {name} changed: presented SHA256:sim-{name}-reinstalled, \
                 /etc/ananke/ssh/known_hosts line 1 records another; refused"
            ))
        } else if self.auth_fails {
            Some(format!("node {name}: {name}:22 refused public key authentication as ananke"))
        } else {
            None
        }
    }

    /// The host is powered and booted.
    pub fn host_up(&self, now: Time) -> bool {
        self.powered && self.up_at.is_some_and(|t| t <= now)
    }

    /// Pods run on it (k3s serving or still stopping).
    pub fn alive(&self, now: Time) -> bool {
        self.host_up(now) && matches!(self.unit, Unit::Serving { .. } | Unit::Stopping { .. })
    }

    /// The kubelet is up and would post `Ready=True`.
    pub fn kubelet_ready(&self, now: Time) -> bool {
        self.host_up(now) && matches!(self.unit, Unit::Serving { .. }) && self.kubelet_at <= now
    }
}

/// A component's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Down,
    Starting { ready_at: Time },
    Up,
    Stopping { done_at: Time },
}

/// A scaled workload's spec.
#[derive(Debug, Clone)]
pub(crate) struct WorkloadSim {
    pub id: WorkloadRef,
    /// Replicas in the manifest (what Flux re-applies).
    pub manifest: i32,
    /// `spec.replicas`.
    pub desired: i32,
    pub generation: i64,
    /// ananke's annotation: the replica count before it scaled the workload to 0.
    pub replicas_before: Option<i32>,
}

/// One component of the dependency graph.
#[derive(Debug, Clone)]
pub(crate) struct CompSim {
    pub name: String,
    pub kind: ComponentKind,
    pub deps: Vec<usize>,
    pub start: u64,
    pub stop: u64,
    /// Eligible nodes (all when empty).
    pub nodes: Vec<usize>,
    pub host: Option<usize>,
    pub workload: Option<WorkloadSim>,
    pub phase: Phase,
    /// The node of each running pod.
    pub pods: Vec<usize>,
    /// When missing pods (evicted, lost with their node, scaled up) are replaced.
    pub heal_at: Option<Time>,
    /// `(pdb name, minAvailable)` guarding its pods.
    pub pdb: Option<(String, i32)>,
}

impl CompSim {
    /// Its running pods as `(index in the workload, node index)`, with its workload: none unless
    /// it is a workload that is up or stopping.
    pub fn running_pods(&self) -> impl Iterator<Item = (&WorkloadSim, usize, usize)> {
        let running = matches!(self.phase, Phase::Up | Phase::Stopping { .. });
        let workload = self.workload.as_ref().filter(|_| running);
        workload.into_iter().flat_map(move |w| self.pods.iter().enumerate().map(move |(k, &n)| (w, k, n)))
    }
}

/// One Flux object. Its flags mirror independent fields of the Flux object.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone)]
pub(crate) struct FluxSim {
    pub id: FluxRef,
    pub source: Option<usize>,
    pub depends_on: Vec<usize>,
    pub managed_by: Option<usize>,
    pub manages: Vec<usize>,
    pub interval: u64,
    pub manifest_suspend: bool,
    pub suspend: bool,
    pub generation: i64,
    pub observed: Option<i64>,
    pub ready: ConditionStatus,
    pub reason: String,
    pub message: String,
    /// Applied; waiting for its workloads to be healthy before `Ready=True`.
    pub waiting_health: bool,
    pub requested_at: Option<String>,
    pub last_handled: Option<String>,
    /// The request the next reconcile will handle.
    pub pending_token: Option<String>,
    pub next_reconcile: Option<Time>,
    /// `GitRepository`: url, branch, the manifest's, the branches that exist, the serving component.
    pub url: String,
    pub branch: String,
    pub manifest_url: String,
    pub branches: Vec<String>,
    pub served_by: Option<usize>,
    /// `GitRepository`: an artifact is available (fetched since the controllers started).
    pub artifact: bool,
    /// ananke's annotation: ananke suspended it.
    pub suspended_by_ananke: bool,
}

/// One Vault pod.
#[derive(Debug, Clone)]
pub(crate) struct VaultPodSim {
    pub name: String,
    pub sealed: bool,
}

/// One power domain.
#[derive(Debug, Clone)]
pub(crate) struct DomainSim {
    pub name: String,
    pub runtime: u64,
    /// Mains lost since then (on battery).
    pub on_battery_since: Option<Time>,
    /// The battery ran out.
    pub dark: bool,
}

/// Index of the Flux object `id` in `flux`.
pub(crate) fn flux_index(flux: &[FluxSim], kind: FluxKind, key: &str) -> Option<usize> {
    flux.iter().position(|f| f.id.kind == kind && format!("{}/{}", f.id.object.namespace, f.id.object.name) == key)
}

/// Build the component list of `s`.
pub(crate) fn components(s: &Scenario) -> Vec<CompSim> {
    let node_index = |n: &str| s.nodes.iter().position(|x| x.name == n);
    let comp_index = |n: &str| s.components.iter().position(|x| x.name == n);
    s.components
        .iter()
        .map(|c| CompSim {
            name: c.name.clone(),
            kind: c.kind,
            deps: c.depends_on.iter().filter_map(|d| comp_index(d)).collect(),
            start: ms(c.start),
            stop: ms(c.stop),
            nodes: c.nodes.iter().filter_map(|n| node_index(n)).collect(),
            host: c.host.as_deref().and_then(node_index),
            workload: c.workload.as_ref().map(|w| WorkloadSim {
                id: WorkloadRef { kind: w.kind, namespace: w.namespace.clone(), name: w.name.clone() },
                manifest: w.replicas,
                desired: w.initial_replicas.unwrap_or(w.replicas),
                generation: 1,
                replicas_before: None,
            }),
            phase: Phase::Down,
            pods: Vec::new(),
            heal_at: None,
            pdb: s
                .pdbs
                .iter()
                .find(|p| p.component == c.name)
                .map(|p| (format!("{}/{}", p.namespace, p.name), p.min_available)),
        })
        .collect()
}

/// Build the Flux object list of `s`: sources, then Kustomizations, then `HelmReleases`.
pub(crate) fn flux_objects(s: &Scenario) -> Vec<FluxSim> {
    let comp_index = |n: &str| s.components.iter().position(|x| x.name == n);
    let blank = |kind, namespace: &str, name: &str| FluxSim {
        id: FluxRef {
            kind,
            object: ananke_core::config::ObjectRef { namespace: namespace.to_owned(), name: name.to_owned() },
        },
        source: None,
        depends_on: Vec::new(),
        managed_by: None,
        manages: Vec::new(),
        interval: 600_000,
        manifest_suspend: false,
        suspend: false,
        generation: 1,
        observed: Some(1),
        ready: ConditionStatus::True,
        reason: "ReconciliationSucceeded".to_owned(),
        message: String::new(),
        waiting_health: false,
        requested_at: None,
        last_handled: None,
        pending_token: None,
        next_reconcile: None,
        url: String::new(),
        branch: String::new(),
        manifest_url: String::new(),
        branches: Vec::new(),
        served_by: None,
        artifact: true,
        suspended_by_ananke: false,
    };
    let mut out: Vec<FluxSim> = Vec::new();
    for src in &s.flux.sources {
        let mut f = blank(FluxKind::GitRepository, &src.namespace, &src.name);
        f.url.clone_from(&src.url);
        f.manifest_url.clone_from(&src.url);
        f.branch = src.live_branch.clone().unwrap_or_else(|| src.branch.clone());
        f.branches = if src.branches.is_empty() { vec![src.branch.clone()] } else { src.branches.clone() };
        if let Some(live) = &src.live_branch {
            if !f.branches.contains(live) {
                f.branches.push(live.clone());
            }
        }
        f.served_by = src.served_by.as_deref().and_then(comp_index);
        f.interval = ms(src.interval);
        "Succeeded".clone_into(&mut f.reason);
        out.push(f);
    }
    let n_sources = out.len();
    for (kind, list) in
        [(FluxKind::Kustomization, &s.flux.kustomizations), (FluxKind::HelmRelease, &s.flux.helm_releases)]
    {
        for o in list {
            let mut f = blank(kind, &o.namespace, &o.name);
            f.source = o.source.as_deref().and_then(|n| {
                s.flux
                    .sources
                    .iter()
                    .position(|x| x.name == n && x.namespace == o.namespace)
                    .or_else(|| s.flux.sources.iter().position(|x| x.name == n))
            });
            f.manages = o.manages.iter().filter_map(|m| comp_index(m)).collect();
            f.interval = ms(o.interval);
            f.manifest_suspend = o.suspend;
            f.suspend = o.suspend;
            out.push(f);
        }
    }
    // Resolve object references once every object exists.
    let objects: Vec<&crate::scenario::FluxObjectSpec> =
        s.flux.kustomizations.iter().chain(&s.flux.helm_releases).collect();
    for (i, o) in objects.iter().enumerate() {
        let resolve = |key: &str| {
            flux_index(&out, FluxKind::Kustomization, key).or_else(|| flux_index(&out, FluxKind::HelmRelease, key))
        };
        let deps: Vec<usize> = o.depends_on.iter().filter_map(|d| resolve(d)).collect();
        let parent = o.managed_by.as_deref().and_then(|m| flux_index(&out, FluxKind::Kustomization, m));
        out[n_sources + i].depends_on = deps;
        out[n_sources + i].managed_by = parent;
    }
    out
}
