//! The protocol model: homeservers, their federation senders and receivers, `/sync`,
//! clients and their ephemeral maps, delayed events (MSC4140), as SPEC section 2 words it.

pub mod client;
pub mod event;
pub mod inbound;
pub mod map;
pub mod sender;
pub mod server;
pub mod spec;
pub mod sync;
pub mod trace;
pub mod world;
