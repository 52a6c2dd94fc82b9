//! The in-process world of `ananke --sim`: its log keeps the simulated cluster across processes,
//! a torn last line is dropped, and a log of another version or with a misplaced header is refused
//! with its line.

use ananke_core::config::{K3sRole, UnsealKeySource};
use ananke_core::machine::EffectOutcome;
use ananke_core::runner::World;
use ananke_core::{Effect, Time};
use ananke_sim::world::{Opened, Purpose, SimWorld, WorldError};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn open(dir: &Path, purpose: Purpose, persist: bool) -> Result<Opened, WorldError> {
    SimWorld::open("titan-lab", dir, purpose, persist)
}

fn log_of(dir: &Path) -> PathBuf {
    dir.join("sim").join("world.jsonl")
}

fn ops(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["op"].as_str().unwrap().to_owned())
        .collect()
}

/// A log of a shutdown world that observed, stopped titan-24's k3s and waited.
async fn a_used_world(dir: &Path) -> ananke_sim::ClusterState {
    let opened = open(dir, Purpose::Shutdown, true).unwrap();
    assert!(opened.journal.is_none(), "only a first startup has a prehistory");
    let world = opened.world;
    assert_eq!(world.log_path(), log_of(dir));
    let _ = world.observe().await;
    let stop = Effect::StopK3s { node: "titan-24".into(), role: K3sRole::Agent };
    assert!(matches!(world.execute(&stop).await, ananke_core::machine::EffectOutcome::Ok));
    let later = world.now().plus(std::time::Duration::from_secs(60));
    world.sleep_until(later).await;
    world.sleep_until(Time::ZERO).await; // the past: nothing to log
    assert_eq!(world.now(), later);
    world.save().unwrap();
    world.cluster_state()
}

#[tokio::test(flavor = "current_thread")]
async fn the_log_keeps_the_cluster_across_opens() {
    let dir = TempDir::new().unwrap();
    let state = a_used_world(dir.path()).await;
    assert_eq!(ops(&log_of(dir.path())), ["header", "phase", "observe", "apply", "advance"]);
    let again = open(dir.path(), Purpose::Observe, false).unwrap();
    assert_eq!(again.world.cluster_state(), state);
    let obs = again.world.observe().await;
    let node = obs.nodes.iter().find(|n| n.name == "titan-24").unwrap();
    assert_eq!(node.k3s_unit, ananke_core::observation::UnitState::Inactive, "the stop outlived the process");
    assert_eq!(ops(&log_of(dir.path())).len(), 5, "not persisting: the log is untouched");
}

#[test]
fn a_first_startup_lives_through_the_shutdown_and_outage_once() {
    let dir = TempDir::new().unwrap();
    let opened = open(dir.path(), Purpose::Startup, true).unwrap();
    let journal = opened.journal.expect("a first startup simulates the shutdown before it");
    assert!(!journal.changes.scaled.is_empty(), "{journal:?}");
    drop(opened.world);
    let written = ananke_core::store::StateDir::new(dir.path()).read_journal().unwrap();
    assert_eq!(written, journal, "the prehistory's journal is in the state dir");
    assert_eq!(ops(&log_of(dir.path())), ["header", "prehistory", "phase"]);
    let again = open(dir.path(), Purpose::Startup, true).unwrap();
    assert!(again.journal.is_none(), "the prehistory happened once");
    assert_eq!(ops(&log_of(dir.path())), ["header", "prehistory", "phase", "phase"]);
}

#[test]
fn a_world_not_persisted_writes_nothing() {
    let dir = TempDir::new().unwrap();
    let opened = open(dir.path(), Purpose::Startup, false).unwrap();
    assert!(opened.journal.is_some());
    assert!(!dir.path().join("sim").exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "not even the journal");
}

#[tokio::test(flavor = "current_thread")]
async fn a_torn_last_line_is_dropped() {
    let dir = TempDir::new().unwrap();
    let state = a_used_world(dir.path()).await;
    let path = log_of(dir.path());
    let good = std::fs::read_to_string(&path).unwrap();
    let torn = format!("{good}{{\"op\":\"apply\",\"t\":12");
    std::fs::write(&path, &torn).unwrap();
    let dry = open(dir.path(), Purpose::Observe, false).unwrap();
    assert_eq!(dry.world.cluster_state(), state);
    dry.world.save().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), torn, "a dry run writes nothing, not even the cut");
    let opened = open(dir.path(), Purpose::Observe, true).unwrap();
    assert_eq!(opened.world.cluster_state(), state);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), good, "the torn bytes are cut off");
}

#[tokio::test(flavor = "current_thread")]
async fn a_log_killed_before_its_first_line_starts_afresh() {
    let dir = TempDir::new().unwrap();
    a_used_world(dir.path()).await;
    let path = log_of(dir.path());
    for torn in ["", "{\"op\":\"header\",\"vers"] {
        std::fs::write(&path, torn).unwrap();
        assert!(open(dir.path(), Purpose::Observe, false).is_ok(), "{torn:?} opens as a fresh lab");
    }
}

#[tokio::test]
async fn bad_logs_are_refused_with_their_line() {
    let dir = TempDir::new().unwrap();
    a_used_world(dir.path()).await;
    let path = log_of(dir.path());
    let good = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let cases = [
        (good.replacen("\"version\":1", "\"version\":9", 1), "line 1: version 9 is not the supported 1"),
        (format!("{good}{}\n", lines[0]), "line 6: misplaced header"),
        (lines[1..].join("\n"), "line 1: misplaced header"),
        (format!("{good}{{\"op\":\"teleport\"}}\n"), "line 6: unknown variant `teleport`"),
        ("\n".to_owned(), "empty log"),
    ];
    for (text, expected) in cases {
        std::fs::write(&path, &text).unwrap();
        let err = open(dir.path(), Purpose::Observe, false).err().expect("refused");
        let message = err.to_string();
        assert!(message.starts_with(&format!("simulated world log {}: ", path.display())), "{message}");
        assert!(message.contains(expected), "expected `{expected}` in {message}");
    }
}

#[test]
fn an_unknown_scenario_or_an_unwritable_state_dir_is_an_error() {
    let dir = TempDir::new().unwrap();
    let err = SimWorld::open("no-such-lab", dir.path(), Purpose::Observe, true).err().unwrap();
    assert!(matches!(err, WorldError::Scenario(_)), "{err}");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let err = open(&file, Purpose::Startup, true).err().unwrap();
    assert!(err.to_string().starts_with(&format!("simulated world log {}", file.join("sim").display())), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn an_operator_config_decides_only_where_unseal_shares_come_from() {
    let (dir, plain_dir) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    // The same lab without an operator config, fed the same effects: the scenario alone decides.
    let plain = open(plain_dir.path(), Purpose::Startup, false).unwrap().world;
    let mut opened = open(dir.path(), Purpose::Startup, false).unwrap();
    let shares = dir.path().join("shares");
    std::fs::write(&shares, "s1\ns2\ns3\n").unwrap();
    let mut config = opened.config.clone();
    config.vault.as_mut().expect("titan-lab runs Vault").unseal_keys = UnsealKeySource::File(shares);
    config.startup.vault_unseal_breakglass_command = None;
    opened.world.use_config(config.clone());
    let unseal = |pod: &str| Effect::UnsealVault { pod: pod.into() };
    // Shares retrieved, or not an unseal: the model applies the effect.
    for effect in [unseal("vault-0"), Effect::Cordon { node: "titan-03".into() }] {
        assert_eq!(opened.world.execute(&effect).await, plain.execute(&effect).await, "{effect:?}");
    }
    let breakglass = Effect::UnsealVaultBreakglass { pod: "vault-1".into() };
    match opened.world.execute(&breakglass).await {
        EffectOutcome::Failed { transient: false, message } => assert!(
            message.starts_with("cannot retrieve unseal shares: ")
                && message.contains("startup.vault_unseal_breakglass_command"),
            "{message}"
        ),
        other => panic!("expected the unconfigured breakglass to fail: {other:?}"),
    }
    // No Vault section: no share source to run.
    config.vault = None;
    opened.world.use_config(config);
    assert_eq!(opened.world.execute(&unseal("vault-1")).await, plain.execute(&unseal("vault-1")).await);
    // The scenario's own Vault section runs its share command for real (missing here).
    opened.world.use_config(opened.config.clone());
    match opened.world.execute(&unseal("vault-2")).await {
        EffectOutcome::Failed { transient: false, message } => {
            assert!(message.starts_with("cannot retrieve unseal shares: "), "{message}");
        }
        other => panic!("expected the share retrieval to fail: {other:?}"),
    }
}

#[test]
fn a_prehistory_whose_shutdown_never_ends_keeps_its_journal_so_far() {
    let dir = TempDir::new().unwrap();
    let lab = dir.path().join("endless.yaml");
    std::fs::write(&lab, super::scenarios::ENDLESS_DRAIN).unwrap();
    let opened = SimWorld::open(lab.to_str().unwrap(), dir.path(), Purpose::Startup, false).unwrap();
    let journal = opened.journal.expect("a first startup has a prehistory");
    assert!(!journal.changes.scaled.is_empty(), "the workloads were scaled down before the drain hung: {journal:?}");
    // The shutdown was stopped at the drive's bound of six hours of virtual time; then the 45m outage.
    let bound = ananke_sim::driver::Limits::default().max_virtual + std::time::Duration::from_secs(45 * 60);
    assert_eq!(opened.world.now(), Time::ZERO.plus(bound));
}

#[tokio::test(flavor = "current_thread")]
async fn a_log_that_is_not_text_is_refused() {
    let dir = TempDir::new().unwrap();
    a_used_world(dir.path()).await;
    let path = log_of(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"\xff\xfe\n");
    std::fs::write(&path, bytes).unwrap();
    let err = open(dir.path(), Purpose::Observe, false).err().expect("refused");
    assert_eq!(err.to_string(), format!("simulated world log {}: stream did not contain valid UTF-8", path.display()));
}

#[test]
fn state_files_in_the_way_are_errors_naming_the_log() {
    // The log's own path is a directory.
    let dir = TempDir::new().unwrap();
    std::fs::create_dir_all(log_of(dir.path())).unwrap();
    let err = open(dir.path(), Purpose::Observe, true).err().expect("refused");
    let prefix = format!("simulated world log {}: ", log_of(dir.path()).display());
    assert!(err.to_string().starts_with(&prefix) && err.to_string().contains("directory"), "{err}");
    // The journal a first startup's prehistory leaves cannot be written.
    let dir = TempDir::new().unwrap();
    std::fs::create_dir_all(dir.path().join("journal.json").join("in-the-way")).unwrap();
    let err = open(dir.path(), Purpose::Startup, true).err().expect("refused");
    let prefix = format!("simulated world log {}: ", log_of(dir.path()).display());
    assert!(err.to_string().starts_with(&prefix), "{err}");
    assert_eq!(ops(&log_of(dir.path())), ["header"], "the prehistory is not logged without its journal");
}
