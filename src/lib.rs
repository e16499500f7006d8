//! stickysim: a deterministic discrete-event simulator of Matrix federation and
//! MSC4354 sticky events.
//!
//! Data flows one way: [`scenario`] -> world ([`matrix`], [`net`], [`workload`]) ->
//! [`kernel`] loop -> observers ([`observe`]) -> files ([`output`]).

pub mod app;
pub mod bench;
pub mod kernel;
pub mod matrix;
pub mod net;
pub mod observe;
pub mod output;
pub mod run;
pub mod scenario;
pub mod sweep;
pub mod workload;

/// The version written into every summary (part of what makes a digest reproducible).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
