//! Quality gate step 4: every source file has at least `ANANKE_MIN_COVERAGE` % of its lines
//! covered, read from a cargo-llvm-cov JSON report (`scripts/quality_gate.sh` makes it).

use serde_json::Value;

/// `(file, line percent)` of every source file below the minimum. Test and bench files and the
/// binaries' `main.rs` (one line calling the library) are not judged.
fn under_minimum(report: &Value, root: &str, min: f64) -> Vec<(String, f64)> {
    let files =
        report["data"].as_array().into_iter().flatten().flat_map(|d| d["files"].as_array().into_iter().flatten());
    let mut out = Vec::new();
    for file in files {
        let name = file["filename"].as_str().unwrap_or_default();
        let Some(rel) = name.strip_prefix(root) else { continue };
        let judged = rel.contains("/src/")
            && !rel.contains("/tests/")
            && !rel.ends_with("/main.rs")
            && !rel.ends_with("tests.rs");
        if !judged {
            continue;
        }
        let percent = file["summary"]["lines"]["percent"].as_f64().unwrap_or(0.0);
        if percent < min {
            out.push((rel.to_owned(), percent));
        }
    }
    out.sort_by(|a, b| a.1.total_cmp(&b.1));
    out
}

#[test]
#[ignore = "needs a cargo-llvm-cov JSON report: run by scripts/quality_gate.sh (gate 4)"]
fn every_source_file_is_covered() {
    let path = std::env::var("ANANKE_COVERAGE_JSON").expect("ANANKE_COVERAGE_JSON names the llvm-cov report");
    let min: f64 = std::env::var("ANANKE_MIN_COVERAGE").ok().and_then(|m| m.parse().ok()).unwrap_or(95.0);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("readable report")).expect("JSON report");
    let root = format!("{}/", std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().display());
    let low = under_minimum(&report, &root, min);
    let lines: Vec<String> = low.iter().map(|(f, p)| format!("  {p:6.2}%  {f}")).collect();
    assert!(low.is_empty(), "{} file(s) under {min}% line coverage:\n{}", low.len(), lines.join("\n"));
}

#[test]
fn the_checker_reads_llvm_cov_json() {
    let report = serde_json::json!({"data": [{"files": [
        {"filename": "/r/ananke-core/src/a.rs", "summary": {"lines": {"percent": 99.0}}},
        {"filename": "/r/ananke-core/src/b.rs", "summary": {"lines": {"percent": 80.5}}},
        {"filename": "/r/ananke-cli/src/main.rs", "summary": {"lines": {"percent": 0.0}}},
        {"filename": "/r/ananke-cli/tests/it/x.rs", "summary": {"lines": {"percent": 10.0}}},
        {"filename": "/elsewhere/dep/src/lib.rs", "summary": {"lines": {"percent": 1.0}}}
    ]}]});
    assert_eq!(under_minimum(&report, "/r/", 95.0), vec![("ananke-core/src/b.rs".to_owned(), 80.5)]);
}
