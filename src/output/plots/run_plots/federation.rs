//! `federation`: `/send` attempts and their outcomes, and the servers' queues.

use super::{bin_width_ms, change_points, thin, time_axis, Ctx, Timeseries};
use crate::output::plots::data::{num, read_csv};
use crate::output::plots::figure::{
    cap_series, shade_legend, Axis, AxisKind, Figure, Hue, Mark, Panel, Series, LEGEND_CAP_SMALL,
};
use crate::output::plots::format;
use std::collections::BTreeMap;
use std::path::Path;

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
    let (queues, ts) = match Timeseries::load(dir) {
        Ok(Some(t)) => (t.queues, Ok(Some(()))),
        Ok(None) => (BTreeMap::new(), Ok(None)),
        Err(e) => (BTreeMap::new(), Err(e)),
    };
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
    top.shade_label = shade_legend(&top.shades);
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
    let largest = ctx.metric("federation.max_queue_depth");
    match ts {
        Ok(Some(_)) if !queues.is_empty() => {
            let items: Vec<(String, f64, Vec<Mark>)> = queues
                .into_iter()
                .map(|(server, pts)| {
                    let worst = pts.iter().map(|p| p.1).fold(0.0, f64::max);
                    sampled_max = sampled_max.max(worst);
                    if let Some(w) = pts.windows(2).map(|w| w[1].0 - w[0].0).find(|d| *d > 0.0) {
                        interval = Some(interval.map_or(w, |i: f64| i.min(w)));
                    }
                    (server, worst, vec![Mark::Step(thin(change_points(&pts)))])
                })
                .collect();
            if sampled_max > 0.0 {
                bottom.series = cap_series(items, "servers", LEGEND_CAP_SMALL);
            } else {
                // Every line at 0 is no picture: say it instead of drawing it.
                let mut note = format!(
                    "No server had a PDU queued at any sample ({} servers, every {}).",
                    format::count(items.len() as f64),
                    format::duration_ms(interval.unwrap_or(0.0))
                );
                if let Some(m) = largest.filter(|m| *m > 0.0) {
                    note.pop();
                    note.push_str(&format!(
                        "; the largest per-destination queue, {}, came and went between samples.",
                        format::count(m)
                    ));
                }
                bottom.note = Some(note);
            }
        }
        Ok(Some(_)) => bottom.note = Some("timeseries.csv has no rows.".into()),
        Ok(None) => bottom.note = Some("No timeseries.csv in this folder.".into()),
        Err(e) => bottom.note = Some(format!("Cannot read queue samples: {e}")),
    }
    let attempts = format!(
        "/send attempts per {} bin (bars), and those answered 429, timed out or refused (lines).",
        format::duration_ms(width)
    );
    // The bottom panel is described only when drawn: a left-out panel says why instead.
    let mut caption = if bottom.has_data() {
        format!("Top: {attempts} Bottom: PDUs queued at each server for all destinations (legend: the servers with the deepest queues).")
    } else {
        attempts
    };
    if !top.shades.is_empty() {
        caption.push_str(" Shaded: injected faults.");
    }
    if let (Some(m), true) = (largest, bottom.has_data()) {
        caption.push_str(&format!(
            " Largest per-destination queue: {}",
            format::count(m)
        ));
        match interval {
            // The samples cannot show what happened between them: say so, not hide it.
            Some(i) if m > sampled_max => caption.push_str(&format!(
                ", between samples (every {}), so not in the lines.",
                format::duration_ms(i)
            )),
            _ => caption.push('.'),
        }
    }
    caption.push_str(&ctx.whole_run_note(end));
    Figure {
        name: "federation".into(),
        title: "Federation: attempts, rate limiting and queues".into(),
        caption: caption + &ctx.caption_suffix(),
        panels: vec![top, bottom],
    }
}
