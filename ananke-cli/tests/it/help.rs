//! Golden tests of `--help` (update with `INSTA_UPDATE=always`).

use crate::common::ananke;

fn help(args: &[&str]) -> String {
    let out = ananke().args(args).arg("--help").output().expect("runs");
    assert!(out.status.success(), "{args:?} --help exits 0");
    String::from_utf8(out.stdout).expect("utf-8 help")
}

#[test]
fn top_level_help() {
    insta::assert_snapshot!("help", help(&[]));
}

#[test]
fn subcommand_help() {
    for args in [
        &["status"][..],
        &["startup"],
        &["shutdown"],
        &["bootstrap"],
        &["daemon"],
        &["config", "check"],
        &["config", "schema"],
        &["report"],
    ] {
        insta::assert_snapshot!(format!("help-{}", args.join("-")), help(args));
    }
}
