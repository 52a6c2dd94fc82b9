//! `ananke daemon` reading the UPS through the `dummy-ups` driver's own socket (`driver_socket`):
//! it decides on the driver's push, not at its next poll, and a silent driver is reported stale.

use crate::daemon::{has_event, start_with, Setup};
use ananke_core::config::HumanDuration;
use std::time::Duration;

fn pushed() -> Setup {
    Setup { pushed: true, ..Setup::default() }
}

#[test]
fn low_battery_pushed_by_the_driver_is_acted_on_without_waiting_for_a_poll() {
    // An hour between polls (and as long before data is stale): only the driver's push can bring
    // the news within the test's 40 s wait.
    let mut lab = start_with(
        |d| {
            d.poll_interval = HumanDuration::secs(3600);
            d.stale_after = HumanDuration::secs(3600);
        },
        &pushed(),
    );
    std::thread::sleep(Duration::from_secs(1));
    lab.nut.set_vars(&[("ups.status", "OB DISCHRG LB"), ("battery.runtime", "90")]).unwrap();
    let s = lab.wait_for("a shutdown started", |s| has_event(s, "started `ananke shutdown"));
    assert!(has_event(&s, "low battery or forced shutdown"), "{}", lab.events());
    assert!(s.domains.iter().all(|d| d.status.has("LB") && d.error.is_none()), "{:?}", s.domains);
    // The run goes on by itself (the daemon reaps it only at its next poll, an hour away): let it
    // finish before the lab is dropped.
    let pid = s.child.expect("the run the daemon started").pid;
    let start = std::time::Instant::now();
    // Running until its state in /proc/PID/stat is Z (exited, not yet reaped) or it is gone.
    let running = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
    };
    while running() {
        assert!(start.elapsed() < Duration::from_secs(60), "the shutdown run is still going after 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let report = lab.report("last-shutdown-report.json").expect("the shutdown's report");
    assert_eq!(report["outcome"], "succeeded", "{report}");
}

#[test]
fn a_frozen_driver_is_reported_stale_and_a_thawed_one_reachable_again() {
    let lab = start_with(|d| d.poll_interval = HumanDuration::secs(3), &pushed());
    lab.nut.freeze_driver();
    let s = lab.wait_for("the loss reported", |s| has_event(s, "unreachable or stale"));
    assert!(s.domains.iter().all(|d| d.stale), "{:?}", s.domains);
    let why = s.domains[0].error.clone().unwrap_or_default();
    assert!(why.contains("not even to PING"), "{why}");
    lab.nut.thaw_driver();
    lab.wait_for("reachable again", |s| has_event(s, "reachable again"));
}
