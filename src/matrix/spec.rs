//! The protocol model's own spec types: everything one homeserver (and the clients on it)
//! can be configured with. The defaults are Synapse's numbers (docs/constants.md).

use crate::kernel::time::{Dur, SignedDur};
use crate::net::spec::Dist;
use serde::{Deserialize, Serialize};

/// Everything a server can be configured with (the merged result for one server).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerCfg {
    pub clock_skew: SignedDur,
    /// Clock drift in parts per million (positive: the clock runs fast).
    pub clock_drift_ppm: f64,
    pub clients_per_server: u32,
    pub client_latency: Dist,
    /// Probability that one client->server request (a send, a delayed-event restart) is lost.
    pub client_loss: f64,
    /// This server's handling of one incoming `/send` (receiving, checking, persisting).
    pub processing: Dist,
    /// This server's handling of an event its own client sends, from the request to the
    /// event being persisted and picked up by its syncs and its federation sender.
    pub origin_processing: Dist,
    /// What the client API does with a negative or non-integer `sticky.duration_ms`.
    pub invalid_sticky_duration: InvalidDuration,
    pub federation: FederationCfg,
    pub inbound: InboundCfg,
    pub sync: SyncCfg,
    pub client: ClientCfg,
    /// Bytes of one plain event / one encrypted event (size model, MSC4354 "Proposal").
    pub event_bytes: u32,
    pub encrypted: bool,
}
impl Default for ServerCfg {
    fn default() -> Self {
        ServerCfg {
            clock_skew: SignedDur(0),
            clock_drift_ppm: 0.0,
            clients_per_server: 2,
            client_latency: Dist::Constant {
                value: Dur::from_ms(10),
            },
            client_loss: 0.0,
            // Calibrated on two Synapse 1.163.2 servers on loopback: a sticky event from a
            // client of one to a long-polling client of the other took 39.3 / 49.2 / 57.8 ms
            // (min / median / max), i.e. origin + receiver handling (docs/calibration.md).
            processing: Dist::Uniform {
                min: Dur::from_ms(15),
                max: Dur::from_ms(25),
            },
            origin_processing: Dist::Uniform {
                min: Dur::from_ms(24),
                max: Dur::from_ms(33),
            },
            invalid_sticky_duration: InvalidDuration::Reject,
            federation: FederationCfg::default(),
            inbound: InboundCfg::default(),
            sync: SyncCfg::default(),
            client: ClientCfg::default(),
            event_bytes: 600,
            encrypted: false,
        }
    }
}

/// The client API's answer to a negative or non-integer `sticky.duration_ms`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum InvalidDuration {
    /// Synapse: 400 `M_INVALID_PARAM`, no event is created.
    #[default]
    Reject,
    /// The event is created as an ordinary (not sticky) event carrying the invalid field
    /// (a lenient or misbehaving server; MSC4354: an invalid duration means not sticky).
    Ordinary,
}

/// How a restarted server sends what it queued for a destination.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum RestartCatchUp {
    /// Synapse: the newest event per room first, in a transaction of its own (the receiver
    /// fetches what it misses with get_missing_events), then the own sticky events still
    /// sticky in creation order; older ordinary events are not sent again.
    #[default]
    NewestFirst,
    /// The persisted queue, in its order.
    QueueOrder,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    #[default]
    StickyAll,
    LatestOnly,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FederationCfg {
    pub max_pdus_per_txn: u32,
    pub request_timeout: Dur,
    pub retries: RetriesCfg,
    pub backoff: BackoffCfg,
    pub wake_interval: Dur,
    pub catch_up: CatchUp,
    pub push_on_join: bool,
    /// MSC4354 "Federation behaviour": a 429's retry_after is a lower bound on the next wait; false = Synapse (ignored).
    pub honour_retry_after: bool,
    /// Synapse enters catch-up once a destination has been failing for this long (1 h).
    pub catch_up_after: Dur,
    /// Events a receiver asks for in one get_missing_events round trip (Synapse: 10).
    pub missing_events_limit: u32,
    /// What a restarted server sends first (with `catch_up = "sticky_all"`).
    pub restart_catch_up: RestartCatchUp,
}
impl Default for FederationCfg {
    fn default() -> Self {
        FederationCfg {
            max_pdus_per_txn: 50,
            request_timeout: Dur::from_secs(60),
            retries: RetriesCfg::default(),
            backoff: BackoffCfg::default(),
            wake_interval: Dur::from_secs(60),
            catch_up: CatchUp::StickyAll,
            push_on_join: true,
            honour_retry_after: true,
            catch_up_after: Dur::from_secs(3600),
            missing_events_limit: 10,
            restart_catch_up: RestartCatchUp::NewestFirst,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetriesCfg {
    pub count: u32,
    pub first: Dur,
    pub multiplier: f64,
    pub max: Dur,
    /// Multiplied by a uniform draw in [lo, hi]; [1.0, 1.0] turns jitter off.
    pub jitter: [f64; 2],
}
impl Default for RetriesCfg {
    fn default() -> Self {
        RetriesCfg {
            count: 10,
            first: Dur::from_secs(4),
            multiplier: 4.0,
            max: Dur::from_secs(60),
            jitter: [0.8, 1.4],
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BackoffCfg {
    pub initial: Dur,
    pub multiplier: f64,
    pub max: Dur,
    pub jitter: [f64; 2],
    pub rule: BackoffRule,
}
impl Default for BackoffCfg {
    fn default() -> Self {
        BackoffCfg {
            initial: Dur::from_secs(600),
            multiplier: 2.0,
            max: Dur::from_secs(7 * 86_400),
            jitter: [0.8, 1.4],
            rule: BackoffRule::Synapse,
        }
    }
}

/// How successive backoffs towards one destination grow.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum BackoffRule {
    /// Synapse (`synapse/util/retryutils.py`): the first backoff is exactly `initial`; each
    /// later one is the previous one × `multiplier` × a draw from `jitter`, capped at `max`
    /// (the jitter compounds).
    #[default]
    Synapse,
    /// `initial × multiplier^(failures−1)`, capped at `max`, then × a fresh draw from
    /// `jitter` (the first backoff is jittered too; nothing compounds).
    Independent,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum InboundPolicy {
    #[default]
    #[serde(rename = "reject_429")]
    Reject429,

    AcceptDrop,
    Defer,
    Unlimited,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InboundCfg {
    pub policy: InboundPolicy,
    pub sticky_rate: RateCfg,
    pub retry_after: Dur,
    /// Server overload: time to process one PDU (0: free) ...
    pub pdu_cost: Dur,
    /// ... and how many PDUs may wait for processing before `/send` gets 503 (0: no bound).
    pub queue_bound: u32,
    /// MSC4354 "Federation behaviour": re-check soft-failed sticky events when membership or power levels change.
    pub reevaluate_soft_failed: bool,
    /// MSC4354 "Federation behaviour": late sticky events (after the 50 most recent PDUs) become forward extremities.
    pub old_sticky_in_extremities: bool,
    /// Synapse: a `/send` from an origin that still has another transaction being
    /// processed here is answered 429 "Too many concurrent transactions".
    pub reject_concurrent: bool,
}
impl Default for InboundCfg {
    fn default() -> Self {
        InboundCfg {
            policy: InboundPolicy::Reject429,
            sticky_rate: RateCfg::default(),
            retry_after: Dur::from_secs(1),
            pdu_cost: Dur(0),
            queue_bound: 0,
            reevaluate_soft_failed: true,
            old_sticky_in_extremities: true,
            reject_concurrent: true,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateCfg {
    pub per_second: f64,
    pub burst: u32,
}
impl Default for RateCfg {
    fn default() -> Self {
        RateCfg {
            per_second: 10.0,
            burst: 50,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SyncCfg {
    pub sticky_limit: u32,
    pub timeline_limit: u32,
    pub poll_timeout: Dur,
    pub resend_timeline_sticky: bool,
    /// How long a client waits before syncing again after a failed request.
    pub error_retry: Dur,
    /// What the `sticky_limit` counts.
    pub cap_counts: CapCounts,
}

/// What a response's `sticky_limit` counts.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum CapCounts {
    /// Synapse: the sticky-stream positions it scans (every unexpired event of a joined
    /// room), including events left out because this or an earlier timeline carried them.
    #[default]
    Positions,
    /// Only the events the sticky sections carry.
    StickyEvents,
}
impl Default for SyncCfg {
    fn default() -> Self {
        SyncCfg {
            sticky_limit: 100,
            timeline_limit: 10,
            poll_timeout: Dur::from_secs(30),
            resend_timeline_sticky: false,
            error_retry: Dur::from_secs(2),
            cap_counts: CapCounts::Positions,
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccessControl {
    #[default]
    AcceptAll,
    AuthorizedOnly,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClientCfg {
    pub expire_entries: bool,
    pub access_control: AccessControl,
}
impl Default for ClientCfg {
    fn default() -> Self {
        ClientCfg {
            expire_entries: true,
            access_control: AccessControl::AcceptAll,
        }
    }
}
