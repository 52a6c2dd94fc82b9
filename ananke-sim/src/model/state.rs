//! `ClusterState`: the operator-visible settings a shutdown changes and a startup must restore.

use super::Model;
use ananke_core::config::WorkloadRef;
use ananke_core::observation::{FluxKind, FluxRef};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a shutdown changes and a startup must restore, compared field by field.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClusterState {
    /// `spec.replicas` per workload.
    pub replicas: BTreeMap<WorkloadRef, i32>,
    /// `spec.suspend` per Kustomization and `HelmRelease`.
    pub suspended: BTreeMap<FluxRef, bool>,
    /// `spec.unschedulable` per node.
    pub cordoned: BTreeMap<String, bool>,
    /// `(url, branch)` per `GitRepository`.
    pub sources: BTreeMap<FluxRef, (String, String)>,
}

impl ClusterState {
    /// Every field that differs from `other`, one line each (`what: self -> other`).
    #[must_use]
    pub fn diff(&self, other: &ClusterState) -> Vec<String> {
        fn compare<K: Ord + std::fmt::Display, V: PartialEq + std::fmt::Debug>(
            out: &mut Vec<String>,
            what: &str,
            a: &BTreeMap<K, V>,
            b: &BTreeMap<K, V>,
        ) {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) if w == v => {}
                    Some(w) => out.push(format!("{what} {k}: {v:?} -> {w:?}")),
                    None => out.push(format!("{what} {k}: {v:?} -> (missing)")),
                }
            }
            for (k, w) in b {
                if !a.contains_key(k) {
                    out.push(format!("{what} {k}: (missing) -> {w:?}"));
                }
            }
        }
        let mut out = Vec::new();
        compare(&mut out, "replicas of", &self.replicas, &other.replicas);
        compare(&mut out, "suspend of", &self.suspended, &other.suspended);
        compare(&mut out, "cordon of", &self.cordoned, &other.cordoned);
        compare(&mut out, "source of", &self.sources, &other.sources);
        out
    }
}

impl Model {
    /// A snapshot of the operator-visible settings.
    #[must_use]
    pub fn cluster_state(&self) -> ClusterState {
        let mut state = ClusterState::default();
        for c in &self.comps {
            if let Some(w) = &c.workload {
                state.replicas.insert(w.id.clone(), w.desired);
            }
        }
        for f in &self.flux {
            if f.id.kind == FluxKind::GitRepository {
                state.sources.insert(f.id.clone(), (f.url.clone(), f.branch.clone()));
            } else {
                state.suspended.insert(f.id.clone(), f.suspend);
            }
        }
        for n in &self.nodes {
            state.cordoned.insert(n.name.clone(), n.cordoned);
        }
        state
    }
}
