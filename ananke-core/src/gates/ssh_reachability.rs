//! Gate 2: the expected nodes are reachable and authenticated over SSH, and Ready in Kubernetes.
//!
//! Every inventory node except `startup.ignore_unavailable_nodes` counts. With
//! `startup.require_node_inventory_reachability: false` the SSH half is skipped and only the
//! Kubernetes `Ready` condition is required.

use super::health::status_str;
use super::reasons::Reasons;
use super::{GateId, GateOutcome};
use crate::config::Config;
use crate::observation::{ConditionStatus, NodeObservation, Observation, SshStatus};
use std::collections::{HashMap, HashSet};

/// Evaluate the SSH reachability gate.
#[must_use]
pub fn check(config: &Config, obs: &Observation) -> GateOutcome {
    let require_ssh = config.startup.require_node_inventory_reachability;
    let ignored: HashSet<&str> = config.startup.ignore_unavailable_nodes.iter().map(String::as_str).collect();
    let observed: HashMap<&str, &NodeObservation> = obs.nodes.iter().map(|n| (n.name.as_str(), n)).collect();

    let mut reasons = Reasons::new();
    for node in &config.inventory.nodes {
        let name = node.name.as_str();
        if ignored.contains(name) {
            continue;
        }
        let Some(seen) = observed.get(name) else {
            reasons.push_with(|| format!("node {name}: not observed"));
            continue;
        };
        if require_ssh {
            match &seen.ssh {
                SshStatus::Reachable => {}
                SshStatus::Unknown => reasons.push_with(|| format!("node {name}: ssh not probed")),
                SshStatus::Unreachable(detail) => {
                    reasons.push_with(|| format!("node {name}: ssh unreachable: {detail}"));
                }
                SshStatus::AuthFailed(detail) => {
                    reasons.push_with(|| format!("node {name}: ssh authentication failed: {detail}"));
                }
            }
        }
        match &seen.kube {
            None => reasons.push_with(|| format!("node {name}: not registered in the cluster")),
            Some(kube) if kube.ready != ConditionStatus::True => reasons.push_with(|| {
                let status = status_str(kube.ready);
                if kube.ready_reason.is_empty() {
                    format!("node {name}: Kubernetes Ready={status}")
                } else {
                    format!("node {name}: Kubernetes Ready={status} ({})", kube.ready_reason)
                }
            }),
            Some(_) => {}
        }
    }
    reasons.into_outcome(GateId::SshReachability)
}
