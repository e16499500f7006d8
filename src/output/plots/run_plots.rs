//! The five plots of a run folder, as [`Figure`]s computed from its CSVs and summary.json.
//! Each builder never fails: a missing or malformed input becomes a note on an empty chart.
//!
//! One file per figure: [`latency`], [`spam_window`], [`convergence`], [`federation`] and
//! [`ghosts`]; the helpers they share are here.

mod convergence;
mod federation;
mod ghosts;
mod latency;
mod spam_window;

pub use convergence::convergence_figure;
pub use federation::federation_figure;
pub use ghosts::rtc_ghosts_figure;
pub use latency::latency_cdf_figure;
pub use spam_window::spam_window_figure;

use super::data::{num, read_csv_with, Fault, Summary};
use super::figure::{merge_shades, note_coinciding, Axis, AxisKind, Figure, Hue, Shade};
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
    /// The fault intervals as bands: overlapping or adjacent ones (less than 0.5% of the
    /// run apart) merged, labels capped ([`merge_shades`]). A fault that lasts the whole
    /// run is not a band (it would shade the whole chart and hide the others): the caption
    /// says it instead ([`Ctx::whole_run_note`]).
    fn shades(&self, end_ms: Option<f64>, labelled: bool) -> Vec<Shade> {
        let raw: Vec<Shade> = self
            .faults()
            .into_iter()
            .filter(|f| !whole_run(f, end_ms))
            .map(|f| Shade {
                from: f.from_ms,
                to: f.to_ms.or(end_ms).unwrap_or(f.from_ms),
                label: if labelled { f.label() } else { String::new() },
            })
            .collect();
        merge_shades(raw, end_ms.unwrap_or(0.0) * 0.005)
    }
    /// The faults that last the whole run, for a caption (`" Not shaded, for the whole
    /// run: 50 servers down (hs256, hs299, hs359 +47); 113 clients offline (…)."`), or
    /// nothing.
    fn whole_run_note(&self, end_ms: Option<f64>) -> String {
        let mut kinds: Vec<(String, Vec<String>)> = vec![];
        for f in self.faults().into_iter().filter(|f| whole_run(f, end_ms)) {
            // A client_offline fault lists its clients, each counted; any other fault is one
            // entry (a crash annotation has one server, a link joins its two ends).
            let names = if f.kind == "client_offline" {
                f.servers.clone()
            } else {
                vec![f.servers.join("–")]
            };
            match kinds.iter_mut().find(|k| k.0 == f.kind) {
                Some(k) => k.1.extend(names),
                None => kinds.push((f.kind.clone(), names)),
            }
        }
        if kinds.is_empty() {
            return String::new();
        }
        let parts: Vec<String> = kinds
            .into_iter()
            .map(|(kind, names)| {
                let shown = format::first_names(&names, 3);
                let count = format::count(names.len() as f64);
                match kind.as_str() {
                    "crash" => format!("{count} server(s) down ({shown})"),
                    "client_offline" => format!("{count} client(s) offline ({shown})"),
                    "link" => format!("link fault {shown}"),
                    other => format!("{other} {shown}"),
                }
            })
            .collect();
        format!(" Not shaded, for the whole run: {}.", parts.join("; "))
    }
}

/// A fault from the run's start to its end (or with no end).
fn whole_run(f: &Fault, end_ms: Option<f64>) -> bool {
    match (f.to_ms, end_ms) {
        _ if f.from_ms > 0.0 => false,
        (None, _) => true,
        (Some(to), Some(end)) => to >= end,
        (Some(_), None) => false,
    }
}

/// What a client syncing afresh at one server would receive at one sample
/// (timeseries.csv `fresh_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FreshSync {
    /// Unexpired sticky events.
    pub sticky: f64,
    /// Of them, inactionable (a leave winning its key, or beaten for its key).
    pub inactionable: f64,
    /// Actionable keys beyond 10 per sender and room.
    pub flood: f64,
}

impl FreshSync {
    /// What the client cannot use: inactionable events and the flood.
    pub fn waste(&self) -> f64 {
        self.inactionable + self.flood
    }
}

/// timeseries.csv, read once by the charts drawn from it (`federation`'s queues and
/// `spam_window`'s fresh-sync panel).
#[derive(Debug, Default)]
struct Timeseries {
    /// Queue depth per server: (t, PDUs queued), sorted by time.
    queues: BTreeMap<String, Vec<(f64, f64)>>,
    /// Per sample (t in µs), the fresh sync of the server where most of it is waste (ties:
    /// the most sticky events, then the first in the file); empty without `fresh_*` columns.
    worst_fresh: BTreeMap<i64, FreshSync>,
}

impl Timeseries {
    /// `Ok(None)`: no timeseries.csv; `Err`: unreadable or malformed (the message names
    /// the line). The `fresh_*` columns are optional (older folders lack them).
    fn load(dir: &Path) -> Result<Option<Timeseries>, String> {
        let mut ts = Timeseries::default();
        let read = read_csv_with(
            &dir.join("timeseries.csv"),
            &["t_ms", "server", "queue_depth"],
            &["fresh_sticky", "fresh_inactionable", "fresh_flood"],
            |_, c| {
                let t = num("t_ms", c[0])?.ok_or("empty t_ms")?;
                let q = num("queue_depth", c[2])?.unwrap_or(0.0);
                ts.queues.entry(c[1].to_string()).or_default().push((t, q));
                let v = |i: usize, k: &str| num(k, c[i]).map(|x| x.unwrap_or(0.0));
                let here = FreshSync {
                    sticky: v(3, "fresh_sticky")?,
                    inactionable: v(4, "fresh_inactionable")?,
                    flood: v(5, "fresh_flood")?,
                };
                let e = ts
                    .worst_fresh
                    .entry((t * 1000.0).round() as i64)
                    .or_default();
                if (here.waste(), here.sticky) > (e.waste(), e.sticky) {
                    *e = here;
                }
                Ok(())
            },
        )?;
        let Some((_, present)) = read else {
            return Ok(None);
        };
        if !present.iter().all(|p| *p) {
            ts.worst_fresh.clear();
        }
        for pts in ts.queues.values_mut() {
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        Ok(Some(ts))
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

/// Every run figure, in a fixed order.
/// Identical lines are named together in the legend rather than hiding one another.
pub fn run_figures(dir: &Path) -> Vec<Figure> {
    let mut figs = vec![
        latency_cdf_figure(dir),
        spam_window_figure(dir),
        convergence_figure(dir),
        federation_figure(dir),
        rtc_ghosts_figure(dir),
    ];
    for p in figs.iter_mut().flat_map(|f| f.panels.iter_mut()) {
        note_coinciding(&mut p.series);
    }
    figs
}
