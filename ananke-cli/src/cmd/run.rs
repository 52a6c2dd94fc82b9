//! What `startup` and `shutdown` share: lock, journal, machine, runner, reports, exit code.

use super::run_json::{BootstrapDecision, Plan, RunOutput};
use crate::exit;
use crate::global::GlobalArgs;
use crate::output::{self, new_run_id, now_rfc3339};
use crate::sink::CliSink;
use crate::target::Target;
use ananke_core::machine::Machine;
use ananke_core::runner::{self, RunResult, RunSettings};
use ananke_core::store::compare::{self, Comparison};
use ananke_core::store::lock::{LockError, LockHolder, RunLock};
use ananke_core::store::reports::{Command, RunOutcome, RunReport, REPORT_VERSION};
use ananke_core::store::{StateDir, StoreError};
use ananke_core::trace::{MachineKind, TraceHeader, TraceOptions, TraceWriter};
use ananke_core::{Config, Journal};
use ananke_sim::world::Purpose;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What the caller adds to the report.
pub struct RunRequest<'a> {
    /// Startup or shutdown.
    pub command: Command,
    /// `--execute`.
    pub execute: bool,
    /// Shutdown reason.
    pub reason: Option<String>,
    /// Shutdown mode.
    pub mode: Option<String>,
    /// `--force-flux-branch`.
    pub force_flux_branch: Option<String>,
    /// `--force`: run even while a peer host runs ananke (see `crate::coordination`).
    pub force: bool,
    /// `--json`: print [`RunOutput`] instead of the human summary.
    pub json: bool,
    /// Bootstrap's reason to start up (bootstrap only).
    pub bootstrap: Option<&'a str>,
    /// The global options.
    pub global: &'a GlobalArgs,
}

impl<'a> RunRequest<'a> {
    /// The command's name in the `--json` output.
    fn name(&self) -> &'static str {
        if self.bootstrap.is_some() {
            "bootstrap"
        } else {
            self.command.as_str()
        }
    }

    /// Print `out` with the bootstrap decision filled in; `code`, or the state-dir error when
    /// stdout cannot be written.
    fn print_json<'o>(&self, mut out: RunOutput<'o>, code: u8) -> u8
    where
        'a: 'o,
    {
        out.bootstrap = self.bootstrap.map(|why| BootstrapDecision { starts_up: true, why });
        match output::print_json(&out) {
            Ok(()) => code,
            Err(_) => exit::STATE_IO,
        }
    }
}

/// Run a command end to end; returns the exit code.
pub fn run_command<M, F>(req: &RunRequest<'_>, build: F) -> u8
where
    M: Machine,
    F: FnOnce(Arc<Config>, Journal, ananke_core::Time) -> (M, TraceOptions),
{
    let run_id = new_run_id(req.command);
    let started_at = now_rfc3339();
    let mut warnings = Vec::new();
    let state = match crate::target::state_dir_for(req.global) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let _lock = if req.execute {
        match acquire_lock(req, &state, &run_id, &started_at, &mut warnings) {
            Ok(lock) => Some(lock),
            Err(code) => return code,
        }
    } else {
        None
    };
    let purpose = match req.command {
        Command::Startup => Purpose::Startup,
        Command::Shutdown => Purpose::Shutdown,
    };
    let target = match Target::open(req.global, purpose, req.execute) {
        Ok(t) => t,
        Err(code) => return code,
    };
    if req.execute {
        match crate::coordination::check_before_run(req.global, &target.config, req.force) {
            Ok(w) => warnings.extend(w),
            Err(code) => return code,
        }
    }
    let journal = match (&target.journal, target.state.read_journal()) {
        (Some(j), _) => j.clone(),
        (None, Ok(j)) => j,
        (None, Err(e)) => {
            crate::log_error!("{e}");
            return exit::USAGE_OR_CONFIG;
        }
    };
    let journal = without_journal(req.command, &target, journal, &mut warnings);
    let config = Arc::new(target.config.clone());
    let now = runner_now(&target);
    let (mut machine, options) = build(Arc::clone(&config), journal.clone(), now);
    // The hosts the shutdown would power off once the cluster is down: the dry run shows them.
    let power_off =
        options.mode.map(|mode| ananke_core::machine::PowerOffPlan::of(&config, mode).lines()).unwrap_or_default();
    let mut sink = open_sink(
        req,
        &target,
        &config,
        &run_id,
        &started_at,
        TraceStart { options, journal: &journal, now },
        &mut warnings,
    );
    let settings = RunSettings {
        execute: req.execute,
        concurrency: config.ssh.concurrency as usize,
        observe_interval: config.observe_interval.get(),
        ..RunSettings::default()
    };
    let abort = runner::abort_flag();
    let result = drive(&mut machine, &target, &settings, &mut sink, &abort);
    sink.finish();
    // Cloned, not taken: the sink keeps it and so reports a later write error of the same
    // run (the final progress flush) no second time.
    if let Some(w) = sink.write_error.clone() {
        warnings.push(w);
    }
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            crate::log_error!("{e}");
            return exit::STATE_IO;
        }
    };
    if let Err(e) = target.world.save() {
        warnings.push(format!("simulator state not saved: {e}"));
    }
    warnings.extend(result.warnings.iter().cloned());
    if !req.execute {
        return print_dry_run(req, &target, &result, &power_off);
    }
    let trace_rel = format!("reports/{run_id}.trace.jsonl");
    finish(req, &target, &run_id, &started_at, &result, warnings, &trace_rel, &mut sink)
}

/// The dry run's plan: the first step's effects and, for a shutdown that powers hosts off, every
/// power-off it would make once the cluster is down.
fn print_dry_run(req: &RunRequest<'_>, target: &Target, result: &RunResult, power_off: &[String]) -> u8 {
    if req.json {
        let mut out = RunOutput::new(req.name(), Some(&target.label), false);
        out.plan = Some(Plan { state: result.final_state, effects: &result.plan, power_off });
        return req.print_json(out, exit::SUCCESS);
    }
    let mut text =
        format!("dry run of {} on {} (nothing changed; add --execute to act)\n", req.command.as_str(), target.label);
    let _ = writeln!(text, "state: {}", result.final_state);
    if result.plan.is_empty() {
        text.push_str("plan: nothing to do now\n");
    } else {
        text.push_str("plan (in order):\n");
        for (i, p) in result.plan.iter().enumerate() {
            let _ = writeln!(text, "  {:>3}. {}   [{}]", i + 1, p.description, p.key);
        }
    }
    if !power_off.is_empty() {
        text.push_str("once the cluster is down (cluster-and-hosts):\n");
        for line in power_off {
            let _ = writeln!(text, "{}", output::wrapped("  - ", line));
        }
    }
    let _ = output::print_text(&text);
    exit::SUCCESS
}

/// A startup without a journal file: the cluster's own marks say what ananke changed (none:
/// nothing); after an ananke shutdown, the report's warnings say the journal was lost.
fn without_journal(command: Command, target: &Target, mut journal: Journal, warnings: &mut Vec<String>) -> Journal {
    if command != Command::Startup || target.journal.is_some() || target.state.journal_path().exists() {
        return journal;
    }
    journal.rebuild_from_marks = true;
    if super::bootstrap::missing_journal_warning(&target.state).is_some() {
        warnings.push(
            "journal.json was missing after an ananke shutdown: this startup rebuilt it from the cluster's ananke.io marks (see the restore source)"
                .to_owned(),
        );
    }
    journal
}

/// What the trace header records about the machine's start.
struct TraceStart<'a> {
    options: TraceOptions,
    journal: &'a Journal,
    now: ananke_core::Time,
}

/// The run's sink: progress on stderr always; with `--execute`, also the progress file and the
/// trace (whose header is written now).
fn open_sink(
    req: &RunRequest<'_>,
    target: &Target,
    config: &Config,
    run_id: &str,
    started_at: &str,
    start: TraceStart<'_>,
    warnings: &mut Vec<String>,
) -> CliSink {
    let simulated = matches!(target.world, crate::target::TargetWorld::Sim(_));
    let mut sink = CliSink::new(
        run_id,
        req.command,
        req.execute,
        started_at.to_owned(),
        req.global.show_progress(),
        req.global.verbose > 0,
    )
    .timed(start.now, simulated);
    if req.execute {
        sink.state = Some(target.state.clone());
        let kind = match req.command {
            Command::Startup => MachineKind::Startup,
            Command::Shutdown => MachineKind::Shutdown,
        };
        let header =
            TraceHeader::new(config, target.source.clone(), kind, start.options, start.journal.clone(), start.now);
        match create_trace(&target.state.trace_path(run_id), &header) {
            Ok(w) => sink.trace = Some(w),
            Err(e) => warnings.push(format!("no trace recorded: {e}")),
        }
        sink.flush_progress();
    }
    sink
}

/// Take the run lock on this host (creating the state dir); a stale lock is taken over with a
/// warning.
fn acquire_lock(
    req: &RunRequest<'_>,
    state: &StateDir,
    run_id: &str,
    started_at: &str,
    warnings: &mut Vec<String>,
) -> Result<RunLock, u8> {
    if let Err(e) = state.ensure() {
        crate::log_error!("{e}");
        return Err(exit::STATE_IO);
    }
    let holder = LockHolder {
        pid: std::process::id(),
        run_id: run_id.to_owned(),
        command: req.command.as_str().to_owned(),
        since: started_at.to_owned(),
        boot_id: ananke_core::store::lock::boot_id(),
    };
    match RunLock::acquire(state.root(), &holder) {
        Ok(lock) => {
            if let Some(stale) = &lock.took_over {
                let w =
                    format!("took over a stale lock of pid {} (run {}, no longer running)", stale.pid, stale.run_id);
                crate::log_warn!("{w}");
                warnings.push(w);
            }
            Ok(lock)
        }
        Err(e @ LockError::Held { .. }) => {
            crate::log_error!("{e}");
            Err(exit::LOCK_HELD)
        }
        Err(e) => {
            crate::log_error!("{e}");
            Err(exit::STATE_IO)
        }
    }
}

/// Open the trace file (0640) and write its header.
fn create_trace(
    path: &std::path::Path,
    header: &TraceHeader,
) -> Result<TraceWriter<std::io::BufWriter<std::fs::File>>, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(ananke_core::store::atomic::REPORT_MODE)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    TraceWriter::new(std::io::BufWriter::new(file), header).map_err(|e| e.to_string())
}

fn runner_now(target: &Target) -> ananke_core::Time {
    use ananke_core::runner::World;
    target.world.now()
}

fn drive<M: Machine>(
    machine: &mut M,
    target: &Target,
    settings: &RunSettings,
    sink: &mut CliSink,
    abort: &Arc<AtomicBool>,
) -> Result<RunResult, runner::RunError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| runner::RunError::Journal(StoreError::Io { path: "tokio runtime".into(), source }))?;
    let store = settings.execute.then_some(&target.state);
    rt.block_on(async {
        let (installed, ready) = tokio::sync::oneshot::channel();
        tokio::spawn(watch_signals(Arc::clone(abort), installed));
        // A signal that arrives before the runner first yields must abort the run, not kill the
        // process: wait until the handlers are in place (or their task failed: run without them).
        let _ = ready.await;
        runner::run(machine, &target.world, settings, store, sink, abort).await
    })
}

/// Set the abort flag on SIGINT or SIGTERM; the runner stops before its next step.
async fn watch_signals(abort: Arc<AtomicBool>, installed: tokio::sync::oneshot::Sender<()>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (term, int) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
    let _ = installed.send(());
    let (Ok(mut term), Ok(mut int)) = (term, int) else { return };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    abort.store(true, Ordering::SeqCst);
}

#[allow(clippy::too_many_arguments)]
fn finish(
    req: &RunRequest<'_>,
    target: &Target,
    run_id: &str,
    started_at: &str,
    result: &RunResult,
    warnings: Vec<String>,
    trace_rel: &str,
    sink: &mut CliSink,
) -> u8 {
    let report = RunReport {
        version: REPORT_VERSION,
        run_id: run_id.to_owned(),
        command: req.command,
        target: target.label.clone(),
        ananke_version: env!("ANANKE_VERSION").to_owned(),
        execute: req.execute,
        reason: req.reason.clone(),
        mode: req.mode.clone(),
        force_flux_branch: req.force_flux_branch.clone(),
        outcome: result.outcome,
        final_state: result.final_state.to_owned(),
        failure: result.failure.clone(),
        started_at: started_at.to_owned(),
        finished_at: now_rfc3339(),
        duration_ms: result.duration_ms,
        phases: result.phases.clone(),
        gates: result.gates.clone(),
        effect_counts: result.effect_counts.clone(),
        effects: result.effects.clone(),
        diagnostics: result.diagnostics.clone(),
        unconfirmed: result.unconfirmed.clone(),
        warnings,
        trace: if req.execute { trace_rel.to_owned() } else { String::new() },
    };
    sink.progress.outcome = result.outcome;
    sink.flush_progress();
    let path = match target.state.write_report(&report) {
        Ok(p) => p,
        Err(e) => {
            crate::log_error!("cannot write the report: {e}");
            return exit::STATE_IO;
        }
    };
    // The summary goes to stdout; on the journal, why a run failed is also an `err` line.
    if let (Some(f), true) = (&report.failure, crate::journal::on_journal()) {
        crate::log_error!(
            "{} {} failed: {} (report {})",
            report.command.as_str(),
            report.run_id,
            f.reason,
            path.display()
        );
    }
    // The drill record: this run against the last ones of its kind (a history that cannot be
    // read is said, and costs the run nothing).
    let comparison = match target.state.read_runs() {
        Ok(history) => compare::compare(&history, run_id, compare::DEFAULT_LAST.into()),
        Err(e) => {
            crate::log_warn!("no comparison with earlier runs: {e}");
            None
        }
    };
    if req.json {
        let mut out = RunOutput::new(req.name(), Some(&target.label), true);
        out.report = Some(&report);
        out.report_path = Some(path.display().to_string());
        out.comparison = comparison;
        return req.print_json(out, exit_code(result));
    }
    let mut text = output::report_summary(&report, Some(&path.display().to_string()));
    for line in comparison.iter().flat_map(Comparison::summary_lines) {
        let _ = writeln!(text, "{line}");
    }
    let _ = output::print_text(&text);
    exit_code(result)
}

/// The exit code of a finished run.
fn exit_code(result: &RunResult) -> u8 {
    match result.outcome {
        RunOutcome::Succeeded | RunOutcome::Planned | RunOutcome::Running => exit::SUCCESS,
        RunOutcome::Aborted => exit::ABORTED,
        RunOutcome::Incomplete => exit::INCOMPLETE,
        RunOutcome::Failed => {
            let deadline = result.failure.as_ref().is_some_and(|f| f.reason.contains("deadline"));
            if deadline {
                exit::DEADLINE_EXCEEDED
            } else {
                exit::GATES_NOT_PASSED
            }
        }
    }
}
