//! Without --execute nothing changes: not the simulated cluster, not a file in the state dir.

use crate::common::{files_under, sim};
use std::collections::BTreeMap;
use std::path::Path;

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    if !dir.exists() {
        return BTreeMap::new();
    }
    files_under(dir).into_iter().map(|p| (p.display().to_string(), std::fs::read(&p).unwrap())).collect()
}

#[test]
fn a_dry_run_on_a_fresh_lab_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (code, stdout, _) = sim(&state, &["startup"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("dry run of startup"), "{stdout}");
    assert!(!state.exists(), "a dry run created {}", state.display());
    let (code, stdout, _) = sim(&state, &["shutdown", "--reason", "drill"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("plan (in order)"), "a running lab has a shutdown plan: {stdout}");
    assert!(stdout.contains("suspend Kustomization/"), "{stdout}");
    assert!(!state.exists());
}

#[test]
fn dry_runs_leave_an_existing_lab_and_state_dir_identical() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (code, _, stderr) = sim(&state, &["startup", "--execute"]);
    assert_eq!(code, 0, "{stderr}");
    // Progress lines say their time is the simulator's, counted from the run's start.
    let first = stderr.lines().find(|l| l.contains(" -> ")).expect("a progress line");
    assert!(first.starts_with("[sim t+") && first.ends_with("s] off -> nodes-up"), "{stderr}");
    let before = snapshot(&state);
    let status_before = sim(&state, &["status", "--json"]).1;
    for args in [&["startup"][..], &["shutdown", "--reason", "drill"], &["startup", "--force-flux-branch", "drill"]] {
        let (code, stdout, stderr) = sim(&state, args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(stdout.contains("nothing changed"), "{stdout}");
    }
    assert_eq!(snapshot(&state), before, "a dry run changed a file in the state dir");
    let status_after = sim(&state, &["status", "--json"]).1;
    let strip = |s: &str| s.lines().filter(|l| !l.contains("observed_at")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&status_after), strip(&status_before), "the simulated cluster changed");
}

#[test]
fn a_cluster_and_hosts_dry_run_shows_every_power_off_in_its_order() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (code, stdout, stderr) = sim(&state, &["shutdown", "--reason", "drill", "--mode", "cluster-and-hosts"]);
    assert_eq!(code, 0, "{stderr}");
    let (_, after) = stdout.split_once("once the cluster is down (cluster-and-hosts):\n").expect("the power-offs");
    let text = after.split_whitespace().collect::<Vec<_>>().join(" ");
    let agents =
        text.find("power off the agents at once: titan-03, titan-04, titan-05, titan-06, titan-23, titan-24, titan-jh");
    let servers =
        text.find("power off the servers, once every agent's power-off returned: titan-db, titan-01, titan-02");
    assert!(agents.is_some() && servers.is_some() && agents < servers, "{stdout}");
    let (_, plain, _) = sim(&state, &["shutdown", "--reason", "drill"]);
    assert!(!plain.contains("power off"), "cluster-only powers nothing off: {plain}");
}
