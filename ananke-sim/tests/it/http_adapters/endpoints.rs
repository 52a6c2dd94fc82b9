//! The simulator's plain-HTTP endpoints, reached by the real adapters through a rewritten config:
//! the scenario's checklists (internal and through the ingress), the Git server's health, and
//! what they answer once what backs them is down.

use super::servers::{raw, raw_to};
use ananke_core::adapters::http::{GitServerProbe, Prober, ProberOptions, Roots};
use ananke_core::config::{WorkloadKind, WorkloadRef};
use ananke_core::{Effect, Time};
use ananke_sim::endpoints::Endpoints;
use ananke_sim::scenario::builtin;
use ananke_sim::Model;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// titan-lab's model behind its endpoints, and its config pointed at them.
pub async fn titan_lab() -> (Arc<Mutex<Model>>, Endpoints, ananke_core::Config) {
    let scenario = builtin("titan-lab").unwrap();
    let model = Arc::new(Mutex::new(Model::new(&scenario, 7)));
    let endpoints = Endpoints::start(Arc::clone(&model) as _, &scenario).await.unwrap();
    let mut config = scenario.ananke_config();
    endpoints.rewrite_config(&mut config);
    (model, endpoints, config)
}

#[tokio::test]
async fn the_scenarios_checklists_pass_while_the_lab_runs_and_fail_once_it_is_dark() {
    let (model, endpoints, config) = titan_lab().await;
    let checks = config.startup.service_checklist.len() + config.startup.critical_service_endpoints.len();
    assert!(checks >= 4 && endpoints.service_urls.len() == checks, "{:?}", endpoints.service_urls);
    let external: Vec<_> = config.startup.service_checklist.iter().filter(|c| c.ingress_address.is_some()).collect();
    assert!(!external.is_empty(), "titan-lab has external checks");
    assert!(external.iter().all(|c| c.ingress_address == endpoints.ingress_address && !c.url.contains("127.0.0.1")));
    let mut prober = Prober::from_config(&config, &ProberOptions::default()).unwrap();
    let results = prober.probe().await;
    assert_eq!(results.len(), checks);
    assert!(results.values().all(|r| r.ok && r.status == Some(200)), "{results:?}");
    let git = config.flux.git_server.as_ref().unwrap();
    assert_eq!(git.health_url, endpoints.gitea_url.clone().unwrap());
    let gitea = GitServerProbe::new(git, &Roots::default(), Duration::from_secs(2)).unwrap();
    let health = gitea.probe().await;
    assert!(health.healthy, "{health:?}");

    // Mains lost and never back: the batteries drain and every host goes dark.
    {
        let mut m = model.lock().unwrap();
        m.power_loss(Time::ZERO);
        m.advance(Time::ZERO.plus(Duration::from_secs(6 * 3600)));
        assert!(m.all_hosts_dark());
    }
    let results = prober.probe().await;
    assert!(results.values().all(|r| !r.ok), "{results:?}");
    for check in &config.startup.service_checklist {
        let why = results[&check.name].reason.clone().unwrap();
        if check.ingress_address.is_some() {
            // The ingress controller is down too: the ingress port hangs up.
            assert!(why.starts_with("request failed") || why.starts_with("connect failed"), "{}: {why}", check.name);
        } else {
            assert_eq!(why, "status 503 not in [200]", "{}", check.name);
        }
    }
    let health = gitea.probe().await;
    assert!(!health.healthy);
    assert!(health.reason.unwrap().starts_with(&format!("GET {}: ", git.health_url)));
}

#[tokio::test]
async fn gitea_names_a_failed_dependency_and_the_ingress_routes_by_host() {
    let (model, endpoints, config) = titan_lab().await;
    let gitea =
        GitServerProbe::new(config.flux.git_server.as_ref().unwrap(), &Roots::default(), Duration::from_secs(2))
            .unwrap();
    let gitea_url = endpoints.gitea_url.clone().unwrap();
    let gitea_address = gitea_url.trim_start_matches("http://").trim_end_matches("/api/healthz").to_owned();
    assert_eq!(raw(&gitea_address, "GET", "/api/v1/version", "").await.unwrap().0, 404);
    {
        let mut m = model.lock().unwrap();
        let postgres =
            WorkloadRef { kind: WorkloadKind::StatefulSet, namespace: "gitea".into(), name: "gitea-postgresql".into() };
        let now = m.now();
        m.apply(now, &Effect::Scale { workload: postgres, replicas: 0 });
        m.advance(now.plus(Duration::from_secs(60)));
        assert!(m.git_server_view().unwrap().running);
    }
    let health = gitea.probe().await;
    assert!(!health.healthy);
    assert_eq!(health.reason.unwrap(), format!("GET {gitea_url}: 424 Failed Dependency: database:ping failing"));

    let ingress = endpoints.ingress_address.clone().unwrap();
    let (status, body) = raw_to(&ingress, "grafana.titan.example", "GET", "/login", "").await.unwrap();
    assert_eq!((status, body.as_str()), (200, "grafana-external ok\n"));
    assert_eq!(raw_to(&ingress, "unknown.titan.example", "GET", "/", "").await.unwrap().0, 404);
}

#[test]
fn check_up_agrees_with_the_models_probes_through_a_flap() {
    let scenario = builtin("endpoint-flaps-during-soak").unwrap();
    let mut model = Model::new(&scenario, 3);
    let mut flapped = false;
    for secs in (0..400).step_by(10) {
        let obs = model.observe(Time::ZERO.plus(Duration::from_secs(secs)));
        for (name, probe) in &obs.probes {
            assert_eq!(model.check_up(name), Some(probe.ok), "{name} at {secs}s");
        }
        flapped |= !obs.probes["grafana-external"].ok;
    }
    assert!(flapped, "the flap happened");
    assert_eq!(model.check_up("no-such-check"), None);
}
