//! The node inventory and everything that names its nodes: power domains, ignores, peers.

use super::Findings;
use crate::config::model::Config;
use std::collections::HashMap;

/// Check the inventory, the power domains and every list of node names.
pub(super) fn check(config: &Config, out: &mut Findings) {
    nodes(config, out);
    power_domains(config, out);
    for (i, name) in config.startup.ignore_unavailable_nodes.iter().enumerate() {
        known_node(config, out, &format!("startup.ignore_unavailable_nodes[{i}]"), name);
    }
    for (i, name) in config.coordination.peer_hosts.iter().enumerate() {
        known_node(config, out, &format!("coordination.peer_hosts[{i}]"), name);
    }
}

fn nodes(config: &Config, out: &mut Findings) {
    if config.inventory.nodes.is_empty() {
        out.push("inventory.nodes", "the inventory has no nodes; expected at least one");
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, node) in config.inventory.nodes.iter().enumerate() {
        let at = format!("inventory.nodes[{i}]");
        out.non_empty(format!("{at}.name"), &node.name, "node name");
        out.non_empty(format!("{at}.address"), &node.address, "node address");
        if node.ssh_port == 0 {
            out.push(format!("{at}.ssh_port"), "port 0 is not a port; expected 1-65535");
        }
        if node.name.trim().is_empty() {
            continue;
        }
        if let Some(first) = seen.get(node.name.as_str()) {
            out.push(
                format!("{at}.name"),
                format!("duplicate node name `{}` (already used by inventory.nodes[{first}]); node names must be unique", node.name),
            );
            continue;
        }
        seen.insert(&node.name, i);
        let domains = config.power_domains.iter().filter(|d| d.nodes.contains(&node.name)).count();
        if domains == 0 {
            out.push(
                format!("{at}.name"),
                format!("node `{}` is in no power domain; expected it in the `nodes` of exactly one of `power_domains`", node.name),
            );
        }
    }
}

fn power_domains(config: &Config, out: &mut Findings) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    // Node name -> the first place it is fed from, to report the second one.
    let mut fed: HashMap<&str, (usize, usize)> = HashMap::new();
    for (d, domain) in config.power_domains.iter().enumerate() {
        let at = format!("power_domains[{d}]");
        out.non_empty(format!("{at}.name"), &domain.name, "power domain name");
        if !domain.name.trim().is_empty() {
            if let Some(first) = names.get(domain.name.as_str()) {
                out.push(
                    format!("{at}.name"),
                    format!("duplicate power domain name `{}` (already used by power_domains[{first}])", domain.name),
                );
            } else {
                names.insert(&domain.name, d);
            }
        }
        out.non_empty(format!("{at}.ups.name"), &domain.ups.name, "UPS name");
        out.non_empty(format!("{at}.ups.host"), &domain.ups.host, "UPS host");
        if domain.ups.port == 0 {
            out.push(format!("{at}.ups.port"), "port 0 is not a port; expected 1-65535 (upsd listens on 3493)");
        }
        for (k, node) in domain.nodes.iter().enumerate() {
            let field = format!("{at}.nodes[{k}]");
            if !known_node(config, out, &field, node) {
                continue;
            }
            match fed.get(node.as_str()) {
                Some(&(fd, fk)) => {
                    let first = &config.power_domains[fd].name;
                    out.push(
                        field,
                        format!(
                            "node `{node}` is already in power domain `{first}` (power_domains[{fd}].nodes[{fk}]); \
                             a node is fed by exactly one UPS"
                        ),
                    );
                }
                None => {
                    fed.insert(node, (d, k));
                }
            }
        }
    }
}

/// `name` must be an inventory node; returns whether it is.
///
/// No "did you mean": node names differ by a digit (`titan-23`, `titan-24`), so the nearest name
/// is as likely a different host as the intended one. The inventory's names are listed instead.
fn known_node(config: &Config, out: &mut Findings, field: &str, name: &str) -> bool {
    const LISTED: usize = 8;
    if config.node(name).is_some() {
        return true;
    }
    let nodes = &config.inventory.nodes;
    let mut names: Vec<String> = nodes.iter().take(LISTED).map(|n| format!("`{}`", n.name)).collect();
    if nodes.len() > LISTED {
        names.push(format!("and {} more", nodes.len() - LISTED));
    }
    out.push(field, format!("unknown node `{name}`; expected a node of `inventory.nodes` ({})", names.join(", ")));
    false
}
