//! The NUT adapter against a real `upsd` with the `dummy-ups` driver on loopback.
//!
//! Each test starts its own upsd on a free port; without NUT installed they fail and say what to
//! install (see `ananke_testing::nut`).

use ananke_core::adapters::nut::{DomainPower, ErrCode, MonitorSettings, NutClient, NutError, UpsMonitor};
use ananke_core::config::DaemonSettings;
use ananke_testing::nut::{
    NutOptions, NutServer, DESCRIPTION, NO_LOGIN_PASSWORD, NO_LOGIN_USER, PASSWORD, SECOND_UPS, UPS, USER,
};
use std::time::{Duration, Instant};

/// Bound on waiting for a change to travel .dev file -> driver -> upsd -> adapter (about 2 s).
const CHANGE: Duration = Duration::from_secs(20);

fn server() -> NutServer {
    NutServer::start().unwrap_or_else(|e| panic!("cannot start upsd with dummy-ups: {e}"))
}

fn settings() -> MonitorSettings {
    MonitorSettings {
        request_timeout: Duration::from_secs(3),
        backoff_max: Duration::from_secs(1),
        ..MonitorSettings::from_daemon(&DaemonSettings::default())
    }
}

fn client(server: &NutServer) -> NutClient {
    NutClient::connect(server.host(), server.port(), Duration::from_secs(3)).expect("connects to upsd")
}

/// Polls the monitor's first domain until `done` holds, within [`CHANGE`].
fn wait_for(
    monitor: &mut UpsMonitor,
    server: &NutServer,
    what: &str,
    done: impl Fn(&DomainPower) -> bool,
) -> DomainPower {
    let start = Instant::now();
    loop {
        let power = monitor.poll().remove(0);
        if done(&power) {
            return power;
        }
        assert!(start.elapsed() < CHANGE, "no {what} within {CHANGE:?}; last poll: {power:?}\n{}", server.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn flags_are(power: &DomainPower, flags: &[&str]) -> bool {
    power.status.reachable && power.status.flags == flags
}

#[test]
fn lists_the_ups_with_its_quoted_description() {
    let server = server();
    let mut client = client(&server);
    let upses = client.list_ups().expect("LIST UPS");
    assert_eq!(upses.len(), 1, "{upses:?}");
    assert_eq!((upses[0].name.as_str(), upses[0].description.as_str()), (UPS, DESCRIPTION));
    client.logout().expect("LOGOUT");
}

#[test]
fn reads_on_line_with_charge_and_runtime() {
    let server = server();
    let mut client = client(&server);
    let reading = client.status(UPS).expect("LIST VAR");
    assert_eq!(reading.flags, ["OL"]);
    assert_eq!((reading.charge, reading.runtime_s), (Some(100.0), Some(1800)));
    assert_eq!(reading.raw.get("ups.load").map(String::as_str), Some("25"));
    assert_eq!(client.get_var(UPS, "ups.status").expect("GET VAR"), "OL");
}

#[test]
fn follows_the_ups_through_ol_ob_ob_lb_and_back() {
    let mut server = server();
    let mut monitor = UpsMonitor::new(&[server.power_domain("statera")], settings()).expect("monitor");
    let first = wait_for(&mut monitor, &server, "OL", |p| flags_are(p, &["OL"]));
    assert_eq!(first.status.domain, "statera");
    let steps: [(&str, &str, &str, &[&str]); 3] = [
        ("OB DISCHRG", "80", "1200", &["OB", "DISCHRG"]),
        ("OB DISCHRG LB", "10", "120", &["OB", "DISCHRG", "LB"]),
        ("OL CHRG", "12", "150", &["OL", "CHRG"]),
    ];
    for (status, charge, runtime, flags) in steps {
        let at = Instant::now();
        server
            .set_vars(&[("ups.status", status), ("battery.charge", charge), ("battery.runtime", runtime)])
            .expect("rewrite .dev");
        let seen = wait_for(&mut monitor, &server, status, |p| {
            flags_are(p, flags) && p.status.runtime_s.is_some_and(|r| r.to_string() == runtime)
        });
        assert_eq!(seen.status.charge, charge.parse().ok());
        assert!(!seen.stale && seen.error.is_none(), "{seen:?}");
        eprintln!("{status}: seen after {:?}", at.elapsed());
    }
}

#[test]
fn reports_forced_shutdown() {
    let server = server();
    let mut monitor = UpsMonitor::new(&[server.power_domain("statera")], settings()).expect("monitor");
    wait_for(&mut monitor, &server, "OL", |p| flags_are(p, &["OL"]));
    server.force_shutdown().expect("FSD as admin");
    let seen = wait_for(&mut monitor, &server, "FSD", |p| p.status.reachable && p.status.has("FSD"));
    assert!(seen.status.has("OL"), "{seen:?}");
}

#[test]
fn a_wrong_ups_name_is_a_permanent_error() {
    let server = server();
    let mut client = client(&server);
    let err = client.status("no-such-ups").expect_err("unknown UPS");
    assert!(matches!(err, NutError::Server { code: ErrCode::UnknownUps, .. }), "{err:?}");
    assert!(!err.is_transient());
    // The connection survives an ERR answer.
    assert_eq!(client.status(UPS).expect("still usable").flags, ["OL"]);

    let mut domain = server.power_domain("statera");
    domain.ups.name = "no-such-ups".to_owned();
    let mut monitor = UpsMonitor::new(&[domain], settings()).expect("monitor");
    let power = monitor.poll().remove(0);
    assert!(!power.status.reachable && power.permanent && !power.stale, "{power:?}");
    let expected = format!("serves no UPS named \"no-such-ups\": it serves \"{UPS}\"");
    assert!(power.error.as_deref().is_some_and(|e| e.contains(&expected)), "{power:?}");
    assert_eq!(power.status.error, power.error, "the cause travels in the observation");
}

fn two_ups_server() -> NutServer {
    NutServer::start_with(NutOptions { second_ups: true, ..NutOptions::default() })
        .unwrap_or_else(|e| panic!("cannot start upsd with two dummy-ups: {e}"))
}

/// (reachable, flags, error) of each report.
fn each(all: &[DomainPower]) -> Vec<(bool, Vec<String>, String)> {
    all.iter().map(|p| (p.status.reachable, p.status.flags.clone(), p.error.clone().unwrap_or_default())).collect()
}

#[test]
fn a_misspelled_ups_costs_only_its_own_domain_and_names_what_upsd_serves() {
    let server = two_ups_server();
    let domains = [
        server.power_domain("east"),
        server.power_domain_of("west", "dumy"),
        server.power_domain_of("south", SECOND_UPS),
    ];
    let mut monitor = UpsMonitor::new(&domains, settings()).expect("monitor");
    let all = each(&monitor.poll());
    assert_eq!((all[0].0, all[0].1.clone()), (true, vec!["OL".to_owned()]), "{all:?}\n{}", server.logs());
    assert_eq!((all[2].0, all[2].1.clone()), (true, vec!["OB".to_owned(), "DISCHRG".to_owned()]), "{all:?}");
    assert!(
        !all[1].0 && all[1].2.contains(&format!("no UPS named \"dumy\": it serves \"{UPS}\", \"{SECOND_UPS}\"")),
        "{all:?}"
    );
}

#[test]
fn logging_in_each_domain_fails_or_succeeds_on_its_own_cause() {
    let server = two_ups_server();
    let domains = [
        server.power_domain_as("east", UPS, USER, PASSWORD).unwrap(),
        server.power_domain_as("west", "dumy", USER, PASSWORD).unwrap(),
        server.power_domain_as("north", SECOND_UPS, USER, "not-the-password").unwrap(),
        server.power_domain_as("south", SECOND_UPS, NO_LOGIN_USER, NO_LOGIN_PASSWORD).unwrap(),
    ];
    let mut monitor = UpsMonitor::new(&domains, settings()).expect("monitor");
    let reports = monitor.poll();
    let all = each(&reports);
    assert_eq!((all[0].0, all[0].1.clone()), (true, vec!["OL".to_owned()]), "{all:?}\n{}", server.logs());
    assert!(
        !all[1].0 && all[1].2.contains(&format!("no UPS named \"dumy\": it serves \"{UPS}\", \"{SECOND_UPS}\"")),
        "{all:?}"
    );
    for (i, user) in [(2, USER), (3, NO_LOGIN_USER)] {
        let error = &all[i].2;
        assert!(!all[i].0 && reports[i].permanent, "{all:?}");
        assert!(error.contains(&format!("refused the credentials of NUT user \"{user}\"")), "{error}");
        assert!(
            error.contains("ACCESS-DENIED")
                && error.contains("the password is wrong, or the user is not an `upsmon` user"),
            "{error}"
        );
        assert!(!error.contains("not-the-password") && !error.contains(NO_LOGIN_PASSWORD), "{error}");
    }
}

#[test]
fn reports_a_stopped_upsd_as_unreachable_and_reconnects_when_it_returns() {
    let mut server = server();
    let mut monitor = UpsMonitor::new(&[server.power_domain("statera")], settings()).expect("monitor");
    wait_for(&mut monitor, &server, "OL", |p| flags_are(p, &["OL"]));
    server.set_state("OB DISCHRG").expect("rewrite .dev");
    wait_for(&mut monitor, &server, "OB", |p| p.status.reachable && p.status.has("OB"));

    server.stop_upsd();
    let lost = wait_for(&mut monitor, &server, "unreachable", |p| !p.status.reachable);
    assert!(!lost.permanent, "{lost:?}");
    assert!(lost.error.as_deref().is_some_and(|e| e.contains("upsd at 127.0.0.1")), "{lost:?}");
    assert!(lost.status.has("OB"), "the last good reading is kept: {lost:?}");

    server.start_upsd().expect("upsd restarts on the same port");
    let back = wait_for(&mut monitor, &server, "reconnection", |p| p.status.reachable);
    assert!(back.status.has("OB") && !back.stale && back.error.is_none(), "{back:?}");
}

#[test]
fn old_data_turns_stale_while_upsd_is_gone() {
    let mut server = server();
    let settings = MonitorSettings { stale_after: Duration::from_secs(1), ..settings() };
    let mut monitor = UpsMonitor::new(&[server.power_domain("statera")], settings).expect("monitor");
    wait_for(&mut monitor, &server, "OL", |p| flags_are(p, &["OL"]));
    server.stop_upsd();
    let stale = wait_for(&mut monitor, &server, "stale", |p| p.stale);
    assert!(!stale.status.reachable && stale.status.has("OL"), "{stale:?}");
}

#[test]
fn a_stopped_driver_is_reported_stale_then_fresh_again() {
    let mut server = server();
    let mut monitor = UpsMonitor::new(&[server.power_domain("statera")], settings()).expect("monitor");
    wait_for(&mut monitor, &server, "OL", |p| flags_are(p, &["OL"]));
    server.stop_driver();
    // On its way out the driver may first publish `WAIT`, which is stale too.
    let gone = |p: &DomainPower| p.error.as_deref().is_some_and(|e| e.contains("DRIVER-NOT-CONNECTED"));
    let stale = wait_for(&mut monitor, &server, "DRIVER-NOT-CONNECTED", gone);
    assert!(stale.stale && !stale.status.reachable && !stale.permanent && stale.status.has("OL"), "{stale:?}");

    server.start_driver().expect("driver restarts");
    let fresh = wait_for(&mut monitor, &server, "fresh data", |p| p.status.reachable);
    assert!(!fresh.stale && fresh.status.has("OL"), "{fresh:?}");
}

#[test]
fn a_silent_driver_makes_upsd_say_data_stale() {
    let server = NutServer::start_with(NutOptions { maxage_s: 3, ..NutOptions::default() })
        .unwrap_or_else(|e| panic!("cannot start upsd: {e}"));
    let mut monitor = UpsMonitor::new(&[server.power_domain("statera")], settings()).expect("monitor");
    wait_for(&mut monitor, &server, "OL", |p| flags_are(p, &["OL"]));
    server.freeze_driver();
    let stale = wait_for(&mut monitor, &server, "DATA-STALE", |p| p.stale);
    server.thaw_driver();
    assert!(stale.error.as_deref().is_some_and(|e| e.contains("DATA-STALE")), "{stale:?}");
    assert!(!stale.permanent, "{stale:?}");
    wait_for(&mut monitor, &server, "fresh data", |p| p.status.reachable && !p.stale);
}

#[test]
fn logs_in_with_a_password_file_and_names_a_refused_user_without_the_password() {
    let server = server();
    let good = server.power_domain_with_login("statera", PASSWORD).expect("password file");
    let mut monitor = UpsMonitor::new(&[good], settings()).expect("monitor");
    let power = monitor.poll().remove(0);
    assert!(flags_are(&power, &["OL"]), "{power:?}\n{}", server.logs());
    monitor.close();

    let secret = "wrong-s3cret-value";
    let bad = server.power_domain_with_login("pyrphoros", secret).expect("password file");
    let mut monitor = UpsMonitor::new(&[bad], settings()).expect("monitor");
    let power = monitor.poll().remove(0);
    let error = power.error.clone().unwrap_or_default();
    assert!(!power.status.reachable && power.permanent, "{power:?}");
    assert!(error.contains("refused the credentials") && error.contains(USER), "{error}");
    assert!(!format!("{power:?}").contains(secret), "{power:?}");

    let mut client = client(&server);
    let creds = ananke_core::adapters::nut::Credentials::new(USER, secret);
    let err = client.login(&creds, UPS).expect_err("wrong password");
    assert!(matches!(err, NutError::AuthRejected { code: ErrCode::AccessDenied, .. }), "{err:?}");
    assert!(
        !err.to_string().contains(secret)
            && !format!("{err:?}").contains(secret)
            && !format!("{creds:?}").contains(secret)
    );
}

#[test]
fn two_domains_on_one_upsd_keep_their_order() {
    let server = server();
    let domains = [server.power_domain("statera"), server.power_domain("pyrphoros")];
    let mut monitor = UpsMonitor::new(&domains, settings()).expect("monitor");
    let all = monitor.poll();
    let names: Vec<_> = all.iter().map(|p| p.status.domain.as_str()).collect();
    assert_eq!(names, ["statera", "pyrphoros"]);
    assert!(all.iter().all(|p| flags_are(p, &["OL"])), "{all:?}");
}

#[test]
fn domains_on_two_upsds_are_read_side_by_side_in_their_order() {
    let server = server();
    // The second upsd is a port nobody listens on (bound, then closed): a link of its own.
    let closed = std::net::TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()).expect("a free port");
    let mut gone = server.power_domain("aether");
    gone.ups.port = closed.port();
    let domains = [gone, server.power_domain("statera"), server.power_domain("pyrphoros")];
    let mut monitor = UpsMonitor::new(&domains, settings()).expect("monitor");
    let all = monitor.poll();
    let names: Vec<_> = all.iter().map(|p| p.status.domain.as_str()).collect();
    assert_eq!(names, ["aether", "statera", "pyrphoros"]);
    assert!(!all[0].status.reachable && all[0].error.as_deref().is_some_and(|e| e.contains("refused")), "{all:?}");
    assert!(all[1..].iter().all(|p| flags_are(p, &["OL"])), "{all:?}");
    monitor.close();
}

#[test]
fn an_unchanged_ups_is_no_news_and_its_reading_stays_fresh() {
    let mut server = server();
    let settings = MonitorSettings { stale_after: Duration::from_secs(1), ..settings() };
    let mut monitor = UpsMonitor::new(&[server.power_domain("statera")], settings).expect("monitor");
    assert!(monitor.reports()[0].error.as_deref() == Some("not read yet"), "{:?}", monitor.reports());
    assert!(monitor.refresh(), "the first reading is news");
    assert!(flags_are(&monitor.reports()[0], &["OL"]), "{:?}", monitor.reports());
    // Longer than stale_after, with nothing new: the same answer is as fresh as the last poll.
    std::thread::sleep(Duration::from_millis(1200));
    assert!(!monitor.refresh(), "nothing changed: {:?}", monitor.reports());
    let power = &monitor.reports()[0];
    assert!(flags_are(power, &["OL"]) && !power.stale, "{power:?}");
    // An upsd gone right after such a poll: unreachable, but the last reading is not old yet.
    server.stop_upsd();
    assert!(monitor.refresh(), "a failure is news");
    let power = &monitor.reports()[0];
    assert!(!power.status.reachable && !power.stale && power.status.flags == ["OL"], "{power:?}");
    server.start_upsd().expect("upsd again");
    server.set_state("OB DISCHRG").expect("on battery");
    let start = Instant::now();
    while !(monitor.refresh() && flags_are(&monitor.reports()[0], &["OB", "DISCHRG"])) {
        assert!(start.elapsed() < CHANGE, "the change never came: {:?}\n{}", monitor.reports(), server.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
    monitor.close();
}
