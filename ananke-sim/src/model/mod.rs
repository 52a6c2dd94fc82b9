//! The simulated cluster: reacts to ananke's effects on a virtual clock and produces observations.
//!
//! Semantics follow the reference: the API answers only while a quorum of k3s servers serves;
//! Node conditions go `Unknown` a grace period after the kubelet stops posting, and a cordon
//! survives everything (§6); workloads start once their dependencies are up and a schedulable
//! node exists, and PDBs refuse evictions; Flux reconciles as §7 item 7 says (see [`flux`]); each
//! Vault pod is sealed once it stopped; endpoints answer only while what backs them is up.

mod effects;
mod flux;
mod http_view;
mod observe;
mod parts;
mod serve_view;
mod settle;
mod state;

pub use http_view::GitServerView;
pub use serve_view::{Eviction, PdbView, PodView, ServiceView};
pub use state::ClusterState;

use crate::rng::SplitMix64;
use crate::scenario::{ComponentKind, Fault, Phase, PhaseAt, Scenario};
use ananke_core::config::WorkloadRef;
use ananke_core::observation::FluxRef;
use ananke_core::Time;
use parts::{ms, CompSim, DomainSim, FluxSim, NodeSim, Unit, VaultPodSim};
use settle::after;
use std::collections::HashMap;

/// A fault that strikes at one instant.
#[derive(Debug, Clone)]
enum Timed {
    PowerLoss,
    PowerRestore,
    BranchChange { source: usize, branch: String },
}

/// A window of API errors: `rate` from `from` until `until` (resolved once their phase begins).
#[derive(Debug, Clone)]
struct FlakyWindow {
    rate: f64,
    from: Option<Time>,
    until: Option<Time>,
    from_at: PhaseAt,
    until_at: Option<PhaseAt>,
}

/// An HTTP check and what backs it.
#[derive(Debug, Clone)]
struct CheckSim {
    name: String,
    /// Components that must be up; `None` stands for the API.
    backers: Vec<Option<usize>>,
    external: bool,
    /// `(after first healthy, duration)` of a flap.
    flap: Option<(u64, u64)>,
    /// First time it passed during the startup.
    first_ok: Option<Time>,
}

/// The simulated lab.
#[derive(Debug, Clone)]
pub struct Model {
    now: Time,
    nodes: Vec<NodeSim>,
    comps: Vec<CompSim>,
    flux: Vec<FluxSim>,
    vault: Vec<VaultPodSim>,
    vault_comp: Option<usize>,
    vault_threshold: u32,
    domains: Vec<DomainSim>,
    controllers: Option<usize>,
    controllers_up: bool,
    api_up: bool,
    api_since: Time,
    quorum: usize,
    grace: u64,
    reconcile_delay: u64,
    requeue_dependency: u64,
    checks: Vec<CheckSim>,
    services: Vec<(String, String, usize)>,
    ingresses: Vec<crate::scenario::IngressSpec>,
    ingress_controller: Option<usize>,
    ingress_address: String,
    git_server: Option<usize>,
    /// Resolved one-shot faults, sorted by time.
    timed: Vec<(Time, Timed)>,
    /// One-shot faults waiting for their phase to begin.
    unresolved: Vec<(PhaseAt, Timed)>,
    /// Windows of API errors.
    flaky: Vec<FlakyWindow>,
    random_rate: f64,
    standard_unseal_fails: bool,
    phase_starts: HashMap<Phase, Time>,
    rng: SplitMix64,
    node_index: HashMap<String, usize>,
    workload_index: HashMap<WorkloadRef, usize>,
    flux_index: HashMap<FluxRef, usize>,
    /// Eviction attempts per node (tests assert retry behaviour).
    evictions: HashMap<String, u32>,
}

/// A node of the scenario in its initial state (powered, its unit as the scenario says).
fn node_sim(n: &crate::scenario::NodeSpec, domain: usize) -> NodeSim {
    NodeSim {
        name: n.name.clone(),
        role: n.role,
        domain,
        boot: ms(n.boot),
        k3s_start: ms(n.k3s_start),
        k3s_stop: ms(n.k3s_stop),
        kubelet_ready: ms(n.kubelet_ready),
        powered: true,
        up_at: Some(Time::ZERO),
        lost: false,
        auth_fails: false,
        host_key_changed: false,
        sudo_refused: false,
        wont_stop: false,
        cordoned_by_ananke: false,
        unit: if n.running { Unit::Serving { since: Time::ZERO } } else { Unit::Stopped },
        kubelet_at: Time::ZERO,
        ready: ananke_core::observation::ConditionStatus::True,
        reason: "KubeletReady",
        heartbeat: Time::ZERO,
        posting: n.running,
        cordoned: n.cordoned,
        blocked_by: None,
    }
}

impl Model {
    /// The lab of `scenario` in its initial state (running, unless nodes say otherwise), at time 0.
    #[must_use]
    pub fn new(scenario: &Scenario, seed: u64) -> Model {
        let domain_index = |d: &str| scenario.power_domains.iter().position(|x| x.name == d).unwrap_or(0);
        let mut nodes: Vec<NodeSim> =
            scenario.nodes.iter().map(|n| node_sim(n, domain_index(&n.power_domain))).collect();
        let node_index: HashMap<String, usize> = nodes.iter().enumerate().map(|(i, n)| (n.name.clone(), i)).collect();
        let comp_index = |c: &str| scenario.components.iter().position(|x| x.name == c);
        let mut model = Model {
            now: Time::ZERO,
            comps: parts::components(scenario),
            flux: parts::flux_objects(scenario),
            vault: scenario
                .vault
                .iter()
                .flat_map(|v| v.pods.iter())
                .map(|p| VaultPodSim { name: p.clone(), sealed: false })
                .collect(),
            vault_comp: scenario.vault.as_ref().and_then(|v| comp_index(&v.component)),
            vault_threshold: scenario.vault.as_ref().map_or(0, |v| v.threshold),
            domains: scenario
                .power_domains
                .iter()
                .map(|d| DomainSim {
                    name: d.name.clone(),
                    runtime: ms(d.battery_runtime),
                    on_battery_since: None,
                    dark: false,
                })
                .collect(),
            controllers: scenario.flux.controllers.as_deref().and_then(comp_index),
            controllers_up: false,
            api_up: false,
            api_since: Time::ZERO,
            quorum: nodes.iter().filter(|n| n.role == ananke_core::config::K3sRole::Server).count() / 2 + 1,
            grace: ms(scenario.cluster.node_monitor_grace_period),
            reconcile_delay: ms(scenario.cluster.reconcile_delay),
            requeue_dependency: ms(scenario.cluster.requeue_dependency),
            checks: scenario
                .checks
                .iter()
                .map(|c| CheckSim {
                    name: c.name.clone(),
                    backers: c.backed_by.iter().map(|b| comp_index(b)).collect(),
                    external: c.external,
                    flap: None,
                    first_ok: None,
                })
                .collect(),
            services: scenario
                .services
                .iter()
                .filter_map(|s| Some((s.namespace.clone(), s.name.clone(), comp_index(&s.component)?)))
                .collect(),
            ingresses: scenario.ingresses.clone(),
            ingress_controller: scenario.components.iter().position(|c| c.kind == ComponentKind::IngressController),
            ingress_address: scenario.cluster.ingress_address.clone(),
            git_server: scenario.components.iter().position(|c| c.kind == ComponentKind::GitServer),
            timed: Vec::new(),
            unresolved: Vec::new(),
            flaky: Vec::new(),
            random_rate: scenario.random.api_error_rate,
            standard_unseal_fails: false,
            phase_starts: HashMap::new(),
            rng: SplitMix64::new(seed),
            node_index,
            workload_index: HashMap::new(),
            flux_index: HashMap::new(),
            evictions: HashMap::new(),
            nodes: Vec::new(),
        };
        model.apply_faults(scenario, &mut nodes);
        model.nodes = nodes;
        model.workload_index =
            model.comps.iter().enumerate().filter_map(|(i, c)| Some((c.workload.as_ref()?.id.clone(), i))).collect();
        model.flux_index = model.flux.iter().enumerate().map(|(i, f)| (f.id.clone(), i)).collect();
        model.warm_start();
        model.begin_phase(Phase::Run, Time::ZERO);
        model
    }

    /// Record the scenario's faults.
    fn apply_faults(&mut self, scenario: &Scenario, nodes: &mut [NodeSim]) {
        for fault in &scenario.faults {
            let node = |name: &str| nodes.iter().position(|n| n.name == name);
            match fault {
                Fault::NodeLost { node: n } => node(n).into_iter().for_each(|i| nodes[i].lost = true),
                Fault::SshAuthFails { node: n } => node(n).into_iter().for_each(|i| nodes[i].auth_fails = true),
                Fault::HostKeyChanged { node: n } => node(n).into_iter().for_each(|i| nodes[i].host_key_changed = true),
                Fault::SudoRefused { node: n } => node(n).into_iter().for_each(|i| nodes[i].sudo_refused = true),
                Fault::K3sWontStop { node: n } => node(n).into_iter().for_each(|i| nodes[i].wont_stop = true),
                Fault::SlowK3s { node: n, extra } => node(n).into_iter().for_each(|i| nodes[i].k3s_start += ms(*extra)),
                Fault::StandardUnsealFails => self.standard_unseal_fails = true,
                Fault::EndpointFlap { check, after_healthy, duration } => {
                    if let Some(c) = self.checks.iter_mut().find(|c| &c.name == check) {
                        c.flap = Some((ms(*after_healthy), ms(*duration)));
                    }
                }
                Fault::PowerLoss { at } => self.unresolved.push((*at, Timed::PowerLoss)),
                Fault::PowerRestore { at } => self.unresolved.push((*at, Timed::PowerRestore)),
                Fault::BranchChange { source, branch, at } => {
                    if let Some(i) = self.flux.iter().position(|f| &f.id.object.name == source) {
                        self.unresolved.push((*at, Timed::BranchChange { source: i, branch: branch.clone() }));
                    }
                }
                Fault::ApiFlaky { rate, from, until } => {
                    self.flaky.push(FlakyWindow {
                        rate: *rate,
                        from: None,
                        until: None,
                        from_at: *from,
                        until_at: *until,
                    });
                }
            }
        }
    }

    /// Bring every component of a running lab up at time 0, without start delays.
    fn warm_start(&mut self) {
        self.settle();
        for _ in 0..=self.comps.len() {
            let mut any = false;
            for c in &mut self.comps {
                if let parts::Phase::Starting { .. } = c.phase {
                    c.phase = parts::Phase::Starting { ready_at: Time::ZERO };
                    any = true;
                }
            }
            self.settle();
            if let Some(v) = self.vault_comp {
                let running = self.comps[v].pods.len();
                self.vault.iter_mut().take(running).for_each(|p| p.sealed = false);
                self.settle();
            }
            if !any {
                break;
            }
        }
        for f in &mut self.flux {
            f.next_reconcile = if f.suspend { None } else { Some(after(Time::ZERO, f.interval)) };
            f.waiting_health = false;
        }
        for f in &mut self.flux {
            f.ready = ananke_core::observation::ConditionStatus::True;
        }
        self.controllers_up = self.flux_running();
    }

    /// The model's current time.
    #[must_use]
    pub fn now(&self) -> Time {
        self.now
    }

    /// A phase of the run begins at `now`: faults timed relative to it are scheduled.
    pub fn begin_phase(&mut self, phase: Phase, now: Time) {
        self.advance(now);
        self.phase_starts.insert(phase, now);
        let resolve =
            |at: &PhaseAt, starts: &HashMap<Phase, Time>| starts.get(&at.phase).map(|t| t.plus(at.after.get()));
        let starts = self.phase_starts.clone();
        let mut keep = Vec::new();
        for (at, fault) in std::mem::take(&mut self.unresolved) {
            match resolve(&at, &starts) {
                Some(t) => self.timed.push((t, fault)),
                None => keep.push((at, fault)),
            }
        }
        self.unresolved = keep;
        self.timed.sort_by_key(|(t, _)| *t);
        for window in &mut self.flaky {
            window.from = window.from.or_else(|| resolve(&window.from_at, &starts));
            window.until = window.until.or_else(|| window.until_at.as_ref().and_then(|u| resolve(u, &starts)));
        }
        if phase == Phase::Startup {
            self.checks.iter_mut().for_each(|c| c.first_ok = None);
        }
        self.settle();
    }

    /// Move the clock to `to`, processing every change on the way in order.
    pub fn advance(&mut self, to: Time) {
        while let Some(t) = self.next_event_after(self.now).filter(|t| *t <= to) {
            self.now = t;
            self.fire_timed();
            self.settle();
        }
        if to > self.now {
            self.now = to;
        }
        self.fire_timed();
        self.settle();
    }

    /// Strike the one-shot faults that are due.
    fn fire_timed(&mut self) {
        while self.timed.first().is_some_and(|(t, _)| *t <= self.now) {
            let (_, fault) = self.timed.remove(0);
            match fault {
                Timed::PowerLoss => self.lose_power(),
                Timed::PowerRestore => self.restore_power(),
                Timed::BranchChange { source, branch } => {
                    let f = &mut self.flux[source];
                    f.branch = branch;
                    f.generation += 1;
                }
            }
        }
    }

    /// Mains power is lost for every domain at `now`: UPSes go on battery.
    pub fn power_loss(&mut self, now: Time) {
        self.advance(now);
        self.lose_power();
        self.settle();
    }

    /// Mains power returns at `now`: hosts that lost power boot.
    pub fn power_restore(&mut self, now: Time) {
        self.advance(now);
        self.restore_power();
        self.settle();
    }

    fn lose_power(&mut self) {
        for d in &mut self.domains {
            d.on_battery_since.get_or_insert(self.now);
        }
    }

    fn restore_power(&mut self) {
        for d in &mut self.domains {
            d.on_battery_since = None;
            d.dark = false;
        }
        for n in &mut self.nodes {
            if !n.powered {
                n.powered = true;
                n.up_at = if n.lost { None } else { Some(after(self.now, n.boot)) };
            }
        }
    }

    /// Whether the API answers right now (no flakiness applied).
    #[must_use]
    pub fn api_reachable(&self) -> bool {
        self.api_up
    }

    /// Whether every host is without power.
    #[must_use]
    pub fn all_hosts_dark(&self) -> bool {
        self.nodes.iter().all(|n| !n.powered)
    }

    /// Whether component `name` is up for what depends on it (Vault: running and unsealed).
    #[must_use]
    pub fn component_up(&self, name: &str) -> bool {
        self.comps.iter().position(|c| c.name == name).is_some_and(|c| self.ready_for_dependents(c))
    }

    /// Eviction attempts so far against `node`.
    #[must_use]
    pub fn eviction_attempts(&self, node: &str) -> u32 {
        self.evictions.get(node).copied().unwrap_or(0)
    }

    /// Whether an observation's API reads fail now: a third of the call failure rate.
    fn api_read_fails(&mut self) -> bool {
        let rate = self.api_error_rate() / 3.0;
        self.rng.chance(rate)
    }

    /// Whether an API call fails now (flaky windows and random errors; draws from the seed).
    fn api_call_fails(&mut self) -> bool {
        let rate = self.api_error_rate();
        self.rng.chance(rate)
    }

    /// The API error rate in force now.
    fn api_error_rate(&self) -> f64 {
        let now = self.now;
        self.flaky
            .iter()
            .filter(|w| w.from.is_some_and(|f| f <= now) && w.until.is_none_or(|u| now < u))
            .map(|w| w.rate)
            .fold(self.random_rate, f64::max)
    }
}

#[cfg(test)]
mod tests;
