//! Test support for the protocol model's component tests (`cfg(test)` only).
//!
//! [`Builder`] makes a small [`World`] directly, without a scenario (as `app/build.rs`
//! does for a real run): servers `hs1`, `hs2`, ... with the [`ServerCfg`] each test gives
//! (Synapse's numbers by default), clients `hs1/0`, `hs1/1`, ... (`clients_per_server` of
//! their server's cfg), a full mesh with one constant one-way latency (50 ms unless told),
//! client links and processing times from the cfg (constant 10 ms and 0 by default), and
//! rooms whose members are joined at time 0, the first member with power level 100.
//!
//! [`Kit`] drives one component at a time: it delivers one event at an instant the test
//! chooses, over a local [`EventQueue`]; the test then reads the component's state, what
//! it scheduled ([`Kit::scheduled`], [`Kit::labels`]) and the probes it emitted
//! ([`Kit::probes`]). [`Run`] is the multi-step loop: the same world as a kernel [`Model`]
//! under the kernel's [`Simulation`].

use super::client::Client;
use super::cx::{ClientInfo, ClientLink, Cx, Directory, Processing, RoomInfo, Shared};
use super::event::{Content, DurationField, EventStore, Pdu};
use super::ids::{ClientId, EvType, IdVec, PduId, RoomId, ServerId};
use super::msg::{
    AppEv, ClientEv, Ev, Input, ServerEv, TxnArrival, TxnBody, TxnEntry, TxnResponse,
};
use super::probe::{AttemptDone, Probe, Probes};
use super::server::sync::SyncResponse;
use super::server::Server;
use super::spec::ServerCfg;
use super::world::World;
use crate::kernel::time::Dur;
use crate::kernel::{stream, Ctx, EventQueue, Model, Simulation, Time};
use crate::net::spec::{Dist, NetSpec, Topology};
use crate::net::{Network, Sampler};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const MS: Time = 1_000;
pub const SEC: Time = 1_000_000;
/// One hour in milliseconds: MSC4354's bound on stickiness.
pub const HOUR_MS: i64 = 3_600_000;
/// Synapse's defaults with both handling delays zero, so that the tests' times are the
/// network's alone (the handling delays have their own tests).
pub fn cfg0() -> ServerCfg {
    let zero = Dist::Constant { value: Dur(0) };
    ServerCfg {
        processing: zero.clone(),
        origin_processing: zero,
        ..ServerCfg::default()
    }
}

/// The event type the tests use (index 0 of the directory: `m.rtc.member`).
pub const RTC: EvType = EvType(0);

struct RoomSpec {
    name: String,
    /// Server names (all their clients) or client names (`hs1/0`).
    members: Vec<String>,
    /// Power level needed to send [`RTC`] events (absent: 0).
    rtc_level: Option<i64>,
}

/// How to build a small world.
pub struct Builder {
    cfgs: Vec<ServerCfg>,
    latency: Time,
    loss: f64,
    rooms: Vec<RoomSpec>,
    seed: u64,
    end: Time,
}

impl Builder {
    /// One server per cfg, named `hs1`, `hs2`, ...
    pub fn new(cfgs: Vec<ServerCfg>) -> Builder {
        Builder {
            cfgs,
            latency: 50 * MS,
            loss: 0.0,
            rooms: vec![],
            seed: 1,
            end: 100 * 3600 * SEC,
        }
    }

    /// `n` servers with the same cfg.
    pub fn same(n: usize, cfg: ServerCfg) -> Builder {
        Builder::new(vec![cfg; n])
    }

    /// One-way latency of every server pair (constant).
    pub fn latency(mut self, l: Time) -> Builder {
        self.latency = l;
        self
    }

    /// Loss probability of every server pair.
    pub fn loss(mut self, p: f64) -> Builder {
        self.loss = p;
        self
    }

    /// A room; `members` are server names (all their clients join) or client names.
    pub fn room(mut self, name: &str, members: &[&str]) -> Builder {
        self.rooms.push(RoomSpec {
            name: name.into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            rtc_level: None,
        });
        self
    }

    /// A room where sending [`RTC`] events needs power level `level`.
    pub fn room_with_rtc_level(mut self, name: &str, members: &[&str], level: i64) -> Builder {
        self = self.room(name, members);
        self.rooms.last_mut().expect("just pushed").rtc_level = Some(level);
        self
    }

    pub fn build(self) -> Kit {
        let seed = self.seed;
        let mut dir = Directory::default();
        dir.types.push("m.rtc.member".into());
        let mut servers: IdVec<ServerId, Server> = IdVec::new();
        let mut clients: IdVec<ClientId, Client> = IdVec::new();
        let mut links: IdVec<ClientId, ClientLink> = IdVec::new();
        let mut processing: IdVec<ServerId, Processing> = IdVec::new();
        let mut names = vec![];
        for (i, cfg) in self.cfgs.iter().enumerate() {
            let name = format!("hs{}", i + 1);
            let comp = format!("server/{name}");
            let id = dir.add_server(name.clone());
            names.push(name.clone());
            let mut local = vec![];
            for k in 0..cfg.clients_per_server {
                let cname = format!("{name}/{k}");
                links.push(ClientLink {
                    latency: Sampler::new(&cfg.client_latency),
                    loss: cfg.client_loss,
                    rng: stream(seed, &format!("client/{cname}"), "client"),
                });
                let c = dir.add_client(ClientInfo {
                    name: cname,
                    server: id,
                    index: k,
                    cfg: cfg.client.clone(),
                    sync_error_retry: cfg.sync.error_retry.us(),
                });
                // Online, but not syncing: a test starts a client's /sync loop itself.
                let mut client = Client::new(c, &cfg.client);
                client.online = true;
                clients.push(client);
                local.push(c);
            }
            processing.push(Processing {
                sampler: Sampler::new(&cfg.processing),
                rng: stream(seed, &comp, "misc"),
                origin: Sampler::new(&cfg.origin_processing),
                origin_rng: stream(seed, &comp, "origin_processing"),
            });
            servers.push(Server::new(
                id,
                cfg.clone(),
                stream(seed, &comp, "event_ids"),
                stream(seed, &comp, "federation"),
                local,
            ));
        }
        for r in &self.rooms {
            let mut users: Vec<ClientId> = vec![];
            for m in &r.members {
                if let Some(s) = dir.server_id(m) {
                    users.extend(servers[s].clients.iter().copied());
                } else {
                    users.push(dir.client_id(m).unwrap_or_else(|| panic!("no member {m}")));
                }
            }
            let creator = users.first().copied();
            let type_levels = r.rtc_level.map(|l| (RTC, l)).into_iter().collect();
            let room = dir.add_room(RoomInfo {
                name: r.name.clone(),
                room_id: format!("!{}:sim", r.name),
                default_level: 0,
                type_levels,
                creator,
            });
            let mut power = BTreeMap::new();
            if let Some(c) = creator {
                power.insert(c, 100);
            }
            let power = std::sync::Arc::new(power);
            let mut member_servers: Vec<ServerId> =
                users.iter().map(|u| dir.server_of(*u)).collect();
            member_servers.sort();
            member_servers.dedup();
            let shared: crate::matrix::server::Members =
                std::sync::Arc::new(users.iter().copied().collect());
            for s in member_servers {
                let view = servers[s].rooms.entry(room).or_default();
                view.members = shared.clone();
                view.power = power.clone();
                servers[s].members_epoch += 1;
            }
            for u in &users {
                clients[*u].pl_view.insert(room, power.clone());
            }
        }
        let n = self.cfgs.len();
        let net = Network::build(&NetSpec {
            seed,
            names,
            topology: Topology::FullMesh,
            latency: Dist::Constant {
                value: Dur(self.latency),
            },
            loss: self.loss,
            hub: 0,
            region_of: vec![None; n],
            intra_latency: None,
            inter_latency: None,
            links: vec![],
            partitions: vec![],
            link_faults: vec![],
        });
        let sh = Shared {
            pdus: EventStore::default(),
            dir,
            net,
            links,
            processing,
            up: IdVec::from_vec(vec![true; n]),
            probes: Probes::new(false),
            next_txn: 1,
            next_delay: 1,
            end: self.end,
        };
        Kit {
            world: World::new(servers, clients, sh),
            queue: EventQueue::new(),
            now: 0,
        }
    }
}

/// A sticky event's content: type [`RTC`], `sticky_key` `key`, `duration_ms` as given.
pub fn sticky(key: &str, duration_ms: i64) -> Content {
    Content::Sticky {
        ev_type: RTC,
        key: key.into(),
        duration: DurationField::Ms(duration_ms),
        leave: false,
    }
}

/// A sticky leave (content holding only the key: a tombstone in the map).
pub fn sticky_leave(key: &str, duration_ms: i64) -> Content {
    Content::Sticky {
        ev_type: RTC,
        key: key.into(),
        duration: DurationField::Ms(duration_ms),
        leave: true,
    }
}

/// A small world driven one event at a time.
pub struct Kit {
    pub world: World,
    /// What the handlers scheduled, not yet taken by the test.
    pub queue: EventQueue<Ev>,
    /// The instant the next delivery happens at.
    pub now: Time,
}

impl Kit {
    pub fn server(&self, name: &str) -> ServerId {
        self.world.sh.dir.server_id(name).expect("server")
    }

    pub fn client(&self, name: &str) -> ClientId {
        self.world.sh.dir.client_id(name).expect("client")
    }

    pub fn room(&self, name: &str) -> RoomId {
        self.world.sh.dir.room_id(name).expect("room")
    }

    pub fn srv(&mut self, s: ServerId) -> &mut Server {
        &mut self.world.servers[s]
    }

    /// Move the clock to `t` (never back).
    pub fn at(&mut self, t: Time) -> &mut Kit {
        assert!(t >= self.now, "time goes forward");
        self.now = t;
        self
    }

    /// Run `f` with a handler's view at `now` (servers, clients, and the [`Cx`]).
    pub fn with_cx<R>(
        &mut self,
        f: impl FnOnce(&mut IdVec<ServerId, Server>, &mut IdVec<ClientId, Client>, &mut Cx<'_, '_>) -> R,
    ) -> R {
        let mut ctx = Ctx::new(self.now, &mut self.queue);
        let w = &mut self.world;
        let mut cx = Cx {
            ctx: &mut ctx,
            sh: &mut w.sh,
        };
        f(&mut w.servers, &mut w.clients, &mut cx)
    }

    /// Deliver one kernel event at `now`, as the run loop would.
    pub fn deliver(&mut self, ev: Ev) {
        let mut ctx = Ctx::new(self.now, &mut self.queue);
        self.world.handle(&mut ctx, ev);
    }

    pub fn to_server(&mut self, s: ServerId, e: ServerEv) {
        self.deliver(Ev::Server(s, e));
    }

    pub fn to_client(&mut self, c: ClientId, e: ClientEv) {
        self.deliver(Ev::Client(c, e));
    }

    pub fn input(&mut self, i: Input) {
        self.deliver(Ev::Input(i));
    }

    /// Everything scheduled so far and not yet taken, in (time, insertion) order.
    pub fn scheduled(&mut self) -> Vec<(Time, Ev)> {
        let mut out = vec![];
        while let Some(x) = self.queue.pop() {
            out.push(x);
        }
        out
    }

    /// [`Kit::scheduled`] as (time, short label) pairs (see [`label`]).
    pub fn labels(&mut self) -> Vec<(Time, String)> {
        let evs = self.scheduled();
        evs.iter()
            .map(|(t, e)| (*t, label(&self.world.sh.dir, e)))
            .collect()
    }

    /// Handle the next scheduled event (the clock moves to its time); its label.
    pub fn step(&mut self) -> Option<(Time, String)> {
        let (t, ev) = self.queue.pop()?;
        self.now = self.now.max(t);
        let l = label(&self.world.sh.dir, &ev);
        self.deliver(ev);
        Some((t, l))
    }

    /// Labels of events taken with [`Kit::scheduled`].
    pub fn label_all(&self, evs: &[(Time, Ev)]) -> Vec<(Time, String)> {
        evs.iter()
            .map(|(t, e)| (*t, label(&self.world.sh.dir, e)))
            .collect()
    }

    /// Deliver what is scheduled at or before `now` (and what that schedules at `now`),
    /// in order; return what is scheduled later, taken off the queue.
    pub fn settle(&mut self) -> Vec<(Time, Ev)> {
        let mut later = vec![];
        while let Some((t, ev)) = self.queue.pop() {
            if t <= self.now {
                self.deliver(ev);
            } else {
                later.push((t, ev));
            }
        }
        later
    }

    /// Every probe emitted since the last call.
    pub fn probes(&mut self) -> Vec<Probe> {
        self.world.sh.probes.take()
    }

    /// A PDU made by `origin` now, as if at its origin (ID from its stream, timestamps from
    /// its clock, prev_events its forward extremities), but not processed anywhere.
    pub fn event(&mut self, origin: ServerId, room: RoomId, sender: ClientId, c: Content) -> PduId {
        self.with_cx(|servers, _, cx| servers[origin].new_event(cx, room, sender, c, 0, None))
    }

    /// [`Kit::event`] with an `origin_server_ts` offset (a misbehaving origin).
    pub fn event_ots(
        &mut self,
        origin: ServerId,
        room: RoomId,
        sender: ClientId,
        c: Content,
        ots_offset_ms: i64,
    ) -> PduId {
        self.with_cx(|servers, _, cx| {
            servers[origin].new_event(cx, room, sender, c, ots_offset_ms, None)
        })
    }

    /// An event a client sends, created at its server now (no client hop): into the
    /// server's DAG, queues and streams.
    pub fn create(&mut self, sender: ClientId, room: RoomId, c: Content) -> PduId {
        self.with_cx(|servers, _, cx| {
            let s = cx.sh.dir.server_of(sender);
            let pdu = servers[s].new_event(cx, room, sender, c, 0, None);
            servers[s].create_local(cx, pdu, None, None);
            pdu
        })
    }

    /// A PDU with every field chosen by the test (map tests need their event IDs).
    pub fn add_pdu(
        &mut self,
        sender: ClientId,
        room: RoomId,
        c: Content,
        origin_server_ts: i64,
        event_id: &str,
    ) -> PduId {
        let origin = self.world.sh.dir.server_of(sender);
        let now = self.now;
        self.world.sh.pdus.add(Pdu {
            event_id: event_id.into(),
            room,
            sender,
            origin,
            origin_server_ts,
            created_at: now,
            origin_local_ms: origin_server_ts,
            content: c,
            prev_events: vec![],
            bytes: 600,
        })
    }

    /// A first `/send` attempt from `origin` carrying `pdus` (fresh transaction ID).
    pub fn txn(&mut self, origin: ServerId, pdus: &[PduId]) -> ServerEv {
        let id = self.world.sh.new_txn_id();
        let ts = self.world.servers[origin].clock.local_ms(self.now);
        let body = TxnBody {
            id,
            origin,
            attempt: 1,
            origin_server_ts: ts,
            pdus: pdus
                .iter()
                .map(|p| TxnEntry {
                    pdu: *p,
                    join_push: false,
                    attempts: 1,
                    saw_backoff: false,
                })
                .collect(),
        };
        ServerEv::Txn(TxnArrival {
            body: Arc::new(body),
        })
    }

    /// Deliver a `/send` from `origin` carrying `pdus` to `dest` now.
    pub fn send_txn(&mut self, origin: ServerId, dest: ServerId, pdus: &[PduId]) {
        let e = self.txn(origin, pdus);
        self.to_server(dest, e);
    }

    /// Hand the world and what is scheduled to the kernel's run loop.
    pub fn run(mut self) -> Run {
        let pending = self.scheduled();
        let now = self.now;
        let log = self
            .world
            .sh
            .probes
            .take()
            .into_iter()
            .map(|p| (now, p))
            .collect();
        let mut sim = Simulation::new(Harness {
            world: self.world,
            log,
            app: vec![],
        });
        for (t, ev) in pending {
            sim.schedule_at(t, ev);
        }
        Run { sim }
    }
}

/// The world as a kernel model: each event goes to the world; the probes it emitted and
/// the answers it handed to the application layer are kept with the time they happened.
pub struct Harness {
    pub world: World,
    pub log: Vec<(Time, Probe)>,
    pub app: Vec<(Time, AppEv)>,
}

impl Model for Harness {
    type Event = Ev;

    fn handle(&mut self, ctx: &mut Ctx<'_, Ev>, ev: Ev) {
        self.world.handle(ctx, ev);
        let t = ctx.now();
        while let Some(a) = self.world.take_app() {
            self.app.push((t, a));
        }
        for p in self.world.sh.probes.take() {
            self.log.push((t, p));
        }
    }
}

/// A multi-step run of a small world.
pub struct Run {
    pub sim: Simulation<Harness>,
}

impl Run {
    pub fn world(&mut self) -> &mut World {
        &mut self.sim.model.world
    }

    /// Schedule `ev` at `t`.
    pub fn at(&mut self, t: Time, ev: Ev) {
        self.sim.schedule_at(t, ev);
    }

    pub fn input_at(&mut self, t: Time, i: Input) {
        self.at(t, Ev::Input(i));
    }

    pub fn run_until(&mut self, t: Time) {
        self.sim.run_until(t);
    }

    /// The probes emitted so far and not yet taken, with the time each was emitted.
    pub fn probes(&mut self) -> Vec<(Time, Probe)> {
        std::mem::take(&mut self.sim.model.log)
    }

    /// The probes alone.
    pub fn probes_only(&mut self) -> Vec<Probe> {
        self.probes().into_iter().map(|(_, p)| p).collect()
    }
}

/// `Accepted` probes as (server, pdu, t, end_at).
pub fn accepted(probes: &[Probe]) -> Vec<(ServerId, PduId, Time, Time)> {
    probes
        .iter()
        .filter_map(|p| match p {
            Probe::Accepted {
                server,
                pdu,
                t,
                end_at,
                ..
            } => Some((*server, *pdu, *t, *end_at)),
            _ => None,
        })
        .collect()
}

/// `Dropped` probes' PDUs.
pub fn dropped(probes: &[Probe]) -> Vec<PduId> {
    probes
        .iter()
        .filter_map(|p| match p {
            Probe::Dropped { pdu, .. } => Some(*pdu),
            _ => None,
        })
        .collect()
}

/// `SoftFailed` probes as (server, pdu, t).
pub fn soft_failed(probes: &[Probe]) -> Vec<(ServerId, PduId, Time)> {
    probes
        .iter()
        .filter_map(|p| match p {
            Probe::SoftFailed { server, pdu, t } => Some((*server, *pdu, *t)),
            _ => None,
        })
        .collect()
}

/// Finished `/send` attempts (rows of federation.csv), in order.
pub fn attempts(probes: &[Probe]) -> Vec<AttemptDone> {
    probes
        .iter()
        .filter_map(|p| match p {
            Probe::Attempt(a) => Some((**a).clone()),
            _ => None,
        })
        .collect()
}

/// The PDUs one attempt carried.
pub fn pdus_of(a: &AttemptDone) -> Vec<PduId> {
    a.body.pdus.iter().map(|e| e.pdu).collect()
}

/// `/send` answers among scheduled events: (time, the origin it goes to, the answer).
pub fn txn_responses(evs: &[(Time, Ev)]) -> Vec<(Time, ServerId, TxnResponse)> {
    evs.iter()
        .filter_map(|(t, e)| match e {
            Ev::Server(s, ServerEv::TxnResponse(r)) => Some((*t, *s, (**r).clone())),
            _ => None,
        })
        .collect()
}

/// Sync responses among scheduled events: (time, client, response).
pub fn sync_responses(evs: &[(Time, Ev)]) -> Vec<(Time, ClientId, SyncResponse)> {
    evs.iter()
        .filter_map(|(t, e)| match e {
            Ev::Client(c, ClientEv::SyncResponse { resp, .. }) => Some((*t, *c, (**resp).clone())),
            _ => None,
        })
        .collect()
}

/// The sticky sections of a response, over all rooms, in order: (pdu, remaining ms).
pub fn sticky_of(r: &SyncResponse) -> Vec<(PduId, i64)> {
    r.rooms
        .iter()
        .flat_map(|p| p.sticky.iter().copied())
        .collect()
}

/// A short label of a kernel event: "<addressee>: <what>".
pub fn label(dir: &Directory, ev: &Ev) -> String {
    let s = |id: ServerId| dir.servers[id].clone();
    let c = |id: ClientId| dir.clients[id].name.clone();
    match ev {
        Ev::Server(to, e) => {
            let what = match e {
                ServerEv::ClientRequest(r) => format!("ClientRequest {}", c(r.client)),
                ServerEv::SyncRequest(r) => format!("SyncRequest {}", c(r.client)),
                ServerEv::Txn(t) => format!("Txn {} n={}", s(t.body.origin), t.body.pdus.len()),
                ServerEv::TxnResponse(r) => {
                    format!("TxnResponse {} {}", s(r.at.dest), r.outcome.as_str())
                }
                ServerEv::MissingReq(r) => format!("MissingReq {}", s(r.asker)),
                ServerEv::MissingResp(r) => format!("MissingResp {} n={}", s(r.from), r.pdus.len()),
                ServerEv::JoinReq(r) => format!("JoinReq {}", s(r.joiner)),
                ServerEv::JoinResp(r) => format!("JoinResp {}", s(r.resident)),
                ServerEv::StartTxn { dest } => format!("StartTxn {}", s(*dest)),
                ServerEv::RetryTxn { dest, .. } => format!("RetryTxn {}", s(*dest)),
                ServerEv::TxnTimeout(at) => format!("TxnTimeout {}", s(at.dest)),
                ServerEv::Wake { dest } => format!("Wake {}", s(*dest)),
                ServerEv::TxnProcessed(p) => {
                    format!("TxnProcessed {} n={}", s(p.body.origin), p.entries.len())
                }
                ServerEv::TxnHandled(a) => format!("TxnHandled {}", s(a.body.origin)),
                ServerEv::Persisted { .. } => "Persisted".into(),
                ServerEv::DeferRelease => "DeferRelease".into(),
                ServerEv::DelayedFire { delay_id } => format!("DelayedFire {}", delay_id.0),
                ServerEv::SyncTimeout { client, .. } => format!("SyncTimeout {}", c(*client)),
                ServerEv::SyncWake => "SyncWake".into(),
            };
            format!("{}: {what}", s(*to))
        }
        Ev::Client(to, e) => {
            let what = match e {
                ClientEv::SyncResponse { .. } => "SyncResponse".to_string(),
                ClientEv::SyncError { .. } => "SyncError".into(),
                ClientEv::SyncRetry { .. } => "SyncRetry".into(),
                ClientEv::MapExpiry { key } => format!("MapExpiry {}", key.sticky_key),
                ClientEv::Answer { answer, .. } => format!("Answer {answer:?}"),
            };
            format!("{}: {what}", c(*to))
        }
        Ev::Input(i) => format!("Input {i:?}"),
        Ev::App(a) => format!("App {a:?}"),
    }
}

/// (time, label) pairs written the short way in assertions.
pub fn lbl(items: &[(Time, &str)]) -> Vec<(Time, String)> {
    items.iter().map(|(t, s)| (*t, s.to_string())).collect()
}

#[cfg(test)]
mod tests;
