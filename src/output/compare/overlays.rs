//! The overlay figures of `stickysim compare`: latency CDF over all due pairs, divergent
//! rooms, cumulative `/send` attempts and 429s, and ghost durations.

use super::RunData;
use crate::output::plots::data::{num, read_csv};
use crate::output::plots::figure::{Axis, AxisKind, Figure, Hue, Mark, Panel, Series};
use crate::output::plots::{cdf_points, format};
use std::collections::BTreeMap;

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

/// A step CDF from a summary-mode histogram (`name`), over `denominator` samples.
fn hist_cdf(
    run: &RunData,
    name: &str,
    denominator: f64,
) -> Result<Option<Vec<(f64, f64)>>, String> {
    let Some(h) = run.summary.histogram(name)? else {
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
        // Every due pair: `delivery.count` (delivered + lost) and the pending ones.
        let metric = |k: &str| r.metrics.get(k).copied().unwrap_or(0.0);
        let total = metric("delivery.count") + metric("delivery.pending_at_end");
        let reached = r.delivered_fraction().unwrap_or(0.0) * total;
        let (pts, frac, total) =
            match run_cdf(r, latency_sample(r), "delivery.latency_ms", total, reached) {
                Ok((pts, reached, total)) => {
                    (pts, if total > 0.0 { reached / total } else { 0.0 }, total)
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
    finish_cdf(
        &mut panel,
        lines,
        &notes,
        "No run delivered anything: there is no latency to plot.",
    );
    Figure {
        name: "latency_cdf".into(),
        title: "Delivery latency, all due pairs (CDF)".into(),
        caption: "Lost and pending pairs are in the denominator: a line that stays flat below 100% to the right edge shows the share never delivered (its legend gives the delivered share). Where lines coincide, the later run's is drawn on top.".into(),
        panels: vec![panel],
    }
}

/// A CDF's points, the cases it reaches and the cases in all.
type RunCdf = (Vec<(f64, f64)>, f64, f64);

/// A run's CDF over all its cases: from exact values (`exact`: the values reached and the
/// number of rows, every case) when the run has the CSV, else from the summary-mode
/// histogram `hist` over `total` cases, `reached` of which are in it. Returns the points,
/// the cases reached and the cases in all.
fn run_cdf(
    r: &RunData,
    exact: Result<Option<(Vec<f64>, usize)>, String>,
    hist: &str,
    total: f64,
    reached: f64,
) -> Result<RunCdf, String> {
    match exact? {
        Some((mut v, rows)) => {
            let n = v.len() as f64;
            Ok((cdf_points(&mut v, rows), n, rows as f64))
        }
        None => match hist_cdf(r, hist, total)? {
            Some(p) => Ok((p, reached, total)),
            None => Err(format!("no CSV or `{hist}` histogram")),
        },
    }
}

/// Finishes a CDF panel: each line carried flat to 1.25 × the largest x (a line that stops
/// below 100% reads as the share never reached), an empty line drawn as 0 at the smallest
/// x, the legend in run order; the note when nothing is drawn.
fn finish_cdf(
    panel: &mut Panel,
    lines: Vec<(String, Vec<(f64, f64)>)>,
    notes: &[String],
    nothing: &str,
) {
    let xs = || {
        lines
            .iter()
            .flat_map(|l| l.1.iter().map(|p| p.0))
            .filter(|x| x.is_finite() && *x > 0.0)
    };
    let x_end = xs().fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))));
    let x_end = x_end.map(|m| m * 1.25);
    let x_start = xs().fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.min(x))));
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
            nothing.to_string()
        } else {
            notes.join("; ")
        });
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
    let mut figs = vec![
        latency_overlay(runs),
        convergence_overlay(runs),
        federation_overlay(runs),
    ];
    // Only when there is something to draw: the report says why it is missing otherwise.
    if runs.iter().any(has_crashes) {
        figs.push(ghosts_overlay(runs));
    }
    figs
}

/// Whether a MatrixRTC participant of the run crashed (`rtc.crashes` > 0).
pub fn has_crashes(r: &RunData) -> bool {
    r.metrics.get("rtc.crashes").is_some_and(|c| *c > 0.0)
}

/// Ghost durations of crashed MatrixRTC participants (crash → no live client shows them)
/// as a CDF over every crash, one line per run: a crash that never disappeared is in the
/// denominator, so a line flat below 100% shows ghosts left at the end. From `ghosts.csv`,
/// or the `rtc.ghost_ms` histogram in summary mode (crashes from `rtc.crashes`).
pub fn ghosts_overlay(runs: &[RunData]) -> Figure {
    let mut panel = Panel::new(
        Axis::new(
            "ghost duration: crash → gone from every live client (log scale)",
            AxisKind::Time,
        )
        .log(),
        Axis::new(
            "share of crashed participants gone within",
            AxisKind::Fraction,
        )
        .range(Some(0.0), Some(1.0)),
    );
    let mut notes = vec![];
    let mut quiet: Vec<String> = vec![];
    let mut lines: Vec<(String, Vec<(f64, f64)>)> = vec![];
    for r in runs {
        if !has_crashes(r) {
            quiet.push(r.label.clone());
            continue;
        }
        let mut v = vec![];
        let read = read_csv(&r.dir.join("ghosts.csv"), &["ghost_ms"], |_, c| {
            if let Some(g) = num("ghost_ms", c[0])? {
                v.push(g);
            }
            Ok(())
        });
        let crashes = r.metrics.get("rtc.crashes").copied().unwrap_or(0.0);
        let gone = crashes - r.metrics.get("rtc.ghosts_at_end").copied().unwrap_or(0.0);
        let exact = read.map(|rows| rows.map(|rows| (v, rows)));
        let (pts, gone, crashes) = match run_cdf(r, exact, "rtc.ghost_ms", crashes, gone) {
            Ok(x) => x,
            Err(e) => {
                notes.push(format!("{}: {e}", r.label));
                continue;
            }
        };
        if crashes <= 0.0 {
            quiet.push(r.label.clone());
            continue;
        }
        let label = format!(
            "{}\n{} of {} crashes gone",
            r.label,
            format::count(gone),
            format::count(crashes)
        );
        lines.push((label, pts));
    }
    finish_cdf(
        &mut panel,
        lines,
        &notes,
        "No run has a crashed MatrixRTC participant: no ghosts to plot.",
    );
    Figure {
        name: "ghosts".into(),
        title: "MatrixRTC ghosts: time a crashed participant stayed visible (CDF)".into(),
        caption: format!(
            "Every crash is in the denominator: a line flat below 100% to the right edge shows participants still visible when the run ended (the legend counts them). Where lines coincide, the later run's is drawn on top.{}",
            if quiet.is_empty() {
                String::new()
            } else {
                format!(" No crash, so no line: {}.", quiet.join(", "))
            }
        ),
        panels: vec![panel],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &std::path::Path, label: &str, crashes: u32, ghosts: Option<&str>) -> RunData {
        std::fs::create_dir_all(dir).unwrap();
        let summary = format!(r#"{{"metrics": {{"rtc.crashes": {crashes}}}}}"#);
        std::fs::write(dir.join("summary.json"), summary).unwrap();
        if let Some(csv) = ghosts {
            std::fs::write(dir.join("ghosts.csv"), csv).unwrap();
        }
        let mut r = RunData::load(dir).unwrap();
        r.label = label.into();
        r
    }

    #[test]
    fn ghosts_cdf_counts_every_crash() {
        let tmp = tempfile::tempdir().unwrap();
        // Three crashes: gone after 1 s and 3 s, one never gone -> the line ends at 2/3.
        let csv = "participant,room,crash_ms,gone_ms,ghost_ms\n\
                   a,r,0.000,1000.000,1000.000\nb,r,0.000,3000.000,3000.000\nc,r,5.000,,\n";
        let a = run(&tmp.path().join("a"), "A", 3, Some(csv));
        let b = run(&tmp.path().join("b"), "B", 0, None);
        let fig = ghosts_overlay(&[a.clone(), b.clone()]);
        let p = &fig.panels[0];
        assert_eq!(p.series.len(), 1);
        assert_eq!(p.series[0].name, "A\n2 of 3 crashes gone");
        let Mark::Step(pts) = &p.series[0].marks[0] else {
            panic!("a step line")
        };
        assert_eq!(pts.last().copied(), Some((3000.0, 2.0 / 3.0)));
        // Carried flat to 1.25 x the largest duration.
        assert_eq!(
            p.series[0].marks[1],
            Mark::Line(vec![(3000.0, 2.0 / 3.0), (3750.0, 2.0 / 3.0)])
        );
        assert!(fig.caption.ends_with("No crash, so no line: B."));
        // No crash anywhere: no ghosts chart at all.
        assert!(figures(&[b.clone(), b]).iter().all(|f| f.name != "ghosts"));
        assert!(figures(&[a.clone(), a]).iter().any(|f| f.name == "ghosts"));
    }
}
