//! The shutdown and startup ratios through the real binary: `ananke` with its real adapters
//! (kube, SSH to a real sshd fleet, NUT to a real upsd, HTTP, Vault) against `ananke-sim serve`
//! sped up, its wall-clock durations against the scenario's critical path scaled by the speed-up.
//! What the simulator's ratio does not show, this does: the adapters' own time.
//!
//! A benchmark, not a test: it asserts only that the runs succeed, and prints the figures.
//!
//!     ANANKE_BENCH_SPEED=20 cargo test -p ananke-cli --test it -- --ignored --nocapture bench_real
//!
//! (`ANANKE_BENCH_SCENARIOS=titan-lab,pdb-blocks-drain` to choose the scenarios,
//! `ANANKE_BENCH_VERBOSE=1` for every phase and effect with its time.)

use crate::e2e::{Lab, Login};
use ananke_core::config::HumanDuration;
use std::time::Duration;

/// The scenarios whose faults `serve` itself carries (the SSH ones need the fleet rigged: see
/// `e2e_outcomes.rs`).
const SCENARIOS: &[&str] =
    &["titan-lab", "flux-gitea-deadlock", "vault-breakglass", "pdb-blocks-drain", "operator-state-preserved"];

fn scaled(d: HumanDuration, speed: f64) -> HumanDuration {
    HumanDuration(d.get().div_f64(speed))
}

#[test]
#[ignore = "a benchmark: run with --ignored --nocapture"]
fn bench_real_binary_ratios() {
    let speed: f64 = std::env::var("ANANKE_BENCH_SPEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20.0);
    let names: Vec<String> = std::env::var("ANANKE_BENCH_SCENARIOS").map_or_else(
        |_| SCENARIOS.iter().map(|s| (*s).to_owned()).collect(),
        |s| s.split(',').map(str::to_owned).collect(),
    );
    println!("speed-up {speed}: wall-clock duration against the critical path / {speed}");
    println!(
        "{:28} {:>9} {:>9} {:>6}  {:>9} {:>9} {:>6}",
        "scenario", "shutdown", "critical", "ratio", "startup", "critical", "ratio"
    );
    for name in &names {
        let scenario = ananke_sim::builtin(name).unwrap();
        let own = scenario.ananke_config();
        let lab = Lab::start_at(name, Login::Root, speed);
        // The scenario's own timing, sped up like the lab.
        lab.edit_config(|c| {
            c.observe_interval = scaled(own.observe_interval, speed);
            c.soak.duration = scaled(own.soak.duration, speed);
            c.soak.interval = scaled(own.soak.interval, speed);
            c.shutdown.drain_timeout = scaled(own.shutdown.drain_timeout, speed);
            c.shutdown.node_stop_timeout = scaled(own.shutdown.node_stop_timeout, speed);
            c.shutdown.scale_down_timeout = scaled(own.shutdown.scale_down_timeout, speed);
        });
        let (code, out, err) = lab.ananke(&["shutdown", "--execute", "--reason", "drill", "-q"]);
        assert_eq!(code, 0, "{name}: {out}\n{err}");
        let down = crate::common::read_json(&lab.state.join("last-shutdown-report.json"));
        let (code, out, err) = lab.ananke(&["startup", "--execute", "-q"]);
        assert_eq!(code, 0, "{name}: {out}\n{err}");
        let up = crate::common::read_json(&lab.state.join("last-startup-report.json"));
        let critical = ananke_sim::critical_path::drill_critical_path(&scenario);
        let wall = |r: &serde_json::Value| Duration::from_millis(r["duration_ms"].as_u64().unwrap_or(0));
        let row = |actual: Duration, ideal: Option<Duration>| match ideal.map(|i| i.div_f64(speed)) {
            Some(i) if !i.is_zero() => {
                format!(
                    "{:>8.2}s {:>8.2}s {:>6.2}",
                    actual.as_secs_f64(),
                    i.as_secs_f64(),
                    actual.as_secs_f64() / i.as_secs_f64()
                )
            }
            _ => format!("{:>8.2}s {:>9} {:>6}", actual.as_secs_f64(), "-", "n/a"),
        };
        println!("{name:28} {}  {}", row(wall(&down), Some(critical.shutdown)), row(wall(&up), critical.startup));
        if std::env::var_os("ANANKE_BENCH_VERBOSE").is_some() {
            let run_id = down["run_id"].as_str().unwrap_or_default();
            let trace =
                std::fs::read_to_string(lab.state.join(format!("reports/{run_id}.trace.jsonl"))).unwrap_or_default();
            for line in trace.lines().skip(1) {
                let r: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
                let api = &r["input"]["observation"]["api"];
                println!(
                    "  step {:>7} ms {} -> {} {} {api}",
                    r["time"], r["state_before"], r["state_after"], r["input"]["input"]
                );
            }
            for report in [&down, &up] {
                println!("  phases {}", report["phases"]);
                for e in report["effects"].as_array().into_iter().flatten() {
                    println!("  {:>7} ms  {}  {}", e["at_ms"], e["key"], e["outcome"]);
                }
            }
        }
    }
}
