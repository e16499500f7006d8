//! Semantic checks on a typed scenario (README "Scenario files"): ranges, intervals and references
//! between sections. Every problem names the key path it is about; the loader turns the
//! path back into a line and column. All problems are collected, not just the first.

use super::duration::format_duration_us;
use super::locate::KeyPath;
use super::schema::*;
use super::{Dur, ServerSpec, SignedDur};
use std::collections::{BTreeMap, BTreeSet};

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
        rooms: file.rooms.iter().map(|r| r.name.clone()).collect(),
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
    rooms: BTreeSet<String>,
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

impl Checker {
    fn push(&mut self, path: &KeyPath, message: impl Into<String>) {
        self.out.push(Problem::new(path.clone(), message));
    }

    fn finite(&mut self, path: &KeyPath, x: f64) {
        if !x.is_finite() {
            self.push(path, format!("must be a finite number (got {})", num(x)));
        }
    }

    fn probability(&mut self, path: &KeyPath, p: f64) {
        // NaN fails `contains` too.
        if !(0.0..=1.0).contains(&p) {
            self.push(
                path,
                format!("must be a probability between 0 and 1 (got {})", num(p)),
            );
        }
    }

    fn positive(&mut self, path: &KeyPath, x: Dur) {
        if x.0 == 0 {
            self.push(path, "must be greater than 0");
        }
    }

    /// Any duration key other than `simulation.duration`.
    fn time(&mut self, path: &KeyPath, x: Dur) {
        if x > MAX_TIME {
            self.push(
                path,
                format!(
                    "must be at most {} (100 years; got {}): larger times overflow the clock arithmetic",
                    d(MAX_TIME),
                    d(x)
                ),
            );
        }
    }

    /// A signed offset: at most 100 years either way.
    fn offset(&mut self, path: &KeyPath, x: SignedDur) {
        if x.0.unsigned_abs() > MAX_TIME.0 {
            self.push(
                path,
                format!(
                    "must be within ±{} (100 years; got {}): larger offsets overflow the clock arithmetic",
                    d(MAX_TIME),
                    format_duration_us(x.0)
                ),
            );
        }
    }

    /// A duration that restarts a loop: at least 1 ms, so a loop cannot stay at one instant.
    fn loop_period(&mut self, path: &KeyPath, x: Dur, why: &str) {
        if x < MIN_LOOP_WAIT {
            self.push(
                path,
                format!(
                    "must be at least {} (got {}): {why}",
                    d(MIN_LOOP_WAIT),
                    d(x)
                ),
            );
        }
    }

    fn multiplier(&mut self, path: &KeyPath, m: f64) {
        if !(m >= 1.0 && m.is_finite()) {
            self.push(
                path,
                format!("must be a finite number of at least 1 (got {})", num(m)),
            );
        }
    }

    fn jitter(&mut self, path: &KeyPath, j: [f64; 2]) {
        let [lo, hi] = j;
        if !(lo > 0.0 && lo <= hi && hi <= MAX_JITTER) {
            self.push(
                path,
                format!(
                    "needs 0 < low <= high <= {MAX_JITTER}, as in [0.8, 1.4]: each wait is multiplied by a draw from [low, high] (got [{}, {}])",
                    num(lo),
                    num(hi)
                ),
            );
        }
    }

    /// A count with an upper bound (and the reason for it).
    fn at_most(&mut self, path: &KeyPath, n: u64, max: u64, why: &str) {
        if n > max {
            self.push(path, format!("must be at most {max} (got {n}): {why}"));
        }
    }

    fn dist(&mut self, path: &KeyPath, dist: &Dist) {
        let durs: Vec<(&str, Dur)> = match dist {
            Dist::Constant { value } => vec![("value", *value)],
            Dist::Uniform { min, max } => vec![("min", *min), ("max", *max)],
            Dist::Exponential { mean } => vec![("mean", *mean)],
            Dist::Lognormal { median, .. } => vec![("median", *median)],
            Dist::Normal { mean, std, min } => vec![("mean", *mean), ("std", *std), ("min", *min)],
        };
        for (k, v) in durs {
            self.time(&path.key(k), v);
        }
        match dist {
            Dist::Uniform { min, max } if min > max => self.push(
                path,
                format!("`min` ({}) is greater than `max` ({})", d(*min), d(*max)),
            ),
            Dist::Lognormal { sigma, .. } if !(*sigma >= 0.0 && *sigma <= MAX_SIGMA) => self
                .push(
                    &path.key("sigma"),
                    format!(
                        "must be a number from 0 to {MAX_SIGMA} (got {}): the mean is median × e^(sigma²/2), already 268 000 × the median at sigma 5",
                        num(*sigma)
                    ),
                ),
            _ => {}
        }
    }

    fn interval(&mut self, path: &KeyPath, from: Dur, to: Option<Dur>) {
        self.time(&path.key("from"), from);
        if let Some(to) = to {
            self.time(&path.key("to"), to);
            if from >= to {
                self.push(
                    &path.key("to"),
                    format!("`from` ({}) must be before `to` ({})", d(from), d(to)),
                );
            }
        }
    }

    fn server(&mut self, path: &KeyPath, name: &str) {
        if !self.servers.contains_key(name) {
            self.push(path, format!("unknown server `{name}`"));
        }
    }

    fn servers(&mut self, path: &KeyPath, names: &[String]) {
        for (i, n) in names.iter().enumerate() {
            self.server(&path.index(i), n);
        }
    }

    fn room(&mut self, path: &KeyPath, name: &str) {
        if !self.rooms.contains(name) {
            self.push(path, format!("unknown room `{name}`"));
        }
    }

    /// A client is `server/index` with index < that server's `clients_per_server`.
    fn client(&mut self, path: &KeyPath, name: &str) {
        let parsed = name
            .rsplit_once('/')
            .and_then(|(s, i)| i.parse::<u64>().ok().map(|i| (s, i)));
        let Some((server, index)) = parsed else {
            self.push(
                path,
                format!("`{name}` is not a client name (expected server/index, e.g. \"hs1/0\")"),
            );
            return;
        };
        match self.servers.get(server) {
            None => self.push(path, format!("unknown client `{name}`: no server `{server}`")),
            Some(&0) => self.push(
                path,
                format!("unknown client `{name}`: server `{server}` has no clients"),
            ),
            Some(&1) if index >= 1 => self.push(
                path,
                format!("unknown client `{name}`: server `{server}` has 1 client ({server}/0)"),
            ),
            Some(&n) if index >= u64::from(n) => self.push(
                path,
                format!(
                    "unknown client `{name}`: server `{server}` has {n} clients ({server}/0 to {server}/{})",
                    n - 1
                ),
            ),
            Some(_) => {}
        }
    }

    fn simulation(&mut self, s: &SimulationCfg) {
        let p = KeyPath::root().key("simulation");
        let n = &s.name;
        if n.is_empty()
            || n == "."
            || n == ".."
            || n.chars().any(|c| c == '/' || c == '\\' || c.is_control())
        {
            self.push(
                &p.key("name"),
                format!(
                    "`{n}` cannot name an output folder (no `/`, `\\`, `.` or `..`, not empty)"
                ),
            );
        }
        self.positive(&p.key("duration"), s.duration);
        if s.duration > MAX_RUN {
            self.push(
                &p.key("duration"),
                format!(
                    "must be at most {} (got {}): a run covers hours to weeks, and times past that overflow the run's clock arithmetic",
                    d(MAX_RUN),
                    d(s.duration)
                ),
            );
        }
        self.positive(&p.key("sample_interval"), s.sample_interval);
        self.time(&p.key("sample_interval"), s.sample_interval);
        self.time(&p.key("quiet_tail"), s.quiet_tail);
        if s.quiet_tail >= s.duration && s.quiet_tail.0 > 0 {
            self.push(
                &p.key("quiet_tail"),
                format!(
                    "must be shorter than `simulation.duration` ({})",
                    d(s.duration)
                ),
            );
        }
    }

    fn server_list(&mut self, file: &ScenarioFile, resolved: &[ServerSpec]) {
        let p = KeyPath::root().key("servers");
        if let Some(n) = file.servers.count {
            if n > MAX_SERVERS {
                self.push(
                    &p.key("count"),
                    format!("at most {MAX_SERVERS} servers (got {n})"),
                );
            }
        }
        if let Some(prefix) = &file.servers.name_prefix {
            if prefix.contains('/') {
                self.push(
                    &p.key("name_prefix"),
                    format!("`{prefix}`: server names cannot contain `/`"),
                );
            }
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, e) in file.servers.list.iter().enumerate() {
            let np = p.key("list").index(i).key("name");
            if e.name.is_empty() || e.name.contains('/') {
                self.push(
                    &np,
                    format!("`{}` cannot name a server (not empty, no `/`)", e.name),
                );
            }
            if let Some(first) = seen.insert(&e.name, i) {
                self.push(
                    &np,
                    format!(
                        "duplicate server name `{}` (first in servers.list[{first}])",
                        e.name
                    ),
                );
                seen.insert(&e.name, first);
            }
        }
        // The defaults as written, then each entry's merged settings, reported at the entry
        // only for keys the entry itself sets (the rest were reported at the defaults).
        let defaults = self.server_cfg(&file.servers.defaults, self.zero_net.as_deref());
        for (rels, msg) in defaults {
            if let Some(rel) = rels.first() {
                self.push(&join(&p.key("defaults"), rel), msg);
            }
        }
        for (i, e) in file.servers.list.iter().enumerate() {
            let Some(spec) = resolved.iter().find(|s| s.name == e.name) else {
                continue;
            };
            let entry = p.key("list").index(i);
            for (rels, msg) in self.server_cfg(&spec.cfg, self.zero_net.as_deref()) {
                if let Some(rel) = rels.iter().find(|r| sets(&e.overrides, r)) {
                    self.push(&join(&entry, rel), msg);
                }
            }
        }
    }

    /// Problems of one server's settings, as (paths involved, relative to the server, message).
    /// `zero_net`: a network latency key that is always 0, if any.
    fn server_cfg(&self, s: &ServerCfg, zero_net: Option<&str>) -> Vec<(Vec<KeyPath>, String)> {
        let mut sub = Checker {
            out: vec![],
            servers: BTreeMap::new(),
            rooms: BTreeSet::new(),
            zero_net: None,
        };
        let r = KeyPath::root();
        sub.offset(&r.key("clock_skew"), s.clock_skew);
        sub.drift(&r.key("clock_drift_ppm"), s.clock_drift_ppm);
        sub.dist(&r.key("client_latency"), &s.client_latency);
        sub.probability(&r.key("client_loss"), s.client_loss);
        sub.dist(&r.key("processing"), &s.processing);
        sub.at_most(
            &r.key("event_bytes"),
            u64::from(s.event_bytes),
            u64::from(MAX_EVENT_BYTES),
            "the Matrix spec limits an event to 65536 bytes",
        );
        let f = r.key("federation");
        let fed = &s.federation;
        if fed.max_pdus_per_txn == 0 {
            sub.push(&f.key("max_pdus_per_txn"), "must be at least 1");
        }
        sub.at_most(
            &f.key("max_pdus_per_txn"),
            u64::from(fed.max_pdus_per_txn),
            u64::from(MAX_PDUS_PER_TXN),
            "the Matrix spec allows 50 PDUs in a transaction",
        );
        sub.positive(&f.key("request_timeout"), fed.request_timeout);
        sub.time(&f.key("request_timeout"), fed.request_timeout);
        let (rp, bp) = (f.key("retries"), f.key("backoff"));
        sub.at_most(
            &rp.key("count"),
            u64::from(fed.retries.count),
            u64::from(MAX_RETRIES),
            "Synapse retries 10 times; every retry is a row of federation.csv",
        );
        sub.time(&rp.key("first"), fed.retries.first);
        sub.time(&rp.key("max"), fed.retries.max);
        sub.multiplier(&rp.key("multiplier"), fed.retries.multiplier);
        sub.jitter(&rp.key("jitter"), fed.retries.jitter);
        sub.time(&bp.key("initial"), fed.backoff.initial);
        sub.time(&bp.key("max"), fed.backoff.max);
        sub.multiplier(&bp.key("multiplier"), fed.backoff.multiplier);
        sub.jitter(&bp.key("jitter"), fed.backoff.jitter);
        sub.time(&f.key("wake_interval"), fed.wake_interval);
        sub.time(&f.key("catch_up_after"), fed.catch_up_after);
        if let Some(net) = zero_net {
            // A refused or rate-limited /send is answered after one round trip, which takes no
            // time here: a wait of 0 before the next attempt repeats it at the same instant.
            let why = format!(
                "`{net}` is always 0, so a failed /send is answered at once and a zero wait retries it at the same instant forever"
            );
            if fed.retries.count > 0 {
                sub.min_wait(
                    &rp,
                    "first",
                    fed.retries.first,
                    fed.retries.max,
                    fed.retries.jitter,
                    &why,
                );
            }
            sub.min_wait(
                &bp,
                "initial",
                fed.backoff.initial,
                fed.backoff.max,
                fed.backoff.jitter,
                &why,
            );
        }
        let i = r.key("inbound");
        sub.time(&i.key("retry_after"), s.inbound.retry_after);
        sub.time(&i.key("pdu_cost"), s.inbound.pdu_cost);
        if s.inbound.sticky_rate.burst == 0 {
            sub.push(
                &i.key("sticky_rate").key("burst"),
                "must be at least 1: a bucket that holds no token never lets a sticky event through",
            );
        }
        let y = r.key("sync");
        sub.time(&y.key("poll_timeout"), s.sync.poll_timeout);
        sub.time(&y.key("error_retry"), s.sync.error_retry);
        if zero_dist(&s.client_latency) {
            sub.loop_period(
                &y.key("poll_timeout"),
                s.sync.poll_timeout,
                "`client_latency` is always 0, so a sync answered at once is sent again at the same instant forever",
            );
            sub.loop_period(
                &y.key("error_retry"),
                s.sync.error_retry,
                "`client_latency` is always 0, so a failed sync (server down) is retried at the same instant forever",
            );
        }
        let mut out: Vec<(Vec<KeyPath>, String)> = sub
            .out
            .into_iter()
            .map(|p| (vec![p.path], p.message))
            .collect();
        let rate = s.inbound.sticky_rate.per_second;
        if s.inbound.policy != InboundPolicy::Unlimited && !(rate > 0.0 && rate.is_finite()) {
            out.push((
                vec![i.key("sticky_rate").key("per_second"), i.key("policy")],
                format!(
                    "must be greater than 0 when the policy is not `unlimited` (got {})",
                    num(rate)
                ),
            ));
        } else if !(rate >= 0.0 && rate.is_finite()) {
            out.push((
                vec![i.key("sticky_rate").key("per_second")],
                format!("must be a finite number >= 0 (got {})", num(rate)),
            ));
        }
        out
    }

    /// The smallest wait a retry schedule allows, `min(first, max) × jitter low`, must be at
    /// least 1 ms. Blamed on `first` (or `max` when that is the smaller).
    fn min_wait(
        &mut self,
        p: &KeyPath,
        first_key: &str,
        first: Dur,
        max: Dur,
        jitter: [f64; 2],
        why: &str,
    ) {
        let smallest = first.min(max);
        let jlo = jitter[0].min(jitter[1]);
        let wait = (smallest.0 as f64 * jlo).round();
        if wait.is_finite() && wait >= MIN_LOOP_WAIT.0 as f64 {
            return;
        }
        let key = if max < first { "max" } else { first_key };
        let detail = if jlo < 1.0 && smallest >= MIN_LOOP_WAIT {
            format!(
                "its smallest wait, {} × jitter {jlo}, is under {}",
                d(smallest),
                d(MIN_LOOP_WAIT)
            )
        } else {
            format!("got {}", d(smallest))
        };
        self.push(
            &p.key(key),
            format!(
                "must give waits of at least {} ({detail}): {why}",
                d(MIN_LOOP_WAIT)
            ),
        );
    }

    fn drift(&mut self, path: &KeyPath, ppm: f64) {
        if ppm.is_nan() || ppm.abs() > MAX_DRIFT_PPM {
            self.push(
                path,
                format!(
                    "must be a number from -{MAX_DRIFT_PPM:.0} to {MAX_DRIFT_PPM:.0} parts per million (got {}): -1000000 stops the clock, beyond that it would run backwards",
                    num(ppm)
                ),
            );
        }
    }

    fn network(&mut self, n: &NetworkCfg) {
        let p = KeyPath::root().key("network");
        self.dist(&p.key("latency"), &n.latency);
        self.probability(&p.key("loss"), n.loss);
        if let Some(h) = &n.hub {
            self.server(&p.key("hub"), h);
        }
        if let Some(l) = &n.intra_latency {
            self.dist(&p.key("intra_latency"), l);
        }
        if let Some(l) = &n.inter_latency {
            self.dist(&p.key("inter_latency"), l);
        }
        if n.topology == Topology::Regions && n.regions.is_empty() {
            self.push(
                &p.key("topology"),
                "`regions` needs at least one `network.regions` entry",
            );
        }
        let mut names = BTreeSet::new();
        // Server -> the region (name, index) that first lists it.
        let mut region_of: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
        for (i, r) in n.regions.iter().enumerate() {
            let rp = p.key("regions").index(i);
            if !names.insert(r.name.as_str()) {
                self.push(
                    &rp.key("name"),
                    format!("duplicate region name `{}`", r.name),
                );
            }
            self.servers(&rp.key("servers"), &r.servers);
            for (j, srv) in r.servers.iter().enumerate() {
                match region_of.get(srv.as_str()) {
                    Some(&(first, k)) => self.push(
                        &rp.key("servers").index(j),
                        if k == i {
                            format!("server `{srv}` is listed twice in region `{first}`")
                        } else {
                            format!(
                                "server `{srv}` is already in region `{first}` (network.regions[{k}]): a server is in one region"
                            )
                        },
                    ),
                    None => {
                        region_of.insert(srv, (&r.name, i));
                    }
                }
            }
        }
        // Unordered pair -> the first link that names it.
        let mut links: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (i, l) in n.link.iter().enumerate() {
            let lp = p.key("link").index(i);
            self.server(&lp.key("from"), &l.from);
            self.server(&lp.key("to"), &l.to);
            if l.from == l.to {
                self.push(&lp.key("to"), "a link joins two different servers");
            }
            let pair = if l.from <= l.to {
                (l.from.as_str(), l.to.as_str())
            } else {
                (l.to.as_str(), l.from.as_str())
            };
            if let Some(first) = links.get(&pair) {
                self.push(
                    &lp.key("to"),
                    format!(
                        "the pair `{}`-`{}` already has a link (network.link[{first}]); a link covers both directions",
                        l.from, l.to
                    ),
                );
            } else {
                links.insert(pair, i);
            }
            if let Some(d) = &l.latency {
                self.dist(&lp.key("latency"), d);
            }
            if let Some(x) = l.loss {
                self.probability(&lp.key("loss"), x);
            }
        }
    }

    fn rooms(&mut self, file: &ScenarioFile) {
        let mut seen = BTreeSet::new();
        for (i, r) in file.rooms.iter().enumerate() {
            let p = KeyPath::root().key("rooms").index(i);
            if !seen.insert(r.name.as_str()) {
                self.push(&p.key("name"), format!("duplicate room name `{}`", r.name));
            }
            if let ServerSet::List(list) = &r.servers {
                if list.is_empty() {
                    self.push(&p.key("servers"), "a room needs at least one server");
                }
                self.servers(&p.key("servers"), list);
            }
            for (j, c) in r.absent.iter().enumerate() {
                let before = self.out.len();
                let cp = p.key("absent").index(j);
                self.client(&cp, c);
                if self.out.len() == before {
                    let server = c.rsplit_once('/').map(|(s, _)| s).unwrap_or("");
                    let in_room = match &r.servers {
                        ServerSet::All(_) => true,
                        ServerSet::List(l) => l.iter().any(|s| s == server),
                    };
                    if !in_room {
                        self.push(
                            &cp,
                            format!("`{c}` is not a client of this room's servers, so it cannot be absent from it"),
                        );
                    }
                }
            }
            if let Some(pl) = &r.power_levels {
                let pp = p.key("power_levels");
                if let Some(c) = &pl.creator {
                    self.client(&pp.key("creator"), c);
                }
                for u in pl.users.keys() {
                    let before = self.out.len();
                    self.client(&pp.key("users").key(u), u);
                    for p in &mut self.out[before..] {
                        p.at_key = true;
                    }
                }
            }
        }
    }

    /// Clients of the room's servers (0 when the room is unknown).
    fn room_clients(&self, file: &ScenarioFile, room: &str) -> u64 {
        let Some(r) = file.rooms.iter().find(|r| r.name == room) else {
            return 0;
        };
        match &r.servers {
            ServerSet::All(_) => self.servers.values().map(|&n| u64::from(n)).sum(),
            ServerSet::List(l) => l
                .iter()
                .filter_map(|s| self.servers.get(s))
                .map(|&n| u64::from(n))
                .sum(),
        }
    }

    fn needs_clients(&mut self, file: &ScenarioFile, path: &KeyPath, room: &str, n: u32) {
        if n > 0 && self.rooms.contains(room) && self.room_clients(file, room) == 0 {
            self.push(
                path,
                format!("room `{room}` has no clients to act for (its servers have clients_per_server = 0)"),
            );
        }
    }

    fn workload(&mut self, file: &ScenarioFile, p: &KeyPath, w: &WorkloadCfg) {
        match w {
            WorkloadCfg::Matrixrtc(m) => {
                self.room(&p.key("room"), &m.room);
                self.needs_clients(file, &p.key("participants"), &m.room, m.participants);
                self.dist(&p.key("join"), &m.join);
                self.dist(&p.key("stay"), &m.stay);
                self.probability(&p.key("crash_fraction"), m.crash_fraction);
                self.time(&p.key("sticky_duration"), m.sticky_duration);
                self.time(&p.key("resend_before_expiry"), m.resend_before_expiry);
                let hp = p.key("heartbeat");
                let hb = &m.heartbeat;
                self.time(&hp.key("leave_delay"), hb.leave_delay);
                self.time(&hp.key("restart_every"), hb.restart_every);
                if hb.enabled {
                    self.loop_period(
                        &hp.key("restart_every"),
                        hb.restart_every,
                        "each participant restarts its delayed leave this often",
                    );
                    if hb.leave_delay < MIN_LEAVE_DELAY {
                        self.push(
                            &hp.key("leave_delay"),
                            format!(
                                "must be at least {} (got {}): a shorter delayed leave fires before the participant's restart (every `leave_delay / 2` then) can reach its server, so every member would leave and rejoin many times a second",
                                d(MIN_LEAVE_DELAY),
                                d(hb.leave_delay)
                            ),
                        );
                    }
                }
            }
            WorkloadCfg::Location(l) => {
                self.room(&p.key("room"), &l.room);
                self.needs_clients(file, &p.key("sharers"), &l.room, l.sharers);
                self.dist(&p.key("start"), &l.start);
                self.dist(&p.key("share_for"), &l.share_for);
                self.positive(&p.key("update_every"), l.update_every);
                self.time(&p.key("update_every"), l.update_every);
                self.time(&p.key("sticky_duration"), l.sticky_duration);
            }
            WorkloadCfg::Spam(s) => {
                self.room(&p.key("room"), &s.room);
                self.client(&p.key("client"), &s.client);
                if !(s.rate > 0.0 && s.rate.is_finite()) {
                    self.push(
                        &p.key("rate"),
                        format!(
                            "must be a finite number of events per second > 0 (got {})",
                            num(s.rate)
                        ),
                    );
                }
                if s.count.is_some() && s.to.is_some() {
                    self.push(&p.key("to"), "give `count` or `to`, not both");
                }
                self.time(&p.key("start"), s.start);
                if let Some(to) = s.to {
                    self.time(&p.key("to"), to);
                }
                self.time(&p.key("duration"), s.duration);
                self.offset(&p.key("origin_ts_offset"), s.origin_ts_offset);
                if let Some(to) = s.to {
                    if to <= s.start {
                        self.push(
                            &p.key("to"),
                            format!("`start` ({}) must be before `to` ({})", d(s.start), d(to)),
                        );
                    }
                }
            }
            WorkloadCfg::Script(s) => {
                self.room(&p.key("room"), &s.room);
                for (k, a) in s.actions.iter().enumerate() {
                    self.action(&p.key("actions").index(k), a);
                }
            }
        }
    }

    fn action(&mut self, p: &KeyPath, a: &ActionCfg) {
        self.time(&p.key("at"), a.at);
        if let Some(x) = a.duration {
            self.time(&p.key("duration"), x);
        }
        if let Some(x) = a.origin_ts_offset {
            self.offset(&p.key("origin_ts_offset"), x);
        }
        if let Some(c) = &a.client {
            self.client(&p.key("client"), c);
        }
        if let Some(s) = &a.server {
            self.server(&p.key("server"), s);
        }
        if let Some(u) = &a.user {
            self.client(&p.key("user"), u);
        }
        if let Some(list) = &a.only_to {
            self.servers(&p.key("only_to"), list);
        }
        if a.client.is_some() == a.server.is_some() {
            self.push(p, "an action needs exactly one of `client` or `server`");
        }
        match (a.send, a.action) {
            (Some(_), Some(_)) | (None, None) => {
                self.push(p, "an action needs exactly one of `send` or `do`");
            }
            (Some(kind), None) => {
                if a.client.is_none() && a.server.is_some() {
                    self.push(
                        &p.key("server"),
                        "`send` is done by a client: give `client`, not `server`",
                    );
                }
                if kind == SendKind::PowerLevels {
                    for (k, missing) in [("user", a.user.is_none()), ("level", a.level.is_none())] {
                        if missing {
                            self.push(
                                &p.key("send"),
                                format!("`send = \"power_levels\"` needs `{k}`"),
                            );
                        }
                    }
                }
            }
            (None, Some(kind)) => {
                let (name, by_server) = match kind {
                    DoKind::Crash => ("crash", true),
                    DoKind::Restart => ("restart", true),
                    DoKind::Offline => ("offline", false),
                    DoKind::Online => ("online", false),
                    DoKind::Join => ("join", false),
                    DoKind::LeaveRoom => ("leave_room", false),
                };
                if by_server && a.server.is_none() && a.client.is_some() {
                    self.push(
                        &p.key("do"),
                        format!("`do = \"{name}\"` needs `server`, not `client`"),
                    );
                }
                if !by_server && a.client.is_none() && a.server.is_some() {
                    self.push(
                        &p.key("do"),
                        format!("`do = \"{name}\"` needs `client`, not `server`"),
                    );
                }
            }
        }
    }

    fn fault(&mut self, p: &KeyPath, f: &FaultCfg) {
        match f {
            FaultCfg::Partition { servers, from, to } => {
                self.nonempty_servers(p, servers);
                self.interval(p, *from, Some(*to));
            }
            FaultCfg::Crash { servers, from, to } => {
                self.nonempty_servers(p, servers);
                self.interval(p, *from, *to);
            }
            FaultCfg::Link {
                servers,
                from,
                to,
                latency,
                loss,
            } => {
                self.servers(&p.key("servers"), servers);
                if servers.len() != 2 {
                    self.push(
                        &p.key("servers"),
                        format!(
                            "a link fault names exactly two servers (got {})",
                            servers.len()
                        ),
                    );
                } else if servers[0] == servers[1] {
                    self.push(&p.key("servers"), "a link joins two different servers");
                }
                self.interval(p, *from, Some(*to));
                if let Some(l) = latency {
                    self.dist(&p.key("latency"), l);
                }
                if let Some(x) = loss {
                    self.probability(&p.key("loss"), *x);
                }
            }
            FaultCfg::ClientOffline { clients, from, to } => {
                if clients.is_empty() {
                    self.push(&p.key("clients"), "needs at least one client");
                }
                for (i, c) in clients.iter().enumerate() {
                    self.client(&p.key("clients").index(i), c);
                }
                self.interval(p, *from, *to);
            }
            FaultCfg::Clock {
                servers,
                from,
                skew,
                drift_ppm,
            } => {
                self.nonempty_servers(p, servers);
                self.time(&p.key("from"), *from);
                if let Some(x) = skew {
                    self.offset(&p.key("skew"), *x);
                }
                if let Some(x) = drift_ppm {
                    self.drift(&p.key("drift_ppm"), *x);
                }
            }
            FaultCfg::Equivocate {
                server,
                room,
                split,
                at,
                ..
            } => {
                self.time(&p.key("at"), *at);
                self.server(&p.key("server"), server);
                self.room(&p.key("room"), room);
                self.servers(&p.key("split"), split);
            }
            FaultCfg::Withhold {
                server,
                to_servers,
                from,
                to,
            } => {
                self.server(&p.key("server"), server);
                self.servers(&p.key("to_servers"), to_servers);
                self.interval(p, *from, *to);
            }
        }
    }

    fn nonempty_servers(&mut self, p: &KeyPath, servers: &[String]) {
        if servers.is_empty() {
            self.push(&p.key("servers"), "needs at least one server");
        }
        self.servers(&p.key("servers"), servers);
    }
}

fn join(base: &KeyPath, rel: &KeyPath) -> KeyPath {
    let mut v = base.0.clone();
    v.extend(rel.0.iter().cloned());
    KeyPath(v)
}

/// Does a `[[servers.list]]` entry set `rel` (or a table on its way)?
fn sets(overrides: &toml::Table, rel: &KeyPath) -> bool {
    let mut cur = overrides;
    for (i, seg) in rel.0.iter().enumerate() {
        let super::locate::Seg::Key(k) = seg else {
            return false;
        };
        match cur.get(k) {
            None => return false,
            Some(toml::Value::Table(t)) if i + 1 < rel.0.len() => cur = t,
            Some(_) => return true,
        }
    }
    true
}
