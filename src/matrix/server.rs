//! A homeserver's state: clock, rooms as it sees them, streams for `/sync`, federation
//! queues per destination, inbound rate limiting, delayed events.

use super::event::{ClientId, PduId, RoomId, ServerId};
use crate::kernel::{EventKey, RngStream, Time};
use crate::net::Sampler;
use crate::observe::Path;
use crate::scenario::ServerCfg;
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

/// A server's local clock (SPEC 2.1): simulated time + skew, with optional drift, changed
/// piecewise by `clock` faults.
#[derive(Clone, Debug)]
pub struct Clock {
    /// Sim time at which the current segment starts and the local time (us) it shows then.
    base_sim: Time,
    base_local: i64,
    drift_ppm: f64,
}

impl Clock {
    pub fn new(skew_us: i64, drift_ppm: f64) -> Clock {
        Clock {
            base_sim: 0,
            base_local: skew_us,
            drift_ppm,
        }
    }

    pub fn local_us(&self, t: Time) -> i64 {
        let dt = t.saturating_sub(self.base_sim) as f64;
        self.base_local + (dt * (1.0 + self.drift_ppm / 1e6)).round() as i64
    }

    /// Local milliseconds (protocol timestamps).
    pub fn local_ms(&self, t: Time) -> i64 {
        self.local_us(t).div_euclid(1000)
    }

    /// The simulated time at which this clock will show `local_ms` (never before `now`).
    pub fn sim_time_of_local_ms(&self, local_ms: i64, now: Time) -> Time {
        let target = local_ms.saturating_mul(1000);
        let rate = 1.0 + self.drift_ppm / 1e6;
        let dt = (target - self.base_local) as f64 / rate.max(1e-9);
        let t = self.base_sim as f64 + dt;
        if t <= now as f64 {
            now
        } else {
            t.min(u64::MAX as f64 / 2.0).ceil() as Time
        }
    }

    /// A `clock` fault from `now` on: new skew (relative to simulated time) and/or drift.
    pub fn change(&mut self, now: Time, skew_us: Option<i64>, drift_ppm: Option<f64>) {
        let local = match skew_us {
            Some(s) => now as i64 + s,
            None => self.local_us(now),
        };
        self.base_sim = now;
        self.base_local = local;
        if let Some(d) = drift_ppm {
            self.drift_ppm = d;
        }
    }
}

/// A room as one server sees it.
#[derive(Clone, Debug, Default)]
pub struct RoomView {
    /// Joined users (each client is a user of its own).
    pub members: BTreeSet<ClientId>,
    /// Power levels: per-user levels (others get the room default).
    pub power: BTreeMap<ClientId, i64>,
    /// Forward extremities: events not yet referenced by a later one.
    pub extremities: Vec<PduId>,
    /// Events known here (lookup only).
    pub known: HashSet<PduId>,
    /// Events named as prev_events by a known event (lookup only).
    pub referenced: HashSet<PduId>,
    /// The most recent PDUs' origin_server_ts, for "late" sticky events (SPEC 2.4).
    pub recent_ts: VecDeque<i64>,
}

/// One PDU waiting to go to a destination.
#[derive(Clone, Debug)]
pub struct QEntry {
    pub pdu: PduId,
    pub join_push: bool,
    /// Attempts that carried it so far.
    pub attempts: u32,
    /// It waited through a backoff (path `catch_up` once delivered).
    pub saw_backoff: bool,
}

#[derive(Clone, Debug)]
pub struct Txn {
    pub id: u64,
    pub entries: Vec<QEntry>,
    /// 1-based attempt number within this `/send`.
    pub attempt: u32,
    pub attempt_started: Time,
    pub timeout: Option<EventKey>,
    /// Waiting for a retry timer (not on the wire).
    pub waiting_retry: bool,
}

/// The sending side towards one destination (SPEC 2.3).
#[derive(Clone, Debug, Default)]
pub struct DestQueue {
    pub queue: VecDeque<QEntry>,
    pub in_flight: Option<Txn>,
    /// Consecutive failed `/send`s (backoff level); 0 when healthy.
    pub failures: u32,
    pub backoff_until: Option<Time>,
    /// Start of the current run of failures (for catch-up after one hour).
    pub failing_since: Option<Time>,
    /// latest_only catch-up mode (Synapse): only the newest event per room is kept.
    pub catching_up: bool,
    pub start_scheduled: bool,
    pub wake: Option<EventKey>,
}

impl DestQueue {
    pub fn depth(&self) -> usize {
        self.queue.len() + self.in_flight.as_ref().map_or(0, |t| t.entries.len())
    }
    pub fn in_backoff(&self, now: Time) -> bool {
        self.backoff_until.is_some_and(|b| now < b)
    }
}

/// Per-origin token bucket for inbound sticky PDUs (SPEC 2.4).
#[derive(Clone, Debug)]
pub struct Bucket {
    pub tokens: f64,
    pub last: Time,
}

/// A sticky event accepted by this server, in the order clients will read it.
#[derive(Clone, Debug)]
pub struct StickyEntry {
    pub room: RoomId,
    pub pdu: PduId,
    /// End of stickiness in this server's local milliseconds.
    pub end_local_ms: i64,
}

/// What the server keeps per device for `/sync`.
#[derive(Clone, Debug, Default)]
pub struct Device {
    /// (timeline position, sticky position); None before the first (initial) sync.
    pub since: Option<(usize, usize)>,
    /// Sticky events this device has received (MSC4354: each sticky event once).
    pub delivered: HashSet<PduId>,
    /// Rooms joined since the last response: all their sticky events come at once (SPEC 2.5).
    pub newly_joined: BTreeSet<RoomId>,
    pub waiting: Option<(u64, EventKey)>,
    /// The last response, until the device's next request shows (by its token) that it
    /// arrived: (its next_batch, sticky events it carried, newly joined rooms it served).
    pub unconfirmed: Option<Unconfirmed>,
    /// Rooms this device's user is joined to, sorted, as of `Server::members_epoch`.
    pub joined: Option<(u64, Vec<RoomId>)>,
}

/// A response not yet acknowledged: (its next_batch, sticky events, newly joined rooms).
pub type Unconfirmed = ((usize, usize), Vec<PduId>, BTreeSet<RoomId>);

/// A pending MSC4140 delayed event (the MatrixRTC delayed leave).
#[derive(Clone, Debug)]
pub struct Delayed {
    pub client: ClientId,
    pub room: RoomId,
    pub ev_type: u16,
    pub key: String,
    pub duration_ms: i64,
    pub delay: Time,
    pub fire_at: Time,
    pub timer: Option<EventKey>,
}

/// Soft-failed sticky event waiting for re-evaluation (SPEC 2.4).
#[derive(Clone, Debug)]
pub struct SoftFailed {
    pub pdu: PduId,
    pub path: Path,
    pub attempts: u32,
    pub end_local_ms: i64,
}

pub struct Server {
    pub id: ServerId,
    pub name: String,
    pub cfg: ServerCfg,
    pub client_latency: Sampler,
    pub processing: Sampler,
    pub up: bool,
    pub clock: Clock,
    pub rng_ids: RngStream,
    pub rng_fed: RngStream,
    pub rng_misc: RngStream,
    pub clients: Vec<ClientId>,
    pub rooms: BTreeMap<RoomId, RoomView>,
    pub dests: BTreeMap<ServerId, DestQueue>,
    /// Every event visible to local clients, in stream order.
    pub timeline: Vec<(RoomId, PduId)>,
    pub sticky_stream: Vec<StickyEntry>,
    /// End of stickiness (local ms) of every sticky event in the stream (lookup only).
    pub sticky_end: std::collections::HashMap<PduId, i64>,
    pub wake_pending: bool,
    /// Incremented at every crash: work scheduled before a crash is void after it.
    pub epoch: u32,
    pub soft_failed: BTreeMap<RoomId, Vec<SoftFailed>>,
    pub devices: BTreeMap<ClientId, Device>,
    pub buckets: BTreeMap<ServerId, Bucket>,
    /// `defer`: accepted sticky events waiting for tokens, released in order.
    pub deferred: VecDeque<(PduId, ServerId, Path, u32)>,
    pub defer_timer: Option<EventKey>,
    /// Overload model: the inbound processing queue is busy until then.
    pub busy_until: Time,
    /// Bumped whenever a room's `members` change here (validates `Device::joined`).
    pub members_epoch: u64,
    pub delayed: BTreeMap<u64, Delayed>,
    /// Destinations this server withholds its events from (fault `withhold`), with intervals.
    pub withhold: Vec<(ServerId, Time, Option<Time>)>,
}

impl Server {
    pub fn room_servers(&self, room: RoomId, server_of: &[ServerId]) -> BTreeSet<ServerId> {
        self.rooms
            .get(&room)
            .map(|r| r.members.iter().map(|c| server_of[*c as usize]).collect())
            .unwrap_or_default()
    }

    pub fn is_joined(&self, room: RoomId, user: ClientId) -> bool {
        self.rooms
            .get(&room)
            .is_some_and(|r| r.members.contains(&user))
    }

    pub fn withholds(&self, dest: ServerId, now: Time) -> bool {
        self.withhold
            .iter()
            .any(|(d, from, to)| *d == dest && *from <= now && to.is_none_or(|t| now < t))
    }

    pub fn queue_depth(&self) -> usize {
        self.dests.values().map(|d| d.depth()).sum()
    }
}
