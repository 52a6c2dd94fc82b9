//! The human reports of `ananke-sim run` and `bench-ratio`: durations, ratios and verdicts.

use ananke_sim::driver::Limits;
use ananke_sim::report::{human, machine_report, ratio_header, ratio_row, run_report};
use ananke_sim::run::{run_scenario, RunSpec};
use ananke_sim::scenario::{builtin, Drive, Scenario};
use std::time::Duration;

#[test]
fn durations_read_as_hours_minutes_and_seconds() {
    for (secs, text) in [(0, "0s"), (59, "59s"), (65, "1m05s"), (3600, "1h00m00s"), (3 * 3600 + 61, "3h01m01s")] {
        assert_eq!(human(Duration::from_secs(secs)), text);
    }
    assert_eq!(human(Duration::from_millis(1999)), "1s", "whole seconds");
}

fn overlay(expect: &str) -> Scenario {
    Scenario::parse(&format!("base: titan-lab\nname: strict\nexpect:\n{expect}"), "strict.yaml").unwrap()
}

#[test]
fn bench_ratio_rows_say_met_not_met_or_error() {
    let header = ratio_header();
    let spec = RunSpec::default();
    let (row, met) = ratio_row(&builtin("titan-lab").unwrap(), &spec);
    assert!(met && row.starts_with("titan-lab ") && row.ends_with("  met\n"), "{row}");
    assert!(row.contains(" ready:"), "{row}");
    // The columns line up with the header's.
    assert_eq!(row.find("  met").unwrap(), header.find("  expectation").unwrap(), "{header}{row}");

    let (row, met) = ratio_row(&overlay("  startup: { state: failed }\n"), &spec);
    assert!(!met && row.ends_with("  NOT met: startup ended `ready`, expected `failed`\n"), "{row}");
    let (row, met) = ratio_row(&overlay("  shutdown: { state: failed }\n  startup: { state: failed }\n"), &spec);
    assert!(!met && row.contains("NOT met: shutdown ended `off`, expected `failed` (+1 more)\n"), "{row}");

    let bounded = RunSpec { limits: Limits { max_steps: 3, ..Limits::default() }, ..RunSpec::default() };
    let (row, met) = ratio_row(&builtin("titan-lab").unwrap(), &bounded);
    assert!(!met && row.starts_with("titan-lab ") && row.contains(" error: "), "{row}");
}

#[test]
fn a_machine_report_without_a_critical_path_has_no_ratio() {
    let run =
        run_scenario(&builtin("titan-lab").unwrap(), &RunSpec { drive: Some(Drive::Startup), ..RunSpec::default() })
            .unwrap();
    let startup = run.startup.as_ref().unwrap();
    let none = machine_report(startup, None);
    assert!(none.starts_with("startup: ") && none.contains("(critical path none, ratio n/a)"), "{none}");
    let zero = machine_report(startup, Some(Duration::ZERO));
    assert!(zero.contains("(critical path 0s, ratio n/a)"), "{zero}");
    let ideal = startup.outcome.duration() / 2;
    let half = machine_report(startup, Some(ideal));
    assert!(half.contains(&format!("(critical path {}, ratio 2.00)", human(ideal))), "{half}");
    assert!(half.contains("  gate "), "every gate's verdict: {half}");
    let report = run_report(&run, &["one".to_owned(), "two".to_owned()]);
    assert!(report.ends_with("expectation NOT met:\n  one\n  two\n"), "{report}");
    assert!(!report.contains("shutdown: "), "{report}");
}
