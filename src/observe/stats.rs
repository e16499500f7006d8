//! Percentiles and the log-bucketed histogram of `records = "summary"`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Nearest-rank percentile of sorted values (p in 0..=100).
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

pub fn mean(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        None
    } else {
        Some(v.iter().sum::<f64>() / v.len() as f64)
    }
}

/// A histogram with `BUCKETS_PER_DECADE` logarithmic buckets per factor of ten: a value is
/// reported as its bucket's geometric midpoint, within 0.6 % of the truth.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LogHistogram {
    pub kind: String,
    pub buckets_per_decade: u32,
    /// Values at or below `zero_threshold` (counted apart).
    pub zero_threshold: f64,
    pub zeros: u64,
    /// Bucket index -> count; bucket i holds (10^(i/B), 10^((i+1)/B)].
    pub counts: BTreeMap<i32, u64>,
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// The exact sum in µs of values given by [`LogHistogram::add_us`]: `sum` is derived
    /// from it, so it does not depend on the order the values came in.
    #[serde(skip)]
    sum_us: u128,
}

pub const BUCKETS_PER_DECADE: u32 = 200;

impl LogHistogram {
    pub fn new() -> Self {
        LogHistogram {
            kind: "log".into(),
            buckets_per_decade: BUCKETS_PER_DECADE,
            zero_threshold: 1e-3,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            ..Default::default()
        }
    }

    pub fn add(&mut self, v: f64) {
        if v.is_finite() {
            self.sum += v;
            self.record(v);
        }
    }

    /// A duration in µs, added as milliseconds; the sum is kept exact (in µs), so that
    /// values fed in any order give the same `sum` and mean.
    pub fn add_us(&mut self, us: u64) {
        self.sum_us += u128::from(us);
        self.sum = self.sum_us as f64 / 1000.0;
        self.record(crate::kernel::time::to_ms_f64(us));
    }

    /// Count `v` (finite) in everything but `sum`.
    fn record(&mut self, v: f64) {
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if v <= self.zero_threshold {
            self.zeros += 1;
            return;
        }
        let b = self.buckets_per_decade as f64;
        let i = (v.log10() * b).ceil() as i32 - 1;
        *self.counts.entry(i).or_insert(0) += 1;
    }

    fn value_of(&self, i: i32) -> f64 {
        let b = self.buckets_per_decade as f64;
        10f64.powf((i as f64 + 0.5) / b)
    }

    /// Nearest-rank percentile, as the bucket's geometric midpoint (clamped to [min, max]).
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = self.zeros;
        if rank <= seen {
            return Some(self.min.max(0.0));
        }
        for (i, c) in &self.counts {
            seen += c;
            if seen >= rank {
                return Some(self.value_of(*i).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(percentile(&v, 50.0), Some(5.0));
        assert_eq!(percentile(&v, 90.0), Some(9.0));
        assert_eq!(percentile(&v, 99.0), Some(10.0));
        assert_eq!(percentile(&v, 100.0), Some(10.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn histogram_percentiles_within_one_percent() {
        let mut h = LogHistogram::new();
        let mut v: Vec<f64> = (1..=10_000)
            .map(|i| (i as f64).powf(1.7) / 3.0 + 0.5)
            .collect();
        for x in &v {
            h.add(*x);
        }
        v.sort_by(|a, b| a.total_cmp(b));
        for p in [50.0, 90.0, 99.0, 99.9] {
            let exact = percentile(&v, p).unwrap();
            let approx = h.percentile(p).unwrap();
            assert!(
                (approx - exact).abs() / exact < 0.01,
                "p{p}: {approx} vs {exact}"
            );
        }
    }
}
