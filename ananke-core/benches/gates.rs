//! Benchmark: every gate over the synthetic benchmark lab, at 1x and 10x.
//!
//! 1x is 5,000 nodes, 20,000 workloads, 2,000 Kustomizations and 1,000 checklist results
//! (`ananke_core::synth::LabSize::BENCHMARK`); every gate passes, so every gate does its full work.
//! The target is a median of at most 50 ms at 1x on one core, growing near-linearly.

use ananke_core::gates::{self, SoakProgress};
use ananke_core::synth;
use ananke_core::Time;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::time::Duration;

fn evaluate_all_gates(c: &mut Criterion) {
    let soak = SoakProgress {
        started_at: Some(Time::ZERO),
        now: Time(300_000),
        required: Duration::from_secs(300),
        regressions: Vec::new(),
    };
    let mut group = c.benchmark_group("gates/evaluate");
    group.sample_size(10);
    for scale in [1, 10] {
        let (config, obs) = synth::large_observation(scale);
        assert!(gates::evaluate(&config, &obs, &soak).all_pass(), "the benchmark lab must pass every gate");
        group.bench_with_input(BenchmarkId::from_parameter(format!("{scale}x")), &scale, |b, _| {
            b.iter(|| gates::evaluate(black_box(&config), black_box(&obs), black_box(&soak)));
        });
    }
    group.finish();
}

criterion_group!(benches, evaluate_all_gates);
criterion_main!(benches);
