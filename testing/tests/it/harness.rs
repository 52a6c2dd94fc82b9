//! The harnesses' own failure paths and clean-up: what they say when a component is missing or
//! fails, and that dropping one stops exactly what it started.

use ananke_testing::nut::{find_binaries, NutServer};
use ananke_testing::sshd::SshdFleet;
use std::net::TcpStream;

#[test]
fn missing_nut_binaries_name_the_directories_and_the_packages() {
    let dir = tempfile::tempdir().unwrap();
    let searched = dir.path().display().to_string();
    let err = find_binaries(&[&searched, "/nonexistent"]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    let message = err.to_string();
    assert!(message.contains(&format!("{searched}, /nonexistent")), "{message}");
    assert!(message.contains("nut-server") && message.contains("nut-client"), "{message}");
    // Only one of the two binaries is not enough.
    std::fs::write(dir.path().join("upsd"), "").unwrap();
    assert!(find_binaries(&[&searched]).is_err());
    std::fs::write(dir.path().join("dummy-ups"), "").unwrap();
    let (upsd, driver) = find_binaries(&[&searched]).unwrap();
    assert_eq!((upsd, driver), (dir.path().join("upsd"), dir.path().join("dummy-ups")));
}

#[test]
fn a_dropped_nut_server_no_longer_listens() {
    let server = NutServer::start().unwrap_or_else(|e| panic!("cannot start upsd with dummy-ups: {e}"));
    let address = (server.host(), server.port());
    assert!(TcpStream::connect(address).is_ok(), "upsd listens while the server lives");
    drop(server);
    assert!(TcpStream::connect(address).is_err(), "upsd is stopped on drop");
}

#[test]
fn a_key_that_cannot_be_generated_says_ssh_keygen_failed() {
    let dir = tempfile::tempdir().unwrap();
    let err = SshdFleet::generate_key(&dir.path().join("missing-dir").join("id_ed25519")).unwrap_err();
    assert!(err.to_string().starts_with("ssh-keygen failed ("), "{err}");
    let key = dir.path().join("id_ed25519");
    SshdFleet::generate_key(&key).unwrap();
    assert!(key.is_file() && key.with_extension("pub").is_file());
}

#[test]
fn a_dropped_fleet_no_longer_listens() {
    let fleet = SshdFleet::start(2).unwrap_or_else(|e| panic!("sshd fleet: {e}"));
    let addresses: Vec<_> = fleet.nodes().iter().map(|n| (n.address, n.port)).collect();
    assert!(addresses.iter().all(|a| TcpStream::connect(*a).is_ok()), "every instance listens");
    let login = if rustix::process::geteuid().is_root() { "root".to_owned() } else { std::env::var("USER").unwrap() };
    assert_eq!(fleet.user(), login);
    drop(fleet);
    assert!(addresses.iter().all(|a| TcpStream::connect(*a).is_err()), "every instance is stopped on drop");
}

#[test]
fn a_new_variable_reaches_upsd_and_starting_a_running_part_is_a_no_op() {
    use ananke_core::adapters::nut::NutClient;
    use ananke_testing::nut::UPS;
    use std::time::{Duration, Instant};
    let mut server = NutServer::start().unwrap_or_else(|e| panic!("cannot start upsd with dummy-ups: {e}"));
    server.set_var("battery.charge", "42").unwrap();
    server.set_var("ups.test.note", "drill").unwrap();
    let start = Instant::now();
    loop {
        let mut client = NutClient::connect(server.host(), server.port(), Duration::from_secs(3)).expect("connects");
        let reading = client.status(UPS).expect("LIST VAR");
        if reading.charge == Some(42.0) && reading.raw.get("ups.test.note").map(String::as_str) == Some("drill") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the new values never reached upsd: {reading:?}\n{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (logs_before, at) = (server.logs(), Instant::now());
    server.start_upsd().unwrap();
    server.start_driver().unwrap();
    assert!(at.elapsed() < Duration::from_millis(100), "nothing was started again");
    let logs = server.logs();
    assert!(logs.starts_with("--- upsd.log\n") && logs.contains("--- driver.log\n"), "{logs}");
    assert_eq!(logs, logs_before, "no second upsd or driver wrote to the logs");
}
