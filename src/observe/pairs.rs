//! The `delivery.*` figures (README "Metrics"), fed one due pair at a time: every pair, and
//! apart the local pairs (the recipient client is on the sender's own server) and the
//! remote ones (issue 10). Summary mode keeps only histograms and counts, full mode also
//! the exact latencies.

use super::delivery::{DeliveryRow, Fate, CAUSES};
use super::metrics::dist_metrics;
use super::stats::LogHistogram;
use super::{Metrics, Path};
use crate::kernel::time::to_ms_f64;
use crate::kernel::Time;
use std::collections::BTreeMap;

/// The `delivery.within_*` thresholds, in ms, with their metric names (after `delivery.`).
pub const WITHIN: [(&str, f64); 3] = [
    ("within_1s", 1_000.0),
    ("within_10s", 10_000.0),
    ("within_60s", 60_000.0),
];

/// Counts and latencies of one set of due pairs.
#[derive(Clone, Debug, PartialEq)]
pub struct PairStats {
    /// Due pairs: delivered, lost and pending.
    pub rows: u64,
    pub lost: u64,
    pub pending: u64,
    /// Pairs delivered (to the client) within 1 s, 10 s and 60 s of being sent.
    pub within: [u64; 3],
    /// Latencies of the delivered pairs (ms).
    pub hist: LogHistogram,
    /// Exact latencies (ms), kept while [`DeliveryStats::keep_values`].
    pub latencies: Vec<f64>,
}

impl PairStats {
    fn new() -> Self {
        PairStats {
            rows: 0,
            lost: 0,
            pending: 0,
            within: [0; 3],
            hist: LogHistogram::new(),
            latencies: vec![],
        }
    }

    fn latency(&mut self, us: Time, keep: bool) {
        let l = to_ms_f64(us);
        if keep {
            self.latencies.push(l);
        }
        self.hist.add_us(us);
        for (n, (_, limit)) in self.within.iter_mut().zip(WITHIN) {
            if l <= limit {
                *n += 1;
            }
        }
    }

    /// `<prefix>.delivered_fraction`, `<prefix>.within_*` and the latency percentiles.
    fn fractions(
        &mut self,
        m: &mut Metrics,
        prefix: &str,
        summary_mode: bool,
        with_mean_max: bool,
    ) {
        // Fractions of every due pair (delivered, lost and pending alike): a policy that loses
        // pairs cannot look fast by leaving them out. No pair due: no fraction.
        if self.rows > 0 {
            let delivered = self.rows - self.lost - self.pending;
            m.insert(
                format!("{prefix}.delivered_fraction"),
                delivered as f64 / self.rows as f64,
            );
            for (n, (name, _)) in self.within.iter().zip(WITHIN) {
                m.insert(format!("{prefix}.{name}"), *n as f64 / self.rows as f64);
            }
        }
        dist_metrics(
            m,
            &format!("{prefix}.latency_ms"),
            &mut self.latencies,
            &self.hist,
            summary_mode,
            &[("p50", 50.0), ("p90", 90.0), ("p99", 99.0)],
            with_mean_max,
        );
    }

    /// `<prefix>.count` (due pairs but the pending ones), `.lost` and `.pending_at_end`.
    fn counts(&self, m: &mut Metrics, prefix: &str) {
        m.insert(format!("{prefix}.count"), (self.rows - self.pending) as f64);
        m.insert(format!("{prefix}.lost"), self.lost as f64);
        m.insert(format!("{prefix}.pending_at_end"), self.pending as f64);
    }
}

/// The `delivery.*` figures of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryStats {
    pub keep_values: bool,
    pub all: PairStats,
    /// Pairs whose recipient client is on the event's origin server.
    pub local: PairStats,
    /// Pairs whose recipient client is on another server.
    pub remote: PairStats,
    pub by_cause: BTreeMap<&'static str, u64>,
    pub by_path: BTreeMap<&'static str, u64>,
}

impl DeliveryStats {
    pub fn new(keep_values: bool) -> Self {
        DeliveryStats {
            keep_values,
            all: PairStats::new(),
            local: PairStats::new(),
            remote: PairStats::new(),
            by_cause: BTreeMap::new(),
            by_path: BTreeMap::new(),
        }
    }

    fn both(&mut self, local: bool) -> [&mut PairStats; 2] {
        let part = if local {
            &mut self.local
        } else {
            &mut self.remote
        };
        [&mut self.all, part]
    }

    /// A due pair and its fate, latency included.
    pub fn add(&mut self, r: &DeliveryRow) {
        self.add_fate(r.local, &r.fate);
        if let Fate::Delivered {
            client_received, ..
        } = r.fate
        {
            self.add_latency(r.local, client_received.saturating_sub(r.sent));
        }
    }

    /// A due pair's fate, without its latency (given apart by [`Self::add_latency`]).
    pub fn add_fate(&mut self, local: bool, fate: &Fate) {
        match fate {
            Fate::Delivered { path, .. } => self.add_delivered(local, path),
            Fate::Lost { cause, .. } => {
                for s in self.both(local) {
                    s.rows += 1;
                    s.lost += 1;
                }
                *self.by_cause.entry(cause).or_insert(0) += 1;
            }
            Fate::Pending => {
                for s in self.both(local) {
                    s.rows += 1;
                    s.pending += 1;
                }
            }
        }
    }

    /// A delivered due pair, by the path its event took to the recipient's server.
    pub fn add_delivered(&mut self, local: bool, path: &'static str) {
        for s in self.both(local) {
            s.rows += 1;
        }
        *self.by_path.entry(path).or_insert(0) += 1;
    }

    /// The latency (µs, sent to received by the client) of a delivered due pair.
    pub fn add_latency(&mut self, local: bool, us: Time) {
        let keep = self.keep_values;
        for s in self.both(local) {
            s.latency(us, keep);
        }
    }

    /// Stop keeping exact values (and free them): summary mode from now on.
    pub fn drop_values(&mut self) {
        self.keep_values = false;
        for s in [&mut self.all, &mut self.local, &mut self.remote] {
            s.latencies = vec![];
        }
    }

    /// Every `delivery.*` metric into `m`; returns the latency histograms of all pairs, of
    /// the local ones and of the remote ones (summary.json keeps them in summary mode, for
    /// percentiles pooled over a sweep point's seeds).
    pub fn metrics(mut self, m: &mut Metrics, summary_mode: bool) -> LatencyHists {
        self.all.counts(m, "delivery");
        self.all.fractions(m, "delivery", summary_mode, true);
        for (s, prefix) in [
            (&mut self.local, "delivery.local"),
            (&mut self.remote, "delivery.remote"),
        ] {
            s.counts(m, prefix);
            s.fractions(m, prefix, summary_mode, false);
        }
        for c in CAUSES {
            m.insert(
                format!("delivery.lost_by_cause.{c}"),
                *self.by_cause.get(c).unwrap_or(&0) as f64,
            );
        }
        // Every path, zero included: a claim `by_path.catch_up == 0` is about real data.
        for p in [
            Path::Direct,
            Path::Retry,
            Path::CatchUp,
            Path::JoinPush,
            Path::Transitive,
        ] {
            let n = self.by_path.get(p.as_str()).copied().unwrap_or(0);
            m.insert(format!("delivery.by_path.{}", p.as_str()), n as f64);
        }
        LatencyHists {
            all: self.all.hist,
            local: self.local.hist,
            remote: self.remote.hist,
        }
    }
}

/// The delivered pairs' latency histograms: every pair, local pairs, remote pairs.
#[derive(Clone, Debug)]
pub struct LatencyHists {
    pub all: LogHistogram,
    pub local: LogHistogram,
    pub remote: LogHistogram,
}
