//! The protocol model: homeservers, their federation senders and receivers, `/sync`,
//! clients and their ephemeral maps, delayed events (MSC4140), as the MSCs word it.
//!
//! It imports only the kernel, the network and its own spec types. Each component owns its
//! state and handles the events addressed to it; the [`world::World`] only routes. The
//! model reports facts as [`probe::Probe`]s; it never scores itself.
//!
//! Where each rule lives:
//!
//! | rule (MSC section) | place |
//! | --- | --- |
//! | sticky events: validity, 1 h clamp, start = min(received_ts, origin_server_ts) (2.2) | `event.rs` |
//! | the ephemeral map: key, winner, tombstones, expiry (2.6) | `client/map.rs` |
//! | clients: online/offline, `/sync` loop, applying responses, access control (2.5, 2.6) | `client/mod.rs` |
//! | server clocks, skew and drift (2.1) | `server/clock.rs` |
//! | event creation, joins (send_join), leaves, power levels | `server/requests.rs` |
//! | "Federation behaviour": own events, queues, `/send`, retries, backoff, catch-up (2.3) | `server/sender.rs` |
//! | receiving `/send`: overload, auth, soft failure, re-evaluation, get_missing_events, push on join (2.4) | `server/inbound.rs` |
//! | rate limits: one rule per `inbound.policy` (2.4) | `server/policy.rs` |
//! | "Sync API changes": sticky section, cap across rooms, each event once, joins (2.5) | `server/sync.rs` |
//! | MSC4140 delayed events (2.7) | `server/delayed.rs` |
//! | crash and restart (2.8) | `server/lifecycle.rs` |
//! | messages, timers and inputs; the wire | `msg.rs`, `cx.rs` |
//! | what the model reports | `probe.rs` |

pub mod client;
pub mod cx;
pub mod event;
pub mod ids;
pub mod msg;
pub mod probe;
pub mod server;
pub mod spec;
#[cfg(test)]
pub mod testkit;
pub mod world;

pub use client::map::{MapKey, Top};
pub use ids::{ClientId, DelayId, EvType, IdVec, PduId, ReqTag, RoomId, ServerId, TxnId};
