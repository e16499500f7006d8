//! Running totals of the streamed rows ([`super::stream`]) for the metrics that read them
//! (README "Metrics": federation.*, sync.*, convergence.max_divergence_ms): the same
//! numbers the rows would give, kept as the rows go by.

use super::recorder::{ConvRow, SendRow, SyncRow};
use crate::kernel::Time;
use crate::matrix::msg::Outcome;
use crate::matrix::RoomId;
use std::collections::BTreeMap;

/// federation.*: attempts by outcome, retries and bytes.
#[derive(Clone, Debug, Default)]
pub struct FedTotals {
    pub attempts: u64,
    /// Attempts after the first of their `/send`.
    pub retries: u64,
    pub rate_limited: u64,
    pub timeouts: u64,
    pub server_errors: u64,
    pub refused: u64,
    pub bytes: u64,
}

impl FedTotals {
    pub fn add(&mut self, a: &SendRow) {
        self.attempts += 1;
        self.retries += u64::from(a.attempt > 1);
        match a.outcome {
            Outcome::RateLimited => self.rate_limited += 1,
            Outcome::Timeout => self.timeouts += 1,
            Outcome::ServerError => self.server_errors += 1,
            Outcome::Refused => self.refused += 1,
            _ => {}
        }
        self.bytes += a.bytes;
    }
}

/// sync.*: responses, the most sticky events in one, and the bytes summed in row order
/// (the mean's float sum is the one the rows gave).
#[derive(Clone, Debug, Default)]
pub struct SyncTotals {
    pub responses: u64,
    pub max_sticky: Option<f64>,
    bytes_sum: f64,
}

impl SyncTotals {
    pub fn add(&mut self, s: &SyncRow) {
        self.responses += 1;
        let sticky = s.sticky_events as f64;
        self.max_sticky = Some(self.max_sticky.map_or(sticky, |m| m.max(sticky)));
        self.bytes_sum += s.bytes as f64;
    }

    /// Mean bytes per response (none without responses).
    pub fn mean_bytes(&self) -> Option<f64> {
        (self.responses > 0).then(|| self.bytes_sum / self.responses as f64)
    }
}

/// convergence.max_divergence_ms: the longest run of consecutive samples in which a
/// room's live clients held differing views, from convergence.csv's rows in order.
#[derive(Clone, Debug, Default)]
pub struct Divergence {
    /// The longest (last divergent sample - first of its run) so far.
    longest: Option<Time>,
    /// Rooms divergent at the last sample: the first sample of their run.
    start: BTreeMap<RoomId, Time>,
}

impl Divergence {
    pub fn add(&mut self, r: &ConvRow) {
        if r.distinct_views > 1 {
            let s = *self.start.entry(r.room).or_insert(r.t);
            self.longest = Some(self.longest.map_or(r.t - s, |b| b.max(r.t - s)));
        } else {
            self.start.remove(&r.room);
        }
    }

    /// The longest run, each sample counting `sample_us` (0 when no room diverged).
    pub fn longest(&self, sample_us: Time) -> Time {
        self.longest.map_or(0, |b| b + sample_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(t: Time, room: u32, distinct: u32) -> ConvRow {
        ConvRow {
            t,
            room: RoomId(room),
            live_clients: 2,
            distinct_views: distinct,
            agreeing_pair_fraction: 0.0,
        }
    }

    #[test]
    fn divergence_counts_consecutive_samples() {
        let mut d = Divergence::default();
        assert_eq!(d.longest(10), 0);
        // Room 0 diverges at 10, 20, 30 (three samples: 30 - 10 + 10 = 30), agrees at 40,
        // diverges again at 50 alone (10); room 1 diverges at 20 only (10).
        for (t, r, n) in [(10, 0, 2), (20, 0, 3), (20, 1, 2), (30, 0, 2), (30, 1, 1)] {
            d.add(&conv(t, r, n));
        }
        d.add(&conv(40, 0, 1));
        d.add(&conv(50, 0, 2));
        assert_eq!(d.longest(10), 30);
    }

    #[test]
    fn sync_mean_and_max() {
        let mut s = SyncTotals::default();
        assert_eq!(s.mean_bytes(), None);
        for (sticky, bytes) in [(1, 300), (4, 500), (0, 250)] {
            s.add(&SyncRow {
                t: 0,
                client: crate::matrix::ClientId(0),
                room_count: 1,
                timeline_events: 0,
                sticky_events: sticky,
                inactionable: 0,
                bytes,
                gappy: false,
            });
        }
        assert_eq!(s.responses, 3);
        assert_eq!(s.max_sticky, Some(4.0));
        assert_eq!(s.mean_bytes(), Some(350.0));
    }
}
