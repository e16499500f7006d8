//! PHOLD (Fujimoto 1990) on the very kernel the protocol model uses (README "Performance").
//!
//! N logical processes (LPs) each start with `population` events. Handling an event on an
//! LP schedules exactly one new event at `now + lookahead + Exp(mean)`, on an LP chosen
//! uniformly with probability `remote` (it may be the same LP), else on the LP itself.
//! The number of pending events therefore stays at `lps * population` for the whole run.
//!
//! Time: the kernel counts integer microseconds; one PHOLD time unit is one simulated
//! second (1 000 000 µs). Delays are rounded to the nearest microsecond.
//!
//! [`run_kernel`] drives the model through [`kernel::Simulation`]. [`run_bare`] is the same
//! model in a bare `std::collections::BinaryHeap` loop (no kernel): the same random stream,
//! the same draws in the same order, the same (time, insertion) tie-break, so for one seed
//! and end time both handle exactly the same events. It is the yardstick of README "Performance".

use crate::kernel::{self, Ctx, Model, RngStream, Simulation, Time, MICROS_PER_SEC};
use rand::Rng;
use rand_distr::Exp1;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Largest `lps * population` accepted: the queue holds that many entries for the whole run.
pub const MAX_PENDING: u64 = 50_000_000;
/// Largest `end_time`, `lookahead` or `mean` accepted (PHOLD units), far from `u64` µs overflow.
pub const MAX_TIME_UNITS: f64 = 1e9;

#[derive(clap::Args, Clone, Debug)]
pub struct PholdParams {
    #[arg(long, default_value_t = 1000)]
    pub lps: u32,
    #[arg(long, default_value_t = 10)]
    pub population: u32,
    /// Simulated end time in PHOLD units (seconds); events at times <= end are handled.
    #[arg(long, default_value_t = 1000.0)]
    pub end_time: f64,
    #[arg(long, default_value_t = 0.9)]
    pub remote: f64,
    #[arg(long, default_value_t = 0.1)]
    pub lookahead: f64,
    #[arg(long, default_value_t = 1.0)]
    pub mean: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also run the bare `BinaryHeap` loop and print both rates and their ratio.
    #[arg(long)]
    pub compare: bool,
    /// Run only the bare `BinaryHeap` loop, not the kernel: with a plain run, times the two
    /// loops as whole processes side by side.
    #[arg(long, conflicts_with = "compare")]
    pub bare: bool,
}

impl Default for PholdParams {
    /// README "Performance" defaults; end time 1000 units as the CLI.
    fn default() -> Self {
        PholdParams {
            lps: 1000,
            population: 10,
            end_time: 1000.0,
            remote: 0.9,
            lookahead: 0.1,
            mean: 1.0,
            seed: 1,
            compare: false,
            bare: false,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PholdError {
    #[error("--lps must be at least 1")]
    NoLps,
    #[error("--population must be at least 1")]
    NoPopulation,
    #[error("--lps x --population = {0} pending events, more than the limit of {MAX_PENDING}")]
    TooManyEvents(u64),
    #[error("--remote must be a probability in [0, 1], got {0}")]
    Remote(f64),
    #[error("--{name} must be a finite number in [0, {MAX_TIME_UNITS}], got {value}")]
    Range { name: &'static str, value: f64 },
    #[error("--mean must be at least 1e-6 (one microsecond, the kernel's resolution), got {0}")]
    MeanTooSmall(f64),
}

impl PholdParams {
    /// Checks every parameter; a run only starts on valid ones.
    pub fn validate(&self) -> Result<(), PholdError> {
        if self.lps == 0 {
            return Err(PholdError::NoLps);
        }
        if self.population == 0 {
            return Err(PholdError::NoPopulation);
        }
        let pending = u64::from(self.lps) * u64::from(self.population);
        if pending > MAX_PENDING {
            return Err(PholdError::TooManyEvents(pending));
        }
        if !(0.0..=1.0).contains(&self.remote) {
            return Err(PholdError::Remote(self.remote));
        }
        for (name, value) in [
            ("end-time", self.end_time),
            ("lookahead", self.lookahead),
            ("mean", self.mean),
        ] {
            if !(0.0..=MAX_TIME_UNITS).contains(&value) {
                return Err(PholdError::Range { name, value });
            }
        }
        // Below the resolution most delays would round to zero and time could stall.
        if self.mean < 1e-6 {
            return Err(PholdError::MeanTooSmall(self.mean));
        }
        Ok(())
    }

    fn end_us(&self) -> Time {
        units_to_us(self.end_time)
    }

    fn pending(&self) -> usize {
        self.lps as usize * self.population as usize
    }
}

fn units_to_us(x: f64) -> Time {
    // Validated finite and within MAX_TIME_UNITS, so the product fits in u64.
    (x * MICROS_PER_SEC as f64).round() as Time
}

/// The model's random decisions, shared by the kernel model and the bare loop so that
/// both draw the same numbers in the same order.
struct Draws {
    rng: RngStream,
    lps: u32,
    remote: f64,
    lookahead_us: Time,
    mean_us: f64,
}

impl Draws {
    fn new(p: &PholdParams) -> Self {
        Draws {
            rng: kernel::stream(p.seed, "phold", "events"),
            lps: p.lps,
            remote: p.remote,
            lookahead_us: units_to_us(p.lookahead),
            mean_us: p.mean * MICROS_PER_SEC as f64,
        }
    }

    #[inline]
    fn delay(&mut self) -> Time {
        let e: f64 = self.rng.sample(Exp1);
        self.lookahead_us + (e * self.mean_us).round() as Time
    }

    /// Destination LP and delay of the event scheduled when handling one on `lp`.
    #[inline]
    fn next(&mut self, lp: u32) -> (u32, Time) {
        let dest = if self.rng.random::<f64>() < self.remote {
            self.rng.random_range(0..self.lps)
        } else {
            lp
        };
        (dest, self.delay())
    }

    /// Initial events in a fixed order: LP 0's `population` events, then LP 1's, and so on.
    fn initial(&mut self, population: u32) -> Vec<(Time, u32)> {
        let mut v = Vec::with_capacity(self.lps as usize * population as usize);
        for lp in 0..self.lps {
            for _ in 0..population {
                v.push((self.delay(), lp));
            }
        }
        v
    }
}

/// PHOLD as a [`kernel::Model`]: the event is the index of the LP it happens on.
pub struct Phold {
    draws: Draws,
    /// Events handled per LP: the LPs' only state.
    pub handled_per_lp: Vec<u64>,
}

impl Phold {
    /// The model and its initial events (time, LP), for the caller to schedule.
    pub fn new(p: &PholdParams) -> Result<(Self, Vec<(Time, u32)>), PholdError> {
        p.validate()?;
        let mut draws = Draws::new(p);
        let initial = draws.initial(p.population);
        let model = Phold {
            draws,
            handled_per_lp: vec![0; p.lps as usize],
        };
        Ok((model, initial))
    }
}

impl Model for Phold {
    type Event = u32;

    #[inline]
    fn handle(&mut self, ctx: &mut Ctx<'_, u32>, lp: u32) {
        self.handled_per_lp[lp as usize] += 1;
        let (dest, delay) = self.draws.next(lp);
        ctx.schedule_in(delay, dest);
    }
}

/// Outcome of one timed run.
#[derive(Clone, Copy, Debug)]
pub struct PholdRun {
    pub events: u64,
    pub wall_s: f64,
}

impl PholdRun {
    pub fn events_per_s(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.events as f64 / self.wall_s
        } else {
            0.0
        }
    }

    /// `events=… wall_s=… events_per_s=…`, the format shared with tools/simpy_phold.py.
    pub fn line(&self) -> String {
        format!(
            "events={} wall_s={:.3} events_per_s={:.0}",
            self.events,
            self.wall_s,
            self.events_per_s()
        )
    }
}

/// PHOLD through [`kernel::Simulation`]. The clock starts after the model and its initial
/// events are built, the same for [`run_bare`].
pub fn run_kernel(p: &PholdParams) -> Result<PholdRun, PholdError> {
    let (model, initial) = Phold::new(p)?;
    let mut sim = Simulation::with_capacity(model, p.pending());
    for (t, lp) in initial {
        sim.schedule_at(t, lp);
    }
    let start = Instant::now();
    sim.run_until(p.end_us());
    let wall_s = start.elapsed().as_secs_f64();
    Ok(PholdRun {
        events: sim.handled(),
        wall_s,
    })
}

/// The same model in a bare `BinaryHeap` loop, with no kernel.
pub fn run_bare(p: &PholdParams) -> Result<PholdRun, PholdError> {
    let (mut model, initial) = Phold::new(p)?;
    let end = p.end_us();
    let mut heap: BinaryHeap<Reverse<(Time, u64, u32)>> = BinaryHeap::with_capacity(p.pending());
    let mut seq: u64 = 0;
    for (t, lp) in initial {
        heap.push(Reverse((t, seq, lp)));
        seq += 1;
    }
    let start = Instant::now();
    let mut events: u64 = 0;
    while let Some(Reverse((t, _, lp))) = heap.pop() {
        if t > end {
            break;
        }
        events += 1;
        model.handled_per_lp[lp as usize] += 1;
        let (dest, delay) = model.draws.next(lp);
        heap.push(Reverse((t.saturating_add(delay), seq, dest)));
        seq += 1;
    }
    let wall_s = start.elapsed().as_secs_f64();
    Ok(PholdRun { events, wall_s })
}

/// `stickysim bench phold`: one line for the kernel; with `--compare`, a line for the bare
/// loop and the ratio of the two rates; with `--bare`, the bare loop's line only.
pub fn cli(p: &PholdParams) -> anyhow::Result<()> {
    if p.bare {
        println!("bare_binaryheap {}", run_bare(p)?.line());
        return Ok(());
    }
    let k = run_kernel(p)?;
    println!("{}", k.line());
    if p.compare {
        let b = run_bare(p)?;
        if b.events != k.events {
            anyhow::bail!(
                "kernel handled {} events, the bare loop {}: the two runs diverged",
                k.events,
                b.events
            );
        }
        println!("bare_binaryheap {}", b.line());
        let ratio = if b.events_per_s() > 0.0 {
            k.events_per_s() / b.events_per_s()
        } else {
            0.0
        };
        println!("kernel_over_bare={ratio:.3}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> PholdParams {
        PholdParams {
            lps: 50,
            population: 4,
            end_time: 20.0,
            seed,
            ..PholdParams::default()
        }
    }

    #[test]
    fn kernel_and_bare_loop_handle_the_same_events() {
        for seed in [1, 2, 3] {
            let p = small(seed);
            let k = run_kernel(&p).unwrap();
            let b = run_bare(&p).unwrap();
            assert!(k.events > 0);
            assert_eq!(k.events, b.events, "seed {seed}");
        }
        // Corner cases of the model: all local, all remote, no lookahead.
        for (remote, lookahead) in [(0.0, 0.1), (1.0, 0.1), (0.5, 0.0)] {
            let p = PholdParams {
                remote,
                lookahead,
                ..small(9)
            };
            assert_eq!(run_kernel(&p).unwrap().events, run_bare(&p).unwrap().events);
        }
    }

    #[test]
    fn per_lp_counts_agree_between_kernel_and_bare_loop() {
        let p = small(5);
        let (model, initial) = Phold::new(&p).unwrap();
        let mut sim = Simulation::new(model);
        for (t, lp) in initial {
            sim.schedule_at(t, lp);
        }
        sim.run_until(p.end_us());
        assert_eq!(sim.model.handled_per_lp.iter().sum::<u64>(), sim.handled());
        // Each handled event schedules one: the population is conserved.
        assert_eq!(sim.pending(), p.pending());
    }

    #[test]
    fn a_fixed_seed_gives_a_fixed_count() {
        let p = small(1);
        let a = run_kernel(&p).unwrap().events;
        assert_eq!(a, run_kernel(&p).unwrap().events);
        // Frozen: changes only if the model, the stream derivation or rand's algorithms change.
        assert_eq!(a, FROZEN_COUNT_SMALL_SEED_1);
        assert_ne!(a, run_kernel(&small(2)).unwrap().events);
    }
    const FROZEN_COUNT_SMALL_SEED_1: u64 = 3612;

    #[test]
    fn bad_parameters_are_errors_not_panics() {
        let bad = [
            PholdParams { lps: 0, ..small(1) },
            PholdParams {
                population: 0,
                ..small(1)
            },
            PholdParams {
                lps: u32::MAX,
                population: u32::MAX,
                ..small(1)
            },
            PholdParams {
                remote: 1.5,
                ..small(1)
            },
            PholdParams {
                remote: f64::NAN,
                ..small(1)
            },
            PholdParams {
                mean: 0.0,
                ..small(1)
            },
            PholdParams {
                mean: f64::INFINITY,
                ..small(1)
            },
            PholdParams {
                lookahead: -1.0,
                ..small(1)
            },
            PholdParams {
                end_time: f64::NAN,
                ..small(1)
            },
            PholdParams {
                end_time: 1e300,
                ..small(1)
            },
        ];
        for p in bad {
            assert!(p.validate().is_err(), "{p:?}");
            assert!(run_kernel(&p).is_err());
            assert!(run_bare(&p).is_err());
            assert!(cli(&p).is_err());
        }
        assert!(PholdParams::default().validate().is_ok());
    }

    #[test]
    fn the_cli_runs_each_loop_alone_or_both() {
        for (compare, bare) in [(false, false), (true, false), (false, true)] {
            let p = PholdParams {
                compare,
                bare,
                ..small(1)
            };
            assert!(cli(&p).is_ok());
        }
    }

    #[test]
    fn end_time_zero_handles_nothing() {
        let p = PholdParams {
            end_time: 0.0,
            ..small(1)
        };
        assert_eq!(run_kernel(&p).unwrap().events, 0);
        assert_eq!(run_bare(&p).unwrap().events, 0);
    }
}
