//! The pure core stays pure: no async runtime, network or SSH crate in its default dependency tree,
//! and no clock, sleep, process or socket call in its pure modules.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Crates the pure core must never depend on (by name prefix).
const FORBIDDEN_CRATES: &[&str] =
    &["tokio", "kube", "k8s-openapi", "reqwest", "hyper", "async-ssh2-tokio", "russh", "ssh2", "mio", "socket2"];

/// Calls the pure modules must never make.
const FORBIDDEN_CALLS: &[&str] =
    &["Instant::now", "SystemTime::now", "thread::sleep", "std::process", "std::net", "std::fs", "tokio::"];

/// Directories of ananke-core/src that hold I/O code behind cargo features.
const IMPURE_DIRS: &[&str] = &["runner", "adapters", "store"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("testing/ has a parent").to_owned()
}

fn core_dependency_names() -> Vec<String> {
    dependency_names(&["-p", "ananke-core", "--no-default-features"])
}

/// The normal (non-dev) dependencies of what `selection` picks, by crate name.
fn dependency_names(selection: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .arg("tree")
        .args(selection)
        .args(["-e", "normal", "--prefix", "none"])
        .args(["--format", "{p}"])
        .current_dir(workspace_root())
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

fn forbidden_in(names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| FORBIDDEN_CRATES.iter().any(|f| n.as_str() == *f || n.starts_with(&format!("{f}-"))))
        .cloned()
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if !IMPURE_DIRS.contains(&name) {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            let stem = path.file_stem().and_then(|n| n.to_str()).unwrap_or_default();
            if !IMPURE_DIRS.contains(&stem) {
                out.push(path);
            }
        }
    }
}

fn forbidden_calls_in(text: &str) -> Vec<(usize, &'static str)> {
    let mut hits = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        for call in FORBIDDEN_CALLS {
            if code.contains(call) {
                hits.push((i + 1, *call));
            }
        }
    }
    hits
}

#[test]
fn the_ananke_binary_carries_no_simulated_api_server() {
    // `--sim` needs only the in-process model: the HTTPS facade and its certificate generator
    // (`ananke-sim`'s `serve` feature) stay in `ananke-sim` and the tests.
    let names = dependency_names(&["-p", "ananke-cli"]);
    assert!(names.iter().any(|n| n == "ananke-sim"), "cargo tree output looks wrong: {names:?}");
    // (hyper and rustls come with the kube client; the certificate generator only with `serve`.)
    assert!(!names.iter().any(|n| n == "rcgen"), "ananke depends on rcgen, the simulated API's certificate generator");
}

#[test]
fn core_default_build_has_no_io_crates() {
    let names = core_dependency_names();
    assert!(names.iter().any(|n| n == "statig"), "cargo tree output looks wrong: {names:?}");
    let bad = forbidden_in(&names);
    assert!(bad.is_empty(), "ananke-core (no features) depends on I/O crates: {bad:?}");
}

#[test]
fn pure_modules_make_no_clock_sleep_process_or_socket_calls() {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("ananke-core/src"), &mut files);
    assert!(files.len() > 10, "found too few core sources: {files:?}");
    let mut offenders = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable source");
        for (line, call) in forbidden_calls_in(&text) {
            offenders.push(format!("{}:{line}: {call}", file.display()));
        }
    }
    assert!(offenders.is_empty(), "impure calls in the pure core:\n{}", offenders.join("\n"));
}

#[test]
fn the_checks_themselves_catch_violations() {
    let names = vec!["statig".to_owned(), "tokio".to_owned(), "hyper-util".to_owned(), "serde".to_owned()];
    assert_eq!(forbidden_in(&names), vec!["tokio".to_owned(), "hyper-util".to_owned()]);
    let src = "fn f() {\n    let t = std::time::Instant::now();\n    // std::process is fine in a comment\n    std::thread::sleep(d);\n}\n";
    assert_eq!(forbidden_calls_in(src), vec![(2, "Instant::now"), (4, "thread::sleep")]);
}
