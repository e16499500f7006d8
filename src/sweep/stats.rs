//! Per-point statistics across seeds: n, mean, sample std, 95% CI (Student's t), min,
//! median, max.
//!
//! Only `+ - * /` and `sqrt` (all correctly rounded in IEEE 754) are used on the data and
//! the t quantile comes from a table, so the numbers are the same bit for bit on every
//! machine.

/// Summary of one metric at one point.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator); 0 when n = 1.
    pub std: f64,
    pub ci95_lo: f64,
    pub ci95_hi: f64,
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

/// Statistics of `values` (in a fixed order: the sum is order-sensitive). None when empty
/// or when a value is not finite.
pub fn stats(values: &[f64]) -> Option<Stats> {
    let n = values.len();
    if n == 0 || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let min = sorted[0];
    let max = sorted[n - 1];
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        midpoint(sorted[n / 2 - 1], sorted[n / 2])
    };
    if min == max {
        // A constant metric: exactly its value, zero width (no rounding noise from the sum).
        return Some(Stats {
            n,
            mean: min,
            std: 0.0,
            ci95_lo: min,
            ci95_hi: min,
            min,
            median: min,
            max,
        });
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    // The mean of values in [min, max] lies in [min, max]; keep it there despite rounding.
    let mean = mean.clamp(min, max);
    if n == 1 {
        return Some(Stats {
            n,
            mean,
            std: 0.0,
            ci95_lo: mean,
            ci95_hi: mean,
            min,
            median,
            max,
        });
    }
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    let std = (ss / (n - 1) as f64).sqrt();
    let half = t975(n - 1) * std / (n as f64).sqrt();
    Some(Stats {
        n,
        mean,
        std,
        ci95_lo: mean - half,
        ci95_hi: mean + half,
        min,
        median,
        max,
    })
}

/// Whether a metric is a share in [0, 1], by its name (README "Reading the metrics").
pub fn is_fraction(name: &str) -> bool {
    name.contains("fraction") || name.starts_with("delivery.within_") || name.ends_with("_censored")
}

/// The range a metric's values live in: shares in [0, 1]; everything else stickysim reports
/// (counts, durations, bytes, events) at or above 0.
pub fn metric_range(name: &str) -> (f64, f64) {
    if is_fraction(name) {
        (0.0, 1.0)
    } else {
        (0.0, f64::INFINITY)
    }
}

/// [`stats`] with the interval cut to `range`: mean ± t·s/√n can reach below 0 for a count
/// near 0 with few seeds, or above 100% for a share near 1. A bound is cut only when every
/// value lies in the range (a metric that breaks the range keeps the plain interval).
pub fn stats_in(values: &[f64], range: (f64, f64)) -> Option<Stats> {
    let mut s = stats(values)?;
    if s.min >= range.0 {
        s.ci95_lo = s.ci95_lo.max(range.0);
    }
    if s.max <= range.1 {
        s.ci95_hi = s.ci95_hi.min(range.1);
    }
    Some(s)
}

fn midpoint(a: f64, b: f64) -> f64 {
    // a/2 + b/2 cannot overflow; exact when both halves are exact.
    a / 2.0 + b / 2.0
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom (the two-sided 95%
/// interval's multiplier). A table for df ≤ 120 (computed with mpmath at 40 digits), then
/// the Cornish–Fisher expansion around the normal quantile (error < 1e-12 beyond 120).
/// `df = 0` has no interval: returns infinity.
pub fn t975(df: usize) -> f64 {
    if df == 0 {
        return f64::INFINITY;
    }
    if let Some(&t) = T975.get(df - 1) {
        return t;
    }
    let z = Z975;
    let n = df as f64;
    let z2 = z * z;
    let z3 = z2 * z;
    let z5 = z3 * z2;
    let z7 = z5 * z2;
    let z9 = z7 * z2;
    z + (z3 + z) / (4.0 * n)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * n * n)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * n * n * n)
        + (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z)
            / (92160.0 * n * n * n * n)
}

/// The 0.975 quantile of the standard normal.
pub const Z975: f64 = 1.959_963_984_540_054_3;

/// t(0.975, df) for df = 1..=120.
const T975: [f64; 120] = [
    12.706204736174705,
    4.302652729749464,
    3.1824463052837095,
    2.7764451051977943,
    2.5705818356363155,
    2.44691185114497,
    2.3646242515927853,
    2.3060041352041667,
    2.2621571627982053,
    2.228138851986275,
    2.2009851600916397,
    2.178812829667229,
    2.1603686564627926,
    2.144786687917804,
    2.1314495455597755,
    2.1199052992212546,
    2.109815577833317,
    2.1009220402410387,
    2.0930240544083096,
    2.085963447265865,
    2.0796138447276804,
    2.0738730679040263,
    2.0686576104190486,
    2.063898561628026,
    2.0595385527532977,
    2.055529438642873,
    2.0518305164802855,
    2.048407141795245,
    2.0452296421327043,
    2.042272456301238,
    2.0395134463964086,
    2.036933343460102,
    2.034515297449339,
    2.032244509317719,
    2.0301079282503434,
    2.028094000980451,
    2.0261924630291097,
    2.02439416391197,
    2.0226909200367613,
    2.0210753903062733,
    2.0195409704413763,
    2.018081702818445,
    2.0166921992278244,
    2.015367574443764,
    2.0141033888808466,
    2.012895598919429,
    2.011740513729766,
    2.0106347576242323,
    2.0095752371292397,
    2.008559112100761,
    2.007583770315836,
    2.0066468050616884,
    2.005745995317869,
    2.004879288188057,
    2.004044783289146,
    2.0032407188478722,
    2.0024654592910074,
    2.001717484145236,
    2.000995378088268,
    2.0002978220142604,
    1.9996235849949398,
    1.998971517033379,
    1.9983405425207417,
    1.997729654317693,
    1.997137908392004,
    1.996564418952312,
    1.9960083540252966,
    1.995468931429844,
    1.994945415107238,
    1.9944371117711865,
    1.9939433678456258,
    1.9934635666618723,
    1.9929971258898551,
    1.9925434951809327,
    1.992102154002242,
    1.9916726096446644,
    1.991254395388385,
    1.9908470688116908,
    1.990450210230129,
    1.9900634212544461,
    1.9896863234569029,
    1.9893185571365726,
    1.9889597801751628,
    1.9886096669757092,
    1.988267907477222,
    1.9879342062390206,
    1.9876082815890712,
    1.9872898648311697,
    1.9869786995062815,
    1.9866745407037683,
    1.9863771544186182,
    1.9860863169511305,
    1.9858018143458234,
    1.9855234418666043,
    1.9852510035054982,
    1.9849843115224575,
    1.9847231860139847,
    1.9844674545084817,
    1.9842169515864174,
    1.9839715185235522,
    1.9837310029556061,
    1.9834952585628798,
    1.983264144773457,
    1.9830375264837259,
    1.9828152737950482,
    1.9825972617655006,
    1.9823833701756912,
    1.9821734833077271,
    1.9819674897364827,
    1.9817652821323724,
    1.981566757074901,
    1.981371814876306,
    1.981180359414661,
    1.9809922979758574,
    1.98080754110391,
    1.98062600245909,
    1.9804475986834027,
    1.9802722492729745,
    1.98009987645694,
    1.979930405082441,
];

/// Student's t CDF by the regularised incomplete beta (continued fraction). Used to check
/// the table; not on the output path.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    let x = df / (df + t * t);
    let tail = 0.5 * reg_inc_beta(df / 2.0, 0.5, x);
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The t quantile for any p in (0, 1) and df > 0, by bisection on [`student_t_cdf`].
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    let valid = p > 0.0 && p < 1.0 && df > 0.0;
    if !valid {
        return f64::NAN;
    }
    if p < 0.5 {
        return -student_t_quantile(1.0 - p, df);
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while student_t_cdf(hi, df) < p && hi < 1e300 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if student_t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

fn ln_gamma(x: f64) -> f64 {
    // Lanczos approximation (g = 7, n = 9).
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

fn reg_inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// Lentz's continued fraction for the incomplete beta.
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r3(x: f64) -> f64 {
        (x * 1000.0).round() / 1000.0
    }

    #[test]
    fn t_quantiles_match_published_values() {
        assert_eq!(r3(t975(1)), 12.706);
        assert_eq!(r3(t975(4)), 2.776);
        assert_eq!(r3(t975(9)), 2.262);
        assert_eq!(r3(t975(30)), 2.042);
        assert_eq!(r3(t975(1_000_000)), 1.960);
        assert!(t975(0).is_infinite());
    }

    #[test]
    fn table_agrees_with_the_incomplete_beta_inverse() {
        for df in 1..=200usize {
            let exact = student_t_quantile(0.975, df as f64);
            let got = t975(df);
            assert!(
                (exact - got).abs() < 1e-9 * exact,
                "df {df}: table {got} vs inverse {exact}"
            );
        }
        // df = 1 is the Cauchy distribution: tan(0.475 pi).
        let cauchy = (0.475 * std::f64::consts::PI).tan();
        assert!((t975(1) - cauchy).abs() < 1e-9);
        assert!((student_t_quantile(0.025, 4.0) + 2.7764451051977943).abs() < 1e-9);
    }

    #[test]
    fn stats_of_known_samples() {
        let s = stats(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(s.n, 5);
        assert_eq!(s.mean, 3.0);
        assert!((s.std - 2.5f64.sqrt()).abs() < 1e-15);
        let half = t975(4) * 2.5f64.sqrt() / 5f64.sqrt();
        assert!((s.ci95_hi - (3.0 + half)).abs() < 1e-12);
        assert!((s.ci95_lo - (3.0 - half)).abs() < 1e-12);
        assert_eq!((s.min, s.median, s.max), (1.0, 3.0, 5.0));
        let s = stats(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(s.median, 2.5);
    }

    #[test]
    fn intervals_stay_in_the_metric_range() {
        // [0, 0, 3]: mean 1, s = sqrt((1 + 1 + 4) / 2) = sqrt 3, half = t(2) sqrt 3 / sqrt 3.
        let s = stats_in(&[0.0, 0.0, 3.0], metric_range("delivery.lost")).unwrap();
        assert_eq!(s.mean, 1.0);
        assert_eq!(s.ci95_lo, 0.0); // 1 - 4.30 cut at 0
        assert!((s.ci95_hi - (1.0 + 4.302652729749464)).abs() < 1e-12);
        // [1, 1, 0.7]: mean 0.9, s = sqrt(0.03), half = t(2) * 0.1 = 0.430.
        let s = stats_in(&[1.0, 1.0, 0.7], metric_range("delivery.within_1s")).unwrap();
        assert!((s.mean - 0.9).abs() < 1e-12);
        assert_eq!(s.ci95_hi, 1.0); // 1.33 cut at 1
        assert!((s.ci95_lo - (0.9 - 0.4302652729749464)).abs() < 1e-9);
        assert_eq!(metric_range("delivery.delivered_fraction"), (0.0, 1.0));
        assert_eq!(metric_range("rtc.ghost_ms.p99"), (0.0, f64::INFINITY));
    }

    #[test]
    fn constant_and_single_have_zero_width() {
        let s = stats(&[0.1, 0.1, 0.1]).unwrap();
        assert_eq!((s.mean, s.std, s.ci95_lo, s.ci95_hi), (0.1, 0.0, 0.1, 0.1));
        let s = stats(&[7.5]).unwrap();
        assert_eq!(
            (s.n, s.mean, s.std, s.ci95_lo, s.ci95_hi),
            (1, 7.5, 0.0, 7.5, 7.5)
        );
        assert!(stats(&[]).is_none());
        assert!(stats(&[1.0, f64::NAN]).is_none());
    }
}
