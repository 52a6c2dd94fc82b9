//! The SSH adapter against real OpenSSH sshd on loopback (the `ananke_testing::sshd` harness).

use ananke_core::adapters::ssh::{CommandPrefix, FleetOptions, NodeFleet, RemoteCommand, SshError};
use ananke_core::config::{K3sRole, Node, SshSettings};
use ananke_core::observation::{SshStatus, UnitState};
use ananke_testing::sshd::SshdFleet;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

fn start(n: usize) -> SshdFleet {
    SshdFleet::start(n).unwrap_or_else(|e| panic!("sshd fleet of {n}: {e}"))
}

fn client(settings: &SshSettings, nodes: &[Node]) -> NodeFleet {
    NodeFleet::new(settings, nodes, FleetOptions::default()).expect("fleet")
}

fn auth_failure(status: &SshStatus) -> &str {
    match status {
        SshStatus::AuthFailed(why) => why,
        other => panic!("expected AuthFailed, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_auth_reaches_every_node_and_reads_its_unit() {
    let fleet = start(2);
    fleet.set_unit_state(1, "k3s", "active").unwrap();
    let nodes = client(&fleet.ssh_settings(), &fleet.inventory(K3sRole::Server));
    let probes = nodes.probe_all().await;
    assert_eq!(probes.len(), 2);
    assert_eq!((&probes[0].ssh, probes[0].k3s_unit), (&SshStatus::Reachable, UnitState::Active), "{probes:?}");
    assert_eq!((&probes[1].ssh, probes[1].k3s_unit), (&SshStatus::Reachable, UnitState::Inactive), "{probes:?}");
    let reach = nodes.check_all().await;
    assert!(reach.iter().all(|(_, s)| *s == SshStatus::Reachable), "{reach:?}");
    nodes.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_host_key_is_refused_naming_host_and_fingerprint() {
    let fleet = start(2);
    let known_hosts = fleet.dir().join("known_hosts.partial");
    std::fs::write(&known_hosts, fleet.known_hosts_line(2) + "\n").unwrap();
    let settings = SshSettings { known_hosts: known_hosts.clone(), ..fleet.ssh_settings() };
    let nodes = client(&settings, &fleet.inventory(K3sRole::Server));
    let probes = nodes.probe_all().await;
    let why = auth_failure(&probes[0].ssh);
    assert!(why.contains(&fleet.nodes()[0].known_hosts_name()), "{why}");
    assert!(why.contains(&fleet.host_fingerprint(1)), "{why}");
    assert_eq!(probes[1].ssh, SshStatus::Reachable);
    let err = nodes.run("n1", RemoteCommand::StartUnit(K3sRole::Server)).await.unwrap_err();
    assert!(
        matches!(&err, SshError::UnknownHostKey { fingerprint, known_hosts: kh, .. } if *fingerprint == fleet.host_fingerprint(1) && *kh == known_hosts),
        "{err}"
    );
    assert!(!err.is_transient());
    assert_eq!(fleet.accepted_logins(1), 0, "nothing may run on a node whose key was refused");
    assert!(fleet.stub_calls(1).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_host_key_is_refused() {
    let fleet = start(2);
    // n1's name recorded with n2's key: to the client, n1's key changed.
    let key_of_n2: String = fleet.known_hosts_line(2).split_once(' ').unwrap().1.to_owned();
    let known_hosts = fleet.dir().join("known_hosts.changed");
    std::fs::write(&known_hosts, format!("{} {key_of_n2}\n", fleet.nodes()[0].known_hosts_name())).unwrap();
    let settings = SshSettings { known_hosts, ..fleet.ssh_settings() };
    let nodes = client(&settings, &fleet.inventory(K3sRole::Server)[..1]);
    let err = nodes.run("n1", RemoteCommand::IsActive(K3sRole::Server)).await.unwrap_err();
    match &err {
        SshError::ChangedHostKey { host, fingerprint, line, .. } => {
            assert_eq!(host, &fleet.nodes()[0].known_hosts_name());
            assert_eq!(fingerprint, &fleet.host_fingerprint(1));
            assert_eq!(*line, 1);
        }
        other => panic!("expected ChangedHostKey, got {other}"),
    }
    assert!(err.to_string().contains("changed"), "{err}");
    let why = auth_failure(&nodes.probe_all().await[0].ssh).to_owned();
    assert!(why.contains(&fleet.host_fingerprint(1)), "{why}");
    assert_eq!(fleet.accepted_logins(1), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_node_does_not_authorize_is_auth_failed() {
    let fleet = start(1);
    let other = fleet.dir().join("other_id_ed25519");
    SshdFleet::generate_key(&other).unwrap();
    let settings = SshSettings { identity_file: other, ..fleet.ssh_settings() };
    let nodes = client(&settings, &fleet.inventory(K3sRole::Server));
    let why = auth_failure(&nodes.check_all().await[0].1).to_owned();
    assert!(why.contains("refused public key authentication"), "{why}");
    let err = nodes.run("n1", RemoteCommand::KillAll).await.unwrap_err();
    assert!(matches!(err, SshError::AuthRejected { .. }) && !err.is_transient(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_identity_is_refused_up_front() {
    let fleet = start(1);
    let settings = SshSettings { identity_file: fleet.dir().join("missing"), ..fleet.ssh_settings() };
    let err = NodeFleet::new(&settings, &fleet.inventory(K3sRole::Server), FleetOptions::default()).unwrap_err();
    assert!(matches!(err, SshError::Identity { .. }) && !err.is_transient(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_unreachable_at_once() {
    let fleet = start(1);
    let node = Node {
        name: "gone".into(),
        address: "127.0.1.250".into(),
        ssh_port: fleet.nodes()[0].port,
        role: K3sRole::Agent,
    };
    let nodes = client(&fleet.ssh_settings(), &[node]);
    let t = Instant::now();
    let err = nodes.run("gone", RemoteCommand::IsActive(K3sRole::Agent)).await.unwrap_err();
    assert!(matches!(err, SshError::Connect { .. }) && err.is_transient(), "{err}");
    assert!(matches!(nodes.check_all().await[0].1, SshStatus::Unreachable(_)));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_hits_the_connect_timeout() {
    let fleet = start(1);
    // A listener that never accepts: the kernel completes the TCP handshake, no SSH banner follows.
    let silent = TcpListener::bind((IpAddr::V4(Ipv4Addr::new(127, 0, 1, 251)), 0))
        .or_else(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .unwrap();
    let addr = silent.local_addr().unwrap();
    let node =
        Node { name: "mute".into(), address: addr.ip().to_string(), ssh_port: addr.port(), role: K3sRole::Server };
    let settings = SshSettings { connect_timeout: Duration::from_millis(400).into(), ..fleet.ssh_settings() };
    let nodes = client(&settings, &[node]);
    let t = Instant::now();
    let status = nodes.check_all().await.remove(0).1;
    let elapsed = t.elapsed();
    assert!(matches!(&status, SshStatus::Unreachable(why) if why.contains("within")), "{status:?}");
    assert!(elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3), "{elapsed:?}");
    let err = nodes.run("mute", RemoteCommand::IsActive(K3sRole::Server)).await.unwrap_err();
    assert!(matches!(err, SshError::ConnectTimeout { .. }) && err.is_transient(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_command_hits_the_command_timeout_and_the_session_survives() {
    let fleet = start(1);
    fleet.set_stub_delay(1, Duration::from_secs(3)).unwrap();
    let settings = SshSettings { command_timeout: Duration::from_millis(500).into(), ..fleet.ssh_settings() };
    let nodes = client(&settings, &fleet.inventory(K3sRole::Server));
    let t = Instant::now();
    let err = nodes.run("n1", RemoteCommand::StartUnit(K3sRole::Server)).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(matches!(err, SshError::CommandTimeout { .. }) && err.is_transient(), "{err}");
    let probe = nodes.probe_all().await.remove(0);
    assert_eq!(
        (probe.ssh, probe.k3s_unit),
        (SshStatus::Reachable, UnitState::Unknown),
        "reached, but the unit did not answer in time"
    );
    fleet.set_stub_delay(1, Duration::ZERO).unwrap();
    assert_eq!(nodes.probe_all().await[0].ssh, SshStatus::Reachable);
    assert_eq!(fleet.accepted_logins(1), 1, "a command timeout does not cost the session");
    // The timed-out command still sleeps on the node; stopping the fleet stops it too.
    let dir = fleet.dir().to_owned();
    assert!(!SshdFleet::session_processes(&dir).is_empty(), "the slow stub should still be running");
    drop(nodes);
    drop(fleet);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !SshdFleet::session_processes(&dir).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(SshdFleet::session_processes(&dir).is_empty(), "a session's command outlived the fleet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_over_16_nodes_keeps_to_the_concurrency_bound() {
    let fleet = start(16);
    let settings = SshSettings { concurrency: 4, ..fleet.ssh_settings() };
    let nodes = client(&settings, &fleet.inventory(K3sRole::Agent));
    let reach = nodes.check_all().await;
    assert!(reach.iter().all(|(_, s)| *s == SshStatus::Reachable), "{reach:?}");
    for i in 1..=16 {
        fleet.set_stub_delay(i, Duration::from_millis(300)).unwrap();
    }
    // 16 commands of 300 ms, 4 at a time: at least 4 waves (1.2 s); all at once would take 0.3 s.
    let t = Instant::now();
    let probes = nodes.probe_all().await;
    let elapsed = t.elapsed();
    assert!(probes.iter().all(|p| p.ssh == SshStatus::Reachable && p.k3s_unit == UnitState::Inactive), "{probes:?}");
    assert!(elapsed >= Duration::from_millis(1200), "concurrency not bounded: {elapsed:?}");
    let names: Vec<String> = probes.iter().map(|p| p.node.clone()).collect();
    assert_eq!(names, (1..=16).map(|i| format!("n{i}")).collect::<Vec<_>>(), "results in inventory order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_stay_open_across_cycles_and_reopen_when_broken() {
    let fleet = start(4);
    let nodes = client(&fleet.ssh_settings(), &fleet.inventory(K3sRole::Server));
    for _ in 0..3 {
        assert!(nodes.probe_all().await.iter().all(|p| p.ssh == SshStatus::Reachable));
        assert!(nodes.check_all().await.iter().all(|(_, s)| *s == SshStatus::Reachable));
    }
    assert_eq!(nodes.open_sessions().await, 4);
    assert_eq!(
        (1..=4).map(|i| fleet.accepted_logins(i)).collect::<Vec<_>>(),
        [1, 1, 1, 1],
        "one login per node for 6 cycles"
    );
    fleet.drop_connections(2);
    fleet.drop_connections(3);
    assert!(
        nodes.check_all().await.iter().all(|(_, s)| *s == SshStatus::Reachable),
        "a broken session is reopened in the same cycle"
    );
    fleet.drop_connections(4);
    assert!(nodes.probe_all().await.iter().all(|p| p.ssh == SshStatus::Reachable));
    assert_eq!((1..=4).map(|i| fleet.accepted_logins(i)).collect::<Vec<_>>(), [1, 2, 2, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unit_commands_reach_the_node_with_exactly_their_argv() {
    let fleet = start(2);
    let mut inventory = fleet.inventory(K3sRole::Server);
    inventory[1].role = K3sRole::Agent;
    let nodes = client(&fleet.ssh_settings(), &inventory);
    nodes.run("n1", RemoteCommand::StartUnit(K3sRole::Server)).await.unwrap();
    nodes.run("n2", RemoteCommand::StartUnit(K3sRole::Agent)).await.unwrap();
    let probes = nodes.probe_all().await;
    assert_eq!((probes[0].k3s_unit, probes[1].k3s_unit), (UnitState::Active, UnitState::Active));
    nodes.run("n2", RemoteCommand::StopUnit(K3sRole::Agent)).await.unwrap();
    nodes.run("n2", RemoteCommand::KillAll).await.unwrap();
    assert_eq!(nodes.probe_all().await[1].k3s_unit, UnitState::Inactive);
    let argv = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    let is_active = argv(&["systemctl", "is-active", "k3s"]);
    assert_eq!(fleet.stub_calls(1), [argv(&["systemctl", "start", "k3s"]), is_active.clone(), is_active]);
    assert_eq!(
        fleet.stub_calls(2),
        [
            argv(&["systemctl", "start", "k3s-agent"]),
            argv(&["systemctl", "is-active", "k3s-agent"]),
            argv(&["systemctl", "stop", "k3s-agent"]),
            argv(&["k3s-killall.sh"]),
            argv(&["systemctl", "is-active", "k3s-agent"]),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_config_value_can_inject_shell_syntax() {
    let fleet = start(1);
    let pwned = fleet.dir().join("pwned");
    let touch = format!("touch {}", pwned.display());
    let mut node = fleet.inventory(K3sRole::Server).remove(0);
    node.name = format!("n1; {touch}");
    let bad_address = Node { name: "bad".into(), address: format!("127.0.1.1; {touch}"), ..node.clone() };
    let hostile = [
        format!("A=$({touch})"),
        format!("B=`{touch}`; {touch}"),
        format!("C=x'; {touch}; '"),
        format!("D=\"; {touch}\""),
    ];
    let prefix = CommandPrefix::new(std::iter::once("env".to_owned()).chain(hostile.iter().cloned())).unwrap();
    let nodes =
        NodeFleet::new(&fleet.ssh_settings(), &[node.clone(), bad_address], FleetOptions { command_prefix: prefix })
            .unwrap();
    nodes.run(&node.name, RemoteCommand::StartUnit(K3sRole::Server)).await.unwrap();
    let err = nodes.run("bad", RemoteCommand::StartUnit(K3sRole::Server)).await.unwrap_err();
    assert!(matches!(err, SshError::InvalidAddress { .. }) && !err.is_transient(), "{err}");
    let probes = nodes.probe_all().await;
    assert_eq!((&probes[0].ssh, probes[0].k3s_unit), (&SshStatus::Reachable, UnitState::Active));
    assert!(
        matches!(&probes[1].ssh, SshStatus::Unreachable(why) if why.contains("neither an IP address nor a host name"))
    );
    assert!(!pwned.exists(), "a config value ran as shell syntax");
    // The hostile words reached `env` as plain assignments, and the stub ran with the fixed argv.
    assert_eq!(fleet.stub_calls(1)[0], ["systemctl", "start", "k3s"]);
}
