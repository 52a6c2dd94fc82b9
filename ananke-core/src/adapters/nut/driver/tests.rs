//! The driver socket against a fake driver on a Unix socket (the real `dummy-ups` is in
//! `testing/tests/it/nut_driver.rs`): the dump, pushed changes, `PING`, and every broken line.

use super::*;
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixListener;
use std::sync::mpsc;
use std::thread;

const DUMP: &str = "SETINFO battery.charge \"100\"\nSETFLAGS battery.charge RW\nSETINFO device.model \"Dummy 1500\"\n\
SETAUX device.model 32\nSETINFO battery.runtime \"1800\"\nSETINFO ups.status \"OL\"\nADDCMD load.off\nDATAOK\nDUMPDONE\n";

/// A fake driver: accepts one reader, checks it asked for `DUMPALL`, sends `first`, and hands
/// the connection back.
fn driver(first: &'static str) -> (tempfile::TempDir, PathBuf, mpsc::Receiver<UnixStream>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dummy-ups-dummy");
    let listener = UnixListener::bind(&path).unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        assert_eq!(line, "DUMPALL\n");
        (&stream).write_all(first.as_bytes()).unwrap();
        tx.send(stream).unwrap();
    });
    (dir, path, rx)
}

fn connected(first: &'static str) -> (tempfile::TempDir, DriverSocket, UnixStream) {
    let (dir, path, rx) = driver(first);
    let socket = DriverSocket::connect(&path, Duration::from_secs(5)).unwrap();
    (dir, socket, rx.recv().unwrap())
}

/// Sends `lines` and waits until the socket has them to read.
fn send(peer: &UnixStream, socket: &mut DriverSocket, lines: &str) -> Result<bool, NutError> {
    let mut peer = peer;
    peer.write_all(lines.as_bytes()).unwrap();
    thread::sleep(Duration::from_millis(20));
    socket.receive(Instant::now())
}

#[test]
fn the_dump_gives_the_power_variables_and_nothing_else() {
    let (_dir, socket, _peer) = connected(DUMP);
    let reading = socket.reading().expect("dumped");
    assert_eq!(reading.flags, ["OL"]);
    assert_eq!(reading.charge, Some(100.0));
    assert_eq!(reading.runtime_s, Some(1800));
    assert_eq!(reading.raw.keys().collect::<Vec<_>>(), ["battery.charge", "battery.runtime", "ups.status"]);
    assert!(socket.data_ok());
    assert!(socket.path().ends_with("dummy-ups-dummy"));
}

#[test]
fn a_pushed_change_is_news_and_the_rest_is_not() {
    let (_dir, mut socket, peer) = connected(DUMP);
    assert!(!socket.receive(Instant::now()).unwrap(), "nothing sent yet");
    assert!(send(&peer, &mut socket, "SETINFO ups.status \"OB DISCHRG\"\nSETINFO battery.runtime \"1200\"\n").unwrap());
    let reading = socket.reading().unwrap();
    assert_eq!(reading.flags, ["OB", "DISCHRG"]);
    assert_eq!(reading.runtime_s, Some(1200));
    assert!(!send(&peer, &mut socket, "SETINFO device.model \"Other\"\nSETFLAGS ups.status RW\n").unwrap());
    assert!(!send(&peer, &mut socket, "SETINFO ups.status \"OB DISCHRG\"\n").unwrap(), "the same value");
    assert!(send(&peer, &mut socket, "DELINFO battery.runtime\n").unwrap());
    assert_eq!(socket.reading().unwrap().runtime_s, None);
    assert!(!send(&peer, &mut socket, "DELINFO battery.runtime\n").unwrap(), "already gone");
    assert!(send(&peer, &mut socket, "DATASTALE\n").unwrap());
    assert!(!socket.data_ok());
    assert!(send(&peer, &mut socket, "DATAOK\n").unwrap());
    assert!(socket.data_ok());
}

#[test]
fn a_line_split_across_reads_is_put_back_together() {
    let (_dir, mut socket, peer) = connected(DUMP);
    assert!(!send(&peer, &mut socket, "SETINFO ups.status \"OB").unwrap(), "half a line");
    assert!(send(&peer, &mut socket, " LB\"\r\n").unwrap());
    assert_eq!(socket.reading().unwrap().flags, ["OB", "LB"]);
}

#[test]
fn a_dump_that_is_late_completes_on_a_later_receive() {
    let (_dir, path, rx) = driver("SETINFO ups.status \"OL\"\n");
    let mut socket = DriverSocket::connect(&path, Duration::from_millis(100)).unwrap();
    assert!(socket.reading().is_none(), "no DUMPDONE yet");
    let peer = rx.recv().unwrap();
    assert!(send(&peer, &mut socket, "DATAOK\nDUMPDONE\n").unwrap());
    assert_eq!(socket.reading().unwrap().flags, ["OL"]);
}

#[test]
fn a_silent_driver_is_pinged_once_per_period_and_its_pong_is_heard() {
    let (_dir, mut socket, peer) = connected(DUMP);
    let every = Duration::from_secs(5);
    let start = socket.last_heard();
    assert_eq!(socket.next_ping(every), start + every);
    socket.ping_if_due(start + Duration::from_secs(1), every).unwrap();
    socket.ping_if_due(start + every, every).unwrap();
    assert_eq!(socket.next_ping(every), start + every * 2, "pinged: the next one a period later");
    socket.ping_if_due(start + every + Duration::from_secs(1), every).unwrap();
    let mut line = String::new();
    let mut reader = BufReader::new(&peer);
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "PING\n", "exactly one PING");
    assert!(!send(&peer, &mut socket, "PONG\n").unwrap());
    assert!(socket.last_heard() > start);
    assert_eq!(socket.next_ping(every), socket.last_heard() + every);
}

#[test]
fn a_closed_or_garbled_socket_is_an_error_naming_the_socket() {
    let cases: [(&str, &str); 4] = [
        ("SETINFO ups.status\n", "a malformed SETINFO line"),
        ("DELINFO\n", "a malformed DELINFO line"),
        ("SETINFO ups.status \"OL\n", "line ends inside a quoted value"),
        ("SETINFO ups.status \"\u{7}\"\n", "control character"),
    ];
    for (line, why) in cases {
        let (_dir, mut socket, peer) = connected(DUMP);
        let e = send(&peer, &mut socket, line).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("UPS driver socket ") && text.contains("dummy-ups-dummy"), "{text}");
        assert!(text.contains(why), "{line:?}: {text}");
        assert!(e.is_transient());
    }
    let (_dir, mut socket, peer) = connected(DUMP);
    (&peer).write_all(b"DATAOK\n\xff").unwrap();
    thread::sleep(Duration::from_millis(20));
    assert!(socket.receive(Instant::now()).is_ok(), "an incomplete line is not judged yet");
    (&peer).write_all(b"\n").unwrap();
    thread::sleep(Duration::from_millis(20));
    assert!(socket.receive(Instant::now()).unwrap_err().to_string().contains("not UTF-8"));
    let (_dir, mut socket, peer) = connected(DUMP);
    let long = format!("SETINFO ups.status \"{}", "x".repeat(wire::MAX_LINE + 1));
    let e = send(&peer, &mut socket, &long).unwrap_err();
    assert!(e.to_string().contains("a line longer than"), "{e}");
    let (_dir, mut socket, peer) = connected(DUMP);
    drop(peer);
    let e = socket.receive(Instant::now()).unwrap_err();
    assert!(e.to_string().contains("the driver closed the socket"), "{e}");
    assert!(socket.ping_if_due(Instant::now() + Duration::from_secs(60), Duration::from_secs(1)).is_err());
}

#[test]
fn a_missing_socket_is_a_transient_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = DriverSocket::connect(&dir.path().join("dummy-ups-nope"), Duration::from_secs(1)).unwrap_err();
    assert!(e.is_transient());
    assert!(e.to_string().contains("dummy-ups-nope: cannot connect:"), "{e}");
}

#[test]
fn a_reset_connection_and_a_full_socket() {
    // The driver goes away without reading what was sent to it: the connection is reset.
    let (_dir, mut socket, peer) = connected(DUMP);
    let start = socket.last_heard();
    socket.ping_if_due(start + Duration::from_secs(10), Duration::from_secs(1)).unwrap();
    drop(peer);
    let e = socket.receive(Instant::now()).unwrap_err();
    assert!(e.to_string().contains("cannot read:"), "{e}");
    // A driver that reads nothing: its socket fills up, which is not an error, and the next
    // PING is still a period away (no busy loop on a full socket).
    let (_dir, mut socket, peer) = connected(DUMP);
    peer.set_nonblocking(true).unwrap();
    let every = Duration::from_secs(1);
    let mut at = socket.last_heard();
    for _ in 0..100_000 {
        at += every;
        socket.ping_if_due(at, every).unwrap();
        assert_eq!(socket.next_ping(every), at + every);
    }
    let mut buf = vec![0u8; 5 * 100_000];
    let mut read = 0;
    while let Ok(n @ 1..) = (&peer).read(&mut buf[read..]) {
        read += n;
    }
    assert!(read < 5 * 100_000, "the socket was full before the last PING: {read} bytes");
}
