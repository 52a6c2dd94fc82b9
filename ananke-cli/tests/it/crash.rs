//! Crash safety: a run stopped at any instant and run again ends with the cluster exactly as an
//! uninterrupted run leaves it, field by field.
//!
//! Two levels: in process, the runner is dropped at every effect boundary of a titan-lab shutdown
//! and of a startup; and the real binary is killed with SIGKILL at random moments.

use crate::common::sim;
use ananke_core::machine::{EffectOutcome, Machine, ShutdownMachine, ShutdownOptions, StartupMachine, StartupOptions};
use ananke_core::runner::{self, RunSettings, World};
use ananke_core::store::StateDir;
use ananke_core::{Config, Effect, Journal, Observation, Time};
use ananke_sim::world::{Purpose, SimWorld};
use ananke_sim::{ClusterState, Model};
use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A world that "crashes" once it executed `budget` effects: from then on nothing it is asked
/// completes (the runner keeps observing while a batch runs; a crashed process does not).
struct Crashing<'a> {
    inner: &'a SimWorld,
    budget: Cell<usize>,
    crashed: Cell<bool>,
}

impl World for Crashing<'_> {
    async fn observe(&self) -> Observation {
        if self.crashed.get() {
            return std::future::pending().await;
        }
        self.inner.observe().await
    }
    async fn execute(&self, effect: &Effect) -> EffectOutcome {
        if self.budget.get() == 0 {
            self.crashed.set(true);
            return std::future::pending().await;
        }
        self.budget.set(self.budget.get() - 1);
        self.inner.execute(effect).await
    }
    fn now(&self) -> Time {
        self.inner.now()
    }
    async fn sleep_until(&self, at: Time) {
        if self.crashed.get() {
            return std::future::pending().await;
        }
        self.inner.sleep_until(at).await;
    }
    fn virtual_clock(&self) -> bool {
        self.inner.virtual_clock()
    }
}

#[derive(Clone, Copy)]
enum Which {
    Shutdown,
    Startup,
}

/// Build the machine and drive it until it ends, or until the world crashes (`None`).
fn run_once(
    which: Which,
    config: &Config,
    journal: Journal,
    world: &Crashing<'_>,
    state: &StateDir,
) -> Option<runner::RunResult> {
    let config = Arc::new(config.clone());
    let now = world.now();
    match which {
        Which::Shutdown => {
            let options =
                ShutdownOptions { reason: "crash-test".into(), mode: ananke_core::config::ShutdownMode::ClusterOnly };
            drive(&mut ShutdownMachine::new(config, journal, options, now), world, state)
        }
        Which::Startup => {
            drive(&mut StartupMachine::new(config, journal, StartupOptions::default(), now), world, state)
        }
    }
}

fn drive<M: Machine>(m: &mut M, world: &Crashing<'_>, state: &StateDir) -> Option<runner::RunResult> {
    let settings = RunSettings { execute: true, ..RunSettings::default() };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let abort = runner::abort_flag();
    rt.block_on(async {
        let mut sink = ();
        let run = runner::run(m, world, &settings, Some(state), &mut sink, &abort);
        tokio::pin!(run);
        loop {
            tokio::select! {
                r = &mut run => return Some(r.expect("runner error")),
                () = tokio::task::yield_now() => if world.crashed.get() { return None },
            }
        }
    })
}

/// Run `which` on the world in `dir`, crashing after `budget` effects, then run it again to the
/// end. Returns the final cluster state and how many effects the first attempt executed.
fn crash_then_finish(dir: &Path, which: Which, budget: usize) -> (ClusterState, bool) {
    let purpose = match which {
        Which::Shutdown => Purpose::Shutdown,
        Which::Startup => Purpose::Startup,
    };
    let state = StateDir::new(dir);
    state.ensure().unwrap();
    let opened = SimWorld::open("titan-lab", dir, purpose, true).unwrap();
    if let Some(j) = &opened.journal {
        state.write_journal(j).unwrap();
    }
    let world = Crashing { inner: &opened.world, budget: Cell::new(budget), crashed: Cell::new(false) };
    let first = run_once(which, &opened.config, state.read_journal().unwrap(), &world, &state);
    let crashed = first.is_none();
    opened.world.save().unwrap();
    drop(opened);
    // The rerun: a new process would reopen the world and the journal.
    let opened = SimWorld::open("titan-lab", dir, purpose, true).unwrap();
    let world = Crashing { inner: &opened.world, budget: Cell::new(usize::MAX), crashed: Cell::new(false) };
    let result =
        run_once(which, &opened.config, state.read_journal().unwrap(), &world, &state).expect("the rerun completes");
    assert!(result.failure.is_none(), "rerun after a crash at effect {budget} failed: {:?}", result.failure);
    (opened.world.cluster_state(), crashed)
}

fn running_lab() -> ClusterState {
    Model::new(&ananke_sim::builtin("titan-lab").unwrap(), 0).cluster_state()
}

#[test]
fn a_startup_stopped_at_every_effect_boundary_restores_the_lab_exactly() {
    let want = running_lab();
    let mut budget = 0;
    loop {
        let dir = tempfile::tempdir().unwrap();
        let (got, crashed) = crash_then_finish(dir.path(), Which::Startup, budget);
        let diff = want.diff(&got);
        assert!(diff.is_empty(), "crash after {budget} effects of the startup: {diff:#?}");
        if !crashed {
            assert!(budget > 10, "a titan-lab startup executes more than 10 effects ({budget})");
            break;
        }
        budget += 1;
    }
}

#[test]
fn a_shutdown_stopped_at_every_effect_boundary_then_a_startup_restores_the_lab_exactly() {
    let want = running_lab();
    let mut budget = 0;
    loop {
        let dir = tempfile::tempdir().unwrap();
        let (_, crashed) = crash_then_finish(dir.path(), Which::Shutdown, budget);
        let (got, _) = crash_then_finish(dir.path(), Which::Startup, usize::MAX);
        let diff = want.diff(&got);
        assert!(diff.is_empty(), "crash after {budget} effects of the shutdown: {diff:#?}");
        if !crashed {
            assert!(budget > 10, "a titan-lab shutdown executes more than 10 effects ({budget})");
            break;
        }
        budget += 1;
    }
}

/// A small deterministic PRNG for the kill delays.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn the_real_binary_killed_at_random_moments_then_rerun_completes() {
    use std::process::{Command, Stdio};
    let want = running_lab();
    let bin = assert_cmd::cargo::cargo_bin("ananke");
    let mut seed = 0xA7A7_2026_u64;
    // Kill within the time an uninterrupted run takes on this machine.
    let scratch = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    assert_eq!(sim(&scratch.path().join("state"), &["shutdown", "--execute", "--reason", "timing"]).0, 0);
    assert_eq!(sim(&scratch.path().join("state"), &["startup", "--execute"]).0, 0);
    let window = u64::try_from(started.elapsed().as_millis() / 2).unwrap_or(200).max(20);
    let mut killed_mid_run = 0;
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        for args in [&["shutdown", "--execute", "--reason", "kill-drill"][..], &["startup", "--execute"]] {
            let mut child = Command::new(&bin);
            child.args(args).args(["-q", "--sim", "titan-lab", "--state-dir"]).arg(&state);
            // Under the coverage gate, a kill that lands while the run writes its profile on the
            // way out leaves a truncated file that fails the whole merge: the killed runs write
            // theirs here, away from the merge (the reruns below are measured).
            if std::env::var_os("LLVM_PROFILE_FILE").is_some() {
                child.env("LLVM_PROFILE_FILE", dir.path().join("killed-%p.profraw"));
            }
            let mut child = child.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            std::thread::sleep(Duration::from_millis(splitmix(&mut seed) % window));
            let _ = child.kill();
            let status = child.wait().unwrap();
            if status.code().is_none() {
                killed_mid_run += 1;
            }
            let (code, stdout, stderr) = sim(&state, args);
            assert_eq!(code, 0, "round {round}: rerun of {args:?} after SIGKILL:\n{stdout}\n{stderr}");
        }
        let opened = SimWorld::open("titan-lab", &state, Purpose::Observe, false).unwrap();
        let diff = want.diff(&opened.world.cluster_state());
        assert!(diff.is_empty(), "round {round}: {diff:#?}");
    }
    assert!(killed_mid_run >= 10, "most kills should land mid-run ({killed_mid_run} of 40)");
}

/// Run a shutdown on the world in `dir` until it crashes after `budget` effects (or ends).
/// Returns whether it crashed.
fn crash_only(dir: &Path, budget: usize) -> bool {
    let state = StateDir::new(dir);
    state.ensure().unwrap();
    let opened = SimWorld::open("titan-lab", dir, Purpose::Shutdown, true).unwrap();
    let world = Crashing { inner: &opened.world, budget: Cell::new(budget), crashed: Cell::new(false) };
    let crashed = run_once(Which::Shutdown, &opened.config, state.read_journal().unwrap(), &world, &state).is_none();
    opened.world.save().unwrap();
    crashed
}

#[test]
fn a_shutdown_killed_halfway_is_undone_by_bootstrap_without_a_manual_step() {
    let want = running_lab();
    let mut crashes = 0;
    for budget in (1..).step_by(4) {
        let dir = tempfile::tempdir().unwrap();
        if !crash_only(dir.path(), budget) {
            break;
        }
        crashes += 1;
        let journal = StateDir::new(dir.path()).read_journal().unwrap();
        assert!(journal.shutdown_unfinished(), "crash after {budget} effects: {journal:?}");
        // `status` lists what is left to restore.
        let (code, stdout, stderr) = sim(dir.path(), &["status", "--json"]);
        assert_eq!(code, 0, "{stderr}");
        let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(status["pending_restore"]["shutdown_completed"], false, "{stdout}");
        assert_eq!(status["pending_restore"]["command"], "ananke bootstrap --execute");
        let (code, stdout, stderr) = sim(dir.path(), &["bootstrap", "--execute"]);
        assert_eq!(code, 0, "crash after {budget} effects, bootstrap:\n{stdout}\n{stderr}");
        assert!(stderr.contains("did not complete; restoring what it changed"), "{stderr}");
        let opened = SimWorld::open("titan-lab", dir.path(), Purpose::Observe, false).unwrap();
        let diff = want.diff(&opened.world.cluster_state());
        assert!(diff.is_empty(), "crash after {budget} effects, then bootstrap: {diff:#?}");
        let journal = StateDir::new(dir.path()).read_journal().unwrap();
        assert!(!journal.pending_restore(), "{journal:?}");
        let (_, stdout, _) = sim(dir.path(), &["status", "--json"]);
        assert!(!stdout.contains("pending_restore"), "nothing left to restore: {stdout}");
    }
    assert!(crashes >= 5, "the shutdown was cut at {crashes} points");
}

#[test]
fn a_deleted_journal_after_a_shutdown_is_a_loud_warning_naming_what_recovers() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(sim(dir.path(), &["shutdown", "--execute", "--reason", "drill"]).0, 0);
    std::fs::remove_file(dir.path().join("journal.json")).unwrap();
    let (_, stdout, _) = sim(dir.path(), &["status"]);
    assert!(stdout.contains("WARNING: the journal") && stdout.contains("is missing"), "{stdout}");
    assert!(stdout.contains("ananke report last --command shutdown"), "{stdout}");
    let (_, _, stderr) = sim(dir.path(), &["bootstrap"]);
    assert!(stderr.contains("WARNING: the journal") && stderr.contains("is missing"), "{stderr}");
    assert!(stderr.contains("`ananke bootstrap --execute` rebuilds it from the ananke.io marks"), "{stderr}");
    // The recovery: the journal rebuilt from the marks ananke left on what it changed.
    let (code, stdout, stderr) = sim(dir.path(), &["bootstrap", "--execute"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let opened = SimWorld::open("titan-lab", dir.path(), Purpose::Observe, false).unwrap();
    let diff = running_lab().diff(&opened.world.cluster_state());
    assert!(diff.is_empty(), "restored from the marks: {diff:#?}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("last-startup-report.json")).unwrap()).unwrap();
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("restore source: the cluster's ananke.io marks (the journal was lost): scale back"),
        "{warnings}"
    );
    assert!(warnings.contains("resume Kustomization/flux-system/flux-system"), "{warnings}");
    assert!(warnings.contains("uncordon titan-"), "{warnings}");
    // What the restore undid carries no mark any more.
    let obs = tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(opened.world.observe());
    assert!(ananke_core::journal::Changes::from_marks(&obs).is_empty(), "no mark is left behind");
}

#[test]
fn status_names_a_damaged_journal_and_a_pending_restore_with_nothing_listed() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(sim(dir.path(), &["shutdown", "--execute", "--reason", "drill"]).0, 0);
    let journal_path = dir.path().join("journal.json");
    let kept = std::fs::read_to_string(&journal_path).unwrap();
    std::fs::write(&journal_path, "{ damaged").unwrap();
    let (code, stdout, stderr) = sim(dir.path(), &["status", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let warning = status["warnings"][0].as_str().unwrap();
    assert!(warning.contains("is damaged") && warning.contains("move the damaged file aside"), "{warning}");
    let (code, _, stderr) = sim(dir.path(), &["bootstrap"]);
    assert_eq!(code, 2, "a damaged journal stops bootstrap: {stderr}");
    assert!(stderr.contains("is damaged"), "{stderr}");
    // A shutdown started and left nothing listed: still pending, with nothing to name.
    let mut journal: ananke_core::Journal = serde_json::from_str(&kept).unwrap();
    journal.changes = ananke_core::journal::Changes::default();
    journal.shutdown_completed = false;
    std::fs::write(&journal_path, serde_json::to_string(&journal).unwrap()).unwrap();
    let (_, stdout, _) = sim(dir.path(), &["status"]);
    assert!(stdout.contains("pending restore: the ananke shutdown (drill) did not complete"), "{stdout}");
    assert!(stdout.contains("nothing listed (the startup still verifies every gate)"), "{stdout}");
}
