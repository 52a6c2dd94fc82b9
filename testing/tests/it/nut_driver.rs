//! The monitor reading a real `dummy-ups` through the driver's own socket (`driver_socket`):
//! pushed changes, a silent driver pinged, a frozen one stale, a stopped one found again.

use ananke_core::adapters::nut::{DomainPower, MonitorSettings, UpsMonitor};
use ananke_core::config::{DaemonSettings, HumanDuration};
use ananke_testing::nut::NutServer;
use std::time::{Duration, Instant};

/// Bound on waiting for a change to travel .dev file -> driver -> adapter (about 1 s).
const CHANGE: Duration = Duration::from_secs(20);

fn server() -> NutServer {
    NutServer::start().unwrap_or_else(|e| panic!("cannot start upsd with dummy-ups: {e}"))
}

/// `stale_after` 3 s: a silent driver is pinged after 1 s and answers at its next update (1 s).
fn settings() -> MonitorSettings {
    let daemon = DaemonSettings { stale_after: HumanDuration::secs(3), ..DaemonSettings::default() };
    MonitorSettings { backoff_max: Duration::from_secs(1), ..MonitorSettings::from_daemon(&daemon) }
}

/// Refreshes the pushed domains until the first domain's report satisfies `done`.
fn wait_for(
    monitor: &mut UpsMonitor,
    server: &NutServer,
    what: &str,
    done: impl Fn(&DomainPower) -> bool,
) -> DomainPower {
    let start = Instant::now();
    loop {
        monitor.refresh_pushed();
        let power = &monitor.reports()[0];
        if done(power) {
            return power.clone();
        }
        assert!(start.elapsed() < CHANGE, "no {what} within {CHANGE:?}; last report: {power:?}\n{}", server.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn flags_are(power: &DomainPower, flags: &[&str]) -> bool {
    power.status.reachable && !power.stale && power.status.flags == flags
}

#[test]
fn each_change_is_pushed_and_an_idle_driver_is_no_news() {
    let mut server = server();
    let domains = [server.power_domain_pushed("statera"), server.power_domain_pushed("pyrphoros")];
    let mut monitor = UpsMonitor::new(&domains, settings()).expect("monitor");
    assert!(!monitor.polls_upsd());
    assert!(monitor.fds().is_empty(), "connects at the first refresh");
    assert!(monitor.refresh(), "the first refresh connects and reports");
    assert_eq!(monitor.fds().len(), 1, "one socket for both domains");
    let first = wait_for(&mut monitor, &server, "OL", |p| flags_are(p, &["OL"]));
    assert_eq!((first.status.charge, first.status.runtime_s), (Some(100.0), Some(1800)));
    assert_eq!(monitor.reports()[1].status.domain, "pyrphoros");
    assert!(flags_are(&monitor.reports()[1], &["OL"]));
    // Idle for over twice stale_after: no news, never stale (the driver answers the PINGs).
    let idle = Instant::now();
    while idle.elapsed() < Duration::from_secs(7) {
        assert!(!monitor.refresh_pushed(), "nothing changed: {:?}", monitor.reports());
        let due = monitor.next_due().expect("a driver socket");
        assert!(due <= Instant::now() + Duration::from_secs(3), "due within stale_after");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.set_vars(&[("ups.status", "OB DISCHRG LB"), ("battery.runtime", "120")]).expect("set");
    let seen = Instant::now();
    let low = wait_for(&mut monitor, &server, "OB LB", |p| p.status.flags == ["OB", "DISCHRG", "LB"]);
    assert_eq!(low.status.runtime_s, Some(120));
    assert!(seen.elapsed() < Duration::from_secs(3), "pushed at the driver's next update: {:?}", seen.elapsed());
    assert!(flags_are(&monitor.reports()[1], &["OB", "DISCHRG", "LB"]));
}

#[test]
fn a_frozen_driver_goes_stale_and_is_fresh_again_when_it_answers() {
    let server = server();
    let mut monitor = UpsMonitor::new(&[server.power_domain_pushed("statera")], settings()).expect("monitor");
    wait_for(&mut monitor, &server, "OL", |p| flags_are(p, &["OL"]));
    server.freeze_driver();
    let stale = wait_for(&mut monitor, &server, "stale", |p| p.stale);
    assert!(!stale.status.reachable);
    assert_eq!(stale.status.flags, ["OL"], "the last good reading is kept");
    let why = stale.error.clone().unwrap_or_default();
    assert!(why.contains("the driver has said nothing for") && why.contains("not even to PING"), "{why}");
    // Stale, the link is due only for its next PING: a quiet daemon does not spin on it.
    let due = monitor.next_due().expect("a driver socket");
    assert!(due > Instant::now(), "the next refresh is ahead");
    server.thaw_driver();
    wait_for(&mut monitor, &server, "fresh OL", |p| flags_are(p, &["OL"]));
}

#[test]
fn a_stopped_driver_is_unreachable_and_found_again_when_it_is_back() {
    let mut server = server();
    let mut monitor = UpsMonitor::new(&[server.power_domain_pushed("statera")], settings()).expect("monitor");
    wait_for(&mut monitor, &server, "OL", |p| flags_are(p, &["OL"]));
    server.stop_driver();
    let lost = wait_for(&mut monitor, &server, "unreachable", |p| !p.status.reachable);
    let why = lost.error.clone().unwrap_or_default();
    assert!(why.starts_with("UPS driver socket ") && why.contains("dummy-ups-dummy"), "{why}");
    assert!(!lost.permanent);
    assert!(monitor.fds().is_empty(), "the closed socket is dropped");
    let retry = wait_for(&mut monitor, &server, "a retry wait", |p| {
        p.error.as_deref().unwrap_or("").contains("next attempt in")
    });
    assert!(!retry.status.reachable);
    server.set_state("OB DISCHRG").expect("set");
    server.start_driver().expect("driver back");
    wait_for(&mut monitor, &server, "OB after the reconnect", |p| flags_are(p, &["OB", "DISCHRG"]));
}

#[test]
fn pushed_and_polled_domains_report_side_by_side_in_domain_order() {
    let mut server = server();
    let domains = [server.power_domain("statera"), server.power_domain_pushed("pyrphoros")];
    let mut monitor = UpsMonitor::new(&domains, settings()).expect("monitor");
    assert!(monitor.polls_upsd());
    let start = Instant::now();
    while !monitor.poll().iter().all(|p| flags_are(p, &["OL"])) {
        assert!(start.elapsed() < CHANGE, "{:?}", monitor.reports());
        std::thread::sleep(Duration::from_millis(100));
    }
    let names: Vec<&str> = monitor.reports().iter().map(|p| p.status.domain.as_str()).collect();
    assert_eq!(names, ["statera", "pyrphoros"]);
    server.set_state("OB DISCHRG").expect("set");
    let start = Instant::now();
    while !monitor.poll().iter().all(|p| flags_are(p, &["OB", "DISCHRG"])) {
        assert!(start.elapsed() < CHANGE, "{:?}", monitor.reports());
        std::thread::sleep(Duration::from_millis(100));
    }
}
