//! What the observations confirmed: the shutdown's verdict is built from what ananke saw, never
//! from what it sent.

use super::ShutdownRun;
use crate::machine::{Cause, Unconfirmed};
use crate::observation::{Observation, SshStatus, UnitState};

impl ShutdownRun {
    /// Remember what `obs` confirms (the verdict reads it): whether the API answered, every
    /// node's SSH status and unit, the journaled workloads seen at 0 with no pods left, the
    /// journaled Flux objects seen suspended.
    pub(super) fn note(&mut self, obs: &Observation) {
        self.api_reachable = obs.api.reachable;
        for node in &obs.nodes {
            self.last_nodes.insert(node.name.clone(), (node.ssh.clone(), node.k3s_unit));
        }
        if !obs.api.reachable {
            return;
        }
        let changes = &self.journal.changes;
        for w in obs.workloads.iter().filter(|w| changes.scaled.contains_key(&w.id)) {
            if w.spec_replicas == Some(0) && w.status.replicas == 0 {
                self.scaled_confirmed.insert(w.id.clone());
            } else {
                // Scaled up again since (by Flux, by an operator): no longer confirmed.
                self.scaled_confirmed.remove(&w.id);
            }
        }
        let flux = obs.flux.iter().flat_map(|f| f.kustomizations.iter().chain(&f.helm_releases));
        for object in flux.filter(|o| o.suspend && changes.suspended.contains(&o.id)) {
            self.seen_suspended.insert(object.id.clone());
        }
    }

    /// Every step the run took (or could not take) that no observation confirmed, in the order of
    /// the shutdown: the API, Flux, workloads, drains, then the nodes in inventory order.
    pub(super) fn verify(&self) -> Vec<Unconfirmed> {
        let mut items = self.verify_quiesce();
        self.verify_nodes(&mut items);
        items
    }

    /// What of the API's part (Flux, workloads, drains) no observation confirmed.
    pub(super) fn verify_quiesce(&self) -> Vec<Unconfirmed> {
        let mut items = Vec::new();
        let api_cause = if self.api_reachable { Cause::TimedOut } else { Cause::ApiDown };
        if let Some(error) = &self.api_down_at_start {
            items.push(Unconfirmed {
                item: "Flux suspend, workload scale-down and node drain".to_owned(),
                cause: Cause::ApiDown,
                detail: format!("the Kubernetes API did not answer at the first observation: {error}"),
            });
        }
        for id in self.journal.changes.suspended.iter().filter(|id| !self.seen_suspended.contains(id)) {
            items.push(Unconfirmed {
                item: format!("{id} suspended"),
                cause: api_cause,
                detail: "never observed suspended".to_owned(),
            });
        }
        for (workload, replicas) in
            self.journal.changes.scaled.iter().filter(|(w, _)| !self.scaled_confirmed.contains(*w))
        {
            items.push(Unconfirmed {
                item: format!("{workload} scaled from {replicas} to 0"),
                cause: api_cause,
                detail: "never observed at 0 replicas with no pods left".to_owned(),
            });
        }
        // Pods a `PodDisruptionBudget` held are covered by `pdb_policy: proceed` (under `fail`
        // the run failed instead).
        for (node, pods) in self.drain_unfinished.iter().filter(|(n, _)| !self.pdb_blocks.contains_key(*n)) {
            items.push(Unconfirmed {
                item: format!("node {node} drained"),
                cause: Cause::TimedOut,
                detail: format!("pods left after the drain timeout: {pods}"),
            });
        }
        items
    }

    /// Every node that is not ignored and was not observed with k3s down.
    fn verify_nodes(&self, items: &mut Vec<Unconfirmed>) {
        for node in self.config.inventory.nodes.iter().filter(|n| !self.config.is_ignored(&n.name)) {
            let unit = node.role.unit();
            let item = format!("node {}: {unit} stopped", node.name);
            let last = self.last_nodes.get(&node.name);
            if matches!(last, Some((_, UnitState::Inactive | UnitState::Failed))) {
                // Seen down: what a command answered on the way does not matter.
                continue;
            }
            if let Some((cause, message)) = self.refused.get(&node.name) {
                items.push(Unconfirmed { item, cause: *cause, detail: message.clone() });
                continue;
            }
            match last {
                Some((SshStatus::Reachable, state)) => items.push(Unconfirmed {
                    item,
                    cause: Cause::StillRunning,
                    detail: format!("{unit} is {} at the last observation", unit_word(*state)),
                }),
                Some((ssh, _)) => items.push(Unconfirmed {
                    item,
                    cause: Cause::of_ssh(ssh).unwrap_or(Cause::Unreachable),
                    detail: ssh_detail(ssh),
                }),
                None => {
                    items.push(Unconfirmed { item, cause: Cause::Unreachable, detail: "never observed".to_owned() });
                }
            }
        }
    }
}

/// A unit state in words.
fn unit_word(state: UnitState) -> &'static str {
    match state {
        UnitState::Active => "active",
        UnitState::Inactive => "inactive",
        UnitState::Failed => "failed",
        UnitState::Unknown => "in an unknown state",
    }
}

/// What an SSH status says, for a report.
fn ssh_detail(ssh: &SshStatus) -> String {
    match ssh {
        SshStatus::Reachable => "reachable".to_owned(),
        SshStatus::Unknown => "not probed".to_owned(),
        SshStatus::Unreachable(detail) | SshStatus::AuthFailed(detail) => detail.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::{ssh_detail, unit_word};
    use crate::observation::{SshStatus, UnitState};

    #[test]
    fn states_and_ssh_answers_have_words() {
        let words = [UnitState::Active, UnitState::Inactive, UnitState::Failed, UnitState::Unknown].map(unit_word);
        assert_eq!(words, ["active", "inactive", "failed", "in an unknown state"]);
        assert_eq!(ssh_detail(&SshStatus::Reachable), "reachable");
        assert_eq!(ssh_detail(&SshStatus::Unknown), "not probed");
        assert_eq!(ssh_detail(&SshStatus::Unreachable("no route".into())), "no route");
        assert_eq!(ssh_detail(&SshStatus::AuthFailed("refused".into())), "refused");
    }
}
