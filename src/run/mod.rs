//! One run: scenario -> world -> kernel loop -> observers -> files in the run folder.

pub mod calibrate;
pub mod cli;
pub mod expect;
pub mod write;

use crate::kernel::{Simulation, Time};
use crate::matrix::world::World;
use crate::observe::recorder::Observer;
pub use crate::observe::stream::StreamTo;
use crate::scenario::estimate::{bytes, Limits};
use crate::scenario::{RecordsMode, Scenario};
use std::path::PathBuf;
use std::time::Instant;

pub use crate::observe::Metrics;

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub out_dir: PathBuf,
    pub trace: bool,
    pub unstable_names: bool,
    pub plots: bool,
    /// Show a progress bar (only when stdout is a terminal).
    pub progress: bool,
    /// Do not check the scenario's `[[expect]]` claims (`run --no-expect`): no failure, and
    /// summary.json says `"expect_checked": false`.
    pub no_expect: bool,
    /// `--trace-filter`: the trace lines to keep (`None`: all).
    pub trace_filter: Option<crate::output::trace::TraceFilter>,
    /// `--max-memory` / `--max-events`, enforced while the run goes too.
    pub limits: Limits,
}

/// What a finished run reports back (also written to `summary.json`).
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub out_dir: PathBuf,
    pub metrics: Metrics,
    pub digest: String,
    /// One line per failed `[[expect]]`.
    pub failures: Vec<String>,
    pub expectations: Vec<expect::Checked>,
    pub events: u64,
    pub wall_s: f64,
}

/// The simulation itself, without files: the world and its observer at the end.
pub struct Finished {
    pub world: World,
    pub observer: Observer,
    pub events: u64,
    pub wall_s: f64,
    pub end: Time,
    /// The trace uses the MSC's unstable names.
    pub unstable_names: bool,
}

/// Run the model to the scenario's end.
pub fn simulate(
    scn: &Scenario,
    trace: bool,
    unstable_names: bool,
    progress: bool,
) -> anyhow::Result<Finished> {
    simulate_guarded(scn, trace, unstable_names, progress, None)
}

/// [`simulate`] with the livelock guard's limit given (tests use a small one); `None`:
/// [`LIVELOCK_EVENTS`] + 100 per client and server.
pub fn simulate_guarded(
    scn: &Scenario,
    trace: bool,
    unstable_names: bool,
    progress: bool,
    livelock_events: Option<u64>,
) -> anyhow::Result<Finished> {
    let guards = Guards {
        livelock_events,
        ..Guards::default()
    };
    simulate_limited(
        scn,
        trace,
        unstable_names,
        progress,
        &guards,
        StreamTo::Nowhere,
    )
}

/// What stops a run early with an error.
#[derive(Clone, Copy, Debug, Default)]
pub struct Guards {
    /// Events at one instant that make a livelock (`None`: [`LIVELOCK_EVENTS`] + 100 per
    /// client and server).
    pub livelock_events: Option<u64>,
    /// Kernel events handled at most, and resident memory at most (Linux; checked every
    /// [`MEMORY_CHECK_EVERY`] events).
    pub limits: Limits,
    /// Check the cached convergence views against a full recomputation at every sample
    /// (a test switch: a mismatch panics).
    pub verify_views: bool,
}

/// How often (in kernel events) the run reads its resident memory.
pub const MEMORY_CHECK_EVERY: u64 = 1 << 16;

/// [`simulate`] with every guard given; `streams`: where the big CSV files go as the run
/// goes ([`crate::observe::stream`]; temporary files are removed if the run stops with an
/// error).
pub fn simulate_limited(
    scn: &Scenario,
    trace: bool,
    unstable_names: bool,
    progress: bool,
    guards: &Guards,
    streams: StreamTo<'_>,
) -> anyhow::Result<Finished> {
    let livelock_events = guards.livelock_events;
    let limits = guards.limits;
    let started = Instant::now();
    let built = crate::app::build(scn, trace)?;
    let end = scn.file.simulation.duration.us();
    let interval = scn.file.simulation.sample_interval.us().max(1);
    let summary = scn.file.simulation.records == RecordsMode::Summary;
    let mut observer = Observer::new(built.sim.world.clients.len(), summary);
    observer.verify_views = guards.verify_views;
    observer.stream_to(streams, &built.sim.world)?;
    let mut sim = Simulation::with_capacity(built.sim, 1 << 12);
    for (t, ev) in built.initial {
        sim.schedule_at(t, ev);
    }
    observer.drain(&mut sim.model.world);
    let bar = progress.then(|| progress_bar(end));
    let mut next_sample = interval;
    let livelock_limit = livelock_events.unwrap_or(
        LIVELOCK_EVENTS
            + 100 * (sim.model.world.clients.len() + sim.model.world.servers.len()) as u64,
    );
    let (mut instant, mut at_instant) = (Time::MAX, 0u64);
    loop {
        let next = sim.next_time();
        // Samples see the state after every event at or before their instant.
        while next_sample <= end && next.is_none_or(|t| t > next_sample) {
            observer.sample(&sim.model.world, next_sample);
            next_sample += interval;
        }
        match next {
            Some(t) if t <= end => {
                // Livelock guard: time must advance; a component answering itself at one
                // instant (zero waits with zero latency) would otherwise never end.
                if t == instant {
                    at_instant += 1;
                    if at_instant > livelock_limit {
                        return Err(livelock(&mut sim, t, livelock_limit));
                    }
                } else {
                    (instant, at_instant) = (t, 1);
                }
                sim.step();
                observer.drain(&mut sim.model.world);
                observer.tick(&sim.model.world, t);
                over_limits(sim.handled(), t, &limits)?;
                if let Some(b) = &bar {
                    if sim.handled() % 65_536 == 0 {
                        b.set_position(t / 1_000_000);
                        let wall = started.elapsed().as_secs_f64().max(1e-9);
                        b.set_message(format!(
                            "{:.0} ev/s, {:.0} sim s/s",
                            sim.handled() as f64 / wall,
                            t as f64 / 1e6 / wall
                        ));
                    }
                }
            }
            _ => break,
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let events = sim.handled();
    let world = sim.model.world;
    observer.finish(&world, end);
    Ok(Finished {
        world,
        observer,
        events,
        wall_s: started.elapsed().as_secs_f64(),
        end,
        unstable_names,
    })
}

/// The `--max-events` and `--max-memory` checks while the run goes: an error once more
/// kernel events than the limit were handled, or (every [`MEMORY_CHECK_EVERY`] events, on
/// Linux) once the process's resident memory is above its limit.
fn over_limits(handled: u64, t: Time, limits: &Limits) -> anyhow::Result<()> {
    let at = crate::kernel::time::to_ms(t);
    if handled > limits.max_events {
        anyhow::bail!(
            "run stopped at simulated time {at} ms: more than --max-events {} kernel events handled; \
             nothing was written (raise --max-events, or shorten `simulation.duration`)",
            limits.max_events
        );
    }
    if handled.is_multiple_of(MEMORY_CHECK_EVERY) {
        if let Some(rss) = resident_bytes() {
            if rss > limits.max_memory_bytes {
                anyhow::bail!(
                    "run stopped at simulated time {at} ms: resident memory {} exceeds --max-memory {}; \
                     nothing was written (raise --max-memory, or make the scenario smaller)",
                    bytes(rss as f64),
                    bytes(limits.max_memory_bytes as f64)
                );
            }
        }
    }
    Ok(())
}

/// This process's resident memory (Linux: `VmRSS` of /proc/self/status), if known.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Events at one instant, beyond 100 per client and server, that make a run a livelock.
pub const LIVELOCK_EVENTS: u64 = 10_000_000;

/// The livelock error: the instant, the kinds of event that repeat (from the next 10 000)
/// and the keys that usually cause them.
fn livelock(sim: &mut Simulation<crate::app::Sim>, t: Time, limit: u64) -> anyhow::Error {
    let mut kinds: std::collections::BTreeMap<String, u64> = Default::default();
    for _ in 0..10_000 {
        if sim.next_time() != Some(t) {
            break;
        }
        sim.step_inspect(|ev| *kinds.entry(ev.kind()).or_default() += 1);
    }
    let mut top: Vec<(String, u64)> = kinds.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(4);
    let mut keys: Vec<&str> = vec![];
    for (k, _) in &top {
        let hint: &[&str] = if k.contains("Sync") {
            &["sync.poll_timeout", "sync.error_retry", "client_latency"]
        } else if k.contains("Txn") || k.contains("Wake") || k.contains("Missing") {
            &[
                "federation.retries",
                "federation.backoff",
                "federation.wake_interval",
                "network.latency",
                "processing",
            ]
        } else if k.contains("Delayed") || k.starts_with("workload") {
            &[
                "workload heartbeat (restart_every, leave_delay)",
                "client_latency",
            ]
        } else {
            &["client_latency", "network.latency"]
        };
        for h in hint {
            if !keys.contains(h) {
                keys.push(h);
            }
        }
    }
    let what: Vec<String> = top
        .iter()
        .map(|(k, n)| format!("{k} ({n} of the next 10 000)"))
        .collect();
    anyhow::anyhow!(
        "livelock: more than {} events at simulated time {} ms without time advancing; repeating: {}; \
         check these keys for zero waits with zero latency: {}",
        limit,
        crate::kernel::time::to_ms(t),
        what.join(", "),
        keys.join(", ")
    )
}

fn progress_bar(end: Time) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::new(end / 1_000_000);
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} sim s  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b
}

/// Run one scenario to completion and write its folder.
/// The folder is locked for the run ([`crate::output::lock`]); a run that stops with an
/// error before writing leaves the folder as it was (and removes it when it made it).
pub fn run_scenario(scn: &Scenario, opts: &RunOptions) -> anyhow::Result<RunOutcome> {
    let fresh = !opts.out_dir.exists();
    let lock = crate::output::lock::FolderLock::acquire(&opts.out_dir)?;
    let guards = Guards {
        livelock_events: None,
        limits: opts.limits,
        verify_views: false,
    };
    let stopped = |e: anyhow::Error, lock| -> anyhow::Result<RunOutcome> {
        // The run's temporary files are gone with its observer.
        drop(lock);
        if fresh {
            // Only an empty folder goes.
            let _ = std::fs::remove_dir(&opts.out_dir);
        }
        Err(e)
    };
    let fin = match simulate_limited(
        scn,
        opts.trace,
        opts.unstable_names,
        opts.progress,
        &guards,
        StreamTo::Folder(&opts.out_dir),
    ) {
        Ok(f) => f,
        Err(e) => return stopped(e, lock),
    };
    let mode = scn.file.simulation.records;
    let out = match write::write_run(scn, fin, opts, mode) {
        Ok(out) => out,
        Err(e) => return stopped(e, lock),
    };
    if opts.plots {
        crate::output::plots::plot_run_dir(&opts.out_dir)?;
    }
    crate::output::report::write_report(&opts.out_dir)?;
    Ok(out)
}

pub fn records_full(mode: RecordsMode, rows: usize) -> bool {
    match mode {
        RecordsMode::Full => true,
        RecordsMode::Summary => false,
        RecordsMode::Auto => rows <= crate::scenario::schema::AUTO_FULL_ROWS,
    }
}
