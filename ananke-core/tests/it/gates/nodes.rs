//! Gates 1 and 2: inventory mapping, SSH reachability and node readiness.

use crate::fixtures::{break_gate, evaluate, lab, node, soak_done};
use ananke_core::gates::{inventory, ssh_reachability, GateId, Verdict};
use ananke_core::observation::{ConditionStatus, KubeNode, SshStatus};
use ananke_core::synth::ready_node;

#[test]
fn inventory_passes_when_the_cluster_matches_the_inventory() {
    let (config, obs) = lab();
    assert!(inventory::check(&config, &obs).passed());
}

#[test]
fn inventory_fails_when_the_api_is_unreachable() {
    let (config, mut obs) = lab();
    obs.api.reachable = false;
    obs.api.error = Some("dial tcp 10.0.0.1:6443: connect: connection refused".to_owned());
    let outcome = inventory::check(&config, &obs);
    assert_eq!(outcome.verdict, Verdict::Fail);
    assert_eq!(outcome.reasons, ["Kubernetes API unreachable: dial tcp 10.0.0.1:6443: connect: connection refused"]);
}

#[test]
fn inventory_fails_on_a_node_the_inventory_does_not_know() {
    let (config, mut obs) = lab();
    obs.nodes.push(ready_node("stray-01"));
    let outcome = inventory::check(&config, &obs);
    assert_eq!(outcome.reasons, ["node stray-01 is registered in the cluster but not in the inventory"]);
}

#[test]
fn inventory_fails_on_an_unregistered_node_unless_it_is_ignored() {
    let (mut config, mut obs) = lab();
    node(&mut obs, "node-00003").kube = None;
    let outcome = inventory::check(&config, &obs);
    assert_eq!(outcome.reasons, ["inventory node node-00003 is not registered in the cluster"]);

    config.startup.ignore_unavailable_nodes.push("node-00003".to_owned());
    assert!(inventory::check(&config, &obs).passed());
}

#[test]
fn inventory_fails_when_a_node_is_not_in_exactly_one_power_domain() {
    let (mut config, obs) = lab();
    config.power_domains[0].nodes.retain(|n| n != "node-00001");
    config.power_domains[0].nodes.push("node-00002".to_owned());
    config.power_domains[1].nodes.push("ghost".to_owned());
    let outcome = inventory::check(&config, &obs);
    assert_eq!(
        outcome.reasons,
        [
            "power domain domain-2 lists node ghost, which is not in the inventory",
            "inventory node node-00001 is in no power domain",
            "inventory node node-00002 is in 2 power domains (domain-1, domain-2); it must be in exactly one",
        ]
    );
}

#[test]
fn inventory_fails_on_a_node_listed_twice() {
    let (mut config, obs) = lab();
    let twin = config.inventory.nodes[0].clone();
    config.inventory.nodes.push(twin);
    let outcome = inventory::check(&config, &obs);
    assert_eq!(outcome.reasons, ["node node-00001 is listed twice in the inventory"]);
}

#[test]
fn ssh_passes_when_every_node_is_reachable_and_ready() {
    let (config, obs) = lab();
    assert!(ssh_reachability::check(&config, &obs).passed());
}

#[test]
fn ssh_fails_naming_each_node_and_what_is_wrong() {
    let (config, mut obs) = lab();
    node(&mut obs, "node-00001").ssh = SshStatus::Unreachable("connection refused".to_owned());
    node(&mut obs, "node-00002").ssh = SshStatus::AuthFailed("host key mismatch".to_owned());
    node(&mut obs, "node-00003").ssh = SshStatus::Unknown;
    let outcome = ssh_reachability::check(&config, &obs);
    assert_eq!(
        outcome.reasons,
        [
            "node node-00001: ssh unreachable: connection refused",
            "node node-00002: ssh authentication failed: host key mismatch",
            "node node-00003: ssh not probed",
        ]
    );
}

#[test]
fn ssh_fails_when_a_node_is_not_ready_in_kubernetes() {
    let (config, mut obs) = lab();
    node(&mut obs, "node-00002").kube = Some(KubeNode {
        ready: ConditionStatus::Unknown,
        ready_reason: "NodeStatusUnknown".to_owned(),
        ..KubeNode::default()
    });
    node(&mut obs, "node-00003").kube.as_mut().expect("registered").ready = ConditionStatus::False;
    node(&mut obs, "node-00003").kube.as_mut().expect("registered").ready_reason.clear();
    let outcome = ssh_reachability::check(&config, &obs);
    assert_eq!(
        outcome.reasons,
        ["node node-00002: Kubernetes Ready=Unknown (NodeStatusUnknown)", "node node-00003: Kubernetes Ready=False"]
    );
}

#[test]
fn ssh_without_required_reachability_still_requires_ready_nodes() {
    let (mut config, mut obs) = lab();
    config.startup.require_node_inventory_reachability = false;
    node(&mut obs, "node-00001").ssh = SshStatus::Unreachable("timeout".to_owned());
    assert!(ssh_reachability::check(&config, &obs).passed());

    node(&mut obs, "node-00001").kube = None;
    let outcome = ssh_reachability::check(&config, &obs);
    assert_eq!(outcome.reasons, ["node node-00001: not registered in the cluster"]);
}

#[test]
fn ssh_skips_ignored_nodes_and_fails_on_a_missing_observation() {
    let (mut config, mut obs) = lab();
    node(&mut obs, "node-00003").ssh = SshStatus::Unreachable("no route to host".to_owned());
    config.startup.ignore_unavailable_nodes.push("node-00003".to_owned());
    assert!(ssh_reachability::check(&config, &obs).passed());

    obs.nodes.retain(|n| n.name != "node-00001");
    let outcome = ssh_reachability::check(&config, &obs);
    assert_eq!(outcome.reasons, ["node node-00001: not observed"]);
}

#[test]
fn ssh_is_blocked_by_the_inventory() {
    let (mut config, mut obs) = lab();
    let mut soak = soak_done();
    break_gate(GateId::Inventory, &mut config, &mut obs, &mut soak);
    node(&mut obs, "node-00001").ssh = SshStatus::Unknown;
    let report = evaluate(&config, &obs);
    assert_eq!(report.get(GateId::SshReachability).verdict, Verdict::Blocked(GateId::Inventory));
}
