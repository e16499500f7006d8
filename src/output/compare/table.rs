//! The paired table of every metric, `compare.csv` and `report.md`.

use super::{RunData, FAMILIES, HEADLINE};
use crate::output::plots::format;
use crate::output::report::format_metric;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

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
    let pooled = runs.iter().any(|r| r.pool.is_some());
    if pooled {
        s.push_str(",statistic");
        for r in runs {
            s.push(',');
            s.push_str(&csv_text(&format!("n {}", r.label)));
        }
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
        if pooled {
            let counts = counts(runs, n);
            let is_pooled = counts.iter().any(|c| c.is_some_and(|c| c.1));
            s.push_str(if is_pooled { ",pooled" } else { ",mean" });
            for c in counts {
                s.push(',');
                s.push_str(&csv_cell(c.map(|c| c.0)));
            }
        }
        s.push('\n');
    }
    s
}

/// Each run's count behind metric `name` (`None` for a run that is not a pooled point, or
/// has no such metric): (samples, true) for a pooled percentile, (seeds, false) for a mean.
fn counts(runs: &[RunData], name: &str) -> Vec<Option<(f64, bool)>> {
    runs.iter()
        .map(|r| r.pool.as_ref().and_then(|p| p.n.get(name).copied()))
        .collect()
}

/// The `n` cell of a pooled comparison: `5 / 5 seeds (mean)`, `10,500 / 3,100 samples
/// (pooled)`.
fn n_cell(runs: &[RunData], name: &str) -> String {
    let c = counts(runs, name);
    let is_pooled = c.iter().any(|c| c.is_some_and(|c| c.1));
    let ns: Vec<String> = c
        .iter()
        .map(|c| c.map(|c| format::count(c.0)).unwrap_or_else(|| "—".into()))
        .collect();
    let what = if is_pooled {
        "samples (pooled)"
    } else {
        "seeds (mean)"
    };
    format!("{} {what}", ns.join(" / "))
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
        // An array of tables (`workload`, `fault`) by index, as `--set` names them
        // (`workload.0.heartbeat.leave_delay`), so one changed key is one row.
        toml::Value::Array(a) if !a.is_empty() && a.iter().all(toml::Value::is_table) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}.{i}"), x, out);
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
        let seed = match &r.pool {
            Some(p) => {
                let seeds: Vec<String> = p.seeds.iter().map(u64::to_string).collect();
                format!("{} (pooled)", seeds.join(", "))
            }
            None => s
                .raw
                .get("seed")
                .map(|v| v.to_string())
                .unwrap_or_else(|| "?".into()),
        };
        let delivered = r
            .delivered_share()
            .map(|f| format!("{}%", format::sig(f * 100.0, 3)))
            .unwrap_or_else(|| "—".into());
        let digest = match &r.pool {
            Some(p) => format!("{} runs", p.runs.len()),
            None => s
                .str("digest")
                .map(|d| format!("`{}`", &d[..d.len().min(12)]))
                .unwrap_or_else(|| "—".into()),
        };
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

    let pooled = runs.iter().any(|r| r.pool.is_some());
    if pooled {
        let _ = writeln!(
            md,
            "Each point pools every seed's run, as the sweep's `aggregate.csv` and report do: a percentile of `delivery.latency_ms` (and of its `local` and `remote` parts) or `rtc.ghost_ms` is taken over every seed's samples together (n = samples), any other metric is the mean over seeds (n = seeds). The delivered share above and the latency CDF count every due pair of every seed; the convergence and federation lines are the mean over seeds. `--seed S` compares one seed's runs instead.\n"
        );
    }

    // The paired table.
    let names = metric_names(runs);
    let (n_head, n_rule) = if pooled { (" n |", " --: |") } else { ("", "") };
    let n_col = |name: &str| -> String {
        if pooled {
            format!(" {} |", n_cell(runs, name))
        } else {
            String::new()
        }
    };
    let _ = writeln!(md, "## Metrics\n");
    if runs.len() == 2 {
        let (a, b) = (&runs[0], &runs[1]);
        let _ = writeln!(
            md,
            "| metric | {} (A) | {} (B) | B − A | B / A |{n_head}\n| --- | --: | --: | --: | --: |{n_rule}",
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
                "| `{n}` | {} | {} | {d} | {q} |{}",
                value_cell(n, va),
                value_cell(n, vb),
                n_col(n)
            );
        }
    } else {
        let _ = write!(md, "| metric |");
        for r in runs {
            let _ = write!(md, " {} |", esc(&r.label));
        }
        let _ = write!(md, "{n_head}\n| --- |");
        for _ in runs {
            md.push_str(" --: |");
        }
        let _ = writeln!(md, "{n_rule}");
        for n in &names {
            let _ = write!(md, "| `{n}` |");
            for r in runs {
                let _ = write!(md, " {} |", value_cell(n, r.metrics.get(n).copied()));
            }
            let _ = writeln!(md, "{}", n_col(n));
        }
    }
    md.push_str("\nExact values: `compare.csv`.\n\n## Plots\n\n");
    for (stem, note) in plots {
        let _ = writeln!(md, "![{stem}](plots/{stem}.png)\n");
        if !note.is_empty() {
            let _ = writeln!(md, "{note}\n");
        }
    }
    if !plots.iter().any(|p| p.0 == "ghosts") {
        let _ = writeln!(
            md,
            "No `ghosts` chart: no run has a crashed MatrixRTC participant.\n"
        );
    }
    md
}
