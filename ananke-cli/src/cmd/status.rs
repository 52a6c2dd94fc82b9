//! `ananke status`: the live state of the cluster and of any run in progress.

use crate::exit;
use crate::global::GlobalArgs;
use crate::output::{self, gate_row, now_rfc3339};
use crate::target::Target;
use ananke_core::gates::{self, GateId, GateOutcome, SoakProgress, Verdict};
use ananke_core::observation::{ConditionStatus, Observation, SshStatus, UpsStatus};
use ananke_core::runner::World;
use ananke_core::store::compare::{self, Comparison};
use ananke_core::store::lock::{held, pid_alive, LockHolder};
use ananke_core::store::reports::{Command, DaemonStatus, Progress, RunSummary};
use clap::Args;
use serde::Serialize;

/// Version of the `status --json` shape.
pub const STATUS_VERSION: u32 = 1;

/// Show the live state of the cluster and of any run in progress.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print stable JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// The `status --json` shape.
#[derive(Debug, Serialize)]
pub struct Status {
    /// Shape version.
    pub version: u32,
    /// `host` or `sim:<scenario>`.
    pub target: String,
    /// When it was observed (RFC 3339).
    pub observed_at: String,
    /// `off` (API unreachable), `degraded` (some gate fails), or `ready` (gates 1-8 pass).
    pub cluster: &'static str,
    /// Whether the Kubernetes API answered.
    pub api_reachable: bool,
    /// The kubeconfig read and the rule that chose it (real cluster only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
    /// One row per node.
    pub nodes: Vec<NodeRow>,
    /// Every gate (the soak is judged only during a startup run).
    pub gates: Vec<GateOutcome>,
    /// UPS state per power domain.
    pub power: Vec<UpsStatus>,
    /// The run in progress, if any.
    pub run: Option<RunInProgress>,
    /// The last runs, newest last (at most 5).
    pub last_runs: Vec<RunSummary>,
    /// The last executed run against the previous run of its kind and the median of the last
    /// ones (the shape of `report compare --json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_comparison: Option<Comparison>,
    /// The power daemon, if it runs.
    pub daemon: Option<DaemonStatus>,
    /// What a startup still has to restore of an ananke shutdown, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_restore: Option<PendingRestore>,
    /// Problems with the state dir itself (a journal missing or damaged after a shutdown).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The journal of a shutdown that no startup has undone yet.
#[derive(Debug, Serialize)]
pub struct PendingRestore {
    /// The shutdown's reason.
    pub reason: Option<String>,
    /// Whether the shutdown completed (`false`: it failed, ended incomplete, or was killed).
    pub shutdown_completed: bool,
    /// What is left to restore, one line per kind of change.
    pub items: Vec<String>,
    /// The command that restores it.
    pub command: String,
}

/// A node's row.
#[derive(Debug, Serialize)]
pub struct NodeRow {
    /// Name.
    pub name: String,
    /// SSH reachability (`reachable`, `unreachable`, `auth-failed`, `unknown`).
    pub ssh: String,
    /// Why SSH failed, when it did: a changed host key with the presented fingerprint and the
    /// `known_hosts` line, authentication refused, unreachable, timed out. Read over SSH, so it
    /// is there whether or not the API answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_error: Option<String>,
    /// k3s unit state.
    pub k3s: String,
    /// Kubernetes Ready.
    pub ready: String,
    /// Cordoned.
    pub cordoned: bool,
}

/// A run holding the lock.
#[derive(Debug, Serialize)]
pub struct RunInProgress {
    /// The lock holder.
    pub holder: LockHolder,
    /// Its live progress.
    pub progress: Option<Progress>,
}

impl StatusArgs {
    /// Run the command; returns the exit code.
    #[must_use]
    pub fn exec(self) -> u8 {
        let target = match Target::open(&self.global, ananke_sim::world::Purpose::Observe, false) {
            Ok(t) => t,
            Err(code) => return code,
        };
        let status = match collect(&target) {
            Ok(s) => s,
            Err(e) => {
                crate::log_error!("{e}");
                return exit::USAGE_OR_CONFIG;
            }
        };
        let printed = if self.json { output::print_json(&status) } else { output::print_text(&render(&status)) };
        if printed.is_ok() {
            exit::SUCCESS
        } else {
            exit::STATE_IO
        }
    }
}

fn collect(target: &Target) -> Result<Status, Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let obs: Observation = rt.block_on(target.world.observe());
    let report = gates::evaluate(&target.config, &obs, &SoakProgress::default());
    let ready_8 = report.all_pass_before_soak();
    let holder = held(target.state.root());
    let run = match holder {
        Some(holder) => Some(RunInProgress { holder, progress: target.state.read_progress()? }),
        None => None,
    };
    let mut warnings = Vec::new();
    let pending_restore = match target.state.read_journal() {
        Ok(j) if j.pending_restore() => Some(PendingRestore {
            reason: j.shutdown_reason.clone(),
            shutdown_completed: j.shutdown_completed,
            items: j.pending_lines(),
            command: "ananke bootstrap --execute".to_owned(),
        }),
        Ok(_) => {
            warnings.extend(super::bootstrap::missing_journal_warning(&target.state));
            None
        }
        Err(e) => {
            warnings.push(format!("{e}; {}", super::bootstrap::lost_journal_help(&target.state, "damaged")));
            None
        }
    };
    let mut gates = report.outcomes;
    if let Some(soak) = gates.iter_mut().find(|g| g.gate == GateId::Soak) {
        *soak = soak_line(&target.state, ready_8, soak.clone(), &mut warnings);
    }
    let runs = target.state.read_runs()?;
    let last_comparison = compare::compare_last(&runs, compare::DEFAULT_LAST.into());
    let mut history = runs.runs;
    let keep = history.len().saturating_sub(5);
    history.drain(..keep);
    Ok(Status {
        version: STATUS_VERSION,
        target: target.label.clone(),
        observed_at: now_rfc3339(),
        cluster: if !obs.api.reachable {
            "off"
        } else if ready_8 {
            "ready"
        } else {
            "degraded"
        },
        api_reachable: obs.api.reachable,
        kubeconfig: target.world.kubeconfig(),
        nodes: obs.nodes.iter().map(node_row).collect(),
        gates,
        power: obs.power.clone(),
        run,
        last_runs: history,
        last_comparison,
        daemon: target.state.read_daemon_status()?.filter(|d| pid_alive(d.pid)),
        pending_restore,
        warnings,
    })
}

/// The soak is judged only during a startup run: on a ready cluster, the line says when the last
/// startup's soak passed; otherwise how the last startup ended. A last report that cannot be read
/// is a warning of the status, not a soak that never ran.
fn soak_line(
    state: &ananke_core::store::StateDir,
    ready: bool,
    mut soak: GateOutcome,
    warnings: &mut Vec<String>,
) -> GateOutcome {
    let last = match state.read_last_report(Command::Startup) {
        Ok(last) => last,
        Err(e) => {
            warnings.push(format!("the last startup report cannot be read: {e}"));
            None
        }
    };
    let passed = |r: &ananke_core::store::reports::RunReport| {
        r.final_state == "ready"
            && r.gates.as_ref().is_some_and(|g| g.outcomes.iter().any(|o| o.gate == GateId::Soak && o.passed()))
    };
    soak.reasons = vec![match &last {
        Some(r) if passed(r) && ready => {
            soak.verdict = Verdict::Pass;
            format!("passed at {} (startup {})", r.finished_at, r.run_id)
        }
        Some(r) if passed(r) => format!(
            "passed at {} (startup {}), but a gate before it fails now; the next startup judges it again",
            r.finished_at, r.run_id
        ),
        Some(r) => format!(
            "the last startup ({}, {:?} in state {}) did not pass the soak; it is judged only during a startup run",
            r.run_id, r.outcome, r.final_state
        ),
        None => "no startup has passed the soak yet; it is judged only during a startup run".to_owned(),
    }];
    soak
}

fn node_row(n: &ananke_core::observation::NodeObservation) -> NodeRow {
    let ssh =
        serde_json::to_value(&n.ssh).ok().and_then(|v| v.get("state").and_then(|s| s.as_str()).map(str::to_owned));
    let k3s = serde_json::to_value(n.k3s_unit).ok().and_then(|v| v.as_str().map(str::to_owned));
    let ssh_error = match &n.ssh {
        SshStatus::Unreachable(why) | SshStatus::AuthFailed(why) => Some(why.clone()),
        SshStatus::Unknown | SshStatus::Reachable => None,
    };
    NodeRow {
        name: n.name.clone(),
        ssh: ssh.unwrap_or_else(|| "unknown".into()),
        ssh_error,
        k3s: k3s.unwrap_or_else(|| "unknown".into()),
        ready: match n.kube.as_ref().map(|k| k.ready) {
            Some(ConditionStatus::True) => "True",
            Some(ConditionStatus::False) => "False",
            Some(ConditionStatus::Unknown) => "Unknown",
            None => "-",
        }
        .to_owned(),
        cordoned: n.kube.as_ref().is_some_and(|k| k.unschedulable),
    }
}

/// The human table.
#[must_use]
pub fn render(s: &Status) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cluster {} on {} (api {})",
        s.cluster,
        s.target,
        if s.api_reachable { "reachable" } else { "unreachable" }
    );
    if let Some(kubeconfig) = &s.kubeconfig {
        let _ = writeln!(out, "kubeconfig {kubeconfig}");
    }
    if let Some(run) = &s.run {
        let phase = run.progress.as_ref().map_or("-", |p| p.phase.as_str());
        let _ = writeln!(
            out,
            "run in progress: {} {} (pid {}), {phase}",
            run.holder.command, run.holder.run_id, run.holder.pid
        );
    }
    for w in &s.warnings {
        let _ = writeln!(out, "{w}");
    }
    if let Some(p) = &s.pending_restore {
        let how = if p.shutdown_completed { "shut the cluster down" } else { "did not complete" };
        let reason = p.reason.as_deref().unwrap_or("unknown reason");
        let _ = writeln!(out, "pending restore: the ananke shutdown ({reason}) {how}; `{}` restores:", p.command);
        if p.items.is_empty() {
            let _ = writeln!(out, "  nothing listed (the startup still verifies every gate)");
        }
        for item in &p.items {
            let _ = writeln!(out, "  {item}");
        }
    }
    let _ = writeln!(out, "nodes:");
    let _ = writeln!(out, "  {:<14} {:<12} {:<9} {:<8} cordoned", "name", "ssh", "k3s", "ready");
    for n in &s.nodes {
        let _ = writeln!(
            out,
            "  {:<14} {:<12} {:<9} {:<8} {}",
            n.name,
            n.ssh,
            n.k3s,
            n.ready,
            if n.cordoned { "yes" } else { "no" }
        );
    }
    for n in &s.nodes {
        if let Some(why) = &n.ssh_error {
            let _ = writeln!(out, "{}", output::wrapped(&format!("  {} ssh: ", n.name), why));
        }
    }
    let _ = writeln!(out, "gates:");
    for g in &s.gates {
        let _ = writeln!(out, "{}", gate_row(g));
    }
    let _ = writeln!(out, "power:");
    for u in &s.power {
        let charge = u.charge.map_or("-".to_owned(), |c| format!("{c:.0}%"));
        let runtime = u.runtime_s.map_or("-".to_owned(), |r| format!("{r}s"));
        let state = if u.reachable { u.flags.join(" ") } else { "unreachable".to_owned() };
        let _ = writeln!(out, "  {:<14} {:<12} charge {charge:<5} runtime {runtime}", u.domain, state);
        if let Some(why) = &u.error {
            let _ = writeln!(out, "{}", output::wrapped("    why: ", why));
        }
    }
    match &s.daemon {
        Some(d) => {
            let last = d.events.last().map_or("no event yet", |e| e.message.as_str());
            let _ = writeln!(
                out,
                "daemon: pid {}, cluster {:?}, shutdown budget {}s; last: {last}",
                d.pid, d.phase, d.budget_s
            );
        }
        None => {
            let _ = writeln!(out, "daemon: not running");
        }
    }
    render_runs(&mut out, s);
    out
}

/// The last runs and the comparison of the last one.
fn render_runs(out: &mut String, s: &Status) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "last runs:");
    if s.last_runs.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for r in &s.last_runs {
        let _ = writeln!(
            out,
            "  {} {:<8} {:?} {:.1}s {}",
            r.started_at,
            r.command.as_str(),
            r.outcome,
            output::millis_to_secs(r.duration_ms),
            r.target
        );
    }
    if let Some(c) = &s.last_comparison {
        let _ = writeln!(out, "last run compared ({} {}, {}):", c.command.as_str(), c.run_id, c.outcome.as_str());
        for line in c.summary_lines() {
            let _ = writeln!(out, "{}", output::wrapped("  ", &line));
        }
    }
}
