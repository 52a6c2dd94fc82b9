//! The SSH fleet's command, lookup and connect errors against real OpenSSH sshd on loopback: a
//! command that exits non-zero fails naming the command, exit status and stderr; unknown nodes are
//! refused before any connection; roles come from the inventory; an identity spoiled after start,
//! an unreadable `known_hosts`, and host keys read through a relay whose second connection fails
//! or reaches another node are refused with what is known. A kept session whose connection breaks
//! is reopened once (by the check's ping or by a command); one that stops answering is dropped and
//! the node reported unreachable.

use ananke_core::adapters::ssh::{FleetOptions, NodeFleet, RemoteCommand, SshError};
use ananke_core::config::{K3sRole, Node, SshSettings};
use ananke_core::observation::SshStatus;
use ananke_testing::sshd::SshdFleet;
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_exits_non_zero_fails_with_its_stderr() {
    let fleet = SshdFleet::start(1).unwrap_or_else(|e| panic!("sshd fleet of 1: {e}"));
    let nodes = NodeFleet::new(&fleet.ssh_settings(), &fleet.inventory(K3sRole::Server), FleetOptions::default())
        .expect("fleet");
    // Without the simulator's control endpoint the node's systemctl test double cannot power off.
    let err = nodes.run("n1", RemoteCommand::PowerOff).await.unwrap_err();
    // A poweroff that exits non-zero cannot succeed by asking again: permanent.
    match &err {
        SshError::CommandRejected { node, command, exit_status, stderr } => {
            assert_eq!((node.as_str(), *exit_status), ("n1", 1));
            assert!(command.contains("systemctl") && command.contains("poweroff"), "{command}");
            assert_eq!(stderr, "stub systemctl: unsupported: poweroff");
        }
        other => panic!("expected a rejected command, got {other}"),
    }
    assert!(!err.is_transient(), "{err}");
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
    relayed_with(fleet, addr, lines, fleet.ssh_settings())
}

/// [`relayed`], with these settings but for `known_hosts`.
fn relayed_with(fleet: &SshdFleet, addr: SocketAddr, lines: &str, settings: SshSettings) -> NodeFleet {
    let known_hosts = fleet.dir().join("known_hosts.relay");
    std::fs::write(&known_hosts, lines).expect("known_hosts");
    let settings = SshSettings { known_hosts, ..settings };
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

/// A relay on loopback forwarding every connection to one sshd, whose current connections the
/// test can break at once: cut (the client's socket is shut down, synchronously) or stalled
/// (kept open, but nothing more is forwarded either way). Later connections are forwarded anew.
struct ControlledRelay {
    addr: SocketAddr,
    live: Arc<Mutex<Vec<Forwarded>>>,
}

/// One relayed connection: a duplicate of the client's socket and the connection's stall switch.
struct Forwarded {
    client: std::net::TcpStream,
    stalled: Arc<AtomicBool>,
}

impl ControlledRelay {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("relay address");
        let live = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::clone(&live);
        tokio::spawn(async move {
            loop {
                let (inbound, _) = listener.accept().await.expect("accept");
                let inbound = inbound.into_std().expect("the client's socket");
                let client = inbound.try_clone().expect("a duplicate of the client's socket");
                let inbound = TcpStream::from_std(inbound).expect("back to tokio");
                let stalled = Arc::new(AtomicBool::new(false));
                accepted.lock().expect("relay state").push(Forwarded { client, stalled: Arc::clone(&stalled) });
                let outbound = TcpStream::connect(target).await.expect("the relayed sshd listens");
                let ((from_client, to_client), (from_sshd, to_sshd)) = (inbound.into_split(), outbound.into_split());
                tokio::spawn(pump(from_client, to_sshd, Arc::clone(&stalled)));
                tokio::spawn(pump(from_sshd, to_client, stalled));
            }
        });
        Self { addr, live }
    }

    /// Shuts the client's side of every current connection down, before anyone can notice.
    fn cut(&self) {
        for conn in self.live.lock().expect("relay state").drain(..) {
            conn.client.shutdown(Shutdown::Both).expect("shut the client's socket down");
        }
    }

    /// Stops forwarding on every current connection, keeping its sockets open.
    fn stall(&self) {
        for conn in self.live.lock().expect("relay state").drain(..) {
            conn.stalled.store(true, Ordering::SeqCst);
        }
    }
}

/// Copies `from` to `to` until either side ends; once stalled, holds what it read (and both
/// sockets) forever.
async fn pump(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin, stalled: Arc<AtomicBool>) {
    let mut buf = vec![0; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        if stalled.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    // The other side may be gone already; the relay ends either way.
    let _ = to.shutdown().await;
}

/// A client of n1 through a controlled relay, its `known_hosts` recording n1's key for the relay.
async fn kept_through_relay(fleet: &SshdFleet, connect_timeout: Duration) -> (ControlledRelay, NodeFleet) {
    let relay = ControlledRelay::start(sshd_addr(fleet, 1)).await;
    let key_of_n1 = fleet.known_hosts_line(1).split_once(' ').expect("a known_hosts line").1.to_owned();
    let line = format!("[127.0.0.1]:{} {key_of_n1}\n", relay.addr.port());
    let settings = SshSettings { connect_timeout: connect_timeout.into(), ..fleet.ssh_settings() };
    let nodes = relayed_with(fleet, relay.addr, &line, settings);
    (relay, nodes)
}

// A current-thread runtime: nothing runs between a relay's cut or stall and the fleet's next
// call, so the client cannot have noticed the broken connection and still holds it as open.

#[tokio::test]
async fn a_kept_session_cut_under_the_check_is_reopened_in_the_same_check() {
    let fleet = SshdFleet::start(1).expect("sshd fleet of 1");
    let (relay, nodes) = kept_through_relay(&fleet, Duration::from_secs(10)).await;
    let reachable = vec![("relay".to_owned(), SshStatus::Reachable)];
    assert_eq!(nodes.check_all().await, reachable);
    assert_eq!(nodes.check_all().await, reachable, "the kept session answers the ping");
    assert_eq!(fleet.accepted_logins(1), 1);
    relay.cut();
    assert_eq!(nodes.check_all().await, reachable, "the failed ping reopens the session");
    assert_eq!((fleet.accepted_logins(1), nodes.open_sessions().await), (2, 1));
    nodes.close().await;
}

#[tokio::test]
async fn a_kept_session_cut_under_a_command_is_reopened_and_the_command_run_again() {
    let fleet = SshdFleet::start(1).expect("sshd fleet of 1");
    let (relay, nodes) = kept_through_relay(&fleet, Duration::from_secs(10)).await;
    let is_active = RemoteCommand::IsActive(K3sRole::Server);
    assert_eq!(nodes.run("relay", is_active).await.expect("a fresh session").stdout.trim(), "inactive");
    relay.cut();
    let out = nodes.run("relay", is_active).await.expect("the command runs on a reopened session");
    assert_eq!((out.exit_status, out.stdout.trim()), (3, "inactive"));
    assert_eq!((fleet.accepted_logins(1), nodes.open_sessions().await), (2, 1));
    assert_eq!(fleet.stub_calls(1).len(), 2, "the cut command never reached the node");
    nodes.close().await;
}

#[tokio::test]
async fn a_kept_session_that_stops_answering_is_dropped_and_the_node_unreachable() {
    let fleet = SshdFleet::start(1).expect("sshd fleet of 1");
    let timeout = Duration::from_secs(1);
    let (relay, nodes) = kept_through_relay(&fleet, timeout).await;
    assert_eq!(nodes.check_all().await[0].1, SshStatus::Reachable);
    relay.stall();
    // Only the kept session stalls: a new one would be forwarded, so the timeout is the ping's.
    let target = format!("127.0.0.1:{}", relay.addr.port());
    let expected = SshError::ConnectTimeout { node: "relay".into(), target, after: timeout };
    assert_eq!(nodes.check_all().await, [("relay".to_owned(), SshStatus::Unreachable(expected.to_string()))]);
    assert_eq!(nodes.open_sessions().await, 0, "the stalled session is dropped");
    assert_eq!(nodes.check_all().await[0].1, SshStatus::Reachable, "the next check opens a new one");
    assert_eq!((fleet.accepted_logins(1), nodes.open_sessions().await), (2, 1));
    nodes.close().await;
}
