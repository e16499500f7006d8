//! The trade-off chart of a sweep (`[sweep] tradeoff = ["metric A", "metric B"]`): one dot
//! per point at (A, B), labelled with the point's swept values, and the Pareto front (the
//! points no other point beats on both metrics at once) joined by a line.
//!
//! Each value is what the sweep's other charts show ([`Agg::value`]): a pooled percentile
//! for `delivery.latency_ms.pNN` and `rtc.ghost_ms.pNN`, else the mean over seeds. Lower is
//! better for every metric except shares delivered (`delivery.delivered_fraction`,
//! `delivery.within_*`), where higher is better.

use super::figure::{Axis, Figure, Hue, Mark, Panel, Series};
use super::sweep_plots::{file_safe, metric_axis_kind, value_text, Agg, SweepData};
use crate::sweep::stats::is_fraction;

/// Whether a larger value of `metric` is the better one.
pub fn higher_is_better(metric: &str) -> bool {
    metric == "delivery.delivered_fraction" || metric.starts_with("delivery.within_")
}

/// Indices of the points on the Pareto front, in order of x. `hx`/`hy`: higher is better
/// on that axis. A point is on the front when no other point is at least as good on both
/// metrics and strictly better on one.
pub fn pareto_front(pts: &[(f64, f64)], hx: bool, hy: bool) -> Vec<usize> {
    let orient = |(x, y): (f64, f64)| (if hx { -x } else { x }, if hy { -y } else { y });
    let mut front: Vec<usize> = (0..pts.len())
        .filter(|&i| {
            let (xi, yi) = orient(pts[i]);
            !pts.iter().any(|&q| {
                let (xj, yj) = orient(q);
                xj <= xi && yj <= yi && (xj < xi || yj < yi)
            })
        })
        .collect();
    front.sort_by(|&a, &b| pts[a].0.total_cmp(&pts[b].0).then(a.cmp(&b)));
    front
}

/// A point's label: its swept values joined by "/" in key order ("5s/2s/0.05").
fn point_label(
    d: &SweepData,
    values: &std::collections::BTreeMap<String, serde_json::Value>,
) -> String {
    d.keys
        .iter()
        .map(|k| values.get(k).map(value_text).unwrap_or_else(|| "?".into()))
        .collect::<Vec<_>>()
        .join("/")
}

/// The trade-off figure of `d.tradeoff` (two metrics).
pub fn tradeoff_figure(d: &SweepData) -> Figure {
    let (ma, mb) = (d.tradeoff[0].as_str(), d.tradeoff[1].as_str());
    let axis = |m: &str| {
        let mut a = Axis::new(m, metric_axis_kind(m));
        if is_fraction(m) {
            a = a.range(Some(0.0), Some(1.0));
        }
        a
    };
    let mut pts: Vec<(f64, f64, String)> = vec![];
    let mut absent = 0;
    for (point, values) in &d.points {
        let get = |m: &str| d.agg.get(&(m.to_string(), *point)).map(Agg::value);
        match (get(ma), get(mb)) {
            (Some(a), Some(b)) => pts.push((a, b, point_label(d, values))),
            _ => absent += 1,
        }
    }
    let xy: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, p.1)).collect();
    // A metric spread over a factor of 20 or more (0.3 s to 2 min) gets a log axis, so the
    // points at the small end do not pile up on each other.
    let spread = |m: &str, v: Vec<f64>| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        !is_fraction(m) && lo > 0.0 && hi / lo >= 20.0
    };
    let (mut x_axis, mut y_axis) = (axis(ma), axis(mb));
    if spread(ma, xy.iter().map(|p| p.0).collect()) {
        x_axis = x_axis.log();
        x_axis.label = format!("{ma} (log scale)");
    }
    if spread(mb, xy.iter().map(|p| p.1).collect()) {
        y_axis = y_axis.log();
        y_axis.label = format!("{mb} (log scale)");
    }
    // A linear axis starts at 0, so a small difference is not drawn as a large one.
    for (a, m) in [(&mut x_axis, ma), (&mut y_axis, mb)] {
        if a.scale == super::figure::Scale::Linear
            && !is_fraction(m)
            && xy.iter().all(|p| p.0 >= 0.0 && p.1 >= 0.0)
        {
            *a = a.clone().range(Some(0.0), None);
        }
    }
    let mut panel = Panel::new(x_axis, y_axis);
    let front = pareto_front(&xy, higher_is_better(ma), higher_is_better(mb));
    let on_front = |i: usize| front.contains(&i);
    let others: Vec<usize> = (0..pts.len()).filter(|i| !on_front(*i)).collect();
    let labels = |idx: &[usize]| -> Vec<(f64, f64, String)> {
        idx.iter().map(|&i| pts[i].clone()).collect()
    };
    // The front first: its labels are placed before the dominated points' take the room.
    if !front.is_empty() {
        panel.series.push(Series::new(
            format!("Pareto front ({})", front.len()),
            Hue::Palette(0),
            vec![
                Mark::Line(front.iter().map(|&i| xy[i]).collect()),
                Mark::Points(front.iter().map(|&i| xy[i]).collect()),
                Mark::Labels(labels(&front)),
            ],
        ));
    }
    if !others.is_empty() {
        panel.series.push(Series::new(
            format!("dominated ({})", others.len()),
            Hue::Other,
            vec![
                Mark::Points(others.iter().map(|&i| xy[i]).collect()),
                Mark::Labels(labels(&others)),
            ],
        ));
    }
    if !panel.has_data() {
        panel.note = Some(d.agg_problem.clone().unwrap_or_else(|| {
            format!("No point has both {ma} and {mb} (no data for one of them).")
        }));
    }
    let better = |m: &str| {
        if higher_is_better(m) {
            "higher"
        } else {
            "lower"
        }
    };
    let keys: Vec<&str> = d.keys.iter().map(|k| super::short_key(k)).collect();
    let mut caption = format!(
        "One dot per sweep point, labelled {} (a label that would cover another is left out). {} is better {}, {} is better {}; the front joins the points no other point beats on both.",
        keys.join("/"),
        ma,
        better(ma),
        mb,
        better(mb)
    );
    if absent > 0 {
        caption.push_str(&format!(" {absent} point(s) lack one of the metrics."));
    }
    Figure {
        name: format!("tradeoff_{}__{}", file_safe(ma), file_safe(mb)),
        title: format!("Trade-off: {} vs {}", mb, ma),
        caption,
        panels: vec![panel],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_front_of_five_points() {
        // A(1,5) B(2,3) C(3,4) D(4,1) E(2,6), lower better on both: C is beaten by B
        // (2 <= 3, 3 <= 4), E by A (1 <= 2, 5 <= 6); A, B, D beat each other on one metric only.
        let pts = [(1.0, 5.0), (2.0, 3.0), (3.0, 4.0), (4.0, 1.0), (2.0, 6.0)];
        assert_eq!(pareto_front(&pts, false, false), vec![0, 1, 3]);
        // Higher better on y: the front is the points with the most y for their x.
        // E(2,6) beats A(1,5)? no (x worse). E beats B and C (x <= , y >). A: nothing has
        // x <= 1 besides A. D(4,1) is beaten by C(3,4).
        assert_eq!(pareto_front(&pts, false, true), vec![0, 4]);
        // A tie is not domination.
        assert_eq!(
            pareto_front(&[(1.0, 1.0), (1.0, 1.0)], false, false),
            vec![0, 1]
        );
    }
}
