//! `rtc_ghosts`: how long a crashed MatrixRTC participant stays visible.

use super::{bin_width_ms, Ctx};
use crate::output::plots::data::{num, read_csv};
use crate::output::plots::figure::{Axis, AxisKind, Figure, Hue, Mark, Panel, Series};
use crate::output::plots::format;
use std::path::Path;

/// Ghost time of crashed MatrixRTC participants: crash until no live client shows them.
pub fn rtc_ghosts_figure(dir: &Path) -> Figure {
    let ctx = Ctx::load(dir);
    let mut ghosts: Vec<f64> = vec![];
    let mut never = 0usize;
    let read = read_csv(&dir.join("ghosts.csv"), &["ghost_ms"], |_, c| {
        match num("ghost_ms", c[0])? {
            Some(g) => ghosts.push(g),
            None => never += 1,
        }
        Ok(())
    });
    let mut panel = Panel::new(
        Axis::new(
            "ghost time: crash → no live client shows the participant",
            AxisKind::Time,
        ),
        Axis::new("crashed participants", AxisKind::Count),
    );
    let mut caption = String::new();
    match read {
        Ok(Some(_)) if !ghosts.is_empty() => {
            ghosts.sort_by(f64::total_cmp);
            let (lo, hi) = (ghosts[0], ghosts[ghosts.len() - 1]);
            // Bins are sized to the axis, which starts at 0 (no ghost at all) unless a
            // value is negative: one ghost of 6.7 s is a bar 6.5..7 s on a 0..7 s axis,
            // not a sliver at the right edge.
            let width = bin_width_ms((hi - lo.min(0.0)).max(1.0), 15);
            let first = (lo / width).floor() * width;
            let nbins = (((hi - first) / width).floor() as usize + 1).min(10_000);
            let mut counts = vec![0.0; nbins];
            for g in &ghosts {
                let b = (((g - first) / width) as usize).min(nbins - 1);
                counts[b] += 1.0;
            }
            let bars = counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0.0)
                .map(|(b, c)| (first + b as f64 * width, first + (b + 1) as f64 * width, *c))
                .collect();
            panel.x = panel.x.range(Some(first.min(0.0)), Some(first + nbins as f64 * width));
            panel.series.push(Series::new(
                format!("{} bins", format::duration_ms(width)),
                Hue::Palette(0),
                vec![Mark::Bars(bars)],
            ));
            let median = ghosts[ghosts.len() / 2];
            caption = format!(
                "{} crashed participant(s) disappeared; median {}, max {}.",
                format::count(ghosts.len() as f64),
                format::duration_ms(median),
                format::duration_ms(hi)
            );
        }
        Ok(Some(_)) => {
            panel.note = Some(if never > 0 {
                format!("None of the {never} crashed participant(s) disappeared before the end of the run.")
            } else {
                "ghosts.csv has no rows: no MatrixRTC participant crashed in this run.".into()
            })
        }
        Ok(None) => match ctx.summary.as_ref().map(|s| s.histogram("rtc.ghost_ms")).unwrap_or(Ok(None)) {
            Ok(Some(h)) if h.buckets.iter().any(|b| b.2 > 0.0) => {
                panel.x = panel.x.log();
                panel.x.label = "ghost time (log scale)".into();
                let bars = h.buckets.iter().filter(|b| b.2 > 0.0).copied().collect();
                panel
                    .series
                    .push(Series::new("histogram bucket", Hue::Palette(0), vec![Mark::Bars(bars)]));
                caption = "Summary mode: from the rtc.ghost_ms histogram in summary.json.".into();
            }
            Ok(_) => {
                panel.note = Some("No ghosts.csv and no rtc.ghost_ms histogram: no MatrixRTC participant crashed, or this run has no MatrixRTC workload.".into())
            }
            Err(e) => panel.note = Some(e),
        },
        Err(e) => panel.note = Some(format!("Cannot read ghost times: {e}")),
    }
    if never > 0 && panel.has_data() {
        caption.push_str(&format!(
            " {never} more never disappeared before the end and are not drawn."
        ));
    }
    caption.push_str(" A crash leaves no leave event: the MSC4140 delayed leave (leave_delay) or expiry removes it.");
    Figure {
        name: "rtc_ghosts".into(),
        title: "MatrixRTC ghosts: how long a crashed participant stays visible".into(),
        caption: caption.trim_start().to_string() + &ctx.caption_suffix(),
        panels: vec![panel],
    }
}
