//! Property tests over seeded random fault schedules: invariants never break.

use ananke_core::config::HumanDuration;
use ananke_sim::run::{run_scenario, RunSpec};
use ananke_sim::scenario::{builtin, Fault, Phase, PhaseAt};
use proptest::prelude::*;
use std::time::Duration;

/// A random fault schedule over the operator-state-preserved lab.
#[derive(Debug, Clone)]
struct Schedule {
    seed: u64,
    api_rate: f64,
    flap: Option<(usize, u64, u64)>,
    slow: Option<(usize, u64)>,
    lost_agent: Option<usize>,
    unseal_fails: bool,
}

fn schedule() -> impl Strategy<Value = Schedule> {
    (
        any::<u64>(),
        0.0..0.25f64,
        proptest::option::of((0usize..7, 0u64..900, 1u64..120)),
        proptest::option::of((0usize..3, 0u64..400)),
        proptest::option::of(0usize..7),
        any::<bool>(),
    )
        .prop_map(|(seed, api_rate, flap, slow, lost_agent, unseal_fails)| Schedule {
            seed,
            api_rate,
            flap,
            slow,
            lost_agent,
            unseal_fails,
        })
}

fn secs(s: u64) -> HumanDuration {
    HumanDuration::secs(s)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_under_random_faults(f in schedule()) {
        let mut s = builtin("operator-state-preserved").unwrap();
        let servers = ["titan-db", "titan-01", "titan-02"];
        let agents = ["titan-03", "titan-04", "titan-06", "titan-23", "titan-24", "titan-jh", "titan-05"];
        s.faults.push(Fault::ApiFlaky { rate: f.api_rate, from: PhaseAt::default(), until: Some(PhaseAt { phase: Phase::Startup, after: secs(600) }) });
        if let Some((check, after, len)) = f.flap {
            let check = s.checks[check % s.checks.len()].name.clone();
            s.faults.push(Fault::EndpointFlap { check, after_healthy: secs(after), duration: secs(len) });
        }
        if let Some((server, extra)) = f.slow {
            s.faults.push(Fault::SlowK3s { node: servers[server].into(), extra: secs(extra) });
        }
        if let Some(agent) = f.lost_agent {
            s.faults.push(Fault::NodeLost { node: agents[agent].into() });
        }
        if f.unseal_fails {
            s.faults.push(Fault::StandardUnsealFails);
        }
        s.prepare().unwrap();
        let run = run_scenario(&s, &RunSpec { seed: f.seed, ..RunSpec::default() });
        // Every run terminates within the drive's bounds (6 h of virtual time per machine).
        let run = run.unwrap();
        let shutdown = run.shutdown.as_ref().unwrap();
        let startup = run.startup.as_ref().unwrap();
        prop_assert!(startup.outcome.duration() <= Duration::from_secs(2 * 3600));
        // No Ready with a failing gate.
        if startup.outcome.state == "ready" {
            prop_assert!(startup.outcome.gates.as_ref().is_some_and(ananke_core::gates::GateReport::all_pass));
        }
        // Nothing an operator set is undone.
        let sandbox = run.before.replicas.keys().find(|w| w.name == "playground").unwrap().clone();
        prop_assert_eq!(run.after.replicas[&sandbox], 0);
        prop_assert!(run.after.cordoned["titan-05"]);
        prop_assert!(run.after.suspended.iter().any(|(k, v)| k.object.name == "sandbox" && *v));
        // No lost replica count: each one is either back or still journaled with its count.
        let journal = &startup.outcome.journal.changes;
        for (w, before) in &run.before.replicas {
            let after = run.after.replicas[w];
            prop_assert!(after == *before || journal.scaled.get(w) == Some(before),
                "{} was {} and is {} (journal: {:?}, shutdown journal: {:?})", w, before, after, journal.scaled.get(w), shutdown.outcome.journal.changes.scaled.get(w));
        }
        // A startup that completed restored everything it journaled.
        if startup.outcome.state == "ready" {
            prop_assert!(journal.scaled.is_empty() && journal.suspended.is_empty());
        }
    }
}

/// `text` cut at `cut` and with the character at `at` replaced by `c` (both wrapped to the text).
fn damaged(text: &str, cut: usize, at: usize, c: char) -> String {
    let boundary = |i: usize| (0..=i % (text.len() + 1)).rev().find(|&b| text.is_char_boundary(b)).unwrap_or(0);
    let at = boundary(at);
    let rest: String = text[at..].chars().skip(1).collect();
    let overwritten = format!("{}{c}{rest}", &text[..at]);
    let cut = (0..=cut % (overwritten.len() + 1)).rev().find(|&b| overwritten.is_char_boundary(b)).unwrap_or(0);
    overwritten[..cut].to_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// A damaged scenario file (cut short, a character overwritten) is refused with a located
    /// problem or still loads; it never panics.
    #[test]
    fn a_damaged_scenario_file_is_refused_or_loads(cut in any::<usize>(), at in any::<usize>(), c in prop_oneof![Just(':'), Just('-'), Just(' '), Just('\n'), any::<char>()]) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/pdb-blocks-drain.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines = text.lines().count() + 1;
        if let Err(e) = ananke_sim::scenario::Scenario::parse(&damaged(&text, cut, at, c), "fuzzed.yaml") {
            let message = e.to_string();
            prop_assert!(message.starts_with("fuzzed.yaml") || message.contains("fuzzed.yaml"), "{message}");
            for line in message.lines().filter_map(|l| l.split(':').nth(1)?.parse::<usize>().ok()) {
                prop_assert!(line <= lines, "{message}");
            }
        }
    }
}
