//! `spam_window`: inactionable sticky events per `/sync` response over time.

use super::{bin_width_ms, change_points, thin, time_axis, Ctx, FreshSync, Timeseries};
use crate::output::plots::data::{num, read_csv};
use crate::output::plots::figure::{Axis, AxisKind, Figure, Hue, Mark, Markers, Panel, Series};
use crate::output::plots::format;
use std::path::Path;

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
    panel.markers = Markers::new(
        "sticky leave sent",
        ctx.summary
            .as_ref()
            .map(|s| s.times("leaves_ms"))
            .unwrap_or_default(),
    );
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
                // Lines along 0 are no picture: the panel is left out, with this as why.
                panel.series.clear();
                panel.title = Some("per /sync response".into());
                panel.note = Some(
                    "No /sync response carried an inactionable sticky event in this run.".into(),
                );
            } else if let Some(w) = ctx.metric("spam.window_ms") {
                caption.push_str(&format!(" spam.window_ms = {}", format::duration_ms(w)));
                if w == 0.0 {
                    // Not a contradiction of the spikes: the window needs waste to outweigh need.
                    caption.push_str(": at no instant did the waste in a fresh /sync outweigh the live keys it carries.");
                } else if ctx.metric("spam.window_censored").is_some_and(|c| c > 0.0) {
                    // The window was still open at the end: the figure is a lower bound.
                    caption.push_str(", censored: the window was still open when the run ended, so it is a lower bound (a longer run would report more).");
                } else {
                    caption.push('.');
                }
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
    let mut panels = vec![panel];
    if let Some((mut fresh, note)) = fresh_panel(dir, end) {
        if !panels[0].has_data() {
            // The leaves move to the panel that is drawn.
            fresh.markers = std::mem::take(&mut panels[0].markers);
            caption = note.replacen("Lower: w", "W", 1);
        } else {
            caption.push(' ');
            caption.push_str(&note);
        }
        panels.push(fresh);
    }
    Figure {
        name: "spam_window".into(),
        title: match (panels[0].has_data(), panels.len() > 1) {
            (true, true) => "Inactionable sticky events: per /sync response, and in a fresh /sync",
            (false, true) => "Inactionable sticky events in a fresh /sync",
            _ => "Inactionable sticky events per /sync response",
        }
        .into(),
        caption: caption + &ctx.caption_suffix(),
        panels,
    }
}

/// What a client syncing afresh would receive (timeseries.csv `fresh_*`), per sample at the
/// server where most of it is waste: the unexpired sticky events, the inactionable ones,
/// and with a flood, inactionable + flood (all the waste). `None` without the columns or
/// when nothing was ever waste.
fn fresh_panel(dir: &Path, end: Option<f64>) -> Option<(Panel, String)> {
    let ts = Timeseries::load(dir).ok()??;
    let fresh = ts.worst_fresh;
    if fresh.values().all(|f| f.waste() == 0.0) {
        return None;
    }
    let mut panel = Panel::new(
        time_axis(end),
        Axis::new("events in a fresh /sync", AxisKind::Count).range(Some(0.0), None),
    );
    let line = |f: fn(&FreshSync) -> f64| -> Vec<(f64, f64)> {
        fresh
            .iter()
            .map(|(t, r)| (*t as f64 / 1000.0, f(r)))
            .collect()
    };
    panel.series.push(Series::new(
        "unexpired sticky",
        Hue::Palette(0),
        vec![Mark::Step(thin(change_points(&line(|r| r.sticky))))],
    ));
    panel.series.push(Series::new(
        "inactionable",
        Hue::Palette(3),
        vec![Mark::Step(thin(change_points(&line(|r| r.inactionable))))],
    ));
    let flood = fresh.values().any(|r| r.flood > 0.0);
    if flood {
        panel.series.push(Series::new(
            "inactionable + flood\nflood: > 10 keys/sender",
            Hue::Palette(1),
            vec![Mark::Step(thin(change_points(&line(FreshSync::waste))))],
        ));
    }
    let note = format!(
        "Lower: what a client syncing afresh would receive, at each sample at the server where most of it is waste; where the {} line meets the unexpired one, everything it would receive is waste.",
        if flood { "inactionable + flood" } else { "inactionable" }
    );
    Some((panel, note))
}
