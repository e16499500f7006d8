//! Criterion benchmarks (SPEC 6): the kernel, the ephemeral map and a full small scenario:
//! `cargo bench --bench kernel`.
//!
//! Benchmarks, never timed tests: nothing here asserts a speed. The headline PHOLD figures
//! come from `stickysim bench phold --compare` (docs/performance.md); these are for spotting
//! regressions in the kernel between commits.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand::Rng;
use std::collections::BinaryHeap;
use stickysim::bench::phold::{run_bare, run_kernel, PholdParams};
use stickysim::kernel::{stream, EventQueue, Time};
use stickysim::matrix::client::map::{Candidate, EphemeralMap, MapKey};
use stickysim::matrix::{ClientId, EvType, PduId, RoomId};
use stickysim::run::simulate;
use stickysim::scenario::DEFAULT_SCENARIO;

/// PHOLD with 100 LPs x 10 events to t = 10 (about 9 000 events), and at the SPEC size:
/// kernel and bare loop.
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

    // The SPEC 6 size (1000 LPs x 10: 10 000 pending), to t = 10 (about 90 000 events).
    let p = PholdParams {
        end_time: 10.0,
        ..PholdParams::default()
    };
    let events = run_kernel(&p).map(|r| r.events).unwrap_or(0);
    let mut g = c.benchmark_group("phold_1000x10");
    g.sample_size(20);
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

/// A pending event as large as the protocol model's (the kernel event `Ev` is 48 bytes,
/// `kernel_event_stays_small`); its first word is read so that it is not dead.
#[derive(Clone, Copy)]
struct Payload([u64; 6]);

/// The bare loop's way to queue it: `BinaryHeap` ordered by (time, insertion sequence).
struct HeapEntry {
    time: Time,
    seq: u64,
    ev: Payload,
}
impl PartialEq for HeapEntry {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl Eq for HeapEntry {}
impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for HeapEntry {
    // Reversed: BinaryHeap is a max-heap.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.time, o.seq).cmp(&(self.time, self.seq))
    }
}

/// Delays spread as the protocol model's: log-uniform from 1 us to about 2.3 h (2^33 us),
/// plus one in eight at the same instant.
fn wide_delays(n: usize) -> Vec<Time> {
    let mut rng = stream(1, "bench", "wide");
    (0..n)
        .map(|_| {
            if rng.random_range(0..8) == 0 {
                0
            } else {
                let bits = rng.random_range(0..33);
                rng.random_range(0..(2u64 << bits))
            }
        })
        .collect()
}

/// Steady state with wide spreads and large events: a queue of 100 000 pending events;
/// pop one, push one a wide delay later, 100 000 times. The kernel queue against a
/// `BinaryHeap` of the same entries.
fn queue_wide(c: &mut Criterion) {
    const N: usize = 100_000;
    let ds = wide_delays(2 * N);
    let (fill, hold) = ds.split_at(N);
    let mut g = c.benchmark_group("queue_wide_100k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("kernel_queue_hold", |b| {
        b.iter_batched(
            || {
                let mut q = EventQueue::with_capacity(N);
                for (i, &t) in fill.iter().enumerate() {
                    q.push(t, Payload([i as u64; 6]));
                }
                q
            },
            |mut q| {
                for &dt in hold {
                    if let Some((t, ev)) = q.pop() {
                        std::hint::black_box(ev.0[0]);
                        q.push(t + dt, ev);
                    }
                }
                q
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("binaryheap_hold", |b| {
        b.iter_batched(
            || {
                let mut h = BinaryHeap::with_capacity(N);
                for (i, &t) in fill.iter().enumerate() {
                    h.push(HeapEntry {
                        time: t,
                        seq: i as u64,
                        ev: Payload([i as u64; 6]),
                    });
                }
                (h, N as u64)
            },
            |(mut h, mut seq)| {
                for &dt in hold {
                    if let Some(e) = h.pop() {
                        std::hint::black_box(e.ev.0[0]);
                        h.push(HeapEntry {
                            time: e.time + dt,
                            seq,
                            ev: e.ev,
                        });
                        seq += 1;
                    }
                }
                h
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// A map key: `senders` senders in one room, one key each (as MatrixRTC members use).
fn map_key(room: u32, sender: u32) -> MapKey {
    MapKey {
        room: RoomId(room),
        sender: ClientId(sender),
        ev_type: EvType(0),
        sticky_key: format!("_@u{sender}:hs{sender}_m0.{sender}").into(),
    }
}

/// `n` sticky events over 4 rooms x 50 senders, with increasing order and a leave every
/// fifth, as a client receives them in sync responses.
fn map_events(n: u32) -> Vec<(MapKey, Candidate)> {
    (0..n)
        .map(|i| {
            let key = map_key(i % 4, (i / 4) % 50);
            let ots = i64::from(i) * 1000;
            let cand = Candidate {
                pdu: PduId(i),
                order: (ots + 3_600_000, format!("$ev{i:08}").into()),
                leave: i % 5 == 4,
                expires_at: u64::from(i) * 1_000_000 + 3_600_000_000,
            };
            (key, cand)
        })
        .collect()
}

/// The ephemeral map (`matrix::map::EphemeralMap`): inserting events, asking what one key
/// shows, and one room's whole view (what the convergence sampler does per client).
fn map(c: &mut Criterion) {
    const N: u32 = 10_000;
    let evs = map_events(N);
    let mut full = EphemeralMap::new(true);
    for (k, cand) in &evs {
        full.insert(k.clone(), cand.clone(), 0);
    }
    let now = u64::from(N) * 1_000_000;
    let keys: Vec<MapKey> = (0..4)
        .flat_map(|r| (0..50).map(move |s| map_key(r, s)))
        .collect();
    let mut g = c.benchmark_group("ephemeral_map");
    g.throughput(Throughput::Elements(u64::from(N)));
    g.bench_function("insert_10k", |b| {
        b.iter_batched(
            || evs.clone(),
            |evs| {
                let mut m = EphemeralMap::new(true);
                for (i, (k, cand)) in evs.into_iter().enumerate() {
                    m.insert(k, cand, i as u64 * 1_000_000);
                }
                m
            },
            BatchSize::LargeInput,
        )
    });
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_function("top_200_keys", |b| {
        b.iter(|| {
            keys.iter()
                .filter(|k| full.top(black_box(k), now).is_some())
                .count()
        })
    });
    g.throughput(Throughput::Elements(4));
    g.bench_function("view_4_rooms", |b| {
        b.iter(|| {
            (0..4)
                .map(|r| full.view(black_box(RoomId(r)), now).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

/// A full small scenario through `run::simulate` (no files): the default scenario
/// (20 servers, 40 MatrixRTC participants, 1 h with a partition) and a 3-server, 10-minute
/// cut of it.
fn scenario(c: &mut Criterion) {
    let default = stickysim::scenario::load_str(DEFAULT_SCENARIO, "default", &[])
        .expect("the default scenario loads");
    let small = stickysim::scenario::load_str(
        DEFAULT_SCENARIO,
        "default",
        &[
            "servers.count=3".into(),
            "simulation.duration=\"10m\"".into(),
            "simulation.quiet_tail=\"1m\"".into(),
            "workload.0.participants=6".into(),
            "fault=[]".into(),
            "expect=[]".into(),
        ],
    )
    .expect("the small variant loads");
    let mut g = c.benchmark_group("scenario");
    g.sample_size(10);
    for (name, scn) in [
        ("small_3_servers_10m", &small),
        ("default_matrixrtc_call", &default),
    ] {
        let events = simulate(scn, false, false, false)
            .map(|f| f.events)
            .unwrap_or(0);
        g.throughput(Throughput::Elements(events));
        g.bench_function(name, |b| {
            b.iter(|| simulate(black_box(scn), false, false, false).map(|f| f.events))
        });
    }
    g.finish();
}

criterion_group!(benches, phold, queue, queue_wide, map, scenario);
criterion_main!(benches);
