//! `[simulation]`, `[servers]` and one server's settings (merged defaults and list entries).

use super::*;

impl Checker {
    pub(super) fn simulation(&mut self, s: &SimulationCfg) {
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

    pub(super) fn server_list(&mut self, file: &ScenarioFile, resolved: &[ServerSpec]) {
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
        let by_name: BTreeMap<&str, &ServerSpec> = resolved
            .iter()
            .rev()
            .map(|s| (s.name.as_str(), s))
            .collect();
        for (i, e) in file.servers.list.iter().enumerate() {
            let Some(spec) = by_name.get(e.name.as_str()) else {
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
    pub(super) fn server_cfg(
        &self,
        s: &ServerCfg,
        zero_net: Option<&str>,
    ) -> Vec<(Vec<KeyPath>, String)> {
        let mut sub = Checker {
            out: vec![],
            servers: BTreeMap::new(),
            rooms: BTreeMap::new(),
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
        let crate::scenario::locate::Seg::Key(k) = seg else {
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
