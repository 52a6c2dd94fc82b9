//! What the Kubernetes API facade (`ananke-sim serve`) reads and changes in the model beyond an
//! `Observation` and `Model::apply`: every running pod with its node and readiness, the PDBs,
//! what backs each Service, one eviction at a time with PDB semantics (reference §7 item 5), and
//! API failures drawn per request.

use super::parts::Phase;
use super::Model;
use crate::scenario::ComponentKind;
use ananke_core::config::WorkloadRef;
use ananke_core::{Observation, Time};

/// One running pod of a workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodView {
    /// The workload that owns it.
    pub workload: WorkloadRef,
    /// The node it runs on.
    pub node: String,
    /// Whether it is Ready (a sealed Vault pod runs but is not Ready).
    pub ready: bool,
}

/// A `PodDisruptionBudget` over one workload's pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdbView {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The workload whose pods it selects.
    pub workload: WorkloadRef,
    /// `spec.minAvailable`.
    pub min_available: i32,
    /// Pods that count as healthy for it (running pods, as the model's drain counts them).
    pub healthy: i32,
}

impl PdbView {
    /// `status.disruptionsAllowed`.
    #[must_use]
    pub fn disruptions_allowed(&self) -> i32 {
        (self.healthy - self.min_available).max(0)
    }
}

/// A Service and the workload whose ready pods are its endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceView {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The backing workload (`None` for a component without one).
    pub workload: Option<WorkloadRef>,
}

/// What one eviction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eviction {
    /// The pod is gone; its workload replaces it elsewhere in time.
    Evicted,
    /// A PDB refuses: evicting would leave fewer than `min_available` healthy pods.
    Blocked {
        /// The PDB's name (without namespace).
        pdb: String,
        /// Its `minAvailable`.
        min_available: i32,
        /// Healthy pods now.
        healthy: i32,
    },
    /// No pod of that workload runs on that node.
    NotFound,
}

impl Model {
    /// Run `f` with the scenario's random API failures switched off (and the seeded draws left as
    /// they were): the facade draws failures once per request instead.
    fn without_faults<R>(&mut self, f: impl FnOnce(&mut Model) -> R) -> R {
        let rng = self.rng.clone();
        let flaky = std::mem::take(&mut self.flaky);
        let rate = std::mem::replace(&mut self.random_rate, 0.0);
        let out = f(self);
        self.rng = rng;
        self.flaky = flaky;
        self.random_rate = rate;
        out
    }

    /// What ananke would observe at `now`, without random API failures.
    pub fn serve_observation(&mut self, now: Time) -> Observation {
        self.without_faults(|m| m.observe(now))
    }

    /// `Model::apply` without random API failures (the request carrying it already drew its own).
    pub fn apply_reliably(&mut self, now: Time, effect: &ananke_core::Effect) -> ananke_core::EffectOutcome {
        self.without_faults(|m| m.apply(now, effect))
    }

    /// Whether one API request fails now (flaky windows and random errors; draws from the seed).
    pub fn api_request_fails(&mut self) -> bool {
        self.api_call_fails()
    }

    /// Every running pod, workload by workload in component order, in placement order.
    #[must_use]
    pub fn serve_pods(&self) -> Vec<PodView> {
        let pods = self.comps.iter().flat_map(|comp| comp.running_pods().map(move |pod| (comp, pod)));
        pods.map(|(comp, (w, k, n))| {
            let ready = comp.kind != ComponentKind::Vault || self.vault.get(k).is_some_and(|p| !p.sealed);
            PodView { workload: w.id.clone(), node: self.nodes[n].name.clone(), ready }
        })
        .collect()
    }

    /// Every PDB with its current budget.
    #[must_use]
    pub fn serve_pdbs(&self) -> Vec<PdbView> {
        self.comps
            .iter()
            .filter_map(|comp| {
                let (key, min) = comp.pdb.as_ref()?;
                let w = comp.workload.as_ref()?;
                let (namespace, name) = key.split_once('/').unwrap_or((w.id.namespace.as_str(), key.as_str()));
                Some(PdbView {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    workload: w.id.clone(),
                    min_available: *min,
                    healthy: i32::try_from(comp.pods.len()).unwrap_or(i32::MAX),
                })
            })
            .collect()
    }

    /// Every Service with its backing workload.
    #[must_use]
    pub fn serve_services(&self) -> Vec<ServiceView> {
        self.services
            .iter()
            .map(|(namespace, name, c)| ServiceView {
                namespace: namespace.clone(),
                name: name.clone(),
                workload: self.comps[*c].workload.as_ref().map(|w| w.id.clone()),
            })
            .collect()
    }

    /// Evict one pod of `workload` from `node` at `now`, as the eviction subresource does: refused
    /// when the workload's PDB has no disruption left, otherwise the pod is gone at once.
    ///
    /// The node remembers the PDB that refused its last eviction (what `pods_to_evict` reports),
    /// until that PDB allows one again.
    pub fn evict_one(&mut self, now: Time, workload: &WorkloadRef, node: &str) -> Eviction {
        self.advance(now);
        let (Some(&c), Some(&n)) = (self.workload_index.get(workload), self.node_index.get(node)) else {
            return Eviction::NotFound;
        };
        let comp = &mut self.comps[c];
        if !matches!(comp.phase, Phase::Up | Phase::Stopping { .. }) {
            return Eviction::NotFound;
        }
        let Some(k) = comp.pods.iter().position(|&p| p == n) else {
            return Eviction::NotFound;
        };
        let healthy = i32::try_from(comp.pods.len()).unwrap_or(i32::MAX);
        if let Some((key, min)) = &comp.pdb {
            if healthy - 1 < *min {
                let pdb = key.rsplit('/').next().unwrap_or(key).to_owned();
                self.nodes[n].blocked_by = Some(key.clone());
                return Eviction::Blocked { pdb, min_available: *min, healthy };
            }
            if self.nodes[n].blocked_by.as_ref() == Some(key) {
                self.nodes[n].blocked_by = None;
            }
        }
        comp.pods.remove(k);
        self.settle();
        Eviction::Evicted
    }
}
