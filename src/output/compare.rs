//! `stickysim compare RUN_A RUN_B [...] --out DIR`: a paired table of every metric of two
//! or more run folders (difference and ratio when there are two), `compare.csv` with the
//! exact values, and overlay plots (latency CDF with lost and pending pairs in the
//! denominator, divergent rooms, cumulative `/send` attempts). Runs are labelled by folder
//! name. The same folders give the same bytes.

use crate::output::files::write_atomic;
use crate::output::plots::data::{num, read_csv, Summary};
use crate::output::plots::figure::{Axis, AxisKind, Figure, Hue, Mark, Panel, Series};
use crate::output::plots::{cdf_points, format, write_figure};
use crate::output::report::format_metric;
use anyhow::{anyhow, Result};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `stickysim compare`'s arguments.
#[derive(clap::Args, Clone, Debug)]
pub struct CompareArgs {
    /// Two or more run folders (each with summary.json); the first is the baseline.
    #[arg(required = true, num_args = 2..)]
    pub runs: Vec<PathBuf>,
    /// Where report.md, compare.csv and plots/ go.
    #[arg(long)]
    pub out: PathBuf,
}

/// Families in reading order; metrics of other families follow.
const FAMILIES: [&str; 7] = [
    "delivery",
    "federation",
    "sync",
    "spam",
    "convergence",
    "rtc",
    "sim",
];

/// Metrics shown first, in this order, when present (what a reader wants at a glance).
const HEADLINE: [&str; 8] = [
    "delivery.delivered_fraction",
    "delivery.within_1s",
    "delivery.within_10s",
    "delivery.within_60s",
    "delivery.count",
    "delivery.lost",
    "delivery.pending_at_end",
    "delivery.latency_ms.p50",
];

/// One run folder, loaded.
#[derive(Clone, Debug)]
pub struct RunData {
    pub label: String,
    pub dir: PathBuf,
    pub summary: Summary,
    pub metrics: BTreeMap<String, f64>,
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
        })
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

fn metric_key(name: &str) -> (usize, usize, String) {
    let head = HEADLINE
        .iter()
        .position(|h| *h == name)
        .unwrap_or(HEADLINE.len());
    let fam = name.split('.').next().unwrap_or("");
    let f = FAMILIES
        .iter()
        .position(|x| *x == fam)
        .unwrap_or(FAMILIES.len());
    (head, f, name.to_string())
}

/// Every metric name of any run, headline metrics first, then by family and name.
pub fn metric_names(runs: &[RunData]) -> Vec<String> {
    let mut all: BTreeSet<(usize, usize, String)> = BTreeSet::new();
    for r in runs {
        for k in r.metrics.keys() {
            all.insert(metric_key(k));
        }
    }
    all.into_iter().map(|k| k.2).collect()
}

/// `b − a`.
pub fn difference(a: f64, b: f64) -> f64 {
    b - a
}

/// `b / a`; `None` when `a` is 0.
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    if a == 0.0 {
        None
    } else {
        Some(b / a)
    }
}

/// A difference with its sign and the metric's unit.
pub fn format_difference(name: &str, d: f64) -> String {
    if d == 0.0 {
        return "0".into();
    }
    let sign = if d > 0.0 { "+" } else { "−" };
    let abs = format_metric(name, d.abs());
    if name.contains("fraction") || name.contains("within_") {
        // Fractions differ in percentage points.
        format!("{sign}{} pp", format::sig(d.abs() * 100.0, 3))
    } else {
        format!("{sign}{abs}")
    }
}

/// `×1.23`, or `—` when undefined.
pub fn format_ratio(r: Option<f64>) -> String {
    match r {
        Some(r) => format!("×{}", format::sig(r, 3)),
        None => "—".into(),
    }
}

fn value_cell(name: &str, v: Option<f64>) -> String {
    match v {
        Some(v) if name.contains("within_") => format!("{}%", format::sig(v * 100.0, 3)),
        Some(v) => format_metric(name, v),
        None => "—".into(),
    }
}

fn esc(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn csv_cell(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

fn csv_text(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `compare.csv`: one row per metric, one column per run (exact values), and with two
/// runs `difference` (B − A) and `ratio` (B / A).
pub fn compare_csv(runs: &[RunData]) -> String {
    let names = metric_names(runs);
    let mut s = String::from("metric");
    for r in runs {
        s.push(',');
        s.push_str(&csv_text(&r.label));
    }
    if runs.len() == 2 {
        s.push_str(",difference,ratio");
    }
    s.push('\n');
    for n in &names {
        s.push_str(&csv_text(n));
        for r in runs {
            s.push(',');
            s.push_str(&csv_cell(r.metrics.get(n).copied()));
        }
        if runs.len() == 2 {
            let (a, b) = (runs[0].metrics.get(n), runs[1].metrics.get(n));
            let (d, q) = match (a, b) {
                (Some(a), Some(b)) => (Some(difference(*a, *b)), ratio(*a, *b)),
                _ => (None, None),
            };
            s.push(',');
            s.push_str(&csv_cell(d));
            s.push(',');
            s.push_str(&csv_cell(q));
        }
        s.push('\n');
    }
    s
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, x) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        other => {
            let mut text = other.to_string();
            if text.chars().count() > 80 {
                text = text.chars().take(77).collect::<String>() + "…";
            }
            out.insert(prefix.to_string(), text);
        }
    }
}

/// Keys of `scenario.toml` whose values differ between the runs (a missing key is `—`),
/// with each run's value; empty when a scenario.toml is missing or unreadable.
pub fn scenario_differences(runs: &[RunData]) -> Vec<(String, Vec<String>)> {
    let mut flat = vec![];
    for r in runs {
        let Ok(text) = std::fs::read_to_string(r.dir.join("scenario.toml")) else {
            return vec![];
        };
        let Ok(v) = text.parse::<toml::Table>() else {
            return vec![];
        };
        let mut m = BTreeMap::new();
        flatten("", &toml::Value::Table(v), &mut m);
        flat.push(m);
    }
    let keys: BTreeSet<&String> = flat.iter().flat_map(|m| m.keys()).collect();
    let mut out = vec![];
    for k in keys {
        let vals: Vec<String> = flat
            .iter()
            .map(|m| {
                m.get(k)
                    .map(|v| format!("`{v}`"))
                    .unwrap_or_else(|| "—".into())
            })
            .collect();
        if vals.iter().any(|v| *v != vals[0]) {
            out.push((k.clone(), vals));
        }
    }
    out
}

/// The text of `report.md`.
pub fn report_text(runs: &[RunData], plots: &[(String, String)]) -> String {
    let mut md = String::new();
    let labels: Vec<&str> = runs.iter().map(|r| r.label.as_str()).collect();
    let _ = writeln!(md, "# stickysim compare: {}\n", labels.join(" vs "));

    // What was run.
    let _ = writeln!(
        md,
        "| run | scenario | seed | delivered | run digest |\n| --- | --- | --- | --- | --- |"
    );
    for r in runs {
        let s = &r.summary;
        let seed = s
            .raw
            .get("seed")
            .map(|v| v.to_string())
            .unwrap_or_else(|| "?".into());
        let delivered = r
            .delivered_fraction()
            .map(|f| format!("{}%", format::sig(f * 100.0, 3)))
            .unwrap_or_else(|| "—".into());
        let digest = s
            .str("digest")
            .map(|d| format!("`{}`", &d[..d.len().min(12)]))
            .unwrap_or_else(|| "—".into());
        let _ = writeln!(
            md,
            "| **{}** | `{}` | {seed} | {delivered} | {digest} |",
            esc(&r.label),
            esc(s.str("scenario").unwrap_or("?")),
        );
    }
    md.push('\n');
    let digests: BTreeSet<&str> = runs
        .iter()
        .map(|r| r.summary.str("scenario_digest").unwrap_or(""))
        .collect();
    if digests.len() > 1 {
        let diffs = scenario_differences(runs);
        if diffs.is_empty() {
            let _ = writeln!(
                md,
                "The runs' scenario digests differ: compare each folder's `scenario.toml` for what changed.\n"
            );
        } else {
            let _ = write!(md, "What differs between the scenarios:\n\n| key |");
            for r in runs {
                let _ = write!(md, " {} |", esc(&r.label));
            }
            let _ = write!(md, "\n| --- |");
            for _ in runs {
                md.push_str(" --- |");
            }
            md.push('\n');
            for (k, vals) in diffs {
                let _ = write!(md, "| `{}` |", esc(&k));
                for v in vals {
                    let _ = write!(md, " {} |", esc(&v));
                }
                md.push('\n');
            }
            md.push('\n');
        }
    }
    let unchecked: Vec<&str> = runs
        .iter()
        .filter(|r| r.summary.raw.get("expect_checked") == Some(&Value::Bool(false)))
        .map(|r| r.label.as_str())
        .collect();
    if !unchecked.is_empty() {
        let _ = writeln!(
            md,
            "Claims not checked (`--no-expect`) in: {}.\n",
            unchecked.join(", ")
        );
    }
    let _ = writeln!(
        md,
        "Latency percentiles count delivered pairs only; a run that loses pairs can look fast. Read `delivery.delivered_fraction` (or `delivery.lost`) first.\n"
    );

    // The paired table.
    let names = metric_names(runs);
    let _ = writeln!(md, "## Metrics\n");
    if runs.len() == 2 {
        let (a, b) = (&runs[0], &runs[1]);
        let _ = writeln!(
            md,
            "| metric | {} (A) | {} (B) | B − A | B / A |\n| --- | --: | --: | --: | --: |",
            esc(&a.label),
            esc(&b.label)
        );
        for n in &names {
            let (va, vb) = (a.metrics.get(n).copied(), b.metrics.get(n).copied());
            let (d, q) = match (va, vb) {
                (Some(x), Some(y)) => (
                    format_difference(n, difference(x, y)),
                    format_ratio(ratio(x, y)),
                ),
                _ => ("—".into(), "—".into()),
            };
            let _ = writeln!(
                md,
                "| `{n}` | {} | {} | {d} | {q} |",
                value_cell(n, va),
                value_cell(n, vb)
            );
        }
    } else {
        let _ = write!(md, "| metric |");
        for r in runs {
            let _ = write!(md, " {} |", esc(&r.label));
        }
        let _ = write!(md, "\n| --- |");
        for _ in runs {
            md.push_str(" --: |");
        }
        md.push('\n');
        for n in &names {
            let _ = write!(md, "| `{n}` |");
            for r in runs {
                let _ = write!(md, " {} |", value_cell(n, r.metrics.get(n).copied()));
            }
            md.push('\n');
        }
    }
    md.push_str("\nExact values: `compare.csv`.\n\n## Plots\n\n");
    for (stem, note) in plots {
        let _ = writeln!(md, "![{stem}](plots/{stem}.png)\n");
        if !note.is_empty() {
            let _ = writeln!(md, "{note}\n");
        }
    }
    md
}

/// Delivered latencies and the number of due pairs (lost and pending included) of a run.
/// `Ok(None)` when the run has neither deliveries.csv nor a usable histogram.
pub fn latency_sample(run: &RunData) -> Result<Option<(Vec<f64>, usize)>, String> {
    let mut v = vec![];
    let read = read_csv(
        &run.dir.join("deliveries.csv"),
        &["latency_ms", "path"],
        |_, c| {
            let l = num("latency_ms", c[0])?;
            if let (Some(l), false) = (l, c[1].starts_with("lost") || c[1] == "pending") {
                v.push(l);
            }
            Ok(())
        },
    )?;
    match read {
        Some(rows) => Ok(Some((v, rows))),
        None => Ok(None),
    }
}

/// A step CDF from a summary-mode histogram, over `denominator` due pairs.
fn hist_cdf(run: &RunData, denominator: f64) -> Result<Option<Vec<(f64, f64)>>, String> {
    let Some(h) = run.summary.histogram("delivery.latency_ms")? else {
        return Ok(None);
    };
    if h.total() <= 0.0 || denominator <= 0.0 {
        return Ok(None);
    }
    let mut cum = h.underflow;
    let mut pts = vec![];
    for (lo, hi, c) in &h.buckets {
        if *c <= 0.0 {
            continue;
        }
        if pts.is_empty() {
            pts.push((lo.max(1e-3), cum / denominator));
        }
        cum += c;
        pts.push((*hi, cum / denominator));
    }
    Ok(Some(pts))
}

fn hue(i: usize) -> Hue {
    Hue::Palette(i)
}

/// Latency CDF overlay: one line per run, lost and pending pairs in the denominator, so a
/// line flattens at its run's delivered fraction (carried flat to the right edge).
pub fn latency_overlay(runs: &[RunData]) -> Figure {
    let mut panel = Panel::new(
        Axis::new(
            "latency: sent → applied in recipient's map (log scale)",
            AxisKind::Time,
        )
        .log(),
        Axis::new(
            "share of all due pairs delivered within",
            AxisKind::Fraction,
        )
        .range(Some(0.0), Some(1.0)),
    );
    let mut lines: Vec<(String, Vec<(f64, f64)>)> = vec![];
    let mut notes = vec![];
    for r in runs {
        let (pts, frac, total) = match latency_sample(r) {
            Ok(Some((mut v, rows))) => {
                let n = v.len();
                (
                    cdf_points(&mut v, rows),
                    if rows > 0 {
                        n as f64 / rows as f64
                    } else {
                        0.0
                    },
                    rows as f64,
                )
            }
            Ok(None) => {
                let total = r.metrics.get("delivery.count").copied().unwrap_or(0.0);
                match hist_cdf(r, total) {
                    Ok(Some(p)) => (p, r.delivered_fraction().unwrap_or(0.0), total),
                    Ok(None) => {
                        notes.push(format!("{}: no deliveries.csv or histogram", r.label));
                        continue;
                    }
                    Err(e) => {
                        notes.push(format!("{}: {e}", r.label));
                        continue;
                    }
                }
            }
            Err(e) => {
                notes.push(format!("{}: {e}", r.label));
                continue;
            }
        };
        let label = format!(
            "{}\n{}% delivered of {}",
            r.label,
            format::sig(frac * 100.0, 3),
            format::count(total)
        );
        lines.push((label, pts));
    }
    let x_end = lines
        .iter()
        .flat_map(|l| l.1.iter().map(|p| p.0))
        .filter(|x| x.is_finite() && *x > 0.0)
        .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))))
        .map(|m| m * 1.25);
    let x_start = lines
        .iter()
        .flat_map(|l| l.1.iter().map(|p| p.0))
        .filter(|x| x.is_finite() && *x > 0.0)
        .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.min(x))));
    for (i, (label, mut pts)) in lines.into_iter().enumerate() {
        if pts.is_empty() {
            if let Some(s) = x_start {
                pts.push((s, 0.0));
            }
        }
        let mut marks = vec![];
        if let (Some(&(x, y)), Some(end)) = (pts.last(), x_end) {
            if end > x {
                marks.push(Mark::Line(vec![(x, y), (end, y)]));
            }
        }
        marks.insert(0, Mark::Step(pts));
        panel.series.push(Series::new(label, hue(i), marks));
    }
    panel.x.max = x_end;
    if !panel.has_data() {
        panel.note = Some(if notes.is_empty() {
            "No run delivered anything: there is no latency to plot.".into()
        } else {
            notes.join("; ")
        });
    }
    Figure {
        name: "latency_cdf".into(),
        title: "Delivery latency, all due pairs (CDF)".into(),
        caption: "Lost and pending pairs are in the denominator: a line that stays flat below 100% to the right edge shows the share never delivered (its legend gives the delivered share). Where lines coincide, the later run's is drawn on top.".into(),
        panels: vec![panel],
    }
}

/// Rooms whose live clients' views differ, over time, one line per run.
pub fn convergence_overlay(runs: &[RunData]) -> Figure {
    let mut panel = Panel::new(
        Axis::new("simulated time", AxisKind::Time).range(Some(0.0), None),
        Axis::new("rooms whose live clients disagree", AxisKind::Count).range(Some(0.0), None),
    );
    let mut notes = vec![];
    let mut end: f64 = 0.0;
    for (i, r) in runs.iter().enumerate() {
        let mut at: BTreeMap<i64, f64> = BTreeMap::new();
        let read = read_csv(
            &r.dir.join("convergence.csv"),
            &["t_ms", "distinct_views"],
            |_, c| {
                let t = num("t_ms", c[0])?.ok_or("empty t_ms")?;
                let v = num("distinct_views", c[1])?.unwrap_or(0.0);
                let e = at.entry(t.round() as i64).or_insert(0.0);
                if v > 1.0 {
                    *e += 1.0;
                }
                Ok(())
            },
        );
        match read {
            Ok(Some(_)) if !at.is_empty() => {
                let pts: Vec<(f64, f64)> = at.into_iter().map(|(t, v)| (t as f64, v)).collect();
                end = end.max(pts.last().map(|p| p.0).unwrap_or(0.0));
                let at_end = pts.last().map(|p| p.1).unwrap_or(0.0);
                let label = format!("{}\n{} divergent at end", r.label, format::count(at_end));
                panel
                    .series
                    .push(Series::new(label, hue(i), vec![Mark::Step(pts)]));
            }
            Ok(_) => notes.push(format!("{}: no convergence.csv rows", r.label)),
            Err(e) => notes.push(format!("{}: {e}", r.label)),
        }
    }
    for r in runs {
        if let Some(d) = r.summary.duration_ms() {
            end = end.max(d);
        }
    }
    if end > 0.0 {
        panel.x.max = Some(end);
    }
    if !panel.has_data() {
        panel.note = Some(notes.join("; "));
    }
    Figure {
        name: "convergence".into(),
        title: "Divergent rooms over time".into(),
        caption: "At each sample, the rooms whose live clients hold different sticky maps (0 = every room agrees). Lines that coincide are drawn over each other.".into(),
        panels: vec![panel],
    }
}

/// Cumulative `/send` attempts (top) and 429 answers (bottom), one line per run.
pub fn federation_overlay(runs: &[RunData]) -> Figure {
    let mut top = Panel::new(
        Axis::new("", AxisKind::Time).range(Some(0.0), None),
        Axis::new("attempts so far", AxisKind::Count).range(Some(0.0), None),
    );
    top.title = Some("/send attempts (cumulative)".into());
    let mut bottom = Panel::new(
        Axis::new("simulated time", AxisKind::Time).range(Some(0.0), None),
        Axis::new("429s so far", AxisKind::Count).range(Some(0.0), None),
    );
    bottom.title = Some("429 rate_limited answers (cumulative)".into());
    let mut notes = vec![];
    let mut end: f64 = 0.0;
    for (i, r) in runs.iter().enumerate() {
        let mut times: Vec<(f64, bool)> = vec![];
        let read = read_csv(
            &r.dir.join("federation.csv"),
            &["t_ms", "outcome"],
            |_, c| {
                let t = num("t_ms", c[0])?.ok_or("empty t_ms")?;
                times.push((t, c[1] == "rate_limited"));
                Ok(())
            },
        );
        if let Some(d) = r.summary.duration_ms() {
            end = end.max(d);
        }
        match read {
            Ok(Some(_)) => {
                times.sort_by(|a, b| a.0.total_cmp(&b.0));
                let (mut all, mut limited) = (vec![(0.0, 0.0)], vec![(0.0, 0.0)]);
                let (mut n, mut k) = (0.0, 0.0);
                for (t, rl) in &times {
                    n += 1.0;
                    all.push((*t, n));
                    if *rl {
                        k += 1.0;
                        limited.push((*t, k));
                    }
                }
                let last = times.last().map(|t| t.0).unwrap_or(0.0);
                end = end.max(last);
                let label = format!("{}\n{} attempts, {} 429s", r.label, n, k);
                top.series
                    .push(Series::new(label, hue(i), vec![Mark::Step(all)]));
                bottom.series.push(Series::new(
                    r.label.clone(),
                    hue(i),
                    vec![Mark::Step(limited)],
                ));
            }
            Ok(None) => notes.push(format!("{}: no federation.csv", r.label)),
            Err(e) => notes.push(format!("{}: {e}", r.label)),
        }
    }
    // Carry every line to the end, so a run that stopped sending reads as flat.
    if end > 0.0 {
        for p in [&mut top, &mut bottom] {
            p.x.max = Some(end);
            for s in &mut p.series {
                if let Some(Mark::Step(v)) = s.marks.first_mut() {
                    if let Some(&(x, y)) = v.last() {
                        if x < end {
                            v.push((end, y));
                        }
                    }
                }
            }
        }
    }
    if !top.has_data() {
        top.note = Some(notes.join("; "));
    }
    Figure {
        name: "federation".into(),
        title: "Federation /send attempts".into(),
        caption: "Every /send attempt (retries included) and every 429 answer, counted from the start of the run.".into(),
        panels: vec![top, bottom],
    }
}

/// The overlay figures, in a fixed order.
pub fn figures(runs: &[RunData]) -> Vec<Figure> {
    vec![
        latency_overlay(runs),
        convergence_overlay(runs),
        federation_overlay(runs),
    ]
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

/// `stickysim compare`: exit 0 when written, 2 on a missing or bad run folder.
pub fn compare_cmd(args: &CompareArgs) -> Result<u8> {
    let runs = match load_runs(&args.runs) {
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
