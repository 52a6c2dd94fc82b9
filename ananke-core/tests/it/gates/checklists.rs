//! Gates 6, 7 and 8: the ingress checklist, the service checklist and the critical endpoints.

use crate::fixtures::{break_gate, evaluate, lab, soak_done};
use ananke_core::gates::{critical_endpoints, ingress, services, GateId, Verdict};
use ananke_core::observation::{IngressBackend, ProbeResult};

#[test]
fn ingress_passes_when_published_with_ready_backends() {
    let (config, obs) = lab();
    assert!(ingress::check(&config, &obs).passed());
}

#[test]
fn ingress_fails_naming_each_problem() {
    let (config, mut obs) = lab();
    let seen = &mut obs.ingresses[0];
    seen.hosts = vec!["old.lab.example".to_owned()];
    seen.ingress_class = Some("nginx".to_owned());
    seen.addresses.clear();
    seen.backends[0].ready_endpoints = 0;
    seen.backends.push(IngressBackend { service: "api".to_owned(), exists: false, ready_endpoints: 0 });
    let outcome = ingress::check(&config, &obs);
    assert_eq!(outcome.verdict, Verdict::Fail);
    assert_eq!(
        outcome.reasons,
        [
            "Ingress ingress-00001/web: does not route host app-00001.lab.example (routes old.lab.example)",
            "Ingress ingress-00001/web: class is nginx, expected traefik",
            "Ingress ingress-00001/web: not published (no load-balancer address in its status)",
            "Ingress ingress-00001/web: backend Service web-http has no ready endpoints",
            "Ingress ingress-00001/web: backend Service api does not exist",
        ]
    );
}

#[test]
fn ingress_fails_when_missing_and_checks_the_class_only_when_pinned() {
    let (mut config, mut obs) = lab();
    obs.ingresses[0].ingress_class = None;
    assert_eq!(
        ingress::check(&config, &obs).reasons,
        ["Ingress ingress-00001/web: no ingressClassName, expected traefik"]
    );
    config.startup.require_ingress_checklist[0].ingress_class = None;
    assert!(ingress::check(&config, &obs).passed());
    obs.ingresses.clear();
    assert_eq!(ingress::check(&config, &obs).reasons, ["Ingress ingress-00001/web: not found"]);
}

#[test]
fn ingress_is_blocked_by_the_workloads() {
    let (mut config, mut obs) = lab();
    let mut soak = soak_done();
    break_gate(GateId::Workloads, &mut config, &mut obs, &mut soak);
    obs.ingresses.clear();
    let report = evaluate(&config, &obs);
    assert_eq!(report.get(GateId::Ingress).verdict, Verdict::Blocked(GateId::Workloads));
}

fn failing(reason: Option<&str>, status: Option<u16>) -> ProbeResult {
    ProbeResult { ok: false, reason: reason.map(str::to_owned), status, latency_ms: None }
}

#[test]
fn services_pass_when_every_probe_passes() {
    let (config, obs) = lab();
    assert!(services::check(&config, &obs).passed());
}

#[test]
fn services_fail_with_the_probe_reason_or_not_probed_yet() {
    let (mut config, mut obs) = lab();
    config.startup.service_checklist.push(ananke_core::synth::http_check("gitea"));
    config.startup.service_checklist.push(ananke_core::synth::http_check("grafana"));
    config.startup.service_checklist.push(ananke_core::synth::http_check("minio"));
    obs.probes.insert("service-00001".to_owned(), failing(Some("connect: connection refused"), None));
    obs.probes.insert("gitea".to_owned(), failing(None, Some(503)));
    obs.probes.insert("grafana".to_owned(), failing(None, None));
    let outcome = services::check(&config, &obs);
    assert_eq!(outcome.verdict, Verdict::Fail);
    assert_eq!(
        outcome.reasons,
        [
            "service service-00001: connect: connection refused",
            "service gitea: failing (last status HTTP 503)",
            "service grafana: failing",
            "service minio: not probed yet",
        ]
    );
}

#[test]
fn services_are_blocked_by_the_ingress_checklist() {
    let (mut config, mut obs) = lab();
    let mut soak = soak_done();
    break_gate(GateId::Ingress, &mut config, &mut obs, &mut soak);
    obs.probes.clear();
    let report = evaluate(&config, &obs);
    assert_eq!(report.get(GateId::Services).verdict, Verdict::Blocked(GateId::Ingress));
}

#[test]
fn critical_endpoints_pass_when_every_probe_passes() {
    let (config, obs) = lab();
    assert!(critical_endpoints::check(&config, &obs).passed());
}

#[test]
fn critical_endpoints_fail_with_the_probe_reason_or_not_probed_yet() {
    let (config, mut obs) = lab();
    obs.probes.insert("critical-00001".to_owned(), failing(Some("status 502, expected 200"), Some(502)));
    assert_eq!(
        critical_endpoints::check(&config, &obs).reasons,
        ["critical endpoint critical-00001: status 502, expected 200"]
    );
    obs.probes.remove("critical-00001");
    let outcome = critical_endpoints::check(&config, &obs);
    assert_eq!(outcome.verdict, Verdict::Fail);
    assert_eq!(outcome.reasons, ["critical endpoint critical-00001: not probed yet"]);
}

#[test]
fn critical_endpoints_are_blocked_by_the_services() {
    let (mut config, mut obs) = lab();
    let mut soak = soak_done();
    break_gate(GateId::Services, &mut config, &mut obs, &mut soak);
    obs.probes.remove("critical-00001");
    let report = evaluate(&config, &obs);
    assert_eq!(report.get(GateId::CriticalEndpoints).verdict, Verdict::Blocked(GateId::Services));
}

#[test]
fn the_soak_is_blocked_by_the_critical_endpoints() {
    let (mut config, mut obs) = lab();
    let mut soak = soak_done();
    break_gate(GateId::CriticalEndpoints, &mut config, &mut obs, &mut soak);
    soak.started_at = None;
    let report = ananke_core::gates::evaluate(&config, &obs, &soak);
    assert_eq!(report.get(GateId::Soak).verdict, Verdict::Blocked(GateId::CriticalEndpoints));
}
