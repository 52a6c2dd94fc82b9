//! The fleet's recovery of an instance that exits before it listens, driven on a real fleet by
//! restarting one instance where it cannot bind.

use super::*;

/// Stops instance `i` and starts it again on `address:port`, as `start` does.
fn restart_on(fleet: &mut SshdFleet, i: usize, address: IpAddr, port: u16) -> io::Result<()> {
    if let Some(mut child) = fleet.nodes[i].child.take() {
        process::stop_tree(&mut child);
    }
    fleet.nodes[i].address = address;
    fleet.nodes[i].port = port;
    fleet.write_known_hosts()?;
    fleet.write_node_config(i)?;
    fleet.nodes[i].child = Some(fleet.spawn(i)?);
    fleet.wait_listening(i)
}

#[test]
fn an_instance_whose_port_was_taken_is_restarted_once_on_a_fresh_port() {
    let mut fleet = SshdFleet::start(1).expect("sshd fleet");
    let address = fleet.nodes[0].address;
    let taken = TcpListener::bind((address, 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    restart_on(&mut fleet, 0, address, port).expect("restarted on a fresh port");
    let moved = fleet.nodes[0].port;
    assert_ne!(moved, port, "moved off the taken port");
    assert!(std::net::TcpStream::connect((address, moved)).is_ok(), "listens on {address}:{moved}");
    assert!(fleet.known_hosts_line(1).starts_with(&format!("[{address}]:{moved} ")), "known_hosts follows the move");
}

#[test]
fn an_instance_that_cannot_listen_twice_fails_with_its_log() {
    let mut fleet = SshdFleet::start(1).expect("sshd fleet");
    // TEST-NET-1 is no address of this host: binding it fails, and nothing is sent anywhere.
    let address = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let message = restart_on(&mut fleet, 0, address, 2222).unwrap_err().to_string();
    assert!(message.starts_with("sshd n1 on 192.0.2.1:"), "{message}");
    assert!(message.contains(" exited (") && message.contains("192.0.2.1"), "the log is included: {message}");
    // Without a listener, dropping its connections is a no-op.
    if let Some(mut exited) = fleet.nodes[0].child.take() {
        let _ = exited.wait();
    }
    fleet.drop_connections(1);
}

#[test]
fn instances_share_a_port_on_127_0_1_x_and_fall_back_to_127_0_0_1_with_a_port_each() {
    assert_eq!(listen_address(3, Some(2222)), (IpAddr::V4(Ipv4Addr::new(127, 0, 1, 3)), 2222));
    for (index, shared) in [(1, None), (255, Some(2222))] {
        let (address, port) = listen_address(index, shared);
        assert_eq!(address, IpAddr::V4(Ipv4Addr::LOCALHOST), "instance {index}");
        assert!(port != 0 && port != 2222, "a port of its own: {port}");
    }
}

#[test]
fn a_listener_that_ignores_sigterm_is_killed_after_the_bounded_wait() {
    use rustix::process::{kill_process, Pid, Signal};
    use std::time::{Duration, Instant};
    // `trap '' TERM` is inherited: neither the shell nor its sleep stops on SIGTERM.
    let mut child = Command::new("sh").args(["-c", "trap '' TERM; sleep 30 & wait"]).spawn().unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    let start = Instant::now();
    let mut below = process::descendants(pid);
    while below.is_empty() {
        assert!(start.elapsed() < WAIT, "the shell never started its sleep");
        sleep(Duration::from_millis(10));
        below = process::descendants(pid);
    }
    let at = Instant::now();
    process::stop_tree(&mut child);
    assert!(at.elapsed() >= Duration::from_secs(5), "SIGKILL only after the bounded wait");
    assert!(child.try_wait().unwrap().is_some(), "killed and reaped");
    for pid in below.into_iter().filter_map(Pid::from_raw) {
        let _ = kill_process(pid, Signal::KILL);
    }
}

#[test]
fn a_zombie_is_no_live_descendant() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    let stat_file = format!("/proc/{pid}/stat");
    let start = std::time::Instant::now();
    while !fs::read_to_string(&stat_file)
        .unwrap_or_default()
        .rsplit_once(')')
        .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
    {
        assert!(start.elapsed() < WAIT, "the child never exited");
        sleep(std::time::Duration::from_millis(5));
    }
    let me = i32::try_from(std::process::id()).unwrap();
    assert!(!process::descendants(me).contains(&pid), "an exited, unreaped child is not live");
    child.wait().unwrap();
}
