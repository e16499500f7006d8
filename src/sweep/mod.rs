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

use crate::scenario::estimate::{bytes, Limits};
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
    /// The scenario file (with a `[sweep]` table), or a library scenario's name.
    pub scenario: PathBuf,
    /// Runs at once [default: the machine's cores]; outputs are the same for any value.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only slice K of N (1-based), for batch systems.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// The sweep folder [default: output/<scenario name>/sweep].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Skip runs whose summary.json is already complete.
    #[arg(long)]
    pub resume: bool,
    /// Override a scenario key by dotted path: KEY=VALUE.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// No progress bar and no table on the terminal.
    #[arg(long)]
    pub quiet: bool,
    /// Every point's size estimate must fit these (`run`'s limits); `--jobs` runs at once
    /// must fit `--max-memory` together.
    #[command(flatten)]
    pub limits: crate::scenario::commands::LimitArgs,
}

/// Plots and report of a sweep folder, drawn from its `sweep.json` and `aggregate.csv`.
/// Called last by every sweep that covers the whole grid and by every merge.
pub fn draw_sweep_outputs(dir: &Path) -> anyhow::Result<()> {
    crate::output::plots::plot_sweep_dir(dir)?;
    crate::output::report::write_sweep_report(dir)?;
    Ok(())
}

/// The simulator as a sweep runner: one run folder, run plots off, default limits.
pub fn simulator_runner(scn: &Scenario, dir: &Path) -> anyhow::Result<()> {
    limited_runner(scn, dir, Limits::default())
}

/// The simulator as a sweep runner with `limits` as each run's guard (`--max-*`).
fn limited_runner(scn: &Scenario, dir: &Path, limits: Limits) -> anyhow::Result<()> {
    let opts = crate::run::RunOptions {
        out_dir: dir.to_path_buf(),
        trace: false,
        unstable_names: false,
        plots: false,
        progress: false,
        no_expect: false,
        trace_filter: None,
        limits,
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
    let limits = args.limits.limits();
    sweep_with(args, &|scn: &Scenario, dir: &Path| {
        limited_runner(scn, dir, limits)
    })
}

/// Every point's size estimate against `limits`, and the `jobs` largest together against
/// the memory limit (they run at once): refused before anything runs, naming the point.
pub fn check_sizes(plan: &SweepPlan, limits: &Limits, jobs: usize) -> Result<(), SweepError> {
    let mut problems = vec![];
    let mut memory = vec![];
    for (i, scn) in plan.point_scenarios.iter().enumerate() {
        match crate::scenario::commands::check_size(scn, limits) {
            Ok(est) => memory.push(est.memory_bytes),
            Err(errs) => {
                let what = point_text(plan, i);
                problems.extend(errs.iter().map(|e| format!("{what}: {e}")));
            }
        }
    }
    if !problems.is_empty() {
        return Err(SweepError::Input(problems.join("\n")));
    }
    memory.sort_unstable_by(|a, b| b.cmp(a));
    let at_once = jobs.min(plan.meta.seeds.len() * memory.len()).max(1);
    // A point's runs differ by seed only: the largest point can fill every job.
    let together: u64 = (0..at_once)
        .map(|j| {
            memory
                .get(j / plan.meta.seeds.len().max(1))
                .copied()
                .unwrap_or(0)
        })
        .fold(0u64, u64::saturating_add);
    if at_once > 1 && together > limits.max_memory_bytes {
        let one = memory.first().copied().unwrap_or(0).max(1);
        let fits = (limits.max_memory_bytes / one).max(1);
        return Err(SweepError::Input(format!(
            "{}: {at_once} runs at once (--jobs) are estimated at {} peak memory together, over --max-memory {}; use --jobs {fits} or raise --max-memory",
            plan.meta.scenario,
            bytes(together as f64),
            bytes(limits.max_memory_bytes as f64)
        )));
    }
    Ok(())
}

/// `point p0003 (key=value, ...)` for messages.
fn point_text(plan: &SweepPlan, i: usize) -> String {
    let values = plan.meta.points.get(i).map(|p| {
        p.values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    });
    format!("point p{i:04} ({})", values.unwrap_or_default())
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
    check_sizes(&plan, &args.limits.limits(), jobs)?;
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
        print_headline_table(&r.out);
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

/// Headline metrics per point, printed from the sweep folder's `aggregate.csv`.
fn print_headline_table(dir: &Path) {
    match headline_table(dir) {
        Ok(lines) => {
            for l in lines {
                say!("{l}");
            }
        }
        Err(e) => say!("no summary table: {e:#}"),
    }
}

/// The terminal's summary table of a sweep folder: one row per point, one column per
/// headline metric, the same value and 95% interval as `report.md` (read from
/// `aggregate.csv`): a latency or ghost percentile at its value pooled over the point's
/// seeds with the seed-bootstrap interval and the sample count, any other metric at its
/// mean over seeds with the Student-t interval. Each column says which, and a line under
/// the table says what both mean; points whose percentile has too few samples are marked
/// `!` and their warnings listed.
pub fn headline_table(dir: &Path) -> anyhow::Result<Vec<String>> {
    use crate::output::plots::{format, short_key, value_text, SweepData};
    use crate::output::report::format_metric;
    const MAX_ROWS: usize = 40;
    const MAX_WARNINGS: usize = 8;
    let d = SweepData::load(dir)?;
    if d.headline.is_empty() {
        return Ok(vec![]);
    }
    let mut out = vec![];
    if let Some(p) = &d.agg_problem {
        out.push(p.clone());
    }
    let pooled_col = |m: &String| {
        d.points.iter().any(|(p, _)| {
            d.agg
                .get(&(m.clone(), *p))
                .is_some_and(|a| a.pooled.is_some())
        })
    };
    let mut header = vec!["point".to_string()];
    // The last segment of a key when that is unique among the swept keys.
    header.extend(d.keys.iter().map(|k| {
        let l = short_key(k);
        if d.keys.iter().filter(|o| short_key(o) == l).count() == 1 {
            l.to_string()
        } else {
            k.clone()
        }
    }));
    for m in &d.headline {
        let what = if pooled_col(m) { "pooled" } else { "mean" };
        header.push(format!("{m} ({what})"));
    }
    let mut rows = vec![header];
    let mut warnings = vec![];
    for (point, vals) in d.points.iter().take(MAX_ROWS) {
        let mut row = vec![format!("p{point:04}")];
        row.extend(
            d.keys
                .iter()
                .map(|k| vals.get(k).map(value_text).unwrap_or_default()),
        );
        for m in &d.headline {
            let Some(a) = d.agg.get(&(m.clone(), *point)) else {
                row.push("-".into());
                continue;
            };
            let mut cell = format_metric(m, a.value());
            if let Some((lo, hi)) = a.interval() {
                cell += &format!(" [{} – {}]", format_metric(m, lo), format_metric(m, hi));
            }
            match (a.pooled, a.pooled_n) {
                (Some(_), Some(n)) => cell += &format!(" n={}", format::count(n)),
                // A pooled column whose point could not be pooled shows the mean, and says so.
                _ if pooled_col(m) => cell += " (mean)",
                _ => {}
            }
            if !a.warning.is_empty() {
                cell.push_str(" !");
                warnings.push(format!("p{point:04} {m}: {}", a.warning));
            }
            row.push(cell);
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
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
        out.push(line.join("  ").trim_end().to_string());
    }
    if d.points.len() > MAX_ROWS {
        out.push(format!(
            "... {} more points in aggregate.csv",
            d.points.len() - MAX_ROWS
        ));
    }
    out.push(format!(
        "(mean): mean over the point's {} seed(s) [Student-t 95% CI]; (pooled): the percentile of every sample of the point's seeds together [seed-bootstrap 95% CI], n = samples. As in report.md and aggregate.csv.",
        d.seeds.len()
    ));
    for w in warnings.iter().take(MAX_WARNINGS) {
        out.push(format!("! {w}"));
    }
    if warnings.len() > MAX_WARNINGS {
        out.push(format!(
            "! ... {} more warnings in aggregate.csv",
            warnings.len() - MAX_WARNINGS
        ));
    }
    Ok(out)
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
