//! The monitor's backoff, reports and poll threads.

use super::*;

fn settings() -> MonitorSettings {
    MonitorSettings::from_daemon(&DaemonSettings::default())
}

#[test]
fn backoff_doubles_up_to_its_bound() {
    let s = settings();
    assert_eq!(s.backoff(1), Duration::from_millis(500));
    assert_eq!(s.backoff(2), Duration::from_secs(1));
    assert_eq!(s.backoff(4), Duration::from_secs(4));
    assert_eq!(s.backoff(5), Duration::from_secs(5));
    assert_eq!(s.backoff(u32::MAX), Duration::from_secs(5));
    assert_eq!(s.stale_after, Duration::from_secs(15));
}

fn reading(status: &str) -> UpsReading {
    let raw = [("ups.status", status), ("battery.charge", "80"), ("battery.runtime", "1200")];
    UpsReading::from_vars(raw.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
}

fn failure(stale: bool) -> ReadFailure {
    ReadFailure { message: "boom".to_owned(), permanent: false, stale }
}

#[test]
fn a_failure_keeps_the_last_reading_and_turns_stale_with_age() {
    let mut watch = Watch::new(0, "statera", "dummy");
    let t0 = Instant::now();
    let fresh = watch.report(Ok(reading("OB DISCHRG")), t0, Duration::from_secs(15));
    assert!(fresh.status.reachable && fresh.status.has("OB") && !fresh.stale && fresh.error.is_none());
    assert_eq!((fresh.status.charge, fresh.status.runtime_s), (Some(80.0), Some(1200)));

    let blip = watch.report(Err(failure(false)), t0 + Duration::from_secs(2), Duration::from_secs(15));
    assert!(!blip.status.reachable && !blip.stale && blip.status.has("OB"));
    assert_eq!(blip.error.as_deref(), Some("boom"));

    let old = watch.report(Err(failure(false)), t0 + Duration::from_secs(16), Duration::from_secs(15));
    assert!(!old.status.reachable && old.stale);

    let said = watch.report(Err(failure(true)), t0 + Duration::from_secs(1), Duration::from_secs(15));
    assert!(said.stale);
}

#[test]
fn a_driver_in_wait_is_stale_and_no_reading_is_empty() {
    let mut watch = Watch::new(0, "d", "u");
    let wait = watch.report(Ok(reading("WAIT")), Instant::now(), Duration::from_secs(15));
    assert!(!wait.status.reachable && wait.stale && wait.status.flags.is_empty());
    assert!(wait.error.as_deref().is_some_and(|e| e.contains("ups.status")));
}

#[test]
fn a_poll_thread_that_failed_or_never_started_reports_its_domains_unread() {
    let watches = || vec![(0, "statera".to_owned()), (2, "aether".to_owned())];
    let never = joined(watches(), Err(std::io::Error::other("no threads left")));
    let panicked = std::thread::scope(|scope| {
        let poll = std::thread::Builder::new().spawn_scoped(scope, || -> Vec<(usize, DomainPower)> {
            panic!("a poll that panics");
        });
        joined(watches(), poll)
    });
    for (reports, why) in [
        (never, "cannot start a poll thread for its upsd: no threads left"),
        (panicked, "the poll thread for its upsd failed"),
    ] {
        let got: Vec<(usize, &str, bool, bool, Option<&str>)> = reports
            .iter()
            .map(|(i, p)| (*i, p.status.domain.as_str(), p.status.reachable, p.stale, p.error.as_deref()))
            .collect();
        assert_eq!(got, [(0, "statera", false, true, Some(why)), (2, "aether", false, true, Some(why))]);
    }
}

/// Domain `east` on UPS `dummy` of a fake upsd on loopback `port`, without credentials.
fn fake_domain(port: u16) -> PowerDomain {
    let ups = crate::config::Ups {
        name: "dummy".into(),
        host: "127.0.0.1".into(),
        port,
        username: None,
        password_file: None,
        driver_socket: None,
    };
    PowerDomain { name: "east".into(), ups, nodes: Vec::new() }
}

/// A fake upsd: on the first connection it answers the three GETs with `ERR UNKNOWN-UPS`, then
/// breaks off its answer to `LIST UPS`; on the second it serves an on-line UPS.
fn unknown_then_broken_listing() -> (u16, std::thread::JoinHandle<()>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let task = std::thread::spawn(move || {
        let answers: [&[u8]; 2] = [
            b"ERR UNKNOWN-UPS\nERR UNKNOWN-UPS\nERR UNKNOWN-UPS\n",
            b"VAR dummy ups.status \"OL\"\nVAR dummy battery.charge \"100\"\nVAR dummy battery.runtime \"900\"\n",
        ];
        for (i, answer) in answers.into_iter().enumerate() {
            let (stream, _) = listener.accept().expect("accept");
            stream.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
            let mut stream = BufReader::new(stream);
            let mut line = String::new();
            for _ in 0..3 {
                stream.read_line(&mut line).expect("a GET");
            }
            stream.get_mut().write_all(answer).expect("answer");
            if i == 0 {
                stream.read_line(&mut line).expect("LIST UPS");
                assert!(line.ends_with("LIST UPS\n"), "{line}");
                stream.get_mut().write_all(b"BEGIN LIST UPS\n").expect("half a list");
            } else {
                let _ = stream.read_line(&mut line);
            }
        }
    });
    (port, task)
}

#[test]
fn a_listing_that_breaks_off_drops_the_connection_and_the_next_poll_starts_afresh() {
    let (port, task) = unknown_then_broken_listing();
    let domain = fake_domain(port);
    let settings = MonitorSettings { request_timeout: Duration::from_millis(300), ..settings() };
    let mut monitor = UpsMonitor::new(&[domain], settings).expect("monitor");
    let first = monitor.poll().remove(0);
    let error = first.error.clone().unwrap_or_default();
    assert!(error.contains("serves no UPS named \"dummy\": it serves names that could not be listed"), "{first:?}");
    assert!(first.permanent && !first.status.reachable, "{first:?}");
    let second = monitor.poll().remove(0);
    assert!(second.status.reachable && second.status.has("OL"), "a new connection, in step: {second:?}");
    monitor.close();
    task.join().expect("peer");
}

#[test]
fn a_connection_lost_at_its_first_read_is_a_transient_failure_and_backs_off() {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let task = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut stream = BufReader::new(stream);
        let mut line = String::new();
        for _ in 0..3 {
            stream.read_line(&mut line).expect("a GET");
        }
        // Hang up without an answer.
    });
    let domain = fake_domain(port);
    let mut monitor = UpsMonitor::new(&[domain], settings()).expect("monitor");
    let power = monitor.poll().remove(0);
    assert!(!power.status.reachable && !power.permanent, "{power:?}");
    task.join().expect("peer");
    let again = monitor.poll().remove(0);
    assert!(again.error.as_deref().is_some_and(|e| e.contains("next attempt in")), "backing off: {again:?}");
    monitor.close();
}

#[test]
fn the_next_attempt_is_now_until_an_attempt_failed() {
    let now = Instant::now();
    let mut retry = Retry::default();
    assert_eq!(retry.next_at(now), now);
    let refused = NutError::Connect { addr: "h:1".into(), source: std::io::Error::other("refused") };
    let _ = retry.failed(refused, &settings());
    assert!(retry.next_at(now) > now);
}
