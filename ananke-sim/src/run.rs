//! Running a scenario: shutdown, startup or a full cycle (shutdown, power loss, power restore,
//! startup) of the core's machines against the model, with traces, and the expectation check.

use crate::critical_path::{critical_path_for, CriticalPath};
use crate::driver::{drive, DriveError, DriveOutcome, Limits};
use crate::model::{ClusterState, Model};
use crate::scenario::{Drive, Outcome, Phase, Scenario};
use ananke_core::config::ShutdownMode;
use ananke_core::machine::{Machine, ShutdownMachine, ShutdownOptions, StartupMachine, StartupOptions};
use ananke_core::runner::Step;
use ananke_core::trace::{MachineKind, TraceHeader, TraceOptions, TraceWriter};
use ananke_core::{Journal, Time};

/// What to run and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSpec {
    /// Shutdown, startup or both (default: the scenario's `drive`).
    pub drive: Option<Drive>,
    /// Seed of the random faults.
    pub seed: u64,
    /// Bounds of each machine's drive.
    pub limits: Limits,
    /// Record a trace of each machine.
    pub record: bool,
}

/// One machine's run.
#[derive(Debug, Clone)]
pub struct MachineRun {
    /// Which machine.
    pub machine: MachineKind,
    /// How its drive ended.
    pub outcome: DriveOutcome,
    /// Its trace (JSON Lines), when recorded.
    pub trace: Option<Vec<u8>>,
}

/// A whole scenario run.
#[derive(Debug, Clone)]
pub struct ScenarioRun {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// The shutdown, if run.
    pub shutdown: Option<MachineRun>,
    /// The startup, if run.
    pub startup: Option<MachineRun>,
    /// Cluster state before the run.
    pub before: ClusterState,
    /// Cluster state after the run.
    pub after: ClusterState,
    /// The scenario's critical path.
    pub critical: CriticalPath,
    /// The model at the end.
    pub model: Model,
}

impl ScenarioRun {
    /// Startup duration / critical path, when both exist.
    #[must_use]
    pub fn startup_ratio(&self) -> Option<f64> {
        let run = self.startup.as_ref()?;
        let ideal = self.critical.startup?.as_secs_f64();
        (run.outcome.state == "ready" && ideal > 0.0).then(|| run.outcome.duration().as_secs_f64() / ideal)
    }

    /// The shutdown's virtual duration against its critical path, when it ran, did not fail and
    /// did something (an `incomplete` shutdown ran to its end: its time counts; one that reached
    /// nothing has nothing to measure).
    #[must_use]
    pub fn shutdown_ratio(&self) -> Option<f64> {
        let run = self.shutdown.as_ref()?;
        let ideal = self.critical.shutdown.as_secs_f64();
        (run.outcome.state != "failed" && !run.outcome.effects.is_empty() && ideal > 0.0)
            .then(|| run.outcome.duration().as_secs_f64() / ideal)
    }

    /// Every way the run misses the scenario's expectation (empty: met).
    #[must_use]
    pub fn unmet(&self, scenario: &Scenario) -> Vec<String> {
        let mut out = Vec::new();
        let expect = &scenario.expect;
        check_outcome(&mut out, "shutdown", expect.shutdown.as_ref(), self.shutdown.as_ref());
        check_outcome(&mut out, "startup", expect.startup.as_ref(), self.startup.as_ref());
        if let Some(startup) = &self.startup {
            // `visits` is an ordered subsequence of the states the startup went through.
            let mut states = startup.outcome.states.iter().map(|(_, s)| *s);
            if let Some(missing) = expect.visits.iter().find(|v| !states.any(|s| s == v.as_str())) {
                let seen: Vec<&str> = startup.outcome.states.iter().map(|(_, s)| *s).collect();
                out.push(format!(
                    "startup never went through `{missing}` in the order {:?} (went {})",
                    expect.visits,
                    seen.join(" -> ")
                ));
            }
        }
        let ready = self.startup.as_ref().is_some_and(|s| s.outcome.state == "ready");
        if expect.restored && ready && self.shutdown.is_some() {
            out.extend(self.before.diff(&self.after).into_iter().map(|d| format!("not restored: {d}")));
        }
        out
    }
}

fn check_outcome(out: &mut Vec<String>, what: &str, expected: Option<&Outcome>, run: Option<&MachineRun>) {
    let (Some(expected), Some(run)) = (expected, run) else { return };
    let o = &run.outcome;
    if o.state != expected.state {
        let why = o.failure.as_ref().map_or(String::new(), |f| format!(" ({})", f.reason));
        out.push(format!("{what} ended `{}`{why}, expected `{}`", o.state, expected.state));
        return;
    }
    let failure = o.failure.as_ref();
    if let Some(gate) = &expected.gate {
        let got = failure.and_then(|f| f.gate).map_or("none", |g| g.as_str());
        if got != gate {
            out.push(format!("{what} failed at gate `{got}`, expected `{gate}`"));
        }
    }
    if let Some(fragment) = &expected.reason {
        // An incomplete run's "reason" is the list of what it did not see done.
        let unconfirmed: Vec<String> = o.unconfirmed.iter().map(ToString::to_string).collect();
        let reason = failure.map_or_else(|| unconfirmed.join("; "), |f| f.reason.clone());
        if !reason.contains(fragment.as_str()) {
            out.push(format!("{what} failure reason `{reason}` does not mention `{fragment}`"));
        }
    }
}

/// Drive one machine, recording its trace if asked.
fn drive_recorded(
    machine: &mut dyn Machine,
    model: &mut Model,
    start: Time,
    spec: &RunSpec,
    header: &TraceHeader,
) -> Result<(DriveOutcome, Option<Vec<u8>>), DriveError> {
    if !spec.record {
        return drive(machine, model, start, &spec.limits, &mut |_| ()).map(|o| (o, None));
    }
    let mut writer = TraceWriter::new(Vec::new(), header).ok();
    let outcome = drive(machine, model, start, &spec.limits, &mut |v: &Step<'_>| {
        // A record that cannot be written loses the whole trace rather than leaving a gap in it.
        writer = writer.take().and_then(|mut w| w.record(v).ok().map(|()| w));
    })?;
    Ok((outcome, writer.and_then(|w| w.finish().ok())))
}

/// Run `scenario` as `spec` says.
///
/// # Errors
/// When a machine's drive does not end within its bounds.
pub fn run_scenario(scenario: &Scenario, spec: &RunSpec) -> Result<ScenarioRun, DriveError> {
    let config = scenario.config_arc();
    // Observe as often as `ananke` would with this config.
    let spec = &RunSpec {
        limits: Limits { observe_every: config.observe_interval.get(), ..spec.limits.clone() },
        ..spec.clone()
    };
    let mut model = Model::new(scenario, spec.seed);
    let before = model.cluster_state();
    let drive_mode = spec.drive.unwrap_or(scenario.drive);
    let mut now = Time::ZERO;
    let mut journal = Journal::default();
    let mut shutdown = None;
    if matches!(drive_mode, Drive::Shutdown | Drive::Cycle) {
        model.begin_phase(Phase::Shutdown, now);
        let reason = scenario.options.reason.clone().unwrap_or_else(|| "ananke-sim".to_owned());
        let options = ShutdownOptions { reason: reason.clone(), mode: ShutdownMode::ClusterOnly };
        let trace_options =
            TraceOptions { reason: Some(reason), mode: Some(ShutdownMode::ClusterOnly), ..TraceOptions::default() };
        let header =
            TraceHeader::new(&config, &scenario.name, MachineKind::Shutdown, trace_options, journal.clone(), now);
        let mut machine = ShutdownMachine::new(config.clone(), journal.clone(), options, now);
        let (outcome, trace) = drive_recorded(&mut machine, &mut model, now, spec, &header)?;
        now = outcome.end;
        journal = outcome.journal.clone();
        shutdown = Some(MachineRun { machine: MachineKind::Shutdown, outcome, trace });
    }
    if drive_mode == Drive::Cycle {
        if let Some(outage) = &scenario.outage {
            model.begin_phase(Phase::Outage, now);
            model.power_loss(now);
            now = now.plus(outage.duration.get());
            model.power_restore(now);
        }
    }
    let mut startup = None;
    if matches!(drive_mode, Drive::Startup | Drive::Cycle) {
        model.begin_phase(Phase::Startup, now);
        let options = StartupOptions { force_flux_branch: scenario.options.force_flux_branch.clone() };
        let trace_options =
            TraceOptions { force_flux_branch: options.force_flux_branch.clone(), ..TraceOptions::default() };
        let header =
            TraceHeader::new(&config, &scenario.name, MachineKind::Startup, trace_options, journal.clone(), now);
        let mut machine = StartupMachine::new(config.clone(), journal, options, now);
        let (outcome, trace) = drive_recorded(&mut machine, &mut model, now, spec, &header)?;
        startup = Some(MachineRun { machine: MachineKind::Startup, outcome, trace });
    }
    let after = model.cluster_state();
    Ok(ScenarioRun {
        scenario: scenario.name.clone(),
        seed: spec.seed,
        shutdown,
        startup,
        before,
        after,
        critical: critical_path_for(scenario, drive_mode),
        model,
    })
}
