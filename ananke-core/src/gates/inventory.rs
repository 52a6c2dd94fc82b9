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

/// What the gate learns about one inventory node.
#[derive(Clone, Copy, Default)]
struct Seen {
    registered: bool,
    domains: u32,
    /// A later entry of a name already listed: reported once, then skipped.
    duplicate: bool,
}

/// Evaluate the inventory gate.
#[must_use]
pub fn check(config: &Config, obs: &Observation) -> GateOutcome {
    let nodes = &config.inventory.nodes;
    let mut reasons = Reasons::new();
    // One hash per inventory node, one per observed node, one per domain entry; the facts live in
    // a vector in inventory order, so the final pass hashes nothing and reports in config order.
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(nodes.len());
    let mut seen = vec![Seen::default(); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        if *index.entry(node.name.as_str()).or_insert(i) != i {
            seen[i].duplicate = true;
            reasons.push_with(|| format!("node {} is listed twice in the inventory", node.name));
        }
    }

    if obs.api.reachable {
        for node in obs.nodes.iter().filter(|n| n.kube.is_some()) {
            match index.get(node.name.as_str()) {
                Some(&i) => seen[i].registered = true,
                None => reasons
                    .push_with(|| format!("node {} is registered in the cluster but not in the inventory", node.name)),
            }
        }
    } else {
        let error = obs.api.error.as_deref().unwrap_or("no error reported");
        reasons.push(format!("Kubernetes API unreachable: {error}"));
    }

    for domain in &config.power_domains {
        for node in &domain.nodes {
            match index.get(node.as_str()) {
                Some(&i) => seen[i].domains += 1,
                None => reasons.push_with(|| {
                    format!("power domain {} lists node {node}, which is not in the inventory", domain.name)
                }),
            }
        }
    }

    let ignored: HashSet<&str> = config.startup.ignore_unavailable_nodes.iter().map(String::as_str).collect();
    for (node, seen) in nodes.iter().zip(&seen).filter(|(_, s)| !s.duplicate) {
        let name = node.name.as_str();
        if obs.api.reachable && !seen.registered && !ignored.contains(name) {
            reasons.push_with(|| format!("inventory node {name} is not registered in the cluster"));
        }
        match seen.domains {
            1 => {}
            0 => reasons.push_with(|| format!("inventory node {name} is in no power domain")),
            n => reasons.push_with(|| {
                format!(
                    "inventory node {name} is in {n} power domains ({}); it must be in exactly one",
                    domains_of(config, name).join(", ")
                )
            }),
        }
    }
    reasons.into_outcome(GateId::Inventory)
}

/// The power domains listing `node` (only called for the few reasons actually listed).
fn domains_of<'a>(config: &'a Config, node: &str) -> Vec<&'a str> {
    config.power_domains.iter().filter(|d| d.nodes.iter().any(|n| n == node)).map(|d| d.name.as_str()).collect()
}
