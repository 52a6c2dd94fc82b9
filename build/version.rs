//! Build script of `ananke-cli` and `ananke-sim`: `ANANKE_VERSION` for `--version`, as
//! `0.1.0 (commit 1a2b3c4d5e6f, built 2026-12-02)`, so a host can say what it runs.
//!
//! - The commit: `ANANKE_BUILD_COMMIT` when set (a build from a tarball), else `git rev-parse`
//!   of the source tree, else `unknown`.
//! - The date (UTC): `SOURCE_DATE_EPOCH` when set (reproducible builds), else the day of the build.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    println!("cargo::rerun-if-env-changed=ANANKE_BUILD_COMMIT");
    println!("cargo::rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // A new commit moves HEAD or the branch it names (loose, or packed after `git gc`). Only paths
    // that exist are watched: cargo reruns a build script at every build while a watched path is
    // missing, which would rebuild both binaries every time.
    let watch = |path: std::path::PathBuf| {
        if path.exists() {
            println!("cargo::rerun-if-changed={}", path.display());
        }
    };
    if let Some(git_dir) = git(&dir, &["rev-parse", "--absolute-git-dir"]) {
        watch(Path::new(&git_dir).join("HEAD"));
    }
    if let Some(common) = git(&dir, &["rev-parse", "--path-format=absolute", "--git-common-dir"]) {
        let common = Path::new(&common);
        watch(common.join("packed-refs"));
        if let Some(branch) = git(&dir, &["symbolic-ref", "-q", "HEAD"]) {
            watch(common.join(branch));
        }
    }
    let commit = std::env::var("ANANKE_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&dir, &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!("cargo::rustc-env=ANANKE_VERSION={version} (commit {commit}, built {})", civil_date(epoch));
}

/// `git ARGS` in `dir`, its trimmed output when it succeeds.
fn git(dir: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// `YYYY-MM-DD` of a Unix time (UTC), by Howard Hinnant's `civil_from_days`.
fn civil_date(epoch: u64) -> String {
    let days = i64::try_from(epoch / 86_400).unwrap_or(0);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
