//! The HTTP check adapter against real servers: every failure kind, TLS validity and expiry,
//! consecutive thresholds across cycles, external checks through an ingress with Host and SNI.

use super::servers::{self, Answer};
use ananke_core::adapters::http::{HttpError, Prober, ProberOptions, Roots};
use ananke_core::config::HttpCheck;
use ananke_core::observation::ProbeResult;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A check named `name` on `url`, with `extra` config fields.
fn check(name: &str, url: &str, extra: &Value) -> HttpCheck {
    let mut doc = json!({"name": name, "url": url});
    doc.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    serde_json::from_value(doc).unwrap()
}

fn trusting(ca_pem: &str) -> ProberOptions {
    ProberOptions { roots: Roots::default().with_pem(ca_pem.as_bytes()).unwrap(), ..ProberOptions::default() }
}

fn reason(results: &BTreeMap<String, ProbeResult>, name: &str) -> String {
    results[name].reason.clone().unwrap_or_default()
}

#[tokio::test]
async fn every_failure_says_why() {
    let ok = servers::plain(|| Answer::new(200, "hello world")).await;
    let unavailable = servers::plain(|| Answer::new(503, "upstream down")).await;
    let slow = servers::plain(|| Answer::new(200, "hello").after(Duration::from_millis(300))).await;
    let stuck = servers::plain(|| Answer::new(200, "late").after(Duration::from_secs(5))).await;
    let big = servers::plain(|| Answer::new(200, &format!("hello {}", "x".repeat(3 << 20)))).await;
    let url = |port: u16| format!("http://127.0.0.1:{port}/health");
    let checks = vec![
        check("ok", &url(ok.port), &json!({"body_contains": "world", "body_matches": "^hello", "max_latency": "2s"})),
        check("status", &url(unavailable.port), &json!({})),
        check("contains", &url(ok.port), &json!({"body_contains": "ready"})),
        check("matches", &url(ok.port), &json!({"body_matches": r"^v\d+\.\d+"})),
        check("latency", &url(slow.port), &json!({"max_latency": "100ms"})),
        check("timeout", &url(stuck.port), &json!({"timeout": "500ms"})),
        check("refused", &url(servers::closed_port()), &json!({})),
        check("several", &url(unavailable.port), &json!({"body_contains": "ready"})),
        check("big", &url(big.port), &json!({"body_matches": "^hello x+$"})),
        check("not-tls", &format!("https://127.0.0.1:{}/", ok.port), &json!({})),
    ];
    let mut prober = Prober::new(checks, &ProberOptions::default()).unwrap();
    let started = Instant::now();
    let results = prober.probe().await;
    assert!(started.elapsed() < Duration::from_secs(3), "checks run concurrently: {:?}", started.elapsed());
    assert_eq!(results.len(), 10);
    let passing = &results["ok"];
    assert!(passing.ok && passing.reason.is_none() && passing.status == Some(200), "{passing:?}");
    assert!(passing.latency_ms.is_some());
    assert_eq!(reason(&results, "status"), "status 503 not in [200]");
    assert_eq!(results["status"].status, Some(503));
    assert_eq!(reason(&results, "contains"), r#"body does not contain "ready""#);
    assert_eq!(reason(&results, "matches"), r"body does not match /^v\d+\.\d+/");
    let latency = reason(&results, "latency");
    assert!(latency.starts_with("latency ") && latency.ends_with(" ms over 100 ms"), "{latency}");
    assert_eq!(reason(&results, "timeout"), "timed out after 500ms");
    assert_eq!(results["timeout"].status, None);
    assert_eq!(reason(&results, "refused"), "connection refused");
    assert_eq!(reason(&results, "several"), r#"status 503 not in [200]; body does not contain "ready""#);
    assert!(results["big"].ok, "a body is read up to 1 MiB: {:?}", results["big"]);
    let why = reason(&results, "not-tls");
    assert!(why.starts_with("TLS handshake failed: "), "{why}");
    assert!(results.iter().filter(|(name, _)| !["ok", "big"].contains(&name.as_str())).all(|(_, r)| !r.ok));
}

#[tokio::test]
async fn certificates_are_verified_and_their_expiry_checked() {
    let soon = servers::identity(&["secure.lab.test"], 3 * 86_400 + 3_600);
    let expired = servers::identity(&["secure.lab.test"], -86_400);
    let expiring = servers::tls(&soon, || Answer::new(200, "ok")).await;
    let dead = servers::tls(&expired, || Answer::new(200, "ok")).await;
    let plain = servers::plain(|| Answer::new(200, "ok")).await;
    let https = |port: u16| format!("https://127.0.0.1:{port}/");
    let checks = vec![
        check("expiring", &https(expiring.port), &json!({"tls_expiry_min": "14d"})),
        check("long-enough", &https(expiring.port), &json!({"tls_expiry_min": "1d"})),
        check("no-rule", &https(expiring.port), &json!({})),
        check("plain", &format!("http://127.0.0.1:{}/", plain.port), &json!({"tls_expiry_min": "1d"})),
    ];
    let mut prober = Prober::new(checks, &trusting(&soon.ca_pem)).unwrap();
    let results = prober.probe().await;
    assert_eq!(reason(&results, "expiring"), "certificate expires in 3 days (minimum 14)");
    assert_eq!(results["expiring"].status, Some(200), "the endpoint answered; the certificate fails it");
    assert!(results["long-enough"].ok && results["no-rule"].ok, "{results:?}");
    assert!(reason(&results, "plain").contains("did not come over TLS"));

    let mut prober =
        Prober::new([check("expired", &https(dead.port), &json!({}))], &trusting(&expired.ca_pem)).unwrap();
    let why = reason(&prober.probe().await, "expired");
    assert!(why.starts_with("certificate invalid: ") && why.contains("expired"), "{why}");

    let mut prober =
        Prober::new([check("untrusted", &https(expiring.port), &json!({}))], &ProberOptions::default()).unwrap();
    let why = reason(&prober.probe().await, "untrusted");
    assert!(why.starts_with("certificate invalid: "), "{why}");
}

#[test]
fn extra_roots_come_from_pem_text_or_files() {
    let identity = servers::identity(&["x.lab.test"], 86_400);
    assert!(Roots::default().with_pem(identity.ca_pem.as_bytes()).is_ok());
    let err = Roots::default().with_pem(b"").unwrap_err();
    assert_eq!(err.to_string(), "TLS setup: the PEM bundle holds no certificate");
    let err = Roots::default().with_pem(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n").unwrap_err();
    assert!(err.to_string().starts_with("TLS setup: bad PEM certificate"), "{err}");
    let not_a_certificate =
        Roots::default().with_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
    let options = ProberOptions { roots: not_a_certificate, ..ProberOptions::default() };
    let err = Prober::new([], &options).unwrap_err();
    assert!(err.to_string().starts_with("TLS setup: unusable CA certificate"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, &identity.ca_pem).unwrap();
    assert!(Roots::default().with_pem_file(&path).is_ok());
    let err = Roots::default().with_pem_file(&dir.path().join("missing.pem")).unwrap_err();
    assert!(matches!(&err, HttpError::CaFile { path, .. } if path.ends_with("missing.pem")), "{err}");
    std::fs::write(&path, "").unwrap();
    let err = Roots::default().with_pem_file(&path).unwrap_err();
    assert!(matches!(&err, HttpError::CaFile { reason, .. } if reason.contains("no certificate")), "{err}");
}

#[tokio::test]
async fn consecutive_thresholds_hold_across_cycles() {
    let status = Arc::new(AtomicU16::new(200));
    let script = Arc::clone(&status);
    let server = servers::plain(move || Answer::new(script.load(Ordering::SeqCst), "x")).await;
    let url = format!("http://127.0.0.1:{}/", server.port);
    let flappy = check("flappy", &url, &json!({"consecutive_successes": 3, "consecutive_failures": 2}));
    let mut prober = Prober::new([flappy], &ProberOptions::default()).unwrap();
    let mut cycle = async |code: u16| {
        status.store(code, Ordering::SeqCst);
        prober.probe().await.remove("flappy").unwrap()
    };
    let r = cycle(200).await;
    assert!(!r.ok);
    assert_eq!(r.reason.as_deref(), Some("passing 1 of 3 consecutive successes needed"));
    assert!(!cycle(200).await.ok);
    assert!(cycle(200).await.ok, "third success in a row");
    let r = cycle(503).await;
    assert!(r.ok, "one failure is below the failure threshold");
    assert_eq!(r.reason.as_deref(), Some("still passing, failure 1 of 2 in a row: status 503 not in [200]"));
    assert!(cycle(200).await.ok, "a success resets the failure count");
    assert!(cycle(503).await.ok);
    let r = cycle(503).await;
    assert!(!r.ok, "second failure in a row");
    assert_eq!(r.reason.as_deref(), Some("status 503 not in [200]"));
    assert!(!cycle(200).await.ok, "back to needing three successes");
}

#[tokio::test]
async fn external_checks_reach_the_ingress_with_the_urls_host_as_host_and_sni() {
    let identity = servers::identity(&["grafana.lab.test"], 90 * 86_400);
    let ingress = servers::tls(&identity, || Answer::new(200, "grafana")).await;
    let plain_ingress = servers::plain(|| Answer::new(200, "app")).await;
    let checks = vec![
        check(
            "grafana",
            "https://grafana.lab.test/login?next=%2F",
            &json!({"exposure": "external", "ingress_address": format!("127.0.0.1:{}", ingress.port), "tls_expiry_min": "30d"}),
        ),
        check(
            "app",
            "http://app.lab.test/health",
            &json!({"exposure": "external", "ingress_address": format!("127.0.0.1:{}", plain_ingress.port)}),
        ),
        check("internal", &format!("http://127.0.0.1:{}/direct", plain_ingress.port), &json!({})),
        check(
            "bare-ingress",
            &format!("http://bare.lab.test:{}/bare", plain_ingress.port),
            &json!({"exposure": "external", "ingress_address": "127.0.0.1"}),
        ),
    ];
    let mut prober = Prober::new(checks, &trusting(&identity.ca_pem)).unwrap();
    let results = prober.probe().await;
    assert!(results.values().all(|r| r.ok), "{results:?}");
    let seen = ingress.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].host.as_deref(), Some("grafana.lab.test"));
    assert_eq!(seen[0].sni.as_deref(), Some("grafana.lab.test"));
    assert_eq!(seen[0].path, "/login");
    let seen = plain_ingress.seen.lock().unwrap().clone();
    let app = seen.iter().find(|s| s.path == "/health").unwrap();
    assert_eq!(app.host.as_deref(), Some("app.lab.test"));
    let bare = seen.iter().find(|s| s.path == "/bare").unwrap();
    assert_eq!(bare.host, Some(format!("bare.lab.test:{}", plain_ingress.port)), "the URL's port wins over a bare IP");

    let no_ingress = check("lost", "https://lost.lab.test/", &json!({"exposure": "external"}));
    let err = Prober::new([no_ingress], &ProberOptions::default()).unwrap_err();
    assert!(
        matches!(&err, HttpError::Check { check, reason } if check == "lost" && reason.contains("ingress_address")),
        "{err}"
    );
    let bad = check("bad", "http://x.test/", &json!({"exposure": "external", "ingress_address": "not-an-address"}));
    assert!(Prober::new([bad], &ProberOptions::default()).unwrap_err().to_string().contains("is not ip:port"));
    let bad = check("bad", "http://x.test/", &json!({"body_matches": "("}));
    assert!(Prober::new([bad], &ProberOptions::default()).unwrap_err().to_string().contains("body_matches"));
}
