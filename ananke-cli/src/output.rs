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

/// Width the human tables wrap their long lines at.
const WIDTH: usize = 100;

/// One gate as a table row: every reason, each on its own line, long ones wrapped.
#[must_use]
pub fn gate_row(g: &GateOutcome) -> String {
    let verdict = match g.verdict {
        Verdict::Pass => "pass".to_owned(),
        Verdict::Fail => "FAIL".to_owned(),
        Verdict::Blocked(_) => "blocked".to_owned(),
    };
    let head = format!("  {:<20} {:<8} ", g.gate.as_str(), verdict);
    if g.reasons.is_empty() {
        return head.trim_end().to_owned();
    }
    let indent = " ".repeat(head.len());
    let lines: Vec<String> =
        g.reasons.iter().enumerate().map(|(i, r)| wrapped(if i == 0 { &head } else { &indent }, r)).collect();
    lines.join("\n")
}

/// `text` after `first`, word-wrapped at [`WIDTH`] columns, the continuation lines indented as
/// deep as `first` (a word longer than a line stays whole).
#[must_use]
pub fn wrapped(first: &str, text: &str) -> String {
    let indent = " ".repeat(first.chars().count());
    let mut out = first.to_owned();
    let mut column = indent.len();
    let mut fresh = true;
    for word in text.split_whitespace() {
        let width = word.chars().count();
        if !fresh && column + 1 + width > WIDTH {
            out.push('\n');
            out.push_str(&indent);
            column = indent.len();
            fresh = true;
        }
        if !fresh {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += width;
        fresh = false;
    }
    out
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
    let phases: Vec<String> =
        report.phases.iter().map(|p| format!("{} {:.1}s", p.state, millis_to_secs(p.millis))).collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use ananke_core::gates::GateId;

    fn outcome(verdict: Verdict, reasons: &[&str]) -> GateOutcome {
        GateOutcome { gate: GateId::Inventory, verdict, reasons: reasons.iter().map(|r| (*r).to_owned()).collect() }
    }

    #[test]
    fn every_reason_of_a_gate_is_shown_each_on_its_own_line() {
        let row = gate_row(&outcome(Verdict::Fail, &["titan-db unit inactive", "titan-01 unit inactive"]));
        assert_eq!(row, "  inventory            FAIL     titan-db unit inactive\n                                titan-01 unit inactive");
        assert_eq!(gate_row(&outcome(Verdict::Pass, &[])), "  inventory            pass");
    }

    #[test]
    fn a_long_reason_wraps_under_itself_and_loses_no_word() {
        let reason = "word ".repeat(60);
        let row = gate_row(&outcome(Verdict::Fail, &[reason.trim_end()]));
        let lines: Vec<&str> = row.lines().collect();
        assert!(lines.len() > 2, "{row}");
        assert!(lines.iter().all(|l| l.chars().count() <= WIDTH), "{row}");
        assert!(lines[1..].iter().all(|l| l.starts_with(&" ".repeat(32)) && !l[32..].starts_with(' ')), "{row}");
        assert_eq!(row.split_whitespace().filter(|w| *w == "word").count(), 60);
        let long = "x".repeat(WIDTH + 10);
        assert_eq!(wrapped("  why: ", &format!("a {long} b")), format!("  why: a\n       {long}\n       b"));
    }
}
