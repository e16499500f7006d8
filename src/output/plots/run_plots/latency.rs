//! `latency_cdf`: how long deliveries take, per path or per recipient policy.

use super::{cdf_points, fixed_hue, sort_by_order, thin, Ctx, PATH_ORDER, POLICY_ORDER};
use crate::output::plots::data::{num, read_csv, Histogram, Summary};
use crate::output::plots::figure::{Axis, AxisKind, Figure, Hue, Mark, Panel, Series};
use crate::output::plots::format;
use std::collections::BTreeMap;
use std::path::Path;

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
    // Still sticky and on its way when the run ended: not lost, but not delivered either.
    let mut pending: BTreeMap<String, usize> = BTreeMap::new();
    let mut pending_total = 0usize;
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
                Some(l) if !c[1].starts_with("lost") && c[1] != "pending" => {
                    groups.entry(key).or_default().push(l)
                }
                _ if c[1] == "pending" => {
                    pending_total += 1;
                    *pending.entry(key).or_default() += 1;
                }
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
                for k in lost.keys().chain(pending.keys()) {
                    if names.contains(k) {
                        continue;
                    }
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
                let (l, pend) = if by_policy {
                    (
                        lost.get(&name).copied().unwrap_or(0),
                        pending.get(&name).copied().unwrap_or(0),
                    )
                } else {
                    (0, 0)
                };
                let hue = fixed_hue(order, &name, &mut extra);
                let label = if by_policy {
                    let mut t = format!(
                        "{name}\n{} delivered, {} lost",
                        format::count(n as f64),
                        format::count(l as f64)
                    );
                    if pend > 0 {
                        t.push_str(&format!(", {} pending", format::count(pend as f64)));
                    }
                    t
                } else {
                    format!("{name}\n{} delivered", format::count(n as f64))
                };
                let mut pts = cdf_points(&mut v, n + l + pend);
                if pts.is_empty() {
                    if let Some(start) = x_start {
                        pts.push((start, 0.0));
                    }
                }
                let mut marks = vec![];
                if let (Some(&(x, y)), Some(end), true) = (pts.last(), x_end, l + pend > 0) {
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
                    "No pair was delivered ({} lost, {} still pending at the end), so there is no latency to plot.",
                    format::count(lost_total as f64),
                    format::count(pending_total as f64)
                ));
            }
            if by_policy && lost_total + pending_total > 0 {
                panel.x.max = x_end;
            }
            caption = if by_policy {
                "One line per inbound policy of the recipient's server (servers differ in policy); each line counts its lost and pending pairs, so a line that stays below 100% to the right edge shows pairs not delivered.".to_string()
            } else {
                let mut t =
                    "One line per delivery path, each over its own delivered pairs.".to_string();
                if lost_total > 0 {
                    t.push_str(&format!(
                        " {} lost pair(s) never arrived and are in no line.",
                        format::count(lost_total as f64)
                    ));
                } else if pending_total == 0 {
                    t.push_str(" Every due pair was delivered.");
                }
                if pending_total > 0 {
                    t.push_str(&format!(
                        " {} pair(s) were still pending (sticky and on their way) when the run ended, neither delivered nor lost.",
                        format::count(pending_total as f64)
                    ));
                }
                t
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
                    // Every due pair in the denominator (delivered, lost and pending), as in
                    // full mode: the line tops out at the delivered fraction.
                    let delivered = h.total();
                    let metric = |n: &str| ctx.summary.as_ref().and_then(|s| s.metric(n));
                    let due = match (metric("delivery.count"), metric("delivery.pending_at_end")) {
                        (Some(c), p) => c + p.unwrap_or(0.0),
                        _ => delivered,
                    };
                    let total = due.max(delivered);
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
                    let mut marks = vec![];
                    if let Some(&(x, y)) = pts.last() {
                        if total > delivered {
                            // A lost or pending pair never arrives: flat to the right edge.
                            marks.push(Mark::Line(vec![(x, y), (x * 1.25, y)]));
                            panel.x.max = Some(x * 1.25);
                        }
                    }
                    marks.insert(0, Mark::Line(thin(pts)));
                    panel.series.push(Series::new(
                        format!("all paths\n{} pairs", format::count(delivered)),
                        Hue::Palette(0),
                        marks,
                    ));
                    let mut c = "Summary mode (no deliveries.csv): drawn from the delivery.latency_ms histogram, so the resolution is one bucket; paths are not told apart.".to_string();
                    // The histogram holds delivered pairs only: say what is not in it.
                    let lost = ctx.metric("delivery.lost").unwrap_or(0.0);
                    let pending = ctx.metric("delivery.pending_at_end").unwrap_or(0.0);
                    if lost + pending > 0.0 {
                        c.push_str(&format!(
                            " Not delivered, so the line stays below 100%: {} lost and {} pending pair(s) (still on their way at the end).",
                            format::count(lost),
                            format::count(pending)
                        ));
                    } else if ctx.metric("delivery.lost").is_some() {
                        c.push_str(" Every due pair was delivered.");
                    }
                    caption = c;
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
