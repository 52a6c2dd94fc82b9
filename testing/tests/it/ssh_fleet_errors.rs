//! The SSH fleet's command, lookup and connect errors against real OpenSSH sshd on loopback: a
//! command that exits non-zero fails naming the command, exit status and stderr; unknown nodes are
//! refused before any connection; roles come from the inventory; an identity spoiled after start,
//! an unreadable `known_hosts`, and host keys read through a relay whose second connection fails
//! or reaches another node are refused with what is known.

use ananke_core::adapters::ssh::{FleetOptions, NodeFleet, RemoteCommand, SshError};
use ananke_core::config::{K3sRole, Node, SshSettings};
use ananke_core::observation::SshStatus;
use ananke_testing::sshd::SshdFleet;
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_exits_non_zero_fails_with_its_stderr() {
    let fleet = SshdFleet::start(1).unwrap_or_else(|e| panic!("sshd fleet of 1: {e}"));
    let nodes = NodeFleet::new(&fleet.ssh_settings(), &fleet.inventory(K3sRole::Server), FleetOptions::default())
        .expect("fleet");
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

/// A TCP relay on loopback: its n-th connection is forwarded to `targets[n]`, or closed at once
/// where that is `None`; later connections are refused.
async fn relay(targets: Vec<Option<SocketAddr>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("relay address");
    tokio::spawn(async move {
        for target in targets {
            let (mut inbound, _) = listener.accept().await.expect("accept");
            let Some(target) = target else { continue };
            tokio::spawn(async move {
                let mut outbound = TcpStream::connect(target).await.expect("the relayed sshd listens");
                // Either side hanging up ends the relay; how does not matter here.
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    addr
}

fn sshd_addr(fleet: &SshdFleet, index: usize) -> SocketAddr {
    let node = &fleet.nodes()[index - 1];
    SocketAddr::new(node.address, node.port)
}

/// A one-node client of `addr` (a relay), with `known_hosts` holding `lines`.
fn relayed(fleet: &SshdFleet, addr: SocketAddr, lines: &str) -> NodeFleet {
    let known_hosts = fleet.dir().join("known_hosts.relay");
    std::fs::write(&known_hosts, lines).expect("known_hosts");
    let settings = SshSettings { known_hosts, ..fleet.ssh_settings() };
    let node =
        Node { name: "relay".into(), address: addr.ip().to_string(), ssh_port: addr.port(), role: K3sRole::Server };
    NodeFleet::new(&settings, &[node], FleetOptions::default()).expect("fleet")
}

fn refusal(err: &SshError) -> (&str, &str, &str) {
    match err {
        SshError::HostKeyRefused { host, fingerprint, reason, .. } => (host, fingerprint, reason),
        other => panic!("expected a refused host key, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_spoiled_after_start_is_an_identity_error_at_connect() {
    let fleet = SshdFleet::start(1).expect("sshd fleet of 1");
    let identity = fleet.dir().join("id_copy");
    std::fs::copy(fleet.client_key(), &identity).expect("copy the client key");
    let settings = SshSettings { identity_file: identity.clone(), ..fleet.ssh_settings() };
    let nodes = NodeFleet::new(&settings, &fleet.inventory(K3sRole::Server), FleetOptions::default()).expect("fleet");
    std::fs::write(&identity, "not a key\n").expect("spoil the key");
    let err = nodes.run("n1", RemoteCommand::KillAll).await.unwrap_err();
    assert!(matches!(&err, SshError::Identity { path, .. } if *path == identity), "{err}");
    assert!(!err.is_transient());
    assert!(matches!(&nodes.check_all().await[0].1, SshStatus::AuthFailed(why) if why.contains("id_copy")));
    assert_eq!(fleet.accepted_logins(1), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_known_hosts_refuses_the_key_naming_the_file() {
    let fleet = SshdFleet::start(1).expect("sshd fleet of 1");
    // A directory opens, but reading it fails.
    let known_hosts = fleet.dir().join("known_hosts.d");
    std::fs::create_dir(&known_hosts).expect("mkdir");
    let settings = SshSettings { known_hosts: known_hosts.clone(), ..fleet.ssh_settings() };
    let nodes = NodeFleet::new(&settings, &fleet.inventory(K3sRole::Server), FleetOptions::default()).expect("fleet");
    let err = nodes.run("n1", RemoteCommand::KillAll).await.unwrap_err();
    let (host, fingerprint, reason) = refusal(&err);
    assert_eq!((host, fingerprint), (fleet.nodes()[0].known_hosts_name().as_str(), fleet.host_fingerprint(1).as_str()));
    assert!(reason.starts_with(&format!("{}: ", known_hosts.display())), "{reason}");
    assert!(!err.is_transient());
    assert_eq!(fleet.accepted_logins(1), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_whose_second_handshake_fails_is_refused_without_a_fingerprint() {
    let fleet = SshdFleet::start(1).expect("sshd fleet of 1");
    let addr = relay(vec![Some(sshd_addr(&fleet, 1)), None]).await;
    // known_hosts does not know the relay's address: the first handshake refuses n1's key.
    let nodes = relayed(&fleet, addr, "");
    let err = nodes.run("relay", RemoteCommand::KillAll).await.unwrap_err();
    let (host, fingerprint, reason) = refusal(&err);
    assert_eq!((host, fingerprint), (format!("[127.0.0.1]:{}", addr.port()).as_str(), "unknown fingerprint"));
    assert!(reason.contains("a second handshake to read the key failed"), "{reason}");
    assert_eq!(fleet.accepted_logins(1), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_differs_on_the_second_handshake_is_refused_naming_the_second() {
    let fleet = SshdFleet::start(2).expect("sshd fleet of 2");
    let addr = relay(vec![Some(sshd_addr(&fleet, 1)), Some(sshd_addr(&fleet, 2))]).await;
    // The relay's name is recorded with n2's key: n1's key, presented first, is refused as
    // changed; n2's, presented on the second handshake, is the recorded one.
    let key_of_n2 = fleet.known_hosts_line(2).split_once(' ').expect("a known_hosts line").1.to_owned();
    let nodes = relayed(&fleet, addr, &format!("[127.0.0.1]:{} {key_of_n2}\n", addr.port()));
    let err = nodes.run("relay", RemoteCommand::KillAll).await.unwrap_err();
    let (_, fingerprint, reason) = refusal(&err);
    assert_eq!(fingerprint, fleet.host_fingerprint(2));
    assert_eq!(reason, "the node presented a different key on a second handshake");
    assert_eq!(fleet.accepted_logins(1) + fleet.accepted_logins(2), 0);
}
