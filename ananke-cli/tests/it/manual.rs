//! `--version` says what the host runs; completions and man pages come from the clap definitions.

use crate::common::{ananke, repo};
use std::process::Command;

fn out(out: std::io::Result<std::process::Output>) -> String {
    let out = out.expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn the_version_names_the_commit_and_the_build_date() {
    let head = out(Command::new("git").arg("-C").arg(repo()).args(["rev-parse", "--short=12", "HEAD"]).output());
    for version in [out(ananke().arg("--version").output()), out(ananke().arg("-V").output())] {
        let (name, rest) = version.trim().split_once(' ').expect("name and version");
        assert_eq!(name, "ananke", "{version}");
        let want = format!("{} (commit {}, built ", env!("CARGO_PKG_VERSION"), head.trim());
        assert!(rest.starts_with(&want) && rest.ends_with(')'), "{version} should start with {want}");
        let date = &rest[want.len()..rest.len() - 1];
        let digits: Vec<&str> = date.split('-').collect();
        assert!(digits.len() == 3 && digits.iter().all(|d| d.parse::<u32>().is_ok()), "{date}");
    }
}

/// What bash completes after `words` (the last one being completed).
fn bash_completes(script: &str, words: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ananke.bash");
    std::fs::write(&path, script).unwrap();
    let line = words.join(" ");
    let probe = format!(
        "source {}; COMP_WORDS=({line}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
         _ananke ananke '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display(),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    out(Command::new("bash").args(["--norc", "-c", &probe]).output()).lines().map(str::to_owned).collect()
}

#[test]
fn bash_completes_subcommands_and_flags() {
    let script = out(ananke().args(["completions", "bash"]).output());
    let subcommands = bash_completes(&script, &["ananke", "st"]);
    assert_eq!(subcommands, ["status", "startup"]);
    let flags = bash_completes(&script, &["ananke", "startup", "--ex"]);
    assert_eq!(flags, ["--execute"]);
    for shell in ["zsh", "fish"] {
        let script = out(ananke().args(["completions", shell]).output());
        assert!(script.contains("startup") && script.contains("kubeconfig"), "{shell}: {script}");
    }
    let bad = ananke().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn man_pages_cover_every_command_and_man_renders_them() {
    let dir = tempfile::tempdir().unwrap();
    let listed = out(ananke().args(["man", "--dir"]).arg(dir.path()).output());
    let pages: Vec<&str> = listed.lines().map(|l| l.rsplit('/').next().unwrap()).collect();
    for page in ["ananke.1", "ananke-startup.1", "ananke-shutdown.1", "ananke-config-check.1", "ananke-report-list.1"] {
        assert!(pages.contains(&page), "{page} in {pages:?}");
    }
    let rendered =
        out(Command::new("man").env("MANWIDTH", "100").arg("-l").arg(dir.path().join("ananke-startup.1")).output());
    assert!(rendered.contains("ananke-startup") && rendered.contains("--execute"), "{rendered}");
    let top = out(ananke().arg("man").output());
    assert!(top.contains(".TH ananke 1") && top.contains("startup"), "{top}");
    let blocked = dir.path().join("ananke.1").join("sub");
    let failed = ananke().args(["man", "--dir"]).arg(&blocked).output().unwrap();
    assert_eq!(failed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&failed.stderr).contains(&blocked.display().to_string()));
}
