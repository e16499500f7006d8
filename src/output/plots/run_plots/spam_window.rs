//! `spam_window`: inactionable sticky events per `/sync` response over time.

use super::{bin_width_ms, time_axis, Ctx};
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
                caption =
                    "No /sync response carried an inactionable sticky event in this run.".into();
            } else if let Some(w) = ctx.metric("spam.window_ms") {
                caption.push_str(&format!(" spam.window_ms = {}", format::duration_ms(w)));
                if ctx.metric("spam.window_censored").is_some_and(|c| c > 0.0) {
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
    Figure {
        name: "spam_window".into(),
        title: "Inactionable sticky events per /sync response".into(),
        caption: caption + &ctx.caption_suffix(),
        panels: vec![panel],
    }
}
