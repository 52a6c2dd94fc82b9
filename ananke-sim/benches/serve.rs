//! Benchmark: the Kubernetes adapter's observation cycle against `ananke-sim serve`, for
//! titan-lab and for a generated lab of 2,000 nodes and 20,000 workloads. Prints the requests per
//! cycle (from the facade's request log) and the cycle time (min / median / max), plus the time to
//! start the facade (model warm start and first render).
//!
//! `cargo bench -p ananke-sim --bench serve` (`-- --quick` for fewer cycles).

use ananke_core::adapters::kube::{KubeCluster, KubeSettings};
use ananke_sim::scenario::{builtin, Scenario};
use ananke_sim::serve::{ServeOptions, Server};
use std::fmt::Write;
use std::time::{Duration, Instant};

/// A lab of `nodes` nodes (3 servers) and `workloads` single-replica Deployments in 100
/// namespaces; one Service per 20 workloads, one Ingress per 200, 20 Kustomizations.
fn generated(nodes: usize, workloads: usize) -> Scenario {
    let mut y = format!(
        "name: generated-{nodes}x{workloads}\ndescription: generated for the serve benchmark\ndrive: startup\nnodes:\n"
    );
    for i in 0..nodes {
        let role = if i < 3 { "server" } else { "agent" };
        let _ = writeln!(y, "  - {{ name: n{i:04}, role: {role}, power_domain: main }}");
    }
    y.push_str("power_domains:\n  - { name: main, ups: main, battery_runtime: 30m }\ncomponents:\n");
    y.push_str("  - { name: flux, kind: flux-controllers, workload: { kind: Deployment, namespace: flux-system, name: kustomize-controller } }\n");
    for w in 0..workloads {
        let _ = writeln!(
            y,
            "  - {{ name: c{w}, kind: app, workload: {{ kind: Deployment, namespace: ns-{}, name: app-{w} }} }}",
            w % 100
        );
    }
    y.push_str("flux:\n  controllers: flux\n  sources:\n    - { namespace: flux-system, name: flux-system, url: \"ssh://git@git.example/lab.git\", branch: main }\n  kustomizations:\n");
    let per = workloads.div_ceil(20);
    for k in 0..20 {
        let manages: Vec<String> = (k * per..((k + 1) * per).min(workloads)).map(|w| format!("c{w}")).collect();
        let _ = writeln!(
            y,
            "    - {{ namespace: flux-system, name: k{k}, source: flux-system, manages: [{}] }}",
            manages.join(", ")
        );
    }
    y.push_str("services:\n");
    for w in (0..workloads).step_by(20) {
        let _ = writeln!(y, "  - {{ namespace: ns-{}, name: svc-{w}, component: c{w} }}", w % 100);
    }
    y.push_str("ingresses:\n");
    for w in (0..workloads).step_by(200) {
        let _ =
            writeln!(y, "  - {{ namespace: ns-{}, name: ing-{w}, host: h{w}.example, backends: [svc-{w}] }}", w % 100);
    }
    y.push_str("expect:\n  startup: { state: ready }\n");
    Scenario::parse(&y, "<generated>").unwrap_or_else(|e| panic!("generated scenario: {e}"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn measure(scenario: Scenario, cycles: usize) {
    let name = scenario.name.clone();
    let dir = tempfile::TempDir::new().unwrap();
    let started = Instant::now();
    let server = Server::start(
        scenario,
        ServeOptions { speed: 0.0, dir: Some(dir.path().to_owned()), ..ServeOptions::default() },
    )
    .await
    .unwrap();
    let startup = started.elapsed();
    let settings = KubeSettings { request_timeout: Duration::from_secs(120), ..KubeSettings::default() };
    let kube = KubeCluster::from_kubeconfig(server.kubeconfig_path().unwrap(), settings).await.unwrap();
    let warm = kube.observe().await;
    assert!(warm.api.reachable, "{:?}", warm.api);
    server.clear_requests();
    let mut times = Vec::with_capacity(cycles);
    for _ in 0..cycles {
        let start = Instant::now();
        let obs = kube.observe().await;
        times.push(start.elapsed());
        assert!(obs.api.reachable);
    }
    let requests = server.requests().len();
    times.sort();
    #[allow(clippy::cast_precision_loss)]
    let per_cycle = requests as f64 / cycles as f64;
    println!(
        "{name}: {} nodes, {} workloads, {} pods; facade start {:.0} ms; {per_cycle:.1} requests/cycle; cycle min {:.1} ms, median {:.1} ms, max {:.1} ms ({cycles} cycles)",
        warm.nodes.len(),
        warm.workloads.len(),
        server.with_state(|s| s.store.list(ananke_sim::serve::kinds::Kind::Pod, None).count()),
        ms(startup),
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
    );
    server.shutdown().await;
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        measure(builtin("titan-lab").unwrap(), if quick { 10 } else { 50 }).await;
        measure(generated(2_000, 20_000), if quick { 2 } else { 5 }).await;
    });
}
