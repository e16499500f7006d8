//! Probes: the facts the model reports as it runs, for observers outside it (STYLE: the
//! model does not compute its own score). Every probe goes through [`Probes::emit`];
//! observers drain them after each kernel step and may read the world, never change it.
//!
//! [`Wire`] probes describe each message put on the wire, for `--trace`; they are emitted
//! only when someone listens ([`Probes::wire`]).

use super::client::map::{MapKey, Top};
use super::ids::{ClientId, DelayId, PduId, ReqTag, RoomId, ServerId, TxnId};
use super::msg::{ClientReq, MissingReq, Outcome, TxnBody, TxnEntry};
use super::server::sync::{SyncResponse, SyncToken};
use super::server::RoomState;
use crate::kernel::Time;
use std::sync::Arc;

/// How a PDU reached a server: what the sender and the receiver know of its journey.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// Attempts of `/send` that carried it (0 for the origin itself or a fetched event).
    pub attempts: u32,
    /// Queued by push-on-join.
    pub join_push: bool,
    /// It waited through a backoff of its destination.
    pub saw_backoff: bool,
    /// Fetched with get_missing_events (from a server other than its origin, maybe).
    pub fetched: bool,
}

impl Arrival {
    /// The origin's own event.
    pub const OWN: Arrival = Arrival {
        attempts: 0,
        join_push: false,
        saw_backoff: false,
        fetched: false,
    };
    /// Fetched as a missing prev_event.
    pub const FETCHED: Arrival = Arrival {
        attempts: 0,
        join_push: false,
        saw_backoff: false,
        fetched: true,
    };

    pub fn of(e: &TxnEntry) -> Arrival {
        Arrival {
            attempts: e.attempts,
            join_push: e.join_push,
            saw_backoff: e.saw_backoff,
            fetched: false,
        }
    }
}

/// Why a sticky event was not queued for a destination that should have it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotQueued {
    /// Fault `equivocate` (or script `only_to`): this destination is kept from this version.
    Excluded,
    /// Fault `withhold`.
    Withheld,
    /// `push_on_join = false`: a newly joined server never gets older sticky events.
    NoPushOnJoin,
}

/// Why a PDU left a destination's queue without being sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unqueued {
    /// MSC4354: expired events are dropped from the queue before sending.
    Expired,
    /// Synapse's catch-up (`latest_only`) kept only the newest event per room.
    CatchUp,
}

/// One fact about the run.
#[derive(Clone, Debug)]
pub enum Probe {
    /// An event was created at its origin. `origin_end`: when it stops being sticky by the
    /// origin's clock (sticky events only); `tag`: the request that created it.
    Created {
        pdu: PduId,
        t: Time,
        origin_end: Option<Time>,
        tag: Option<ReqTag>,
    },
    /// A sticky event became visible to a server's clients (accepted, not soft-failed,
    /// released), until `end_at`.
    Accepted {
        server: ServerId,
        pdu: PduId,
        t: Time,
        arrival: Arrival,
        end_at: Time,
    },
    /// `accept_drop` threw it away.
    Dropped {
        server: ServerId,
        pdu: PduId,
        t: Time,
    },
    NotQueued {
        dest: ServerId,
        pdu: PduId,
        t: Time,
        why: NotQueued,
    },
    /// A sticky PDU left a queue unsent; `origin_end`: when it stops being sticky by the
    /// origin's clock now.
    Unqueued {
        origin: ServerId,
        dest: ServerId,
        pdu: PduId,
        t: Time,
        origin_end: Time,
        why: Unqueued,
    },
    SoftFailed {
        server: ServerId,
        pdu: PduId,
        t: Time,
    },
    /// One `/send` attempt ended (answered, timed out, or cut short by the origin's crash).
    Attempt(Box<AttemptDone>),
    QueueDepth {
        origin: ServerId,
        dest: ServerId,
        depth: usize,
    },
    /// A client applied a sync response to its map.
    Synced(Box<Synced>),
    /// What a client's map shows for a key changed by expiry.
    MapTop {
        client: ClientId,
        key: MapKey,
        t: Time,
        top: Option<Top>,
    },
    ClientOnline {
        client: ClientId,
        online: bool,
        t: Time,
    },
    /// Ground truth of membership, at the user's own server.
    Membership {
        user: ClientId,
        room: RoomId,
        joined: bool,
        t: Time,
    },
    ServerDown {
        server: ServerId,
        t: Time,
    },
    ServerUp {
        server: ServerId,
        t: Time,
    },
    /// MatrixRTC (the application layer reports these through the world).
    RtcPlanned {
        participant: u32,
    },
    /// A participant sent its sticky join with request tag `tag`.
    RtcJoinSent {
        participant: u32,
        key: MapKey,
        tag: ReqTag,
    },
    RtcCrash {
        participant: u32,
        key: MapKey,
        t: Time,
    },
    /// A participant sent a heartbeat: MSC4140 `restart` of its delayed leave.
    RtcHeartbeat {
        participant: u32,
    },
    /// A participant left the call on purpose (its stay ended).
    RtcLeft {
        participant: u32,
        key: MapKey,
        t: Time,
    },
    /// MSC4140: a server sent a delayed sticky leave itself (`rtc.false_leaves` when its
    /// participant is still in the call).
    DelayedFired {
        pdu: PduId,
        t: Time,
    },
    /// A message on the wire (`--trace`).
    Wire(Box<Wire>),
}

/// One finished `/send` attempt (a row of federation.csv).
#[derive(Clone, Debug)]
pub struct AttemptDone {
    /// When the attempt started.
    pub t: Time,
    pub dest: ServerId,
    pub body: Arc<TxnBody>,
    pub outcome: Outcome,
    pub retry_after: Option<Time>,
    /// When the origin will try again (a retry inside the `/send`, or after backoff).
    pub next_attempt: Option<Time>,
}

/// A sync response a client applied, and what it changed in the map.
#[derive(Clone, Debug)]
pub struct Synced {
    pub t: Time,
    pub client: ClientId,
    pub resp: SyncResponse,
    /// Keys the response touched: what each showed before and after.
    pub changes: Vec<(MapKey, Option<Top>, Option<Top>)>,
}

/// A message put on the wire, or a step the trace shows (`--trace`).
#[derive(Clone, Debug)]
pub enum Wire {
    Send {
        t: Time,
        dest: ServerId,
        body: Arc<TxnBody>,
        lost: bool,
    },
    /// The answer to a `/send` attempt; `body` when it was processed (200).
    SendAnswer {
        t: Time,
        origin: ServerId,
        dest: ServerId,
        txn: TxnId,
        attempt: u32,
        outcome: Outcome,
        retry_after: Option<Time>,
        body: Option<Arc<TxnBody>>,
        lost: bool,
    },
    MissingRequest {
        t: Time,
        to: ServerId,
        req: Box<MissingReq>,
        lost: bool,
    },
    MissingResponse {
        t: Time,
        from: ServerId,
        asker: ServerId,
        room: RoomId,
        pdus: Vec<PduId>,
        lost: bool,
    },
    JoinRequest {
        t: Time,
        joiner: ServerId,
        resident: ServerId,
        client: ClientId,
        room: RoomId,
        /// The joiner's clock (ms).
        origin_server_ts: i64,
        lost: bool,
    },
    JoinResponse {
        t: Time,
        resident: ServerId,
        joiner: ServerId,
        pdu: PduId,
        state: Box<RoomState>,
        lost: bool,
    },
    SyncRequest {
        t: Time,
        client: ClientId,
        since: Option<SyncToken>,
    },
    SyncResponse {
        t: Time,
        server: ServerId,
        client: ClientId,
        /// The client's request it answers (pairs it with a [`Wire::SyncUnreceived`]).
        req: u64,
        resp: Box<SyncResponse>,
    },
    /// A sync response reached its client but was never read: the client was offline, or
    /// had already given up on that request (`req`) and sent another.
    SyncUnreceived {
        t: Time,
        client: ClientId,
        req: u64,
        offline: bool,
    },
    SyncError {
        t: Time,
        client: ClientId,
    },
    ClientRequest {
        t: Time,
        client: ClientId,
        req: Box<ClientReq>,
        lost: bool,
    },
    /// The server answered a client request it handled (`created`: the event it made;
    /// `found`: a delayed event it updated existed; `invalid`: refused with 400).
    ClientAnswer {
        t: Time,
        client: ClientId,
        req: Box<ClientReq>,
        created: Option<PduId>,
        found: bool,
        invalid: bool,
    },
    /// A join over federation completed: the client's `/join` is answered.
    JoinDone {
        t: Time,
        client: ClientId,
        room: RoomId,
    },
    /// MSC4140: the server sent a delayed sticky leave itself.
    DelayedFire {
        t: Time,
        server: ServerId,
        pdu: PduId,
        delay_id: DelayId,
    },
}

/// The model's single outlet for probes.
#[derive(Default)]
pub struct Probes {
    log: Vec<Probe>,
    wire: bool,
}

impl Probes {
    pub fn new(wire: bool) -> Probes {
        Probes { log: vec![], wire }
    }

    #[inline]
    pub fn emit(&mut self, p: Probe) {
        self.log.push(p);
    }

    /// Whether wire probes are wanted (`--trace`).
    #[inline]
    pub fn wire(&self) -> bool {
        self.wire
    }

    /// Emit a wire probe built only when someone listens.
    #[inline]
    pub fn wire_with(&mut self, f: impl FnOnce() -> Wire) {
        if self.wire {
            self.log.push(Probe::Wire(Box::new(f())));
        }
    }

    /// Take every probe emitted since the last call.
    pub fn take(&mut self) -> Vec<Probe> {
        std::mem::take(&mut self.log)
    }

    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    /// Hand back a drained vector (its capacity is reused).
    pub fn give_back(&mut self, mut v: Vec<Probe>) {
        if self.log.is_empty() {
            v.clear();
            self.log = v;
        }
    }
}
