//! The overlay figures of `stickysim compare`: latency CDF over all due pairs, divergent
//! rooms, cumulative `/send` attempts and 429s, and ghost durations.

use super::RunData;
use crate::output::plots::data::{num, read_csv, Histogram};
use crate::output::plots::figure::{
    note_coinciding, Axis, AxisKind, Figure, Hue, Mark, Panel, Series,
};
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

/// A step CDF from a summary-mode histogram, over `denominator` samples.
fn hist_cdf(h: &Histogram, denominator: f64) -> Option<Vec<(f64, f64)>> {
    if h.total() <= 0.0 || denominator <= 0.0 {
        return None;
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
    Some(pts)
}

/// The histograms of several runs added up (the same metric, so the same bucket edges).
fn sum_histograms(hs: &[Histogram]) -> Histogram {
    if let [one] = hs {
        return one.clone();
    }
    let mut buckets: Vec<(f64, f64, f64)> = vec![];
    for (lo, hi, c) in hs.iter().flat_map(|h| h.buckets.iter()) {
        match buckets.iter_mut().find(|b| b.0 == *lo && b.1 == *hi) {
            Some(b) => b.2 += c,
            None => buckets.push((*lo, *hi, *c)),
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    Histogram {
        buckets,
        underflow: hs.iter().map(|h| h.underflow).sum(),
        overflow: hs.iter().map(|h| h.overflow).sum(),
    }
}

/// What a caption adds when sweep points are pooled: `what` with the number of seeds
/// (`" A sweep point's line pools every pair of its 5 seeds."`), nothing for runs.
fn pooled_note(runs: &[RunData], what: &str) -> String {
    match runs.iter().find_map(|r| r.pool.as_ref()) {
        Some(p) => format!(" A sweep point's line {what} its {} seeds.", p.seeds.len()),
        None => String::new(),
    }
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
        let (pts, frac, total) =
            match run_cdf(r, latency_sample, "delivery.latency_ms", RunData::due_pairs) {
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
        caption: format!(
            "Lost and pending pairs are in the denominator: a line that stays flat below 100% to the right edge shows the share never delivered (its legend gives the delivered share). Lines that are the same share one legend entry (A = B); where lines meet only in part, the later run's is drawn on top.{}",
            pooled_note(runs, "pools every pair of")
        ),
        panels: vec![panel],
    }
}

/// A CDF's points, the cases it reaches and the cases in all.
type RunCdf = (Vec<(f64, f64)>, f64, f64);

/// Exact values of one run (the values reached and the number of rows, every case), `None`
/// without the CSV.
type Exact = Result<Option<(Vec<f64>, usize)>, String>;

/// A run's CDF over all its cases, every seed of a pooled point together: from the exact
/// values (`exact`) when every run has the CSV, else from the summary-mode histograms
/// `hist` added up, over the cases `cases` gives for each run (all, reached). Returns the
/// points, the cases reached and the cases in all.
fn run_cdf(
    r: &RunData,
    exact: impl Fn(&RunData) -> Exact,
    hist: &str,
    cases: impl Fn(&RunData) -> (f64, f64),
) -> Result<RunCdf, String> {
    let members = r.members();
    let (mut values, mut rows, mut all_exact) = (vec![], 0, true);
    for m in &members {
        match exact(m)? {
            Some((v, n)) => {
                values.extend(v);
                rows += n;
            }
            None => all_exact = false,
        }
    }
    if all_exact {
        let n = values.len() as f64;
        return Ok((cdf_points(&mut values, rows), n, rows as f64));
    }
    let mut hs = vec![];
    let (mut total, mut reached) = (0.0, 0.0);
    for m in &members {
        match m.summary.histogram(hist)? {
            Some(h) => hs.push(h),
            None => return Err(format!("no CSV or `{hist}` histogram")),
        }
        let (t, re) = cases(m);
        total += t;
        reached += re;
    }
    match hist_cdf(&sum_histograms(&hs), total) {
        Some(p) => Ok((p, reached, total)),
        None => Err(format!("no CSV or `{hist}` histogram")),
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

/// A run's rooms whose live clients disagree, per sample of convergence.csv.
fn divergent_rooms(m: &RunData) -> Result<Vec<(f64, f64)>, String> {
    let mut at: BTreeMap<i64, f64> = BTreeMap::new();
    let read = read_csv(
        &m.dir.join("convergence.csv"),
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
    )?;
    if read.is_none() || at.is_empty() {
        return Err("no convergence.csv rows".into());
    }
    Ok(at.into_iter().map(|(t, v)| (t as f64, v)).collect())
}

/// The mean of step functions (each 0 before its first point), at every time one of them
/// steps.
fn mean_steps(lines: &[Vec<(f64, f64)>]) -> Vec<(f64, f64)> {
    if let [one] = lines {
        return one.clone();
    }
    let mut times: Vec<f64> = lines.iter().flatten().map(|p| p.0).collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let k = lines.len().max(1) as f64;
    let mut next = vec![0usize; lines.len()];
    let mut out = vec![];
    for t in times {
        let mut sum = 0.0;
        for (line, i) in lines.iter().zip(next.iter_mut()) {
            while *i < line.len() && line[*i].0 <= t {
                *i += 1;
            }
            if *i > 0 {
                sum += line[*i - 1].1;
            }
        }
        out.push((t, sum / k));
    }
    out
}

/// Rooms whose live clients' views differ, over time, one line per run (a pooled point:
/// the mean over its seeds).
pub fn convergence_overlay(runs: &[RunData]) -> Figure {
    let mut panel = Panel::new(
        Axis::new("simulated time", AxisKind::Time).range(Some(0.0), None),
        Axis::new("rooms whose live clients disagree", AxisKind::Count).range(Some(0.0), None),
    );
    let mut notes = vec![];
    let mut end: f64 = 0.0;
    for (i, r) in runs.iter().enumerate() {
        let lines: Result<Vec<_>, String> = r.members().into_iter().map(divergent_rooms).collect();
        match lines {
            Ok(lines) => {
                let pts = mean_steps(&lines);
                end = end.max(pts.last().map(|p| p.0).unwrap_or(0.0));
                let at_end = pts.last().map(|p| p.1).unwrap_or(0.0);
                let label = format!("{}\n{} divergent at end", r.label, format::count(at_end));
                panel
                    .series
                    .push(Series::new(label, hue(i), vec![Mark::Step(pts)]));
            }
            Err(e) => notes.push(format!("{}: {e}", r.label)),
        }
    }
    for m in runs.iter().flat_map(RunData::members) {
        if let Some(d) = m.summary.duration_ms() {
            end = end.max(d);
        }
    }
    if end > 0.0 {
        panel.x.max = Some(end);
    }
    if !panel.has_data() {
        panel.note = Some(notes.join("; "));
    }
    let pooled = pooled_note(runs, "is the mean over");
    Figure {
        name: "convergence".into(),
        title: "Divergent rooms over time".into(),
        caption: format!("At each sample, the rooms whose live clients hold different sticky maps (0 = every room agrees). Lines that are the same share one legend entry (A = B).{pooled}"),
        panels: vec![panel],
    }
}

/// Cumulative `/send` attempts (top) and 429 answers (bottom), one line per run (a pooled
/// point: the mean per seed, each seed's attempt counting 1 / seeds).
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
        let members = r.members();
        let mut times: Vec<(f64, bool)> = vec![];
        let mut problem = None;
        for m in &members {
            let read = read_csv(
                &m.dir.join("federation.csv"),
                &["t_ms", "outcome"],
                |_, c| {
                    let t = num("t_ms", c[0])?.ok_or("empty t_ms")?;
                    times.push((t, c[1] == "rate_limited"));
                    Ok(())
                },
            );
            if let Some(d) = m.summary.duration_ms() {
                end = end.max(d);
            }
            match read {
                Ok(Some(_)) => {}
                Ok(None) => problem = Some("no federation.csv".to_string()),
                Err(e) => problem = Some(e),
            }
        }
        if let Some(e) = problem {
            notes.push(format!("{}: {e}", r.label));
            continue;
        }
        times.sort_by(|a, b| a.0.total_cmp(&b.0));
        let w = 1.0 / members.len().max(1) as f64;
        let (mut all, mut limited) = (vec![(0.0, 0.0)], vec![(0.0, 0.0)]);
        let (mut n, mut k) = (0.0, 0.0);
        for (t, rl) in &times {
            n += w;
            all.push((*t, n));
            if *rl {
                k += w;
                limited.push((*t, k));
            }
        }
        let last = times.last().map(|t| t.0).unwrap_or(0.0);
        end = end.max(last);
        let label = format!(
            "{}\n{} attempts, {} 429s",
            r.label,
            format::count(n),
            format::count(k)
        );
        top.series
            .push(Series::new(label, hue(i), vec![Mark::Step(all)]));
        bottom.series.push(Series::new(
            r.label.clone(),
            hue(i),
            vec![Mark::Step(limited)],
        ));
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
        caption: format!(
            "Every /send attempt (retries included) and every 429 answer, counted from the start of the run. Lines that are the same share one legend entry (A = B).{}",
            pooled_note(runs, "is the mean per seed of")
        ),
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
    // Runs whose lines are the same (two policies with the same 429s, say) are named
    // together in one legend entry, as in the run charts, instead of one hiding the other.
    for p in figs.iter_mut().flat_map(|f| f.panels.iter_mut()) {
        note_coinciding(&mut p.series);
    }
    figs
}

/// Whether a MatrixRTC participant of the run (of any seed of a pooled point) crashed
/// (`rtc.crashes` > 0).
pub fn has_crashes(r: &RunData) -> bool {
    r.members()
        .iter()
        .any(|m| m.metrics.get("rtc.crashes").is_some_and(|c| *c > 0.0))
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
        let ghosts = |m: &RunData| -> Exact {
            let mut v = vec![];
            let read = read_csv(&m.dir.join("ghosts.csv"), &["ghost_ms"], |_, c| {
                if let Some(g) = num("ghost_ms", c[0])? {
                    v.push(g);
                }
                Ok(())
            });
            read.map(|rows| rows.map(|rows| (v, rows)))
        };
        let crashes = |m: &RunData| {
            let metric = |k: &str| m.metrics.get(k).copied().unwrap_or(0.0);
            let crashes = metric("rtc.crashes");
            (crashes, crashes - metric("rtc.ghosts_at_end"))
        };
        let (pts, gone, crashes) = match run_cdf(r, ghosts, "rtc.ghost_ms", crashes) {
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
            "Every crash is in the denominator: a line flat below 100% to the right edge shows participants still visible when the run ended (the legend counts them). Lines that are the same share one legend entry (A = B); where lines meet only in part, the later run's is drawn on top.{}{}",
            pooled_note(runs, "pools every crash of"),
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

    #[test]
    fn federation_lines_that_are_the_same_share_one_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let csv = "t_ms,outcome\n100,ok\n200,rate_limited\n";
        let mut runs = vec![];
        for (name, ts) in [("A", csv), ("B", csv), ("C", "t_ms,outcome\n100,ok\n")] {
            let dir = tmp.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("summary.json"), r#"{"metrics": {}}"#).unwrap();
            std::fs::write(dir.join("federation.csv"), ts).unwrap();
            let mut r = RunData::load(&dir).unwrap();
            r.label = name.into();
            runs.push(r);
        }
        let figs = figures(&runs);
        let fed = figs.iter().find(|f| f.name == "federation").unwrap();
        let names = |i: usize| -> Vec<String> {
            fed.panels[i]
                .series
                .iter()
                .map(|s| s.name.clone())
                .collect()
        };
        // A and B: 2 attempts, one 429 at 200 ms; C: 1 attempt, no 429.
        assert_eq!(
            names(0),
            vec!["A = B\n2 attempts, 1 429s", "C\n1 attempts, 0 429s"]
        );
        assert_eq!(names(1), vec!["A = B", "C"]);
    }

    #[test]
    fn summary_mode_seeds_add_their_histograms() {
        let tmp = tempfile::tempdir().unwrap();
        let seed = |name: &str, hist: &str, count: u32, lost: u32| {
            let dir = tmp.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let summary = format!(
                r#"{{"metrics": {{"delivery.count": {count}, "delivery.lost": {lost}}},
                    "histograms": {{"delivery.latency_ms": {hist}}}}}"#
            );
            std::fs::write(dir.join("summary.json"), summary).unwrap();
            RunData::load(&dir).unwrap()
        };
        // Seed 1: 2 pairs in [10, 20) ms of 3 due (1 lost); seed 2: one in [10, 20) and one
        // in [20, 40) of 2.
        let a = seed("a", r#"{"buckets": [[10, 20, 2]]}"#, 3, 1);
        let b = seed("b", r#"{"buckets": [[10, 20, 1], [20, 40, 1]]}"#, 2, 0);
        let mut p = a.clone();
        p.label = "p".into();
        p.pool = Some(crate::output::compare::Pool {
            seeds: vec![1, 2],
            runs: vec![a, b],
            n: BTreeMap::new(),
        });
        let fig = latency_overlay(&[p.clone(), p]);
        // Together 3 in [10, 20) and 1 in [20, 40) of 5 due: 3/5 by 20 ms, 4/5 by 40 ms.
        let s = &fig.panels[0].series[0];
        assert_eq!(
            s.marks[0],
            Mark::Step(vec![(10.0, 0.0), (20.0, 0.6), (40.0, 0.8)])
        );
        assert_eq!(s.name, "p\n80% delivered of 5");
    }
}
