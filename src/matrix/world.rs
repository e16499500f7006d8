//! The world: every server and client, and the shared services they use. It only routes:
//! each kernel event goes to the component it is addressed to, inputs from outside (a
//! workload step, a fault) become calls on the right component, and the few steps that
//! span two components (a crash dropping its clients' connections, finding a resident
//! server for a join) are done here, in the open.

use super::client::Client;
use super::cx::{Cx, Shared};
use super::event::Content;
use super::ids::{ClientId, DelayId, IdVec, PduId, ReqTag, RoomId, ServerId};
use super::msg::{AppEv, ClientReq, Ev, Input, ServerEv};
use super::probe::Probe;
use super::server::requests::NeedsWorld;
use super::server::Server;
use crate::kernel::{Ctx, Time};

pub struct World {
    pub servers: IdVec<ServerId, Server>,
    pub clients: IdVec<ClientId, Client>,
    pub sh: Shared,
    /// Answers and timers for the application layer, handed out after each event.
    app_out: Vec<AppEv>,
}

impl World {
    pub fn new(
        servers: IdVec<ServerId, Server>,
        clients: IdVec<ClientId, Client>,
        sh: Shared,
    ) -> World {
        World {
            servers,
            clients,
            sh,
            app_out: vec![],
        }
    }

    /// Handle one kernel event.
    pub fn handle(&mut self, ctx: &mut Ctx<'_, Ev>, ev: Ev) {
        let mut cx = Cx {
            ctx,
            sh: &mut self.sh,
        };
        match ev {
            Ev::Server(s, e) => route_server(&mut self.servers, &mut cx, s, e),
            Ev::Client(c, e) => {
                if let Some(a) = self.clients[c].handle(&mut cx, e) {
                    self.app_out.push(a);
                }
            }
            Ev::Input(i) => input(&mut self.servers, &mut self.clients, &mut cx, i),
            Ev::App(a) => self.app_out.push(a),
        }
    }

    /// The next answer or timer for the application layer, if any.
    pub fn take_app(&mut self) -> Option<AppEv> {
        if self.app_out.is_empty() {
            None
        } else {
            Some(self.app_out.remove(0))
        }
    }

    // ---- what the application layer (workloads) may do ----

    /// A client sends a request (nothing when it is offline).
    pub fn client_send(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        client: ClientId,
        req: ClientReq,
        tag: Option<ReqTag>,
    ) {
        let mut cx = Cx {
            ctx,
            sh: &mut self.sh,
        };
        self.clients[client].send_request(&mut cx, req, tag);
    }

    pub fn client_offline(&mut self, ctx: &mut Ctx<'_, Ev>, client: ClientId) {
        let mut cx = Cx {
            ctx,
            sh: &mut self.sh,
        };
        self.clients[client].go_offline(&mut cx);
    }

    pub fn client_online(&self, client: ClientId) -> bool {
        self.clients[client].online
    }

    pub fn probe(&mut self, p: Probe) {
        self.sh.probes.emit(p);
    }

    pub fn new_delay_id(&mut self) -> DelayId {
        self.sh.new_delay_id()
    }

    // ---- reading ----

    /// When one of its origin's sticky events stops being sticky by the origin's clock now.
    pub fn origin_end(&self, pdu: PduId) -> Time {
        let p = &self.sh.pdus[pdu];
        self.servers[p.origin].own_end(p)
    }

    /// Whether a user's own server counts it as joined to a room.
    pub fn is_joined(&self, room: RoomId, user: ClientId) -> bool {
        self.servers[self.sh.dir.server_of(user)].is_joined(room, user)
    }
}

/// An event for a server. It goes straight to the server; a step the server hands back
/// (a join through a resident, the joiner's join event) is finished here.
fn route_server(
    servers: &mut IdVec<ServerId, Server>,
    cx: &mut Cx<'_, '_>,
    s: ServerId,
    e: ServerEv,
) {
    match servers[s].handle(cx, e) {
        None => {}
        Some(NeedsWorld::Resident { client, room }) => {
            // The joiner's client names servers in the room (`via`): the first one up.
            let resident = servers
                .ids()
                .find(|x| *x != s && cx.sh.up[*x] && servers[*x].resident_in(&cx.sh.dir, room));
            if let Some(resident) = resident {
                servers[s].send_join(cx, resident, client, room);
            }
        }
        Some(NeedsWorld::JoinEvent(r)) => {
            // make_join's round trip is folded into send_join: the joiner's event is built
            // (its ID and timestamp from the joiner) on the resident's forward extremities.
            let prev = servers[s].room_state(r.room).extremities;
            let content = Content::Member {
                user: r.client,
                join: true,
            };
            let pdu = servers[r.joiner].new_event(cx, r.room, r.client, content, 0, Some(prev));
            servers[s].on_join_req(cx, r, pdu);
        }
    }
}

/// An input from outside the model.
fn input(
    servers: &mut IdVec<ServerId, Server>,
    clients: &mut IdVec<ClientId, Client>,
    cx: &mut Cx<'_, '_>,
    i: Input,
) {
    match i {
        Input::Send { client, req, tag } => clients[client].send_request(cx, *req, tag),
        Input::Offline { client } => clients[client].go_offline(cx),
        Input::Online { client } => clients[client].go_online(cx),
        Input::Crash { server } => {
            if !cx.sh.up[server] {
                return;
            }
            cx.sh.up[server] = false;
            servers[server].crash(cx);
            // Long-polling clients see their connection drop.
            for c in servers[server].clients.clone() {
                clients[c].connection_dropped(cx);
            }
        }
        Input::Restart { server } => {
            if cx.sh.up[server] {
                return;
            }
            cx.sh.up[server] = true;
            servers[server].restart(cx);
        }
        Input::ClockChange {
            server,
            skew_us,
            drift_ppm,
        } => {
            let now = cx.now();
            servers[server].clock.change(now, skew_us, drift_ppm);
        }
    }
}
