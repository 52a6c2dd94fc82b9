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
