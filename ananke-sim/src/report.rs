//! Human output of `ananke-sim run` and `ananke-sim bench-ratio`.

use crate::driver::DriveOutcome;
use crate::run::{run_scenario, MachineRun, RunSpec, ScenarioRun};
use crate::scenario::{builtin, builtin_names, Scenario};
use std::fmt::Write as _;
use std::time::Duration;

/// `12m34s`.
#[must_use]
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

fn states(o: &DriveOutcome) -> String {
    o.states.iter().map(|(t, s)| format!("{s}@{}", human(t.since(o.start)))).collect::<Vec<_>>().join(" -> ")
}

/// The report of one machine's run.
#[must_use]
pub fn machine_report(run: &MachineRun, ideal: Option<Duration>) -> String {
    let o = &run.outcome;
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", run.machine.as_str(), states(o));
    let ratio = ideal
        .filter(|i| !i.is_zero())
        .map_or_else(|| "n/a".to_owned(), |i| format!("{:.2}", o.duration().as_secs_f64() / i.as_secs_f64()));
    let ideal = ideal.map_or_else(|| "none".to_owned(), human);
    let _ = writeln!(
        out,
        "  virtual duration {} (critical path {ideal}, ratio {ratio}), {} inputs",
        human(o.duration()),
        o.steps
    );
    if let Some(f) = &o.failure {
        let _ = writeln!(out, "  failed{}: {}", f.gate.map_or(String::new(), |g| format!(" at {g}")), f.reason);
    }
    if let Some(report) = &o.gates {
        for g in &report.outcomes {
            let verdict = serde_json::to_value(g.verdict)
                .ok()
                .and_then(|v| v.get("verdict").and_then(|x| x.as_str().map(str::to_owned)))
                .unwrap_or_default();
            let _ = writeln!(out, "  gate {:20} {verdict:7} {}", g.gate.as_str(), g.reasons.join("; "));
        }
    }
    let counts: Vec<String> = o.effects.iter().map(|(k, n)| format!("{} {n}", k.as_str())).collect();
    let _ = writeln!(out, "  effects: {}", if counts.is_empty() { "none".to_owned() } else { counts.join(", ") });
    out
}

/// Write `text` to stdout; a closed pipe (`| head`) is not an error worth a panic.
pub fn emit(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// The report of a scenario run and whether it met its expectation.
#[must_use]
pub fn run_report(run: &ScenarioRun, unmet: &[String]) -> String {
    let mut out = format!("scenario {} (seed {})\n", run.scenario, run.seed);
    if let Some(s) = &run.shutdown {
        out.push_str(&machine_report(s, Some(run.critical.shutdown)));
    }
    if let Some(s) = &run.startup {
        out.push_str(&machine_report(s, run.critical.startup));
    }
    if unmet.is_empty() {
        out.push_str("expectation met\n");
    } else {
        out.push_str("expectation NOT met:\n");
        for u in unmet {
            let _ = writeln!(out, "  {u}");
        }
    }
    out
}

/// The header of `ananke-sim bench-ratio`.
#[must_use]
pub fn ratio_header() -> String {
    format!(
        "{:32} {:>14} {:>9} {:>6}  {:>16} {:>9} {:>6}  expectation\n",
        "scenario", "startup", "critical", "ratio", "shutdown", "critical", "ratio"
    )
}

/// One row of `ananke-sim bench-ratio`: `scenario` run as `spec` says, and whether it met its
/// expectation.
#[must_use]
pub fn ratio_row(scenario: &Scenario, spec: &RunSpec) -> (String, bool) {
    let name = scenario.name.as_str();
    match run_scenario(scenario, spec) {
        Ok(run) => {
            let ended = |m: &MachineRun| format!("{}:{}", m.outcome.state, human(m.outcome.duration()));
            let startup = run.startup.as_ref().map_or_else(|| "-".to_owned(), ended);
            let shutdown = run.shutdown.as_ref().map_or_else(|| "-".to_owned(), ended);
            let critical = run.critical.startup.map_or_else(|| "none".to_owned(), human);
            let critical_down = if run.shutdown.is_some() { human(run.critical.shutdown) } else { "-".to_owned() };
            let three = |r: Option<f64>| r.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.3}"));
            let (ratio, ratio_down) = (three(run.startup_ratio()), three(run.shutdown_ratio()));
            let unmet = run.unmet(scenario);
            let verdict = match unmet.as_slice() {
                [] => "met".to_owned(),
                [one] => format!("NOT met: {one}"),
                [first, rest @ ..] => format!("NOT met: {first} (+{} more)", rest.len()),
            };
            let row = format!(
                "{name:32} {startup:>14} {critical:>9} {ratio:>6}  {shutdown:>16} {critical_down:>9} {ratio_down:>6}  {verdict}\n"
            );
            (row, unmet.is_empty())
        }
        Err(e) => (format!("{name:32} error: {e}\n"), false),
    }
}

/// Print, for every built-in scenario and variant, ananke's startup duration against the
/// critical path. Returns the exit code (0 when every scenario met its expectation).
#[must_use]
pub fn print_ratios(seed: u64) -> u8 {
    let scenarios = builtin_names().into_iter().filter_map(|n| builtin(n).ok()).flat_map(|s| {
        let variants: Vec<_> = s.variants.iter().map(|v| s.with_variant(v)).collect();
        std::iter::once(s).chain(variants)
    });
    print_ratios_of(scenarios, seed)
}

/// Print the ratio rows of `scenarios`; the exit code as [`print_ratios`].
pub fn print_ratios_of(scenarios: impl IntoIterator<Item = Scenario>, seed: u64) -> u8 {
    let mut code = 0;
    emit(&ratio_header());
    for scenario in scenarios {
        let (row, met) = ratio_row(&scenario, &RunSpec { seed, ..RunSpec::default() });
        if !met {
            code = 1;
        }
        emit(&row);
    }
    code
}
