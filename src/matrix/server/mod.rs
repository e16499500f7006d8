//! A homeserver: its clock, the rooms as it sees them, its `/sync` streams, its federation
//! queues per destination, its inbound rate limits and its delayed events. Each part of
//! the protocol is one file:
//!
//! | file | MSC rules |
//! | --- | --- |
//! | `requests.rs` | client requests: creating events, joins and leaves (send_join), power levels |
//! | `sender.rs` | MSC4354 "Federation behaviour": own sticky events, queues, `/send`, retries, backoff, catch-up, push on join |
//! | `inbound.rs` | receiving `/send`: overload, auth and soft failure, re-evaluation, prev_events and get_missing_events |
//! | `policy.rs` | MSC4354 rate limits: one [`policy::InboundPolicy`] per `inbound.policy` |
//! | `sync.rs` | MSC4354 "Sync API changes": the sticky section, its cap, each sticky event once |
//! | `delayed.rs` | MSC4140 delayed events |
//! | `lifecycle.rs` | crash and restart |

pub mod clock;
pub mod delayed;
pub mod inbound;
pub mod lifecycle;
pub mod policy;
pub mod requests;
pub mod sender;
pub mod sync;

use super::cx::{Cx, Directory};
use super::ids::{ClientId, DelayId, EvType, PduId, RoomId, ServerId, TxnId};
use super::msg::{AttemptRef, PowerMap, ServerEv, TxnBody, TxnEntry};
use super::probe::Arrival;
use super::spec::ServerCfg;
use crate::kernel::hash::{IdMap, IdSet};
use crate::kernel::{EventKey, RngStream, Time};
use clock::Clock;
use policy::Buckets;
use requests::NeedsWorld;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use sync::SyncToken;

/// A room's joined users (each client is a user of its own). Shared: the servers of a room
/// built at the start (and a `send_join` answer) hold one set until a membership event
/// changes it here (copy on write, `Arc::make_mut`), instead of a copy per server.
pub type Members = Arc<BTreeSet<ClientId>>;

/// A room as one server sees it.
#[derive(Clone, Debug, Default)]
pub struct RoomView {
    /// Joined users.
    pub members: Members,
    /// Power levels: per-user levels (others get the room default).
    pub power: PowerMap,
    /// Forward extremities: events not yet referenced by a later one.
    pub extremities: Vec<PduId>,
    /// Events known here (lookup only).
    pub known: IdSet<PduId>,
    /// Events named as prev_events by a known event (lookup only).
    pub referenced: IdSet<PduId>,
    /// The most recent PDUs' origin_server_ts, for "late" sticky events (MSC4354 "Federation behaviour").
    pub recent_ts: VecDeque<i64>,
}

/// A room's state as `send_join` hands it to a joining server.
#[derive(Clone, Debug, Default)]
pub struct RoomState {
    pub members: Members,
    pub power: PowerMap,
    pub extremities: Vec<PduId>,
}

/// The `/send` in flight towards one destination.
#[derive(Clone, Debug)]
pub struct InFlight {
    pub id: TxnId,
    pub entries: Vec<TxnEntry>,
    /// 1-based attempt number within this `/send`.
    pub attempt: u32,
    pub attempt_started: Time,
    /// The current attempt as it was put on the wire.
    pub body: Option<Arc<TxnBody>>,
    pub timeout: Option<EventKey>,
    /// Waiting for a retry timer (not on the wire).
    pub waiting_retry: bool,
    /// A restart's catch-up transaction (the newest event per room).
    pub catch_up: bool,
}

/// The sending side towards one destination (MSC4354 "Federation behaviour").
#[derive(Clone, Debug, Default)]
pub struct DestQueue {
    pub queue: VecDeque<TxnEntry>,
    pub in_flight: Option<InFlight>,
    /// Consecutive failed `/send`s (backoff level); 0 when healthy.
    pub failures: u32,
    /// The last backoff interval (Synapse's `retry_interval`); None when healthy.
    pub backoff_interval: Option<Time>,
    pub backoff_until: Option<Time>,
    /// Start of the current run of failures (for catch-up after one hour).
    pub failing_since: Option<Time>,
    /// latest_only catch-up mode (Synapse): only the newest event per room is kept.
    pub catching_up: bool,
    pub start_scheduled: bool,
    pub wake: Option<EventKey>,
    /// After a restart (Synapse's catch-up): the next transaction carries only this many
    /// entries from the front of the queue (the newest event per room).
    pub first_batch: Option<usize>,
}

impl DestQueue {
    pub fn depth(&self) -> usize {
        self.queue.len() + self.in_flight.as_ref().map_or(0, |t| t.entries.len())
    }
    pub fn in_backoff(&self, now: Time) -> bool {
        self.backoff_until.is_some_and(|b| now < b)
    }
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
    /// Sticky events this device has received (MSC4354: each sticky event once).
    pub delivered: IdSet<PduId>,
    /// Rooms joined since the last response: all their sticky events come at once (MSC4354 "Sync API changes").
    pub newly_joined: BTreeSet<RoomId>,
    /// The long-poll waiting here: (request number, its timeout).
    pub waiting: Option<(u64, EventKey)>,
    /// The token the waiting long-poll came with.
    pub since: Option<SyncToken>,
    /// The last response, until the device's next request shows (by its token) whether it
    /// arrived.
    pub unconfirmed: Option<Unconfirmed>,
    /// Rooms this device's user is joined to, sorted, as of `Server::members_epoch`.
    pub joined: Option<(u64, std::sync::Arc<[RoomId]>)>,
}

/// A response not yet acknowledged: its next_batch, the sticky events it carried, the
/// newly joined rooms it served.
#[derive(Clone, Debug)]
pub struct Unconfirmed {
    pub token: SyncToken,
    pub sticky: Vec<PduId>,
    pub rooms: BTreeSet<RoomId>,
}

/// A pending MSC4140 delayed event (the MatrixRTC delayed leave).
#[derive(Clone, Debug)]
pub struct Delayed {
    pub client: ClientId,
    pub room: RoomId,
    pub ev_type: EvType,
    pub key: Arc<str>,
    pub duration_ms: i64,
    pub delay: Time,
    pub fire_at: Time,
    pub timer: Option<EventKey>,
}

/// A soft-failed sticky event waiting for re-evaluation (MSC4354 "Federation behaviour").
#[derive(Clone, Debug)]
pub struct SoftFailed {
    pub pdu: PduId,
    pub arrival: Arrival,
    pub end_local_ms: i64,
}

/// `defer`: an accepted sticky event waiting for a token.
#[derive(Clone, Copy, Debug)]
pub struct Deferred {
    pub pdu: PduId,
    pub origin: ServerId,
    pub arrival: Arrival,
}

/// Fault `withhold`: never send to `dest` between `from` and `to`.
#[derive(Clone, Copy, Debug)]
pub struct Withhold {
    pub dest: ServerId,
    pub from: Time,
    pub to: Option<Time>,
}

pub struct Server {
    pub id: ServerId,
    pub cfg: ServerCfg,
    pub clock: Clock,
    /// Event IDs of this server's events.
    pub rng_ids: RngStream,
    /// Jitter of retries and backoff.
    pub rng_fed: RngStream,
    /// Its local clients.
    pub clients: Vec<ClientId>,
    pub rooms: BTreeMap<RoomId, RoomView>,
    pub dests: BTreeMap<ServerId, DestQueue>,
    /// Every event visible to local clients, in stream order.
    pub timeline: Vec<(RoomId, PduId)>,
    pub sticky_stream: Vec<StickyEntry>,
    /// End of stickiness (local ms) of every sticky event in the stream (lookup only).
    pub sticky_end: IdMap<PduId, i64>,
    pub wake_pending: bool,
    /// Incremented at every crash: work scheduled before a crash is void after it.
    pub epoch: u32,
    pub soft_failed: BTreeMap<RoomId, Vec<SoftFailed>>,
    pub devices: BTreeMap<ClientId, Device>,
    pub buckets: Buckets,
    /// `defer`: accepted sticky events waiting for tokens, released in order.
    pub deferred: VecDeque<Deferred>,
    pub defer_timer: Option<EventKey>,
    /// Overload model: the inbound processing queue is busy until then.
    pub busy_until: Time,
    /// Bumped whenever a room's `members` change here (validates `Device::joined`).
    pub members_epoch: u64,
    pub delayed: BTreeMap<DelayId, Delayed>,
    pub withhold: Vec<Withhold>,
    /// Joins of local users sent to a resident with send_join, waiting for the answer.
    pub pending_joins: Vec<(ClientId, RoomId)>,
    /// `/send`s being processed here, per origin: the transaction and the attempts
    /// waiting for its answer.
    pub inbound_active: BTreeMap<ServerId, (TxnId, Vec<u32>)>,
    /// The last transaction answered 200 per origin (a repeat gets the same answer).
    pub inbound_answered: BTreeMap<ServerId, TxnId>,
}

impl Server {
    pub fn new(
        id: ServerId,
        cfg: ServerCfg,
        rng_ids: RngStream,
        rng_fed: RngStream,
        clients: Vec<ClientId>,
    ) -> Server {
        let clock = Clock::new(cfg.clock_skew.0, cfg.clock_drift_ppm);
        let devices = clients.iter().map(|c| (*c, Device::default())).collect();
        Server {
            id,
            cfg,
            clock,
            rng_ids,
            rng_fed,
            clients,
            rooms: BTreeMap::new(),
            dests: BTreeMap::new(),
            timeline: vec![],
            sticky_stream: vec![],
            sticky_end: IdMap::default(),
            wake_pending: false,
            epoch: 0,
            soft_failed: BTreeMap::new(),
            devices,
            buckets: Buckets::default(),
            deferred: VecDeque::new(),
            defer_timer: None,
            busy_until: 0,
            members_epoch: 0,
            delayed: BTreeMap::new(),
            withhold: vec![],
            pending_joins: vec![],
            inbound_active: BTreeMap::new(),
            inbound_answered: BTreeMap::new(),
        }
    }

    /// Handle one event addressed to this server; a step it cannot finish alone is handed
    /// back to the world.
    pub fn handle(&mut self, cx: &mut Cx<'_, '_>, ev: ServerEv) -> Option<NeedsWorld> {
        match ev {
            ServerEv::ClientRequest(r) => return self.on_client_request(cx, *r),
            ServerEv::JoinReq(r) => {
                // The join event comes from the joiner: the world builds it.
                return self.is_up(cx).then_some(NeedsWorld::JoinEvent(r));
            }
            ServerEv::SyncRequest(r) => self.on_sync_request(cx, r),
            ServerEv::Txn(t) => self.on_txn(cx, t),
            ServerEv::TxnResponse(r) => self.on_txn_response(cx, *r),
            ServerEv::MissingReq(r) => self.on_missing_req(cx, *r),
            ServerEv::MissingResp(r) => self.on_missing_resp(cx, *r),
            ServerEv::JoinResp(r) => self.on_join_resp(cx, *r),
            ServerEv::StartTxn { dest } => self.on_start_txn(cx, dest),
            ServerEv::RetryTxn { dest, txn } => self.on_retry_txn(cx, dest, txn),
            ServerEv::TxnTimeout(at) => self.on_txn_timeout(cx, at),
            ServerEv::Wake { dest } => self.on_wake(cx, dest),
            ServerEv::TxnHandled(t) => self.on_txn_handled(cx, t),
            ServerEv::Persisted { pdu, only_to } => {
                if self.is_up(cx) {
                    self.publish_local(cx, pdu, only_to.as_deref());
                }
            }
            ServerEv::TxnProcessed(p) => self.on_txn_processed(cx, *p),
            ServerEv::DeferRelease => self.on_defer_release(cx),
            ServerEv::DelayedFire { delay_id } => self.on_delayed_fire(cx, delay_id),
            ServerEv::SyncTimeout { client, req } => self.on_sync_timeout(cx, client, req),
            ServerEv::SyncWake => self.on_sync_wake(cx),
        }
        None
    }

    /// Whether this server is up (a crashed server handles nothing).
    pub fn is_up(&self, cx: &Cx<'_, '_>) -> bool {
        cx.sh.up[self.id]
    }

    /// The servers of a room's members, as this server sees the room.
    pub fn room_servers(&self, cx: &Cx<'_, '_>, room: RoomId) -> BTreeSet<ServerId> {
        self.rooms
            .get(&room)
            .map(|r| r.members.iter().map(|c| cx.sh.dir.server_of(*c)).collect())
            .unwrap_or_default()
    }

    pub fn is_joined(&self, room: RoomId, user: ClientId) -> bool {
        self.rooms
            .get(&room)
            .is_some_and(|r| r.members.contains(&user))
    }

    /// A user's power level in a room, as this server sees it.
    pub fn level_of(&self, cx: &Cx<'_, '_>, room: RoomId, user: ClientId) -> i64 {
        self.rooms
            .get(&room)
            .and_then(|r| r.power.get(&user).copied())
            .unwrap_or(cx.sh.dir.rooms[room].default_level)
    }

    /// Whether this server keeps its events from `dest` now (fault `withhold`).
    pub fn withholds(&self, dest: ServerId, now: Time) -> bool {
        self.withhold
            .iter()
            .any(|w| w.dest == dest && w.from <= now && w.to.is_none_or(|t| now < t))
    }

    /// PDUs waiting to go out, over all destinations.
    pub fn queue_depth(&self) -> usize {
        self.dests.values().map(|d| d.depth()).sum()
    }

    /// Whether some destination is in backoff at `t`.
    pub fn any_backoff(&self, t: Time) -> bool {
        self.dests.values().any(|d| d.in_backoff(t))
    }

    /// The room's state as send_join gives it.
    pub fn room_state(&self, room: RoomId) -> RoomState {
        self.rooms
            .get(&room)
            .map(|v| RoomState {
                members: v.members.clone(),
                power: v.power.clone(),
                extremities: v.extremities.clone(),
            })
            .unwrap_or_default()
    }

    /// Whether this server is in a room by one of its own users.
    pub fn resident_in(&self, dir: &Directory, room: RoomId) -> bool {
        self.rooms
            .get(&room)
            .is_some_and(|v| v.members.iter().any(|m| dir.server_of(*m) == self.id))
    }

    /// The attempt in flight towards `at.dest` if it is still the one `at` names and on
    /// the wire.
    pub fn live_attempt(&self, at: AttemptRef) -> Option<&InFlight> {
        let t = self.dests.get(&at.dest)?.in_flight.as_ref()?;
        (t.id == at.txn && t.attempt == at.attempt && !t.waiting_retry).then_some(t)
    }
}
