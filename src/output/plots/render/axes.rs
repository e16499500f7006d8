//! Axes: the range and ticks of each axis from the data on it, tick labels, and the
//! coordinate plotters draws with.

use super::text_fit::text_w;
use super::TICK_PX;
use crate::output::plots::figure::{Axis, AxisKind, Scale};
use crate::output::plots::format;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One axis after layout: display range (log10 for log axes), ticks and their labels.
pub(super) struct AxisLayout {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) ticks: Vec<f64>,
    pub(super) light: Vec<f64>,
    pub(super) labels: Vec<(f64, String)>,
    log: bool,
}

impl AxisLayout {
    pub(super) fn to_disp(&self, v: f64) -> f64 {
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
    pub(super) fn label(&self, d: f64) -> String {
        self.labels
            .iter()
            .find(|(t, _)| (t - d).abs() <= 1e-9 * (1.0 + d.abs()))
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }
}

/// A linear f64 coordinate with the ticks we chose (log axes are drawn in log10 units).
pub(super) struct Coord {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) bold: Vec<f64>,
    pub(super) light: Vec<f64>,
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
pub(super) fn layout_axis(
    axis: &Axis,
    values: &[f64],
    bars_from_zero: bool,
    target: usize,
) -> AxisLayout {
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

/// Drops every other x tick until the labels fit side by side with some air.
pub(super) fn thin_ticks<DB: DrawingBackend>(
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
}
