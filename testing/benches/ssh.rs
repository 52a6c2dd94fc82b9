//! SSH fan-out bench: 64 real sshd on loopback, measured in one run.
//!
//! 1. ananke's reachability-and-auth gate over all 64, first cycle (new connections);
//! 2. the same gate on a later cycle, over the sessions kept open;
//! 3. a full probe cycle on kept sessions (`systemctl is-active` on every node, a remote process each);
//! 4. `parallel-ssh -p 64 ... true` (Debian `pssh`) over the same nodes, if installed.
//!
//! Targets (2 cores): 1 at most a quarter of 4; 2 under 50 ms. Run with
//! `scripts/bench-ssh.sh` (installs pssh if missing, then `cargo bench -p ananke-testing --bench ssh`).
//! `SSH_BENCH_NODES` changes the node count.

use ananke_core::adapters::ssh::{FleetOptions, NodeFleet};
use ananke_core::config::K3sRole;
use ananke_core::observation::SshStatus;
use ananke_testing::sshd::SshdFleet;
use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SAMPLES: usize = 3;
const LATER_SAMPLES: usize = 11;
/// Between cycles, as an observation loop would wait (and so sshd children of closed sessions exit).
const PAUSE: Duration = Duration::from_millis(500);

fn main() {
    let n: usize = std::env::var("SSH_BENCH_NODES").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let t = Instant::now();
    let fleet = SshdFleet::start(n).unwrap_or_else(|e| panic!("sshd fleet of {n}: {e}"));
    println!(
        "fleet: {n} sshd up in {:?} ({} .. {})",
        t.elapsed(),
        fleet.nodes()[0].known_hosts_name(),
        fleet.nodes()[n - 1].known_hosts_name()
    );
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");

    let (first, later, probe) = runtime.block_on(ananke_cycles(&fleet));
    let pssh = parallel_ssh(&fleet);

    println!();
    println!("ananke gate, first cycle (new sessions):   median {:>8.1} ms  {}", ms(median(&first)), samples(&first));
    println!("ananke gate, later cycle (kept sessions):  median {:>8.1} ms  {}", ms(median(&later)), samples(&later));
    println!("ananke probe (is-active), kept sessions:   median {:>8.1} ms  {}", ms(median(&probe)), samples(&probe));
    match pssh {
        Some(pssh) => {
            let p = median(&pssh);
            println!("parallel-ssh -p {n} true:                   median {:>8.1} ms  {}", ms(p), samples(&pssh));
            let ratio = median(&first).as_secs_f64() / p.as_secs_f64();
            println!("first cycle / parallel-ssh = {ratio:.3} (target <= 0.25: {})", verdict(ratio <= 0.25));
        }
        None => println!("parallel-ssh: not installed (apt-get install pssh), not measured"),
    }
    println!("later cycle < 50 ms: {}", verdict(median(&later) < Duration::from_millis(50)));
}

/// First cycles (each on a fresh fleet client), later gate cycles, and probe cycles.
async fn ananke_cycles(fleet: &SshdFleet) -> (Vec<Duration>, Vec<Duration>, Vec<Duration>) {
    let settings = fleet.ssh_settings();
    let inventory = fleet.inventory(K3sRole::Server);
    let mut first = Vec::new();
    let mut kept = None;
    for sample in 0..SAMPLES {
        let nodes = NodeFleet::new(&settings, &inventory, FleetOptions::default()).expect("fleet client");
        let t = Instant::now();
        let reach = nodes.check_all().await;
        first.push(t.elapsed());
        assert_all_reachable(&reach);
        if sample + 1 < SAMPLES {
            nodes.close().await;
        } else {
            kept = Some(nodes);
        }
        // Let the 64 sshd of the closed sessions exit (and the next cycle come, as in a real loop).
        tokio::time::sleep(PAUSE).await;
    }
    let nodes = kept.expect("at least one sample");
    let mut later = Vec::new();
    for _ in 0..LATER_SAMPLES {
        let t = Instant::now();
        let reach = nodes.check_all().await;
        later.push(t.elapsed());
        assert_all_reachable(&reach);
        tokio::time::sleep(PAUSE / 5).await;
    }
    let mut probe = Vec::new();
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let probes = nodes.probe_all().await;
        probe.push(t.elapsed());
        assert!(probes.iter().all(|p| p.ssh == SshStatus::Reachable), "{probes:?}");
    }
    nodes.close().await;
    (first, later, probe)
}

fn assert_all_reachable(reach: &[(String, SshStatus)]) {
    let bad: Vec<_> = reach.iter().filter(|(_, s)| *s != SshStatus::Reachable).collect();
    assert!(bad.is_empty(), "not reachable: {bad:?}");
}

/// `parallel-ssh -p N true` over the fleet, with the fleet's key and `known_hosts`.
fn parallel_ssh(fleet: &SshdFleet) -> Option<Vec<Duration>> {
    let found =
        Command::new("parallel-ssh").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !found {
        return None;
    }
    let hosts = fleet.dir().join("pssh-hosts");
    let list = fleet.nodes().iter().fold(String::new(), |mut s, n| {
        let _ = writeln!(s, "{}:{}", n.address, n.port);
        s
    });
    std::fs::write(&hosts, list).expect("hosts file");
    let options = format!(
        "-o UserKnownHostsFile={} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -i {} -o IdentitiesOnly=yes -o IdentityAgent=none -F /dev/null",
        fleet.known_hosts().display(),
        fleet.client_key().display()
    );
    let n = fleet.nodes().len().to_string();
    let mut times = Vec::new();
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let out = Command::new("parallel-ssh")
            .args(["-p", &n, "-t", "60", "-l", fleet.user(), "-h"])
            .arg(&hosts)
            .args(["-x", &options, "true"])
            .output()
            .expect("parallel-ssh runs");
        times.push(t.elapsed());
        assert!(out.status.success(), "parallel-ssh failed:\n{}", String::from_utf8_lossy(&out.stdout));
    }
    Some(times)
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn samples(v: &[Duration]) -> String {
    let list: Vec<String> = v.iter().map(|d| format!("{:.1}", ms(*d))).collect();
    format!("[{}]", list.join(", "))
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}
