//! Semantic checks on a typed scenario (SPEC 1.2, 7): ranges, intervals and references
//! between sections. Every problem names the key path it is about; the loader turns the
//! path back into a line and column. All problems are collected, not just the first.

use super::duration::format_duration_us;
use super::locate::KeyPath;
use super::schema::*;
use super::{Dur, ServerSpec};
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

/// Check everything that the types alone do not. `servers` is the resolved server list.
pub fn check(file: &ScenarioFile, servers: &[ServerSpec]) -> Vec<Problem> {
    let mut c = Checker {
        out: vec![],
        servers: servers
            .iter()
            .map(|s| (s.name.clone(), s.cfg.clients_per_server))
            .collect(),
        rooms: file.rooms.iter().map(|r| r.name.clone()).collect(),
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
    }
    c.out
}

struct Checker {
    out: Vec<Problem>,
    /// Server name -> clients_per_server.
    servers: BTreeMap<String, u32>,
    rooms: BTreeSet<String>,
}

fn d(x: Dur) -> String {
    format_duration_us(x.0 as i64)
}

impl Checker {
    fn push(&mut self, path: &KeyPath, message: impl Into<String>) {
        self.out.push(Problem::new(path.clone(), message));
    }

    fn finite(&mut self, path: &KeyPath, x: f64) {
        if !x.is_finite() {
            self.push(path, format!("must be a finite number (got {x})"));
        }
    }

    fn probability(&mut self, path: &KeyPath, p: f64) {
        if !(0.0..=1.0).contains(&p) {
            self.push(
                path,
                format!("must be a probability between 0 and 1 (got {p})"),
            );
        }
    }

    fn positive(&mut self, path: &KeyPath, x: Dur) {
        if x.0 == 0 {
            self.push(path, "must be greater than 0");
        }
    }

    fn multiplier(&mut self, path: &KeyPath, m: f64) {
        if !(m >= 1.0 && m.is_finite()) {
            self.push(path, format!("must be at least 1 (got {m})"));
        }
    }

    fn jitter(&mut self, path: &KeyPath, j: [f64; 2]) {
        let [lo, hi] = j;
        if !(lo > 0.0 && lo <= hi && hi.is_finite()) {
            self.push(
                path,
                format!("needs 0 < low <= high, as in [0.8, 1.4] (got [{lo}, {hi}])"),
            );
        }
    }

    fn dist(&mut self, path: &KeyPath, dist: &Dist) {
        match dist {
            Dist::Uniform { min, max } if min > max => self.push(
                path,
                format!("`min` ({}) is greater than `max` ({})", d(*min), d(*max)),
            ),
            Dist::Lognormal { sigma, .. } if !(*sigma >= 0.0 && sigma.is_finite()) => self.push(
                &path.key("sigma"),
                format!("must be a finite number >= 0 (got {sigma})"),
            ),
            _ => {}
        }
    }

    fn interval(&mut self, path: &KeyPath, from: Dur, to: Option<Dur>) {
        if let Some(to) = to {
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
        self.positive(&p.key("sample_interval"), s.sample_interval);
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
        let defaults = self.server_cfg(&file.servers.defaults);
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
            for (rels, msg) in self.server_cfg(&spec.cfg) {
                if let Some(rel) = rels.iter().find(|r| sets(&e.overrides, r)) {
                    self.push(&join(&entry, rel), msg);
                }
            }
        }
    }

    /// Problems of one server's settings, as (paths involved, relative to the server, message).
    fn server_cfg(&self, s: &ServerCfg) -> Vec<(Vec<KeyPath>, String)> {
        let mut sub = Checker {
            out: vec![],
            servers: BTreeMap::new(),
            rooms: BTreeSet::new(),
        };
        let r = KeyPath::root();
        sub.finite(&r.key("clock_drift_ppm"), s.clock_drift_ppm);
        sub.dist(&r.key("client_latency"), &s.client_latency);
        sub.dist(&r.key("processing"), &s.processing);
        let f = r.key("federation");
        if s.federation.max_pdus_per_txn == 0 {
            sub.push(&f.key("max_pdus_per_txn"), "must be at least 1");
        }
        sub.positive(&f.key("request_timeout"), s.federation.request_timeout);
        sub.multiplier(
            &f.key("retries").key("multiplier"),
            s.federation.retries.multiplier,
        );
        sub.jitter(&f.key("retries").key("jitter"), s.federation.retries.jitter);
        sub.multiplier(
            &f.key("backoff").key("multiplier"),
            s.federation.backoff.multiplier,
        );
        sub.jitter(&f.key("backoff").key("jitter"), s.federation.backoff.jitter);
        let mut out: Vec<(Vec<KeyPath>, String)> = sub
            .out
            .into_iter()
            .map(|p| (vec![p.path], p.message))
            .collect();
        let rate = s.inbound.sticky_rate.per_second;
        if s.inbound.policy != InboundPolicy::Unlimited && !(rate > 0.0 && rate.is_finite()) {
            let i = r.key("inbound");
            out.push((
                vec![i.key("sticky_rate").key("per_second"), i.key("policy")],
                format!("must be greater than 0 when the policy is not `unlimited` (got {rate})"),
            ));
        }
        out
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
        for (i, r) in n.regions.iter().enumerate() {
            let rp = p.key("regions").index(i);
            if !names.insert(r.name.as_str()) {
                self.push(
                    &rp.key("name"),
                    format!("duplicate region name `{}`", r.name),
                );
            }
            self.servers(&rp.key("servers"), &r.servers);
        }
        for (i, l) in n.link.iter().enumerate() {
            let lp = p.key("link").index(i);
            self.server(&lp.key("from"), &l.from);
            self.server(&lp.key("to"), &l.to);
            if l.from == l.to {
                self.push(&lp.key("to"), "a link joins two different servers");
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
                if m.heartbeat.enabled {
                    self.positive(
                        &p.key("heartbeat").key("restart_every"),
                        m.heartbeat.restart_every,
                    );
                }
            }
            WorkloadCfg::Location(l) => {
                self.room(&p.key("room"), &l.room);
                self.needs_clients(file, &p.key("sharers"), &l.room, l.sharers);
                self.dist(&p.key("start"), &l.start);
                self.dist(&p.key("share_for"), &l.share_for);
                self.positive(&p.key("update_every"), l.update_every);
            }
            WorkloadCfg::Spam(s) => {
                self.room(&p.key("room"), &s.room);
                self.client(&p.key("client"), &s.client);
                if !(s.rate > 0.0 && s.rate.is_finite()) {
                    self.push(
                        &p.key("rate"),
                        format!(
                            "must be a finite number of events per second > 0 (got {})",
                            s.rate
                        ),
                    );
                }
                if s.count.is_some() && s.to.is_some() {
                    self.push(&p.key("to"), "give `count` or `to`, not both");
                }
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
                servers, drift_ppm, ..
            } => {
                self.nonempty_servers(p, servers);
                if let Some(x) = drift_ppm {
                    self.finite(&p.key("drift_ppm"), *x);
                }
            }
            FaultCfg::Equivocate {
                server,
                room,
                split,
                ..
            } => {
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
