//! The kubeconfig is chosen as kubectl chooses it, against the served lab and the real binary:
//! `--kubeconfig`, the config's, `KUBECONFIG` (a merged list), `~/.kube/config`, and `--context`.

use crate::e2e::Lab;
use std::ffi::OsStr;

fn status(lab: &Lab, args: &[&str], env: &[(&str, &OsStr)]) -> serde_json::Value {
    let mut all = vec!["status", "--json"];
    all.extend_from_slice(args);
    let (code, json, stderr) = lab.ananke_env(&all, env);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}\n{stderr}"))
}

#[test]
fn kubeconfig_precedence_and_context_follow_kubectl() {
    let lab = Lab::start("titan-lab");
    let served = lab.dir.path().join("serve/kubeconfig.yaml");
    lab.edit_config(|c| c.kubernetes.kubeconfig = None);
    let home = lab.dir.path().join("home");
    std::fs::create_dir_all(home.join(".kube")).unwrap();
    let missing = lab.dir.path().join("missing.yaml");
    let list = std::env::join_paths([missing.clone(), served.clone()]).unwrap();
    let empty = OsStr::new("");

    // KUBECONFIG: a missing file in the list is skipped; the served one answers.
    let s = status(&lab, &[], &[("KUBECONFIG", &list), ("HOME", home.as_os_str())]);
    assert_eq!(s["api_reachable"], true, "{s}");
    let want = format!("{}:{} (from KUBECONFIG)", missing.display(), served.display());
    assert_eq!(s["kubeconfig"], want.as_str());

    // ~/.kube/config when KUBECONFIG names nothing.
    std::fs::copy(&served, home.join(".kube/config")).unwrap();
    let s = status(&lab, &[], &[("KUBECONFIG", empty), ("HOME", home.as_os_str())]);
    assert_eq!(s["api_reachable"], true, "{s}");
    assert!(s["kubeconfig"].as_str().unwrap().ends_with(".kube/config (from ~/.kube/config)"), "{s}");

    // --kubeconfig beats all of them, also the config's field.
    lab.edit_config(|c| c.kubernetes.kubeconfig = Some(missing.clone()));
    let s = status(&lab, &[], &[("KUBECONFIG", &list), ("HOME", home.as_os_str())]);
    assert_eq!(s["api_reachable"], false, "the config's file beats KUBECONFIG: {s}");
    let flag = served.to_str().unwrap();
    let s = status(&lab, &["--kubeconfig", flag], &[("HOME", home.as_os_str())]);
    assert_eq!(s["api_reachable"], true, "{s}");
    assert_eq!(s["kubeconfig"], format!("{flag} (from --kubeconfig)").as_str());

    // --context: an unknown one is named in the API's error, and the table says which file.
    let (code, table, _) = lab.ananke_env(&["status", "--kubeconfig", flag, "--context", "nope"], &[]);
    assert_eq!(code, 0, "status reports an unreachable API as data: {table}");
    assert!(table.contains(&format!("kubeconfig {flag} (from --kubeconfig), context nope")), "{table}");
    assert!(table.contains("context: nope (chosen by --kubeconfig)"), "{table}");
    let s = status(&lab, &["--kubeconfig", flag, "--context", "nope"], &[]);
    assert_eq!(s["api_reachable"], false, "{s}");
}

#[test]
fn kubeconfig_flags_do_not_mix_with_the_simulator() {
    let out = crate::common::ananke().args(["status", "--sim", "titan-lab", "--kubeconfig", "/k"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--kubeconfig") && stderr.contains("--sim"), "{stderr}");
}
