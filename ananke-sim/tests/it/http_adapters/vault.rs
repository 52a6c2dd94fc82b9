//! The Vault adapter against the simulator's Vault API: unseal with the standard shares from a
//! file and from a command, wrong shares, the breakglass fallback and its failures; no share ever
//! appears in an error.

use super::servers::{self, raw, Answer};
use ananke_core::adapters::vault::{VaultClient, VaultError};
use ananke_core::config::{CommandSpec, Config, HumanDuration, UnsealKeySource, VaultPod, VaultSettings};
use ananke_core::machine::EffectOutcome;
use ananke_core::runner::secrets::Secret;
use ananke_core::{Effect, Time};
use ananke_sim::endpoints::Endpoints;
use ananke_sim::Model;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A well-formed (hex) share that is not one of the lab's: it must never show in any message.
const CANARY: &str = "c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffee";
/// A malformed share: it must never show either.
const CANARY_TEXT: &str = "CANARY-not-a-share";

struct Lab {
    model: Arc<Mutex<Model>>,
    endpoints: Endpoints,
    config: Config,
    dir: tempfile::TempDir,
}

impl Lab {
    /// titan-lab with every Vault pod running and sealed; the standard shares in a file.
    async fn sealed() -> Lab {
        let (model, endpoints, mut config) = super::endpoints::titan_lab().await;
        {
            let mut m = model.lock().unwrap();
            for pod in m.vault_pods() {
                assert!(m.seal_vault_pod(&pod), "{pod} runs");
            }
        }
        let dir = tempfile::tempdir().unwrap();
        config.startup.vault_unseal_breakglass_command = None;
        let mut lab = Lab { model, endpoints, config, dir };
        let file = lab.file("standard", &lab.endpoints.standard_shares_text());
        lab.standard(UnsealKeySource::File(file));
        lab
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn standard(&mut self, source: UnsealKeySource) {
        self.config.vault.as_mut().unwrap().unseal_keys = source;
    }

    fn client(&self) -> VaultClient {
        VaultClient::from_config(&self.config, Duration::from_secs(2)).unwrap().unwrap()
    }

    fn sealed_in_model(&self, pod: &str) -> bool {
        self.model.lock().unwrap().vault_pod_sealed(pod).unwrap()
    }

    fn address(&self, pod: &str) -> String {
        self.endpoints.vault_addresses[pod].clone()
    }
}

fn cmd(argv: &[&str], secs: u64) -> CommandSpec {
    CommandSpec { argv: argv.iter().map(|s| (*s).to_owned()).collect(), timeout: HumanDuration::secs(secs) }
}

fn unseal(pod: &str) -> Effect {
    Effect::UnsealVault { pod: pod.to_owned() }
}

fn breakglass(pod: &str) -> Effect {
    Effect::UnsealVaultBreakglass { pod: pod.to_owned() }
}

/// The failure message of `outcome`, checked free of every canary.
fn failure(outcome: &EffectOutcome) -> (bool, String) {
    let EffectOutcome::Failed { transient, message } = outcome else { panic!("expected a failure, got {outcome:?}") };
    assert!(!message.contains(CANARY) && !message.contains(CANARY_TEXT), "a share leaked: {message}");
    (*transient, message.clone())
}

#[tokio::test]
async fn sealed_pods_unseal_with_the_standard_shares_from_a_file_and_from_a_command() {
    let mut lab = Lab::sealed().await;
    let client = lab.client();
    let seen = client.observe().await;
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|v| v.reachable && v.sealed && v.threshold == 3 && v.progress == 0), "{seen:?}");

    assert_eq!(client.execute_unseal(&unseal("vault-0")).await, EffectOutcome::Ok);
    assert!(!client.seal_status("vault-0").await.unwrap().sealed);
    assert!(!client.unseal("vault-0", &[]).await.unwrap().sealed, "an unsealed pod is left alone");
    assert!(!lab.sealed_in_model("vault-0"));

    let file = lab.file("for-cat", &lab.endpoints.standard_shares_text());
    lab.standard(UnsealKeySource::Command(cmd(&["cat", file.to_str().unwrap()], 5)));
    assert_eq!(lab.client().execute_unseal(&unseal("vault-1")).await, EffectOutcome::Ok);
    assert!(!lab.sealed_in_model("vault-1"));

    // More shares than needed: submission stops once the pod is unsealed.
    let all = lab.endpoints.unseal_shares.join("\n");
    lab.standard(UnsealKeySource::File(lab.file("all", &all)));
    assert_eq!(lab.client().execute_unseal(&unseal("vault-2")).await, EffectOutcome::Ok);
    assert!(lab.client().observe().await.iter().all(|v| v.reachable && !v.sealed));

    // An unsealed pod needs no shares: the retrieval is not even run.
    lab.standard(UnsealKeySource::Command(cmd(&["false"], 5)));
    assert_eq!(lab.client().execute_unseal(&unseal("vault-0")).await, EffectOutcome::Ok);
}

#[tokio::test]
async fn wrong_shares_are_refused_and_the_pod_stays_sealed() {
    let mut lab = Lab::sealed().await;
    let wrong = format!("{CANARY}\n{}\n{}\n", &CANARY[2..], &CANARY[4..]);
    lab.standard(UnsealKeySource::File(lab.file("wrong", &wrong)));
    let (transient, message) = failure(&lab.client().execute_unseal(&unseal("vault-0")).await);
    assert!(!transient);
    assert!(message.starts_with("vault pod vault-0 refused the unseal: Error unsealing"), "{message}");
    let status = lab.client().seal_status("vault-0").await.unwrap();
    assert!(status.sealed && status.progress == 0, "progress reset after a failed threshold: {status:?}");

    let good: Vec<String> = lab.endpoints.unseal_shares.iter().take(2).cloned().collect();
    lab.standard(UnsealKeySource::File(lab.file("mixed", &format!("{}\n{}\n{CANARY}\n", good[0], good[1]))));
    let (_, message) = failure(&lab.client().execute_unseal(&unseal("vault-0")).await);
    assert!(message.contains("refused the unseal"), "{message}");

    lab.standard(UnsealKeySource::File(lab.file("malformed", &format!("{CANARY_TEXT}\n"))));
    let (_, message) = failure(&lab.client().execute_unseal(&unseal("vault-0")).await);
    assert!(message.contains("'key' must be a valid hex or base64 string"), "{message}");

    lab.standard(UnsealKeySource::File(lab.file("one", &format!("{}\n", good[0]))));
    let (_, message) = failure(&lab.client().execute_unseal(&unseal("vault-0")).await);
    assert_eq!(message, "vault pod vault-0 still sealed after 1 shares (progress 1 of 3)");
    assert!(lab.sealed_in_model("vault-0"));

    // The adapter itself: a refusal names no share, even one Vault would echo.
    let shares = [Secret::new(CANARY.to_owned())];
    let err = lab.client().unseal("vault-1", &shares).await.unwrap_err();
    assert!(matches!(err, VaultError::StillSealed { progress: 1, .. }), "{err}");
    assert!(!format!("{err} {err:?}").contains(CANARY));

    // Progress left by an earlier attempt is reset before the standard shares go in.
    assert_eq!(lab.client().seal_status("vault-0").await.unwrap().progress, 1);
    lab.standard(UnsealKeySource::File(lab.file("standard", &lab.endpoints.standard_shares_text())));
    assert_eq!(lab.client().execute_unseal(&unseal("vault-0")).await, EffectOutcome::Ok);
    let err = lab.client().seal_status("vault-9").await.unwrap_err();
    assert_eq!(err, VaultError::UnknownPod("vault-9".to_owned()));
}

#[tokio::test]
async fn the_breakglass_commands_shares_are_used_when_the_standard_retrieval_fails() {
    let mut lab = Lab::sealed().await;
    lab.standard(UnsealKeySource::Command(cmd(&["sh", "-c", &format!("echo {CANARY}; exit 3")], 5)));
    let good = lab.file("breakglass", &lab.endpoints.standard_shares_text());
    lab.config.startup.vault_unseal_breakglass_command = Some(cmd(&["cat", good.to_str().unwrap()], 5));
    let client = lab.client();
    let (transient, message) = failure(&client.execute_unseal(&unseal("vault-0")).await);
    assert!(!transient);
    assert_eq!(
        message,
        "cannot retrieve the standard unseal shares: `sh` exited with exit status: 3 (output withheld)"
    );
    assert!(lab.sealed_in_model("vault-0"));
    assert_eq!(client.execute_unseal(&breakglass("vault-0")).await, EffectOutcome::Ok);
    assert!(!lab.sealed_in_model("vault-0"));

    lab.standard(UnsealKeySource::File(lab.dir.path().join("missing")));
    let (_, message) = failure(&lab.client().execute_unseal(&unseal("vault-1")).await);
    assert!(
        message.starts_with("cannot retrieve the standard unseal shares: cannot read unseal shares from"),
        "{message}"
    );
    assert_eq!(lab.client().execute_unseal(&breakglass("vault-1")).await, EffectOutcome::Ok);
}

#[tokio::test]
async fn a_failing_breakglass_command_is_a_clear_failure() {
    let mut lab = Lab::sealed().await;
    let cases = [
        (
            cmd(&["sh", "-c", &format!("echo {CANARY}; echo {CANARY_TEXT} >&2; exit 7")], 5),
            "breakglass command failed: `sh` exited with exit status: 7 (output withheld)",
        ),
        (cmd(&["sleep", "5"], 1), "breakglass command failed: `sleep` did not finish within 1s and was killed"),
        (cmd(&["/nonexistent/breakglass"], 5), "breakglass command failed: cannot run `/nonexistent/breakglass`"),
        (
            cmd(&["printf", "%s\\n%s\\n", CANARY, &CANARY[2..]], 5),
            "vault pod vault-0 still sealed after 2 shares (progress 2 of 3)",
        ),
    ];
    for (spec, expected) in cases {
        lab.config.startup.vault_unseal_breakglass_command = Some(spec);
        let (transient, message) = failure(&lab.client().execute_unseal(&breakglass("vault-0")).await);
        assert!(message.starts_with(expected), "{message}");
        assert_eq!(transient, expected.contains("did not finish"), "{message}");
        assert!(lab.sealed_in_model("vault-0"));
    }
    lab.config.startup.vault_unseal_breakglass_command = None;
    let (_, message) = failure(&lab.client().execute_unseal(&breakglass("vault-0")).await);
    assert_eq!(message, "breakglass command failed: no startup.vault_unseal_breakglass_command is configured");
}

fn progress(body: &str) -> u64 {
    serde_json::from_str::<Value>(body).unwrap()["progress"].as_u64().unwrap()
}

#[tokio::test]
async fn the_vault_api_keeps_progress_per_pod_and_answers_only_while_the_pod_runs() {
    let lab = Lab::sealed().await;
    let (zero, one) = (lab.address("vault-0"), lab.address("vault-1"));
    let share = |i: usize| format!(r#"{{"key":"{}"}}"#, lab.endpoints.unseal_shares[i]);
    let (status, body) = raw(&zero, "POST", "/v1/sys/unseal", &share(0)).await.unwrap();
    assert_eq!((status, progress(&body)), (200, 1), "POST is accepted like PUT");
    assert_eq!(
        progress(&raw(&zero, "PUT", "/v1/sys/unseal", &share(0)).await.unwrap().1),
        1,
        "a repeated share counts once"
    );
    assert_eq!(progress(&raw(&one, "GET", "/v1/sys/seal-status", "").await.unwrap().1), 0, "progress is per pod");
    assert_eq!(progress(&raw(&zero, "PUT", "/v1/sys/unseal", r#"{"reset":true,"key":"00"}"#).await.unwrap().1), 0);
    let (status, body) = raw(&zero, "PUT", "/v1/sys/unseal", "{}").await.unwrap();
    assert_eq!(status, 400);
    assert!(body.contains(r#""errors":["#), "{body}");
    assert_eq!(raw(&zero, "PUT", "/v1/sys/unseal", "not json").await.unwrap().0, 400);
    assert_eq!(raw(&zero, "GET", "/v1/sys/unseal", "").await.unwrap().0, 405);
    assert_eq!(raw(&zero, "GET", "/v1/sys/health", "").await.unwrap().0, 503);
    for i in 0..3 {
        raw(&zero, "POST", "/v1/sys/unseal", &share(i)).await.unwrap();
    }
    let (_, body) = raw(&zero, "GET", "/v1/sys/seal-status", "").await.unwrap();
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status["sealed"].as_bool(), status["t"].as_u64(), status["n"].as_u64()),
        (Some(false), Some(3), Some(5))
    );
    assert!(status["cluster_name"].is_string());
    assert_eq!(raw(&zero, "GET", "/v1/sys/health", "").await.unwrap().0, 200);
    let (status, body) = raw(&zero, "PUT", "/v1/sys/unseal", &share(4)).await.unwrap();
    assert!(status == 200 && body.contains(r#""sealed":false"#), "a share for an unsealed pod changes nothing: {body}");
    assert_eq!(raw(&zero, "GET", "/v1/sys/mounts", "").await.unwrap().0, 404);
    assert_eq!(raw(&zero, "PUT", "/v1/sys/unseal", &"0".repeat(70_000)).await.unwrap().0, 413);

    let (transient, message) = failure(&lab.client().execute_unseal(&Effect::Cordon { node: "titan-01".into() }).await);
    assert!(!transient && message.contains("not a Vault effect"), "{message}");

    // A client holding a kept-alive connection from before the pods stopped.
    let client = lab.client();
    assert!(client.seal_status("vault-1").await.unwrap().sealed);
    {
        let mut m = lab.model.lock().unwrap();
        m.power_loss(Time::ZERO);
        m.advance(Time::ZERO.plus(Duration::from_secs(6 * 3600)));
        assert!(!m.seal_vault_pod("vault-1") && !m.unseal_vault_pod("vault-1"), "a stopped pod cannot change");
    }
    assert_eq!(raw(&zero, "GET", "/v1/sys/seal-status", "").await, None, "a pod that does not run does not answer");
    assert!(client.observe().await.iter().all(|v| !v.reachable));
    let (transient, message) = failure(&client.execute_unseal(&unseal("vault-1")).await);
    assert!(transient && message.starts_with("vault pod vault-1 unreachable: "), "{message}");
}

#[tokio::test]
async fn vault_clients_trust_the_ca_file_and_say_what_an_odd_answer_means() {
    let sealed = servers::plain(|| Answer::new(503, r#"{"errors":["Vault is sealed"]}"#)).await;
    let garbled = servers::plain(|| Answer::new(200, "<html>")).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, servers::identity(&["vault.lab.test"], 86_400).ca_pem).unwrap();
    let pod = |name: &str, port: u16| VaultPod { name: name.to_owned(), address: format!("http://127.0.0.1:{port}/") };
    let mut settings = VaultSettings {
        pods: vec![pod("sealed", sealed.port), pod("garbled", garbled.port)],
        unseal_keys: UnsealKeySource::File(dir.path().join("none")),
        ca_file: Some(ca),
    };
    let client = VaultClient::new(&settings, None, Duration::from_secs(2)).unwrap();
    let err = client.seal_status("sealed").await.unwrap_err();
    assert_eq!(err, VaultError::Status { pod: "sealed".into(), status: 503, errors: "Vault is sealed".into() });
    assert!(err.is_transient());
    let (transient, message) = failure(&client.execute_unseal(&unseal("sealed")).await);
    assert!(transient && message == "vault pod sealed answered 503: Vault is sealed", "{message}");
    let err = client.seal_status("garbled").await.unwrap_err();
    assert!(matches!(err, VaultError::Answer { .. }) && err.is_transient(), "{err}");

    settings.ca_file = Some(dir.path().join("missing.pem"));
    let err = VaultClient::new(&settings, None, Duration::from_secs(2)).unwrap_err();
    assert!(err.to_string().starts_with("CA file "), "{err}");
    let mut config = super::endpoints::titan_lab().await.2;
    config.vault = None;
    assert!(VaultClient::from_config(&config, Duration::from_secs(2)).unwrap().is_none());
}

#[tokio::test]
async fn the_standard_and_the_breakglass_commands_run_once_per_run_however_many_pods_are_sealed() {
    let mut lab = Lab::sealed().await;
    let shares = lab.file("shares", &lab.endpoints.standard_shares_text());
    let counter = lab.dir.path().join("standard-runs");
    let script = format!("echo run >> {}; cat {}", counter.display(), shares.display());
    lab.standard(UnsealKeySource::Command(cmd(&["sh", "-c", &script], 5)));
    let client = lab.client();
    for pod in ["vault-0", "vault-1", "vault-2"] {
        assert_eq!(client.execute_unseal(&unseal(pod)).await, EffectOutcome::Ok, "{pod}");
    }
    assert_eq!(std::fs::read_to_string(&counter).unwrap().lines().count(), 1, "one retrieval for three pods");

    // The breakglass path may page a person: once, even when it fails, for every pod after.
    let mut lab = Lab::sealed().await;
    lab.standard(UnsealKeySource::Command(cmd(&["false"], 5)));
    let pages = lab.dir.path().join("pages");
    let script = format!("echo page >> {}; exit 1", pages.display());
    lab.config.startup.vault_unseal_breakglass_command = Some(cmd(&["sh", "-c", &script], 5));
    let client = lab.client();
    for pod in ["vault-0", "vault-1", "vault-2"] {
        let (transient, message) = failure(&client.execute_unseal(&breakglass(pod)).await);
        assert!(!transient && message.starts_with("breakglass command failed"), "{pod}: {message}");
    }
    assert_eq!(std::fs::read_to_string(&pages).unwrap().lines().count(), 1, "one page for three pods");
}
