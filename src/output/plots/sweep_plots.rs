//! Sweep plots: each headline metric against each swept key, one line per combination
//! of the other swept keys, with the 95% confidence band from `aggregate.csv`.

use super::data::{num, read_csv};
use super::figure::{Axis, AxisKind, Figure, Hue, Mark, Panel, Series, LEGEND_CAP};
use super::format;
use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
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
                },
            );
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
    figs
}

fn sweep_figure(d: &SweepData, metric: &str, key: &str) -> Figure {
    let xs = d.values_of(key);
    let numeric = !xs.is_empty() && xs.iter().all(Value::is_number);
    let xnum: Vec<f64> = xs.iter().filter_map(Value::as_f64).collect();
    let others: Vec<&String> = d.keys.iter().filter(|k| *k != key).collect();
    let mut x_axis = if numeric {
        let mut a = Axis::new(key, AxisKind::Plain);
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
            xv.as_f64().unwrap_or(0.0)
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
        .any(|(_, a)| a.mean < 0.0 || a.ci95_lo.unwrap_or(0.0) < 0.0);
    if !any_negative {
        y_axis = y_axis.range(Some(0.0), None);
    }
    let ng = groups.len();
    let cap = if ng > LEGEND_CAP { LEGEND_CAP - 1 } else { ng };
    let mut panel = Panel::new(x_axis, y_axis);
    let mut series = vec![];
    let mut grey = vec![];
    let mut max_n: f64 = 0.0;
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
        }
        let band: Vec<(f64, f64, f64)> = pts
            .iter()
            .map(|(x, a)| (*x, a.ci95_lo.unwrap_or(a.mean), a.ci95_hi.unwrap_or(a.mean)))
            .collect();
        let marks = if numeric {
            vec![
                Mark::Band(band),
                Mark::Line(pts.iter().map(|(x, a)| (*x, a.mean)).collect()),
                Mark::Points(pts.iter().map(|(x, a)| (*x, a.mean)).collect()),
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
                Mark::Points(pts.iter().map(|(x, a)| (x + off, a.mean)).collect()),
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
    let ci = if max_n <= 1.0 {
        "One seed per point, so no confidence interval.".to_string()
    } else {
        format!(
            "Mean over up to {} seeds per point; {}: 95% confidence interval (Student's t).",
            format::count(max_n),
            if numeric { "shaded" } else { "bars" }
        )
    };
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
    Figure {
        name: format!("sweep_{}__{}", file_safe(metric), file_safe(key)),
        title: format!("{} vs {}", metric, short_key(key)),
        caption: format!("{ci}{lines}"),
        panels: vec![panel],
    }
}
