//! Parameter sweeps: grids, seeds, parallel runs, shards, resume, merge, aggregates.
//!
//! - [`grid`]: the `[sweep]` table -> a [`SweepPlan`] (points x seeds, one scenario per point).
//! - [`exec`]: [`run_sweep`] runs a shard of the plan with rayon, generic over the runner.
//! - [`shard`]: `--shard K/N`, `shard.json`, reading a run's `summary.json` back.
//! - [`merge`]: [`merge_dirs`] gathers shard folders into one sweep folder.
//! - [`tables`]: `sweep.json`, `sweep.csv`, `aggregate.csv`.
//! - [`stats`]: mean, sample std, Student-t 95% CI (cut to the metric's range), median.
//! - [`pooled`]: percentiles pooled over a point's seeds, seed-bootstrap interval.
//!
//! The user-facing guide is docs/sweep.md; the file formats are docs/output-format.md.

pub mod exec;
pub mod grid;
pub mod merge;
pub mod pooled;
pub mod shard;
pub mod stats;
pub mod tables;

pub use exec::{run_sweep, SweepOptions, SweepReport};
pub use grid::{plan_from_path, plan_from_str, RunId, SweepMeta, SweepPlan};
pub use merge::{merge_dirs, MergeReport};
pub use shard::{read_run, RunSummary, Shard, ShardFile};

use crate::scenario::{Scenario, ScenarioError};

/// `println!` that ignores a closed stdout (`stickysim sweep … | head`): the sweep's files
/// are written by then, and a broken pipe must not turn into a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
use std::path::{Path, PathBuf};

/// Everything that can stop a sweep or a merge. All of them are reported by the CLI with
/// exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A bad scenario (file, line, column, key in each).
    #[error("{}", scenario_errors(.0))]
    Scenario(Vec<ScenarioError>),
    /// A bad `[sweep]` table, `--shard`, `--jobs`, `--set`.
    #[error("{0}")]
    Input(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Runs that should be there and are not (named).
    #[error("runs missing: {}", .0.join(", "))]
    Incomplete(Vec<String>),
    /// Runs that failed; the others are kept, so `--resume` redoes only these.
    #[error("{} run(s) failed (the others are kept; rerun with --resume to redo only these):\n  {}", .0.len(), .0.join("\n  "))]
    RunsFailed(Vec<String>),
    #[error("{0}")]
    Merge(String),
    #[error("drawing the sweep plots: {0}")]
    Draw(String),
}

impl SweepError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        SweepError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn scenario_errors(errs: &[ScenarioError]) -> String {
    let v: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    v.join("\n")
}

/// `stickysim sweep`'s arguments.
#[derive(clap::Args, Clone, Debug)]
pub struct SweepArgs {
    pub scenario: PathBuf,
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only slice K of N (1-based), for batch systems.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Skip runs whose summary.json is already complete.
    #[arg(long)]
    pub resume: bool,
    /// Override a scenario key by dotted path: KEY=VALUE.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    #[arg(long)]
    pub quiet: bool,
}

/// Plots and report of a sweep folder, drawn from its `sweep.json` and `aggregate.csv`.
/// Called last by every sweep that covers the whole grid and by every merge.
///
/// LEAD: after the merge, point this at the plot and report work:
/// `crate::output::plots::plot_sweep_dir(dir)?; crate::output::report::write_sweep_report(dir)?;`
pub fn draw_sweep_outputs(dir: &Path) -> anyhow::Result<()> {
    crate::output::plots::plot_sweep_dir(dir)?;
    crate::output::report::write_sweep_report(dir)?;
    Ok(())
}

/// The simulator as a sweep runner: one run folder, run plots off.
pub fn simulator_runner(scn: &Scenario, dir: &Path) -> anyhow::Result<()> {
    let opts = crate::run::RunOptions {
        out_dir: dir.to_path_buf(),
        trace: false,
        unstable_names: false,
        plots: false,
        progress: false,
        no_expect: false,
        trace_filter: None,
        limits: Default::default(),
    };
    crate::run::run_scenario(scn, &opts).map(|_| ())
}

/// Default sweep folder: `output/<scenario name>/sweep/` (a name that is not a plain file
/// name is made one).
pub fn default_out_dir(scenario_name: &str) -> PathBuf {
    let safe: String = scenario_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = if safe.is_empty() || safe.chars().all(|c| c == '.') {
        "scenario".to_string()
    } else {
        safe
    };
    PathBuf::from("output").join(safe).join("sweep")
}

/// `stickysim sweep`. Exit 0 when every run of the shard finished (claims that fail inside
/// runs are counted and printed, not an error: a sweep explores where they fail).
pub fn sweep_cmd(args: &SweepArgs) -> anyhow::Result<u8> {
    sweep_with(args, &simulator_runner)
}

/// [`sweep_cmd`] with another runner (tests).
pub fn sweep_with<R>(args: &SweepArgs, runner: &R) -> anyhow::Result<u8>
where
    R: Fn(&Scenario, &Path) -> anyhow::Result<()> + Sync,
{
    let shard = match &args.shard {
        Some(s) => s.parse::<Shard>()?,
        None => Shard::WHOLE,
    };
    let jobs = match args.jobs {
        Some(0) => return Err(SweepError::Input("--jobs must be at least 1".into()).into()),
        Some(n) => n,
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    let plan = plan_from_path(&args.scenario, &args.sets)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&plan.meta.scenario));
    let opts = SweepOptions {
        out,
        jobs,
        shard,
        resume: args.resume,
        progress: !args.quiet,
    };
    let t0 = std::time::Instant::now();
    let report = run_sweep(&plan, &opts, runner)?;
    if !args.quiet {
        print_sweep_report(&plan, &opts, &report, t0.elapsed().as_secs_f64());
    }
    Ok(0)
}

fn print_sweep_report(plan: &SweepPlan, opts: &SweepOptions, r: &SweepReport, wall_s: f64) {
    let m = &plan.meta;
    say!(
        "sweep {}: {} point(s) x {} seed(s) = {} runs",
        m.scenario,
        m.points.len(),
        m.seeds.len(),
        r.total_runs
    );
    if !opts.shard.is_whole() {
        say!("shard {}: {} runs", opts.shard, r.slice_runs);
    }
    say!(
        "{} run now, {} already complete, {} jobs, {:.1} s",
        r.ran,
        r.reused,
        opts.jobs,
        wall_s
    );
    if r.runs_with_failed_claims > 0 {
        say!(
            "{} run(s) with a failed [[expect]] (see their summary.json)",
            r.runs_with_failed_claims
        );
    }
    if r.tables_written {
        print_headline_table(m, &r.results);
        say!(
            "wrote {} (sweep.json, sweep.csv, aggregate.csv)",
            r.out.display()
        );
    } else {
        say!(
            "wrote shard {} to {}; when every shard is done: stickysim merge SHARD_DIR... --out DIR",
            opts.shard,
            r.out.display()
        );
    }
}

/// Headline metrics per point: mean [95% CI].
fn print_headline_table(m: &SweepMeta, results: &std::collections::BTreeMap<usize, RunSummary>) {
    const MAX_ROWS: usize = 40;
    if m.headline.is_empty() {
        return;
    }
    let runs = m.runs();
    // Short column names for the terminal: the last segment of a key when that is unique.
    let last = |k: &str| k.rsplit('.').next().unwrap_or(k).to_string();
    let mut header = vec!["point".to_string()];
    header.extend(m.keys.iter().map(|k| {
        let l = last(k);
        if m.keys.iter().filter(|o| last(o) == l).count() == 1 {
            l
        } else {
            k.clone()
        }
    }));
    header.extend(m.headline.iter().cloned());
    let mut rows = vec![header];
    for p in m.points.iter().take(MAX_ROWS) {
        let mut row = vec![format!("p{:04}", p.point)];
        row.extend(
            m.keys
                .iter()
                .map(|k| p.values.get(k).map(tables::fmt_value).unwrap_or_default()),
        );
        for h in &m.headline {
            let xs: Vec<f64> = runs
                .iter()
                .filter(|r| r.point == p.point)
                .filter_map(|r| results.get(&r.index))
                .filter_map(|s| s.metrics.get(h).copied())
                .collect();
            row.push(match stats::stats(&xs) {
                Some(s) if s.n > 1 && s.std > 0.0 => format!(
                    "{} [{}, {}]",
                    short(s.mean),
                    short(s.ci95_lo),
                    short(s.ci95_hi)
                ),
                Some(s) => short(s.mean),
                None => "-".into(),
            });
        }
        rows.push(row);
    }
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        say!("{}", line.join("  ").trim_end());
    }
    if m.points.len() > MAX_ROWS {
        say!(
            "... {} more points in aggregate.csv",
            m.points.len() - MAX_ROWS
        );
    }
}

/// Three significant decimals for the terminal (files keep full precision).
fn short(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        format!("{x:.0}")
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

/// `stickysim merge DIR... --out DIR`.
pub fn merge_cmd(dirs: &[PathBuf], out: &Path) -> anyhow::Result<u8> {
    let r = merge_dirs(dirs, out)?;
    say!(
        "merged {} runs into {} ({} copied, {} already there)",
        r.total_runs,
        out.display(),
        r.copied,
        r.kept
    );
    if r.runs_with_failed_claims > 0 {
        say!(
            "{} run(s) with a failed [[expect]] (see their summary.json)",
            r.runs_with_failed_claims
        );
    }
    Ok(0)
}
