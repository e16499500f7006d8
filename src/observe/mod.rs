//! Observers: they watch the model from outside (STYLE: the model does not compute its own
//! score). The model emits [`Probe`](crate::matrix::probe::Probe)s; the [`recorder`]
//! consumes them after every kernel step and samples the world (reading it, never
//! changing it). Scoring lives here: delivery fates and loss causes ([`delivery`]),
//! convergence and ghosts ([`convergence`]), what a fresh sync would receive ([`spam`]), the metrics of README "Metrics" ([`metrics`]) with running totals of the
//! streamed rows ([`running`]), and the rows of the CSV files ([`tables`]), the big ones
//! written as the run goes ([`stream`]).

pub mod convergence;
pub mod delivery;
pub mod metrics;
pub mod pairs;
pub mod recorder;
pub mod rtc;
pub mod running;
pub mod spam;
pub mod stats;
pub mod stream;
pub mod tables;
pub mod tally;

use crate::matrix::probe::Arrival;
use std::collections::BTreeMap;

/// Every scalar metric by its README "Metrics" name (e.g. "delivery.latency_ms.p99").
pub type Metrics = BTreeMap<String, f64>;

/// How a sticky event reached a server (README "Outputs" `path`).
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

    /// The path of an arrival: fetched as a missing prev_event (transitive), pushed on
    /// join, sent after a backoff (catch-up), carried by a retry, or direct.
    pub fn of(a: Arrival) -> Path {
        if a.fetched {
            Path::Transitive
        } else if a.join_push {
            Path::JoinPush
        } else if a.saw_backoff {
            Path::CatchUp
        } else if a.attempts > 1 {
            Path::Retry
        } else {
            Path::Direct
        }
    }
}
