//! The five plots of a run folder, as [`Figure`]s computed from its CSVs and summary.json.
//! Each builder never fails: a missing or malformed input becomes a note on an empty chart.

use super::data::{num, read_csv, Fault, Histogram, Summary};
use super::figure::{
    cap_series, Axis, AxisKind, Figure, Hue, Mark, Markers, Panel, Series, Shade, LEGEND_CAP_SMALL,
};
use super::format;
use std::collections::BTreeMap;
use std::path::Path;

/// Most points a line keeps; longer series are thinned evenly (first and last kept).
const MAX_POINTS: usize = 1500;

/// Up to this many rooms get a line each in `convergence`; more are summarised.
pub const ROOM_LINES: usize = 7;

/// Paths and policies get a fixed colour, so the same line has the same colour in every run.
const PATH_ORDER: [&str; 5] = ["direct", "retry", "catch_up", "join_push", "transitive"];
const POLICY_ORDER: [&str; 4] = ["reject_429", "accept_drop", "defer", "unlimited"];

fn fixed_hue(order: &[&str], name: &str, extra: &mut usize) -> Hue {
    match order.iter().position(|p| *p == name) {
        Some(i) => Hue::Palette(i),
        None => {
            *extra += 1;
            Hue::Palette(order.len() + *extra - 1)
        }
    }
}

fn sort_by_order(names: &mut [String], order: &[&str]) {
    names.sort_by_key(|n| {
        (
            order.iter().position(|p| p == n).unwrap_or(order.len()),
            n.clone(),
        )
    });
}

struct Ctx {
    summary: Option<Summary>,
    /// Why summary.json could not be read, if it exists but is broken.
    summary_err: Option<String>,
}

impl Ctx {
    fn load(dir: &Path) -> Ctx {
        match Summary::load(dir) {
            Ok(summary) => Ctx {
                summary,
                summary_err: None,
            },
            Err(e) => Ctx {
                summary: None,
                summary_err: Some(e),
            },
        }
    }
    fn duration_ms(&self) -> Option<f64> {
        self.summary.as_ref().and_then(Summary::duration_ms)
    }
    fn faults(&self) -> Vec<Fault> {
        self.summary
            .as_ref()
            .map(Summary::faults)
            .unwrap_or_default()
    }
    fn metric(&self, name: &str) -> Option<f64> {
        self.summary.as_ref().and_then(|s| s.metric(name))
    }
    fn caption_suffix(&self) -> String {
        match &self.summary_err {
            Some(e) => format!(" (annotations unavailable: {e})"),
            None => String::new(),
        }
    }
    fn shades(&self, end_ms: Option<f64>, labelled: bool) -> Vec<Shade> {
        self.faults()
            .into_iter()
            .map(|f| Shade {
                from: f.from_ms,
                to: f.to_ms.or(end_ms).unwrap_or(f.from_ms),
                label: if labelled { f.label() } else { String::new() },
            })
            .collect()
    }
}

/// Evenly thins a sorted series to at most `MAX_POINTS`, keeping the first and last.
fn thin(v: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if v.len() <= MAX_POINTS {
        return v;
    }
    let n = v.len();
    let mut out: Vec<(f64, f64)> = (0..MAX_POINTS - 1)
        .map(|i| v[i * (n - 1) / (MAX_POINTS - 1)])
        .collect();
    out.push(v[n - 1]);
    out
}

/// Keeps only the points where a step function changes, plus the last one.
fn change_points(v: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = vec![];
    for (i, p) in v.iter().enumerate() {
        if out.last().map(|l| l.1 != p.1).unwrap_or(true) || i + 1 == v.len() {
            out.push(*p);
        }
    }
    out
}

/// The empirical CDF of `values` as step points (x, fraction ≤ x), with `denominator`
/// pairs in all (≥ values.len(): lost pairs keep the line below 100%).
pub fn cdf_points(values: &mut [f64], denominator: usize) -> Vec<(f64, f64)> {
    values.sort_by(f64::total_cmp);
    if values.is_empty() || denominator == 0 {
        return vec![];
    }
    let d = denominator as f64;
    let mut pts = vec![(values[0], 0.0)];
    for (i, v) in values.iter().enumerate() {
        if i + 1 == values.len() || values[i + 1] != *v {
            pts.push((*v, (i + 1) as f64 / d));
        }
    }
    thin(pts)
}

/// A round bin width (ms) giving at most `max_bins` bins over `span_ms`.
pub fn bin_width_ms(span_ms: f64, max_bins: usize) -> f64 {
    const STEPS: [f64; 27] = [
        1.0,
        2.0,
        5.0,
        10.0,
        20.0,
        50.0,
        100.0,
        200.0,
        500.0,
        1_000.0,
        2_000.0,
        5_000.0,
        10_000.0,
        15_000.0,
        30_000.0,
        60_000.0,
        120_000.0,
        300_000.0,
        600_000.0,
        900_000.0,
        1_800_000.0,
        3_600_000.0,
        7_200_000.0,
        21_600_000.0,
        43_200_000.0,
        86_400_000.0,
        604_800_000.0,
    ];
    let raw = span_ms / max_bins.max(1) as f64;
    STEPS
        .iter()
        .copied()
        .find(|s| *s >= raw)
        .unwrap_or(raw.max(1.0))
}

fn time_axis(end: Option<f64>) -> Axis {
    Axis::new("simulated time", AxisKind::Time).range(Some(0.0), end)
}

// ---------------------------------------------------------------- latency_cdf

/// Delivery latency CDF: one line per path, or per recipient server policy when the
/// servers' policies differ; from the summary histogram in summary mode.
pub fn latency_cdf_figure(dir: &Path) -> Figure {
    let ctx = Ctx::load(dir);
    let policies: BTreeMap<String, String> = ctx
        .summary
        .as_ref()
        .map(Summary::server_policies)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let distinct: std::collections::BTreeSet<&String> = policies.values().collect();
    let by_policy = distinct.len() > 1;

    let mut panel = Panel::new(
        Axis::new(
            "latency: sent → applied in recipient's map (log scale)",
            AxisKind::Time,
        )
        .log(),
        Axis::new("pairs delivered within", AxisKind::Fraction).range(Some(0.0), Some(1.0)),
    );
    let mut groups: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut lost: BTreeMap<String, usize> = BTreeMap::new();
    let mut lost_total = 0usize;
    let read = read_csv(
        &dir.join("deliveries.csv"),
        &["latency_ms", "path", "recipient_server"],
        |_, c| {
            let latency = num("latency_ms", c[0])?;
            let key = if by_policy {
                policies
                    .get(c[2])
                    .cloned()
                    .unwrap_or_else(|| "unknown policy".into())
            } else {
                c[1].to_string()
            };
            match latency {
                Some(l) if c[1] != "lost" => groups.entry(key).or_default().push(l),
                _ => {
                    lost_total += 1;
                    *lost.entry(key).or_default() += 1;
                }
            }
            Ok(())
        },
    );
    let title = "Delivery latency of sticky events (CDF)".to_string();
    let caption;
    match read {
        Ok(Some(rows)) => {
            let mut names: Vec<String> = groups.keys().cloned().collect();
            if by_policy {
                // A policy whose every pair was lost still gets its line (flat at 0%).
                for k in lost.keys() {
                    if !groups.contains_key(k) && groups.values().any(|v| !v.is_empty()) {
                        names.push(k.clone());
                    }
                }
            }
            let order: &[&str] = if by_policy {
                &POLICY_ORDER
            } else {
                &PATH_ORDER
            };
            sort_by_order(&mut names, order);
            // Where the axis ends (the renderer's own headroom, fixed here so lines that
            // end below 100% can be carried flat to it: a lost pair never arrives, so the
            // share delivered within any longer time stays where the line ended).
            let x_end = groups
                .values()
                .flat_map(|v| v.iter().copied())
                .filter(|v| v.is_finite() && *v > 0.0)
                .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))))
                .map(|m| m * 1.25);
            let x_start = groups
                .values()
                .flat_map(|v| v.iter().copied())
                .filter(|v| v.is_finite() && *v > 0.0)
                .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.min(v))));
            let mut extra = 0;
            for name in names {
                let mut v = groups.remove(&name).unwrap_or_default();
                let n = v.len();
                let l = if by_policy {
                    lost.get(&name).copied().unwrap_or(0)
                } else {
                    0
                };
                let hue = fixed_hue(order, &name, &mut extra);
                let label = if by_policy {
                    format!(
                        "{name}\n{} delivered, {} lost",
                        format::count(n as f64),
                        format::count(l as f64)
                    )
                } else {
                    format!("{name}\n{} delivered", format::count(n as f64))
                };
                let mut pts = cdf_points(&mut v, n + l);
                if pts.is_empty() {
                    if let Some(start) = x_start {
                        pts.push((start, 0.0));
                    }
                }
                let mut marks = vec![];
                if let (Some(&(x, y)), Some(end), true) = (pts.last(), x_end, l > 0) {
                    if end > x {
                        marks.push(Mark::Line(vec![(x, y), (end, y)]));
                    }
                }
                marks.insert(0, Mark::Step(pts));
                panel.series.push(Series::new(label, hue, marks));
            }
            if rows == 0 {
                panel.note = Some(
                    "deliveries.csv has no rows: no sticky event had a recipient in this run."
                        .into(),
                );
            } else if !panel.has_data() {
                panel.note = Some(format!(
                    "All {} pairs were lost: nothing was delivered, so there is no latency to plot.",
                    format::count(lost_total as f64)
                ));
            }
            if by_policy && lost.values().any(|l| *l > 0) {
                panel.x.max = x_end;
            }
            caption = if by_policy {
                "One line per inbound policy of the recipient's server (servers differ in policy); each line counts its lost pairs, so a line that stays below 100% to the right edge shows loss.".to_string()
            } else {
                format!(
                    "One line per delivery path. {} lost pair(s) never arrived and are in no line.",
                    format::count(lost_total as f64)
                )
            };
        }
        Ok(None) => {
            let hist = ctx
                .summary
                .as_ref()
                .map(|s| s.histogram("delivery.latency_ms"))
                .unwrap_or(Ok(None));
            match hist {
                Ok(Some(h)) if h.total() > 0.0 => {
                    let total = h.total();
                    // Leading and trailing empty buckets say nothing; the axis fits the data.
                    let h = Histogram {
                        buckets: match (
                            h.buckets.iter().position(|b| b.2 > 0.0),
                            h.buckets.iter().rposition(|b| b.2 > 0.0),
                        ) {
                            (Some(a), Some(b)) => h.buckets[a..=b].to_vec(),
                            _ => h.buckets.clone(),
                        },
                        ..h
                    };
                    let mut cum = h.underflow;
                    let mut pts = vec![];
                    if let Some(first) = h.buckets.first() {
                        pts.push((first.0, cum / total));
                    }
                    for (_, hi, c) in &h.buckets {
                        cum += c;
                        pts.push((*hi, cum / total));
                    }
                    panel.series.push(Series::new(
                        format!("all paths\n{} pairs", format::count(total)),
                        Hue::Palette(0),
                        vec![Mark::Line(thin(pts))],
                    ));
                    caption = "Summary mode (no deliveries.csv): drawn from the delivery.latency_ms histogram, so the resolution is one bucket; paths are not told apart.".into();
                }
                Ok(Some(_)) => {
                    panel.note = Some("The delivery.latency_ms histogram in summary.json is empty: nothing was delivered.".into());
                    caption = "Summary mode (no deliveries.csv).".into();
                }
                Ok(None) => {
                    panel.note = Some("No deliveries.csv in this folder, and summary.json has no delivery.latency_ms histogram.".into());
                    caption = String::new();
                }
                Err(e) => {
                    panel.note = Some(e);
                    caption = String::new();
                }
            }
        }
        Err(e) => {
            panel.note = Some(format!("Cannot read deliveries: {e}"));
            caption = String::new();
        }
    }
    Figure {
        name: "latency_cdf".into(),
        title,
        caption: caption + &ctx.caption_suffix(),
        panels: vec![panel],
    }
}

// ---------------------------------------------------------------- spam_window

/// Inactionable sticky events per sync response, binned over time, leaves marked.
pub fn spam_window_figure(dir: &Path) -> Figure {
    let ctx = Ctx::load(dir);
    let mut rows: Vec<(f64, f64)> = vec![];
    let read = read_csv(
        &dir.join("syncs.csv"),
        &["t_ms", "inactionable_sticky"],
        |_, c| {
            let t = num("t_ms", c[0])?.ok_or("empty t_ms")?;
            let n = num("inactionable_sticky", c[1])?.unwrap_or(0.0);
            rows.push((t, n));
            Ok(())
        },
    );
    let end = ctx.duration_ms().or_else(|| {
        rows.iter()
            .map(|r| r.0)
            .fold(None, |a: Option<f64>, t| Some(a.map_or(t, |a| a.max(t))))
    });
    let width = bin_width_ms(end.unwrap_or(1.0), 150);
    let mut panel = Panel::new(
        time_axis(end),
        Axis::new("inactionable sticky events", AxisKind::Count).range(Some(0.0), None),
    );
    panel.markers = Markers {
        label: "sticky leave sent".into(),
        at: ctx
            .summary
            .as_ref()
            .map(|s| s.times("leaves_ms"))
            .unwrap_or_default(),
    };
    let mut caption = format!(
        "Per {} bin: the mean and the largest count of inactionable sticky events (tombstones for keys never seen active, or superseded events) in one /sync response; bins with no response count as 0.",
        format::duration_ms(width)
    );
    match read {
        Ok(Some(_)) if !rows.is_empty() => {
            let last = end
                .unwrap_or(0.0)
                .max(rows.iter().map(|r| r.0).fold(0.0, f64::max));
            let nbins = ((last / width).ceil() as usize).clamp(1, 100_000);
            let mut sum = vec![0.0; nbins];
            let mut cnt = vec![0usize; nbins];
            let mut max = vec![0.0f64; nbins];
            for (t, n) in &rows {
                let b = ((t.max(0.0) / width) as usize).min(nbins - 1);
                sum[b] += n;
                cnt[b] += 1;
                max[b] = max[b].max(*n);
            }
            let mean: Vec<(f64, f64)> = (0..nbins)
                .map(|b| {
                    (
                        b as f64 * width,
                        if cnt[b] > 0 {
                            sum[b] / cnt[b] as f64
                        } else {
                            0.0
                        },
                    )
                })
                .collect();
            let maxs: Vec<(f64, f64)> = (0..nbins).map(|b| (b as f64 * width, max[b])).collect();
            let close = |mut v: Vec<(f64, f64)>| {
                if let Some(l) = v.last().copied() {
                    v.push((l.0 + width, l.1));
                }
                v
            };
            panel.series.push(Series::new(
                "largest in one response",
                Hue::Palette(3),
                vec![Mark::Step(close(maxs))],
            ));
            panel.series.push(Series::new(
                "mean per response",
                Hue::Palette(0),
                vec![Mark::Step(close(mean))],
            ));
            if rows.iter().all(|r| r.1 == 0.0) {
                caption =
                    "No /sync response carried an inactionable sticky event in this run.".into();
            } else if let Some(w) = ctx.metric("spam.window_ms") {
                caption.push_str(&format!(" spam.window_ms = {}.", format::duration_ms(w)));
            }
        }
        Ok(Some(_)) => {
            panel.note = Some("syncs.csv has no rows: no client received a /sync response.".into())
        }
        Ok(None) => {
            panel.note = Some("No syncs.csv in this folder (not written in summary mode).".into())
        }
        Err(e) => panel.note = Some(format!("Cannot read sync responses: {e}")),
    }
    Figure {
        name: "spam_window".into(),
        title: "Inactionable sticky events per /sync response".into(),
        caption: caption + &ctx.caption_suffix(),
        panels: vec![panel],
    }
}

// ---------------------------------------------------------------- convergence

/// Distinct views per room over time (1 = every live client agrees), faults shaded.
pub fn convergence_figure(dir: &Path) -> Figure {
    let ctx = Ctx::load(dir);
    let mut rooms: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let read = read_csv(
        &dir.join("convergence.csv"),
        &["t_ms", "room", "distinct_views"],
        |_, c| {
            let t = num("t_ms", c[0])?.ok_or("empty t_ms")?;
            let v = num("distinct_views", c[2])?.unwrap_or(0.0);
            rooms.entry(c[1].to_string()).or_default().push((t, v));
            Ok(())
        },
    );
    let last_t = rooms
        .values()
        .flat_map(|v| v.last().map(|p| p.0))
        .fold(0.0, f64::max);
    let end = ctx
        .duration_ms()
        .or(if rooms.is_empty() { None } else { Some(last_t) });
    let mut panel = Panel::new(
        time_axis(end),
        Axis::new("distinct views among live clients", AxisKind::Count).range(Some(0.0), None),
    );
    panel.shades = ctx.shades(end, true);
    panel.shade_label = "fault interval".into();
    let mut caption = "Number of different views of each room's sticky map among its live clients (1 = all agree, 0 = no live client); shaded: injected faults.".to_string();
    match read {
        Ok(Some(_)) if !rooms.is_empty() && rooms.len() <= ROOM_LINES => {
            for (hue, (room, mut pts)) in rooms.into_iter().enumerate() {
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                panel.series.push(Series::new(
                    room,
                    Hue::Palette(hue),
                    vec![Mark::Step(thin(change_points(&pts)))],
                ));
            }
        }
        Ok(Some(_)) if !rooms.is_empty() => {
            // Too many rooms for one line each: count the rooms that disagree at each sample.
            let n_rooms = rooms.len();
            let mut at: BTreeMap<i64, f64> = BTreeMap::new();
            let mut worst: Vec<(f64, String)> = vec![];
            for (room, pts) in &rooms {
                let mut room_worst: f64 = 0.0;
                for (t, v) in pts {
                    let e = at.entry(*t as i64).or_insert(0.0);
                    if *v > 1.0 {
                        *e += 1.0;
                    }
                    room_worst = room_worst.max(*v);
                }
                worst.push((room_worst, room.clone()));
            }
            worst.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            let divergent: Vec<(f64, f64)> = at.iter().map(|(t, d)| (*t as f64, *d)).collect();
            panel.y = Axis::new("rooms whose clients disagree", AxisKind::Count)
                .range(Some(0.0), Some(n_rooms as f64));
            panel.series.push(Series::new(
                format!("rooms with > 1 view\nout of {n_rooms}"),
                Hue::Palette(0),
                vec![Mark::Step(thin(change_points(&divergent)))],
            ));
            caption = format!(
                "{n_rooms} rooms, too many for a line each: the number of rooms whose live clients hold more than one view of the sticky map (0 = all agree). Most views at once: {} in {}. Shaded: injected faults.",
                format::count(worst.first().map(|w| w.0).unwrap_or(0.0)),
                worst.first().map(|w| w.1.as_str()).unwrap_or("-")
            );
        }
        Ok(Some(_)) => {
            panel.note = Some("convergence.csv has no rows: no room was sampled.".into())
        }
        Ok(None) => panel.note = Some("No convergence.csv in this folder.".into()),
        Err(e) => panel.note = Some(format!("Cannot read convergence samples: {e}")),
    }
    Figure {
        name: "convergence".into(),
        title: "Do clients agree? Distinct views per room".into(),
        caption: caption + &ctx.caption_suffix(),
        panels: vec![panel],
    }
}

// ---------------------------------------------------------------- federation

/// Binned /send attempts, 429s and timeouts (top), queue depth per server (bottom).
pub fn federation_figure(dir: &Path) -> Figure {
    let ctx = Ctx::load(dir);
    // outcome per attempt
    let mut attempts: Vec<(f64, String)> = vec![];
    let fed = read_csv(&dir.join("federation.csv"), &["t_ms", "outcome"], |_, c| {
        let t = num("t_ms", c[0])?.ok_or("empty t_ms")?;
        attempts.push((t, c[1].to_string()));
        Ok(())
    });
    let mut queues: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let ts = read_csv(
        &dir.join("timeseries.csv"),
        &["t_ms", "server", "queue_depth"],
        |_, c| {
            let t = num("t_ms", c[0])?.ok_or("empty t_ms")?;
            let q = num("queue_depth", c[2])?.unwrap_or(0.0);
            queues.entry(c[1].to_string()).or_default().push((t, q));
            Ok(())
        },
    );
    let last = attempts
        .iter()
        .map(|a| a.0)
        .chain(queues.values().flat_map(|v| v.iter().map(|p| p.0)))
        .fold(None, |a: Option<f64>, t| Some(a.map_or(t, |a| a.max(t))));
    let end = ctx.duration_ms().or(last);
    let width = bin_width_ms(end.unwrap_or(1.0), 60);

    let mut top = Panel::new(
        Axis::new("", AxisKind::Time).range(Some(0.0), end),
        Axis::new(
            if attempts.is_empty() {
                "attempts per bin".to_string()
            } else {
                format!("per {}", format::duration_ms(width))
            },
            AxisKind::Count,
        ),
    );
    top.title = Some("/send attempts and failures".into());
    top.shades = ctx.shades(end, true);
    top.shade_label = "fault interval".into();
    match fed {
        Ok(Some(_)) if !attempts.is_empty() => {
            let span = end.unwrap_or(0.0).max(last.unwrap_or(0.0));
            let nbins = ((span / width).ceil() as usize).clamp(1, 100_000);
            let mut all = vec![0.0; nbins];
            let mut by: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
            for (t, outcome) in &attempts {
                let b = ((t.max(0.0) / width) as usize).min(nbins - 1);
                all[b] += 1.0;
                let key = match outcome.as_str() {
                    "rate_limited" => "429 rate_limited",
                    "timeout" => "timeout",
                    "ok" => continue,
                    _ => "5xx or refused",
                };
                by.entry(key).or_insert_with(|| vec![0.0; nbins])[b] += 1.0;
            }
            let steps = |v: &[f64]| {
                let mut pts: Vec<(f64, f64)> = v
                    .iter()
                    .enumerate()
                    .map(|(b, c)| (b as f64 * width, *c))
                    .collect();
                if let Some(l) = pts.last().copied() {
                    pts.push((l.0 + width, l.1));
                }
                vec![Mark::Step(pts)]
            };
            // Attempts as bars under the failure lines: when every attempt fails, the
            // failure line runs along the bar tops instead of hiding the attempts line.
            let bars: Vec<(f64, f64, f64)> = all
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0.0)
                .map(|(b, c)| (b as f64 * width, (b + 1) as f64 * width, *c))
                .collect();
            top.series.push(Series::new(
                "attempts",
                Hue::Palette(0),
                vec![Mark::Bars(bars)],
            ));
            let zero = vec![0.0; nbins];
            // The two series the spec asks for are always listed, even when zero.
            for (key, hue) in [
                ("429 rate_limited", 1),
                ("timeout", 3),
                ("5xx or refused", 4),
            ] {
                match by.get(key) {
                    Some(v) => top
                        .series
                        .push(Series::new(key, Hue::Palette(hue), steps(v))),
                    None if key != "5xx or refused" => top.series.push(Series::new(
                        format!("{key} (none)"),
                        Hue::Palette(hue),
                        steps(&zero),
                    )),
                    None => {}
                }
            }
        }
        Ok(Some(_)) => {
            top.note = Some("federation.csv has no rows: no /send was attempted.".into())
        }
        Ok(None) => top.note = Some("No federation.csv in this folder.".into()),
        Err(e) => top.note = Some(format!("Cannot read /send attempts: {e}")),
    }

    let mut bottom = Panel::new(
        time_axis(end),
        Axis::new("PDUs queued", AxisKind::Count).range(Some(0.0), None),
    );
    bottom.title = Some("Outbound queue depth per server (all destinations)".into());
    bottom.shades = ctx.shades(end, false);
    let mut sampled_max: f64 = 0.0;
    let mut interval: Option<f64> = None;
    let queues_drawn = matches!(ts, Ok(Some(_))) && !queues.is_empty();
    match ts {
        Ok(Some(_)) if !queues.is_empty() => {
            let items = queues
                .into_iter()
                .map(|(server, mut pts)| {
                    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let worst = pts.iter().map(|p| p.1).fold(0.0, f64::max);
                    sampled_max = sampled_max.max(worst);
                    if let Some(w) = pts.windows(2).map(|w| w[1].0 - w[0].0).find(|d| *d > 0.0) {
                        interval = Some(interval.map_or(w, |i: f64| i.min(w)));
                    }
                    (server, worst, vec![Mark::Step(thin(change_points(&pts)))])
                })
                .collect();
            bottom.series = cap_series(items, "servers", LEGEND_CAP_SMALL);
        }
        Ok(Some(_)) => bottom.note = Some("timeseries.csv has no rows.".into()),
        Ok(None) => bottom.note = Some("No timeseries.csv in this folder.".into()),
        Err(e) => bottom.note = Some(format!("Cannot read queue samples: {e}")),
    }
    let mut caption = format!(
        "Top: /send attempts per {} bin (bars), and those answered 429 or timed out (lines). Bottom: PDUs queued at each server for all destinations (legend: the servers with the deepest queues).",
        format::duration_ms(width)
    );
    if queues_drawn && sampled_max == 0.0 {
        caption.push_str(" No server had a PDU queued at any sample.");
    }
    if let Some(m) = ctx.metric("federation.max_queue_depth") {
        caption.push_str(&format!(
            " Largest per-destination queue: {}",
            format::count(m)
        ));
        match interval {
            // The samples cannot show what happened between them: say so, not hide it.
            Some(i) if queues_drawn && m > sampled_max => caption.push_str(&format!(
                ", between samples (every {}), so not in the lines.",
                format::duration_ms(i)
            )),
            _ => caption.push('.'),
        }
    }
    Figure {
        name: "federation".into(),
        title: "Federation: attempts, rate limiting and queues".into(),
        caption: caption + &ctx.caption_suffix(),
        panels: vec![top, bottom],
    }
}

// ---------------------------------------------------------------- rtc_ghosts

/// Ghost time of crashed MatrixRTC participants: crash until no live client shows them.
pub fn rtc_ghosts_figure(dir: &Path) -> Figure {
    let ctx = Ctx::load(dir);
    let mut ghosts: Vec<f64> = vec![];
    let mut never = 0usize;
    let read = read_csv(&dir.join("ghosts.csv"), &["ghost_ms"], |_, c| {
        match num("ghost_ms", c[0])? {
            Some(g) => ghosts.push(g),
            None => never += 1,
        }
        Ok(())
    });
    let mut panel = Panel::new(
        Axis::new(
            "ghost time: crash → no live client shows the participant",
            AxisKind::Time,
        ),
        Axis::new("crashed participants", AxisKind::Count),
    );
    let mut caption = String::new();
    match read {
        Ok(Some(_)) if !ghosts.is_empty() => {
            ghosts.sort_by(f64::total_cmp);
            let (lo, hi) = (ghosts[0], ghosts[ghosts.len() - 1]);
            // Bins are sized to the axis, which starts at 0 (no ghost at all) unless a
            // value is negative: one ghost of 6.7 s is a bar 6.5..7 s on a 0..7 s axis,
            // not a sliver at the right edge.
            let width = bin_width_ms((hi - lo.min(0.0)).max(1.0), 15);
            let first = (lo / width).floor() * width;
            let nbins = (((hi - first) / width).floor() as usize + 1).min(10_000);
            let mut counts = vec![0.0; nbins];
            for g in &ghosts {
                let b = (((g - first) / width) as usize).min(nbins - 1);
                counts[b] += 1.0;
            }
            let bars = counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0.0)
                .map(|(b, c)| (first + b as f64 * width, first + (b + 1) as f64 * width, *c))
                .collect();
            panel.x = panel.x.range(Some(first.min(0.0)), Some(first + nbins as f64 * width));
            panel.series.push(Series::new(
                format!("{} bins", format::duration_ms(width)),
                Hue::Palette(0),
                vec![Mark::Bars(bars)],
            ));
            let median = ghosts[ghosts.len() / 2];
            caption = format!(
                "{} crashed participant(s) disappeared; median {}, max {}.",
                format::count(ghosts.len() as f64),
                format::duration_ms(median),
                format::duration_ms(hi)
            );
        }
        Ok(Some(_)) => {
            panel.note = Some(if never > 0 {
                format!("None of the {never} crashed participant(s) disappeared before the end of the run.")
            } else {
                "ghosts.csv has no rows: no MatrixRTC participant crashed in this run.".into()
            })
        }
        Ok(None) => match ctx.summary.as_ref().map(|s| s.histogram("rtc.ghost_ms")).unwrap_or(Ok(None)) {
            Ok(Some(h)) if h.buckets.iter().any(|b| b.2 > 0.0) => {
                panel.x = panel.x.log();
                panel.x.label = "ghost time (log scale)".into();
                let bars = h.buckets.iter().filter(|b| b.2 > 0.0).copied().collect();
                panel
                    .series
                    .push(Series::new("histogram bucket", Hue::Palette(0), vec![Mark::Bars(bars)]));
                caption = "Summary mode: from the rtc.ghost_ms histogram in summary.json.".into();
            }
            Ok(_) => {
                panel.note = Some("No ghosts.csv and no rtc.ghost_ms histogram: no MatrixRTC participant crashed, or this run has no MatrixRTC workload.".into())
            }
            Err(e) => panel.note = Some(e),
        },
        Err(e) => panel.note = Some(format!("Cannot read ghost times: {e}")),
    }
    if never > 0 && panel.has_data() {
        caption.push_str(&format!(
            " {never} more never disappeared before the end and are not drawn."
        ));
    }
    caption.push_str(" A crash leaves no leave event: the MSC4140 delayed leave (leave_delay) or expiry removes it.");
    Figure {
        name: "rtc_ghosts".into(),
        title: "MatrixRTC ghosts: how long a crashed participant stays visible".into(),
        caption: caption.trim_start().to_string() + &ctx.caption_suffix(),
        panels: vec![panel],
    }
}

/// Every run figure, in a fixed order.
pub fn run_figures(dir: &Path) -> Vec<Figure> {
    vec![
        latency_cdf_figure(dir),
        spam_window_figure(dir),
        convergence_figure(dir),
        federation_figure(dir),
        rtc_ghosts_figure(dir),
    ]
}
