//! The critical path of small labs, computed by hand.

use ananke_sim::critical_path::critical_path;
use ananke_sim::scenario::{builtin, Scenario};
use std::time::Duration;

const LAB: &str = "name: lab
nodes:
  - { name: s1, role: server, power_domain: p, boot: 60s, k3s_start: 20s, kubelet_ready: 10s, k3s_stop: 5s }
  - { name: a1, role: agent, power_domain: p, boot: 30s, k3s_start: 10s, kubelet_ready: 10s, k3s_stop: 7s }
power_domains:
  - { name: p, ups: p, battery_runtime: 10m }
components:
  - { name: db, kind: app, start: 30s, stop: 10s, workload: { kind: StatefulSet, namespace: x, name: db } }
  - { name: app, kind: app, start: 15s, stop: 5s, depends_on: [db], workload: { kind: Deployment, namespace: x, name: app } }
outage: { duration: 1h }
expect:
  startup: { state: ready }
ananke:
  soak: { duration: 2m }
";

#[test]
fn a_two_node_lab() {
    let cp = critical_path(&Scenario::parse(LAB, "lab").unwrap());
    // API at 60+20; a1 Ready at max(30+10+10, 80) = 80; db 80+30; app +15 = 125; + soak 120.
    assert_eq!(cp.startup, Some(Duration::from_secs(245)));
    // app stops (5s), then db (10s); agents 7s; servers 5s.
    assert_eq!(cp.shutdown, Duration::from_secs(27));
}

#[test]
fn without_an_outage_hosts_do_not_boot_and_a_lost_required_node_has_no_startup() {
    let warm = LAB.replace("outage: { duration: 1h }\n", "");
    let cp = critical_path(&Scenario::parse(&warm, "lab").unwrap());
    assert_eq!(cp.startup, Some(Duration::from_secs(20 + 30 + 15 + 120)));
    assert_eq!(critical_path(&builtin("node-lost-required").unwrap()).startup, None);
    let ignored = critical_path(&builtin("node-lost-ignored").unwrap()).startup.unwrap();
    assert!(ignored <= critical_path(&builtin("titan-lab").unwrap()).startup.unwrap());
}

#[test]
fn a_slow_server_only_delays_its_own_node_gate() {
    let lab = critical_path(&builtin("titan-lab").unwrap()).startup.unwrap();
    let slow = critical_path(&builtin("slow-server-quorum").unwrap()).startup.unwrap();
    // The API forms with 2 of 3 servers; gate 2 still wants titan-02 Ready: boot 75s, k3s 30s +
    // 5m, kubelet 15s, then the 10m soak.
    assert_eq!(slow, Duration::from_secs(75 + 30 + 300 + 15 + 600));
    assert!(lab < slow);
}
