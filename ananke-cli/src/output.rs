//! Rendering for humans and machines, and the few wall-clock helpers the CLI needs.

use ananke_core::gates::{GateOutcome, Verdict};
use ananke_core::store::reports::{Command, RunReport};
use std::io::{self, Write};
use std::time::SystemTime;

/// Now, as RFC 3339 (UTC, seconds).
#[must_use]
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// A run id that sorts by start time: `20261123T230501Z-startup-4242`.
#[must_use]
pub fn new_run_id(command: Command) -> String {
    let stamp: String = now_rfc3339().chars().filter(char::is_ascii_alphanumeric).collect();
    format!("{stamp}-{}-{}", command.as_str(), std::process::id())
}

/// One gate as a table row.
#[must_use]
pub fn gate_row(g: &GateOutcome) -> String {
    let verdict = match g.verdict {
        Verdict::Pass => "pass".to_owned(),
        Verdict::Fail => "FAIL".to_owned(),
        Verdict::Blocked(_) => "blocked".to_owned(),
    };
    let reason = g.reasons.first().map_or("", String::as_str);
    let more = if g.reasons.len() > 1 { format!(" (+{} more)", g.reasons.len() - 1) } else { String::new() };
    format!("  {:<20} {:<8} {reason}{more}", g.gate.as_str(), verdict)
}

/// Write `value` as pretty JSON on stdout; a closed pipe is not an error.
pub fn print_json<T: serde::Serialize>(value: &T) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    ignore_broken_pipe(writeln!(out, "{text}"))
}

/// Print `text` on stdout; a closed pipe is not an error.
pub fn print_text(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    ignore_broken_pipe(out.write_all(text.as_bytes()))
}

fn ignore_broken_pipe(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The human summary of a finished run.
#[must_use]
pub fn report_summary(report: &RunReport, report_path: Option<&str>) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} {} on {}: {:?} in state {} after {:.1}s",
        report.command.as_str(),
        report.run_id,
        report.target,
        report.outcome,
        report.final_state,
        millis_to_secs(report.duration_ms)
    );
    if let Some(f) = &report.failure {
        let gate = f.gate.map(|g| format!(" (gate {g})")).unwrap_or_default();
        let _ = writeln!(s, "failure{gate}: {}", f.reason);
    }
    if !report.unconfirmed.is_empty() {
        let _ = writeln!(s, "not confirmed ({}):", report.unconfirmed.len());
        for u in &report.unconfirmed {
            let _ = writeln!(s, "  {u}");
        }
    }
    if let Some(gates) = &report.gates {
        let _ = writeln!(s, "gates:");
        for g in &gates.outcomes {
            let _ = writeln!(s, "{}", gate_row(g));
        }
    }
    let phases: Vec<String> = report.phases.iter().map(|p| format!("{} {:.1}s", p.state, millis_to_secs(p.millis))).collect();
    let _ = writeln!(s, "phases: {}", phases.join(", "));
    let counts: Vec<String> = report.effect_counts.iter().map(|(k, n)| format!("{} {n}", k.as_str())).collect();
    let _ = writeln!(s, "effects: {}", if counts.is_empty() { "none".to_owned() } else { counts.join(", ") });
    for w in &report.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    if let Some(path) = report_path {
        let _ = writeln!(s, "report: {path}");
    }
    s
}

/// Milliseconds as fractional seconds for display.
#[must_use]
pub fn millis_to_secs(ms: u64) -> f64 {
    // Display only: precision loss above 2^52 ms is irrelevant.
    #[allow(clippy::cast_precision_loss)]
    let secs = ms as f64 / 1000.0;
    secs
}
