//! The legend: its entries, their swatches, and the column they are drawn in.

use super::text_fit::{fit, fit_middle, font, text_w, wrap};
use super::{color, de, LEGEND_PX, MUTED, TICK_PX};
use crate::output::plots::figure::{Hue, Mark, Panel, Series};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One legend entry: "name" or "name\ndetail", and its swatch.
pub(super) struct LegendRow {
    text: String,
    kind: LegendSwatch,
}
enum LegendSwatch {
    Line(RGBColor, u32),
    Box(RGBColor, f64),
    Bar(RGBColor),
    VLine,
}

fn swatch_for(s: &Series) -> LegendSwatch {
    let c = color(s.hue);
    let width = if s.hue == Hue::Other { 1 } else { 3 };
    if s.marks
        .iter()
        .any(|m| matches!(m, Mark::Line(_) | Mark::Step(_) | Mark::ErrorBars(_)))
    {
        LegendSwatch::Line(c, width)
    } else if s.marks.iter().any(|m| matches!(m, Mark::Bars(_))) {
        LegendSwatch::Bar(c)
    } else if s.marks.iter().any(|m| matches!(m, Mark::Points(_))) {
        LegendSwatch::Line(c, 6)
    } else {
        LegendSwatch::Box(c, 0.18)
    }
}

fn draw_swatch<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    kind: &LegendSwatch,
    (x, y): (i32, i32),
) -> Result<()> {
    match kind {
        LegendSwatch::Line(c, w) => root
            .draw(&PathElement::new(
                vec![(x, y), (x + 20, y)],
                c.stroke_width(*w),
            ))
            .map_err(de),
        LegendSwatch::Box(c, a) => root
            .draw(&Rectangle::new(
                [(x, y - 6), (x + 20, y + 6)],
                c.mix(*a).filled(),
            ))
            .map_err(de),
        LegendSwatch::Bar(c) => root
            .draw(&Rectangle::new(
                [(x + 2, y - 6), (x + 18, y + 6)],
                c.mix(0.75).filled(),
            ))
            .map_err(de),
        LegendSwatch::VLine => root
            .draw(&PathElement::new(
                vec![(x + 10, y - 7), (x + 10, y + 7)],
                BLACK.mix(0.5).stroke_width(1),
            ))
            .map_err(de),
    }
}

/// Legend entries: coloured series in order, then "others", then shades and markers
/// (none for a panel without data).
pub(super) fn legend_rows(p: &Panel) -> Vec<LegendRow> {
    let mut legend: Vec<LegendRow> = vec![];
    if p.has_data() {
        for s in p
            .series
            .iter()
            .filter(|s| !s.name.is_empty() && !s.is_empty())
        {
            if s.hue == Hue::Other {
                continue;
            }
            legend.push(LegendRow {
                text: s.name.clone(),
                kind: swatch_for(s),
            });
        }
        for s in p
            .series
            .iter()
            .filter(|s| !s.name.is_empty() && !s.is_empty())
        {
            if s.hue == Hue::Other {
                legend.push(LegendRow {
                    text: s.name.clone(),
                    kind: swatch_for(s),
                });
            }
        }
        if !p.shades.is_empty() && !p.shade_label.is_empty() {
            legend.push(LegendRow {
                text: p.shade_label.clone(),
                kind: LegendSwatch::Box(BLACK, 0.10),
            });
        }
        if !p.markers.at.is_empty() && !p.markers.label.is_empty() {
            legend.push(LegendRow {
                text: p.markers.label.clone(),
                kind: LegendSwatch::VLine,
            });
        }
    }
    legend
}

/// Draws the legend in the column from `lx`, `legend_w` wide, beside a plot spanning
/// `plot_top..plot_bottom`; entries that do not fit end in "… N more".
pub(super) fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    legend: &[LegendRow],
    lx: i32,
    legend_w: i32,
    (plot_top, plot_bottom): (i32, i32),
) -> Result<()> {
    // An entry is "name" or "name\ndetail"; the detail goes on a second, muted line. A
    // name too wide wraps onto the second line when there is no detail, else is cut in
    // the middle, so entries that differ only at the end stay told apart.
    let max_w = legend_w - 34;
    let laid: Vec<(String, Option<(String, bool)>)> = legend
        .iter()
        .map(|row| {
            let mut lines = row.text.splitn(2, '\n');
            let name = lines.next().unwrap_or("");
            match lines.next() {
                Some(detail) => (
                    fit_middle(root, name, LEGEND_PX, max_w),
                    Some((fit(root, detail, TICK_PX, max_w), true)),
                ),
                None if text_w(root, name, LEGEND_PX) > max_w => {
                    let mut w = wrap(root, name, LEGEND_PX, max_w).into_iter();
                    let first = w.next().unwrap_or_default();
                    let rest: Vec<String> = w.collect();
                    (
                        fit_middle(root, &first, LEGEND_PX, max_w),
                        Some((fit_middle(root, &rest.join(" "), LEGEND_PX, max_w), false)),
                    )
                }
                None => (name.to_string(), None),
            }
        })
        .collect();
    let row_h = |i: usize| if laid[i].1.is_some() { 34 } else { 19 };
    let avail = plot_bottom - plot_top;
    let mut y = plot_top + 2;
    for (k, row) in legend.iter().enumerate() {
        let rest = legend.len() - k;
        let need = row_h(k) + if rest > 1 { 19 } else { 0 };
        if y - plot_top + need > avail && rest > 1 {
            root.draw(&Text::new(
                format!("… {rest} more"),
                (lx + 26, y),
                font(LEGEND_PX).color(&MUTED),
            ))
            .map_err(de)?;
            break;
        }
        let (name, second) = &laid[k];
        draw_swatch(root, &row.kind, (lx, y + 7))?;
        root.draw(&Text::new(name.clone(), (lx + 26, y), font(LEGEND_PX)))
            .map_err(de)?;
        match second {
            Some((detail, true)) => root
                .draw(&Text::new(
                    detail.clone(),
                    (lx + 26, y + 16),
                    font(TICK_PX).color(&MUTED),
                ))
                .map_err(de)?,
            Some((more, false)) => root
                .draw(&Text::new(more.clone(), (lx + 26, y + 16), font(LEGEND_PX)))
                .map_err(de)?,
            None => {}
        }
        y += row_h(k);
    }
    Ok(())
}
