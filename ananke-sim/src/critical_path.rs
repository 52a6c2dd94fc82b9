//! The critical path: the shortest possible startup and shutdown of a scenario, computed from its
//! dependency graph with the model's own rules. It is the yardstick of ananke's orchestration.
//!
//! Startup (from power restore, or from the end of the shutdown when power never went out): hosts
//! boot (only those whose battery ran out), k3s starts, the API answers once a quorum of servers
//! serves, kubelets post Ready, then each component starts once its dependencies are up and a
//! node can take it (the longest path of start durations through the component graph), Flux
//! reconciles its sources and Kustomizations, and every gate passes; then the soak (which starts
//! over once a check that flaps has passed again: a regression restarts it).
//! Shutdown: workloads stop in reverse dependency order (the longest path of stop durations),
//! then the drains (instant, unless a `PodDisruptionBudget` refuses every eviction: then the
//! drain's bounded wait), then the agents stop, then the servers (a unit that never stops lasts
//! the node-stop bound: nothing can tell it is stuck sooner).

use crate::scenario::{ComponentKind, Drive, Fault, Scenario};
use ananke_core::config::{Config, K3sRole};
use std::time::Duration;

/// Shortest possible startup and shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CriticalPath {
    /// Off to every gate passing plus the soak; `None` when no startup can complete (a required
    /// node never returns, or no server quorum can form).
    pub startup: Option<Duration>,
    /// Running to every k3s unit stopped.
    pub shutdown: Duration,
}

fn ms(d: ananke_core::config::HumanDuration) -> u64 {
    u64::try_from(d.get().as_millis()).unwrap_or(u64::MAX)
}

/// The critical path of `s` run as its `drive` says.
#[must_use]
pub fn critical_path(s: &Scenario) -> CriticalPath {
    critical_path_for(s, s.drive)
}

/// The critical path of `s` run as `drive`: a cycle starts up after its outage (hosts whose
/// battery ran out boot again) with k3s stopped everywhere; a startup alone starts from the lab as
/// the scenario describes it (a running lab only needs the soak).
#[must_use]
pub fn critical_path_for(s: &Scenario, drive: Drive) -> CriticalPath {
    let config = s.ananke_config();
    let startup = if drive == Drive::Startup && s.nodes.iter().all(|n| n.running) {
        Some(ms(config.soak.duration))
    } else {
        startup(s, drive == Drive::Cycle)
    };
    CriticalPath { startup: startup.map(Duration::from_millis), shutdown: Duration::from_millis(shutdown(s)) }
}

/// The critical path of a drill of `s`: its shutdown, then a startup with every host still up
/// (no outage between the two).
#[must_use]
pub fn drill_critical_path(s: &Scenario) -> CriticalPath {
    CriticalPath { startup: startup(s, false).map(Duration::from_millis), shutdown: Duration::from_millis(shutdown(s)) }
}

/// Whether the hosts of power domain `domain` go dark in the scenario's outage.
fn dark(s: &Scenario, domain: &str) -> bool {
    let runtime = s.power_domains.iter().find(|d| d.name == domain).map_or(u64::MAX, |d| ms(d.battery_runtime));
    s.outage.as_ref().is_some_and(|o| ms(o.duration) >= runtime)
}

fn startup(s: &Scenario, after_outage: bool) -> Option<u64> {
    let config = s.ananke_config();
    let nodes = nodes_up(s, after_outage)?;
    let (api, ready) = (nodes.api, &nodes.ready);
    let comp = components(s, &nodes);
    let comp_at = |name: &str| s.components.iter().position(|c| c.name == name).and_then(|i| comp[i]);
    let needed: Vec<u64> = s
        .components
        .iter()
        .enumerate()
        .filter(|(_, c)| c.workload.as_ref().is_some_and(|w| w.initial_replicas.unwrap_or(w.replicas) > 0))
        .map(|(i, _)| comp[i])
        .collect::<Option<Vec<u64>>>()?;
    let mut all = needed.into_iter().fold(api, u64::max);
    all = all.max(flux_applied(s, &config, api, &comp_at)?);
    for (n, spec) in s.nodes.iter().enumerate() {
        if !config.is_ignored(&spec.name) {
            all = all.max(ready[n]?);
        }
    }
    Some(all.max(flaps_end(s, api, &comp_at)) + ms(config.soak.duration))
}

/// When the nodes come up: the datastore, the API (a quorum of servers serving), each node Ready.
struct NodesUp {
    datastore: u64,
    api: u64,
    /// Per node, when its kubelet is Ready (`None`: never).
    ready: Vec<Option<u64>>,
}

fn nodes_up(s: &Scenario, after_outage: bool) -> Option<NodesUp> {
    let lost = |n: &str| s.faults.iter().any(|f| matches!(f, Fault::NodeLost { node } if node == n));
    let extra = |n: &str| {
        s.faults
            .iter()
            .map(|f| match f {
                Fault::SlowK3s { node, extra } if node == n => ms(*extra),
                _ => 0,
            })
            .sum::<u64>()
    };
    // Host up, per node (None: never).
    let host: Vec<Option<u64>> = s
        .nodes
        .iter()
        .map(|n| match (after_outage && dark(s, &n.power_domain), lost(&n.name)) {
            (true, true) => None,
            (true, false) => Some(ms(n.boot)),
            (false, _) => Some(0),
        })
        .collect();
    let datastore = s
        .components
        .iter()
        .filter(|c| c.kind == ComponentKind::Datastore)
        .map(|c| {
            c.host
                .as_deref()
                .and_then(|h| s.nodes.iter().position(|n| n.name == h))
                .and_then(|h| host[h])
                .map(|t| t + ms(c.start))
        })
        .try_fold(0u64, |acc, t| t.map(|t| acc.max(t)))?;
    let serving: Vec<Option<u64>> = s
        .nodes
        .iter()
        .zip(&host)
        .map(|(n, h)| {
            h.map(|h| h.max(if n.role == K3sRole::Server { datastore } else { 0 }) + ms(n.k3s_start) + extra(&n.name))
        })
        .collect();
    let mut servers: Vec<u64> =
        s.nodes.iter().zip(&serving).filter(|(n, _)| n.role == K3sRole::Server).filter_map(|(_, t)| *t).collect();
    servers.sort_unstable();
    let quorum = s.nodes.iter().filter(|n| n.role == K3sRole::Server).count() / 2 + 1;
    let api = *servers.get(quorum - 1)?;
    let ready = s.nodes.iter().zip(&serving).map(|(n, t)| t.map(|t| (t + ms(n.kubelet_ready)).max(api))).collect();
    Some(NodesUp { datastore, api, ready })
}

/// When each component is up (`None`: never), in dependency order (the graph is acyclic): once
/// its dependencies are up and a node that may run it is Ready.
fn components(s: &Scenario, nodes: &NodesUp) -> Vec<Option<u64>> {
    let mut comp: Vec<Option<u64>> = vec![None; s.components.len()];
    for _ in 0..=s.components.len() {
        for (i, c) in s.components.iter().enumerate() {
            if comp[i].is_some() || c.kind == ComponentKind::Datastore {
                comp[i] = comp[i].or(Some(nodes.datastore));
                continue;
            }
            if c.workload.as_ref().is_none_or(|w| w.initial_replicas.unwrap_or(w.replicas) == 0) {
                continue;
            }
            let deps: Option<Vec<u64>> = c
                .depends_on
                .iter()
                .map(|d| s.components.iter().position(|x| &x.name == d).and_then(|j| comp[j]))
                .collect();
            let Some(deps) = deps else { continue };
            let eligible = |n: usize| c.nodes.is_empty() || c.nodes.contains(&s.nodes[n].name);
            let cordoned = |n: usize| s.nodes[n].cordoned;
            let node = (0..s.nodes.len()).filter(|&n| eligible(n) && !cordoned(n)).filter_map(|n| nodes.ready[n]).min();
            let Some(node) = node else { continue };
            comp[i] = Some(deps.into_iter().fold(nodes.api.max(node), u64::max) + ms(c.start));
        }
    }
    comp
}

/// When every required Kustomization is applied: sources, then Kustomizations and `HelmReleases`
/// in dependency order (`None`: never).
fn flux_applied(s: &Scenario, config: &Config, api: u64, comp_at: &dyn Fn(&str) -> Option<u64>) -> Option<u64> {
    let delay = ms(s.cluster.reconcile_delay);
    let controllers = s.flux.controllers.as_deref().map_or(Some(api), comp_at)?;
    let source_ready: Vec<u64> = s
        .flux
        .sources
        .iter()
        .map(|x| {
            x.served_by
                .as_deref()
                .map_or(Some(controllers), |c| comp_at(c).map(|t| t.max(controllers)))
                .map(|t| t + delay)
        })
        .collect::<Option<Vec<u64>>>()?;
    let objects: Vec<(String, &crate::scenario::FluxObjectSpec)> = s
        .flux
        .kustomizations
        .iter()
        .chain(&s.flux.helm_releases)
        .map(|o| (format!("{}/{}", o.namespace, o.name), o))
        .collect();
    let mut flux: Vec<Option<u64>> = vec![None; objects.len()];
    for _ in 0..=objects.len() {
        for (i, (_, o)) in objects.iter().enumerate() {
            if flux[i].is_some() || o.suspend {
                continue;
            }
            let source = o.source.as_deref().map_or(Some(controllers), |n| {
                s.flux.sources.iter().position(|x| x.name == n).map(|j| source_ready[j])
            });
            let deps: Option<Vec<u64>> =
                o.depends_on.iter().map(|d| objects.iter().position(|(k, _)| k == d).and_then(|j| flux[j])).collect();
            let managed: Option<Vec<u64>> = o.manages.iter().map(|c| comp_at(c).or(Some(0))).collect();
            let (Some(source), Some(deps), Some(managed)) = (source, deps, managed) else { continue };
            let applied = deps.into_iter().fold(source.max(controllers), u64::max) + delay;
            flux[i] = Some(managed.into_iter().fold(applied, u64::max));
        }
    }
    let mut all = 0;
    for k in &config.flux.required_kustomizations {
        let key = format!("{}/{}", k.namespace, k.name);
        all = u64::max(all, objects.iter().position(|(o, _)| *o == key).and_then(|i| flux[i])?);
    }
    Some(all)
}

/// When the last check that flaps after it first passed passes again: it regresses the soak, and
/// the soak that counts starts then.
fn flaps_end(s: &Scenario, api: u64, comp_at: &dyn Fn(&str) -> Option<u64>) -> u64 {
    let mut end = 0;
    for fault in &s.faults {
        let Fault::EndpointFlap { check, after_healthy, duration } = fault else { continue };
        let Some(spec) = s.checks.iter().find(|c| c.name == *check) else { continue };
        let passes = spec
            .backed_by
            .iter()
            .map(|b| if b == "api" { Some(api) } else { comp_at(b) })
            .try_fold(api, |acc, t| t.map(|t| acc.max(t)));
        if let Some(passes) = passes {
            end = end.max(passes + ms(*after_healthy) + ms(*duration));
        }
    }
    end
}

fn shutdown(s: &Scenario) -> u64 {
    let config = s.ananke_config();
    let excluded = &config.shutdown.exclude_namespaces;
    let scaled: Vec<bool> = s
        .components
        .iter()
        .map(|c| {
            c.workload.as_ref().is_some_and(|w| {
                w.kind.scalable() && !excluded.contains(&w.namespace) && w.initial_replicas.unwrap_or(w.replicas) > 0
            })
        })
        .collect();
    // done[c] = stop[c] + the latest done of the scaled components that depend on c.
    let mut done = vec![0u64; s.components.len()];
    for _ in 0..=s.components.len() {
        for (i, c) in s.components.iter().enumerate() {
            if !scaled[i] {
                continue;
            }
            let dependents = s
                .components
                .iter()
                .enumerate()
                .filter(|(j, d)| scaled[*j] && d.depends_on.contains(&c.name))
                .map(|(j, _)| done[j])
                .max()
                .unwrap_or(0);
            done[i] = dependents + ms(c.stop);
        }
    }
    let quiesce = done.into_iter().max().unwrap_or(0);
    // A PodDisruptionBudget that lets none of an unscaled workload's pods go blocks its node's
    // drain for good: Kubernetes refuses the eviction, and the shortest shutdown that honours the
    // config gives the budget the drain's bounded wait (`shutdown.drain_timeout`) before it goes
    // on (`pdb_policy: proceed`) or fails.
    let blocked = s.pdbs.iter().any(|p| {
        s.components.iter().enumerate().any(|(i, c)| {
            c.name == p.component
                && !scaled[i]
                && c.workload.as_ref().is_some_and(|w| {
                    w.initial_replicas.unwrap_or(w.replicas) > 0
                        && p.min_available >= w.initial_replicas.unwrap_or(w.replicas)
                })
        })
    });
    let drain = if blocked { ms(config.shutdown.drain_timeout) } else { 0 };
    // A k3s unit that never stops is known stuck only at the node-stop bound
    // (`shutdown.node_stop_timeout`): its role's stage lasts that long.
    let stuck = |n: &crate::scenario::NodeSpec| {
        s.faults.iter().any(|f| matches!(f, Fault::K3sWontStop { node } if *node == n.name))
    };
    let stop = |role: K3sRole| {
        s.nodes
            .iter()
            .filter(|n| n.role == role && !config.is_ignored(&n.name))
            .map(|n| if stuck(n) { ms(config.shutdown.node_stop_timeout) } else { ms(n.k3s_stop) })
            .max()
            .unwrap_or(0)
    };
    quiesce + drain + stop(K3sRole::Agent) + stop(K3sRole::Server)
}
