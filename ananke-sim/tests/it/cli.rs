//! The `ananke-sim` binary: every subcommand, what it prints and the exit codes it documents.

use ananke_sim::cli::{EXIT_ERROR, EXIT_OK, EXIT_UNMET};
use ananke_sim::scenario::{builtin, builtin_names};
use std::path::Path;
use std::process::{Command, Output};
use tempfile::TempDir;

/// Run the binary to completion.
fn sim<I: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = I>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ananke-sim")).args(args).output().unwrap()
}

fn code(out: &Output) -> u8 {
    u8::try_from(out.status.code().expect("exited, not killed")).unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Assert the exit code, showing both streams when it differs.
fn expect_code(out: &Output, expected: u8) {
    assert_eq!(code(out), expected, "stdout:\n{}\nstderr:\n{}", stdout(out), stderr(out));
}

#[test]
fn list_names_every_builtin_with_its_description() {
    let out = sim(["list"]);
    expect_code(&out, EXIT_OK);
    let text = stdout(&out);
    let names = builtin_names();
    assert_eq!(text.lines().count(), names.len(), "{text}");
    for (line, name) in text.lines().zip(&names) {
        let description = builtin(name).unwrap().description;
        assert!(line.starts_with(&format!("{name} ")), "{line}");
        assert!(line.ends_with(&description) && !description.is_empty(), "{line}");
    }
}

#[test]
fn run_reports_each_drive_mode() {
    // (flags, which machine reports are printed)
    let cases: [(&[&str], bool, bool); 4] =
        [(&[], true, true), (&["--cycle"], true, true), (&["--startup"], false, true), (&["--shutdown"], true, false)];
    for (flags, shutdown, startup) in cases {
        let out = sim(["run", "titan-lab", "--seed", "7"].iter().chain(flags));
        expect_code(&out, EXIT_OK);
        let text = stdout(&out);
        assert!(text.starts_with("scenario titan-lab (seed 7)\n"), "{flags:?}: {text}");
        assert_eq!(text.contains("\nshutdown: "), shutdown, "{flags:?}: {text}");
        assert_eq!(text.contains("\nstartup: "), startup, "{flags:?}: {text}");
        assert!(text.contains("virtual duration ") && text.contains("critical path "), "{text}");
        assert!(text.ends_with("expectation met\n"), "{flags:?}: {text}");
    }
    let out = sim(["run", "titan-lab", "--shutdown"]);
    let text = stdout(&out);
    assert!(text.contains("shutdown: quiescing@0s -> "), "{text}");
    assert!(text.contains("  effects: ") && !text.contains("  effects: none"), "a shutdown acts: {text}");
}

#[test]
fn a_failed_startup_names_its_gate_and_an_unmet_expectation_exits_1() {
    let out = sim(["run", "node-lost-required"]);
    expect_code(&out, EXIT_OK);
    let text = stdout(&out);
    assert!(text.contains("  failed at ssh-reachability: "), "{text}");
    assert!(text.contains("titan-23"), "{text}");
    assert!(text.contains("ratio n/a"), "a failed startup has no ratio to its critical path: {text}");

    let dir = TempDir::new().unwrap();
    let file = dir.path().join("expects-failure.yaml");
    std::fs::write(
        &file,
        "base: titan-lab\nname: expects-failure\nexpect:\n  startup: { state: failed, gate: ssh-reachability }\n",
    )
    .unwrap();
    let out = sim(["run".as_ref(), file.as_os_str()]);
    expect_code(&out, EXIT_UNMET);
    let text = stdout(&out);
    assert!(text.contains("expectation NOT met:\n  startup ended `ready`, expected `failed`\n"), "{text}");
}

#[test]
fn force_flux_branch_selects_the_matching_variant() {
    let out = sim(["run", "flux-source-drift", "--force-flux-branch", "main"]);
    expect_code(&out, EXIT_OK);
    assert!(stdout(&out).ends_with("expectation met\n"), "{}", stdout(&out));
}

fn records(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().filter(|l| !l.trim().is_empty()).count() - 1
}

#[test]
fn a_cycle_trace_replays_and_an_edited_one_diverges_at_the_edited_step() {
    let dir = TempDir::new().unwrap();
    let trace = dir.path().join("cycle.jsonl");
    let out = sim(["run".as_ref(), "titan-lab".as_ref(), "--cycle".as_ref(), "--trace".as_ref(), trace.as_os_str()]);
    expect_code(&out, EXIT_OK);
    let shutdown = dir.path().join("cycle.jsonl.shutdown");
    for path in [&trace, &shutdown] {
        let out = sim(["replay".as_ref(), path.as_os_str()]);
        expect_code(&out, EXIT_OK);
        assert_eq!(stdout(&out), format!("no divergence: {} records replayed\n", records(path)));
    }
    let (edited, step) = crate::traces::drop_last_effect(&std::fs::read_to_string(&shutdown).unwrap(), 1);
    let edited_path = dir.path().join("edited.jsonl");
    std::fs::write(&edited_path, edited).unwrap();
    let out = sim(["replay".as_ref(), edited_path.as_os_str()]);
    expect_code(&out, EXIT_UNMET);
    let text = stdout(&out);
    assert!(text.starts_with(&format!("divergence at step {step} (")), "{text}");
    assert!(text.contains("  expected effects: [") && text.contains("  actual effects:   ["), "{text}");
}

#[test]
fn a_damaged_or_missing_trace_is_an_error_naming_the_line() {
    let dir = TempDir::new().unwrap();
    let trace = dir.path().join("startup.jsonl");
    expect_code(
        &sim(["run".as_ref(), "titan-lab".as_ref(), "--startup".as_ref(), "--trace".as_ref(), trace.as_os_str()]),
        EXIT_OK,
    );
    let text = std::fs::read_to_string(&trace).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[3] = "{\"step\": 2, \"time\": oops";
    std::fs::write(&trace, lines.join("\n")).unwrap();
    let out = sim(["replay".as_ref(), trace.as_os_str()]);
    expect_code(&out, EXIT_ERROR);
    assert!(stderr(&out).starts_with("ananke-sim: line 4: damaged trace line"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());

    let missing = dir.path().join("missing.jsonl");
    let out = sim(["replay".as_ref(), missing.as_os_str()]);
    expect_code(&out, EXIT_ERROR);
    assert!(stderr(&out).contains(&format!("cannot open trace {}", missing.display())), "{}", stderr(&out));
}

#[test]
fn replay_with_an_explicit_config() {
    let dir = TempDir::new().unwrap();
    let trace = dir.path().join("shutdown.jsonl");
    expect_code(
        &sim(["run".as_ref(), "titan-lab".as_ref(), "--shutdown".as_ref(), "--trace".as_ref(), trace.as_os_str()]),
        EXIT_OK,
    );
    let write_config = |name: &str| {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, serde_yaml_ng::to_string(&builtin(name).unwrap().ananke_config()).unwrap()).unwrap();
        path
    };
    let own = write_config("titan-lab");
    let out = sim(["replay".as_ref(), trace.as_os_str(), "--config".as_ref(), own.as_os_str()]);
    expect_code(&out, EXIT_OK);
    assert!(stdout(&out).starts_with("no divergence: "), "{}", stdout(&out));

    let other = write_config("pdb-blocks-drain");
    let out = sim(["replay".as_ref(), trace.as_os_str(), "--config".as_ref(), other.as_os_str()]);
    expect_code(&out, EXIT_ERROR);
    assert!(stderr(&out).contains("differs from the trace's"), "{}", stderr(&out));

    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "cluster: [unclosed\n").unwrap();
    let out = sim(["replay".as_ref(), trace.as_os_str(), "--config".as_ref(), broken.as_os_str()]);
    expect_code(&out, EXIT_ERROR);
    assert!(stderr(&out).starts_with(&format!("ananke-sim: {}: ", broken.display())), "{}", stderr(&out));
}

#[test]
fn a_trace_that_cannot_be_written_is_an_error() {
    let dir = TempDir::new().unwrap();
    let trace = dir.path().join("no-such-dir").join("t.jsonl");
    let out = sim(["run".as_ref(), "titan-lab".as_ref(), "--shutdown".as_ref(), "--trace".as_ref(), trace.as_os_str()]);
    expect_code(&out, EXIT_ERROR);
    assert!(stderr(&out).contains(&format!("cannot write trace {}", trace.display())), "{}", stderr(&out));
}

#[test]
fn unknown_scenarios_invalid_files_and_bad_flags_exit_2() {
    for command in ["run", "serve"] {
        let out = sim([command, "no-such-lab"]);
        expect_code(&out, EXIT_ERROR);
        assert!(stderr(&out).contains("no-such-lab"), "{command}: {}", stderr(&out));
    }
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("typo.yaml");
    std::fs::write(&file, "base: titan-lab\nname: typo\nnodez: []\n").unwrap();
    let out = sim(["run".as_ref(), file.as_os_str()]);
    expect_code(&out, EXIT_ERROR);
    let err = stderr(&out);
    assert!(err.contains("typo.yaml:3:1: unknown field `nodez`"), "the line of the unknown field: {err}");

    for args in [
        &["run", "titan-lab", "--startup", "--shutdown"][..],
        &["run"],
        &["frobnicate"],
        &["run", "titan-lab", "--seed", "x"],
    ] {
        let out = sim(args);
        expect_code(&out, EXIT_ERROR);
        assert!(stderr(&out).contains("error:") && stdout(&out).is_empty(), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn serve_reports_an_output_dir_it_cannot_create() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let out = sim(["serve".as_ref(), "titan-lab".as_ref(), "--dir".as_ref(), file.join("sub").as_os_str()]);
    expect_code(&out, EXIT_ERROR);
    assert!(stderr(&out).starts_with("ananke-sim: serve: "), "{}", stderr(&out));
}

#[test]
fn bench_ratio_prints_every_builtin_and_its_variants() {
    let out = sim(["bench-ratio", "--seed", "1"]);
    expect_code(&out, EXIT_OK);
    let text = stdout(&out);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("scenario ") && header.ends_with("  expectation"), "{header}");
    let rows: Vec<&str> = lines.collect();
    let expected: usize = builtin_names().iter().map(|n| 1 + builtin(n).unwrap().variants.len()).sum();
    assert_eq!(rows.len(), expected, "{text}");
    for name in builtin_names() {
        assert!(rows.iter().any(|r| r.starts_with(&format!("{name} "))), "{name} missing: {text}");
    }
    assert!(rows.iter().all(|r| r.ends_with("  met")), "{text}");
    let titan = rows.iter().find(|r| r.starts_with("titan-lab ")).unwrap();
    assert!(titan.contains(" ready:"), "{titan}");
}

#[test]
fn a_run_that_does_not_end_is_an_error_naming_the_scenario() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("endless.yaml");
    std::fs::write(&file, super::scenarios::ENDLESS_DRAIN).unwrap();
    let out = sim(["run".as_ref(), file.as_os_str(), "--shutdown".as_ref()]);
    expect_code(&out, EXIT_ERROR);
    let err = stderr(&out);
    assert!(err.starts_with("ananke-sim: endless-drain: no terminal state after "), "{err}");
    assert!(err.ends_with(" inputs and 21605s of virtual time (state `draining`)\n"), "{err}");
    assert!(stdout(&out).is_empty(), "no report for a run that did not end");
}

#[test]
fn bench_ratio_of_named_scenarios_shows_both_ratios() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("my-lab.yaml");
    std::fs::write(&file, "base: pdb-blocks-drain\nname: my-lab\n").unwrap();
    let out = sim(["bench-ratio", "titan-lab", file.to_str().unwrap()]);
    expect_code(&out, EXIT_OK);
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{text}");
    // titan-lab: the startup, then the shutdown at its critical path of 50 s.
    assert!(rows[0].starts_with("titan-lab ") && rows[0].contains("off:50s       50s  1.000"), "{text}");
    // The file's lab waits out the PDB's bounded drain: its critical path counts that wait.
    assert!(rows[1].starts_with("my-lab ") && rows[1].contains("off:1m50s     1m50s  1.000"), "{text}");
    let out = sim(["bench-ratio", "no-such-lab"]);
    expect_code(&out, EXIT_ERROR);
    assert!(stderr(&out).contains("no-such-lab"), "{}", stderr(&out));
}

#[test]
fn version_completions_and_man_pages() {
    let version = stdout(&sim(["--version"]));
    let want = format!("ananke-sim {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&want) && version.contains(", built "), "{version}");
    let out = sim(["completions", "bash"]);
    expect_code(&out, EXIT_OK);
    assert!(stdout(&out).contains("_ananke__sim()") && stdout(&out).contains("bench-ratio"));
    let dir = TempDir::new().unwrap();
    let out = sim([std::ffi::OsStr::new("man"), "--dir".as_ref(), dir.path().as_os_str()]);
    expect_code(&out, EXIT_OK);
    for page in ["ananke-sim.1", "ananke-sim-serve.1", "ananke-sim-bench-ratio.1", "ananke-sim-replay.1"] {
        assert!(dir.path().join(page).is_file(), "{page}: {}", stdout(&out));
    }
    let blocked = dir.path().join("ananke-sim.1").join("sub");
    let out = sim([std::ffi::OsStr::new("man"), "--dir".as_ref(), blocked.as_os_str()]);
    expect_code(&out, EXIT_ERROR);
    assert!(stderr(&out).contains(&blocked.display().to_string()), "{}", stderr(&out));
}
