//! Gate 1: the inventory mapping is valid.
//!
//! The Kubernetes API answers; the inventory and the cluster agree on which nodes exist (minus
//! `startup.ignore_unavailable_nodes`, which may be missing from the cluster); and every inventory
//! node is fed by exactly one power domain, so shutdown and startup know which UPS it hangs on.

use super::reasons::Reasons;
use super::{GateId, GateOutcome};
use crate::config::Config;
use crate::observation::Observation;
use std::collections::{HashMap, HashSet};

/// Evaluate the inventory gate.
#[must_use]
pub fn check(config: &Config, obs: &Observation) -> GateOutcome {
    let mut reasons = Reasons::new();
    let mut inventory: HashSet<&str> = HashSet::with_capacity(config.inventory.nodes.len());
    for node in &config.inventory.nodes {
        if !inventory.insert(node.name.as_str()) {
            reasons.push_with(|| format!("node {} is listed twice in the inventory", node.name));
        }
    }

    if obs.api.reachable {
        check_registration(config, obs, &inventory, &mut reasons);
    } else {
        let error = obs.api.error.as_deref().unwrap_or("no error reported");
        reasons.push(format!("Kubernetes API unreachable: {error}"));
    }
    check_power_domains(config, &inventory, &mut reasons);
    reasons.into_outcome(GateId::Inventory)
}

/// Every registered Node is in the inventory, every inventory node (not ignored) is registered.
fn check_registration(
    config: &Config,
    obs: &Observation,
    inventory: &HashSet<&str>,
    reasons: &mut Reasons,
) {
    let mut registered: HashSet<&str> = HashSet::with_capacity(obs.nodes.len());
    for node in obs.nodes.iter().filter(|n| n.kube.is_some()) {
        registered.insert(node.name.as_str());
        if !inventory.contains(node.name.as_str()) {
            reasons.push_with(|| {
                format!("node {} is registered in the cluster but not in the inventory", node.name)
            });
        }
    }
    let ignored: HashSet<&str> =
        config.startup.ignore_unavailable_nodes.iter().map(String::as_str).collect();
    for node in &config.inventory.nodes {
        let name = node.name.as_str();
        if !registered.contains(name) && !ignored.contains(name) {
            reasons.push_with(|| format!("inventory node {name} is not registered in the cluster"));
        }
    }
}

/// Every inventory node is in exactly one power domain, and domains name only inventory nodes.
fn check_power_domains(config: &Config, inventory: &HashSet<&str>, reasons: &mut Reasons) {
    let mut domains_of: HashMap<&str, Vec<&str>> = HashMap::with_capacity(inventory.len());
    for domain in &config.power_domains {
        for node in &domain.nodes {
            if !inventory.contains(node.as_str()) {
                reasons.push_with(|| {
                    format!("power domain {} lists node {node}, which is not in the inventory", domain.name)
                });
            }
            domains_of.entry(node.as_str()).or_default().push(domain.name.as_str());
        }
    }
    for node in &config.inventory.nodes {
        match domains_of.get(node.name.as_str()).map(Vec::as_slice) {
            None | Some([]) => {
                reasons.push_with(|| format!("inventory node {} is in no power domain", node.name));
            }
            Some([_]) => {}
            Some(domains) => reasons.push_with(|| {
                format!(
                    "inventory node {} is in {} power domains ({}); it must be in exactly one",
                    node.name,
                    domains.len(),
                    domains.join(", ")
                )
            }),
        }
    }
}
