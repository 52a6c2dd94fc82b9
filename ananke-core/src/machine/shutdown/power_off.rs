//! `cluster-and-hosts`: which hosts a shutdown powers off once the cluster is down, in which
//! order, and which never.
//!
//! Agents first, all at once; the servers once every agent's power-off has returned (the
//! servers hold the datastore and often the storage the agents mounted). The host ananke runs on
//! (`coordination.local_node`) is never powered off by ananke: powering it off from inside the
//! run would kill the run before it writes its journal and report, the record the next startup
//! depends on. That host goes down by its own UPS client (upsmon's `SHUTDOWNCMD`) or by the
//! operator, after ananke's shutdown has ended.

use crate::config::{Config, K3sRole, ShutdownMode};

/// The hosts a shutdown powers off, in order; empty in `cluster-only` mode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PowerOffPlan {
    /// Powered off first, all at once.
    pub agents: Vec<String>,
    /// Powered off once every agent's power-off has returned.
    pub servers: Vec<String>,
    /// Never powered off: the host ananke runs on.
    pub spared: Option<String>,
}

impl PowerOffPlan {
    /// The plan of a shutdown in `mode` with `config`: every inventory node, in inventory order
    /// within its role, but `coordination.local_node`.
    #[must_use]
    pub fn of(config: &Config, mode: ShutdownMode) -> Self {
        if mode != ShutdownMode::ClusterAndHosts {
            return Self::default();
        }
        let local = config.coordination.local_node.as_deref();
        let role = |role: K3sRole| -> Vec<String> {
            let nodes = config.inventory.nodes.iter().filter(|n| n.role == role && Some(n.name.as_str()) != local);
            nodes.map(|n| n.name.clone()).collect()
        };
        let spared = local.filter(|l| config.inventory.nodes.iter().any(|n| n.name == *l)).map(str::to_owned);
        Self { agents: role(K3sRole::Agent), servers: role(K3sRole::Server), spared }
    }

    /// Whether the plan powers nothing off and spares nothing (`cluster-only`).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty() && self.servers.is_empty() && self.spared.is_none()
    }

    /// The plan in words, one line per stage, for the dry run.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.agents.is_empty() {
            out.push(format!("power off the agents at once: {}", self.agents.join(", ")));
        }
        if !self.servers.is_empty() {
            let when = if self.agents.is_empty() { "" } else { ", once every agent's power-off returned" };
            out.push(format!("power off the servers{when}: {}", self.servers.join(", ")));
        }
        if let Some(local) = &self.spared {
            out.push(format!("{}: {local}", Self::spared_why()));
        }
        out
    }

    /// Why the local host is spared, in words.
    #[must_use]
    pub fn spared_why() -> &'static str {
        "never powered off by ananke, because ananke runs on it (coordination.local_node): its own UPS \
         client or the operator powers it off after the shutdown has ended"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(local: Option<&str>) -> Config {
        let size = crate::synth::LabSize { nodes: 4, ..crate::synth::LabSize::SMALL };
        let mut config = crate::synth::lab_config(size);
        config.coordination.local_node = local.map(str::to_owned);
        config
    }

    #[test]
    fn cluster_only_powers_nothing_off() {
        let plan = PowerOffPlan::of(&config(Some("node-00001")), ShutdownMode::ClusterOnly);
        assert!(plan.is_empty() && plan.lines().is_empty(), "{plan:?}");
    }

    #[test]
    fn agents_first_servers_after_and_the_local_host_never() {
        let c = config(None);
        let servers: Vec<String> =
            c.inventory.nodes.iter().filter(|n| n.role == K3sRole::Server).map(|n| n.name.clone()).collect();
        let agents: Vec<String> =
            c.inventory.nodes.iter().filter(|n| n.role == K3sRole::Agent).map(|n| n.name.clone()).collect();
        assert!(!servers.is_empty() && !agents.is_empty());
        let plan = PowerOffPlan::of(&c, ShutdownMode::ClusterAndHosts);
        assert_eq!(
            (plan.agents.clone(), plan.servers.clone(), plan.spared.clone()),
            (agents.clone(), servers.clone(), None)
        );
        let lines = plan.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].contains("once every agent's power-off returned"), "{lines:?}");

        let local = agents[0].clone();
        let plan = PowerOffPlan::of(&config(Some(&local)), ShutdownMode::ClusterAndHosts);
        assert!(!plan.agents.contains(&local) && plan.spared.as_deref() == Some(local.as_str()), "{plan:?}");
        assert!(
            plan.lines().last().unwrap().ends_with(&format!("after the shutdown has ended: {local}")),
            "{:?}",
            plan.lines()
        );

        let unknown = PowerOffPlan::of(&config(Some("elsewhere")), ShutdownMode::ClusterAndHosts);
        assert_eq!(unknown.spared, None, "a local node outside the inventory spares nothing");
        let only_servers = PowerOffPlan { agents: Vec::new(), servers: servers.clone(), spared: None };
        assert_eq!(only_servers.lines(), [format!("power off the servers: {}", servers.join(", "))]);
    }
}
