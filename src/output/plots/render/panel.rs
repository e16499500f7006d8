//! One panel of a figure: its layout (axes, label areas, the strip of fault labels), the
//! chart frame, and what goes in it (data and legend, or a note when there is no data).

use super::axes::{layout_axis, thin_ticks, AxisLayout, Coord};
use super::legend::{draw_legend, legend_rows};
use super::series::draw_data;
use super::text_fit::{fit, font, text_w, wrap};
use super::{
    de, GRID, GRID_LIGHT, LABEL_PX, LEGEND_PX, LEGEND_W, MUTED, PANEL_TITLE_PX, SHADE_ROW_H,
    TICK_PX,
};
use crate::output::plots::figure::{AxisKind, Mark, Panel};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The axes of a panel and the width its y tick labels and axis label need.
pub(super) fn panel_layout<DB: DrawingBackend>(
    p: &Panel,
    area: &DrawingArea<DB, Shift>,
    title_h: i32,
) -> (AxisLayout, AxisLayout, i32) {
    let ah = area.dim_in_pixel().1 as i32;
    let has_data = p.has_data();
    let mut xs = vec![];
    let mut ys = vec![];
    let mut bars = false;
    for s in &p.series {
        for m in &s.marks {
            if matches!(m, Mark::Bars(_)) {
                bars = true;
            }
            for (x, y) in m.extent() {
                xs.push(x);
                ys.push(y);
            }
        }
    }
    if has_data {
        for sh in &p.shades {
            xs.push(sh.from);
            xs.push(sh.to);
        }
    }
    let plot_h_guess = (ah - title_h - 60).max(60);
    let y_target = ((plot_h_guess / 45) as usize).clamp(3, 7);
    let mut xl = layout_axis(&p.x, &xs, false, 7);
    let mut yl = layout_axis(&p.y, &ys, bars, y_target);
    if !has_data {
        // Nothing drawn: numbered ticks would claim a scale there is no data for.
        for l in [&mut xl, &mut yl] {
            l.ticks.clear();
            l.light.clear();
            l.labels.clear();
        }
    }
    // Label area sized to the widest tick label.
    let y_tick_w = yl
        .labels
        .iter()
        .map(|(_, s)| text_w(area, s, TICK_PX))
        .max()
        .unwrap_or(20);
    let y_area = y_tick_w + 14 + if p.y.label.is_empty() { 0 } else { 22 };
    (xl, yl, y_area)
}

pub(super) fn draw_panel<DB: DrawingBackend>(
    p: &Panel,
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    origin: (i32, i32),
    min_y_area: i32,
) -> Result<()> {
    let aw = area.dim_in_pixel().0 as i32;
    let has_data = p.has_data();

    let legend = legend_rows(p);
    let legend_w = if legend.is_empty() { 0 } else { LEGEND_W };

    let mut title_h = 0;
    if let Some(t) = &p.title {
        let t = fit(area, t, PANEL_TITLE_PX, aw - 28);
        area.draw(&Text::new(t, (14, 2), font(PANEL_TITLE_PX)))
            .map_err(de)?;
        title_h = 20;
    }

    let (mut xl, yl, natural_y_area) = panel_layout(p, area, title_h);
    // Panels of one figure share their left edge, so their time axes line up.
    let y_area = natural_y_area.max(min_y_area);
    let x_area = 22 + if p.x.label.is_empty() { 0 } else { 20 };
    let plot_left = y_area + 12;
    let plot_right = aw - legend_w - 14;
    let plot_w = (plot_right - plot_left).max(50);

    // Fault labels go in a strip above the plot, staggered over at most three rows.
    let mut shade_rows: Vec<(usize, i32)> = vec![];
    if has_data {
        let mut row_ends: Vec<i32> = vec![];
        let mut order: Vec<usize> = (0..p.shades.len()).collect();
        order.sort_by(|a, b| p.shades[*a].from.total_cmp(&p.shades[*b].from));
        for i in order {
            let sh = &p.shades[i];
            if sh.label.is_empty() {
                continue;
            }
            let px = plot_left
                + ((xl.to_disp(sh.from) - xl.lo) / (xl.hi - xl.lo) * plot_w as f64) as i32;
            let tw = text_w(area, &sh.label, LEGEND_PX).min(plot_w);
            let x = px.min(plot_right - tw).max(plot_left);
            if let Some(r) = row_ends.iter().position(|e| *e + 8 <= x) {
                row_ends[r] = x + tw;
                shade_rows.push((i, r as i32));
            } else if row_ends.len() < 3 {
                row_ends.push(x + tw);
                shade_rows.push((i, row_ends.len() as i32 - 1));
            }
        }
    }
    let strip_h = shade_rows.iter().map(|(_, r)| r + 1).max().unwrap_or(0) * SHADE_ROW_H;

    let x_ticks_disp: Vec<f64> = if let AxisKind::Category(names) = &p.x.kind {
        // Every category keeps its label, cut to its slot.
        let slot = plot_w / names.len().max(1) as i32 - 8;
        for (_, label) in xl.labels.iter_mut() {
            *label = fit(area, label, TICK_PX, slot.max(12));
        }
        xl.ticks.clone()
    } else {
        thin_ticks(area, &xl, plot_w)
    };
    let x_light = xl.light.clone();
    let y_ticks_disp = yl.ticks.clone();

    let mut chart = ChartBuilder::on(area)
        .margin_top(title_h + strip_h + 8)
        .margin_right(legend_w + 14)
        .margin_left(12)
        .margin_bottom(4)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(
            Coord {
                lo: xl.lo,
                hi: xl.hi,
                bold: x_ticks_disp,
                light: x_light,
            },
            Coord {
                lo: yl.lo,
                hi: yl.hi,
                bold: y_ticks_disp,
                light: vec![],
            },
        )
        .map_err(de)?;

    let xfmt = |v: &f64| xl.label(*v);
    let yfmt = |v: &f64| yl.label(*v);
    chart
        .configure_mesh()
        .bold_line_style(GRID)
        .light_line_style(GRID_LIGHT)
        .axis_style(MUTED)
        .x_desc(p.x.label.clone())
        .y_desc(p.y.label.clone())
        .axis_desc_style(font(LABEL_PX))
        .label_style(font(TICK_PX))
        .x_label_formatter(&xfmt)
        .y_label_formatter(&yfmt)
        .draw()
        .map_err(de)?;

    let (ylo, yhi) = (yl.lo, yl.hi);
    if has_data {
        draw_data(p, root, &mut chart, &xl, &yl)?;
        draw_shade_labels(p, root, &chart, &xl, yhi, &shade_rows, strip_h)?;
        // Legend in the right-hand column.
        let lx = origin.0 + aw - legend_w + 4;
        let (_, plot_top) = chart.backend_coord(&(xl.lo, yhi));
        let (_, plot_bottom) = chart.backend_coord(&(xl.lo, ylo));
        draw_legend(root, &legend, lx, legend_w, (plot_top, plot_bottom))?;
    } else {
        draw_no_data(p, root, &chart, &xl, &yl)?;
    }
    Ok(())
}

/// Fault labels in the strip above the plot, each on the row `shade_rows` gave it.
fn draw_shade_labels<DB: DrawingBackend>(
    p: &Panel,
    root: &DrawingArea<DB, Shift>,
    chart: &ChartContext<'_, DB, Cartesian2d<Coord, Coord>>,
    xl: &AxisLayout,
    yhi: f64,
    shade_rows: &[(usize, i32)],
    strip_h: i32,
) -> Result<()> {
    for (i, row) in shade_rows {
        let sh = &p.shades[*i];
        let (px, _) = chart.backend_coord(&(xl.to_disp(sh.from), yhi));
        let (right, top) = chart.backend_coord(&(xl.hi, yhi));
        let (left, _) = chart.backend_coord(&(xl.lo, yhi));
        let tw = text_w(root, &sh.label, LEGEND_PX);
        let x = px.min(right - tw).max(left);
        let y = top - strip_h + row * SHADE_ROW_H - 2;
        root.draw(&Text::new(
            fit(root, &sh.label, LEGEND_PX, right - left),
            (x, y),
            font(LEGEND_PX).color(&MUTED),
        ))
        .map_err(de)?;
    }
    Ok(())
}

/// No data: the panel's note (or "no data") in a box, centred in the plot area.
fn draw_no_data<DB: DrawingBackend>(
    p: &Panel,
    root: &DrawingArea<DB, Shift>,
    chart: &ChartContext<'_, DB, Cartesian2d<Coord, Coord>>,
    xl: &AxisLayout,
    yl: &AxisLayout,
) -> Result<()> {
    let note = p.note.clone().unwrap_or_else(|| "no data".into());
    let (l, t) = chart.backend_coord(&(xl.lo, yl.hi));
    let (r, b) = chart.backend_coord(&(xl.hi, yl.lo));
    let lines = wrap(root, &note, LABEL_PX, (r - l - 40).max(100));
    let line_h = 19;
    let total = lines.len() as i32 * line_h;
    let cx = (l + r) / 2;
    let cy0 = (t + b) / 2 - total / 2;
    let bw = lines
        .iter()
        .map(|s| text_w(root, s, LABEL_PX))
        .max()
        .unwrap_or(0)
        + 24;
    root.draw(&Rectangle::new(
        [(cx - bw / 2, cy0 - 8), (cx + bw / 2, cy0 + total + 6)],
        WHITE.filled(),
    ))
    .map_err(de)?;
    root.draw(&Rectangle::new(
        [(cx - bw / 2, cy0 - 8), (cx + bw / 2, cy0 + total + 6)],
        MUTED.mix(0.5).stroke_width(1),
    ))
    .map_err(de)?;
    for (i, line) in lines.iter().enumerate() {
        let style = font(LABEL_PX)
            .color(&MUTED)
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Top,
            ));
        root.draw(&Text::new(
            line.clone(),
            (cx, cy0 + i as i32 * line_h),
            style,
        ))
        .map_err(de)?;
    }
    Ok(())
}
