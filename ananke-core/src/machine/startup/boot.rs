//! `Off`: starting k3s in a quorum-safe order and deciding when the nodes are up.

use super::StartupRun;
use crate::config::{K3sRole, Node};
use crate::effect::Effect;
use crate::gates::GateId;
use crate::machine::step::Context;
use crate::observation::{ConditionStatus, NodeObservation, Observation, SshStatus, UnitState};

impl StartupRun {
    /// Start k3s on every reachable server whose unit is not active (all together: embedded etcd
    /// needs a quorum), and on the agents likewise once the API answers. Forget the journal's
    /// `stopped` entry of every node observed active again.
    pub(super) fn start_nodes(&mut self, context: &mut Context<'_>, obs: &Observation) {
        for node in &self.config.inventory.nodes {
            if node.role == K3sRole::Agent && !obs.api.reachable {
                continue;
            }
            let Some(seen) = obs.node(&node.name) else {
                continue;
            };
            let operators = self.journal.changes.already_stopped.contains(&node.name)
                && !self.journal.changes.stopped.contains(&node.name);
            if seen.k3s_unit == UnitState::Active {
                self.journal.changes.stopped.remove(&node.name);
            } else if seen.ssh.is_reachable() && !operators {
                context.offer(Effect::StartK3s { node: node.name.clone(), role: node.role });
            }
        }
    }

    /// Whether the API answers and every expected node is Ready (and reachable over SSH when the
    /// config requires it). Records what is stuck, for the boot-grace failure.
    /// Uncordon each node ananke cordoned as soon as it is observed Ready, without waiting for the
    /// others: what it can run (storage, DNS) starts while slower hosts still boot.
    pub(super) fn uncordon_ready(&mut self, context: &mut Context<'_>, obs: &Observation) {
        if !obs.api.reachable {
            return;
        }
        for node in &self.journal.changes.cordoned {
            let ready = obs
                .node(node)
                .and_then(|n| n.kube.as_ref())
                .filter(|k| k.unschedulable && k.ready == ConditionStatus::True);
            if ready.is_some() && self.config.node(node).is_some() && !self.config.is_ignored(node) {
                context.offer(Effect::Uncordon { node: node.clone() });
            }
        }
    }

    pub(super) fn all_nodes_up(&mut self, obs: &Observation) -> bool {
        self.seen.api_reachable = obs.api.reachable;
        self.seen.api_error.clone_from(&obs.api.error);
        self.seen.stuck_servers.clear();
        self.seen.stuck_nodes.clear();
        self.note_ignored(obs);
        for node in &self.config.inventory.nodes {
            if self.config.is_ignored(&node.name) {
                continue;
            }
            if let Some(problem) = self.node_problem(node, obs) {
                let line = format!("{} {problem}", node.name);
                if node.role == K3sRole::Server {
                    self.seen.stuck_servers.push(line.clone());
                }
                self.seen.stuck_nodes.push(line);
            }
        }
        obs.api.reachable && self.seen.stuck_nodes.is_empty()
    }

    /// Note which ignored nodes are not up, and why (the report names them in its warnings).
    pub(super) fn note_ignored(&mut self, obs: &Observation) {
        self.seen.ignored_down.clear();
        for node in self.config.inventory.nodes.iter().filter(|n| self.config.is_ignored(&n.name)) {
            if let Some(problem) = self.node_problem(node, obs) {
                self.seen.ignored_down.push(format!("{} {problem}", node.name));
            }
        }
    }

    /// Why `node` is not up, if it is not.
    fn node_problem(&self, node: &Node, obs: &Observation) -> Option<String> {
        let Some(seen) = obs.node(&node.name) else {
            return Some("not observed".to_owned());
        };
        let ready = seen.kube.as_ref().is_some_and(|k| k.ready == ConditionStatus::True);
        let ssh_ok = seen.ssh.is_reachable() || !self.config.startup.require_node_inventory_reachability;
        if ready && ssh_ok && obs.api.reachable {
            return None;
        }
        let mut why = Vec::new();
        if let Some(ssh) = ssh_problem(&seen.ssh) {
            why.push(ssh);
        } else if seen.k3s_unit != UnitState::Active {
            why.push(unit_problem(seen.k3s_unit).to_owned());
        }
        if obs.api.reachable {
            why.extend(kube_problem(seen));
        }
        if why.is_empty() {
            why.push("API unreachable".to_owned());
        }
        Some(why.join(", "))
    }

    /// The gate and reason of a boot-grace (or early deadline) failure: the inventory gate when the
    /// API never answered (no server quorum), else the SSH gate naming every stuck node.
    pub(super) fn boot_failure(&self) -> (GateId, String) {
        if self.seen.api_reachable {
            return (GateId::SshReachability, format!("nodes not ready: {}", self.seen.stuck_nodes.join("; ")));
        }
        let api = self.seen.api_error.as_deref().unwrap_or("no answer");
        let servers = if self.seen.stuck_servers.is_empty() {
            format!("API unreachable: {api}")
        } else {
            format!("{} (API unreachable: {api})", self.seen.stuck_servers.join("; "))
        };
        (GateId::Inventory, format!("k3s server quorum not reached: {servers}"))
    }
}

/// Why SSH does not reach a node, if it does not.
fn ssh_problem(ssh: &SshStatus) -> Option<String> {
    match ssh {
        SshStatus::Reachable => None,
        SshStatus::Unknown => Some("ssh not probed".to_owned()),
        SshStatus::Unreachable(detail) => Some(format!("ssh unreachable: {detail}")),
        SshStatus::AuthFailed(detail) => Some(format!("ssh authentication failed: {detail}")),
    }
}

/// How a k3s unit that is not active looks.
fn unit_problem(unit: UnitState) -> &'static str {
    match unit {
        UnitState::Active => "unit active",
        UnitState::Inactive => "unit inactive",
        UnitState::Failed => "unit failed",
        UnitState::Unknown => "unit state unknown",
    }
}

/// Why the API does not show a node Ready, if it does not.
fn kube_problem(seen: &NodeObservation) -> Option<String> {
    match &seen.kube {
        None => Some("not registered with the API".to_owned()),
        Some(k) if k.ready == ConditionStatus::True => None,
        Some(k) => {
            let status = match k.ready {
                ConditionStatus::True => "True",
                ConditionStatus::False => "False",
                ConditionStatus::Unknown => "Unknown",
            };
            if k.ready_reason.is_empty() {
                Some(format!("Ready={status}"))
            } else {
                Some(format!("Ready={status} ({})", k.ready_reason))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{kube_problem, ssh_problem, unit_problem};
    use crate::observation::{ConditionStatus, KubeNode, NodeObservation, SshStatus, UnitState};

    #[test]
    fn ssh_problems_say_what_failed() {
        assert_eq!(ssh_problem(&SshStatus::Reachable), None);
        assert_eq!(ssh_problem(&SshStatus::Unknown).as_deref(), Some("ssh not probed"));
        assert_eq!(
            ssh_problem(&SshStatus::Unreachable("timed out".into())).as_deref(),
            Some("ssh unreachable: timed out")
        );
        assert_eq!(
            ssh_problem(&SshStatus::AuthFailed("key refused".into())).as_deref(),
            Some("ssh authentication failed: key refused")
        );
    }

    #[test]
    fn every_unit_state_has_words() {
        let words = [UnitState::Active, UnitState::Inactive, UnitState::Failed, UnitState::Unknown].map(unit_problem);
        assert_eq!(words, ["unit active", "unit inactive", "unit failed", "unit state unknown"]);
    }

    #[test]
    fn a_node_not_ready_names_its_ready_condition() {
        let node = |kube: Option<KubeNode>| NodeObservation { name: "n".into(), kube, ..NodeObservation::default() };
        let ready = |ready, reason: &str| Some(KubeNode { ready, ready_reason: reason.into(), ..KubeNode::default() });
        let cases = [
            (node(None), Some("not registered with the API")),
            (node(ready(ConditionStatus::True, "KubeletReady")), None),
            (node(ready(ConditionStatus::False, "")), Some("Ready=False")),
            (node(ready(ConditionStatus::Unknown, "NodeStatusUnknown")), Some("Ready=Unknown (NodeStatusUnknown)")),
        ];
        for (seen, want) in cases {
            assert_eq!(kube_problem(&seen).as_deref(), want, "{seen:?}");
        }
    }
}
