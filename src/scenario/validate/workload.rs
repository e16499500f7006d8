//! `[[workload]]` (script actions too) and `[[fault]]`.

use super::*;

impl Checker {
    pub(super) fn workload(&mut self, file: &ScenarioFile, p: &KeyPath, w: &WorkloadCfg) {
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

    pub(super) fn action(&mut self, p: &KeyPath, a: &ActionCfg) {
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

    pub(super) fn fault(&mut self, p: &KeyPath, f: &FaultCfg) {
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
}
