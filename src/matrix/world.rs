//! The world: every server, client and event, and the model's event enum. The handlers
//! live beside it, one file per part of the protocol (`sender.rs`, `inbound.rs`,
//! `sync.rs`, `client.rs`).

use super::client::{Client, Participant};
use super::event::{ClientId, Content, DurationField, Pdu, PduId, RoomId, ServerId};
use super::map::MapKey;
use super::server::{Clock, Server};
use crate::kernel::{stream, Ctx, Model, RngStream, Time};
use crate::net::{Network, Sampler};
use crate::observe::{Obs, Outcome};
use crate::scenario::{DoKind, FaultCfg, Scenario, SendKind, ServerSet, WorkloadCfg};
use rand::Rng;
use std::collections::BTreeMap;

/// What a client (or a server, for faults) does at a scheduled time.
#[derive(Clone, Debug)]
pub enum Action {
    Send {
        client: ClientId,
        req: ClientReq,
    },
    Offline {
        client: ClientId,
    },
    Online {
        client: ClientId,
    },
    Crash {
        server: ServerId,
    },
    Restart {
        server: ServerId,
    },
    ClockChange {
        server: ServerId,
        skew_us: Option<i64>,
        drift_ppm: Option<f64>,
    },
    RtcStart {
        participant: u32,
    },
    RtcStop {
        participant: u32,
    },
    RtcRestart {
        participant: u32,
    },
    RtcResend {
        participant: u32,
    },
}

/// A client->server request.
#[derive(Clone, Debug)]
pub enum ClientReq {
    Sticky {
        room: RoomId,
        ev_type: u16,
        key: String,
        duration: DurationField,
        leave: bool,
        /// Added by a misbehaving origin to origin_server_ts.
        ots_offset_ms: i64,
        /// Fault `equivocate`: only these destinations get this event.
        only_to: Option<Vec<ServerId>>,
        participant: Option<u32>,
    },
    Message {
        room: RoomId,
    },
    /// Fault `equivocate`: sibling versions of one sticky key (same prev_events), each sent
    /// only to its group of servers; the second claims an origin_server_ts 1 ms later.
    Equivocate {
        room: RoomId,
        ev_type: u16,
        key: String,
        groups: Vec<Vec<ServerId>>,
    },
    PowerLevels {
        room: RoomId,
        user: ClientId,
        level: i64,
    },
    Join {
        room: RoomId,
    },
    Leave {
        room: RoomId,
    },
    /// MSC4140: schedule a delayed sticky leave.
    ScheduleDelayed {
        delay_id: u64,
        room: RoomId,
        ev_type: u16,
        key: String,
        duration_ms: i64,
        delay: Time,
        participant: u32,
    },
    RestartDelayed {
        delay_id: u64,
        participant: u32,
    },
    CancelDelayed {
        delay_id: u64,
    },
}

#[derive(Clone, Debug)]
pub enum Ev {
    Act(Action),
    /// A client request reaches its server.
    ClientReqArrive {
        client: ClientId,
        req: ClientReq,
    },
    /// The server's answer to a delayed-event request reaches the client.
    DelayedAck {
        participant: u32,
        found: bool,
        schedule: bool,
    },
    SyncArrive {
        client: ClientId,
        req: u64,
    },
    SyncTimeout {
        client: ClientId,
        req: u64,
    },
    SyncWake {
        server: ServerId,
    },
    SyncResp {
        client: ClientId,
        req: u64,
        resp: Box<super::sync::SyncResponse>,
    },
    SyncError {
        client: ClientId,
        req: u64,
    },
    SyncRetry {
        client: ClientId,
        req: u64,
    },
    StartTxn {
        origin: ServerId,
        dest: ServerId,
    },
    RetryTxn {
        origin: ServerId,
        dest: ServerId,
        txn: u64,
    },
    TxnArrive {
        origin: ServerId,
        dest: ServerId,
        txn: u64,
        attempt: u32,
    },
    TxnResponse {
        origin: ServerId,
        dest: ServerId,
        txn: u64,
        attempt: u32,
        outcome: Outcome,
        retry_after: Option<Time>,
    },
    TxnTimeout {
        origin: ServerId,
        dest: ServerId,
        txn: u64,
        attempt: u32,
    },
    Wake {
        origin: ServerId,
        dest: ServerId,
    },
    MissingReq {
        asker: ServerId,
        to: ServerId,
        room: RoomId,
        ids: Vec<PduId>,
    },
    MissingResp {
        asker: ServerId,
        from: ServerId,
        pdus: Vec<PduId>,
    },
    JoinReq {
        joiner: ServerId,
        resident: ServerId,
        client: ClientId,
        room: RoomId,
    },
    JoinResp {
        joiner: ServerId,
        resident: ServerId,
        client: ClientId,
        room: RoomId,
        ok: bool,
    },
    /// Accepted PDUs become visible once an overloaded server has processed them.
    TxnApply {
        server: ServerId,
        from: ServerId,
        entries: Vec<super::server::QEntry>,
        txn: u64,
        attempt: u32,
        epoch: u32,
    },
    DeferRelease {
        server: ServerId,
    },
    DelayedFire {
        server: ServerId,
        delay_id: u64,
    },
    ClientExpiry {
        client: ClientId,
        key: MapKey,
    },
}

/// Static facts about a room.
#[derive(Clone, Debug)]
pub struct RoomInfo {
    pub name: String,
    pub room_id: String,
    pub default_level: i64,
    /// Level needed to send an event type (by type index); absent = default 0.
    pub type_levels: BTreeMap<u16, i64>,
    pub creator: Option<ClientId>,
}

pub struct World {
    pub servers: Vec<Server>,
    pub clients: Vec<Client>,
    pub rooms: Vec<RoomInfo>,
    pub pdus: Vec<Pdu>,
    pub types: Vec<String>,
    pub net: Network,
    pub participants: Vec<Participant>,
    /// Observations for the observers, drained after every step.
    pub log: Vec<Obs>,
    pub server_of: Vec<ServerId>,
    pub end: Time,
    /// Time after which workloads stop starting new actions (the quiet tail).
    pub quiet_from: Time,
    pub next_txn: u64,
    pub next_delay: u64,
    pub rng_workload: RngStream,
    /// Down intervals per server (crashes), for loss causes.
    pub down_intervals: Vec<Vec<(Time, Option<Time>)>>,
    pub trace: Option<Vec<super::trace::TraceMsg>>,
    pub unstable_names: bool,
    /// send_join requests answered by a resident, waiting for the joiner to get the state.
    pub pending_joins: Vec<(ServerId, ClientId, RoomId, PduId)>,
}

pub const TYPE_RTC_MEMBER: u16 = 0;

impl World {
    pub fn type_index(&mut self, name: &str) -> u16 {
        if let Some(i) = self.types.iter().position(|t| t == name) {
            return i as u16;
        }
        self.types.push(name.to_string());
        (self.types.len() - 1) as u16
    }

    pub fn client_name(&self, c: ClientId) -> &str {
        &self.clients[c as usize].name
    }

    /// The Matrix user ID of a client (each client is a device of its own user).
    pub fn user_id(&self, c: ClientId) -> String {
        let cl = &self.clients[c as usize];
        format!("@u{}:{}", cl.index, self.servers[cl.server as usize].name)
    }

    pub fn level_of(&self, server: ServerId, room: RoomId, user: ClientId) -> i64 {
        let info = &self.rooms[room as usize];
        self.servers[server as usize]
            .rooms
            .get(&room)
            .and_then(|r| r.power.get(&user).copied())
            .unwrap_or(info.default_level)
    }

    /// Build the world from a checked scenario. Initial memberships are in place at time 0.
    pub fn build(scn: &Scenario, trace: bool) -> anyhow::Result<(World, Vec<(Time, Ev)>)> {
        let seed = scn.seed();
        let f = &scn.file;
        let mut servers = vec![];
        let mut clients = vec![];
        let mut server_of = vec![];
        for (i, spec) in scn.servers.iter().enumerate() {
            let comp = format!("server/{}", spec.name);
            let mut s = Server {
                id: i as ServerId,
                name: spec.name.clone(),
                cfg: spec.cfg.clone(),
                client_latency: Sampler::new(&spec.cfg.client_latency),
                processing: Sampler::new(&spec.cfg.processing),
                up: true,
                clock: Clock::new(spec.cfg.clock_skew.0, spec.cfg.clock_drift_ppm),
                rng_ids: stream(seed, &comp, "event_ids"),
                rng_fed: stream(seed, &comp, "federation"),
                rng_misc: stream(seed, &comp, "misc"),
                clients: vec![],
                rooms: BTreeMap::new(),
                dests: BTreeMap::new(),
                timeline: vec![],
                sticky_stream: vec![],
                sticky_end: Default::default(),
                epoch: 0,
                wake_pending: false,
                soft_failed: BTreeMap::new(),
                devices: BTreeMap::new(),
                buckets: BTreeMap::new(),
                deferred: Default::default(),
                defer_timer: None,
                busy_until: 0,
                members_epoch: 0,
                delayed: BTreeMap::new(),
                withhold: vec![],
            };
            for k in 0..spec.cfg.clients_per_server {
                let id = clients.len() as ClientId;
                let name = format!("{}/{}", spec.name, k);
                clients.push(Client::new(
                    id,
                    name.clone(),
                    i as ServerId,
                    k,
                    &spec.cfg,
                    stream(seed, &format!("client/{name}"), "client"),
                ));
                server_of.push(i as ServerId);
                s.clients.push(id);
                s.devices.insert(id, Default::default());
            }
            servers.push(s);
        }
        let client_idx = |name: &str| {
            clients
                .iter()
                .position(|c: &Client| c.name == name)
                .map(|i| i as ClientId)
        };
        let server_idx = |name: &str| scn.server_index(name).map(|i| i as ServerId);
        let mut w = World {
            servers,
            clients: vec![],
            rooms: vec![],
            pdus: vec![],
            types: vec!["m.rtc.member".into()],
            net: Network::build(scn),
            participants: vec![],
            log: vec![],
            server_of,
            end: f.simulation.duration.us(),
            quiet_from: f
                .simulation
                .duration
                .us()
                .saturating_sub(f.simulation.quiet_tail.us()),
            next_txn: 1,
            next_delay: 1,
            rng_workload: stream(seed, "workload", "plan"),
            down_intervals: vec![vec![]; scn.servers.len()],
            trace: if trace { Some(vec![]) } else { None },
            unstable_names: false,
            pending_joins: vec![],
        };
        // Rooms: every client of the listed servers is joined from the start.
        let mut initial: Vec<(RoomId, Vec<ClientId>)> = vec![];
        for (ri, r) in f.rooms.iter().enumerate() {
            let members: Vec<ServerId> = match &r.servers {
                ServerSet::All(_) => (0..scn.servers.len() as ServerId).collect(),
                ServerSet::List(l) => l.iter().filter_map(|n| server_idx(n)).collect(),
            };
            let mut users = vec![];
            for s in &members {
                users.extend(
                    clients
                        .iter()
                        .filter(|c| c.server == *s && !r.absent.contains(&c.name))
                        .map(|c| c.id),
                );
            }

            let pl = r.power_levels.clone().unwrap_or_default();
            let mut type_levels = BTreeMap::new();
            for (t, lvl) in &pl.events {
                let ti = w.type_index(t);
                type_levels.insert(ti, *lvl);
            }
            let creator = pl
                .creator
                .as_deref()
                .and_then(client_idx)
                .or_else(|| users.first().copied());
            w.rooms.push(RoomInfo {
                name: r.name.clone(),
                room_id: format!("!{}:sim", r.name),
                default_level: pl.default,
                type_levels,
                creator,
            });
            let mut power = BTreeMap::new();
            if let Some(c) = creator {
                power.insert(c, 100);
            }
            for (u, lvl) in &pl.users {
                if let Some(c) = client_idx(u) {
                    power.insert(c, *lvl);
                }
            }
            for s in &members {
                let view = w.servers[*s as usize]
                    .rooms
                    .entry(ri as RoomId)
                    .or_default();
                view.members = users.iter().copied().collect();
                view.power = power.clone();
                w.servers[*s as usize].members_epoch += 1;
            }
            initial.push((ri as RoomId, users));
        }
        w.clients = clients;
        for c in &mut w.clients {
            for (r, users) in &initial {
                if users.contains(&c.id) {
                    let lv = w.servers[c.server as usize]
                        .rooms
                        .get(r)
                        .map(|v| v.power.clone())
                        .unwrap_or_default();
                    c.pl_view.insert(*r, lv);
                }
            }
        }
        for (r, users) in &initial {
            for u in users {
                w.log.push(Obs::Membership {
                    user: *u,
                    room: *r,
                    joined: true,
                    t: 0,
                });
            }
        }
        let mut evs: Vec<(Time, Ev)> = vec![];
        // Every client starts online and long-polling.
        for c in 0..w.clients.len() as ClientId {
            w.log.push(Obs::ClientOnline {
                client: c,
                online: true,
                t: 0,
            });
            evs.push((0, Ev::Act(Action::Online { client: c })));
        }
        // Faults.
        for fault in &f.fault {
            match fault {
                FaultCfg::Crash { servers, from, to } => {
                    for s in servers.iter().filter_map(|n| server_idx(n)) {
                        evs.push((from.us(), Ev::Act(Action::Crash { server: s })));
                        if let Some(to) = to {
                            evs.push((to.us(), Ev::Act(Action::Restart { server: s })));
                        }
                    }
                }
                FaultCfg::ClientOffline {
                    clients: cs,
                    from,
                    to,
                } => {
                    for c in cs
                        .iter()
                        .filter_map(|n| w.clients.iter().position(|x| &x.name == n))
                    {
                        evs.push((
                            from.us(),
                            Ev::Act(Action::Offline {
                                client: c as ClientId,
                            }),
                        ));
                        if let Some(to) = to {
                            evs.push((
                                to.us(),
                                Ev::Act(Action::Online {
                                    client: c as ClientId,
                                }),
                            ));
                        }
                    }
                }
                FaultCfg::Clock {
                    servers,
                    from,
                    skew,
                    drift_ppm,
                } => {
                    for s in servers.iter().filter_map(|n| server_idx(n)) {
                        evs.push((
                            from.us(),
                            Ev::Act(Action::ClockChange {
                                server: s,
                                skew_us: skew.map(|k| k.0),
                                drift_ppm: *drift_ppm,
                            }),
                        ));
                    }
                }
                FaultCfg::Withhold {
                    server,
                    to_servers,
                    from,
                    to,
                } => {
                    if let Some(s) = server_idx(server) {
                        for d in to_servers.iter().filter_map(|n| server_idx(n)) {
                            w.servers[s as usize]
                                .withhold
                                .push((d, from.us(), to.map(|t| t.us())));
                        }
                    }
                }
                FaultCfg::Equivocate {
                    server,
                    room,
                    split,
                    at,
                    event_type,
                    key,
                } => {
                    let (Some(s), Some(r)) = (
                        server_idx(server),
                        f.rooms.iter().position(|x| &x.name == room),
                    ) else {
                        continue;
                    };
                    let Some(&client) = w.servers[s as usize].clients.first() else {
                        continue;
                    };
                    let ti = w.type_index(event_type);
                    let split: Vec<ServerId> = split.iter().filter_map(|n| server_idx(n)).collect();
                    let rest: Vec<ServerId> = (0..w.servers.len() as ServerId)
                        .filter(|x| *x != s && !split.contains(x))
                        .collect();
                    let req = ClientReq::Equivocate {
                        room: r as RoomId,
                        ev_type: ti,
                        key: key.clone(),
                        groups: vec![rest, split],
                    };
                    evs.push((at.us(), Ev::ClientReqArrive { client, req }));
                }
                FaultCfg::Partition { .. } | FaultCfg::Link { .. } => {}
            }
        }
        // Workloads.
        for (wi, wl) in f.workload.iter().enumerate() {
            crate::workload::plan(&mut w, wi, wl, scn, &mut evs)?;
        }
        let _ = (SendKind::Sticky, DoKind::Crash, WorkloadCfg::Script);
        Ok((w, evs))
    }

    /// A new event at its origin: ID from the origin's stream, timestamps from its clock.
    pub fn new_pdu(
        &mut self,
        origin: ServerId,
        room: RoomId,
        sender: ClientId,
        content: Content,
        ots_offset_ms: i64,
        now: Time,
    ) -> PduId {
        let s = &mut self.servers[origin as usize];
        let id_bits: u128 = s.rng_ids.random();
        let event_id = format!("${}", b64(id_bits));
        let bytes = s.cfg.event_bytes * if s.cfg.encrypted { 3 } else { 2 } / 2;
        let prev_events = s
            .rooms
            .get(&room)
            .map(|r| r.extremities.clone())
            .unwrap_or_default();
        let origin_local_ms = s.clock.local_ms(now);
        let origin_server_ts = origin_local_ms + ots_offset_ms;
        let id = self.pdus.len() as PduId;
        self.pdus.push(Pdu {
            event_id,
            room,
            sender,
            origin,
            origin_server_ts,
            created_at: now,
            origin_local_ms,
            content,
            prev_events,
            bytes,
        });
        id
    }

    pub fn record(&mut self, o: Obs) {
        self.log.push(o);
    }

    /// Sample the client->server latency of a client's server.
    pub fn client_hop(&mut self, client: ClientId) -> Time {
        let s = self.clients[client as usize].server as usize;
        let c = &mut self.clients[client as usize];
        self.servers[s].client_latency.sample(&mut c.rng)
    }

    /// Whether a message from `a` could have reached `b` at time `t`: a route, no
    /// partition, and `b` not down (crash history).
    pub fn reachable_at(&mut self, a: ServerId, b: ServerId, t: Time) -> bool {
        self.net.reachable(a, b, t) && !self.was_down(b, t)
    }

    /// Whether server `s` is down at time `t` (crash history).
    pub fn was_down(&self, s: ServerId, t: Time) -> bool {
        self.down_intervals[s as usize]
            .iter()
            .any(|(a, b)| *a <= t && b.is_none_or(|b| t < b))
    }
}

/// Event IDs: 128 random bits as unpadded URL-safe base64, so they sort like real ones.
fn b64(mut v: u128) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    for _ in 0..22 {
        out.push(A[(v & 63) as usize] as char);
        v >>= 6;
    }
    out
}

impl Model for World {
    type Event = Ev;

    fn handle(&mut self, ctx: &mut Ctx<'_, Ev>, ev: Ev) {
        match ev {
            Ev::Act(a) => self.on_action(ctx, a),
            Ev::ClientReqArrive { client, req } => self.on_client_request(ctx, client, req),
            Ev::DelayedAck {
                participant,
                found,
                schedule,
            } => self.on_delayed_ack(ctx, participant, found, schedule),
            Ev::SyncArrive { client, req } => self.on_sync_arrive(ctx, client, req),
            Ev::SyncTimeout { client, req } => self.on_sync_timeout(ctx, client, req),
            Ev::SyncWake { server } => self.on_sync_wake(ctx, server),
            Ev::SyncResp { client, req, resp } => self.on_sync_response(ctx, client, req, *resp),
            Ev::SyncError { client, req } => self.on_sync_error(ctx, client, req),
            Ev::SyncRetry { client, req } => self.on_sync_retry(ctx, client, req),
            Ev::StartTxn { origin, dest } => self.on_start_txn(ctx, origin, dest),
            Ev::RetryTxn { origin, dest, txn } => self.on_retry_txn(ctx, origin, dest, txn),
            Ev::TxnArrive {
                origin,
                dest,
                txn,
                attempt,
            } => self.on_txn_arrive(ctx, origin, dest, txn, attempt),
            Ev::TxnResponse {
                origin,
                dest,
                txn,
                attempt,
                outcome,
                retry_after,
            } => self.on_txn_response(ctx, origin, dest, txn, attempt, outcome, retry_after),
            Ev::TxnTimeout {
                origin,
                dest,
                txn,
                attempt,
            } => self.on_txn_timeout(ctx, origin, dest, txn, attempt),
            Ev::Wake { origin, dest } => self.on_wake(ctx, origin, dest),
            Ev::MissingReq {
                asker,
                to,
                room,
                ids,
            } => self.on_missing_req(ctx, asker, to, room, ids),
            Ev::MissingResp { asker, from, pdus } => self.on_missing_resp(ctx, asker, from, pdus),
            Ev::JoinReq {
                joiner,
                resident,
                client,
                room,
            } => self.on_join_req(ctx, joiner, resident, client, room),
            Ev::JoinResp {
                joiner,
                resident,
                client,
                room,
                ok,
            } => self.on_join_resp(ctx, joiner, resident, client, room, ok),
            Ev::TxnApply {
                server,
                from,
                entries,
                txn,
                attempt,
                epoch,
            } => self.on_txn_apply(ctx, server, from, entries, txn, attempt, epoch),
            Ev::DeferRelease { server } => self.on_defer_release(ctx, server),
            Ev::DelayedFire { server, delay_id } => self.on_delayed_fire(ctx, server, delay_id),
            Ev::ClientExpiry { client, key } => self.on_client_expiry(ctx, client, key),
        }
    }
}
