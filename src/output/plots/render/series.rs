//! Lines and series: fault shading, markers, bands, bars, lines, steps, points and error
//! bars, and the polyline splitting that keeps thin spikes visible.

use super::axes::{AxisLayout, Coord};
use super::text_fit::{font, text_w};
use super::{color, de};
use crate::output::plots::figure::{Hue, Mark, Panel};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Draws a panel's data on its chart: fault shading and markers underneath, then bands,
/// then bars, then lines and points.
pub(super) fn draw_data<DB: DrawingBackend>(
    p: &Panel,
    root: &DrawingArea<DB, Shift>,
    chart: &mut ChartContext<'_, DB, Cartesian2d<Coord, Coord>>,
    xl: &AxisLayout,
    yl: &AxisLayout,
) -> Result<()> {
    let (ylo, yhi) = (yl.lo, yl.hi);
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
        // Many markers: a rug of short ticks at the foot, so the data stays visible.
        let top = if p.markers.rug {
            ylo + (yhi - ylo) * 0.04
        } else {
            yhi
        };
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, ylo), (x, top)],
                BLACK.mix(0.35).stroke_width(1),
            )))
            .map_err(de)?;
    }
    let cx = |v: f64| xl.to_disp(v);
    let cy = |v: f64| yl.to_disp(v);
    // Label boxes already drawn (x0, y0, x1, y1), so labels do not overwrite each other.
    let mut placed: Vec<(i32, i32, i32, i32)> = vec![];
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
                            .draw_series(std::iter::once(Polygon::new(poly, c.mix(0.18).filled())))
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
                    (2, Mark::Labels(v)) => {
                        for (x, y, text) in v {
                            let at = chart.backend_coord(&(cx(*x), cy(*y)));
                            // A little wider than measured: glyph metrics at 11 px run over.
                            let w = text_w(root, text, LABEL_PX) * 11 / 10 + 4;
                            let (xr, yr) = chart.plotting_area().get_pixel_range();
                            let area = (xr.start, yr.start, xr.end, yr.end);
                            if let Some(pos) = free_spot(at, w, &placed, area) {
                                placed.push((pos.0, pos.1, pos.0 + w, pos.1 + LABEL_PX as i32 + 2));
                                root.draw(&Text::new(text.clone(), pos, font(LABEL_PX).color(&c)))
                                    .map_err(de)?;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// Point labels: small, in the series' colour.
const LABEL_PX: u32 = 11;

/// Where a label `w` pixels wide for the point at `at` goes: up-right, down-right,
/// up-left, down-left of the dot, the first spot inside `area` (x0, y0, x1, y1: the plot,
/// so no label runs into the legend) that overlaps no label already placed; None when
/// none is free (the label is left out rather than drawn over another).
fn free_spot(
    at: (i32, i32),
    w: i32,
    placed: &[(i32, i32, i32, i32)],
    area: (i32, i32, i32, i32),
) -> Option<(i32, i32)> {
    let h = LABEL_PX as i32 + 2;
    let spots = [
        (at.0 + 6, at.1 - h - 4),
        (at.0 + 6, at.1 + 4),
        (at.0 - 6 - w, at.1 - h - 4),
        (at.0 - 6 - w, at.1 + 4),
    ];
    spots.into_iter().find(|&(x, y)| {
        let inside = x >= area.0 && y >= area.1 && x + w <= area.2 && y + h <= area.3;
        inside
            && placed
                .iter()
                .all(|&(a, b, c, d)| x + w <= a || x >= c || y + h <= b || y >= d)
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_take_the_first_free_spot() {
        let area = (0, 0, 500, 400);
        // No label yet: up-right of the dot (labels are 13 px high with their margin).
        assert_eq!(free_spot((100, 100), 40, &[], area), Some((106, 83)));
        // Up-right taken: down-right.
        let taken = [(106, 83, 146, 96)];
        assert_eq!(free_spot((100, 100), 40, &taken, area), Some((106, 104)));
        // All four taken: left out.
        let all = [(0, 0, 300, 300)];
        assert_eq!(free_spot((100, 100), 40, &all, area), None);
        // Near the right edge of the plot: to the left of the dot.
        assert_eq!(free_spot((480, 100), 40, &[], area), Some((434, 83)));
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
