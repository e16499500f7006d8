//! Semantic checks on a typed scenario (README "Scenario files"): ranges, intervals and references
//! between sections. Every problem names the key path it is about; the loader turns the
//! path back into a line and column. All problems are collected, not just the first.

use super::duration::format_duration_us;
use super::locate::KeyPath;
use super::schema::*;
use super::{Dur, ServerSpec, SignedDur};
use std::collections::{BTreeMap, BTreeSet};

mod ranges;
mod references;
mod servers;
mod workload;

/// One semantic problem: the key it is about and what is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub path: KeyPath,
    pub message: String,
    /// Point at the key rather than its value (the key itself is what is wrong).
    pub at_key: bool,
}

impl Problem {
    pub fn new(path: KeyPath, message: impl Into<String>) -> Problem {
        Problem {
            path,
            message: message.into(),
            at_key: false,
        }
    }
}

/// Most servers a scenario may declare (`servers.count`), so that a typo cannot make the
/// loader build billions of names.
pub const MAX_SERVERS: u32 = 100_000;

const DAY_US: u64 = 86_400_000_000;

/// Longest run (`simulation.duration`): 400 days. Sizes beyond that are refused by the
/// estimate anyway; the bound keeps every "end of run + wait" sum far inside `u64` µs.
pub const MAX_RUN: Dur = Dur(400 * DAY_US);

/// Longest value of any other duration or offset key: 100 years (36500 days). Time is a
/// `u64` of microseconds (about 584 000 years), so sums of a few such values, multiplied
/// by a jitter of at most [`MAX_JITTER`], can never overflow.
pub const MAX_TIME: Dur = Dur(36_500 * DAY_US);

/// Largest jitter factor (`jitter = [lo, hi]`, hi at most this): Synapse uses [0.8, 1.4];
/// a larger factor would make the `max` cap meaningless.
pub const MAX_JITTER: f64 = 10.0;

/// Largest clock drift either way, in parts per million: 1e6 ppm stops the clock (or runs
/// it at twice the speed); beyond that it would run backwards.
pub const MAX_DRIFT_PPM: f64 = 1e6;

/// Largest `event_bytes`: the Matrix spec limits an event to 65536 bytes. (It also keeps
/// bytes x events far inside `u64`.)
pub const MAX_EVENT_BYTES: u32 = 65_536;

/// Most retries inside one `/send` (Synapse: 10). Each is a row of federation.csv.
pub const MAX_RETRIES: u32 = 1_000;

/// Most PDUs in one transaction (the Matrix spec: 50).
pub const MAX_PDUS_PER_TXN: u32 = 10_000;

/// Largest lognormal `sigma`: beyond 5 the mean (median × e^(sigma²/2)) is more than
/// 268 000 times the median, which no latency or stay model means.
pub const MAX_SIGMA: f64 = 5.0;

/// Smallest wait that may repeat when a round trip can take no time at all: a wait of 0
/// there is a loop at one instant.
pub const MIN_LOOP_WAIT: Dur = Dur(1_000);

/// The shortest MatrixRTC `leave_delay`: below it the delayed leave fires before a restart
/// can make the round trip, so every member would leave and rejoin many times a second.
pub const MIN_LEAVE_DELAY: Dur = Dur(1_000_000);

/// Check everything that the types alone do not. `servers` is the resolved server list.
pub fn check(file: &ScenarioFile, servers: &[ServerSpec]) -> Vec<Problem> {
    let mut c = Checker {
        out: vec![],
        servers: servers
            .iter()
            .map(|s| (s.name.clone(), s.cfg.clients_per_server))
            .collect(),
        rooms: file
            .rooms
            .iter()
            .enumerate()
            .rev()
            .map(|(i, r)| (r.name.clone(), i))
            .collect(),
        zero_net: zero_network_latency(file),
    };
    c.simulation(&file.simulation);
    c.server_list(file, servers);
    c.network(&file.network);
    c.rooms(file);
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for (i, w) in file.workload.iter().enumerate() {
        let p = KeyPath::root().key("workload").index(i);
        if let Some(n) = w.given_name() {
            if n.trim().is_empty() {
                c.push(&p.key("name"), "must not be empty");
            } else if !names.insert(n) {
                c.push(
                    &p.key("name"),
                    format!("`{n}` names an earlier workload too: names must be unique"),
                );
            }
        }
        c.workload(file, &p, w);
    }
    for (i, f) in file.fault.iter().enumerate() {
        c.fault(&KeyPath::root().key("fault").index(i), f);
    }
    for (i, e) in file.expect.iter().enumerate() {
        let p = KeyPath::root().key("expect").index(i);
        if e.equals.is_none() && e.min.is_none() && e.max.is_none() {
            c.push(&p, "needs at least one of `equals`, `min` or `max`");
        }
        for (k, v) in [
            ("equals", e.equals),
            ("min", e.min),
            ("max", e.max),
            ("tolerance", e.tolerance),
        ] {
            if let Some(x) = v {
                c.finite(&p.key(k), x);
            }
        }
        if let Some(t) = e.tolerance {
            if t < 0.0 {
                c.push(
                    &p.key("tolerance"),
                    format!(
                        "must be >= 0: it is a relative tolerance, e.g. 0.05 for 5% (got {})",
                        num(t)
                    ),
                );
            }
        }
        if let (Some(lo), Some(hi)) = (e.min, e.max) {
            if lo > hi {
                c.push(
                    &p.key("max"),
                    format!(
                        "`min` ({}) is greater than `max` ({}): the claim can never hold",
                        num(lo),
                        num(hi)
                    ),
                );
            }
        }
    }
    c.out
}

/// The first network latency key that is zero for certain, if any: with it, a request and
/// its answer can take no simulated time (see [`zero_dist`]).
fn zero_network_latency(file: &ScenarioFile) -> Option<String> {
    let n = &file.network;
    let p = KeyPath::root().key("network");
    let mut cands: Vec<(KeyPath, &Dist)> = vec![(p.key("latency"), &n.latency)];
    if let Some(d) = &n.intra_latency {
        cands.push((p.key("intra_latency"), d));
    }
    if let Some(d) = &n.inter_latency {
        cands.push((p.key("inter_latency"), d));
    }
    for (i, l) in n.link.iter().enumerate() {
        if let Some(d) = &l.latency {
            cands.push((p.key("link").index(i).key("latency"), d));
        }
    }
    for (i, f) in file.fault.iter().enumerate() {
        if let FaultCfg::Link {
            latency: Some(d), ..
        } = f
        {
            cands.push((KeyPath::root().key("fault").index(i).key("latency"), d));
        }
    }
    cands
        .into_iter()
        .find(|(_, d)| zero_dist(d))
        .map(|(k, _)| k.to_string())
}

/// A distribution whose draws are (almost) always 0 µs: constant 0, uniform up to 0, or a
/// mean, median or centre of 0. Draws from any other distribution are positive often enough
/// that a loop through it moves time forward.
pub fn zero_dist(d: &Dist) -> bool {
    match d {
        Dist::Constant { value } => value.0 == 0,
        Dist::Uniform { min, max } => min.0.max(max.0) == 0,
        Dist::Exponential { mean } => mean.0 == 0,
        Dist::Lognormal { median, .. } => median.0 == 0,
        Dist::Normal { mean, min, .. } => mean.0.max(min.0) == 0,
    }
}

struct Checker {
    out: Vec<Problem>,
    /// Server name -> clients_per_server.
    servers: BTreeMap<String, u32>,
    /// Room names, each to its first entry in `rooms`.
    rooms: BTreeMap<String, usize>,
    /// A network latency key that is always 0, if any (zero-time loops, see `server_cfg`).
    zero_net: Option<String>,
}

fn d(x: Dur) -> String {
    format_duration_us(x.0 as i64)
}

/// A number as a message shows it: plain, or in exponent form when the plain form is long
/// (1e300 rather than 301 digits; 1000000.5 stays as it is).
pub fn num(x: f64) -> String {
    let plain = format!("{x}");
    if plain.len() > 12 {
        format!("{x:e}")
    } else {
        plain
    }
}
