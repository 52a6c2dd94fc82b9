//! `ananke daemon` against a real `upsd` on the paths of its own lifecycle: systemd notification
//! on an abstract socket with the watchdog, a run it aborts when power fails during a startup,
//! and a run that goes on when the daemon stops.

use crate::daemon::{has_event, start_with, Setup};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn terminate(lab: &mut crate::daemon::Lab) -> std::process::ExitStatus {
    Command::new("kill").args(["-TERM", &lab.daemon.id().to_string()]).status().unwrap();
    lab.daemon.wait().unwrap()
}

#[test]
fn the_daemon_notifies_systemd_on_an_abstract_socket_and_pets_the_watchdog_between_polls() {
    notifies_and_pets_the_watchdog(false);
}

#[test]
fn a_daemon_waiting_on_a_driver_socket_pets_the_watchdog_too() {
    notifies_and_pets_the_watchdog(true);
}

fn notifies_and_pets_the_watchdog(pushed: bool) {
    let name = format!("ananke-test-notify-{}-{pushed}", std::process::id());
    let socket = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Ok(len) = socket.recv(&mut buf) {
                let message = String::from_utf8_lossy(&buf[..len]).into_owned();
                let stopping = message == "STOPPING=1";
                if tx.send(message).is_err() || stopping {
                    return;
                }
            }
        }
    });
    let env = vec![("NOTIFY_SOCKET", format!("@{name}")), ("WATCHDOG_USEC", "200000".into())];
    let setup = Setup { env, pushed, ..Setup::default() };
    // A 3 s poll: only the watchdog interval (half of 200 ms) can make the daemon loop faster.
    let mut lab = start_with(|d| d.poll_interval = ananke_core::config::HumanDuration::secs(3), &setup);
    std::thread::sleep(Duration::from_secs(2));
    assert!(terminate(&mut lab).success());
    reader.join().unwrap();
    let messages: Vec<String> = rx.try_iter().collect();
    assert_eq!(messages.first().map(String::as_str), Some("READY=1"), "{messages:?}");
    assert_eq!(messages.last().map(String::as_str), Some("STOPPING=1"), "{messages:?}");
    let pets = messages.iter().filter(|m| *m == "WATCHDOG=1").count();
    assert!(pets >= 6, "the watchdog is petted every 100 ms, not every poll: {messages:?}");
    assert!(messages.iter().any(|m| m.starts_with("STATUS=cluster Up")), "{messages:?}");
}

#[test]
fn power_lost_during_a_startup_aborts_it_and_a_stopping_daemon_leaves_its_run_going() {
    // The cluster is down (an executed shutdown) and the startup the daemon starts waits 8 s for
    // the Vault shares: long enough to lose power during it.
    let setup = Setup { shares_delay_s: 8, shut_down_first: true, ..Setup::default() };
    let mut lab = start_with(|_| {}, &setup);
    let started = lab.wait_for("a startup started", |s| has_event(s, "started `ananke startup"));
    let child = started.child.expect("the status names the running startup");
    lab.nut.set_vars(&[("ups.status", "OB DISCHRG LB"), ("battery.runtime", "30")]).unwrap();
    lab.wait_for("the startup aborted", |s| has_event(s, &format!("aborting the startup run (pid {})", child.pid)));
    let report = lab.wait_for("a shutdown started", |s| has_event(s, "started `ananke shutdown"));
    let shutdown = report.child.clone().expect("the status names the running shutdown");
    assert!(!has_event(&report, "cannot start"), "{}", lab.events());
    assert_eq!(terminate(&mut lab).code(), Some(0));
    let last = lab.status().unwrap();
    let want = format!("daemon stopping; shutdown run (pid {}) goes on", shutdown.pid);
    assert!(has_event(&last, &want) || lab.report("last-shutdown-report.json").is_some(), "{}", lab.events());
    // The run outlives the daemon and finishes on its own.
    let start = Instant::now();
    while lab.report("last-shutdown-report.json").is_none() {
        assert!(start.elapsed() < Duration::from_secs(60), "the shutdown never finished");
        std::thread::sleep(Duration::from_millis(50));
    }
    let aborted = lab.report("last-startup-report.json").expect("the aborted startup wrote its report");
    assert_eq!(aborted["outcome"], "aborted");
}

#[test]
fn a_daemon_started_during_a_shutdown_run_knows_the_cluster_is_shutting_down() {
    let setup = Setup { lock_held_by: Some("shutdown"), ..Setup::default() };
    let mut lab = start_with(|_| {}, &setup);
    let status = lab.status().expect("status written");
    assert!(
        has_event(&status, "a shutdown run the daemon did not start holds the lock (run run-held"),
        "{}",
        lab.events()
    );
    // The run ends (here: killed, without a report): the daemon learns it from the lock, and
    // restores the cluster once power is stable, as after a shutdown that did not complete.
    lab.release_lock();
    lab.wait_for("the adopted run's end", |s| {
        has_event(s, "the adopted shutdown run run-held") && has_event(s, "ended: no report")
    });
    lab.wait_for("a startup started", |s| has_event(s, "started `ananke startup"));
    assert_eq!(status.phase, ananke_core::power::ClusterPhase::ShuttingDown, "{}", lab.events());
    assert!(status.child.is_none(), "the run is not the daemon's child");
}

#[test]
fn a_failed_startup_is_reported_and_retried_after_another_stable_window() {
    let setup = Setup { shares_fail: true, shut_down_first: true, ..Setup::default() };
    let lab = start_with(|_| {}, &setup);
    let s = lab.wait_for("the failed startup reported", |s| has_event(s, "the startup failed: see its report"));
    assert_eq!(s.phase, ananke_core::power::ClusterPhase::Down, "{}", lab.events());
    let report = lab.report("last-startup-report.json").expect("the failed startup wrote its report");
    assert_eq!(report["outcome"], "failed");
    lab.wait_for("a second startup", |s| {
        s.events.iter().filter(|e| e.message.contains("started `ananke startup")).count() >= 2
    });
}

#[test]
fn a_daemon_whose_binary_is_gone_reports_that_it_cannot_start_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("ananke");
    std::fs::copy(assert_cmd::cargo::cargo_bin("ananke"), &copy).unwrap();
    let setup = Setup { binary: Some(copy.clone()), ..Setup::default() };
    let mut lab = start_with(|_| {}, &setup);
    std::fs::remove_file(&copy).unwrap();
    lab.nut.set_vars(&[("ups.status", "OB DISCHRG LB"), ("battery.runtime", "30")]).unwrap();
    let s = lab.wait_for("the failed start reported", |s| has_event(s, "cannot start `ananke shutdown --execute"));
    assert!(s.child.is_none(), "no run is recorded as running");
}

#[test]
fn power_failing_while_a_startup_the_daemon_did_not_start_holds_the_lock_stops_it_and_shuts_down() {
    // The bootstrap's startup (or an operator's) holds the lock; low battery must not wait for it.
    let setup = Setup { lock_held_by: Some("startup"), ..Setup::default() };
    let mut lab = start_with(|_| {}, &setup);
    lab.nut.set_vars(&[("ups.status", "OB DISCHRG LB"), ("battery.runtime", "3000")]).unwrap();
    let s = lab.wait_for("the shutdown started", |s| has_event(s, "started `ananke shutdown"));
    assert!(has_event(&s, "aborting the startup run run-held"), "{}", lab.events());
    lab.wait_for("the shutdown ended", |s| has_event(s, "shutdown run") && has_event(s, "ended"));
    let report = lab.report("last-shutdown-report.json").expect("shutdown report");
    assert_eq!(report["outcome"], "succeeded", "{report}");
}

#[test]
fn a_startup_the_daemon_did_not_start_is_waited_for_and_its_end_is_told_to_the_policy() {
    let setup = Setup { lock_held_by: Some("startup"), ..Setup::default() };
    let mut lab = start_with(|_| {}, &setup);
    let status = lab.status().expect("status written");
    assert_eq!(status.phase, ananke_core::power::ClusterPhase::StartingUp, "{}", lab.events());
    lab.release_lock();
    // No report: it did not succeed; the policy waits for another stable window and starts up.
    lab.wait_for("the adopted startup's end", |s| {
        has_event(s, "the adopted startup run run-held") && has_event(s, "ended: no report")
    });
    lab.wait_for("a startup started", |s| has_event(s, "started `ananke startup"));
}

#[test]
fn a_shutdown_someone_else_started_is_waited_for_instead_of_starting_another() {
    let mut lab = start_with(|_| {}, &Setup::default());
    let other = crate::common::LockHeld::start(&lab.state, "run-other", "shutdown");
    lab.nut.set_vars(&[("ups.status", "OB DISCHRG LB"), ("battery.runtime", "3000")]).unwrap();
    let s = lab.wait_for("the other shutdown adopted", |s| {
        has_event(s, "a shutdown run the daemon did not start holds the lock (run run-other")
    });
    assert!(!has_event(&s, "started `ananke shutdown"), "no second shutdown: {}", lab.events());
    drop(other);
    lab.wait_for("its end", |s| has_event(s, "the adopted shutdown run run-other") && has_event(s, "ended: no report"));
}

#[test]
fn an_adopted_startup_that_succeeded_leaves_the_cluster_up_without_another_startup() {
    let setup = Setup { lock_held_by: Some("startup"), ..Setup::default() };
    let mut lab = start_with(|_| {}, &setup);
    // The startup writes its report before it releases the lock, as a run does.
    let report = serde_json::json!({
        "version": 1, "run_id": "run-held", "command": "startup", "target": "sim:titan-lab", "ananke_version": "test",
        "execute": true, "outcome": "succeeded", "final_state": "ready",
        "started_at": "2026-12-03T10:00:00Z", "finished_at": "2026-12-03T10:05:00Z", "duration_ms": 300_000,
        "phases": [], "effect_counts": {}, "effects": [], "diagnostics": [], "unconfirmed": [], "warnings": [], "trace": ""
    });
    std::fs::create_dir_all(lab.state.join("reports")).unwrap();
    std::fs::write(lab.state.join("reports/run-held.json"), report.to_string()).unwrap();
    lab.release_lock();
    let s = lab.wait_for("the adopted startup's end told to the policy", |s| {
        has_event(s, "the adopted startup run run-held") && s.phase == ananke_core::power::ClusterPhase::Up
    });
    assert!(has_event(&s, "ended: succeeded"), "{}", lab.events());
}

#[test]
fn an_operators_startup_begun_after_the_daemon_is_stopped_when_power_fails() {
    let mut lab = start_with(|_| {}, &Setup::default());
    let _operator = crate::common::LockHeld::start(&lab.state, "run-op", "startup");
    lab.nut.set_vars(&[("ups.status", "OB DISCHRG LB"), ("battery.runtime", "3000")]).unwrap();
    let s = lab.wait_for("the shutdown started", |s| has_event(s, "started `ananke shutdown"));
    assert!(has_event(&s, "aborting the startup run run-op"), "{}", lab.events());
    lab.wait_for("the shutdown ended", |s| has_event(s, "shutdown run") && has_event(s, "ended"));
    let report = lab.report("last-shutdown-report.json").expect("shutdown report");
    assert_eq!(report["outcome"], "succeeded", "{report}");
}
