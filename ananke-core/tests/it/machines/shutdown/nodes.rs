//! Shutdown `Draining`, `StoppingNodes` and `Off`, driven against the toy cluster.

use super::shutdown;
use crate::machines::lab::{self, config_with};
use crate::machines::startup::keys;
use crate::machines::world::{secs, Driver, World};
use ananke_core::config::{PdbPolicy, ShutdownMode};
use ananke_core::effect::Effect;
use ananke_core::journal::Journal;
use ananke_core::machine::{Machine, ShutdownMachine, ShutdownState};
use ananke_core::observation::{PodToEvict, SshStatus, UnitState};
use std::sync::Arc;

fn pod(name: &str, node: &str) -> PodToEvict {
    PodToEvict { pod: lab::obj("apps", name), node: node.to_owned(), blocked_by_pdb: None }
}

/// A world with pods on titan-04 and titan-05 and titan-03 cordoned by an operator, and a
/// shutdown machine driven into `Draining`.
fn draining(policy: PdbPolicy) -> (Driver<ShutdownMachine>, World) {
    let mut world = World::running();
    world.state.pods_to_evict = vec![pod("web-1", "titan-04"), pod("db-0", "titan-05")];
    lab::node_mut(&mut world.state, "titan-03").kube.as_mut().unwrap().unschedulable = true;
    world.pdb_block.insert("titan-05".to_owned(), "apps/db-pdb".to_owned());
    let mut d =
        shutdown(config_with(|c| c.shutdown.pdb_policy = policy), Journal::default(), ShutdownMode::ClusterOnly);
    for _ in 0..10 {
        d.cycle(&mut world, secs(1));
        if d.machine.state() == ShutdownState::Draining {
            return (d, world);
        }
    }
    panic!("never reached Draining: {:?}", d.machine.state());
}

/// Cycle until `StoppingNodes`.
fn until_stopping(d: &mut Driver<ShutdownMachine>, world: &mut World) {
    for _ in 0..50 {
        if d.machine.state() == ShutdownState::StoppingNodes {
            return;
        }
        d.cycle(world, secs(1));
    }
    panic!("never reached StoppingNodes: {:?}", d.machine.state());
}

/// Effects emitted after index `from` of the log.
fn since(d: &Driver<ShutdownMachine>, from: usize) -> Vec<String> {
    keys(&d.log[from..].iter().map(|(_, e)| e.clone()).collect::<Vec<_>>())
}

#[test]
fn draining_cordons_what_is_schedulable_then_drains_and_retries_a_pdb_block() {
    let (mut d, mut world) = draining(PdbPolicy::Proceed);
    let mark = d.log.len();
    d.cycle(&mut world, secs(1));
    assert_eq!(since(&d, mark), ["cordon:titan-01", "cordon:titan-02", "cordon:titan-04", "cordon:titan-05"]);
    let changes = &d.machine.journal().changes;
    assert_eq!(changes.cordoned.iter().collect::<Vec<_>>(), ["titan-01", "titan-02", "titan-04", "titan-05"]);
    assert_eq!(changes.already_cordoned.iter().collect::<Vec<_>>(), ["titan-03"]);

    let mark = d.log.len();
    d.cycle(&mut world, secs(1));
    assert_eq!(since(&d, mark), ["drain:titan-04", "drain:titan-05"]);
    assert_eq!(d.machine.blocking_pdbs().get("titan-05").map(String::as_str), Some("apps/db-pdb"));

    let mark = d.log.len();
    for _ in 0..29 {
        d.cycle(&mut world, secs(1));
    }
    assert!(since(&d, mark).is_empty(), "blocked drain not retried before the interval");
    d.cycle(&mut world, secs(1));
    assert_eq!(since(&d, mark), ["drain:titan-05"]);
    assert_eq!(d.machine.state(), ShutdownState::Draining);

    d.run(&mut world, secs(5), 30);
    let diagnostic = d.machine.diagnostics().iter().find(|x| x.message.starts_with("drain not finished after 2m"));
    assert!(diagnostic.expect("a drain timeout diagnostic").message.contains("apps/db-pdb"));
    assert_eq!(d.machine.state(), ShutdownState::Off, "the PDB covers the pod left: {:?}", d.machine.unconfirmed());
    assert!(d.machine.failure().is_none());
}

#[test]
fn a_pdb_blocking_past_the_drain_timeout_fails_the_shutdown_under_the_fail_policy() {
    let (mut d, mut world) = draining(PdbPolicy::Fail);
    d.run(&mut world, secs(5), 40);
    assert_eq!(d.machine.state(), ShutdownState::Failed);
    assert_eq!(d.machine.failure().unwrap().reason, "drain blocked after 2m by PodDisruptionBudget(s) apps/db-pdb");
    assert!(!d.effects().any(|e| matches!(e, Effect::StopK3s { .. })));
}

#[test]
fn a_slow_drain_without_a_pdb_proceeds_even_under_the_fail_policy() {
    let (mut d, mut world) = draining(PdbPolicy::Fail);
    world.pdb_block.clear();
    world.slow_drain.insert("titan-05".to_owned());
    d.run(&mut world, secs(5), 40);
    // No PDB covers the pod left behind: the drain is not confirmed.
    assert_eq!(d.machine.state(), ShutdownState::Incomplete);
    let items: Vec<String> = d.machine.unconfirmed().iter().map(ToString::to_string).collect();
    assert_eq!(items, ["node titan-05 drained: timed out (pods left after the drain timeout: apps/db-0)"]);
    let diagnostic = d.machine.diagnostics().iter().find(|x| x.message.starts_with("drain not finished after 2m"));
    assert!(diagnostic.expect("a drain timeout diagnostic").message.contains("pod apps/db-0 on titan-05"));
}

#[test]
fn k3s_stops_on_the_agents_first_and_the_servers_last() {
    let mut world = World::running();
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    until_stopping(&mut d, &mut world);
    let mark = d.log.len();
    d.cycle(&mut world, secs(1));
    assert_eq!(since(&d, mark), ["stop-k3s:titan-04", "stop-k3s:titan-05"]);
    let mark = d.log.len();
    d.cycle(&mut world, secs(1));
    assert_eq!(since(&d, mark), ["stop-k3s:titan-01", "stop-k3s:titan-02", "stop-k3s:titan-03"]);
    d.cycle(&mut world, secs(1));
    assert_eq!(d.machine.state(), ShutdownState::Off);
    let journal = d.machine.journal();
    assert!(journal.shutdown_completed);
    assert_eq!(journal.changes.stopped.len(), 5);
    assert!(!d.effects().any(|e| matches!(e, Effect::PowerOffHost { .. })), "cluster-only");
    assert_eq!(d.machine.poll_timeout(), None);
}

#[test]
fn an_agent_without_power_does_not_hold_the_servers_and_is_not_confirmed() {
    let mut world = World::running();
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    until_stopping(&mut d, &mut world);
    lab::node_mut(&mut world.state, "titan-05").ssh = SshStatus::Unreachable("no route to host".to_owned());
    let mark = d.log.len();
    d.cycle(&mut world, secs(1));
    d.cycle(&mut world, secs(1));
    assert_eq!(since(&d, mark), ["stop-k3s:titan-04", "stop-k3s:titan-01", "stop-k3s:titan-02", "stop-k3s:titan-03"]);
    assert!(!d.machine.journal().changes.stopped.contains("titan-05"));
    d.cycle(&mut world, secs(1));
    assert_eq!(d.machine.state(), ShutdownState::Incomplete);
    let items: Vec<String> = d.machine.unconfirmed().iter().map(ToString::to_string).collect();
    assert_eq!(items, ["node titan-05: k3s-agent stopped: unreachable (no route to host)"]);
    assert!(!d.machine.journal().shutdown_completed, "the startup must still restore it");
}

#[test]
fn an_agent_refusing_authentication_does_not_hold_the_servers_and_is_reported() {
    let mut world = World::running();
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    until_stopping(&mut d, &mut world);
    lab::node_mut(&mut world.state, "titan-04").ssh =
        SshStatus::AuthFailed("node titan-04: 10.0.0.4:22 refused public key authentication as ananke".to_owned());
    let start = d.now;
    d.run(&mut world, secs(1), 20);
    assert_eq!(d.machine.state(), ShutdownState::Incomplete);
    assert!(d.now.since(start) < std::time::Duration::from_secs(10), "no wait for the node-stop timeout");
    let items: Vec<String> = d.machine.unconfirmed().iter().map(ToString::to_string).collect();
    assert_eq!(
        items,
        ["node titan-04: k3s-agent stopped: authentication refused (node titan-04: 10.0.0.4:22 refused public key authentication as ananke)"]
    );
    assert!(!d.effects().any(|e| matches!(e, Effect::StopK3s { node, .. } if node == "titan-04")));
    assert!(stopped_server(&d, "titan-01"), "the servers are stopped all the same");
}

/// Whether the run stopped k3s on server `node`.
fn stopped_server(d: &Driver<ShutdownMachine>, node: &str) -> bool {
    let server = Effect::StopK3s { node: node.to_owned(), role: ananke_core::config::K3sRole::Server };
    d.effects().any(|e| *e == server)
}

#[test]
fn a_unit_that_does_not_stop_holds_the_servers_until_the_timeout_then_is_reported_still_running() {
    let mut world = World::running();
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    until_stopping(&mut d, &mut world);
    world.wont_stop.insert("titan-04".to_owned());
    d.run(&mut world, secs(10), 40);
    assert_eq!(d.machine.state(), ShutdownState::Incomplete);
    let diagnostic = d.machine.diagnostics().iter().find(|x| x.message.starts_with("k3s stop not confirmed in time"));
    assert!(diagnostic.expect("a diagnostic").message.contains("titan-04 (k3s-agent)"));
    let items: Vec<String> = d.machine.unconfirmed().iter().map(ToString::to_string).collect();
    assert_eq!(
        items,
        ["node titan-04: k3s-agent stopped: still running (k3s-agent is active at the last observation)"]
    );
    assert!(stopped_server(&d, "titan-01"), "the servers are stopped all the same");
}

#[test]
fn a_refused_stop_is_tried_once_and_the_run_ends_incomplete_naming_the_node() {
    let mut world = World::running();
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    until_stopping(&mut d, &mut world);
    let refusal = "node titan-05: `'sudo' '-n' 'systemctl' 'stop' 'k3s-agent'` was refused (exit status 1): sudo: a password is required";
    world.refuse.insert("titan-05".to_owned(), refusal.to_owned());
    d.run(&mut world, secs(5), 60);
    assert_eq!(d.machine.state(), ShutdownState::Incomplete);
    let stops = d.effects().filter(|e| matches!(e, Effect::StopK3s { node, .. } if node == "titan-05")).count();
    assert_eq!(stops, 1, "a refusal is never retried");
    let items = d.machine.unconfirmed();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].cause, ananke_core::machine::Cause::PermissionDenied);
    assert_eq!(items[0].detail, refusal);
    assert!(d.machine.failure().is_none());
}

#[test]
fn cluster_and_hosts_powers_every_host_off_servers_last_and_cluster_only_never() {
    for mode in [ShutdownMode::ClusterAndHosts, ShutdownMode::ClusterOnly] {
        let mut world = World::running();
        let mut d = shutdown(Arc::new(lab::config()), Journal::default(), mode);
        d.run(&mut world, secs(1), 100);
        assert_eq!(d.machine.state(), ShutdownState::Off);
        let power: Vec<_> = d.effects().filter(|e| matches!(e, Effect::PowerOffHost { .. })).map(Effect::key).collect();
        if mode == ShutdownMode::ClusterOnly {
            assert!(power.is_empty());
        } else {
            assert_eq!(
                power,
                [
                    "power-off-host:titan-04",
                    "power-off-host:titan-05",
                    "power-off-host:titan-01",
                    "power-off-host:titan-02",
                    "power-off-host:titan-03"
                ]
            );
        }
    }
}

#[test]
fn the_servers_are_powered_off_only_once_every_agent_power_off_returned_and_the_local_host_never() {
    let mut config = lab::config();
    config.coordination.local_node = Some("titan-05".to_owned());
    let mut world = World::running();
    let mut d = shutdown(Arc::new(config), Journal::default(), ShutdownMode::ClusterAndHosts);
    let is_power_off = |e: &Effect| matches!(e, Effect::PowerOffHost { .. });
    let held = d.run_holding(&mut world, secs(1), 100, is_power_off);
    assert_eq!(d.machine.state(), ShutdownState::Off);
    assert_eq!(
        held.iter().map(Effect::key).collect::<Vec<_>>(),
        ["power-off-host:titan-04"],
        "agents only, local spared"
    );
    let spared = d.machine.diagnostics().iter().any(|m| m.message.starts_with("titan-05: never powered off by ananke"));
    assert!(spared, "{:?}", d.machine.diagnostics());
    let failed = ananke_core::machine::EffectOutcome::Failed { transient: true, message: "connection reset".into() };
    let servers = d.done(&held[0], failed);
    let keys: Vec<String> = servers.iter().map(Effect::key).collect();
    assert_eq!(keys, ["power-off-host:titan-01", "power-off-host:titan-02", "power-off-host:titan-03"]);
    assert!(d.done(&servers[0], ananke_core::machine::EffectOutcome::Ok).is_empty(), "each host is powered off once");
}

#[test]
fn a_node_whose_k3s_was_already_stopped_is_journaled_as_found() {
    let mut world = World::running();
    lab::node_mut(&mut world.state, "titan-05").k3s_unit = UnitState::Inactive;
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    d.run(&mut world, secs(1), 100);
    assert_eq!(d.machine.state(), ShutdownState::Off, "{:?}", d.machine.unconfirmed());
    let changes = &d.machine.journal().changes;
    assert!(changes.already_stopped.contains("titan-05") && !changes.stopped.contains("titan-05"), "{changes:?}");
    assert!(!d.effects().any(|e| matches!(e, Effect::StopK3s { node, .. } if node == "titan-05")));
}

#[test]
fn an_incomplete_shutdown_in_cluster_and_hosts_mode_still_powers_the_hosts_off() {
    let mut world = World::running();
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterAndHosts);
    until_stopping(&mut d, &mut world);
    lab::node_mut(&mut world.state, "titan-04").ssh = SshStatus::Unreachable("no route to host".to_owned());
    d.run(&mut world, secs(1), 100);
    assert_eq!(d.machine.state(), ShutdownState::Incomplete);
    assert_eq!(ShutdownState::Incomplete.as_str(), "incomplete");
    assert!(d.effects().any(|e| matches!(e, Effect::PowerOffHost { node } if node == "titan-01")));
    assert!(!d.machine.journal().shutdown_completed);
    assert_eq!(d.machine.poll_timeout(), None);
}

#[test]
fn a_node_never_observed_is_not_confirmed_stopped() {
    let mut world = World::running();
    world.state.nodes.retain(|n| n.name != "titan-05");
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    d.run(&mut world, secs(1), 100);
    assert_eq!(d.machine.state(), ShutdownState::Incomplete);
    let items: Vec<String> = d.machine.unconfirmed().iter().map(ToString::to_string).collect();
    assert_eq!(items, ["node titan-05: k3s-agent stopped: unreachable (never observed)"]);
}

#[test]
fn a_refused_killall_after_a_stop_that_took_is_still_a_confirmed_stop() {
    let mut world = World::running();
    let mut d = shutdown(Arc::new(lab::config()), Journal::default(), ShutdownMode::ClusterOnly);
    until_stopping(&mut d, &mut world);
    world.refuse.insert(
        "titan-04".to_owned(),
        "node titan-04: `'k3s-killall.sh'` failed with exit status 127: not found".to_owned(),
    );
    d.cycle(&mut world, secs(1));
    assert!(d.effects().any(|e| matches!(e, Effect::StopK3s { node, .. } if node == "titan-04")), "the stop was sent");
    // `systemctl stop` took (the unit is seen inactive) though the command reported a failure.
    lab::node_mut(&mut world.state, "titan-04").k3s_unit = UnitState::Inactive;
    d.run(&mut world, secs(1), 100);
    assert_eq!(d.machine.state(), ShutdownState::Off, "{:?}", d.machine.unconfirmed());
}
