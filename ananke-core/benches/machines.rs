//! Benchmark: `Machine::handle` on a small lab (5 nodes, 2 Kustomizations, 5 workloads), fed a
//! steady stream of observations the way the runner feeds it during a startup.
//!
//! Target: at least 100,000 inputs per second on one core (criterion reports it as `elem/s`).

use ananke_core::config::HumanDuration;
use ananke_core::journal::Journal;
use ananke_core::machine::{
    Input, Machine, ShutdownMachine, ShutdownOptions, ShutdownState, StartupMachine, StartupOptions, StartupState,
};
use ananke_core::observation::{PodToEvict, ProbeResult};
use ananke_core::synth::{self, LabSize};
use ananke_core::{Config, Time};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;

/// The small lab: 5 nodes in 2 power domains, a soak that never ends during the benchmark.
fn small_config() -> Config {
    let mut config = synth::lab_config(LabSize {
        nodes: 5,
        power_domains: 2,
        kustomizations: 2,
        workloads: 5,
        ingress_checks: 1,
        service_checks: 1,
        critical_endpoints: 1,
    });
    config.soak.duration = HumanDuration::secs(1_000_000_000);
    config.startup.converge_timeout = HumanDuration::secs(1_000_000_000);
    config.startup.deadline = HumanDuration::secs(1_000_000_000);
    config.shutdown.drain_timeout = HumanDuration::secs(1_000_000_000);
    config.shutdown.deadline = HumanDuration::secs(1_000_000_000);
    config
}

/// Feed `input` to `machine` once per iteration, one millisecond apart.
fn bench_stream<M: Machine>(c: &mut Criterion, name: &str, mut machine: M, mut now: Time, input: &Input) {
    let mut group = c.benchmark_group("machines/handle");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter(|| {
            now = Time(now.0 + 1);
            black_box(machine.handle(now, black_box(input)))
        });
    });
    group.finish();
}

fn startup_streams(c: &mut Criterion) {
    let config = Arc::new(small_config());
    let healthy = synth::healthy_observation(&config, Time::ZERO);
    let observed = Input::Observed(Box::new(healthy.clone()));

    let mut soaking =
        StartupMachine::new(Arc::clone(&config), Journal::default(), StartupOptions::default(), Time::ZERO);
    for _ in 0..3 {
        let _ = soaking.handle(Time::ZERO, &observed);
    }
    assert_eq!(soaking.state(), StartupState::Soaking);
    bench_stream(c, "startup/soaking", soaking, Time::ZERO, &observed);

    // Probes that keep failing hold the machine in Converging, with gates 1-6 passing and
    // evaluated in full on every observation.
    let mut failing = healthy;
    for probe in failing.probes.values_mut() {
        *probe = ProbeResult { ok: false, reason: Some("HTTP 503".to_owned()), ..ProbeResult::default() };
    }
    let failing = Input::Observed(Box::new(failing));
    let mut converging =
        StartupMachine::new(Arc::clone(&config), Journal::default(), StartupOptions::default(), Time::ZERO);
    for _ in 0..3 {
        let _ = converging.handle(Time::ZERO, &failing);
    }
    assert_eq!(converging.state(), StartupState::Converging);
    bench_stream(c, "startup/converging", converging, Time::ZERO, &failing);
}

fn shutdown_stream(c: &mut Criterion) {
    let config = Arc::new(small_config());
    let mut obs = synth::healthy_observation(&config, Time::ZERO);
    let flux = obs.flux.as_mut().expect("flux observed");
    for object in flux.kustomizations.iter_mut().chain(flux.helm_releases.iter_mut()) {
        object.suspend = true;
    }
    for workload in &mut obs.workloads {
        if workload.id.kind.scalable() {
            workload.spec_replicas = Some(0);
            workload.status.replicas = 0;
        }
    }
    for node in &mut obs.nodes {
        if let Some(kube) = &mut node.kube {
            kube.unschedulable = true;
        }
    }
    let node = obs.nodes[4].name.clone();
    obs.pods_to_evict.push(PodToEvict { pod: synth::object_ref("apps", "stuck"), node, blocked_by_pdb: None });
    let input = Input::Observed(Box::new(obs));
    let options = ShutdownOptions { reason: "bench".to_owned(), mode: config.shutdown.mode };
    let mut draining = ShutdownMachine::new(Arc::clone(&config), Journal::default(), options, Time::ZERO);
    for _ in 0..2 {
        let _ = draining.handle(Time::ZERO, &input);
    }
    assert_eq!(draining.state(), ShutdownState::Draining);
    bench_stream(c, "shutdown/draining", draining, Time::ZERO, &input);
}

criterion_group!(benches, startup_streams, shutdown_stream);
criterion_main!(benches);
