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
