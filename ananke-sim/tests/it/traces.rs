//! Recording a trace and replaying it finds no divergence; an edited trace diverges at the edited
//! step; unknown versions and damaged lines are errors naming the line.

use ananke_core::trace::TraceError;
use ananke_sim::replay::{replay, ReplayError, ReplayReport};
use ananke_sim::run::{run_scenario, RunSpec};
use ananke_sim::scenario::{builtin, Drive};

fn recorded(drive: Drive) -> Vec<u8> {
    let scenario = builtin("titan-lab").unwrap();
    let run = run_scenario(&scenario, &RunSpec { drive: Some(drive), record: true, ..RunSpec::default() }).unwrap();
    let machine = if drive == Drive::Shutdown { run.shutdown } else { run.startup };
    machine.unwrap().trace.unwrap()
}

#[test]
fn a_recorded_trace_replays_without_divergence() {
    for drive in [Drive::Shutdown, Drive::Startup] {
        let trace = recorded(drive);
        let lines = trace.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64;
        let report = replay(trace.as_slice(), None).unwrap();
        assert_eq!(report, ReplayReport::NoDivergence { records: lines - 1 }, "{report}");
    }
}

#[test]
fn an_edited_trace_reports_the_edited_step() {
    let trace = String::from_utf8(recorded(Drive::Shutdown)).unwrap();
    // The third record that has effects: drop its last effect.
    let (edited, step) = drop_last_effect(&trace, 2);
    match replay(edited.as_bytes(), None).unwrap() {
        ReplayReport::Divergence { step: s, expected_effects, actual_effects, .. } => {
            assert_eq!(s, step);
            assert_eq!(expected_effects.len() + 1, actual_effects.len());
        }
        other @ ReplayReport::NoDivergence { .. } => panic!("expected a divergence at step {step}, got {other}"),
    }
}

#[test]
fn unknown_versions_and_damaged_lines_are_errors_naming_the_line() {
    let trace = String::from_utf8(recorded(Drive::Shutdown)).unwrap();
    let versioned = trace.replacen("\"version\":1", "\"version\":2", 1);
    let err = replay(versioned.as_bytes(), None).unwrap_err();
    assert!(matches!(err, ReplayError::Trace(TraceError::UnsupportedVersion { line: 1, version: 2 })), "{err}");
    assert!(err.to_string().contains("line 1"), "{err}");
    let mut lines: Vec<&str> = trace.lines().collect();
    lines[4] = "{\"step\": 3, \"time\": oops";
    let err = replay(lines.join("\n").as_bytes(), None).unwrap_err();
    assert!(matches!(err, ReplayError::Trace(TraceError::Damaged { line: 5, .. })), "{err}");
    assert!(err.to_string().starts_with("line 5: damaged trace line"), "{err}");
}

#[test]
fn a_trace_of_another_config_is_refused() {
    let trace = String::from_utf8(recorded(Drive::Shutdown)).unwrap();
    let other = builtin("pdb-blocks-drain").unwrap().ananke_config();
    let err = replay(trace.as_bytes(), Some(other)).unwrap_err();
    assert!(matches!(err, ReplayError::ConfigMismatch { .. }), "{err}");
}

#[test]
fn a_variant_trace_replays_with_its_scenario_and_blank_lines_are_skipped() {
    let scenario = builtin("flux-source-drift").unwrap();
    let variant = scenario.with_variant(&scenario.variants[0]);
    let run =
        run_scenario(&variant, &RunSpec { drive: Some(Drive::Startup), record: true, ..RunSpec::default() }).unwrap();
    let startup = run.startup.unwrap();
    assert_eq!(startup.outcome.state, "ready", "the variant forces the branch back");
    let trace = String::from_utf8(startup.trace.unwrap()).unwrap();
    let header: serde_json::Value = serde_json::from_str(trace.lines().next().unwrap()).unwrap();
    assert_eq!(header["source"], "flux-source-drift:force-branch");
    let records = trace.lines().count() as u64 - 1;
    let spaced = trace.replace('\n', "\n \n");
    assert_eq!(replay(spaced.as_bytes(), None).unwrap(), ReplayReport::NoDivergence { records });
}

/// `trace` with the last effect of its `nth` (from 0) record that has effects dropped, and that
/// record's step.
pub fn drop_last_effect(trace: &str, nth: usize) -> (String, u64) {
    let mut lines: Vec<String> = trace.lines().map(str::to_owned).collect();
    let (index, mut record) = lines
        .iter()
        .enumerate()
        .skip(1)
        .filter_map(|(i, l)| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (!v["effects"].as_array().unwrap().is_empty()).then_some((i, v))
        })
        .nth(nth)
        .unwrap();
    let step = record["step"].as_u64().unwrap();
    record["effects"].as_array_mut().unwrap().pop();
    lines[index] = record.to_string();
    (lines.join("\n"), step)
}
