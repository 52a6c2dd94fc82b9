//! The power policy on a virtual clock: blips, long outages, low battery, power back mid-shutdown
//! (both policies), stable power after a shutdown, lost UPSes (both policies).

use super::*;
use crate::config::HumanDuration;

fn settings() -> DaemonSettings {
    DaemonSettings {
        debounce: HumanDuration::secs(30),
        stable_for: HumanDuration::secs(300),
        min_battery_charge: 50,
        ..DaemonSettings::default()
    }
}

fn ups(domain: &str, flags: &str, charge: f64, runtime_s: u64) -> UpsStatus {
    UpsStatus {
        domain: domain.into(),
        reachable: true,
        flags: flags.split_whitespace().map(str::to_owned).collect(),
        charge: Some(charge),
        runtime_s: Some(runtime_s),
        error: None,
    }
}

fn lost(domain: &str) -> UpsStatus {
    UpsStatus { domain: domain.into(), reachable: false, ..UpsStatus::default() }
}

fn at(secs: u64) -> Time {
    Time(secs * 1000)
}

fn feed(p: &mut PowerPolicy, secs: u64, readings: Vec<UpsStatus>) -> Vec<PowerDecision> {
    p.handle(at(secs), &PowerInput::Readings(readings))
}

fn shutdowns(d: &[PowerDecision]) -> usize {
    d.iter().filter(|d| matches!(d, PowerDecision::StartShutdown { .. })).count()
}

fn policy(s: DaemonSettings) -> PowerPolicy {
    PowerPolicy::new(s, ClusterPhase::Up, Duration::from_secs(600))
}

#[test]
fn a_blip_under_the_debounce_is_reported_and_nothing_else() {
    let mut p = policy(settings());
    assert!(feed(&mut p, 0, vec![ups("statera", "OL", 100.0, 1200)]).is_empty());
    // On battery, runtime already under the budget: still nothing inside the debounce window.
    for t in 1..20 {
        assert_eq!(shutdowns(&feed(&mut p, t, vec![ups("statera", "OB", 99.0, 500)])), 0, "t={t}");
    }
    let d = feed(&mut p, 20, vec![ups("statera", "OL", 99.0, 1200)]);
    assert!(
        matches!(&d[..], [PowerDecision::Report { message, .. }] if message.contains("blip") && message.contains("19s")),
        "{d:?}"
    );
    assert_eq!(p.phase(), ClusterPhase::Up);
}

#[test]
fn a_long_outage_shuts_down_when_the_runtime_crosses_the_budget_not_before() {
    let mut p = policy(settings());
    feed(&mut p, 0, vec![ups("pyrphoros", "OL", 100.0, 1800)]);
    // Runtime drains 2 s per second; budget 600 s: crossing at runtime 600 → t = 1 + 600 = 601.
    let mut fired = None;
    for t in 1..1000 {
        let runtime = 1800 - 2 * t;
        let d = feed(&mut p, t, vec![ups("pyrphoros", "OB", 90.0, runtime)]);
        if shutdowns(&d) > 0 {
            assert!(d.contains(&PowerDecision::StartShutdown { reason: "power-pyrphoros".into() }));
            fired = Some((t, runtime));
            break;
        }
    }
    assert_eq!(fired, Some((600, 600)), "fires exactly when runtime <= budget");
    assert_eq!(p.phase(), ClusterPhase::ShuttingDown);
    assert_eq!(shutdowns(&feed(&mut p, 601, vec![ups("pyrphoros", "OB", 80.0, 598)])), 0, "once");
}

#[test]
fn low_battery_and_fsd_shut_down_at_once() {
    for flags in ["OB LB", "OB FSD", "FSD"] {
        let mut p = policy(settings());
        feed(&mut p, 0, vec![ups("statera", "OL", 100.0, 1200)]);
        let d = feed(&mut p, 1, vec![ups("statera", flags, 20.0, 3000)]);
        assert_eq!(shutdowns(&d), 1, "{flags}: {d:?}");
    }
}

#[test]
fn power_back_mid_shutdown_finish_policy_waits_then_starts_up_when_stable() {
    let mut p = policy(settings());
    feed(&mut p, 0, vec![ups("statera", "OB LB", 30.0, 100)]);
    assert_eq!(p.phase(), ClusterPhase::ShuttingDown);
    assert!(feed(&mut p, 10, vec![ups("statera", "OL", 30.0, 100)])
        .iter()
        .all(|d| matches!(d, PowerDecision::Report { .. })));
    assert_eq!(p.phase(), ClusterPhase::ShuttingDown, "finish: the shutdown goes on");
    assert!(p.handle(at(60), &PowerInput::ShutdownEnded { succeeded: true }).is_empty(), "not stable for 300 s yet");
    assert_eq!(p.phase(), ClusterPhase::Down);
    assert!(feed(&mut p, 200, vec![ups("statera", "OL", 60.0, 1000)]).is_empty());
    assert_eq!(feed(&mut p, 310, vec![ups("statera", "OL", 60.0, 1000)]), vec![PowerDecision::StartStartup]);
    assert_eq!(p.phase(), ClusterPhase::StartingUp);
}

#[test]
fn power_back_mid_shutdown_abort_policy_aborts_and_restores() {
    let mut p = policy(DaemonSettings { power_return_policy: PowerReturnPolicy::Abort, ..settings() });
    feed(&mut p, 0, vec![ups("statera", "OB LB", 30.0, 100)]);
    let d = feed(&mut p, 10, vec![ups("statera", "OL", 30.0, 100)]);
    assert!(d.ends_with(&[PowerDecision::AbortShutdown, PowerDecision::StartStartup]), "{d:?}");
    assert!(p.handle(at(11), &PowerInput::ShutdownEnded { succeeded: false }).is_empty());
    assert_eq!(p.phase(), ClusterPhase::StartingUp);
    p.handle(at(100), &PowerInput::StartupEnded { succeeded: true });
    assert_eq!(p.phase(), ClusterPhase::Up);
}

#[test]
fn no_startup_with_low_charge_or_auto_startup_off() {
    let mut p = PowerPolicy::new(settings(), ClusterPhase::Down, Duration::from_secs(600));
    feed(&mut p, 0, vec![ups("statera", "OL", 40.0, 1000)]);
    assert!(feed(&mut p, 400, vec![ups("statera", "OL", 49.0, 1000)]).is_empty(), "charge under 50 %");
    assert_eq!(feed(&mut p, 401, vec![ups("statera", "OL", 51.0, 1000)]), vec![PowerDecision::StartStartup]);
    let mut p = PowerPolicy::new(
        DaemonSettings { auto_startup: false, ..settings() },
        ClusterPhase::Down,
        Duration::from_secs(600),
    );
    feed(&mut p, 0, vec![ups("statera", "OL", 90.0, 1000)]);
    assert!(feed(&mut p, 4000, vec![ups("statera", "OL", 90.0, 1000)]).is_empty());
}

#[test]
fn a_lost_ups_is_reported_once_and_alert_keeps_the_cluster() {
    let mut p = policy(settings());
    let d = feed(&mut p, 0, vec![lost("statera")]);
    assert!(
        matches!(&d[..], [PowerDecision::Report { message, .. }] if message.contains("unreachable") && message.contains("keeping")),
        "{d:?}"
    );
    for t in 1..2000 {
        assert!(feed(&mut p, t, vec![lost("statera")]).is_empty(), "reported once, no shutdown (t={t})");
    }
    let d = feed(&mut p, 2000, vec![ups("statera", "OL", 100.0, 1200)]);
    assert!(matches!(&d[..], [PowerDecision::Report { message, .. }] if message.contains("reachable again")), "{d:?}");
    let why = UpsStatus { error: Some("upsd serves no UPS named \"statra\"".into()), ..lost("statera") };
    let d = feed(&mut p, 2001, vec![why]);
    let expected =
        "UPS of statera unreachable or stale (upsd serves no UPS named \"statra\"): keeping the cluster as it is";
    assert!(
        matches!(&d[..], [PowerDecision::Report { message, .. }] if message == expected),
        "the cause in words: {d:?}"
    );
}

#[test]
fn a_lost_ups_assumed_on_battery_shuts_down_after_the_debounce() {
    let mut p = policy(DaemonSettings { ups_lost_policy: UpsLostPolicy::AssumeOnBattery, ..settings() });
    feed(&mut p, 0, vec![lost("statera")]);
    assert_eq!(shutdowns(&feed(&mut p, 29, vec![lost("statera")])), 0);
    assert_eq!(shutdowns(&feed(&mut p, 30, vec![lost("statera")])), 1, "no runtime known: the debounce decides");
}

#[test]
fn power_failing_again_during_startup_aborts_it_and_shuts_down() {
    let mut p = PowerPolicy::new(settings(), ClusterPhase::StartingUp, Duration::from_secs(600));
    feed(&mut p, 0, vec![ups("statera", "OL", 60.0, 1000)]);
    let d = feed(&mut p, 5, vec![ups("statera", "OB LB", 55.0, 300)]);
    assert!(d.contains(&PowerDecision::AbortStartup) && shutdowns(&d) == 1, "{d:?}");
}

#[test]
fn the_budget_comes_from_history_with_the_margin() {
    let s = settings();
    assert_eq!(shutdown_budget(None, &s), Duration::from_secs(900), "default 10 min x 1.5");
    assert_eq!(shutdown_budget(Some(120_000), &s), Duration::from_secs(180));
}

#[test]
fn a_failed_startup_is_retried_only_after_another_stable_window() {
    let mut p = PowerPolicy::new(settings(), ClusterPhase::Down, Duration::from_secs(600));
    feed(&mut p, 0, vec![ups("statera", "OL", 90.0, 1000)]);
    assert_eq!(feed(&mut p, 300, vec![ups("statera", "OL", 90.0, 1000)]), vec![PowerDecision::StartStartup]);
    let d = p.handle(at(400), &PowerInput::StartupEnded { succeeded: false });
    assert!(matches!(&d[..], [PowerDecision::Report { message, .. }] if message.contains("retrying")), "{d:?}");
    assert!(feed(&mut p, 699, vec![ups("statera", "OL", 90.0, 1000)]).is_empty());
    assert_eq!(feed(&mut p, 700, vec![ups("statera", "OL", 90.0, 1000)]), vec![PowerDecision::StartStartup]);
}

#[test]
fn the_policy_names_when_time_alone_may_bring_a_decision() {
    let wake = |p: &PowerPolicy| p.poll_timeout().map(|(t, why)| (t.0 / 1000, why));
    let mut p = policy(settings());
    assert_eq!(wake(&p), None, "up, nothing read yet");
    feed(&mut p, 0, vec![ups("statera", "OL", 100.0, 1800)]);
    assert_eq!(wake(&p), None, "up, on mains");
    feed(&mut p, 1, vec![ups("statera", "OB DISCHRG", 90.0, 1800)]);
    let debounce = settings().debounce.get().as_secs();
    assert_eq!(wake(&p), Some((1 + debounce, PolicyWake::Debounce("statera".into()))), "on battery: the debounce ends");
    feed(&mut p, 1 + debounce, vec![ups("statera", "OB DISCHRG", 90.0, 1800)]);
    assert_eq!(wake(&p), None, "past the debounce with runtime to spare: only the readings can decide");
    feed(&mut p, 2 + debounce, vec![ups("statera", "OL", 90.0, 1800)]);
    assert_eq!(wake(&p), None, "mains back, cluster up");
    feed(&mut p, 3 + debounce, vec![lost("statera")]);
    assert_eq!(wake(&p), None, "lost, alert: nothing waits on the clock");
    let mut p = policy(DaemonSettings { ups_lost_policy: UpsLostPolicy::AssumeOnBattery, ..settings() });
    feed(&mut p, 0, vec![lost("statera")]);
    assert_eq!(wake(&p), Some((debounce, PolicyWake::Debounce("statera".into()))), "lost, assumed on battery");
    for phase in [ClusterPhase::ShuttingDown, ClusterPhase::StartingUp] {
        let p = PowerPolicy::new(settings(), phase, Duration::from_secs(60));
        assert_eq!(p.poll_timeout().map(|(_, why)| why), Some(PolicyWake::Run), "{phase:?}");
    }
    // Down after a shutdown: the stable-power window's end, once every domain has mains.
    let mut p = PowerPolicy::new(settings(), ClusterPhase::Down, Duration::from_secs(60));
    assert_eq!(wake(&p), None, "down, nothing read");
    feed(&mut p, 10, vec![ups("statera", "OL", 90.0, 1000)]);
    let stable = settings().stable_for.get().as_secs();
    assert_eq!(wake(&p), Some((10 + stable, PolicyWake::StableFor)));
    assert_eq!(
        feed(&mut p, 10 + stable, vec![ups("statera", "OL", 90.0, 1000)]),
        vec![PowerDecision::StartStartup],
        "fed again at that time, it decides"
    );
}

#[test]
fn a_shutdown_that_did_not_complete_leaves_the_cluster_down_and_starts_it_up_on_stable_power() {
    let mut p = policy(settings());
    assert_eq!(shutdowns(&feed(&mut p, 0, vec![ups("main", "OB DISCHRG LB", 90.0, 600)])), 1);
    let out = p.handle(at(10), &PowerInput::ShutdownEnded { succeeded: false });
    assert!(
        matches!(&out[..], [PowerDecision::Report { message, .. }] if message.contains("did not complete")),
        "{out:?}"
    );
    assert_eq!(p.phase(), ClusterPhase::Down, "its changes wait for a startup");
    assert!(feed(&mut p, 20, vec![ups("main", "OB DISCHRG", 80.0, 600)]).is_empty(), "no second shutdown");
    let out = feed(&mut p, 400, vec![ups("main", "OL", 90.0, 3000)]);
    assert!(!out.contains(&PowerDecision::StartStartup), "stable_for not over yet: {out:?}");
    let out = feed(&mut p, 800, vec![ups("main", "OL", 90.0, 3000)]);
    assert!(out.contains(&PowerDecision::StartStartup), "{out:?}");
}

#[test]
fn a_shutdown_deferred_to_a_peer_leaves_the_cluster_up() {
    let mut p = policy(settings());
    assert_eq!(shutdowns(&feed(&mut p, 0, vec![ups("main", "OB DISCHRG LB", 90.0, 600)])), 1);
    assert_eq!(p.phase(), ClusterPhase::ShuttingDown);
    assert!(p.handle(at(1), &PowerInput::ShutdownDeferred).is_empty());
    assert_eq!(p.phase(), ClusterPhase::Up, "no run started: the cluster is as it was");
    assert!(p.handle(at(2), &PowerInput::ShutdownDeferred).is_empty());
    assert_eq!(p.phase(), ClusterPhase::Up, "a stray deferral changes nothing");
}

#[test]
fn low_battery_after_a_shutdown_that_did_not_complete_tries_it_once_more() {
    let mut p = policy(settings()).after_unfinished_shutdown();
    assert_eq!(p.phase(), ClusterPhase::Up);
    let mut p2 = PowerPolicy::new(settings(), ClusterPhase::Down, Duration::from_secs(60)).after_unfinished_shutdown();
    let out = feed(&mut p2, 0, vec![ups("main", "OB DISCHRG LB", 10.0, 60)]);
    assert_eq!(shutdowns(&out), 1, "{out:?}");
    assert!(
        matches!(&out[0], PowerDecision::Report { message, .. } if message.contains("trying once more")),
        "{out:?}"
    );
    assert_eq!(p2.phase(), ClusterPhase::ShuttingDown);
    assert!(p2.handle(at(5), &PowerInput::ShutdownEnded { succeeded: false })[0] != PowerDecision::StartStartup);
    assert_eq!(shutdowns(&feed(&mut p2, 10, vec![ups("main", "OB DISCHRG LB", 5.0, 30)])), 0, "once, not a storm");
    // A startup that succeeds forgets it.
    let _ = feed(&mut p, 0, vec![ups("main", "OB DISCHRG LB", 10.0, 60)]);
    assert!(p.handle(at(1), &PowerInput::StartupEnded { succeeded: true }).is_empty());
}
