//! `status` says why, against the world, with the Kubernetes API down (exactly when the SSH and
//! UPS causes matter): a node whose host key changed is named with the fingerprint it presented
//! and the `known_hosts` line it contradicts, a stopped node as unreachable, and each power
//! domain on one real upsd is read on its own: a misspelled UPS name costs only its domain and
//! is named with the UPSes upsd does serve.

use crate::e2e::Lab;
use ananke_testing::nut::{NutOptions, NutServer, SECOND_UPS, UPS};
use serde_json::Value;

#[test]
fn with_the_api_down_status_names_every_ssh_and_ups_cause() {
    let mut lab = Lab::start("titan-lab");
    let nut = NutServer::start_with(NutOptions { second_ups: true, ..NutOptions::default() })
        .expect("upsd and two dummy-ups start (packages nut-server, nut-client)");
    lab.edit_config(|c| {
        c.power_domains[0].ups = nut.power_domain_of("statera", UPS).ups;
        c.power_domains[1].ups = nut.power_domain_of("pyrphoros", "dumy").ups;
    });
    let changed = lab.change_host_key("titan-05");
    lab.stop_node("titan-04");
    lab.stop_api();

    let (code, json, stderr) = lab.ananke(&["status", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let status: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(status["api_reachable"], false, "{json}");
    let node = |name: &str| status["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name).unwrap().clone();
    let five = node("titan-05");
    assert_eq!(five["ssh"], "auth-failed", "{five}");
    let why = five["ssh_error"].as_str().unwrap();
    assert!(why.contains(&lab.fleet().host_fingerprint(changed)), "the presented fingerprint: {why}");
    assert!(why.contains(&format!("line {changed}")), "the known_hosts line: {why}");
    let four = node("titan-04");
    assert_eq!(four["ssh"], "unreachable", "{four}");
    assert!(four["ssh_error"].as_str().is_some_and(|e| !e.is_empty()), "{four}");
    assert_eq!(node("titan-01")["ssh"], "reachable");
    assert!(node("titan-01").get("ssh_error").is_none());

    let power = status["power"].as_array().unwrap();
    assert_eq!((power[0]["domain"].as_str(), power[0]["reachable"].as_bool()), (Some("statera"), Some(true)), "{json}");
    assert_eq!(power[0]["flags"], serde_json::json!(["OL"]), "the good name is read despite the bad one: {json}");
    assert!(power[0].get("error").is_none(), "{json}");
    assert_eq!(power[1]["reachable"], false);
    let cause = power[1]["error"].as_str().unwrap();
    assert!(
        cause.contains("serves no UPS named \"dumy\"") && cause.contains(&format!("\"{UPS}\", \"{SECOND_UPS}\"")),
        "{cause}"
    );

    let (code, text, stderr) = lab.ananke(&["status"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(text.contains("  titan-05 ssh: ") && text.contains("  titan-04 ssh: "), "{text}");
    assert!(text.contains("    why: upsd at") && text.contains("\"dumy\""), "{text}");
    let inventory: Vec<&str> =
        text.lines().skip_while(|l| !l.starts_with("  inventory ")).take_while(|l| !l.starts_with("  ssh-")).collect();
    assert!(!inventory.is_empty() && !text.contains("more)"), "every reason shown: {text}");
    let long = |l: &&str| l.chars().count() > 100 && l.split_whitespace().count() > 1;
    assert!(!text.lines().any(|l| long(&l)), "wrapped: {text}");
}
