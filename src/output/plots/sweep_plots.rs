//! Sweep plots: each headline metric against each swept key, one line per combination
//! of the other swept keys, with the 95% confidence band from `aggregate.csv`. A
//! percentile of a pooled family (`delivery.latency_ms.p99`, `rtc.ghost_ms.p50`) is drawn
//! at its pooled value with its seed-bootstrap band; a duration-valued key (`"8s"`) is a
//! time axis in order of its value. The trade-off chart is in `tradeoff.rs`.

use super::data::{num, read_csv};
use super::figure::{Axis, AxisKind, Figure, Hue, Mark, Panel, Series, LEGEND_CAP};
use super::format;
use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One row of `aggregate.csv` (a metric at a point, across seeds).
#[derive(Clone, Debug, PartialEq)]
pub struct Agg {
    pub n: f64,
    pub mean: f64,
    pub std: Option<f64>,
    pub ci95_lo: Option<f64>,
    pub ci95_hi: Option<f64>,
    pub min: Option<f64>,
    pub median: Option<f64>,
    pub max: Option<f64>,
    /// The percentile over every seed's samples, its sample count and seed-bootstrap
    /// interval (aggregate.csv `pooled*`; None for other metrics and older folders).
    pub pooled: Option<f64>,
    pub pooled_n: Option<f64>,
    pub pooled_ci: Option<(f64, f64)>,
    /// aggregate.csv `warning` (empty when none).
    pub warning: String,
}

impl Agg {
    /// The value a chart or report shows: the pooled percentile when there is one, else
    /// the mean over seeds.
    pub fn value(&self) -> f64 {
        self.pooled.unwrap_or(self.mean)
    }
    /// The interval that goes with [`Agg::value`].
    pub fn interval(&self) -> Option<(f64, f64)> {
        if self.pooled.is_some() {
            self.pooled_ci
        } else {
            match (self.ci95_lo, self.ci95_hi) {
                (Some(lo), Some(hi)) if self.n > 1.0 => Some((lo, hi)),
                _ => None,
            }
        }
    }
}

/// A sweep folder's `sweep.json` and `aggregate.csv`.
#[derive(Clone, Debug, Default)]
pub struct SweepData {
    pub scenario: String,
    pub scenario_digest: String,
    pub keys: Vec<String>,
    pub seeds: Vec<Value>,
    /// (point index, swept values) in grid order.
    pub points: Vec<(u64, BTreeMap<String, Value>)>,
    pub headline: Vec<String>,
    /// `[sweep] tradeoff`: two metrics, or empty.
    pub tradeoff: Vec<String>,
    /// (metric, point) -> aggregate.
    pub agg: BTreeMap<(String, u64), Agg>,
    /// Why aggregate.csv could not be used, if so.
    pub agg_problem: Option<String>,
}

impl SweepData {
    /// Reads `sweep.json` (required) and `aggregate.csv` (a problem there is kept in
    /// `agg_problem` and shown on the charts).
    pub fn load(dir: &Path) -> Result<SweepData> {
        let path = dir.join("sweep.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| anyhow!("{} is not valid JSON: {e}", path.display()))?;
        let strs = |key: &str| -> Vec<String> {
            v.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut d = SweepData {
            scenario: v
                .get("scenario")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            scenario_digest: v
                .get("scenario_digest")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            keys: strs("keys"),
            seeds: v
                .get("seeds")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            headline: strs("headline"),
            tradeoff: strs("tradeoff"),
            ..Default::default()
        };
        if let Some(points) = v.get("points").and_then(Value::as_array) {
            for (i, p) in points.iter().enumerate() {
                let idx = p.get("point").and_then(Value::as_u64).unwrap_or(i as u64);
                let values = p
                    .get("values")
                    .and_then(Value::as_object)
                    .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                d.points.push((idx, values));
            }
        }
        let mut agg = BTreeMap::new();
        let cols = [
            "point", "metric", "n", "mean", "std", "ci95_lo", "ci95_hi", "min", "median", "max",
        ];
        let read = read_csv(&dir.join("aggregate.csv"), &cols, |_, c| {
            let point = num("point", c[0])?.ok_or("empty point")?;
            let Some(mean) = num("mean", c[3])? else {
                return Ok(());
            };
            agg.insert(
                (c[1].to_string(), point as u64),
                Agg {
                    n: num("n", c[2])?.unwrap_or(0.0),
                    mean,
                    std: num("std", c[4])?,
                    ci95_lo: num("ci95_lo", c[5])?,
                    ci95_hi: num("ci95_hi", c[6])?,
                    min: num("min", c[7])?,
                    median: num("median", c[8])?,
                    max: num("max", c[9])?,
                    pooled: None,
                    pooled_n: None,
                    pooled_ci: None,
                    warning: String::new(),
                },
            );
            Ok(())
        });
        // The pooled columns (absent from folders written before they existed).
        let pooled_cols = [
            "point",
            "metric",
            "pooled",
            "pooled_n",
            "pooled_ci95_lo",
            "pooled_ci95_hi",
            "warning",
        ];
        let _ = read_csv(&dir.join("aggregate.csv"), &pooled_cols, |_, c| {
            let point = num("point", c[0])?.ok_or("empty point")? as u64;
            if let Some(a) = agg.get_mut(&(c[1].to_string(), point)) {
                a.pooled = num("pooled", c[2])?;
                a.pooled_n = num("pooled_n", c[3])?;
                a.pooled_ci = match (num("lo", c[4])?, num("hi", c[5])?) {
                    (Some(lo), Some(hi)) => Some((lo, hi)),
                    _ => None,
                };
                a.warning = c[6].to_string();
            }
            Ok(())
        });
        match read {
            Ok(Some(_)) => d.agg = agg,
            Ok(None) => {
                d.agg_problem =
                    Some("No aggregate.csv in this sweep folder yet (not merged?).".into())
            }
            Err(e) => d.agg_problem = Some(format!("Cannot read aggregates: {e}")),
        }
        if d.headline.is_empty() {
            // No headline list: every metric that has aggregates.
            let mut m: Vec<String> = d.agg.keys().map(|(m, _)| m.clone()).collect();
            m.dedup();
            d.headline = m;
        }
        Ok(d)
    }

    /// The distinct values of `key` in grid order.
    pub fn values_of(&self, key: &str) -> Vec<Value> {
        let mut out: Vec<Value> = vec![];
        for (_, vals) in &self.points {
            if let Some(v) = vals.get(key) {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
        }
        out
    }
}

/// A swept value as a number on a chart axis: numbers as they are, durations (`"8s"`,
/// `"1m30s"`) in milliseconds. None for anything else.
pub fn key_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => crate::scenario::duration::parse_duration_us(s)
            .ok()
            .map(|us| us as f64 / 1000.0),
        _ => None,
    }
}

/// Whether every value is a number or a duration, and whether they are durations.
fn numeric_kind(xs: &[Value]) -> (bool, bool) {
    let numeric = !xs.is_empty() && xs.iter().all(|v| key_number(v).is_some());
    (numeric, numeric && xs.iter().any(Value::is_string))
}

/// The last segment of a dotted key: "servers.defaults.inbound.policy" -> "policy".
pub fn short_key(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A file-name-safe form of a metric or key.
pub fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// How a metric's values are read, by its name (README "Metrics" units in names).
pub fn metric_axis_kind(metric: &str) -> AxisKind {
    if metric.contains("_ms") {
        AxisKind::Time
    } else if metric.contains("bytes") {
        AxisKind::Bytes
    } else {
        AxisKind::Plain
    }
}

/// One figure per (headline metric, swept key).
pub fn sweep_figures(d: &SweepData) -> Vec<Figure> {
    let mut figs = vec![];
    if d.keys.is_empty() || d.headline.is_empty() {
        let mut panel = Panel::new(
            Axis::new("swept value", AxisKind::Plain),
            Axis::new("metric", AxisKind::Plain),
        );
        panel.note = Some(if d.keys.is_empty() {
            "sweep.json lists no swept keys: nothing to plot against.".into()
        } else {
            d.agg_problem
                .clone()
                .unwrap_or_else(|| "No headline metrics and no aggregates to plot.".into())
        });
        figs.push(Figure {
            name: "sweep".into(),
            title: format!("Sweep of {}", d.scenario),
            caption: String::new(),
            panels: vec![panel],
        });
        return figs;
    }
    for metric in &d.headline {
        for key in &d.keys {
            figs.push(sweep_figure(d, metric, key));
        }
    }
    if d.tradeoff.len() == 2 {
        figs.push(super::tradeoff::tradeoff_figure(d));
    }
    figs
}

fn sweep_figure(d: &SweepData, metric: &str, key: &str) -> Figure {
    let xs = d.values_of(key);
    let (numeric, durations) = numeric_kind(&xs);
    let xnum: Vec<f64> = xs.iter().filter_map(key_number).collect();
    let others: Vec<&String> = d.keys.iter().filter(|k| *k != key).collect();
    let unit = if durations {
        AxisKind::Time
    } else {
        AxisKind::Plain
    };
    let mut x_axis = if numeric {
        let mut a = Axis::new(key, unit);
        let lo = xnum.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = xnum.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if lo > 0.0 && hi / lo >= 20.0 {
            a = a.log();
            a.label = format!("{key} (log scale)");
        }
        a
    } else {
        Axis::new(key, AxisKind::Category(xs.iter().map(value_text).collect()))
    };
    if numeric && x_axis.scale == super::figure::Scale::Linear {
        let lo = xnum.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = xnum.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let pad = ((hi - lo) * 0.04).max(if hi == lo { 1.0 } else { 0.0 });
        x_axis = x_axis.range(Some(lo - pad), Some(hi + pad));
    }
    let kind = metric_axis_kind(metric);
    let mut y_axis = Axis::new(metric, kind.clone());
    // Group points by the values of the other keys, in grid order.
    let mut groups: Vec<(String, Vec<(f64, &super::sweep_plots::Agg)>)> = vec![];
    for (point, vals) in &d.points {
        let Some(xv) = vals.get(key) else { continue };
        let Some(a) = d.agg.get(&(metric.to_string(), *point)) else {
            continue;
        };
        let x = if numeric {
            key_number(xv).unwrap_or(0.0)
        } else {
            xs.iter().position(|v| v == xv).unwrap_or(0) as f64
        };
        // "policy=defer", or with more keys a second legend line: "policy=defer\nrate=5, …".
        let parts: Vec<String> = others
            .iter()
            .map(|k| {
                format!(
                    "{}={}",
                    short_key(k),
                    vals.get(*k).map(value_text).unwrap_or_else(|| "?".into())
                )
            })
            .collect();
        let label = match parts.split_first() {
            None => "mean".to_string(),
            Some((first, [])) => first.clone(),
            Some((first, rest)) => format!("{first}\n{}", rest.join(", ")),
        };
        match groups.iter_mut().find(|g| g.0 == label) {
            Some(g) => g.1.push((x, a)),
            None => groups.push((label, vec![(x, a)])),
        }
    }
    let any_negative = groups
        .iter()
        .flat_map(|g| g.1.iter())
        .any(|(_, a)| a.value() < 0.0 || a.interval().is_some_and(|i| i.0 < 0.0));
    // A duration spread over 100× or more (0.1 s against 2 min) on a log axis, so the
    // small values are not flattened onto zero; else a linear axis from 0.
    let ys: Vec<f64> = groups
        .iter()
        .flat_map(|g| g.1.iter())
        .flat_map(|(_, a)| {
            let (lo, hi) = a.interval().unwrap_or((a.value(), a.value()));
            [a.value(), lo, hi]
        })
        .collect();
    let ylo = ys.iter().copied().fold(f64::INFINITY, f64::min);
    let yhi = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if kind == AxisKind::Time && ylo > 0.0 && yhi / ylo >= 100.0 {
        y_axis = y_axis.log();
        y_axis.label = format!("{metric} (log scale)");
    } else if !any_negative {
        y_axis = y_axis.range(Some(0.0), None);
    }
    let overlaps = coinciding(&groups, y_axis.scale == super::figure::Scale::Log);
    let ng = groups.len();
    let cap = if ng > LEGEND_CAP { LEGEND_CAP - 1 } else { ng };
    let mut panel = Panel::new(x_axis, y_axis);
    let mut series = vec![];
    let mut grey = vec![];
    let mut max_n: f64 = 0.0;
    let mut pooled_any = false;
    let mut warned = 0;
    for (gi, (label, mut pts)) in groups.into_iter().enumerate() {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let hue = if gi < cap {
            Hue::Palette(gi)
        } else {
            Hue::Other
        };
        let name = if gi < cap {
            label
        } else if gi == cap {
            format!("{} more combinations", ng - cap)
        } else {
            String::new()
        };
        for (_, a) in &pts {
            max_n = max_n.max(a.n);
            pooled_any |= a.pooled.is_some();
            if !a.warning.is_empty() {
                warned += 1;
            }
        }
        let band: Vec<(f64, f64, f64)> = pts
            .iter()
            .map(|(x, a)| {
                let (lo, hi) = a.interval().unwrap_or((a.value(), a.value()));
                (*x, lo, hi)
            })
            .collect();
        let marks = if numeric {
            vec![
                Mark::Band(band),
                Mark::Line(pts.iter().map(|(x, a)| (*x, a.value())).collect()),
                Mark::Points(pts.iter().map(|(x, a)| (*x, a.value())).collect()),
            ]
        } else {
            // Categories have no order to draw a line along: dodged points with CI bars.
            let width = 0.6;
            let off = if ng > 1 {
                -width / 2.0 + width * gi as f64 / (ng - 1) as f64
            } else {
                0.0
            };
            vec![
                Mark::ErrorBars(band.iter().map(|(x, lo, hi)| (x + off, *lo, *hi)).collect()),
                Mark::Points(pts.iter().map(|(x, a)| (x + off, a.value())).collect()),
            ]
        };
        let s = Series::new(name, hue, marks);
        if hue == Hue::Other {
            grey.push(s);
        } else {
            series.push(s);
        }
    }
    panel.series = grey.into_iter().chain(series).collect();
    if !panel.has_data() {
        panel.note = Some(d.agg_problem.clone().unwrap_or_else(|| {
            format!("No aggregate rows for {metric} (the metric had no data at any point).")
        }));
    }
    let shape = if numeric { "shaded" } else { "bars" };
    let mut ci = if pooled_any {
        format!(
            "The percentile of all samples of a point's seeds together (up to {} seeds with data); {shape}: 95% interval from resampling the seeds.",
            format::count(max_n.max(1.0))
        )
    } else if max_n <= 1.0 {
        "One seed per point, so no confidence interval.".to_string()
    } else {
        format!(
            "Mean over up to {} seeds per point; {shape}: 95% confidence interval (Student's t, cut at the metric's range).",
            format::count(max_n)
        )
    };
    if warned > 0 {
        let _ = write!(
            ci,
            " {warned} point(s) have too few samples for this percentile (aggregate.csv `warning`)."
        );
    }
    let lines = if others.is_empty() {
        String::new()
    } else {
        format!(
            " One {} per value of {}.",
            if numeric { "line" } else { "colour" },
            others
                .iter()
                .map(|k| short_key(k))
                .collect::<Vec<_>>()
                .join(" × ")
        )
    };
    let mut caption = format!("{ci}{lines}");
    if !overlaps.is_empty() {
        let _ = write!(
            caption,
            " Drawn over each other (within 1% of the axis; {}): {}.",
            others
                .iter()
                .map(|k| short_key(k))
                .collect::<Vec<_>>()
                .join("/"),
            overlaps.join("; ")
        );
    }
    caption.push_str(&undelivered_note(d, metric));
    Figure {
        name: format!("sweep_{}__{}", file_safe(metric), file_safe(key)),
        title: format!("{} vs {}", metric, short_key(key)),
        caption,
        panels: vec![panel],
    }
}

/// Groups of lines whose values differ by at most 1% of the values' span at every x they
/// share (the later hides the earlier), each as `"a = b = c"` with labels on one line;
/// at most three groups, then how many more.
fn coinciding(groups: &[(String, Vec<(f64, &Agg)>)], log: bool) -> Vec<String> {
    // Compared as drawn: on a log axis, by their logarithms.
    let y = |a: &Agg| if log { a.value().log10() } else { a.value() };
    let all: Vec<f64> = groups
        .iter()
        .flat_map(|g| g.1.iter().map(|(_, a)| y(a)))
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tol = (hi - lo).abs() * 0.01;
    let line = |g: &(String, Vec<(f64, &Agg)>)| {
        let mut v: Vec<(f64, f64)> = g.1.iter().map(|(x, a)| (*x, y(a))).collect();
        v.sort_by(|p, q| p.0.total_cmp(&q.0));
        v
    };
    let lines: Vec<Vec<(f64, f64)>> = groups.iter().map(line).collect();
    let same = |a: &[(f64, f64)], b: &[(f64, f64)]| {
        !a.is_empty()
            && a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(p, q)| p.0 == q.0 && (p.1 - q.1).abs() <= tol)
    };
    // Each line joins the first earlier cluster it coincides with a member of.
    let mut cluster: Vec<usize> = (0..lines.len()).collect();
    for j in 0..lines.len() {
        if let Some(i) = (0..j).find(|&i| same(&lines[i], &lines[j])) {
            cluster[j] = cluster[i];
        }
    }
    let mut out = vec![];
    for c in 0..lines.len() {
        let members: Vec<String> = (0..lines.len())
            .filter(|&j| cluster[j] == c)
            .map(|j| values_only(&groups[j].0))
            .collect();
        match members.len() {
            0 | 1 => {}
            n if n == lines.len() => out.push(format!("all {n} lines")),
            n if n > 3 => out.push(format!("{} and {} more", members[..3].join(" = "), n - 3)),
            _ => out.push(members.join(" = ")),
        }
    }
    if out.len() > 3 {
        let more = out.len() - 3;
        out.truncate(3);
        out.push(format!("{more} more groups"));
    }
    out
}

/// A line label without the key names: "leave_delay=5s\nrestart_every=2s" -> "5s/2s".
fn values_only(label: &str) -> String {
    label
        .split(['\n', ','])
        .map(|part| part.trim())
        .filter(|part| !part.is_empty())
        .map(|part| part.split_once('=').map_or(part, |(_, v)| v))
        .collect::<Vec<_>>()
        .join("/")
}

/// For a latency percentile (over delivered pairs only): where under 99% of due pairs were
/// delivered, so a low latency there is not a fast policy but a lossy one.
fn undelivered_note(d: &SweepData, metric: &str) -> String {
    if !metric.starts_with("delivery.latency_ms.") {
        return String::new();
    }
    let shares: Vec<f64> = d
        .points
        .iter()
        .filter_map(|(p, _)| {
            d.agg
                .get(&("delivery.delivered_fraction".to_string(), *p))
                .map(Agg::value)
        })
        .collect();
    let low = shares.iter().filter(|f| **f < 0.99).count();
    if low == 0 {
        return String::new();
    }
    let min = shares.iter().copied().fold(f64::INFINITY, f64::min);
    format!(
        " Over delivered pairs only: at {low} of {} points under 99% of due pairs were delivered (lowest {}%), see delivery.delivered_fraction.",
        shares.len(),
        format::sig(min * 100.0, 3)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn line_labels_shorten_to_values() {
        assert_eq!(
            values_only("leave_delay=5s\nrestart_every=2s, loss=0.0"),
            "5s/2s/0.0"
        );
        assert_eq!(values_only("policy=defer"), "defer");
    }

    #[test]
    fn duration_keys_are_numbers_in_ms() {
        assert_eq!(key_number(&json!("8s")), Some(8000.0));
        assert_eq!(key_number(&json!("1m30s")), Some(90000.0));
        assert_eq!(key_number(&json!(0.05)), Some(0.05));
        assert_eq!(key_number(&json!("defer")), None);
        // "5s", "30s", "8s" in that order: numeric, durations, placed by value.
        let xs = [json!("5s"), json!("30s"), json!("8s")];
        assert_eq!(numeric_kind(&xs), (true, true));
        assert_eq!(numeric_kind(&[json!(5.0), json!(10.0)]), (true, false));
        assert_eq!(numeric_kind(&[json!("5s"), json!("defer")]), (false, false));
    }
}
