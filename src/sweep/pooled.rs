//! Percentiles pooled across a point's seeds, with a seed-bootstrap 95% interval.
//!
//! `aggregate.csv`'s `mean` of `delivery.latency_ms.p99` is the mean of the seeds' own p99s;
//! `pooled` is the p99 of every sample of every seed of the point taken together (every
//! delivered pair, every ghost), which is what "the point's p99" means. Samples come from
//! each run folder: the CSV column in full records mode (`deliveries.csv` `latency_ms`,
//! `ghosts.csv` `ghost_ms`), the `summary.json` histogram in summary mode (each bucket at
//! the value the run itself reports for it). Percentiles are nearest-rank, as in the runs.
//!
//! The interval resamples whole seeds (a seed's samples share one network draw, so they
//! are not independent): 1000 draws of the point's seeds with replacement from a ChaCha8
//! stream with a fixed seed per (point, metric), the pooled percentile of each draw, and
//! the 2.5th and 97.5th percentiles of those. Every bound is a sample value, so it can be
//! neither negative nor outside what was observed.

use crate::observe::stats::LogHistogram;
use crate::output::plots::data::{num, read_csv};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// Distributions whose percentiles are pooled: metric prefix, the run file with one sample
/// per row (full records), its column, and which of its rows count. In summary mode
/// `summary.json` has `histograms.<prefix>` instead.
pub const FAMILIES: [(&str, &str, &str, Rows); 4] = [
    (
        "delivery.latency_ms",
        "deliveries.csv",
        "latency_ms",
        Rows::All,
    ),
    (
        "delivery.local.latency_ms",
        "deliveries.csv",
        "latency_ms",
        Rows::Local,
    ),
    (
        "delivery.remote.latency_ms",
        "deliveries.csv",
        "latency_ms",
        Rows::Remote,
    ),
    ("rtc.ghost_ms", "ghosts.csv", "ghost_ms", Rows::All),
];

/// Which rows of a family's file are its samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rows {
    All,
    /// deliveries.csv rows whose recipient is on the sender's server (`delivery.local.*`).
    Local,
    /// deliveries.csv rows whose recipient is on another server (`delivery.remote.*`).
    Remote,
}

/// Bootstrap draws per interval.
pub const DRAWS: usize = 1000;

/// `"delivery.latency_ms.p99"` -> (index into [`FAMILIES`], 99.0); None for a metric that
/// is not a percentile of a pooled family.
pub fn percentile_metric(name: &str) -> Option<(usize, f64)> {
    let (prefix, last) = name.rsplit_once('.')?;
    let fam = FAMILIES.iter().position(|f| f.0 == prefix)?;
    let digits = last.strip_prefix('p')?;
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let p: f64 = digits.parse().ok()?;
    (p > 0.0 && p < 100.0).then_some((fam, p))
}

/// One run's samples of a family: (value, count) sorted by value, with cumulative counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples {
    values: Vec<f64>,
    /// `cum[i]` = samples among the first i values; `cum[0] = 0`.
    cum: Vec<u64>,
}

impl Samples {
    /// Exact values (full records mode).
    pub fn from_values(mut v: Vec<f64>) -> Samples {
        v.sort_by(f64::total_cmp);
        Samples::from_counts(v.into_iter().map(|x| (x, 1)).collect())
    }

    /// A summary-mode histogram: zeros at `max(min, 0)`, each bucket at its geometric
    /// midpoint clamped to [min, max], exactly the values `LogHistogram::percentile` gives.
    pub fn from_histogram(h: &LogHistogram) -> Samples {
        let mut out = vec![];
        if h.zeros > 0 {
            out.push((h.min.max(0.0), h.zeros));
        }
        let b = h.buckets_per_decade as f64;
        for (i, c) in &h.counts {
            if *c > 0 {
                out.push((10f64.powf((*i as f64 + 0.5) / b).clamp(h.min, h.max), *c));
            }
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        Samples::from_counts(out)
    }

    fn from_counts(pairs: Vec<(f64, u64)>) -> Samples {
        let mut cum = Vec::with_capacity(pairs.len() + 1);
        cum.push(0);
        let mut values = Vec::with_capacity(pairs.len());
        let mut total = 0;
        for (v, c) in pairs {
            total += c;
            values.push(v);
            cum.push(total);
        }
        Samples { values, cum }
    }

    pub fn count(&self) -> u64 {
        self.cum.last().copied().unwrap_or(0)
    }

    /// Samples at or below `v`.
    fn at_or_below(&self, v: f64) -> u64 {
        self.cum[self.values.partition_point(|x| *x <= v)]
    }
}

/// Reads a run folder's samples of family `fam`: the CSV column when the file is there,
/// else the `summary.json` histogram; `Ok(None)` when the run has neither.
pub fn read_samples(run_dir: &Path, fam: usize) -> Result<Option<Samples>, String> {
    let (prefix, file, col, rows) = FAMILIES[fam];
    let mut v = vec![];
    let cols: &[&str] = match rows {
        Rows::All => &[col],
        Rows::Local | Rows::Remote => &[col, "sender_server", "recipient_server"],
    };
    let read = read_csv(&run_dir.join(file), cols, |_, c| {
        let counts = match rows {
            Rows::All => true,
            Rows::Local => c[1] == c[2],
            Rows::Remote => c[1] != c[2],
        };
        if counts {
            if let Some(x) = num(col, c[0])? {
                v.push(x);
            }
        }
        Ok(())
    })?;
    if read.is_some() {
        return Ok(Some(Samples::from_values(v)));
    }
    let text = match std::fs::read_to_string(run_dir.join("summary.json")) {
        Ok(t) => t,
        Err(_) => return Ok(None),
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("summary.json: {e}"))?;
    match json.get("histograms").and_then(|h| h.get(prefix)) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(h) => {
            let h: LogHistogram = serde_json::from_value(h.clone())
                .map_err(|e| format!("summary.json histograms.{prefix}: {e}"))?;
            Ok(Some(Samples::from_histogram(&h)))
        }
    }
}

/// The nearest-rank `p`th percentile of the union of `runs`, run r counted `w[r]` times
/// (the runs' formula: rank ⌈p/100 · n⌉, at least 1). None when there is no sample.
pub fn weighted_percentile(runs: &[&Samples], w: &[u64], all: &[f64], p: f64) -> Option<f64> {
    let total: u64 = runs.iter().zip(w).map(|(s, w)| s.count() * w).sum();
    if total == 0 {
        return None;
    }
    let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
    let below = |v: f64| -> u64 { runs.iter().zip(w).map(|(s, w)| s.at_or_below(v) * w).sum() };
    // The smallest value with at least `rank` samples at or below it.
    let i = all.partition_point(|v| below(*v) < rank);
    all.get(i).copied()
}

/// A pooled percentile of one point.
#[derive(Clone, Debug, PartialEq)]
pub struct Pooled {
    pub value: f64,
    /// Samples over all the point's seeds.
    pub n: u64,
    /// Seed-bootstrap 95% interval; None with fewer than two seeds holding samples.
    pub ci95: Option<(f64, f64)>,
    /// Set when the value cannot be trusted as a percentile (too few samples).
    pub warning: Option<String>,
}

/// Samples needed before the nearest-rank `p`th percentile is not simply the largest.
pub fn min_samples(p: f64) -> f64 {
    100.0 / (100.0 - p)
}

/// The pooled `p`th percentile of a point whose seeds have `runs` samples; `stream` seeds
/// the bootstrap (fixed per point and metric).
pub fn pool(runs: &[&Samples], p: f64, stream: u64) -> Option<Pooled> {
    let mut all: Vec<f64> = runs.iter().flat_map(|s| s.values.iter().copied()).collect();
    all.sort_by(f64::total_cmp);
    all.dedup();
    let ones = vec![1u64; runs.len()];
    let value = weighted_percentile(runs, &ones, &all, p)?;
    let n: u64 = runs.iter().map(|s| s.count()).sum();
    let with_data = runs.iter().filter(|s| s.count() > 0).count();
    let ci95 = (with_data >= 2).then(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(stream);
        let k = runs.len() as u32;
        let mut est = Vec::with_capacity(DRAWS);
        let mut w = vec![0u64; runs.len()];
        for _ in 0..DRAWS {
            w.iter_mut().for_each(|x| *x = 0);
            for _ in 0..k {
                w[rng.random_range(0..k) as usize] += 1;
            }
            if let Some(x) = weighted_percentile(runs, &w, &all, p) {
                est.push(x);
            }
        }
        est.sort_by(f64::total_cmp);
        let lo = crate::observe::stats::percentile(&est, 2.5).unwrap_or(value);
        let hi = crate::observe::stats::percentile(&est, 97.5).unwrap_or(value);
        (lo, hi)
    });
    let warning = ((n as f64) < min_samples(p)).then(|| {
        format!(
            "{n} samples: p{} needs at least {} to differ from the largest",
            fmt_p(p),
            min_samples(p).ceil()
        )
    });
    Some(Pooled {
        value,
        n,
        ci95,
        warning,
    })
}

fn fmt_p(p: f64) -> String {
    format!("{p}")
}

/// The bootstrap stream of (point, metric): FNV-1a of the metric name mixed with the point.
pub fn stream_for(point: usize, metric: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in metric.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^ (point as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Whether each run's own samples give back the percentile it reported (`reported[r]`,
/// None when the run has no such metric). When they do not (the run's metric is defined on
/// other samples than its CSV holds), a pooled value would not mean the same thing.
pub fn reproduces(runs: &[&Samples], reported: &[Option<f64>], p: f64) -> bool {
    runs.iter().zip(reported).all(|(s, r)| {
        let mut all = s.values.clone();
        all.dedup();
        weighted_percentile(&[s], &[1], &all, p) == *r
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            percentile_metric("delivery.latency_ms.p99"),
            Some((0, 99.0))
        );
        assert_eq!(
            percentile_metric("delivery.local.latency_ms.p50"),
            Some((1, 50.0))
        );
        assert_eq!(
            percentile_metric("delivery.remote.latency_ms.p99"),
            Some((2, 99.0))
        );
        assert_eq!(percentile_metric("rtc.ghost_ms.p50"), Some((3, 50.0)));
        assert_eq!(percentile_metric("delivery.latency_ms.max"), None);
        assert_eq!(percentile_metric("delivery.lost"), None);
        assert_eq!(
            percentile_metric("convergence.time_to_converge_ms.p50"),
            None
        );
    }

    #[test]
    fn pooled_percentile_of_two_seeds_by_hand() {
        // Seed A: 10, 20, 30; seed B: 40, 50, 60, 70. Pooled, sorted: 10 20 30 40 50 60 70.
        let a = Samples::from_values(vec![30.0, 10.0, 20.0]);
        let b = Samples::from_values(vec![70.0, 40.0, 60.0, 50.0]);
        let runs = [&a, &b];
        // p50: rank ceil(0.5 * 7) = 4 -> 40 (the mean of the seeds' p50s, 20 and 50, is 35).
        let p50 = pool(&runs, 50.0, 1).unwrap();
        assert_eq!((p50.value, p50.n), (40.0, 7));
        assert!(reproduces(&[&a], &[Some(20.0)], 50.0));
        assert!(reproduces(&[&b], &[Some(50.0)], 50.0));
        assert!(!reproduces(&[&b], &[Some(55.0)], 50.0));
        // p99: rank ceil(6.93) = 7 -> 70, the largest: fewer than 100 samples, warned.
        let p99 = pool(&runs, 99.0, 1).unwrap();
        assert_eq!(p99.value, 70.0);
        assert!(p99
            .warning
            .unwrap()
            .starts_with("7 samples: p99 needs at least 100"));
        assert!(p50.warning.is_none());
        // The bootstrap draws two seeds with replacement: AA (1/4), AB or BA (1/2), BB (1/4).
        // AA = 10 10 20 20 30 30: rank 3 -> 20; AB -> 40; BB = 40 40 ... 70 70: rank 4 -> 50.
        // With 1000 draws about 250 are AA and 250 BB, so the 2.5th and 97.5th percentiles of
        // the estimates are 20 and 50.
        assert_eq!(p50.ci95, Some((20.0, 50.0)));
        // One seed: no interval.
        assert_eq!(pool(&[&a], 50.0, 1).unwrap().ci95, None);
        assert_eq!(pool(&[&Samples::default()], 50.0, 1), None);
    }

    #[test]
    fn histogram_samples_reproduce_the_histogram_percentiles() {
        let mut h = LogHistogram::new();
        for x in [0.0, 3.0, 7.5, 7.6, 120.0, 4000.0, 4001.0] {
            h.add(x);
        }
        let s = Samples::from_histogram(&h);
        assert_eq!(s.count(), 7);
        for p in [1.0, 30.0, 50.0, 90.0, 99.0] {
            assert!(reproduces(&[&s], &[h.percentile(p)], p), "p{p}");
        }
    }
}
