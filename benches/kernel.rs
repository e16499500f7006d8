//! Criterion benchmarks of the simulation kernel (SPEC 6): `cargo bench --bench kernel`.
//!
//! Benchmarks, never timed tests: nothing here asserts a speed. The headline PHOLD figures
//! come from `stickysim bench phold --compare` (docs/performance.md); these are for spotting
//! regressions in the kernel between commits.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand::Rng;
use stickysim::bench::phold::{run_bare, run_kernel, PholdParams};
use stickysim::kernel::{stream, EventQueue, Time};

/// PHOLD with 100 LPs x 10 events to t = 10 (about 9 000 events): kernel and bare loop.
fn phold(c: &mut Criterion) {
    let p = PholdParams {
        lps: 100,
        population: 10,
        end_time: 10.0,
        ..PholdParams::default()
    };
    let events = run_kernel(&p).map(|r| r.events).unwrap_or(0);
    let mut g = c.benchmark_group("phold_small");
    g.throughput(Throughput::Elements(events));
    g.bench_function("kernel", |b| b.iter(|| run_kernel(black_box(&p))));
    g.bench_function("bare_binaryheap", |b| b.iter(|| run_bare(black_box(&p))));
    g.finish();
}

/// Times spread over one simulated second, from a fixed stream.
fn times(n: usize) -> Vec<Time> {
    let mut rng = stream(1, "bench", "queue");
    (0..n).map(|_| rng.random_range(0..1_000_000)).collect()
}

/// Push N events then pop them all; with cancellations, every fourth is cancelled first.
fn queue(c: &mut Criterion) {
    const N: usize = 10_000;
    let ts = times(N);
    let mut g = c.benchmark_group("queue_10k");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("push_pop", |b| {
        b.iter(|| {
            let mut q = EventQueue::with_capacity(N);
            for (i, &t) in ts.iter().enumerate() {
                q.push(t, i as u32);
            }
            let mut sum = 0u64;
            while let Some((t, _)) = q.pop() {
                sum = sum.wrapping_add(t);
            }
            sum
        })
    });
    g.bench_function("push_cancel_quarter_pop", |b| {
        b.iter(|| {
            let mut q = EventQueue::with_capacity(N);
            let mut keys = Vec::with_capacity(N);
            for (i, &t) in ts.iter().enumerate() {
                keys.push(q.push(t, i as u32));
            }
            for k in keys.iter().step_by(4) {
                q.cancel(*k);
            }
            let mut sum = 0u64;
            while let Some((t, _)) = q.pop() {
                sum = sum.wrapping_add(t);
            }
            sum
        })
    });
    // Steady state ("hold"): a full queue, pop one and push one later, as a model does.
    g.bench_function("hold", |b| {
        b.iter_batched(
            || {
                let mut q = EventQueue::with_capacity(N);
                for (i, &t) in ts.iter().enumerate() {
                    q.push(t, i as u32);
                }
                q
            },
            |mut q| {
                for &dt in &ts {
                    if let Some((t, ev)) = q.pop() {
                        q.push(t + dt, ev);
                    }
                }
                q
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

// The ephemeral map (src/matrix) and a full small scenario get their benchmarks here from
// the model's author: add `fn map(c: &mut Criterion)` / `fn scenario(c: &mut Criterion)`
// and list them in `criterion_group!` below.

criterion_group!(benches, phold, queue);
criterion_main!(benches);
