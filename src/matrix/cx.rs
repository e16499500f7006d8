//! What a component's handler sees besides its own state: the kernel context, the event
//! store, the static directory, the wire (every message between components goes through
//! [`Cx::to_server`], [`Cx::client_to_server`] or [`Cx::to_client`]), and the probes.

use super::event::EventStore;
use super::ids::{ClientId, DelayId, EvType, IdVec, RoomId, ServerId, TxnId};
use super::msg::{ClientEv, Ev, ServerEv};
use super::probe::{Probe, Probes, Wire};
use super::spec::ClientCfg;
use crate::kernel::{Ctx, EventKey, RngStream, Time};
use crate::net::{Network, Sampler, Transit};
use rand::Rng;
use std::collections::{BTreeMap, HashMap};

/// Static facts about a room (from the scenario).
#[derive(Clone, Debug)]
pub struct RoomInfo {
    pub name: String,
    pub room_id: String,
    pub default_level: i64,
    /// Level needed to send an event type; absent = 0.
    pub type_levels: BTreeMap<EvType, i64>,
    pub creator: Option<ClientId>,
}

/// Static facts about a client.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    /// "hs1/0"
    pub name: String,
    pub server: ServerId,
    /// Its index on its server (the user is `@u{index}:{server}`).
    pub index: u32,
    pub cfg: ClientCfg,
    /// How long it waits before syncing again after a failed `/sync`.
    pub sync_error_retry: Time,
}

/// Names and static relations, fixed when the world is built.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub servers: IdVec<ServerId, String>,
    pub clients: IdVec<ClientId, ClientInfo>,
    pub rooms: IdVec<RoomId, RoomInfo>,
    /// Event type names by [`EvType`].
    pub types: Vec<String>,
    // Lookup only (names to ids); the order of these maps never reaches an outcome.
    server_ids: HashMap<String, ServerId>,
    client_ids: HashMap<String, ClientId>,
    room_ids: HashMap<String, RoomId>,
}

impl Directory {
    pub fn add_server(&mut self, name: String) -> ServerId {
        let id = self.servers.push(name.clone());
        self.server_ids.insert(name, id);
        id
    }

    pub fn add_client(&mut self, info: ClientInfo) -> ClientId {
        let name = info.name.clone();
        let id = self.clients.push(info);
        self.client_ids.insert(name, id);
        id
    }

    pub fn add_room(&mut self, info: RoomInfo) -> RoomId {
        let name = info.name.clone();
        let id = self.rooms.push(info);
        self.room_ids.insert(name, id);
        id
    }

    pub fn server_id(&self, name: &str) -> Option<ServerId> {
        self.server_ids.get(name).copied()
    }

    pub fn client_id(&self, name: &str) -> Option<ClientId> {
        self.client_ids.get(name).copied()
    }

    pub fn room_id(&self, name: &str) -> Option<RoomId> {
        self.room_ids.get(name).copied()
    }

    /// The index of an event type, registering it on first use.
    pub fn type_index(&mut self, name: &str) -> EvType {
        if let Some(i) = self.types.iter().position(|t| t == name) {
            return EvType(i as u16);
        }
        self.types.push(name.to_string());
        EvType((self.types.len() - 1) as u16)
    }

    pub fn server_of(&self, c: ClientId) -> ServerId {
        self.clients[c].server
    }

    pub fn type_name(&self, t: EvType) -> &str {
        self.types
            .get(t.ix())
            .map_or("m.rtc.member", |s| s.as_str())
    }

    /// The Matrix user ID of a client (each client is a device of its own user).
    pub fn user_id(&self, c: ClientId) -> String {
        let cl = &self.clients[c];
        format!("@u{}:{}", cl.index, self.servers[cl.server])
    }
}

/// The link between a client and its server: one-way latency, loss of requests, and the
/// client's random stream that draws both.
pub struct ClientLink {
    pub latency: Sampler,
    pub loss: f64,
    pub rng: RngStream,
}

impl ClientLink {
    /// One crossing of the link, either way.
    pub fn hop(&mut self) -> Time {
        self.latency.sample(&mut self.rng)
    }
}

/// A server's handling times, each drawn from its own stream: of an incoming `/send`
/// (`processing`) and of an event its own client sends (`origin_processing`).
pub struct Processing {
    pub sampler: Sampler,
    pub rng: RngStream,
    pub origin: Sampler,
    pub origin_rng: RngStream,
}

impl Processing {
    /// The handling time of one incoming `/send`.
    pub fn inbound(&mut self) -> Time {
        self.sampler.sample(&mut self.rng)
    }

    /// The handling time of one event created here.
    pub fn origin(&mut self) -> Time {
        self.origin.sample(&mut self.origin_rng)
    }
}

/// Everything shared by the components: the world minus its servers and clients.
pub struct Shared {
    pub pdus: EventStore,
    pub dir: Directory,
    pub net: Network,
    pub links: IdVec<ClientId, ClientLink>,
    pub processing: IdVec<ServerId, Processing>,
    /// Which servers accept connections (a crashed one refuses them).
    pub up: IdVec<ServerId, bool>,
    pub probes: Probes,
    pub next_txn: u64,
    pub next_delay: u64,
    /// The end of the run.
    pub end: Time,
}

impl Shared {
    pub fn new_txn_id(&mut self) -> TxnId {
        let id = TxnId(self.next_txn);
        self.next_txn += 1;
        id
    }

    pub fn new_delay_id(&mut self) -> DelayId {
        let id = DelayId(self.next_delay);
        self.next_delay += 1;
        id
    }
}

/// A handler's view: the kernel context and the shared part of the world.
pub struct Cx<'a, 'q> {
    pub ctx: &'a mut Ctx<'q, Ev>,
    pub sh: &'a mut Shared,
}

impl Cx<'_, '_> {
    #[inline]
    pub fn now(&self) -> Time {
        self.ctx.now()
    }

    #[inline]
    pub fn probe(&mut self, p: Probe) {
        self.sh.probes.emit(p);
    }

    #[inline]
    pub fn wire(&mut self, f: impl FnOnce() -> Wire) {
        self.sh.probes.wire_with(f);
    }

    /// A timer of server `s`.
    pub fn server_timer(&mut self, s: ServerId, delay: Time, ev: ServerEv) -> EventKey {
        self.ctx.schedule_in(delay, Ev::Server(s, ev))
    }

    pub fn server_timer_at(&mut self, s: ServerId, at: Time, ev: ServerEv) -> EventKey {
        self.ctx.schedule_at(at, Ev::Server(s, ev))
    }

    pub fn client_timer(&mut self, c: ClientId, delay: Time, ev: ClientEv) -> EventKey {
        self.ctx.schedule_in(delay, Ev::Client(c, ev))
    }

    pub fn client_timer_at(&mut self, c: ClientId, at: Time, ev: ClientEv) -> EventKey {
        self.ctx.schedule_at(at, Ev::Client(c, ev))
    }

    pub fn cancel(&mut self, k: EventKey) -> bool {
        self.ctx.cancel(k)
    }

    /// The fate of one message between two servers leaving at `now + after`.
    pub fn transit(&mut self, from: ServerId, to: ServerId, after: Time) -> Transit {
        let t = self.now() + after;
        self.sh.net.transit(from.0, to.0, t)
    }

    /// A federation message from `from` to `to`, leaving at `now + after`: the network
    /// decides its fate; `wire(lost)` describes it for the trace. Returns its latency
    /// when it arrives.
    pub fn to_server(
        &mut self,
        from: ServerId,
        to: ServerId,
        after: Time,
        ev: ServerEv,
        wire: impl FnOnce(bool) -> Wire,
    ) -> Option<Time> {
        let transit = self.transit(from, to, after);
        let lost = !matches!(transit, Transit::Arrives(_));
        self.wire(|| wire(lost));
        match transit {
            Transit::Arrives(l) => {
                self.server_timer(to, after + l, ev);
                Some(l)
            }
            _ => None,
        }
    }

    /// A request from a client to its server: it crosses the client's link (latency drawn
    /// first, then, for a `lossy` request, loss, from the client's stream).
    pub fn client_to_server(
        &mut self,
        client: ClientId,
        lossy: bool,
        ev: ServerEv,
        wire: impl FnOnce(bool) -> Wire,
    ) -> bool {
        let server = self.sh.dir.server_of(client);
        let link = &mut self.sh.links[client];
        let hop = link.hop();
        let lost = lossy && link.loss > 0.0 && link.rng.random::<f64>() < link.loss;
        self.wire(|| wire(lost));
        if !lost {
            self.server_timer(server, hop, ev);
        }
        !lost
    }

    /// A message from a server to one of its clients (answers are never lost).
    pub fn to_client(&mut self, client: ClientId, ev: ClientEv) -> Time {
        let hop = self.sh.links[client].hop();
        self.client_timer(client, hop, ev);
        hop
    }
}
