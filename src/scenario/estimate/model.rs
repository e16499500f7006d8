//! The cost model: bytes and kernel events per unit of a scenario (see the module comment of
//! `estimate`), distribution helpers, and the running totals.

use crate::scenario::schema::Dist;

// Calibrated 2026-12-06 on the generated large federation (mimalloc, rows streamed,
// summary mode): measured peaks 225 MB, 1.62 GB and about 12 GB at 1 000, 10 000 and
// 100 000 servers are estimated 0.64x, 0.88x and 1.5x (the model is linear, the real
// growth a little less). Above: the run's own `--max-memory` check reads the resident
// memory as it goes.

/// Resident memory of an empty run: the binary, the allocator, the embedded fonts, the
/// loaded scenario.
pub(super) const BASE_BYTES: f64 = 60e6;
/// A server: its state, random streams, per-room views.
pub(super) const BYTES_PER_SERVER: f64 = 10_000.0;
/// Each server keeps its view of every room it is in: per (server, room member) pair. The
/// member sets are shared until a membership changes, so this is next to nothing.
pub(super) const BYTES_PER_REPLICA: f64 = 0.0;
/// Per (origin, destination) pair that exchanges events: a destination queue, a token
/// bucket at the receiver.
pub(super) const BYTES_PER_SERVER_PAIR: f64 = 100.0;
pub(super) const BYTES_PER_CLIENT: f64 = 2_500.0;
pub(super) const BYTES_PER_MEMBERSHIP: f64 = 200.0;
/// A PDU, its event ID, its write record.
pub(super) const BYTES_PER_EVENT: f64 = 600.0;
/// The PDU in a destination queue, in the receiver's room state and arrivals (federation.csv
/// is streamed).
pub(super) const BYTES_PER_FEDERATION_PAIR: f64 = 100.0;
/// A delivery: the device's delivered set, summary mode's receipt bit.
pub(super) const BYTES_PER_DELIVERY: f64 = 8.0;
/// A delivery row kept in full mode (deliveries.csv, the first-receipt map, the exact
/// latency).
pub(super) const BYTES_PER_DELIVERY_ROW: f64 = 250.0;
/// An entry in a client's ephemeral map (one per sticky key and client) and its expiry timer.
pub(super) const BYTES_PER_MAP_ENTRY: f64 = 32.0;
/// A syncs.csv row: streamed, nothing kept.
pub(super) const BYTES_PER_SYNC: f64 = 0.0;
/// An action scheduled before the run starts, in the event queue.
pub(super) const BYTES_PER_PLANNED_ACTION: f64 = 250.0;
/// A convergence.csv or timeseries.csv row: streamed, nothing kept.
pub(super) const BYTES_PER_SAMPLE_ROW: f64 = 0.0;

/// The client's request, its arrival, the event's creation and fan-out.
pub(super) const EVENTS_PER_EVENT: f64 = 3.0;
/// Transactions carry several PDUs; per PDU and destination about one event.
pub(super) const EVENTS_PER_FEDERATION_PAIR: f64 = 1.0;
/// A /sync round trip: request arrives, server answers (at once, on news or at timeout),
/// response arrives.
pub(super) const EVENTS_PER_SYNC: f64 = 3.1;
/// A delayed-leave restart: the timer, the request's arrival, the acknowledgement.
pub(super) const EVENTS_PER_HEARTBEAT: f64 = 3.0;
/// A sample instant: one step of the run loop ...
pub(super) const EVENTS_PER_SAMPLE: f64 = 1.0;
/// ... and per room, server, room member and map entry looked at (comparing client
/// views): 10-55 ns measured, against about 2 µs for a kernel event.
pub(super) const EVENTS_PER_SAMPLE_UNIT: f64 = 0.03;
/// Checking a delivery against the room's other clients (convergence accounting): per
/// (delivery, room member), measured at about 12 ns.
pub(super) const EVENTS_PER_DELIVERY_MEMBER: f64 = 0.006;
/// Delivery accounting at the end of the run walks every (room, client) membership for
/// every sticky event: a few ns each.
pub(super) const EVENTS_PER_EVENT_MEMBERSHIP: f64 = 0.002;

/// One hour: the MSC's bound on a sticky event's lifetime.
pub(super) const HOUR_US: f64 = 3_600e6;

/// Standard normal quantiles at (i + 0.5) / 16, i = 0..16 (for expectations over a
/// distribution by its quantiles).
pub(super) const Z16: [f64; 16] = [
    -1.8627, -1.318, -1.01, -0.7764, -0.5791, -0.4023, -0.2372, -0.0784, 0.0784, 0.2372, 0.4023,
    0.5791, 0.7764, 1.01, 1.318, 1.8627,
];

/// The mean of a distribution, in microseconds.
pub fn dist_mean_us(d: &Dist) -> f64 {
    match d {
        Dist::Constant { value } => value.0 as f64,
        Dist::Uniform { min, max } => (min.0 as f64 + max.0 as f64) / 2.0,
        Dist::Exponential { mean } => mean.0 as f64,
        Dist::Lognormal { median, sigma } => {
            median.0 as f64 * (sigma.clamp(0.0, 40.0).powi(2) / 2.0).exp()
        }
        Dist::Normal { mean, min, .. } => (mean.0 as f64).max(min.0 as f64),
    }
}

/// The distribution's quantile at (i + 0.5) / 16, in microseconds.
pub(super) fn dist_quantile_us(d: &Dist, i: usize) -> f64 {
    let q = (i as f64 + 0.5) / 16.0;
    let z = Z16[i.min(15)];
    match d {
        Dist::Constant { value } => value.0 as f64,
        Dist::Uniform { min, max } => {
            let (a, b) = (min.0.min(max.0) as f64, min.0.max(max.0) as f64);
            a + q * (b - a)
        }
        Dist::Exponential { mean } => -(mean.0 as f64) * (1.0 - q).ln(),
        Dist::Lognormal { median, sigma } => median.0 as f64 * (sigma.clamp(0.0, 40.0) * z).exp(),
        Dist::Normal { mean, std, min } => (mean.0 as f64 + std.0 as f64 * z).max(min.0 as f64),
    }
}

/// E[min(X, t)] for X drawn from `d`: exact for the exponential and uniform, else
/// min(E[X], t), which is never below it.
pub(super) fn mean_capped_us(d: &Dist, t: f64) -> f64 {
    if t <= 0.0 {
        return 0.0;
    }
    match d {
        Dist::Exponential { mean } if mean.0 > 0 => {
            let m = mean.0 as f64;
            m * (1.0 - (-t / m).exp())
        }
        Dist::Uniform { min, max } if max.0 > min.0 => {
            let (a, b) = (min.0 as f64, max.0 as f64);
            if t <= a {
                t
            } else if t >= b {
                (a + b) / 2.0
            } else {
                // t for X > t, X below it.
                ((t * t - a * a) / 2.0 + t * (b - t)) / (b - a)
            }
        }
        _ => dist_mean_us(d).min(t),
    }
}

/// How long one actor of a workload is active, on average: it starts at a draw of
/// `start`, stays a draw of `stay`, and stops at the quiet tail.
pub(super) fn active_span_us(start: &Dist, stay: &Dist, quiet: f64) -> f64 {
    (0..16)
        .map(|i| mean_capped_us(stay, quiet - dist_quantile_us(start, i)))
        .sum::<f64>()
        / 16.0
}

/// The mean number of whole `every` periods in an actor's active span (re-sends happen only
/// when a span outlasts a period), over a 16 x 16 grid of start and stay quantiles.
pub(super) fn mean_periods(start: &Dist, stay: &Dist, quiet: f64, every: f64) -> f64 {
    if every <= 0.0 {
        return 0.0;
    }
    let mut sum = 0.0;
    for i in 0..16 {
        let left = (quiet - dist_quantile_us(start, i)).max(0.0);
        for j in 0..16 {
            sum += (dist_quantile_us(stay, j).min(left) / every).floor();
        }
    }
    sum / 256.0
}

/// A count kept finite (at most 1e30, NaN as 0), so that products of counts stay finite
/// and `0 × count` stays 0.
pub(super) fn fin(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1e30)
    }
}

pub(super) fn sat(x: f64) -> u64 {
    // `as` saturates (and maps NaN to 0).
    x.max(0.0) as u64
}

/// Counts that each cost memory and kernel events.
#[derive(Clone, Debug, Default)]
pub(super) struct Totals {
    pub(super) created: f64,
    pub(super) federation_pairs: f64,
    pub(super) deliveries: f64,
    pub(super) map_entries: f64,
    pub(super) syncs: f64,
    pub(super) heartbeats: f64,
    pub(super) planned: f64,
    pub(super) samples: f64,
    pub(super) sample_rows: f64,
    pub(super) sample_work: f64,
    pub(super) check_work: f64,
}

impl Totals {
    pub(super) fn add(&mut self, o: &Totals) {
        self.created += o.created;
        self.federation_pairs += o.federation_pairs;
        self.deliveries += o.deliveries;
        self.map_entries += o.map_entries;
        self.syncs += o.syncs;
        self.heartbeats += o.heartbeats;
        self.planned += o.planned;
        self.samples += o.samples;
        self.sample_rows += o.sample_rows;
        self.sample_work += o.sample_work;
        self.check_work += o.check_work;
    }

    /// Memory of the counted things (servers and clients are added by the caller).
    pub(super) fn memory(&self) -> f64 {
        self.created * BYTES_PER_EVENT
            + self.federation_pairs * BYTES_PER_FEDERATION_PAIR
            + self.deliveries * BYTES_PER_DELIVERY
            + self.map_entries * BYTES_PER_MAP_ENTRY
            + self.syncs * BYTES_PER_SYNC
            + self.planned * BYTES_PER_PLANNED_ACTION
            + self.sample_rows * BYTES_PER_SAMPLE_ROW
    }

    /// Kernel events alone.
    pub(super) fn kernel_only(&self) -> f64 {
        Totals {
            samples: 0.0,
            sample_work: 0.0,
            check_work: 0.0,
            ..self.clone()
        }
        .kernel_events()
    }

    pub(super) fn kernel_events(&self) -> f64 {
        self.created * EVENTS_PER_EVENT
            + self.federation_pairs * EVENTS_PER_FEDERATION_PAIR
            + self.syncs * EVENTS_PER_SYNC
            + self.heartbeats * EVENTS_PER_HEARTBEAT
            + self.samples * EVENTS_PER_SAMPLE
            + self.sample_work * EVENTS_PER_SAMPLE_UNIT
            + self.check_work * EVENTS_PER_DELIVERY_MEMBER
    }
}
