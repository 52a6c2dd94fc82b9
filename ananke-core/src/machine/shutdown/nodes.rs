//! `Draining` and `StoppingNodes`: cordon, drain, then stop k3s (agents first, servers last).

use super::ShutdownRun;
use crate::config::K3sRole;
use crate::effect::Effect;
use crate::machine::step::Context;
use crate::observation::{NodeObservation, Observation, UnitState};
use std::collections::BTreeSet;

impl ShutdownRun {
    /// One observation in `Draining`: cordon every schedulable node (journaling it first; a node
    /// already unschedulable that ananke did not cordon is the operator's), then drain every
    /// cordoned node that still runs pods. Returns whether every node is cordoned and nothing is
    /// left to evict.
    pub(super) fn drain(&mut self, context: &mut Context<'_>, obs: &Observation) -> bool {
        if !obs.api.reachable {
            return false;
        }
        self.waiting_for.clear();
        let changes = &mut self.journal.changes;
        let mut cordoned = BTreeSet::new();
        for node in &obs.nodes {
            let Some(kube) = &node.kube else { continue };
            if kube.unschedulable {
                if !changes.cordoned.contains(&node.name) {
                    changes.already_cordoned.insert(node.name.clone());
                }
                cordoned.insert(node.name.as_str());
                continue;
            }
            if changes.already_cordoned.remove(&node.name) {
                context.diagnose(format!("node {} was cordoned by an operator and is now schedulable", node.name));
            }
            changes.cordoned.insert(node.name.clone());
            context.offer(Effect::Cordon { node: node.name.clone() });
            self.waiting_for.push(format!("node {} not cordoned", node.name));
        }
        let mut to_drain = BTreeSet::new();
        self.drain_unfinished.clear();
        for pod in &obs.pods_to_evict {
            to_drain.insert(pod.node.as_str());
            if let Some(pdb) = &pod.blocked_by_pdb {
                self.pdb_blocks.insert(pod.node.clone(), pdb.clone());
            } else {
                // Only a PDB (under `pdb_policy: proceed`) covers a pod left behind.
                let left = self.drain_unfinished.entry(pod.node.clone()).or_default();
                if !left.is_empty() {
                    left.push_str(", ");
                }
                left.push_str(&pod.pod.to_string());
            }
            self.waiting_for.push(format!("pod {} on {}", pod.pod, pod.node));
        }
        self.pdb_blocks.retain(|node, _| to_drain.contains(node.as_str()));
        for node in to_drain.into_iter().filter(|n| cordoned.contains(n)) {
            context.offer(Effect::Drain { node: node.to_owned() });
        }
        self.waiting_for.is_empty()
    }

    /// The `PodDisruptionBudgets` blocking the nodes that still have pods to evict, as one line.
    pub(super) fn blocking_pdb_line(&self) -> Option<String> {
        let pdbs: BTreeSet<&str> = self.pdb_blocks.values().map(String::as_str).collect();
        if pdbs.is_empty() {
            None
        } else {
            Some(pdbs.into_iter().collect::<Vec<_>>().join(", "))
        }
    }

    /// One observation in `StoppingNodes`: stop k3s on every agent, and on the servers once every
    /// agent is settled (or the node-stop deadline passed). Returns whether every node is settled.
    pub(super) fn stop_nodes(&mut self, context: &mut Context<'_>, obs: &Observation) -> bool {
        self.waiting_for.clear();
        let agents = self.stop_role(context, obs, K3sRole::Agent);
        if !agents && !self.servers_stopping {
            return false;
        }
        self.servers_stopping = true;
        let servers = self.stop_role(context, obs, K3sRole::Server);
        servers && (agents || self.agents_timed_out)
    }

    /// Stop k3s on every reachable node of `role` whose unit is not down; returns whether every
    /// node of `role` is settled: observed down, refused for good, out of reach (SSH does not
    /// reach it, so nothing can be done and waiting would only burn battery), or ignored.
    fn stop_role(&mut self, context: &mut Context<'_>, obs: &Observation, role: K3sRole) -> bool {
        let mut settled = true;
        for node in self.config.inventory.nodes.iter().filter(|n| n.role == role) {
            let Some(seen) = obs.node(&node.name) else {
                continue;
            };
            if seen.k3s_unit == UnitState::Inactive && !self.journal.changes.stopped.contains(&node.name) {
                // Stopped before ananke came: the operator's, left stopped by the startup (a
                // failed unit is a crash, not a choice: the startup starts it).
                self.journal.changes.already_stopped.insert(node.name.clone());
            }
            if is_down(seen) || self.refused.contains_key(&node.name) || !seen.ssh.is_reachable() {
                continue;
            }
            offer_stop(&mut self.journal, context, &node.name, role);
            if !self.config.is_ignored(&node.name) {
                settled = false;
                self.waiting_for.push(format!("{} ({})", node.name, role.unit()));
            }
        }
        settled
    }

    /// The node-stop deadline passed with agents still up: stop the reachable servers anyway.
    pub(super) fn stop_servers_anyway(&mut self, context: &mut Context<'_>) {
        self.servers_stopping = true;
        for node in self.config.inventory.nodes.iter().filter(|n| n.role == K3sRole::Server) {
            let reachable = self.last_nodes.get(&node.name).is_some_and(|(ssh, _)| ssh.is_reachable());
            if !reachable || self.refused.contains_key(&node.name) {
                continue;
            }
            offer_stop(&mut self.journal, context, &node.name, K3sRole::Server);
        }
    }
}

/// Journal `node` as stopped by ananke, then offer the stop: the journal leads every change.
fn offer_stop(journal: &mut crate::journal::Journal, context: &mut Context<'_>, node: &str, role: K3sRole) {
    journal.changes.stopped.insert(node.to_owned());
    context.offer(Effect::StopK3s { node: node.to_owned(), role });
}

/// Whether k3s is observed down on a node: its unit is stopped or failed.
fn is_down(node: &NodeObservation) -> bool {
    matches!(node.k3s_unit, UnitState::Inactive | UnitState::Failed)
}
