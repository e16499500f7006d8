//! The model's events: messages between components, timers, and inputs from outside the
//! model. Every variant is a struct handed whole to the component it is addressed to;
//! the [`World`](super::world::World) only routes them.

use super::client::map::MapKey;
use super::event::DurationField;
use super::ids::{ClientId, DelayId, EvType, PduId, ReqTag, RoomId, ServerId, TxnId};
use super::server::sync::{SyncResponse, SyncToken};
use super::server::RoomState;
use crate::kernel::Time;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One kernel event of the protocol model.
#[derive(Clone, Debug)]
pub enum Ev {
    /// A message reaches a server, or one of its timers fires.
    Server(ServerId, ServerEv),
    /// A message reaches a client, or one of its timers fires.
    Client(ClientId, ClientEv),
    /// Something done to the model from outside: a workload's step or a fault.
    Input(Input),
    /// For the application layer that drives clients (workloads): the model carries it and
    /// never reads it.
    App(AppEv),
}

/// What a server handles.
#[derive(Clone, Debug)]
pub enum ServerEv {
    /// A client request reaches its server (events are created here, now).
    ClientRequest(Box<ClientRequest>),
    /// A client's `/sync` long-poll reaches its server.
    SyncRequest(SyncRequest),
    /// A `/send` reaches its destination.
    Txn(TxnArrival),
    /// The answer to one of our `/send` attempts (boxed: 40 bytes would set the size of
    /// every kernel event).
    TxnResponse(Box<TxnResponse>),
    /// `get_missing_events` from another server.
    MissingReq(Box<MissingReq>),
    /// Its answer.
    MissingResp(Box<MissingResp>),
    /// `send_join` from a server whose user joins a room we are in.
    JoinReq(JoinReq),
    /// Its answer: the room's state.
    JoinResp(Box<JoinResp>),
    /// Timers of the federation sender.
    StartTxn {
        dest: ServerId,
    },
    RetryTxn {
        dest: ServerId,
        txn: TxnId,
    },
    TxnTimeout(AttemptRef),
    Wake {
        dest: ServerId,
    },
    /// An event created here is persisted: its clients and its federation sender see it.
    Persisted {
        pdu: PduId,
        only_to: Option<Box<[ServerId]>>,
    },
    /// This server's handling time for a `/send` is over: it processes the PDUs.
    TxnHandled(TxnArrival),
    /// An overloaded server finished processing a `/send`'s PDUs.
    TxnProcessed(Box<TxnProcessed>),
    /// `defer`: release stored sticky events at the bucket's rate.
    DeferRelease,
    /// MSC4140: a delayed event comes due.
    DelayedFire {
        delay_id: DelayId,
    },
    /// A long-poll's timeout.
    SyncTimeout {
        client: ClientId,
        req: u64,
    },
    /// Answer waiting long-polls after something new arrived.
    SyncWake,
}

/// What a client handles.
#[derive(Clone, Debug)]
pub enum ClientEv {
    SyncResponse {
        req: u64,
        resp: Box<SyncResponse>,
    },
    /// The long-poll failed (server down, connection dropped).
    SyncError {
        req: u64,
    },
    /// Time to sync again after an error.
    SyncRetry {
        req: u64,
    },
    /// An entry of the map may expire now.
    MapExpiry {
        key: Box<MapKey>,
    },
    /// The answer to a delayed-event request (`tag`: the request's, if any).
    Answer {
        tag: Option<ReqTag>,
        answer: Answer,
    },
}

/// Inputs from outside the model (workload steps, faults).
#[derive(Clone, Debug)]
pub enum Input {
    /// A client sends a request to its server.
    Send {
        client: ClientId,
        req: Box<ClientReq>,
        tag: Option<ReqTag>,
    },
    Offline {
        client: ClientId,
    },
    Online {
        client: ClientId,
    },
    Crash {
        server: ServerId,
    },
    Restart {
        server: ServerId,
    },
    ClockChange {
        server: ServerId,
        skew_us: Option<i64>,
        drift_ppm: Option<f64>,
    },
}

/// A timer or an answer for the application layer.
#[derive(Clone, Debug)]
pub enum AppEv {
    /// A timer the application set (`app` says which one).
    Timer { app: u32, token: u64 },
    /// The answer to a tagged request reached its client.
    Answer {
        client: ClientId,
        tag: ReqTag,
        answer: Answer,
    },
}

/// A server's answer to a client request, as the application sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// MSC4140: the delayed event is scheduled.
    DelayScheduled,
    /// MSC4140 `restart`: `found` false when the delayed event no longer exists (it fired).
    DelayRestarted { found: bool },
}

/// A client->server request.
#[derive(Clone, Debug)]
pub enum ClientReq {
    Sticky(StickySend),
    Message {
        room: RoomId,
    },
    /// Fault `equivocate`: sibling versions of one sticky key (same prev_events), each sent
    /// only to its group of servers; the second claims an origin_server_ts 1 ms later.
    Equivocate {
        room: RoomId,
        ev_type: EvType,
        key: String,
        groups: Vec<Vec<ServerId>>,
    },
    PowerLevels {
        room: RoomId,
        user: ClientId,
        level: i64,
    },
    Join {
        room: RoomId,
    },
    Leave {
        room: RoomId,
    },
    /// MSC4140: schedule a delayed sticky leave.
    ScheduleDelayed(DelayedLeave),
    RestartDelayed {
        delay_id: DelayId,
    },
    CancelDelayed {
        delay_id: DelayId,
    },
}

/// A sticky event a client sends (`PUT /rooms/{room}/send/{type}?sticky_duration_ms=`).
#[derive(Clone, Debug)]
pub struct StickySend {
    pub room: RoomId,
    pub ev_type: EvType,
    /// content.sticky_key, shared with the workload and the event built from it.
    pub key: Arc<str>,
    pub duration: DurationField,
    /// The content holds only the key (a MatrixRTC leave).
    pub leave: bool,
    /// Added by a misbehaving origin to origin_server_ts.
    pub ots_offset_ms: i64,
    /// Script `only_to`: only these destinations get this event.
    pub only_to: Option<Vec<ServerId>>,
}

/// An MSC4140 delayed sticky leave, as scheduled by a MatrixRTC client.
#[derive(Clone, Debug)]
pub struct DelayedLeave {
    pub delay_id: DelayId,
    pub room: RoomId,
    pub ev_type: EvType,
    pub key: Arc<str>,
    pub duration_ms: i64,
    pub delay: Time,
}

/// A client request as it reaches its server.
#[derive(Clone, Debug)]
pub struct ClientRequest {
    pub client: ClientId,
    pub req: ClientReq,
    pub tag: Option<ReqTag>,
}

/// A `/sync` request: the client's token travels with it.
#[derive(Clone, Copy, Debug)]
pub struct SyncRequest {
    pub client: ClientId,
    pub req: u64,
    pub since: Option<SyncToken>,
}

/// One PDU of a `/send`, with what the sender knows of its history towards this destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnEntry {
    pub pdu: PduId,
    /// Queued by push-on-join (MSC4354 "Federation behaviour").
    pub join_push: bool,
    /// Attempts that carried it so far.
    pub attempts: u32,
    /// It waited through a backoff.
    pub saw_backoff: bool,
}

/// The body of one `/send` attempt (`PUT /_matrix/federation/v1/send/{txn_id}`): the
/// message carries its PDUs, so what reaches the receiver is what was sent.
#[derive(Clone, Debug)]
pub struct TxnBody {
    pub id: TxnId,
    pub origin: ServerId,
    /// 1-based attempt number within this `/send`.
    pub attempt: u32,
    /// The origin's clock when this attempt left (ms).
    pub origin_server_ts: i64,
    /// The PDUs, with how many attempts (this one included) carried each.
    pub pdus: Vec<TxnEntry>,
}

impl TxnBody {
    pub fn attempt_ref(&self, dest: ServerId) -> AttemptRef {
        AttemptRef {
            dest,
            txn: self.id,
            attempt: self.attempt,
        }
    }
}

/// One attempt of a `/send` reaching its destination.
#[derive(Clone, Debug)]
pub struct TxnArrival {
    pub body: Arc<TxnBody>,
}

/// Which attempt of which transaction (to match answers and timeouts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptRef {
    pub dest: ServerId,
    pub txn: TxnId,
    pub attempt: u32,
}

/// The outcome of one `/send` attempt (MSC4354 "Federation behaviour").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    RateLimited,
    ServerError,
    Timeout,
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::RateLimited => "rate_limited",
            Outcome::ServerError => "server_error",
            Outcome::Timeout => "timeout",
            Outcome::Refused => "refused",
        }
    }
}

#[derive(Clone, Debug)]
pub struct TxnResponse {
    pub at: AttemptRef,
    pub outcome: Outcome,
    pub retry_after: Option<Time>,
}

/// An overloaded receiver's finished work: the accepted PDUs become visible, then the 200.
#[derive(Clone, Debug)]
pub struct TxnProcessed {
    pub body: Arc<TxnBody>,
    /// The PDUs the receiver accepted.
    pub entries: Vec<TxnEntry>,
    /// The receiver's crash epoch when it accepted them (a crash voids the work).
    pub epoch: u32,
}

/// `POST /_matrix/federation/v1/get_missing_events/{room}`.
#[derive(Clone, Debug)]
pub struct MissingReq {
    pub asker: ServerId,
    pub room: RoomId,
    /// The asker's forward extremities: events it has (skipped by the walk).
    pub earliest: Vec<PduId>,
    /// The events it misses, to walk back from.
    pub latest: Vec<PduId>,
    pub limit: u32,
}

#[derive(Clone, Debug)]
pub struct MissingResp {
    pub from: ServerId,
    pub room: RoomId,
    pub pdus: Vec<PduId>,
}

/// `send_join` for `client`'s join event (created by the resident for the joiner).
#[derive(Clone, Copy, Debug)]
pub struct JoinReq {
    pub joiner: ServerId,
    pub client: ClientId,
    pub room: RoomId,
}

/// The answer to `send_join`: the join event and the room's state as the resident has it.
#[derive(Clone, Debug)]
pub struct JoinResp {
    pub resident: ServerId,
    pub client: ClientId,
    pub room: RoomId,
    pub join_event: PduId,
    pub state: RoomState,
}

/// Power levels of one room: per-user levels (others get the room's default). Shared: a
/// sync hands the server's map to each client without copying it; a change copies on write.
pub type PowerMap = std::sync::Arc<BTreeMap<ClientId, i64>>;

/// The variant name of a `Debug` text (`SyncRequest(..)` -> `SyncRequest`).
fn variant(debug: String) -> String {
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or("")
        .to_string()
}

impl Ev {
    /// A short kind for diagnostics: who it is for and what it is (`server: SyncRequest`).
    pub fn kind(&self) -> String {
        match self {
            Ev::Server(_, e) => format!("server: {}", variant(format!("{e:?}"))),
            Ev::Client(_, e) => format!("client: {}", variant(format!("{e:?}"))),
            Ev::Input(i) => format!("input: {}", variant(format!("{i:?}"))),
            Ev::App(a) => format!("workload: {}", variant(format!("{a:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pending kernel event holds one `Ev` (plus 16 bytes of time and sequence), and
    /// the queue moves it a few times: rare large payloads are boxed to keep it small.
    #[test]
    fn kernel_event_stays_small() {
        let (ev, server, client) = (
            std::mem::size_of::<Ev>(),
            std::mem::size_of::<ServerEv>(),
            std::mem::size_of::<ClientEv>(),
        );
        assert!(
            ev <= 48,
            "Ev is {ev} bytes (56 before boxing `TxnResponse` and 32-bit sync tokens)"
        );
        assert!(server <= 32, "ServerEv is {server} bytes");
        assert!(client <= 32, "ClientEv is {client} bytes");
    }
}
