//! Observers: they watch the model from outside (STYLE: the model does not compute its own
//! score). The world appends [`Obs`] records to its log; observers consume them after each
//! step and compute the metrics of SPEC 3.

pub mod delivery;
pub mod metrics;
pub mod recorder;
pub mod stats;

use crate::kernel::Time;
use crate::matrix::event::{ClientId, PduId, RoomId, ServerId};
use crate::matrix::map::{MapKey, Top};

/// How a sticky event reached a server (SPEC 1.3 `path`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Path {
    Direct,
    Retry,
    CatchUp,
    JoinPush,
    Transitive,
}

impl Path {
    pub fn as_str(self) -> &'static str {
        match self {
            Path::Direct => "direct",
            Path::Retry => "retry",
            Path::CatchUp => "catch_up",
            Path::JoinPush => "join_push",
            Path::Transitive => "transitive",
        }
    }
}

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

/// One `/send` attempt (a row of federation.csv).
#[derive(Clone, Debug)]
pub struct SendAttempt {
    pub t: Time,
    pub origin: ServerId,
    pub destination: ServerId,
    pub txn_id: u64,
    pub attempt: u32,
    pub pdus: u32,
    pub sticky_pdus: u32,
    pub bytes: u64,
    pub outcome: Outcome,
    pub retry_after: Option<Time>,
    pub next_attempt: Option<Time>,
}

/// One sticky event a sync response carried, with what it did to the client's map.
#[derive(Clone, Debug)]
pub struct Applied {
    pub pdu: PduId,
    /// It changed what the client shows (SPEC 3 `spam.inactionable_events` counts the others).
    pub actionable: bool,
}

#[derive(Clone, Debug)]
pub enum Obs {
    /// An event was created at its origin.
    Created {
        pdu: PduId,
        t: Time,
        origin_end: Option<Time>,
    },
    /// A sticky event became visible to a server's clients (accepted, not soft-failed, released).
    ServerAccepted {
        server: ServerId,
        pdu: PduId,
        t: Time,
        path: Path,
        attempts: u32,
        end_at: Option<Time>,
    },
    /// accept_drop threw it away.
    Dropped {
        server: ServerId,
        pdu: PduId,
        t: Time,
    },
    /// It was never queued for this destination (no push on join, latest_only, withholding).
    NeverSent {
        dest: ServerId,
        pdu: PduId,
        t: Time,
    },
    /// It expired in the queue towards `dest`; `reachable` tells whether dest could be reached then.
    QueueExpired {
        dest: ServerId,
        pdu: PduId,
        t: Time,
        reachable: bool,
    },
    SoftFailed {
        server: ServerId,
        pdu: PduId,
        t: Time,
    },
    Send(SendAttempt),
    Sync {
        t: Time,
        client: ClientId,
        room_count: u32,
        timeline_events: u32,
        sticky_events: u32,
        bytes: u64,
        gappy: bool,
        applied: Vec<Applied>,
    },
    /// What a client's map shows for a key changed (by an event or by expiry).
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
    RtcJoin {
        participant: u32,
        key: MapKey,
        pdu: PduId,
        t: Time,
    },
    RtcCrash {
        participant: u32,
        key: MapKey,
        t: Time,
    },
    LeaveSent {
        pdu: PduId,
        t: Time,
    },
    QueueDepth {
        origin: ServerId,
        dest: ServerId,
        depth: usize,
    },
}
