//! Privileged commands through `ssh.command_prefix: [sudo, -n]`, logged into as a non-root user,
//! against real sshd and real sudo (Debian package `sudo`): with the README's sudoers rule every
//! k3s command runs; without it each is refused once, for good, naming node and command.

use ananke_core::adapters::ssh::{CommandPrefix, FleetOptions, NodeFleet, RemoteCommand, SshError};
use ananke_core::config::K3sRole;
use ananke_core::observation::{SshStatus, UnitState};
use ananke_testing::sshd::sudo::SUDO_USER;
use ananke_testing::sshd::SshdFleet;

fn unprivileged(n: usize) -> SshdFleet {
    SshdFleet::start_unprivileged(n)
        .unwrap_or_else(|e| panic!("sshd fleet as {SUDO_USER} (packages openssh-server, sudo; needs root): {e}"))
}

fn with_sudo(fleet: &SshdFleet) -> NodeFleet {
    let prefix = CommandPrefix::new(["sudo", "-n"]).unwrap();
    NodeFleet::new(&fleet.ssh_settings(), &fleet.inventory(K3sRole::Agent), FleetOptions { command_prefix: prefix })
        .expect("fleet")
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_sudoers_rule_every_k3s_command_runs_as_root_and_is_active_needs_no_sudo() {
    let fleet = unprivileged(1);
    assert_eq!(fleet.user(), SUDO_USER);
    let rule = fleet.allow_sudo().expect("visudo accepts the rule");
    let nodes = with_sudo(&fleet);
    nodes.run("n1", RemoteCommand::StartUnit(K3sRole::Agent)).await.expect("sudo -n systemctl start");
    let probe = nodes.probe_all().await;
    assert_eq!((&probe[0].ssh, probe[0].k3s_unit), (&SshStatus::Reachable, UnitState::Active), "{probe:?}");
    nodes.run("n1", RemoteCommand::StopUnit(K3sRole::Agent)).await.expect("sudo -n systemctl stop");
    nodes.run("n1", RemoteCommand::KillAll).await.expect("sudo -n k3s-killall.sh");
    assert_eq!(nodes.probe_all().await[0].k3s_unit, UnitState::Inactive);
    let is_active = argv(&["systemctl", "is-active", "k3s-agent"]);
    assert_eq!(
        fleet.stub_calls(1),
        [
            argv(&["systemctl", "start", "k3s-agent"]),
            is_active.clone(),
            argv(&["systemctl", "stop", "k3s-agent"]),
            argv(&["k3s-killall.sh"]),
            is_active
        ]
    );
    // The rule names exactly ananke's commands: anything else is refused.
    let path = rule.path().to_owned();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("restart") && !text.contains("ALL=(root) NOPASSWD: ALL"), "{text}");
    nodes.close().await;
    drop(rule);
    assert!(!path.exists(), "the drop-in is removed with the rule");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_rule_each_privileged_command_is_refused_for_good_and_never_runs() {
    let fleet = unprivileged(2);
    let nodes = with_sudo(&fleet);
    // The observation still works: `systemctl is-active` is not prefixed.
    let probe = nodes.probe_all().await;
    assert!(probe.iter().all(|p| p.ssh == SshStatus::Reachable && p.k3s_unit == UnitState::Inactive), "{probe:?}");
    for command in [RemoteCommand::StopUnit(K3sRole::Agent), RemoteCommand::StartUnit(K3sRole::Agent)] {
        let err = nodes.run("n2", command).await.unwrap_err();
        match &err {
            SshError::Refused { node, command, stderr, .. } => {
                assert_eq!(node, "n2");
                assert!(command.starts_with("'sudo' '-n' 'systemctl'"), "{command}");
                assert!(stderr.contains("a password is required"), "{stderr}");
            }
            other => panic!("expected a refusal, got {other}"),
        }
        assert!(!err.is_transient(), "a refusal is never retried: {err}");
        assert_eq!(
            ananke_core::machine::Cause::of_message(&err.to_string()),
            ananke_core::machine::Cause::PermissionDenied
        );
    }
    let calls = fleet.stub_calls(2);
    assert!(calls.iter().all(|c| c[1] == "is-active"), "sudo refused before anything ran: {calls:?}");
    // Without the prefix, the unprivileged user runs the command itself: the stub stands in for
    // a systemctl that polkit would refuse, so only the sudo path is checked here.
    nodes.close().await;
}
