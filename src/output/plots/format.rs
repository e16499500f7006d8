//! Number, duration and byte formatting shared by the plots (tick labels) and the report.

/// A time unit for axes and tables; values are stored in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Us,
    Ms,
    S,
    Min,
    H,
    D,
}

impl TimeUnit {
    pub fn ms(self) -> f64 {
        match self {
            TimeUnit::Us => 0.001,
            TimeUnit::Ms => 1.0,
            TimeUnit::S => 1_000.0,
            TimeUnit::Min => 60_000.0,
            TimeUnit::H => 3_600_000.0,
            TimeUnit::D => 86_400_000.0,
        }
    }
    pub fn symbol(self) -> &'static str {
        match self {
            TimeUnit::Us => "µs",
            TimeUnit::Ms => "ms",
            TimeUnit::S => "s",
            TimeUnit::Min => "min",
            TimeUnit::H => "h",
            TimeUnit::D => "d",
        }
    }
    /// The unit a magnitude (ms) reads best in: 1.5 s rather than 1500 ms, 12 min rather than 720 s.
    pub fn for_magnitude(ms: f64) -> TimeUnit {
        let a = ms.abs();
        if a == 0.0 || !a.is_finite() {
            TimeUnit::Ms
        } else if a < 1.0 {
            TimeUnit::Us
        } else if a < 1_000.0 {
            TimeUnit::Ms
        } else if a < 60_000.0 {
            TimeUnit::S
        } else if a < 3_600_000.0 {
            TimeUnit::Min
        } else if a < 86_400_000.0 {
            TimeUnit::H
        } else {
            TimeUnit::D
        }
    }
}

/// `x` with at most `sig` significant digits, trailing zeros trimmed, no exponent for the
/// magnitudes we meet (1e-3 .. 1e15).
pub fn sig(x: f64, sig: usize) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "∞".into()
        } else {
            "-∞".into()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    let mag = x.abs().log10().floor() as i32;
    let decimals = (sig as i32 - 1 - mag).clamp(0, 9) as usize;
    let s = format!("{:.*}", decimals, x);
    let s = trim_zeros(&s);
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// A duration in milliseconds as people say it: "0 ms", "340 ms", "1.5 s", "12 min", "1.5 h".
pub fn duration_ms(ms: f64) -> String {
    if !ms.is_finite() {
        return sig(ms, 3);
    }
    if ms == 0.0 {
        return "0 ms".into();
    }
    let mut unit = TimeUnit::for_magnitude(ms);
    // 59.96 s rounds to "60 s": say "1 min" instead.
    let mut v = ms / unit.ms();
    if sig(v.abs(), 3) == "1000" && unit == TimeUnit::Ms
        || sig(v.abs(), 3) == "60" && matches!(unit, TimeUnit::S | TimeUnit::Min)
        || sig(v.abs(), 3) == "24" && unit == TimeUnit::H
        || sig(v.abs(), 3) == "1000" && unit == TimeUnit::Us
    {
        unit = TimeUnit::for_magnitude(ms * 1.01);
        v = ms / unit.ms();
    }
    format!("{} {}", sig(v, 3), unit.symbol())
}

/// An integer count with thousands separators: 1234567 -> "1,234,567".
pub fn count(x: f64) -> String {
    if !x.is_finite() {
        return sig(x, 3);
    }
    if x.fract() != 0.0 {
        return sig(x, 4);
    }
    let neg = x < 0.0;
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

/// The first `shown` names joined by ", ", and " +N" for the N left out
/// (`hs256, hs299, hs359 +47`).
pub fn first_names<S: AsRef<str>>(names: &[S], shown: usize) -> String {
    let mut t = names
        .iter()
        .take(shown)
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > shown {
        t.push_str(&format!(" +{}", names.len() - shown));
    }
    t
}

/// A compact count for tick labels: 950, 1.2k, 35k, 1.2M.
pub fn compact(x: f64) -> String {
    let a = x.abs();
    if a >= 1e9 {
        format!("{}G", sig(x / 1e9, 3))
    } else if a >= 1e6 {
        format!("{}M", sig(x / 1e6, 3))
    } else if a >= 1e4 {
        format!("{}k", sig(x / 1e3, 3))
    } else {
        sig(x, 4)
    }
}

/// Bytes in decimal units: "512 B", "1.2 kB", "3.4 MB".
pub fn bytes(x: f64) -> String {
    let a = x.abs();
    if a >= 1e9 {
        format!("{} GB", sig(x / 1e9, 3))
    } else if a >= 1e6 {
        format!("{} MB", sig(x / 1e6, 3))
    } else if a >= 1e3 {
        format!("{} kB", sig(x / 1e3, 3))
    } else {
        format!("{} B", sig(x, 3))
    }
}

/// "Nice" linear ticks (1, 2, 5 × 10^k steps) covering [lo, hi], about `target` of them.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    nice_ticks_with(lo, hi, target, &[1.0, 2.0, 2.5, 5.0, 10.0])
}

/// Linear ticks whose step is one of `mults` × 10^k (mults sorted, within [1, 10]).
pub fn nice_ticks_with(lo: f64, hi: f64, target: usize, mults: &[f64]) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let p = 10f64.powf(raw.log10().floor());
    let step = mults
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * p);
    ticks_with_step(lo, hi, step)
}

/// Every multiple of `step` within [lo, hi] (with a little tolerance at both ends).
pub fn ticks_with_step(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    if step <= 0.0 || !step.is_finite() {
        return vec![lo];
    }
    let eps = step * 1e-9;
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    if last < first || last - first > 1000 {
        return vec![lo, hi];
    }
    (first..=last)
        .map(|i| {
            let v = i as f64 * step;
            if v.abs() < eps {
                0.0
            } else {
                v
            }
        })
        .collect()
}

/// Time ticks for a linear axis in ms: a unit chosen by the range, and steps that are
/// round in that unit (1/2/5/10/15/30 min, 1/2/3/6/12 h ...). Returns (ticks in ms, unit).
pub fn time_ticks(lo_ms: f64, hi_ms: f64, target: usize) -> (Vec<f64>, TimeUnit) {
    let span = (hi_ms - lo_ms)
        .abs()
        .max(hi_ms.abs().max(lo_ms.abs()) * 1e-9);
    let unit = if span <= 2_000.0 {
        TimeUnit::Ms
    } else if span <= 180_000.0 {
        TimeUnit::S
    } else if span <= 3.0 * 3_600_000.0 {
        TimeUnit::Min
    } else if span <= 3.0 * 86_400_000.0 {
        TimeUnit::H
    } else {
        TimeUnit::D
    };
    let (lo, hi) = (lo_ms / unit.ms(), hi_ms / unit.ms());
    let ticks = match unit {
        TimeUnit::S | TimeUnit::Min => {
            let raw = (hi - lo) / target.max(1) as f64;
            let steps = [
                0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0,
            ];
            match steps.iter().find(|s| **s >= raw * 0.999) {
                Some(s) => ticks_with_step(lo, hi, *s),
                None => nice_ticks(lo, hi, target),
            }
        }
        TimeUnit::H => {
            let raw = (hi - lo) / target.max(1) as f64;
            let steps = [0.25, 0.5, 1.0, 2.0, 3.0, 6.0, 12.0, 24.0];
            match steps.iter().find(|s| **s >= raw * 0.999) {
                Some(s) => ticks_with_step(lo, hi, *s),
                None => nice_ticks(lo, hi, target),
            }
        }
        _ => nice_ticks(lo, hi, target),
    };
    (ticks.into_iter().map(|t| t * unit.ms()).collect(), unit)
}

/// A tick label for `ms` in a fixed unit: "0 min", "10 min", "2.5 s".
pub fn time_in_unit(ms: f64, unit: TimeUnit) -> String {
    format!("{} {}", sig(ms / unit.ms(), 6), unit.symbol())
}

/// Ticks for a log time axis (values in ms): round human durations (1 ms, 10 ms, 100 ms,
/// 1 s, 10 s, 1 min, 10 min, 1 h ...), with 2/5 steps added when the range is narrow.
pub fn log_time_ticks(lo_ms: f64, hi_ms: f64) -> (Vec<f64>, Vec<f64>) {
    const MAJOR: [f64; 13] = [
        0.001,
        0.01,
        0.1,
        1.0,
        10.0,
        100.0,
        1_000.0,
        10_000.0,
        60_000.0,
        600_000.0,
        3_600_000.0,
        36_000_000.0,
        86_400_000.0,
    ];
    const MINOR: [f64; 22] = [
        0.002,
        0.005,
        0.02,
        0.05,
        0.2,
        0.5,
        2.0,
        5.0,
        20.0,
        50.0,
        200.0,
        500.0,
        2_000.0,
        5_000.0,
        20_000.0,
        30_000.0,
        120_000.0,
        300_000.0,
        1_200_000.0,
        1_800_000.0,
        7_200_000.0,
        21_600_000.0,
    ];
    let within = |v: &&f64| **v >= lo_ms * 0.999 && **v <= hi_ms * 1.001;
    let major: Vec<f64> = MAJOR.iter().filter(within).copied().collect();
    let minor: Vec<f64> = MINOR.iter().filter(within).copied().collect();
    if major.len() >= 3 {
        label_outer_minors(major, minor)
    } else {
        let mut all: Vec<f64> = major.iter().chain(minor.iter()).copied().collect();
        all.sort_by(f64::total_cmp);
        (all, vec![])
    }
}

/// Labels the outermost minor tick beyond each end of the major ones when it is at least
/// half a decade (3×) past them, so data near an axis end reads against a labelled tick
/// (a CDF of 5 s latencies on an axis that ends at 6 s gets "5 s", not only "1 s").
fn label_outer_minors(mut major: Vec<f64>, minor: Vec<f64>) -> (Vec<f64>, Vec<f64>) {
    let (first, last) = (major[0], major[major.len() - 1]);
    let below = minor
        .iter()
        .copied()
        .filter(|m| *m * 3.0 <= first)
        .reduce(f64::min);
    let above = minor
        .iter()
        .copied()
        .filter(|m| *m >= last * 3.0)
        .reduce(f64::max);
    for v in below.into_iter().chain(above) {
        major.push(v);
    }
    major.sort_by(f64::total_cmp);
    let minor = minor.into_iter().filter(|m| !major.contains(m)).collect();
    (major, minor)
}

/// Ticks for a plain log axis: 1, 10, 100 ... plus 2 and 5 when the range is narrow.
pub fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    if lo <= 0.0 || hi <= lo || !hi.is_finite() {
        return (vec![], vec![]);
    }
    let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let mut major = vec![];
    let mut minor = vec![];
    for e in a..=b {
        let p = 10f64.powi(e);
        for (m, is_major) in [(1.0, true), (2.0, false), (5.0, false)] {
            let v = m * p;
            if v >= lo * 0.999 && v <= hi * 1.001 {
                if is_major {
                    major.push(v)
                } else {
                    minor.push(v)
                }
            }
        }
    }
    if major.len() >= 3 {
        label_outer_minors(major, minor)
    } else {
        let mut all: Vec<f64> = major.into_iter().chain(minor).collect();
        all.sort_by(f64::total_cmp);
        (all, vec![])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_ms(0.0), "0 ms");
        assert_eq!(duration_ms(120.6), "121 ms");
        assert_eq!(duration_ms(12.26), "12.3 ms");
        assert_eq!(duration_ms(1500.0), "1.5 s");
        assert_eq!(duration_ms(600_000.0), "10 min");
        assert_eq!(duration_ms(3_600_000.0), "1 h");
        assert_eq!(duration_ms(59_990.0), "1 min");
        assert_eq!(duration_ms(0.5), "500 µs");
    }

    #[test]
    fn counts_and_bytes() {
        assert_eq!(count(1234567.0), "1,234,567");
        assert_eq!(count(12.0), "12");
        assert_eq!(count(-1000.0), "-1,000");
        assert_eq!(bytes(1234.0), "1.23 kB");
        assert_eq!(compact(35_000.0), "35k");
    }

    #[test]
    fn time_ticks_pick_units() {
        let (t, u) = time_ticks(0.0, 3_600_000.0, 6);
        assert_eq!(u, TimeUnit::Min);
        assert_eq!(time_in_unit(t[1], u), "10 min");
        let (t, u) = time_ticks(0.0, 30_000.0, 6);
        assert_eq!(u, TimeUnit::S);
        assert_eq!(time_in_unit(t[1], u), "5 s");
        let (major, _) = log_time_ticks(5.0, 200_000.0);
        assert_eq!(major, vec![10.0, 100.0, 1_000.0, 10_000.0, 60_000.0]);
        // 8 ms .. 6.5 s: 5 s is 5× past the last major (1 s), so it is labelled too.
        let (major, minor) = log_time_ticks(8.0, 6_500.0);
        assert_eq!(major, vec![10.0, 100.0, 1_000.0, 5_000.0]);
        assert!(!minor.contains(&5_000.0) && minor.contains(&2_000.0));
        // 106 ms .. 70 min: 200 ms is 5× below 1 s; 2 h is past the end.
        let (major, _) = log_time_ticks(106.0, 4_200_000.0);
        assert_eq!(major[0], 200.0);
        assert_eq!(major[1], 1_000.0);
        // 1 .. 2 500 (plain): 2 000 is 2× past 1 000, not labelled.
        let (major, _) = log_ticks(1.0, 2_500.0);
        assert_eq!(major, vec![1.0, 10.0, 100.0, 1_000.0]);
    }
}
