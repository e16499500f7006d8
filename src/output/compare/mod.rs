//! `stickysim compare RUN_A RUN_B [...] --out DIR`: a paired table of every metric of two
//! or more run folders (difference and ratio when there are two), `compare.csv` with the
//! exact values, and overlay plots (latency CDF with lost and pending pairs in the
//! denominator, divergent rooms, cumulative `/send` attempts, ghost durations). Runs are
//! labelled by folder name; `compare SWEEP --points 3,5` takes points of a sweep folder,
//! every seed of a point pooled (or one seed's run with `--seed`). The same folders give
//! the same bytes.
//!
//! - [`table`]: the paired table, `compare.csv`, `report.md`.
//! - [`overlays`]: the overlay figures.
//! - [`points`]: sweep points as run folders.

mod overlays;
mod points;
mod table;

pub use overlays::*;
pub use points::{resolve_points, SweepPoint};
pub use table::*;

use crate::output::files::write_atomic;
use crate::output::plots::data::Summary;
use crate::output::plots::{write_figure, SweepData};
use anyhow::{anyhow, Result};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `stickysim compare`'s arguments.
#[derive(clap::Args, Clone, Debug)]
pub struct CompareArgs {
    /// Two or more run folders (each with summary.json); the first is the baseline. With
    /// `--points`: one sweep folder.
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// Points of the sweep folder to compare, by number (`3,5` or `p0003,p0005`); the
    /// first is the baseline.
    #[arg(long, value_name = "P,P,...")]
    pub points: Option<String>,
    /// With `--points`: compare only this seed's run of each point (default: every seed
    /// of each point, pooled).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where report.md, compare.csv and plots/ go.
    #[arg(long)]
    pub out: PathBuf,
}

/// Families in reading order; metrics of other families follow.
pub(crate) const FAMILIES: [&str; 7] = [
    "delivery",
    "federation",
    "sync",
    "spam",
    "convergence",
    "rtc",
    "sim",
];

/// Metrics shown first, in this order, when present (what a reader wants at a glance).
pub(crate) const HEADLINE: [&str; 8] = [
    "delivery.delivered_fraction",
    "delivery.within_1s",
    "delivery.within_10s",
    "delivery.within_60s",
    "delivery.count",
    "delivery.lost",
    "delivery.pending_at_end",
    "delivery.latency_ms.p50",
];

/// One run folder, or a sweep point with its seeds pooled, loaded.
#[derive(Clone, Debug)]
pub struct RunData {
    pub label: String,
    /// The run folder (a pooled point: its first seed's).
    pub dir: PathBuf,
    pub summary: Summary,
    /// The values compared: the run's own, or a pooled point's ([`Pool`]).
    pub metrics: BTreeMap<String, f64>,
    /// Set for a sweep point whose seeds are pooled.
    pub pool: Option<Pool>,
}

/// A sweep point's seeds taken together. `metrics` of the point are its sweep's
/// `aggregate.csv` values: a latency or ghost percentile pooled over every seed's
/// samples, any other metric the mean over seeds.
#[derive(Clone, Debug)]
pub struct Pool {
    pub seeds: Vec<u64>,
    /// Each seed's run, in seed order.
    pub runs: Vec<RunData>,
    /// metric -> (n, pooled): samples when the value is a pooled percentile, else the
    /// seeds that have the metric.
    pub n: BTreeMap<String, (f64, bool)>,
}

impl RunData {
    /// Reads `dir/summary.json`; a clear error when the folder or file is missing or bad.
    pub fn load(dir: &Path) -> Result<RunData> {
        if !dir.is_dir() {
            return Err(anyhow!("{}: no such run folder", dir.display()));
        }
        let summary = Summary::load(dir)
            .map_err(|e| anyhow!("{}: {e}", dir.display()))?
            .ok_or_else(|| {
                anyhow!(
                    "{}: no summary.json (not a finished run folder)",
                    dir.display()
                )
            })?;
        let metrics: BTreeMap<String, f64> = summary
            .raw
            .get("metrics")
            .and_then(Value::as_object)
            .ok_or_else(|| anyhow!("{}: summary.json has no \"metrics\"", dir.display()))?
            .iter()
            .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
            .collect();
        Ok(RunData {
            label: String::new(),
            dir: dir.to_path_buf(),
            summary,
            metrics,
            pool: None,
        })
    }

    /// A sweep point with every seed's run folder pooled: the values and counts of the
    /// sweep's `aggregate.csv` (so they match its report), the runs kept for the overlays.
    pub fn pooled(p: &SweepPoint, sweep: &SweepData) -> Result<RunData> {
        if let Some(problem) = &sweep.agg_problem {
            return Err(anyhow!(
                "{problem}; pooling a point's seeds needs the sweep's aggregate.csv (or pick one seed with --seed)"
            ));
        }
        let runs = p
            .dirs
            .iter()
            .map(|d| RunData::load(d))
            .collect::<Result<Vec<_>>>()?;
        let first = runs
            .first()
            .ok_or_else(|| anyhow!("{}: no seeds", p.label))?;
        let (mut metrics, mut n) = (BTreeMap::new(), BTreeMap::new());
        for ((m, point), a) in &sweep.agg {
            if *point != p.point {
                continue;
            }
            metrics.insert(m.clone(), a.value());
            let count = match (a.pooled, a.pooled_n) {
                (Some(_), Some(k)) => (k, true),
                _ => (a.n, false),
            };
            n.insert(m.clone(), count);
        }
        Ok(RunData {
            label: p.label.clone(),
            dir: first.dir.clone(),
            summary: first.summary.clone(),
            metrics,
            pool: Some(Pool {
                seeds: p.seeds.clone(),
                runs,
                n,
            }),
        })
    }

    /// This run's due pairs (`delivery.count`, delivered + lost, and the pending ones) and
    /// how many of them were delivered.
    pub fn due_pairs(&self) -> (f64, f64) {
        let m = |k: &str| self.metrics.get(k).copied().unwrap_or(0.0);
        let due = m("delivery.count") + m("delivery.pending_at_end");
        (due, self.delivered_fraction().unwrap_or(0.0) * due)
    }

    /// Share of all due pairs delivered, every seed's pairs together for a pooled point
    /// (where the latency CDF ends).
    pub fn delivered_share(&self) -> Option<f64> {
        let Some(p) = &self.pool else {
            return self.delivered_fraction();
        };
        let (due, delivered) = p
            .runs
            .iter()
            .map(RunData::due_pairs)
            .fold((0.0, 0.0), |(a, b), (d, x)| (a + d, b + x));
        (due > 0.0).then(|| delivered / due)
    }

    /// The run folders behind this entry: the pooled seeds' runs, or the run itself.
    pub fn members(&self) -> Vec<&RunData> {
        match &self.pool {
            Some(p) => p.runs.iter().collect(),
            None => vec![self],
        }
    }

    /// Share of due pairs delivered: the metric when present, else 1 − (lost + pending) / count.
    pub fn delivered_fraction(&self) -> Option<f64> {
        if let Some(f) = self.metrics.get("delivery.delivered_fraction") {
            return Some(*f);
        }
        let n = *self.metrics.get("delivery.count")?;
        if n <= 0.0 {
            return None;
        }
        let lost = self.metrics.get("delivery.lost").copied().unwrap_or(0.0);
        let pending = self
            .metrics
            .get("delivery.pending_at_end")
            .copied()
            .unwrap_or(0.0);
        Some(((n - lost - pending) / n).clamp(0.0, 1.0))
    }
}

/// Folder names as labels; when two runs share a name, more of their path is used.
pub fn labels(dirs: &[PathBuf]) -> Vec<String> {
    let comps: Vec<Vec<String>> = dirs
        .iter()
        .map(|d| {
            d.components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(s) => Some(s.to_string_lossy().to_string()),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let tail = |c: &Vec<String>, k: usize| -> String {
        let n = c.len();
        if n == 0 {
            return ".".into();
        }
        c[n.saturating_sub(k)..].join("/")
    };
    let max_depth = comps.iter().map(Vec::len).max().unwrap_or(1).max(1);
    for k in 1..=max_depth {
        let l: Vec<String> = comps.iter().map(|c| tail(c, k)).collect();
        let distinct: BTreeSet<&String> = l.iter().collect();
        if distinct.len() == l.len() {
            return l;
        }
    }
    // The same folder given twice: number them.
    comps
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} #{}", tail(c, max_depth), i + 1))
        .collect()
}

/// Loads the runs, labelled by folder name.
pub fn load_runs(dirs: &[PathBuf]) -> Result<Vec<RunData>> {
    if dirs.len() < 2 {
        return Err(anyhow!("compare needs two or more run folders"));
    }
    let labels = labels(dirs);
    let mut runs = vec![];
    for (d, l) in dirs.iter().zip(labels) {
        let mut r = RunData::load(d)?;
        r.label = l;
        runs.push(r);
    }
    Ok(runs)
}

/// Writes report.md, compare.csv and plots/ under `out`; returns the report's path.
pub fn write_compare(runs: &[RunData], out: &Path) -> Result<PathBuf> {
    crate::output::files::ensure_writable(out)?;
    let mut plots = vec![];
    for fig in figures(runs) {
        write_figure(&fig, &out.join("plots"))?;
        let note = fig.notes().join("; ");
        plots.push((fig.name.clone(), note));
    }
    write_atomic(out, "compare.csv", compare_csv(runs).as_bytes())?;
    write_atomic(out, "report.md", report_text(runs, &plots).as_bytes())
}

/// The runs `args` name: the folders, or with `--points` the points' run folders,
/// labelled by point and swept values.
pub fn runs_of(args: &CompareArgs) -> Result<Vec<RunData>> {
    let Some(list) = &args.points else {
        if args.seed.is_some() {
            return Err(anyhow!(
                "--seed goes with --points (a seed of each sweep point)"
            ));
        }
        return load_runs(&args.runs);
    };
    let [sweep] = args.runs.as_slice() else {
        return Err(anyhow!(
            "--points takes one sweep folder (got {} folders)",
            args.runs.len()
        ));
    };
    let (points, data) = resolve_points(sweep, list, args.seed)?;
    let mut runs = vec![];
    for p in points {
        if args.seed.is_some() {
            let mut r = RunData::load(&p.dirs[0])?;
            r.label = p.label;
            runs.push(r);
        } else {
            runs.push(RunData::pooled(&p, &data)?);
        }
    }
    Ok(runs)
}

/// `stickysim compare`: exit 0 when written, 2 on a missing or bad run folder.
pub fn compare_cmd(args: &CompareArgs) -> Result<u8> {
    let runs = match runs_of(args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(2);
        }
    };
    let report = write_compare(&runs, &args.out)?;
    println!("wrote {}", report.display());
    Ok(0)
}
