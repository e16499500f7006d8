//! `convergence`: whether the clients of each room see the same state.

use super::{change_points, thin, time_axis, Ctx, ROOM_LINES};
use crate::output::plots::data::{num, read_csv};
use crate::output::plots::figure::{
    shade_legend, Axis, AxisKind, Figure, Hue, Mark, Panel, Series,
};
use crate::output::plots::format;
use std::collections::BTreeMap;
use std::path::Path;

/// Distinct views per room over time (1 = every live client agrees), faults shaded.
pub fn convergence_figure(dir: &Path) -> Figure {
    let ctx = Ctx::load(dir);
    let mut rooms: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let read = read_csv(
        &dir.join("convergence.csv"),
        &["t_ms", "room", "distinct_views"],
        |_, c| {
            let t = num("t_ms", c[0])?.ok_or("empty t_ms")?;
            let v = num("distinct_views", c[2])?.unwrap_or(0.0);
            rooms.entry(c[1].to_string()).or_default().push((t, v));
            Ok(())
        },
    );
    let last_t = rooms
        .values()
        .flat_map(|v| v.last().map(|p| p.0))
        .fold(0.0, f64::max);
    let end = ctx
        .duration_ms()
        .or(if rooms.is_empty() { None } else { Some(last_t) });
    let mut panel = Panel::new(
        time_axis(end),
        Axis::new("distinct views among live clients", AxisKind::Count).range(Some(0.0), None),
    );
    panel.shades = ctx.shades(end, true);
    panel.shade_label = shade_legend(&panel.shades);
    let mut caption = "Number of different views of each room's sticky map among its live clients (1 = all agree, 0 = no live client).".to_string();
    match read {
        Ok(Some(_)) if !rooms.is_empty() && rooms.len() <= ROOM_LINES => {
            for (hue, (room, mut pts)) in rooms.into_iter().enumerate() {
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                panel.series.push(Series::new(
                    room,
                    Hue::Palette(hue),
                    vec![Mark::Step(thin(change_points(&pts)))],
                ));
            }
        }
        Ok(Some(_)) if !rooms.is_empty() => {
            // Too many rooms for one line each: count the rooms that disagree at each sample.
            let n_rooms = rooms.len();
            let mut at: BTreeMap<i64, f64> = BTreeMap::new();
            let mut worst: Vec<(f64, String)> = vec![];
            for (room, pts) in &rooms {
                let mut room_worst: f64 = 0.0;
                for (t, v) in pts {
                    let e = at.entry(*t as i64).or_insert(0.0);
                    if *v > 1.0 {
                        *e += 1.0;
                    }
                    room_worst = room_worst.max(*v);
                }
                worst.push((room_worst, room.clone()));
            }
            worst.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            let divergent: Vec<(f64, f64)> = at.iter().map(|(t, d)| (*t as f64, *d)).collect();
            // The axis fits the data (the legend says out of how many): a few divergent
            // rooms out of a thousand stay readable.
            panel.y =
                Axis::new("rooms whose clients disagree", AxisKind::Count).range(Some(0.0), None);
            panel.series.push(Series::new(
                format!("rooms with > 1 view\nout of {n_rooms}"),
                Hue::Palette(0),
                vec![Mark::Step(thin(change_points(&divergent)))],
            ));
            caption = format!(
                "{n_rooms} rooms, too many for a line each: the number of rooms whose live clients hold more than one view of the sticky map (0 = all agree). Most views at once: {} in {}.",
                format::count(worst.first().map(|w| w.0).unwrap_or(0.0)),
                worst.first().map(|w| w.1.as_str()).unwrap_or("-")
            );
        }
        Ok(Some(_)) => {
            panel.note = Some("convergence.csv has no rows: no room was sampled.".into())
        }
        Ok(None) => panel.note = Some("No convergence.csv in this folder.".into()),
        Err(e) => panel.note = Some(format!("Cannot read convergence samples: {e}")),
    }
    if !panel.shades.is_empty() {
        caption.push_str(" Shaded: injected faults.");
    }
    caption.push_str(&ctx.whole_run_note(end));
    Figure {
        name: "convergence".into(),
        title: "Do clients agree? Distinct views per room".into(),
        caption: caption + &ctx.caption_suffix(),
        panels: vec![panel],
    }
}
