//! `sweep.json`, `sweep.csv`, `aggregate.csv` (docs/output-format.md), and file helpers.
//!
//! Everything here is a function of the sweep's metadata and the runs' summaries, taken in
//! (point, seed) order: the bytes do not depend on `--jobs`, on completion order, or on
//! whether the runs came from one sweep or from merged shards.

use super::grid::SweepMeta;
use super::pooled::{self, Samples};
use super::shard::RunSummary;
use super::stats::{metric_range, stats_in};
use super::SweepError;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub const SWEEP_JSON: &str = "sweep.json";
pub const SWEEP_CSV: &str = "sweep.csv";
pub const AGGREGATE_CSV: &str = "aggregate.csv";

/// Number format of every CSV cell: Rust's shortest representation that reads back to the
/// same f64 (`{}`), never an exponent. Deterministic on every platform.
pub fn fmt_f64(x: f64) -> String {
    format!("{x}")
}

/// A swept value as a CSV cell: strings bare, numbers and booleans as JSON writes them,
/// lists and tables as compact JSON.
pub fn fmt_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Write the three sweep tables into `dir`. `results` maps run index (in (point, seed)
/// order, see [`SweepMeta::runs`]) to that run's summary; every run must be present.
pub fn write_sweep_tables(
    dir: &Path,
    meta: &SweepMeta,
    results: &BTreeMap<usize, RunSummary>,
) -> Result<(), SweepError> {
    let runs = meta.runs();
    let missing: Vec<String> = runs
        .iter()
        .filter(|r| !results.contains_key(&r.index))
        .map(|r| r.name())
        .collect();
    if !missing.is_empty() {
        return Err(SweepError::Incomplete(missing));
    }

    let mut json = serde_json::to_string_pretty(meta)
        .map_err(|e| SweepError::Input(format!("cannot serialise sweep.json: {e}")))?;
    json.push('\n');
    write_atomic(&dir.join(SWEEP_JSON), json.as_bytes())?;

    let metrics: BTreeSet<&str> = results
        .values()
        .flat_map(|r| r.metrics.keys().map(String::as_str))
        .collect();

    // sweep.csv: one row per run.
    let mut w = csv::Writer::from_writer(vec![]);
    let mut header: Vec<String> = vec!["run".into(), "point".into(), "seed".into()];
    header.extend(meta.keys.iter().cloned());
    header.extend(metrics.iter().map(|m| m.to_string()));
    csv_row(&mut w, &header)?;
    for r in &runs {
        let Some(summary) = results.get(&r.index) else {
            continue;
        };
        let values = point_values(meta, r.point);
        let mut row = vec![r.name(), r.point.to_string(), r.seed.to_string()];
        row.extend(values);
        row.extend(metrics.iter().map(|m| {
            summary
                .metrics
                .get(*m)
                .map(|x| fmt_f64(*x))
                .unwrap_or_default()
        }));
        csv_row(&mut w, &row)?;
    }
    write_atomic(&dir.join(SWEEP_CSV), &csv_bytes(w)?)?;

    // aggregate.csv: one row per (point, metric); n = 0 rows keep the table rectangular.
    let mut w = csv::Writer::from_writer(vec![]);
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(meta.keys.iter().cloned());
    for h in [
        "metric",
        "n",
        "mean",
        "std",
        "ci95_lo",
        "ci95_hi",
        "min",
        "median",
        "max",
        "pooled",
        "pooled_n",
        "pooled_ci95_lo",
        "pooled_ci95_hi",
        "warning",
    ] {
        header.push(h.into());
    }
    csv_row(&mut w, &header)?;
    for p in &meta.points {
        let ids: Vec<&super::RunId> = runs.iter().filter(|r| r.point == p.point).collect();
        let point_runs: Vec<&RunSummary> =
            ids.iter().filter_map(|r| results.get(&r.index)).collect();
        // Each pooled family's samples, read once per point when one of its percentiles is a metric.
        let mut samples: BTreeMap<usize, Result<Vec<Samples>, String>> = BTreeMap::new();
        for m in &metrics {
            let xs: Vec<f64> = point_runs
                .iter()
                .filter_map(|s| s.metrics.get(*m).copied())
                .collect();
            let mut row = vec![p.point.to_string()];
            row.extend(point_values(meta, p.point));
            row.push(m.to_string());
            match stats_in(&xs, metric_range(m)) {
                Some(s) => {
                    row.push(s.n.to_string());
                    for x in [s.mean, s.std, s.ci95_lo, s.ci95_hi, s.min, s.median, s.max] {
                        row.push(fmt_f64(x));
                    }
                }
                None => {
                    row.push("0".into());
                    row.extend(std::iter::repeat_n(String::new(), 7));
                }
            }
            row.extend(pooled_cells(
                dir,
                &ids,
                &point_runs,
                m,
                p.point,
                &mut samples,
            ));
            csv_row(&mut w, &row)?;
        }
    }
    write_atomic(&dir.join(AGGREGATE_CSV), &csv_bytes(w)?)?;
    Ok(())
}

/// `pooled,pooled_n,pooled_ci95_lo,pooled_ci95_hi,warning` of one (point, metric): empty
/// for a metric that is not a pooled percentile ([`pooled::percentile_metric`]).
fn pooled_cells(
    dir: &Path,
    ids: &[&super::RunId],
    summaries: &[&RunSummary],
    metric: &str,
    point: usize,
    cache: &mut BTreeMap<usize, Result<Vec<Samples>, String>>,
) -> Vec<String> {
    let empty = |warning: String| {
        vec![
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            warning,
        ]
    };
    let Some((fam, p)) = pooled::percentile_metric(metric) else {
        return empty(String::new());
    };
    let loaded = cache.entry(fam).or_insert_with(|| {
        ids.iter()
            .map(|r| {
                let run_dir = dir.join(r.name());
                match pooled::read_samples(&run_dir, fam) {
                    Ok(Some(s)) => Ok(s),
                    // No file and no histogram: no samples (checked against its metric below).
                    Ok(None) => Ok(Samples::default()),
                    Err(e) => Err(format!("{}: {e}", r.name())),
                }
            })
            .collect()
    });
    let all = match loaded {
        Ok(v) => v,
        Err(e) => return empty(format!("not pooled ({e})")),
    };
    let refs: Vec<&Samples> = all.iter().collect();
    let reported: Vec<Option<f64>> = summaries
        .iter()
        .map(|s| s.metrics.get(metric).copied())
        .collect();
    if !pooled::reproduces(&refs, &reported, p) {
        return empty(format!(
            "not pooled: a run's {} does not give back its own value",
            pooled::FAMILIES[fam].1
        ));
    }
    match pooled::pool(&refs, p, pooled::stream_for(point, metric)) {
        None => empty(String::new()),
        Some(x) => {
            let (lo, hi) = match x.ci95 {
                Some((lo, hi)) => (fmt_f64(lo), fmt_f64(hi)),
                None => (String::new(), String::new()),
            };
            vec![
                fmt_f64(x.value),
                x.n.to_string(),
                lo,
                hi,
                x.warning.unwrap_or_default(),
            ]
        }
    }
}

fn point_values(meta: &SweepMeta, point: usize) -> Vec<String> {
    let values = meta
        .points
        .iter()
        .find(|p| p.point == point)
        .map(|p| &p.values);
    meta.keys
        .iter()
        .map(|k| {
            values
                .and_then(|v| v.get(k))
                .map(fmt_value)
                .unwrap_or_default()
        })
        .collect()
}

fn csv_row(w: &mut csv::Writer<Vec<u8>>, row: &[String]) -> Result<(), SweepError> {
    w.write_record(row)
        .map_err(|e| SweepError::Input(format!("csv: {e}")))
}

fn csv_bytes(w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, SweepError> {
    w.into_inner()
        .map_err(|e| SweepError::Input(format!("csv: {e}")))
}

/// Write atomically ([`crate::output::files::write_file_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    crate::output::files::write_file_atomic(path, bytes).map_err(|e| SweepError::io(path, e))
}

/// Copy a folder tree (run folders hold only files and `plots/`).
pub fn copy_dir(from: &Path, to: &Path) -> Result<(), SweepError> {
    std::fs::create_dir_all(to).map_err(|e| SweepError::io(to, e))?;
    let entries = std::fs::read_dir(from).map_err(|e| SweepError::io(from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| SweepError::io(from, e))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let ft = entry.file_type().map_err(|e| SweepError::io(&src, e))?;
        if ft.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(|e| SweepError::io(&src, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_format_is_shortest_and_plain() {
        assert_eq!(fmt_f64(5.0), "5");
        assert_eq!(fmt_f64(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(fmt_f64(1e-7), "0.0000001");
        assert_eq!(fmt_value(&serde_json::json!("defer")), "defer");
        assert_eq!(fmt_value(&serde_json::json!(0.5)), "0.5");
        assert_eq!(fmt_value(&serde_json::json!(3)), "3");
        assert_eq!(fmt_value(&serde_json::json!([0.8, 1.4])), "[0.8,1.4]");
    }
}
