//! Benchmarks: a full titan-lab cycle (target ≤ 20 ms), replay throughput (target ≥ 200,000
//! records/s), and ananke's startup duration against the critical path for every built-in
//! scenario (target ≤ 1.10 for titan-lab), printed before the measurements.

use ananke_sim::replay::{replay, ReplayReport};
use ananke_sim::run::{run_scenario, RunSpec};
use ananke_sim::scenario::{builtin, Drive};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::time::Instant;

fn cycle(c: &mut Criterion) {
    let scenario = builtin("titan-lab").unwrap();
    c.bench_function("titan-lab shutdown+startup cycle", |b| {
        b.iter(|| black_box(run_scenario(&scenario, &RunSpec::default()).unwrap()));
    });
}

/// A long trace: a titan-lab startup with a two-hour soak.
fn long_trace() -> (Vec<u8>, u64, ananke_core::Config) {
    let mut scenario = builtin("titan-lab").unwrap();
    scenario.ananke = serde_json::json!({"soak": {"duration": "2h"}, "startup": {"deadline": "4h"}});
    scenario.prepare().unwrap();
    let run =
        run_scenario(&scenario, &RunSpec { drive: Some(Drive::Startup), record: true, ..RunSpec::default() }).unwrap();
    let trace = run.startup.unwrap().trace.unwrap();
    let records = trace.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64 - 1;
    (trace, records, scenario.ananke_config())
}

/// Records per second of one replay of `trace`.
fn rate(trace: &[u8], config: &ananke_core::Config) -> (u64, f64) {
    let records = trace.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64 - 1;
    let start = Instant::now();
    let report = replay(trace, Some(config.clone())).unwrap();
    assert!(matches!(report, ReplayReport::NoDivergence { .. }), "{report}");
    #[allow(clippy::cast_precision_loss)]
    let rate = records as f64 / start.elapsed().as_secs_f64();
    (records, rate)
}

fn replay_throughput(c: &mut Criterion) {
    let scenario = builtin("titan-lab").unwrap();
    let run = run_scenario(&scenario, &RunSpec { record: true, ..RunSpec::default() }).unwrap();
    let config = scenario.ananke_config();
    for (what, machine) in [("shutdown", run.shutdown), ("startup", run.startup)] {
        let trace = machine.unwrap().trace.unwrap();
        let (records, rate) = rate(&trace, &config);
        println!(
            "replay of the titan-lab cycle's {what}: {records} records ({} bytes), {rate:.0} records/s",
            trace.len()
        );
    }
    let (trace, records, config) = long_trace();
    let (_, rate) = rate(&trace, &config);
    println!(
        "replay of a long trace (titan-lab startup, 2 h soak): {records} records ({} bytes), {rate:.0} records/s",
        trace.len()
    );
    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(records));
    group.bench_function("long titan-lab startup trace", |b| {
        b.iter(|| black_box(replay(trace.as_slice(), Some(config.clone())).unwrap()));
    });
    group.finish();
}

fn ratios(_: &mut Criterion) {
    let _ = ananke_sim::report::print_ratios(0);
}

criterion_group!(benches, ratios, cycle, replay_throughput);
criterion_main!(benches);
