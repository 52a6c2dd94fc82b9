//! The SSH fleet's command and lookup errors against real OpenSSH sshd on loopback: a command that
//! exits non-zero fails naming the command, exit status and stderr; unknown nodes are refused
//! before any connection; roles come from the inventory.

use ananke_core::adapters::ssh::{FleetOptions, NodeFleet, RemoteCommand, SshError};
use ananke_core::config::K3sRole;
use ananke_testing::sshd::SshdFleet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_exits_non_zero_fails_with_its_stderr() {
    let fleet = SshdFleet::start(1).unwrap_or_else(|e| panic!("sshd fleet of 1: {e}"));
    let nodes = NodeFleet::new(&fleet.ssh_settings(), &fleet.inventory(K3sRole::Server), FleetOptions::default()).expect("fleet");
    // Without the simulator's control endpoint the node's systemctl test double cannot power off.
    let err = nodes.run("n1", RemoteCommand::PowerOff).await.unwrap_err();
    match &err {
        SshError::CommandFailed { node, command, exit_status, stderr } => {
            assert_eq!((node.as_str(), *exit_status), ("n1", 1));
            assert!(command.contains("systemctl") && command.contains("poweroff"), "{command}");
            assert_eq!(stderr, "stub systemctl: unsupported: poweroff");
        }
        other => panic!("expected a failed command, got {other}"),
    }
    // is-active answers with its exit status: a non-zero exit is a state, not a failure.
    let out = nodes.run("n1", RemoteCommand::IsActive(K3sRole::Server)).await.expect("an answer");
    assert_eq!((out.exit_status, out.stdout.trim()), (3, "inactive"));
    nodes.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_nodes_are_refused_and_roles_come_from_the_inventory() {
    let fleet = SshdFleet::start(2).unwrap_or_else(|e| panic!("sshd fleet of 2: {e}"));
    let mut inventory = fleet.inventory(K3sRole::Server);
    inventory[1].role = K3sRole::Agent;
    let nodes = NodeFleet::new(&fleet.ssh_settings(), &inventory, FleetOptions::default()).expect("fleet");
    assert_eq!(nodes.role("n1").unwrap(), K3sRole::Server);
    assert_eq!(nodes.role("n2").unwrap(), K3sRole::Agent);
    assert!(matches!(nodes.role("n9"), Err(SshError::UnknownNode { node }) if node == "n9"));
    let err = nodes.run("n9", RemoteCommand::KillAll).await.unwrap_err();
    assert!(matches!(&err, SshError::UnknownNode { node } if node == "n9"), "{err}");
    assert_eq!(fleet.accepted_logins(1) + fleet.accepted_logins(2), 0, "nothing connected for an unknown node");
    let text = format!("{nodes:?}");
    assert!(text.starts_with("NodeFleet { nodes: [\"n1\", \"n2\"], concurrency: ") && text.ends_with(".. }"), "{text}");
}
