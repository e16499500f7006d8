//! One run: scenario -> world -> kernel loop -> observers -> files in the run folder.

pub mod calibrate;
pub mod cli;
pub mod expect;
pub mod write;

use crate::kernel::{Simulation, Time};
use crate::matrix::world::World;
use crate::observe::recorder::Observer;
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
    let started = Instant::now();
    let built = crate::app::build(scn, trace)?;
    let end = scn.file.simulation.duration.us();
    let interval = scn.file.simulation.sample_interval.us().max(1);
    let mut observer = Observer::new(built.sim.world.clients.len());
    let mut sim = Simulation::with_capacity(built.sim, 1 << 12);
    for (t, ev) in built.initial {
        sim.schedule_at(t, ev);
    }
    observer.drain(&mut sim.model.world);
    let bar = progress.then(|| progress_bar(end));
    let mut next_sample = interval;
    loop {
        let next = sim.next_time();
        // Samples see the state after every event at or before their instant.
        while next_sample <= end && next.is_none_or(|t| t > next_sample) {
            observer.sample(&sim.model.world, next_sample);
            next_sample += interval;
        }
        match next {
            Some(t) if t <= end => {
                sim.step();
                observer.drain(&mut sim.model.world);
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
pub fn run_scenario(scn: &Scenario, opts: &RunOptions) -> anyhow::Result<RunOutcome> {
    crate::output::files::ensure_writable(&opts.out_dir)?;
    let fin = simulate(scn, opts.trace, opts.unstable_names, opts.progress)?;
    let mode = scn.file.simulation.records;
    let out = write::write_run(scn, fin, opts, mode)?;
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
        RecordsMode::Auto => rows <= 1_000_000,
    }
}
