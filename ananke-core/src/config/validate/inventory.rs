//! The node inventory and everything that names its nodes: power domains, ignores, peers.

use super::Findings;
use crate::config::model::Config;
use std::collections::{HashMap, HashSet};

/// How many inventory names an "unknown node" problem lists.
const LISTED: usize = 8;

/// The inventory's node names, for the lists that refer to them.
struct Inventory<'c> {
    names: HashSet<&'c str>,
    /// The first few distinct names, in inventory order, for messages.
    shown: String,
}

impl<'c> Inventory<'c> {
    fn new(config: &'c Config) -> Self {
        let mut names = HashSet::new();
        let mut shown = Vec::new();
        for node in &config.inventory.nodes {
            if names.insert(node.name.as_str()) && shown.len() < LISTED {
                shown.push(format!("`{}`", node.name));
            }
        }
        if names.len() > LISTED {
            shown.push(format!("and {} more", names.len() - LISTED));
        }
        Self { names, shown: shown.join(", ") }
    }

    /// `name` must be an inventory node; returns whether it is.
    ///
    /// No "did you mean": node names differ by a digit (`titan-23`, `titan-24`), so the nearest
    /// name is as likely another host as the intended one. The inventory's names are listed instead.
    fn known(&self, out: &mut Findings, field: &str, name: &str) -> bool {
        if self.names.contains(name) {
            return true;
        }
        out.push(field, format!("unknown node `{name}`; expected a node of `inventory.nodes` ({})", self.shown));
        false
    }
}

/// Check the inventory, the power domains and every list of node names.
pub(super) fn check(config: &Config, out: &mut Findings) {
    let inventory = Inventory::new(config);
    let fed = power_domains(config, &inventory, out);
    nodes(config, &fed, out);
    for (i, name) in config.startup.ignore_unavailable_nodes.iter().enumerate() {
        inventory.known(out, &format!("startup.ignore_unavailable_nodes[{i}]"), name);
    }
    for (i, name) in config.coordination.peer_hosts.iter().enumerate() {
        inventory.known(out, &format!("coordination.peer_hosts[{i}]"), name);
    }
    coordination(config, &inventory, out);
}

/// This host (`local_node`) is an inventory node and not its own peer; the peers' state dir is
/// absolute (a relative one would be resolved in the SSH user's home).
fn coordination(config: &Config, inventory: &Inventory<'_>, out: &mut Findings) {
    let c = &config.coordination;
    if let Some(local) = &c.local_node {
        if inventory.known(out, "coordination.local_node", local) && c.peer_hosts.contains(local) {
            out.push(
                "coordination.local_node",
                format!("`{local}` is also in `coordination.peer_hosts`; a host is not its own peer"),
            );
        }
    }
    if !c.peer_state_dir.is_absolute() {
        out.push(
            "coordination.peer_state_dir",
            format!("`{}` is relative; expected an absolute path such as /var/lib/ananke", c.peer_state_dir.display()),
        );
    }
}

/// Names, addresses and ports; every node in a power domain (`fed` holds the nodes that are).
fn nodes(config: &Config, fed: &HashMap<&str, (usize, usize)>, out: &mut Findings) {
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
                format!(
                    "duplicate node name `{}` (already used by inventory.nodes[{first}]); node names must be unique",
                    node.name
                ),
            );
            continue;
        }
        seen.insert(&node.name, i);
        if !fed.contains_key(node.name.as_str()) {
            out.push(
                format!("{at}.name"),
                format!(
                    "node `{}` is in no power domain; expected it in the `nodes` of exactly one of `power_domains`",
                    node.name
                ),
            );
        }
    }
}

/// Domain names and UPSes; every domain node known and fed by one domain only.
/// Returns node name -> where it is first listed (domain index, position).
fn power_domains<'c>(
    config: &'c Config,
    inventory: &Inventory<'_>,
    out: &mut Findings,
) -> HashMap<&'c str, (usize, usize)> {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut fed: HashMap<&str, (usize, usize)> = HashMap::new();
    for (d, domain) in config.power_domains.iter().enumerate() {
        let at = format!("power_domains[{d}]");
        out.non_empty(format!("{at}.name"), &domain.name, "power domain name");
        match names.get(domain.name.as_str()) {
            _ if domain.name.trim().is_empty() => {}
            Some(first) => out.push(
                format!("{at}.name"),
                format!("duplicate power domain name `{}` (already used by power_domains[{first}])", domain.name),
            ),
            None => {
                names.insert(&domain.name, d);
            }
        }
        out.non_empty(format!("{at}.ups.name"), &domain.ups.name, "UPS name");
        out.non_empty(format!("{at}.ups.host"), &domain.ups.host, "UPS host");
        if domain.ups.port == 0 {
            out.push(format!("{at}.ups.port"), "port 0 is not a port; expected 1-65535 (upsd listens on 3493)");
        }
        if let Some(socket) = domain.ups.driver_socket.as_ref().filter(|p| !p.is_absolute()) {
            out.push(
                format!("{at}.ups.driver_socket"),
                format!(
                    "`{}` is relative; expected the driver's absolute path, such as /run/nut/usbhid-ups-{}",
                    socket.display(),
                    domain.ups.name
                ),
            );
        }
        for (k, node) in domain.nodes.iter().enumerate() {
            let field = format!("{at}.nodes[{k}]");
            if !inventory.known(out, &field, node) {
                continue;
            }
            if let Some(&(fd, fk)) = fed.get(node.as_str()) {
                let first = &config.power_domains[fd].name;
                out.push(
                    field,
                    format!(
                        "node `{node}` is already in power domain `{first}` (power_domains[{fd}].nodes[{fk}]); \
                         a node is fed by exactly one UPS"
                    ),
                );
            } else {
                fed.insert(node, (d, k));
            }
        }
    }
    fed
}
