//! Running a sweep: the slice of runs this shard holds, in parallel, resumable.

use super::grid::{RunId, SweepPlan};
use super::shard::{read_run, RunSummary, Shard, ShardFile, SCENARIO_FILE, SHARD_FILE};
use super::tables::{write_atomic, write_sweep_tables};
use super::{draw_sweep_outputs, SweepError};
use crate::scenario::Scenario;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// How to run a sweep.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    pub out: PathBuf,
    /// Worker threads (at least 1).
    pub jobs: usize,
    pub shard: Shard,
    /// Keep runs whose `summary.json` is complete and names the same scenario digest and
    /// seed; delete and redo the others.
    pub resume: bool,
    /// Show a progress bar (only drawn when stdout is a terminal).
    pub progress: bool,
}

/// What a sweep did.
#[derive(Clone, Debug)]
pub struct SweepReport {
    pub out: PathBuf,
    /// Runs in the whole sweep / in this shard.
    pub total_runs: usize,
    pub slice_runs: usize,
    /// Runs found complete (with `--resume`) / run now.
    pub reused: usize,
    pub ran: usize,
    /// Runs of this shard in which at least one `[[expect]]` failed.
    pub runs_with_failed_claims: usize,
    /// True when the slice is the whole sweep and `sweep.csv` etc. were written.
    pub tables_written: bool,
    /// This shard's runs by run index.
    pub results: BTreeMap<usize, RunSummary>,
}

/// Run `plan`'s runs that `opts.shard` holds, each into `OUT/p{point:04}-seed-{seed}/`.
///
/// `runner` writes one complete run folder for a scenario (ending with `summary.json`,
/// written last); the sweep writes the run's `scenario.toml` before calling it and reads
/// the metrics back from `summary.json` afterwards. The CLI passes the simulator; tests can
/// pass anything that writes a summary.
pub fn run_sweep<R>(
    plan: &SweepPlan,
    opts: &SweepOptions,
    runner: &R,
) -> Result<SweepReport, SweepError>
where
    R: Fn(&Scenario, &Path) -> anyhow::Result<()> + Sync,
{
    if opts.jobs == 0 {
        return Err(SweepError::Input("--jobs must be at least 1".into()));
    }
    let out = &opts.out;
    std::fs::create_dir_all(out).map_err(|e| SweepError::io(out, e))?;
    // One writer per folder (README "Outputs").
    let _lock = crate::output::lock::FolderLock::acquire(out)
        .map_err(|e| SweepError::Input(format!("{e:#}")))?;

    let runs = plan.meta.runs();
    let digests = plan.point_digests();
    let slice: Vec<RunId> = runs
        .iter()
        .filter(|r| opts.shard.holds(r))
        .cloned()
        .collect();

    // Written first: proves the folder is writable before any work, and tells a later
    // --resume or merge what this folder is meant to hold.
    let shard_file = ShardFile {
        shard: opts.shard.to_string(),
        sweep: plan.meta.clone(),
        point_digests: digests.clone(),
        total_runs: runs.len(),
        runs: slice.iter().map(RunId::name).collect(),
        version: crate::VERSION.to_string(),
    };
    let mut text = serde_json::to_string_pretty(&shard_file)
        .map_err(|e| SweepError::Input(format!("cannot serialise shard.json: {e}")))?;
    text.push('\n');
    write_atomic(&out.join(SHARD_FILE), text.as_bytes())?;

    let mut results: BTreeMap<usize, RunSummary> = BTreeMap::new();
    let mut todo: Vec<RunId> = vec![];
    for r in &slice {
        let dir = out.join(r.name());
        let digest = digest_of(&digests, r)?;
        if opts.resume {
            if let Ok(s) = read_run(&dir, digest, r.seed) {
                results.insert(r.index, s);
                continue;
            }
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| SweepError::io(&dir, e))?;
        }
        todo.push(r.clone());
    }
    let reused = results.len();

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .build()
        .map_err(|e| {
            SweepError::Input(format!("cannot start {} worker threads: {e}", opts.jobs))
        })?;
    let bar = progress_bar(todo.len(), opts.progress);
    let outcomes: Vec<(RunId, Result<RunSummary, String>)> = pool.install(|| {
        todo.par_iter()
            .map(|r| {
                let res = one_run(plan, &digests, out, r, runner);
                bar.inc(1);
                (r.clone(), res)
            })
            .collect()
    });
    bar.finish_and_clear();

    let mut failed = vec![];
    for (r, res) in outcomes {
        match res {
            Ok(s) => {
                results.insert(r.index, s);
            }
            Err(m) => failed.push(format!("{}: {m}", r.name())),
        }
    }
    if !failed.is_empty() {
        return Err(SweepError::RunsFailed(failed));
    }

    let tables_written = opts.shard.is_whole();
    if tables_written {
        write_sweep_tables(out, &plan.meta, &results)?;
        draw_sweep_outputs(out).map_err(|e| SweepError::Draw(format!("{e:#}")))?;
    }
    Ok(SweepReport {
        out: out.clone(),
        total_runs: runs.len(),
        slice_runs: slice.len(),
        reused,
        ran: todo.len(),
        runs_with_failed_claims: results.values().filter(|s| s.failed_claims > 0).count(),
        tables_written,
        results,
    })
}

fn digest_of<'a>(digests: &'a [String], r: &RunId) -> Result<&'a str, SweepError> {
    digests
        .get(r.point)
        .map(String::as_str)
        .ok_or_else(|| SweepError::Input(format!("{}: no such point", r.name())))
}

fn one_run<R>(
    plan: &SweepPlan,
    digests: &[String],
    out: &Path,
    r: &RunId,
    runner: &R,
) -> Result<RunSummary, String>
where
    R: Fn(&Scenario, &Path) -> anyhow::Result<()> + Sync,
{
    let scn = plan
        .run_scenario(r)
        .ok_or_else(|| format!("no scenario for point {}", r.point))?;
    let digest = digests
        .get(r.point)
        .ok_or_else(|| format!("no digest for point {}", r.point))?;
    let dir = out.join(r.name());
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    write_atomic(&dir.join(SCENARIO_FILE), scn.to_toml().as_bytes()).map_err(|e| e.to_string())?;
    // A panic in one run must not take the other runs (or the sweep's files) with it.
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner(&scn, &dir)));
    match ran {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("{e:#}")),
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            return Err(format!("the run panicked: {msg}"));
        }
    }
    read_run(&dir, digest, r.seed).map_err(|m| format!("the run finished but {m}"))
}

fn progress_bar(len: usize, wanted: bool) -> indicatif::ProgressBar {
    if !wanted || !std::io::stdout().is_terminal() || len == 0 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} runs, ETA {eta}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
