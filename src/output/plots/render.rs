//! Draws a [`Figure`] on any plotters backend (SVG and PNG share this code), and writes
//! both files atomically.

use super::figure::{Axis, AxisKind, Figure, Hue, Mark, Panel, Scale};
use super::font::{ensure_registered, FAMILY};
use super::format;
use super::text::GlyphText;
use anyhow::{anyhow, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 500;

/// Okabe–Ito, reordered so the first colours are the most distinct on white
/// (yellow, the weakest on white, comes last).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
    RGBColor(0xF0, 0xE4, 0x42), // yellow
];
const OTHER: RGBColor = RGBColor(0xA8, 0xA8, 0xA8);
const TEXT: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x55, 0x55, 0x55);
const GRID: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);
const GRID_LIGHT: RGBColor = RGBColor(0xF2, 0xF2, 0xF2);

const TITLE_PX: u32 = 20;
const PANEL_TITLE_PX: u32 = 15;
const LABEL_PX: u32 = 14;
const TICK_PX: u32 = 12;
const LEGEND_PX: u32 = 13;
const CAPTION_PX: u32 = 13;
const LEGEND_W: i32 = 170;
const SHADE_ROW_H: i32 = 15;

fn color(h: Hue) -> RGBColor {
    match h {
        Hue::Palette(i) => PALETTE[i % PALETTE.len()],
        Hue::Other => OTHER,
    }
}

fn de<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

fn font(px: u32) -> TextStyle<'static> {
    (FAMILY, px).into_font().color(&TEXT)
}

fn text_w<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, text: &str, px: u32) -> i32 {
    area.estimate_text_size(text, &font(px))
        .map(|(w, _)| w as i32)
        .unwrap_or((text.chars().count() as f64 * px as f64 * 0.6) as i32)
}

/// Cuts `text` with an ellipsis so it fits `max_w` pixels.
fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    px: u32,
    max_w: i32,
) -> String {
    if text_w(area, text, px) <= max_w {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    for n in (1..chars.len()).rev() {
        let s: String = chars[..n].iter().collect::<String>() + "…";
        if text_w(area, &s, px) <= max_w {
            return s;
        }
    }
    "…".into()
}

/// Greedy word wrap to `max_w` pixels.
fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    px: u32,
    max_w: i32,
) -> Vec<String> {
    let mut lines = vec![];
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let cand = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if !line.is_empty() && text_w(area, &cand, px) > max_w {
                lines.push(std::mem::take(&mut line));
                line = word.to_string();
            } else {
                line = cand;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines
}

/// One axis after layout: display range (log10 for log axes), ticks and their labels.
struct AxisLayout {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    light: Vec<f64>,
    labels: Vec<(f64, String)>,
    log: bool,
}

impl AxisLayout {
    fn to_disp(&self, v: f64) -> f64 {
        let d = if self.log {
            if v > 0.0 {
                v.log10()
            } else {
                self.lo
            }
        } else {
            v
        };
        d.clamp(self.lo, self.hi)
    }
    fn label(&self, d: f64) -> String {
        self.labels
            .iter()
            .find(|(t, _)| (t - d).abs() <= 1e-9 * (1.0 + d.abs()))
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }
}

/// A linear f64 coordinate with the ticks we chose (log axes are drawn in log10 units).
struct Coord {
    lo: f64,
    hi: f64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Coord {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;
    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let r = (v - self.lo) / (self.hi - self.lo);
        limit.0 + (r * (limit.1 - limit.0) as f64).round() as i32
    }
    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }
    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Computes range and ticks for an axis given the data values on it.
fn layout_axis(axis: &Axis, values: &[f64], bars_from_zero: bool, target: usize) -> AxisLayout {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if let AxisKind::Category(names) = &axis.kind {
        let n = names.len().max(1);
        let ticks: Vec<f64> = (0..names.len()).map(|i| i as f64).collect();
        return AxisLayout {
            lo: -0.5,
            hi: n as f64 - 0.5,
            labels: ticks
                .iter()
                .map(|t| (*t, names[*t as usize].clone()))
                .collect(),
            ticks,
            light: vec![],
            log: false,
        };
    }
    if axis.scale == Scale::Log {
        let pos: Vec<f64> = finite.iter().copied().filter(|v| *v > 0.0).collect();
        let dmin = pos.iter().copied().fold(f64::INFINITY, f64::min);
        let dmax = pos.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (mut lo, mut hi) = if pos.is_empty() {
            (1.0, 1000.0)
        } else {
            (dmin / 1.25, dmax * 1.25)
        };
        if let Some(m) = axis.min.filter(|m| *m > 0.0) {
            lo = m;
        }
        if let Some(m) = axis.max.filter(|m| *m > lo) {
            hi = m;
        }
        if hi <= lo * 1.01 {
            hi = lo * 10.0;
        }
        let (mut major, minor) = if axis.kind == AxisKind::Time {
            format::log_time_ticks(lo, hi)
        } else {
            format::log_ticks(lo, hi)
        };
        if major.len() < 2 {
            major = format::nice_ticks(lo, hi, 4)
                .into_iter()
                .filter(|t| *t > 0.0)
                .collect();
        }
        let labels = major
            .iter()
            .map(|t| (t.log10(), tick_label(&axis.kind, *t, None)))
            .collect();
        return AxisLayout {
            lo: lo.log10(),
            hi: hi.log10(),
            ticks: major.iter().map(|t| t.log10()).collect(),
            light: minor.iter().map(|t| t.log10()).collect(),
            labels,
            log: true,
        };
    }
    let dmin = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let dmax = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let anchored = bars_from_zero
        || matches!(
            axis.kind,
            AxisKind::Count | AxisKind::Fraction | AxisKind::Bytes | AxisKind::Time
        );
    // Where the data alone would put the ends.
    let (mut lo, mut hi) = if finite.is_empty() {
        (0.0, 1.0)
    } else if dmax - dmin <= 1e-9 * dmax.abs().max(1.0) {
        // One value (all zero, say): an axis around it, never a zero-width one.
        if dmax == 0.0 {
            (0.0, 1.0)
        } else if anchored && dmax > 0.0 {
            (0.0, dmax)
        } else {
            let pad = (dmax.abs() * 0.5).max(1.0);
            (dmax - pad, dmax + pad)
        }
    } else {
        (dmin, dmax)
    };
    if anchored && lo > 0.0 {
        lo = 0.0;
    }
    let data_top = hi;
    if !finite.is_empty() && target > 0 {
        // Headroom so the top line does not sit on the frame (not for fixed ends).
        let span = (hi - lo).max(hi.abs() * 0.1).max(1e-9);
        if !anchored && axis.min.is_none() {
            lo -= span * 0.06;
        }
        hi += span * 0.06;
    }
    if let Some(m) = axis.min.filter(|m| m.is_finite()) {
        lo = m;
    }
    if let Some(m) = axis.max.filter(|m| m.is_finite()) {
        hi = m;
    }
    if hi <= lo {
        hi = lo
            + if axis.kind == AxisKind::Fraction {
                1.0
            } else {
                1.0f64.max(lo.abs() * 0.1)
            };
    }
    // Nothing but zeros on a count-like axis: 0 and 1, not 0, 0.2, 0.4 ...
    let integer = axis.kind == AxisKind::Count
        || (axis.kind == AxisKind::Plain && !finite.is_empty() && dmin == 0.0 && dmax == 0.0);
    let ticks_for = |lo: f64, hi: f64, target: usize| -> (Vec<f64>, Option<format::TimeUnit>) {
        match axis.kind {
            _ if integer => {
                let mut t = format::nice_ticks_with(lo, hi, target, &[1.0, 2.0, 5.0, 10.0]);
                if t.len() > 1 && t[1] - t[0] < 1.0 {
                    t = format::ticks_with_step(lo, hi, 1.0);
                }
                (t, None)
            }
            AxisKind::Time => {
                let (t, u) = format::time_ticks(lo, hi, target);
                (t, Some(u))
            }
            AxisKind::Fraction => (
                format::nice_ticks_with(lo, hi, target, &[1.0, 2.0, 2.5, 5.0, 10.0]),
                None,
            ),
            _ => (format::nice_ticks(lo, hi, target), None),
        }
    };
    // At least three labelled ticks when the range allows (a count axis from 0 to 1 has two):
    // a step as wide as the range leaves only "0" and the reader without a scale.
    let (mut ticks, mut unit) = ticks_for(lo, hi, target);
    let mut t = target;
    while ticks.len() < 3 && t < target + 8 {
        t += 1;
        let (more, u) = ticks_for(lo, hi, t);
        if more.len() > ticks.len() {
            ticks = more;
            unit = u;
        }
    }
    // A free top end moves up to the next tick when the data reach past the last one,
    // so the highest value can be read against a labelled tick.
    if axis.max.is_none() && ticks.len() >= 2 && axis.kind != AxisKind::Time {
        let step = ticks[ticks.len() - 1] - ticks[ticks.len() - 2];
        let last = ticks[ticks.len() - 1];
        if step > 0.0 && data_top > last + step * 1e-9 {
            let next = last + step;
            ticks.push(next);
            hi = hi.max(next);
        }
    }
    let mut labels: Vec<(f64, String)> = ticks
        .iter()
        .map(|t| (*t, tick_label(&axis.kind, *t, unit)))
        .collect();
    // Neighbouring ticks must not read the same: give them more digits.
    if labels.windows(2).any(|w| w[0].1 == w[1].1) {
        labels = ticks
            .iter()
            .map(|t| (*t, precise_label(&axis.kind, *t, unit)))
            .collect();
    }
    AxisLayout {
        lo,
        hi,
        ticks,
        light: vec![],
        labels,
        log: false,
    }
}

/// A tick label with up to 7 significant digits, for ticks too close for the usual label.
fn precise_label(kind: &AxisKind, v: f64, unit: Option<format::TimeUnit>) -> String {
    match (kind, unit) {
        (AxisKind::Time, Some(u)) => format!("{} {}", format::sig(v / u.ms(), 7), u.symbol()),
        (AxisKind::Fraction, _) => format!("{}%", format::sig(v * 100.0, 7)),
        (AxisKind::Category(_), _) => String::new(),
        _ => format::sig(v, 7),
    }
}

fn tick_label(kind: &AxisKind, v: f64, unit: Option<format::TimeUnit>) -> String {
    match kind {
        AxisKind::Time => match unit {
            Some(u) => format::time_in_unit(v, u),
            None => format::duration_ms(v),
        },
        AxisKind::Count => format::compact(v),
        AxisKind::Fraction => format!("{}%", format::sig(v * 100.0, 3)),
        AxisKind::Bytes => format::bytes(v),
        AxisKind::Plain => format::compact(v),
        AxisKind::Category(_) => String::new(),
    }
}

/// Draws the figure on `root` (800×500).
pub fn render<DB: DrawingBackend>(fig: &Figure, root: &DrawingArea<DB, Shift>) -> Result<()> {
    ensure_registered();
    root.fill(&WHITE).map_err(de)?;
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);

    // Title.
    let title = fit(root, &fig.title, TITLE_PX, w - 20);
    root.draw(&Text::new(title, (14, 10), font(TITLE_PX)))
        .map_err(de)?;
    let top = 40;

    // Caption, wrapped, at the bottom.
    let cap_lines = wrap(root, &fig.caption, CAPTION_PX, w - 28);
    let cap_lines: Vec<String> = cap_lines.into_iter().take(3).collect();
    let cap_h = cap_lines.len() as i32 * 17 + if cap_lines.is_empty() { 4 } else { 8 };
    for (i, line) in cap_lines.iter().enumerate() {
        let y = h - cap_h + 4 + i as i32 * 17;
        root.draw(&Text::new(
            line.clone(),
            (14, y),
            font(CAPTION_PX).color(&MUTED),
        ))
        .map_err(de)?;
    }

    let panels_h = h - top - cap_h;
    let n = fig.panels.len().max(1) as i32;
    let area_of = |i: usize| {
        let y0 = top + i as i32 * panels_h / n;
        let y1 = top + (i as i32 + 1) * panels_h / n;
        (
            y0,
            root.clone().shrink((0, y0), (w as u32, (y1 - y0) as u32)),
        )
    };
    let min_y_area = fig
        .panels
        .iter()
        .enumerate()
        .map(|(i, p)| panel_layout(p, &area_of(i).1, if p.title.is_some() { 20 } else { 0 }).2)
        .max()
        .unwrap_or(0);
    for (i, panel) in fig.panels.iter().enumerate() {
        let (y0, area) = area_of(i);
        draw_panel(panel, root, &area, (0, y0), min_y_area)?;
    }
    Ok(())
}

struct LegendRow {
    text: String,
    kind: LegendSwatch,
}
enum LegendSwatch {
    Line(RGBColor, u32),
    Box(RGBColor, f64),
    Bar(RGBColor),
    VLine,
}

/// The axes of a panel and the width its y tick labels and axis label need.
fn panel_layout<DB: DrawingBackend>(
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

fn draw_panel<DB: DrawingBackend>(
    p: &Panel,
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    origin: (i32, i32),
    min_y_area: i32,
) -> Result<()> {
    let aw = area.dim_in_pixel().0 as i32;
    let has_data = p.has_data();

    // Legend entries: coloured series in order, then "others", then shades and markers.
    let mut legend: Vec<LegendRow> = vec![];
    if has_data {
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
        // Fault shading and markers under the data.
        for sh in &p.shades {
            let (a, b) = (xl.to_disp(sh.from), xl.to_disp(sh.to));
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(a, ylo), (b, yhi)],
                    BLACK.mix(0.10).filled(),
                )))
                .map_err(de)?;
        }
        // One line per pixel column at most: thousands of leaves stay a small SVG.
        let mut last_px = None;
        for m in &p.markers.at {
            let x = xl.to_disp(*m);
            let px = chart.backend_coord(&(x, ylo)).0;
            if last_px == Some(px) {
                continue;
            }
            last_px = Some(px);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, ylo), (x, yhi)],
                    BLACK.mix(0.35).stroke_width(1),
                )))
                .map_err(de)?;
        }
        let cx = |v: f64| xl.to_disp(v);
        let cy = |v: f64| yl.to_disp(v);
        // Bands first, then bars, then lines and points.
        for pass in 0..3 {
            for s in &p.series {
                let c = color(s.hue);
                let width = if s.hue == Hue::Other { 1 } else { 2 };
                for m in &s.marks {
                    match (pass, m) {
                        (0, Mark::Band(v)) if !v.is_empty() => {
                            let mut poly: Vec<(f64, f64)> =
                                v.iter().map(|(x, lo, _)| (cx(*x), cy(*lo))).collect();
                            poly.extend(v.iter().rev().map(|(x, _, hi)| (cx(*x), cy(*hi))));
                            chart
                                .draw_series(std::iter::once(Polygon::new(
                                    poly,
                                    c.mix(0.18).filled(),
                                )))
                                .map_err(de)?;
                        }
                        (1, Mark::Bars(v)) => {
                            chart
                                .draw_series(v.iter().map(|(a, b, y)| {
                                    Rectangle::new(
                                        [(cx(*a), cy(0.0)), (cx(*b), cy(*y))],
                                        c.mix(0.75).filled(),
                                    )
                                }))
                                .map_err(de)?;
                            chart
                                .draw_series(v.iter().map(|(a, b, y)| {
                                    Rectangle::new(
                                        [(cx(*a), cy(0.0)), (cx(*b), cy(*y))],
                                        WHITE.stroke_width(1),
                                    )
                                }))
                                .map_err(de)?;
                        }
                        (2, Mark::Line(v)) => {
                            let px: Vec<(i32, i32)> = v
                                .iter()
                                .map(|(x, y)| chart.backend_coord(&(cx(*x), cy(*y))))
                                .collect();
                            draw_polyline(root, &px, c.stroke_width(width))?;
                        }
                        (2, Mark::Step(v)) => {
                            let mut px = vec![];
                            for (i, (x, y)) in v.iter().enumerate() {
                                if i > 0 {
                                    px.push(chart.backend_coord(&(cx(*x), cy(v[i - 1].1))));
                                }
                                px.push(chart.backend_coord(&(cx(*x), cy(*y))));
                            }
                            draw_polyline(root, &px, c.stroke_width(width))?;
                        }
                        (2, Mark::Points(v)) => {
                            chart
                                .draw_series(
                                    v.iter()
                                        .map(|(x, y)| Circle::new((cx(*x), cy(*y)), 4, c.filled())),
                                )
                                .map_err(de)?;
                        }
                        (2, Mark::ErrorBars(v)) => {
                            let cap = (xl.hi - xl.lo) * 0.008;
                            for (x, lo, hi) in v {
                                let x = cx(*x);
                                let (lo, hi) = (cy(*lo), cy(*hi));
                                let style = c.stroke_width(2);
                                chart
                                    .draw_series([
                                        PathElement::new(vec![(x, lo), (x, hi)], style),
                                        PathElement::new(vec![(x - cap, lo), (x + cap, lo)], style),
                                        PathElement::new(vec![(x - cap, hi), (x + cap, hi)], style),
                                    ])
                                    .map_err(de)?;
                            }
                        }
                        _ => {}
                    }
                }
            }
        }

        // Fault labels in the strip above the plot.
        for (i, row) in &shade_rows {
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

        // Legend in the right-hand column.
        let lx = origin.0 + aw - legend_w + 4;
        let (_, plot_top) = chart.backend_coord(&(xl.lo, yhi));
        let (_, plot_bottom) = chart.backend_coord(&(xl.lo, ylo));
        // An entry is "name" or "name\ndetail"; the detail goes on a second, muted line.
        let row_h = |r: &LegendRow| if r.text.contains('\n') { 34 } else { 19 };
        let avail = plot_bottom - plot_top;
        let mut y = plot_top + 2;
        for (k, row) in legend.iter().enumerate() {
            let rest = legend.len() - k;
            let need = row_h(row) + if rest > 1 { 19 } else { 0 };
            if y - plot_top + need > avail && rest > 1 {
                root.draw(&Text::new(
                    format!("… {rest} more"),
                    (lx + 26, y),
                    font(LEGEND_PX).color(&MUTED),
                ))
                .map_err(de)?;
                break;
            }
            let mut lines = row.text.splitn(2, '\n');
            let name = lines.next().unwrap_or("");
            draw_swatch(root, &row.kind, (lx, y + 7))?;
            root.draw(&Text::new(
                fit(root, name, LEGEND_PX, legend_w - 34),
                (lx + 26, y),
                font(LEGEND_PX),
            ))
            .map_err(de)?;
            if let Some(detail) = lines.next() {
                root.draw(&Text::new(
                    fit(root, detail, TICK_PX, legend_w - 34),
                    (lx + 26, y + 16),
                    font(TICK_PX).color(&MUTED),
                ))
                .map_err(de)?;
            }
            y += row_h(row);
        }
    } else {
        // No data: say so, centred in the plot area.
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
    }
    Ok(())
}

/// Splits a polyline in pixels into pieces a wide stroke draws faithfully: repeated
/// pixels are dropped, straight runs merged, and the line is cut where it turns straight
/// back on itself. plotters turns a path wider than 1 px into a polygon, and a spike
/// narrower than a pixel (a 5 s blip on an hour's axis: up, across 0 px, down) folds that
/// polygon onto itself, leaving stray dots instead of the spike; cut there, the spike is
/// drawn as the vertical line it is.
pub(crate) fn polyline_pieces(px: &[(i32, i32)]) -> Vec<Vec<(i32, i32)>> {
    let mut pts: Vec<(i32, i32)> = vec![];
    for p in px {
        if pts.last() == Some(p) {
            continue;
        }
        if pts.len() >= 2 {
            let a = pts[pts.len() - 2];
            let b = pts[pts.len() - 1];
            let (u, v) = (
                (i64::from(b.0 - a.0), i64::from(b.1 - a.1)),
                (i64::from(p.0 - b.0), i64::from(p.1 - b.1)),
            );
            // Same direction: b is not a corner.
            if u.0 * v.1 - u.1 * v.0 == 0 && u.0 * v.0 + u.1 * v.1 > 0 {
                pts.pop();
            }
        }
        pts.push(*p);
    }
    let mut out = vec![];
    let mut cur: Vec<(i32, i32)> = vec![];
    for p in pts {
        if cur.len() >= 2 {
            let a = cur[cur.len() - 2];
            let b = cur[cur.len() - 1];
            let (u, v) = (
                (i64::from(b.0 - a.0), i64::from(b.1 - a.1)),
                (i64::from(p.0 - b.0), i64::from(p.1 - b.1)),
            );
            // Straight back (or a turn so sharp the polygon folds): start a new piece at b.
            let cross = u.0 * v.1 - u.1 * v.0;
            let dot = u.0 * v.0 + u.1 * v.1;
            if dot < 0 && cross.abs() * 8 < -dot {
                out.push(std::mem::replace(&mut cur, vec![b]));
            }
        }
        cur.push(p);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn draw_polyline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    px: &[(i32, i32)],
    style: ShapeStyle,
) -> Result<()> {
    for piece in polyline_pieces(px) {
        if piece.is_empty() {
            continue;
        }
        if piece.len() == 1 {
            // A single sample: a dot the width of the line, so it is not lost.
            let r = (style.stroke_width / 2).max(1) as i32;
            root.draw(&Rectangle::new(
                [
                    (piece[0].0 - r, piece[0].1 - r),
                    (piece[0].0 + r, piece[0].1 + r),
                ],
                style.color.filled(),
            ))
            .map_err(de)?;
            continue;
        }
        root.draw(&PathElement::new(piece, style)).map_err(de)?;
    }
    Ok(())
}

fn swatch_for(s: &super::figure::Series) -> LegendSwatch {
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

/// Drops every other x tick until the labels fit side by side with some air.
fn thin_ticks<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    xl: &AxisLayout,
    plot_w: i32,
) -> Vec<f64> {
    let mut ticks = xl.ticks.clone();
    for _ in 0..6 {
        let total: i32 = ticks
            .iter()
            .map(|t| text_w(area, &xl.label(*t), TICK_PX) + 14)
            .sum();
        if total <= plot_w || ticks.len() <= 2 {
            break;
        }
        ticks = ticks.iter().step_by(2).copied().collect();
    }
    ticks
}

/// Writes `<dir>/<name>.svg` and `.png`, each under a temporary name first.
pub fn write_figure(fig: &Figure, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let svg_path = dir.join(format!("{}.svg", fig.name));
    let png_path = dir.join(format!("{}.png", fig.name));

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        render(fig, &root)?;
        root.present().map_err(de)?;
    }
    let tmp_svg = dir.join(format!(".{}.svg.tmp", fig.name));
    std::fs::write(&tmp_svg, svg).with_context(|| format!("writing {}", tmp_svg.display()))?;
    std::fs::rename(&tmp_svg, &svg_path)
        .with_context(|| format!("renaming to {}", svg_path.display()))?;

    // The bitmap encoder picks the format from the extension, so the temporary name ends in .png.
    let tmp_png = dir.join(format!(".{}.tmp.png", fig.name));
    {
        let root = GlyphText {
            inner: BitMapBackend::new(&tmp_png, (WIDTH, HEIGHT)),
        }
        .into_drawing_area();
        render(fig, &root)?;
        root.present().map_err(de)?;
    }
    std::fs::rename(&tmp_png, &png_path)
        .with_context(|| format!("renaming to {}", png_path.display()))?;
    Ok(vec![svg_path, png_path])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(l: &AxisLayout) -> Vec<String> {
        l.labels.iter().map(|(_, s)| s.clone()).collect()
    }

    #[test]
    fn a_short_panel_still_gets_a_scale() {
        // 0..96 attempts on a half-height panel used to get a single "0" tick.
        let axis = Axis::new("per 1 min", AxisKind::Count);
        let l = layout_axis(&axis, &[0.0, 96.0], false, 2);
        assert!(l.ticks.len() >= 3, "{:?}", l.ticks);
        assert!(l.hi >= 96.0);
        let l = layout_axis(&axis, &[0.0, 7.0], false, 3);
        assert!(l.ticks.len() >= 3, "{:?}", l.ticks);
        assert!(
            *l.ticks.last().unwrap() >= 7.0,
            "top value reads against a tick"
        );
    }

    #[test]
    fn all_zero_data_gets_zero_to_one() {
        for kind in [AxisKind::Plain, AxisKind::Count] {
            let axis = Axis::new("events", kind).range(Some(0.0), None);
            let l = layout_axis(&axis, &[0.0, 0.0, 0.0], false, 7);
            assert_eq!(labels(&l), vec!["0", "1"]);
            assert!(l.hi >= 1.0);
        }
    }

    #[test]
    fn neighbouring_labels_differ() {
        let axis = Axis::new("x", AxisKind::Plain);
        for data in [
            vec![1234.5, 1234.5001],
            vec![5.0, 5.0],
            vec![-3.0, 1e9],
            vec![f64::NAN, 1.0, f64::INFINITY, 2.0],
            vec![1e-300, 2e-300],
        ] {
            let l = layout_axis(&axis, &data, false, 5);
            assert!(l.lo < l.hi, "{data:?}");
            let ls = labels(&l);
            assert!(ls.windows(2).all(|w| w[0] != w[1]), "{data:?}: {ls:?}");
        }
    }

    #[test]
    fn spikes_are_cut_into_pieces_a_wide_stroke_draws() {
        // Up 100 px, across 0 px, down: the reversal starts a new piece.
        let px = [
            (10, 200),
            (12, 200),
            (12, 100),
            (12, 100),
            (12, 200),
            (30, 200),
        ];
        assert_eq!(
            polyline_pieces(&px),
            vec![
                vec![(10, 200), (12, 200), (12, 100)],
                vec![(12, 100), (12, 200), (30, 200)]
            ]
        );
        // Straight runs collapse; corners stay.
        let px = [(0, 0), (5, 0), (10, 0), (10, 5)];
        assert_eq!(polyline_pieces(&px), vec![vec![(0, 0), (10, 0), (10, 5)]]);
        // One pixel: one piece of one point (drawn as a dot).
        assert_eq!(polyline_pieces(&[(3, 3), (3, 3)]), vec![vec![(3, 3)]]);
        assert!(polyline_pieces(&[]).is_empty());
    }
}
