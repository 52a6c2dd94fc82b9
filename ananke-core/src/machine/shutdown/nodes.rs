//! `Draining` and `StoppingNodes`: cordon, drain, then stop k3s (agents first, servers last).

use super::ShutdownRun;
use crate::config::K3sRole;
use crate::effect::Effect;
use crate::machine::step::Step;
use crate::observation::{NodeObservation, Observation, SshStatus, UnitState};
use std::collections::BTreeSet;

impl ShutdownRun {
    /// One observation in `Draining`: cordon every schedulable node (journaling it first; a node
    /// already unschedulable that ananke did not cordon is the operator's), then drain every
    /// cordoned node that still runs pods. Returns whether every node is cordoned and nothing is
    /// left to evict.
    pub(super) fn drain(&mut self, context: &mut Step<'_>, obs: &Observation) -> bool {
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
                context.diagnose(format!(
                    "node {} was cordoned by an operator and is now schedulable",
                    node.name
                ));
            }
            changes.cordoned.insert(node.name.clone());
            context.offer(Effect::Cordon {
                node: node.name.clone(),
            });
            self.waiting_for
                .push(format!("node {} not cordoned", node.name));
        }
        let mut to_drain = BTreeSet::new();
        for pod in &obs.pods_to_evict {
            to_drain.insert(pod.node.as_str());
            if let Some(pdb) = &pod.blocked_by_pdb {
                self.pdb_blocks.insert(pod.node.clone(), pdb.clone());
            }
            self.waiting_for
                .push(format!("pod {} on {}", pod.pod, pod.node));
        }
        self.pdb_blocks
            .retain(|node, _| to_drain.contains(node.as_str()));
        for node in to_drain.into_iter().filter(|n| cordoned.contains(n)) {
            context.offer(Effect::Drain {
                node: node.to_owned(),
            });
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
    /// agent is down. Returns whether every node is down.
    pub(super) fn stop_nodes(&mut self, context: &mut Step<'_>, obs: &Observation) -> bool {
        self.waiting_for.clear();
        if !self.stop_role(context, obs, K3sRole::Agent) {
            return false;
        }
        self.servers_stopping = true;
        self.stop_role(context, obs, K3sRole::Server)
    }

    /// Stop k3s on every node of `role` that is not down; returns whether all of them are down.
    fn stop_role(&mut self, context: &mut Step<'_>, obs: &Observation, role: K3sRole) -> bool {
        let mut all_down = true;
        for node in self
            .config
            .inventory
            .nodes
            .iter()
            .filter(|n| n.role == role)
        {
            let seen = obs.node(&node.name);
            if seen.is_some_and(is_down) {
                continue;
            }
            all_down = false;
            self.waiting_for
                .push(format!("{} ({})", node.name, role.unit()));
            if seen.is_some_and(|n| n.ssh.is_reachable()) {
                self.journal.changes.stopped.insert(node.name.clone());
                context.offer(Effect::StopK3s {
                    node: node.name.clone(),
                    role,
                });
            }
        }
        all_down
    }

    /// The node-stop deadline passed with agents still up: stop the servers anyway.
    pub(super) fn stop_servers_anyway(&mut self, context: &mut Step<'_>) {
        self.servers_stopping = true;
        for node in self
            .config
            .inventory
            .nodes
            .iter()
            .filter(|n| n.role == K3sRole::Server)
        {
            self.journal.changes.stopped.insert(node.name.clone());
            context.offer(Effect::StopK3s {
                node: node.name.clone(),
                role: K3sRole::Server,
            });
        }
    }
}

/// Whether k3s is down on a node: its unit is stopped or failed, or SSH cannot reach the host (its
/// power is already gone).
fn is_down(node: &NodeObservation) -> bool {
    matches!(node.k3s_unit, UnitState::Inactive | UnitState::Failed)
        || matches!(node.ssh, SshStatus::Unreachable(_))
}
