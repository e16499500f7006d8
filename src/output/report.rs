//! `report.md` for a run folder and a sweep folder: what was run, the claims with ✅/❌,
//! the headline metrics in small tables by family, and the plots linked by relative path.
//! Written to paste into a GitHub comment. The same folder gives the same bytes.

use crate::output::plots::data::{read_csv, Summary};
use crate::output::plots::format;
use crate::output::plots::{short_key, value_text, SweepData, LEFT_OUT_FILE};
use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Families in the order the report shows them (README "Metrics"), each with a heading.
const FAMILIES: [(&str, &str); 7] = [
    ("delivery", "Delivery"),
    ("federation", "Federation"),
    ("sync", "Sync"),
    ("spam", "Spam"),
    ("convergence", "Convergence"),
    ("rtc", "MatrixRTC"),
    ("sim", "Simulator"),
];

/// README "Metrics" order within a family; names not listed follow alphabetically.
const METRIC_ORDER: &[&str] = &[
    "delivery.delivered_fraction",
    "delivery.within_1s",
    "delivery.within_10s",
    "delivery.within_60s",
    "delivery.count",
    "delivery.lost",
    "delivery.pending_at_end",
    "delivery.lost_by_cause",
    "delivery.by_path",
    "delivery.latency_ms",
    "federation.attempts",
    "federation.retries",
    "federation.rate_limited",
    "federation.timeouts",
    "federation.bytes",
    "federation.max_queue_depth",
    "sync.max_sticky_per_response",
    "sync.mean_bytes",
    "spam.inactionable_events",
    "spam.window_ms",
    "spam.window_censored",
    "spam.inactionable_integral",
    "convergence.time_to_converge_ms",
    "convergence.final_divergent_rooms",
    "convergence.max_divergence_ms",
    "rtc.ghost_ms",
    "rtc.ghost_participant_s",
    "rtc.join_visible_ms",
    "sim.events",
    "sim.wall_s",
    "sim.events_per_s",
];

/// Sub-keys of a grouped metric in reading order.
const SUB_ORDER: [&str; 6] = ["p50", "p90", "p99", "max", "mean", "min"];

/// The plots a run report embeds: (file stem, alt text).
const RUN_PLOTS: [(&str, &str); 5] = [
    ("latency_cdf", "latency CDF"),
    ("spam_window", "spam window"),
    ("convergence", "convergence"),
    ("federation", "federation"),
    ("rtc_ghosts", "RTC ghosts"),
];

/// A metric value with its unit, rounded for reading.
pub fn format_metric(name: &str, v: f64) -> String {
    if name.ends_with("_censored") {
        (if v != 0.0 { "yes" } else { "no" }).into()
    } else if name.ends_with("inactionable_integral") {
        format!("{} event·s", format::sig(v, 4))
    } else if name.contains("_ms") {
        format::duration_ms(v)
    } else if name.contains("bytes") {
        format::bytes(v)
    } else if name.ends_with("events_per_s") {
        format!("{}/s", format::count(v.round()))
    } else if name.ends_with("_s") {
        format!("{} s", format::sig(v, 3))
    } else if name.contains("fraction")
        || (name.starts_with("delivery.") && name.contains(".within_"))
    {
        format!("{}%", format::sig(v * 100.0, 3))
    } else if v.fract() == 0.0 {
        format::count(v)
    } else {
        format::sig(v, 4)
    }
}

/// What a reader must know to read a metric right, shown after its name in the report.
fn metric_note(name: &str) -> &'static str {
    match name {
        "delivery.delivered_fraction" => " (of all due pairs)",
        "delivery.within_1s" | "delivery.within_10s" | "delivery.within_60s" => {
            " (of all due pairs; lost and pending count as not within)"
        }
        "delivery.latency_ms" => " (over delivered pairs only)",
        "delivery.local" => " (recipient on the sender's own server; fractions of its due pairs)",
        "delivery.remote" => " (recipient on another server; fractions of its due pairs)",
        "delivery.local.latency_ms" | "delivery.remote.latency_ms" => {
            " (over delivered pairs only)"
        }
        "spam.window_ms" => " (longest stretch)",
        _ => "",
    }
}

fn esc(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn order_key(name: &str) -> (usize, String) {
    (
        METRIC_ORDER
            .iter()
            .position(|m| *m == name)
            .unwrap_or(METRIC_ORDER.len()),
        name.to_string(),
    )
}

fn sub_key(s: &str) -> (usize, String) {
    (
        SUB_ORDER
            .iter()
            .position(|m| *m == s)
            .unwrap_or(SUB_ORDER.len()),
        s.to_string(),
    )
}

/// Metric rows of one family: a metric with sub-keys (`delivery.latency_ms.p50`, `.p99`,
/// ...) becomes one row "p50 81 ms · p99 1.2 s".
fn family_rows(metrics: &[(String, f64)]) -> Vec<(String, String)> {
    let mut groups: BTreeMap<(usize, String), Vec<(String, f64)>> = BTreeMap::new();
    let mut singles: BTreeMap<(usize, String), f64> = BTreeMap::new();
    // A name's parent is a group when at least two metrics share it and it is not the family.
    let mut parents: BTreeMap<String, usize> = BTreeMap::new();
    for (name, _) in metrics {
        if let Some((parent, _)) = name.rsplit_once('.') {
            if parent.contains('.') {
                *parents.entry(parent.to_string()).or_default() += 1;
            }
        }
    }
    for (name, v) in metrics {
        match name.rsplit_once('.') {
            Some((parent, leaf)) if parents.get(parent).copied().unwrap_or(0) >= 2 => groups
                .entry(order_key(parent))
                .or_default()
                .push((leaf.to_string(), *v)),
            _ => {
                singles.insert(order_key(name), *v);
            }
        }
    }
    let mut rows: BTreeMap<(usize, String), (String, String)> = BTreeMap::new();
    for (k, v) in singles {
        rows.insert(
            k.clone(),
            (
                format!("`{}`{}", k.1, metric_note(&k.1)),
                format_metric(&k.1, v),
            ),
        );
    }
    for (k, mut subs) in groups {
        subs.sort_by_key(|(leaf, _)| sub_key(leaf));
        let text = subs
            .iter()
            .map(|(leaf, v)| format!("{leaf} {}", format_metric(&format!("{}.{leaf}", k.1), *v)))
            .collect::<Vec<_>>()
            .join(" · ");
        rows.insert(k.clone(), (format!("`{}`{}", k.1, metric_note(&k.1)), text));
    }
    rows.into_values().collect()
}

fn op_symbol(op: &str) -> &str {
    match op {
        "equals" | "eq" => "=",
        "max" | "le" | "at_most" => "≤",
        "min" | "ge" | "at_least" => "≥",
        "lt" => "<",
        "gt" => ">",
        other => other,
    }
}

/// One `[[expect]]` as (pass, claim, actual).
fn expect_row(e: &Value) -> (Option<bool>, String, String) {
    let metric = e.get("metric").and_then(Value::as_str).unwrap_or("?");
    let op = e.get("op").and_then(Value::as_str).unwrap_or("");
    let claim = match e.get("value") {
        Some(v) if !op.is_empty() => {
            let shown = v
                .as_f64()
                .map(|x| format_metric(metric, x))
                .unwrap_or_else(|| value_text(v));
            format!("`{metric}` {} {shown}", op_symbol(op))
        }
        _ => e
            .get("text")
            .and_then(Value::as_str)
            .map(|t| format!("`{}`", esc(t)))
            .unwrap_or_else(|| format!("`{metric}`")),
    };
    let actual = match e.get("actual") {
        Some(v) if v.is_number() => format_metric(metric, v.as_f64().unwrap_or(f64::NAN)),
        Some(Value::Null) | None => "no data".into(),
        Some(v) => esc(&value_text(v)),
    };
    (e.get("pass").and_then(Value::as_bool), claim, actual)
}

fn mark(pass: Option<bool>) -> &'static str {
    match pass {
        Some(true) => "✅",
        Some(false) => "❌",
        None => "❔",
    }
}

fn short_digest(d: &str) -> String {
    if d.is_empty() {
        "—".into()
    } else {
        format!("`{d}`")
    }
}

/// The text of a run folder's report (what [`write_report`] writes).
pub fn run_report_text(dir: &Path) -> Result<String> {
    let s = Summary::load(dir)
        .map_err(|e| anyhow!("{}: {e}", dir.display()))?
        .ok_or_else(|| anyhow!("{} has no summary.json", dir.display()))?;
    let mut md = String::new();
    let name = s.str("scenario").unwrap_or("unnamed scenario");
    let seed = s
        .raw
        .get("seed")
        .map(value_text)
        .unwrap_or_else(|| "?".into());
    let _ = writeln!(md, "# stickysim run: {name}, seed {seed}\n");
    if let Some(d) = s.str("description").filter(|d| !d.is_empty()) {
        let _ = writeln!(md, "> {}\n", d.replace('\n', "\n> "));
    }

    let expects: Vec<Value> = s
        .raw
        .get("expect")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let rows: Vec<_> = expects.iter().map(expect_row).collect();
    if !rows.is_empty() {
        let held = rows.iter().filter(|r| r.0 == Some(true)).count();
        let verdict = if held == rows.len() { "✅" } else { "❌" };
        let _ = writeln!(md, "**Claims: {held} of {} hold** {verdict}\n", rows.len());
    }
    if let Some(note) = s.str("expect_note").filter(|n| !n.is_empty()) {
        // The note says what it is ("claims not checked (--no-expect): ..."): one line, bold.
        let mut chars = note.chars();
        let note: String = chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default();
        let _ = writeln!(md, "**{}**\n", esc(&note));
    }

    // What was run.
    let _ = writeln!(md, "| run | |\n| --- | --- |");
    let _ = writeln!(md, "| scenario | `{}` |", esc(name));
    let _ = writeln!(md, "| seed | {seed} |");
    if let Some(d) = s.duration_ms() {
        let events = s
            .f64("events")
            .map(|e| format!(" ({} events)", format::count(e)))
            .unwrap_or_default();
        let _ = writeln!(md, "| simulated | {}{events} |", format::duration_ms(d));
    }
    if let Some(w) = s.f64("wall_s") {
        let rate = match s.f64("events") {
            Some(e) if w > 0.0 => format!(" ({}/s)", format::count((e / w).round())),
            _ => String::new(),
        };
        let _ = writeln!(md, "| wall time | {} s{rate} |", format::sig(w, 3));
    }
    let records = s.str("records").unwrap_or("?");
    match s.str("records_note").filter(|n| !n.is_empty()) {
        Some(note) => {
            let _ = writeln!(md, "| records | {records}: {} |", esc(note));
        }
        None => {
            let _ = writeln!(md, "| records | {records} |");
        }
    }
    let _ = writeln!(md, "| stickysim | {} |", s.str("version").unwrap_or("?"));
    let _ = writeln!(
        md,
        "| scenario digest | {} |",
        short_digest(s.str("scenario_digest").unwrap_or(""))
    );
    let _ = writeln!(
        md,
        "| run digest | {} |\n",
        short_digest(s.str("digest").unwrap_or(""))
    );

    if !rows.is_empty() {
        let _ = writeln!(md, "## Claims\n\n| | claim | actual |\n| --- | --- | --- |");
        for (pass, claim, actual) in &rows {
            let _ = writeln!(md, "| {} | {claim} | {actual} |", mark(*pass));
        }
        md.push('\n');
    }

    // Metrics by family.
    let metrics: Vec<(String, f64)> = s
        .raw
        .get("metrics")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
                .collect()
        })
        .unwrap_or_default();
    let _ = writeln!(md, "## Metrics\n");
    if metrics.is_empty() {
        let _ = writeln!(md, "summary.json has no metrics.\n");
    }
    let mut by_family: BTreeMap<usize, (String, Vec<(String, f64)>)> = BTreeMap::new();
    for (k, v) in metrics {
        let fam = k.split('.').next().unwrap_or("").to_string();
        let idx = FAMILIES
            .iter()
            .position(|(f, _)| *f == fam)
            .unwrap_or(FAMILIES.len());
        let title = FAMILIES
            .get(idx)
            .map(|f| f.1.to_string())
            .unwrap_or_else(|| "Other".into());
        by_family
            .entry(idx)
            .or_insert((title, vec![]))
            .1
            .push((k, v));
    }
    for (_, (title, ms)) in by_family {
        let _ = writeln!(md, "### {title}\n\n| metric | value |\n| --- | --- |");
        for (name, value) in family_rows(&ms) {
            let _ = writeln!(md, "| {name} | {value} |");
        }
        md.push('\n');
    }

    // Plots by relative path.
    let _ = writeln!(md, "## Plots\n");
    let present: Vec<_> = RUN_PLOTS
        .iter()
        .filter(|(stem, _)| dir.join("plots").join(format!("{stem}.png")).is_file())
        .collect();
    if present.is_empty() {
        let _ = writeln!(
            md,
            "No plots in `plots/` yet: `stickysim plot <this folder>` draws them.\n"
        );
    }
    for (stem, alt) in present {
        let _ = writeln!(md, "![{alt}](plots/{stem}.png)\n");
    }
    left_out_plots(dir, &mut md);
    sequence_section(dir, &mut md);
    Ok(md.trim_end().to_string() + "\n")
}

/// `--trace` runs: the start of `sequence.mmd` as a mermaid block.
fn sequence_section(dir: &Path, md: &mut String) {
    let Ok(mmd) = std::fs::read_to_string(dir.join("sequence.mmd")) else {
        return;
    };
    use crate::output::sequence_excerpt::{excerpt, REPORT_SEQUENCE_ITEMS};
    let (diagram, hidden) = excerpt(&mmd, REPORT_SEQUENCE_ITEMS);
    let _ = writeln!(md, "## Sequence diagram\n");
    if hidden > 0 {
        let _ = writeln!(
            md,
            "The first {REPORT_SEQUENCE_ITEMS} messages of `sequence.mmd` ({hidden} more there; every message is in `trace.jsonl`). To see another part, rerun with `--trace-filter` (e.g. `--trace-filter t=10m..12m,key=A`).\n"
        );
    } else {
        let _ = writeln!(
            md,
            "From `sequence.mmd` (every message is in `trace.jsonl`).\n"
        );
    }
    let _ = writeln!(md, "```mermaid\n{}```\n", diagram);
}

/// Plots and panels the plotter left out because they had nothing to show
/// (`plots/left_out.txt`, one `name<TAB>reason` per line).
fn left_out_plots(dir: &Path, md: &mut String) {
    let Ok(text) = std::fs::read_to_string(dir.join("plots").join(LEFT_OUT_FILE)) else {
        return;
    };
    let rows: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once('\t')).collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(md, "Not drawn, because there was nothing to show:\n");
    for (what, why) in rows {
        let _ = writeln!(md, "- {what}: {why}");
    }
    md.push('\n');
}

fn write_atomic(path: &Path, text: &str) -> Result<()> {
    crate::output::files::write_file_atomic(path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes `<dir>/report.md` for a run folder (needs `summary.json`).
pub fn write_report(dir: &Path) -> Result<PathBuf> {
    let text = run_report_text(dir)?;
    let path = dir.join("report.md");
    write_atomic(&path, &text)?;
    Ok(path)
}

/// The text of a sweep folder's report (what [`write_sweep_report`] writes).
pub fn sweep_report_text(dir: &Path) -> Result<String> {
    let d = SweepData::load(dir)?;
    let mut md = String::new();
    let _ = writeln!(md, "# stickysim sweep: {}\n", d.scenario);
    let _ = writeln!(md, "| sweep | |\n| --- | --- |");
    let _ = writeln!(md, "| scenario | `{}` |", esc(&d.scenario));
    let _ = writeln!(
        md,
        "| scenario digest | {} |",
        short_digest(&d.scenario_digest)
    );
    for k in &d.keys {
        let vals: Vec<String> = d.values_of(k).iter().map(value_text).collect();
        let _ = writeln!(md, "| `{}` | {} |", esc(k), esc(&vals.join(", ")));
    }
    let _ = writeln!(
        md,
        "| points × seeds | {} × {} |\n",
        d.points.len(),
        d.seeds.len()
    );

    // Claims across runs, from each run folder's summary.json listed in sweep.csv.
    let mut runs: Vec<String> = vec![];
    let _ = read_csv(&dir.join("sweep.csv"), &["run"], |_, c| {
        runs.push(c[0].to_string());
        Ok(())
    });
    let mut claims: Vec<(String, usize, usize)> = vec![];
    let mut missing = 0;
    for run in &runs {
        match Summary::load(&dir.join(run)) {
            Ok(Some(s)) => {
                for e in s
                    .raw
                    .get("expect")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let (pass, claim, _) = expect_row(e);
                    let i = match claims.iter().position(|c| c.0 == claim) {
                        Some(i) => i,
                        None => {
                            claims.push((claim, 0, 0));
                            claims.len() - 1
                        }
                    };
                    claims[i].2 += 1;
                    if pass == Some(true) {
                        claims[i].1 += 1;
                    }
                }
            }
            _ => missing += 1,
        }
    }
    if !claims.is_empty() {
        let _ = writeln!(
            md,
            "## Claims across runs\n\n| | claim | runs where it holds |\n| --- | --- | --- |"
        );
        for (claim, held, total) in &claims {
            let m = if held == total { "✅" } else { "❌" };
            let _ = writeln!(md, "| {m} | {claim} | {held} of {total} |");
        }
        if missing > 0 {
            let _ = writeln!(
                md,
                "\n{missing} run folder(s) listed in sweep.csv have no readable summary.json."
            );
        }
        md.push('\n');
    }

    if let Some(p) = &d.agg_problem {
        let _ = writeln!(md, "{p}\n");
    }
    const MAX_ROWS: usize = 40;
    for metric in &d.headline {
        let _ = writeln!(md, "## `{metric}`\n");
        let pooled = d.points.iter().any(|(p, _)| {
            d.agg
                .get(&(metric.clone(), *p))
                .is_some_and(|a| a.pooled.is_some())
        });
        if pooled {
            let _ = writeln!(
                md,
                "The percentile of every sample of the point's seeds together (n = samples); the interval resamples the seeds (`aggregate.csv` `pooled*`; the mean of the seeds' own values is in `mean`).\n"
            );
        }
        let mut header = String::from("|");
        let mut rule = String::from("|");
        for k in &d.keys {
            let _ = write!(header, " {} |", esc(short_key(k)));
            rule.push_str(" --- |");
        }
        let (value, n) = if pooled {
            ("pooled", "samples")
        } else {
            ("mean", "n")
        };
        let _ = writeln!(
            md,
            "{header} {value} | 95% CI | {n} | note |\n{rule} --- | --- | --- | --- |"
        );
        let mut shown = 0;
        let mut absent = 0;
        for (point, vals) in &d.points {
            let Some(a) = d.agg.get(&(metric.clone(), *point)) else {
                absent += 1;
                continue;
            };
            shown += 1;
            if shown > MAX_ROWS {
                continue;
            }
            let mut row = String::from("|");
            for k in &d.keys {
                let v = vals.get(k).map(value_text).unwrap_or_default();
                let _ = write!(row, " {} |", esc(&v));
            }
            let ci = match a.interval() {
                Some((lo, hi)) => format!(
                    "{} – {}",
                    format_metric(metric, lo),
                    format_metric(metric, hi)
                ),
                None => "—".into(),
            };
            let count = match (a.pooled, a.pooled_n) {
                (Some(_), Some(n)) => n,
                _ => a.n,
            };
            let _ = writeln!(
                md,
                "{row} {} | {ci} | {} | {} |",
                format_metric(metric, a.value()),
                format::count(count),
                esc(&a.warning)
            );
        }
        if shown > MAX_ROWS {
            let _ = writeln!(md, "\n{} more points in `aggregate.csv`.", shown - MAX_ROWS);
        }
        if absent > 0 {
            let _ = writeln!(md, "\nNo data at {absent} point(s).");
        }
        md.push('\n');
        for k in &d.keys {
            let stem = format!(
                "sweep_{}__{}",
                crate::output::plots::file_safe(metric),
                crate::output::plots::file_safe(k)
            );
            if dir.join("plots").join(format!("{stem}.png")).is_file() {
                let _ = writeln!(md, "![{metric} vs {}](plots/{stem}.png)\n", short_key(k));
            }
        }
    }
    if let [a, b] = d.tradeoff.as_slice() {
        let stem = format!(
            "tradeoff_{}__{}",
            crate::output::plots::file_safe(a),
            crate::output::plots::file_safe(b)
        );
        let _ = writeln!(md, "## Trade-off: `{b}` vs `{a}`\n");
        let _ = writeln!(
            md,
            "Each dot is a point; the line joins the Pareto front (no other point is better on both).\n"
        );
        if dir.join("plots").join(format!("{stem}.png")).is_file() {
            let _ = writeln!(md, "![trade-off](plots/{stem}.png)\n");
        }
    }
    Ok(md.trim_end().to_string() + "\n")
}

/// Writes `<dir>/report.md` for a sweep folder (needs `sweep.json`).
pub fn write_sweep_report(dir: &Path) -> Result<PathBuf> {
    let text = sweep_report_text(dir)?;
    let path = dir.join("report.md");
    write_atomic(&path, &text)?;
    Ok(path)
}
