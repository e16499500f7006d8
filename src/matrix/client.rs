//! Clients: their actions, requests to their server, the `/sync` loop, the ephemeral map;
//! and the server-side handling of client requests: creating events, joins and leaves,
//! delayed events (MSC4140), crashes and restarts.

use super::event::{ClientId, Content, DurationField, PduId, RoomId, ServerId};
use super::map::{Candidate, EphemeralMap, MapKey, Top};
use super::server::Delayed;
use super::sync::SyncResponse;
use super::world::{Action, ClientReq, Ev, World, TYPE_RTC_MEMBER};
use crate::kernel::{Ctx, RngStream, Time};
use crate::net::Transit;
use crate::observe::{Applied, Obs, Path};
use crate::scenario::{AccessControl, ServerCfg};
use rand::Rng;
use std::collections::BTreeMap;

pub struct Client {
    pub id: ClientId,
    pub name: String,
    pub server: ServerId,
    pub index: u32,
    pub online: bool,
    /// The client's sync token (client-held, as in Matrix).
    pub since: Option<(usize, usize)>,
    pub sync_req: u64,
    pub map: EphemeralMap,
    pub access: AccessControl,
    /// The client's view of power levels per room (from its sync responses).
    pub pl_view: BTreeMap<RoomId, BTreeMap<ClientId, i64>>,
    /// Expiry timers already scheduled per key (to avoid scheduling twice).
    pub expiry_at: BTreeMap<MapKey, Time>,
    pub rng: RngStream,
}

impl Client {
    pub fn new(
        id: ClientId,
        name: String,
        server: ServerId,
        index: u32,
        cfg: &ServerCfg,
        rng: RngStream,
    ) -> Client {
        Client {
            id,
            name,
            server,
            index,
            online: false,
            since: None,
            sync_req: 0,
            map: EphemeralMap::new(cfg.client.expire_entries),
            access: cfg.client.access_control,
            pl_view: BTreeMap::new(),
            expiry_at: BTreeMap::new(),
            rng,
        }
    }
}

/// A MatrixRTC participant (a client application in a call), SPEC 2.7.
#[derive(Clone, Debug)]
pub struct Participant {
    pub id: u32,
    pub client: ClientId,
    pub room: RoomId,
    pub member_key: String,
    pub join_at: Time,
    pub stop_at: Time,
    pub crash: bool,
    pub sticky_duration_ms: i64,
    pub leave_delay: Time,
    pub restart_every: Time,
    pub resend_before: Time,
    pub heartbeat: bool,
    pub delay_id: u64,
    pub active: bool,
    pub joined_once: bool,
}

impl World {
    pub(crate) fn on_action(&mut self, ctx: &mut Ctx<'_, Ev>, a: Action) {
        let now = ctx.now();
        match a {
            Action::Send { client, req } => self.client_send(ctx, client, req),
            Action::Offline { client } => {
                let c = &mut self.clients[client as usize];
                if c.online {
                    c.online = false;
                    c.sync_req += 1; // outstanding requests and responses are void
                    self.record(Obs::ClientOnline {
                        client,
                        online: false,
                        t: now,
                    });
                }
            }
            Action::Online { client } => {
                if !self.clients[client as usize].online {
                    self.clients[client as usize].online = true;
                    if now > 0 {
                        self.record(Obs::ClientOnline {
                            client,
                            online: true,
                            t: now,
                        });
                    }
                    // Coming back: a (gappy) sync from the old token (SPEC 2.5).
                    self.send_sync(ctx, client);
                }
            }
            Action::Crash { server } => self.crash_server(ctx, server),
            Action::Restart { server } => self.restart_server(ctx, server),
            Action::ClockChange {
                server,
                skew_us,
                drift_ppm,
            } => self.servers[server as usize]
                .clock
                .change(now, skew_us, drift_ppm),
            Action::RtcStart { participant } => self.rtc_start(ctx, participant),
            Action::RtcStop { participant } => self.rtc_stop(ctx, participant),
            Action::RtcRestart { participant } => self.rtc_restart(ctx, participant),
            Action::RtcResend { participant } => self.rtc_resend(ctx, participant),
        }
    }

    /// A client sends a request to its server: it travels `client_latency`, may be lost.
    pub(crate) fn client_send(&mut self, ctx: &mut Ctx<'_, Ev>, client: ClientId, req: ClientReq) {
        if !self.clients[client as usize].online {
            return;
        }
        let s = self.server_of[client as usize] as usize;
        let loss = self.servers[s].cfg.client_loss;
        let hop = self.client_hop(client);
        if loss > 0.0 && self.clients[client as usize].rng.random::<f64>() < loss {
            self.trace_client_request(client, &req, ctx.now(), true);
            return;
        }
        self.trace_client_request(client, &req, ctx.now(), false);
        ctx.schedule_in(hop, Ev::ClientReqArrive { client, req });
    }

    /// A client's request reaches its server: events are created here, now.
    pub(crate) fn on_client_request(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        client: ClientId,
        req: ClientReq,
    ) {
        let now = ctx.now();
        let server = self.server_of[client as usize];
        if !self.servers[server as usize].up {
            return;
        }
        let traced = self.trace_client_before(client, &req);
        match req {
            ClientReq::Sticky {
                room,
                ev_type,
                key,
                duration,
                leave,
                ots_offset_ms,
                only_to,
                participant,
            } => {
                if !self.servers[server as usize].is_joined(room, client) {
                    return; // not in the room: the server refuses
                }
                let pdu = self.new_pdu(
                    server,
                    room,
                    client,
                    Content::Sticky {
                        ev_type,
                        key: key.clone(),
                        duration,
                        leave,
                    },
                    ots_offset_ms,
                    now,
                );
                if leave {
                    self.record(Obs::LeaveSent { pdu, t: now });
                }
                if let (Some(pi), false) = (participant, leave) {
                    let mk = MapKey {
                        room,
                        sender: client,
                        ev_type,
                        sticky_key: key,
                    };
                    self.record(Obs::RtcJoin {
                        participant: pi,
                        key: mk,
                        pdu,
                        t: now,
                    });
                }
                self.create_local(ctx, server, pdu, only_to.as_deref());
            }
            ClientReq::Message { room } => {
                if self.servers[server as usize].is_joined(room, client) {
                    let pdu = self.new_pdu(server, room, client, Content::Message, 0, now);
                    self.create_local(ctx, server, pdu, None);
                }
            }
            ClientReq::PowerLevels { room, user, level } => {
                let needed = 100;
                if self.servers[server as usize].is_joined(room, client)
                    && self.level_of(server, room, client) >= needed
                {
                    let pdu = self.new_pdu(
                        server,
                        room,
                        client,
                        Content::PowerLevels { user, level },
                        0,
                        now,
                    );
                    self.create_local(ctx, server, pdu, None);
                }
            }
            ClientReq::Equivocate {
                room,
                ev_type,
                key,
                groups,
            } => {
                if !self.servers[server as usize].is_joined(room, client) {
                    return;
                }
                let prev = self.servers[server as usize]
                    .rooms
                    .get(&room)
                    .map(|v| v.extremities.clone())
                    .unwrap_or_default();
                for (i, only) in groups.iter().enumerate() {
                    let content = Content::Sticky {
                        ev_type,
                        key: key.clone(),
                        duration: DurationField::Ms(3_600_000),
                        leave: false,
                    };
                    let pdu = self.new_pdu(server, room, client, content, i as i64, now);
                    self.pdus[pdu as usize].prev_events = prev.clone();
                    self.create_local(ctx, server, pdu, Some(only));
                }
            }
            ClientReq::Join { room } => self.client_join(ctx, server, client, room),
            ClientReq::Leave { room } => {
                if self.servers[server as usize].is_joined(room, client) {
                    let pdu = self.new_pdu(
                        server,
                        room,
                        client,
                        Content::Member {
                            user: client,
                            join: false,
                        },
                        0,
                        now,
                    );
                    // Sent to every server in the room, the leaver's own view included.
                    self.create_local(ctx, server, pdu, None);
                    self.record(Obs::Membership {
                        user: client,
                        room,
                        joined: false,
                        t: now,
                    });
                }
            }
            ClientReq::ScheduleDelayed {
                delay_id,
                room,
                ev_type,
                key,
                duration_ms,
                delay,
                participant,
            } => {
                let timer = Some(ctx.schedule_in(delay, Ev::DelayedFire { server, delay_id }));
                self.servers[server as usize].delayed.insert(
                    delay_id,
                    Delayed {
                        client,
                        room,
                        ev_type,
                        key,
                        duration_ms,
                        delay,
                        fire_at: now + delay,
                        timer,
                    },
                );
                let hop = self.client_hop(client);
                ctx.schedule_in(
                    hop,
                    Ev::DelayedAck {
                        participant,
                        found: true,
                        schedule: true,
                    },
                );
            }
            ClientReq::RestartDelayed {
                delay_id,
                participant,
            } => {
                // MSC4140 `restart`: the send time becomes now + delay.
                let found =
                    if let Some(d) = self.servers[server as usize].delayed.get_mut(&delay_id) {
                        if let Some(k) = d.timer.take() {
                            ctx.cancel(k);
                        }
                        d.fire_at = now + d.delay;
                        let delay = d.delay;
                        let k = ctx.schedule_in(delay, Ev::DelayedFire { server, delay_id });
                        if let Some(d) = self.servers[server as usize].delayed.get_mut(&delay_id) {
                            d.timer = Some(k);
                        }
                        true
                    } else {
                        false
                    };
                let hop = self.client_hop(client);
                ctx.schedule_in(
                    hop,
                    Ev::DelayedAck {
                        participant,
                        found,
                        schedule: false,
                    },
                );
            }
            ClientReq::CancelDelayed { delay_id } => {
                if let Some(d) = self.servers[server as usize].delayed.remove(&delay_id) {
                    if let Some(k) = d.timer {
                        ctx.cancel(k);
                    }
                }
            }
        }
        if let Some(tr) = traced {
            self.trace_client_response(client, tr, now);
        }
    }

    /// An event created by `server` itself: into its DAG, its streams, its queues.
    pub(crate) fn create_local(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        server: ServerId,
        pdu: PduId,
        only_to: Option<&[ServerId]>,
    ) {
        let now = ctx.now();
        let room = self.pdus[pdu as usize].room;
        let origin_end = self.pdus[pdu as usize]
            .is_sticky()
            .then(|| self.origin_end(pdu));
        self.record(Obs::Created {
            pdu,
            t: now,
            origin_end,
        });
        {
            let view = self.servers[server as usize].rooms.entry(room).or_default();
            view.known.insert(pdu);
            let prev = &self.pdus[pdu as usize].prev_events;
            view.extremities.retain(|e| !prev.contains(e));
            view.referenced.extend(prev.iter().copied());
            view.extremities.push(pdu);
            view.recent_ts
                .push_back(self.pdus[pdu as usize].origin_server_ts);
            if view.recent_ts.len() > 50 {
                view.recent_ts.pop_front();
            }
        }
        // Queue before applying a leave, so the leave reaches everyone who was in the room.
        self.enqueue_own(ctx, server, pdu, only_to);
        self.apply_ordinary(ctx, server, pdu);
        if let Some(d) = self.pdus[pdu as usize].sticky_duration_ms() {
            let p = &self.pdus[pdu as usize];
            // For its own events, received_ts is the creation time.
            let end = super::event::sticky_end_local_ms(p.origin_local_ms, p.origin_server_ts, d);
            if end > p.origin_local_ms {
                self.accept_sticky(ctx, server, pdu, end, Path::Direct, 0);
            }
        }
    }

    pub(crate) fn append_timeline(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        server: ServerId,
        room: RoomId,
        pdu: PduId,
    ) {
        self.servers[server as usize].timeline.push((room, pdu));
        self.wake_syncs(ctx, server);
    }

    /// A user joins a room: locally if the server is already in it, else through a
    /// resident server (make_join/send_join), which then sends the join to the room.
    fn client_join(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        server: ServerId,
        client: ClientId,
        room: RoomId,
    ) {
        let now = ctx.now();
        if self.servers[server as usize].is_joined(room, client) {
            return;
        }
        let in_room = self.servers[server as usize]
            .rooms
            .get(&room)
            .is_some_and(|v| {
                v.members
                    .iter()
                    .any(|m| self.server_of[*m as usize] == server)
            });
        if in_room {
            let pdu = self.new_pdu(
                server,
                room,
                client,
                Content::Member {
                    user: client,
                    join: true,
                },
                0,
                now,
            );
            self.record(Obs::Membership {
                user: client,
                room,
                joined: true,
                t: now,
            });
            self.create_local(ctx, server, pdu, None);
            return;
        }
        // The resident: the first server that is in the room by its own members, and up.
        let resident = (0..self.servers.len() as ServerId).find(|s| {
            *s != server
                && self.servers[*s as usize].up
                && self.servers[*s as usize]
                    .rooms
                    .get(&room)
                    .is_some_and(|v| v.members.iter().any(|m| self.server_of[*m as usize] == *s))
        });
        let Some(resident) = resident else { return };
        let transit = self.net.transit(server, resident, now);
        let lost = !matches!(transit, Transit::Arrives(_));
        self.trace_join_request(server, resident, client, room, now, lost);
        if let Transit::Arrives(l) = transit {
            ctx.schedule_in(
                l,
                Ev::JoinReq {
                    joiner: server,
                    resident,
                    client,
                    room,
                },
            );
        }
    }

    pub(crate) fn on_join_req(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        joiner: ServerId,
        resident: ServerId,
        client: ClientId,
        room: RoomId,
    ) {
        let now = ctx.now();
        if !self.servers[resident as usize].up {
            return;
        }
        self.clear_backoff(ctx, resident, joiner);
        // The join event is the joiner's; the resident accepts it and sends it to the room.
        let pdu = {
            let ext = self.servers[resident as usize]
                .rooms
                .get(&room)
                .map(|v| v.extremities.clone())
                .unwrap_or_default();
            let p = self.new_pdu(
                joiner,
                room,
                client,
                Content::Member {
                    user: client,
                    join: true,
                },
                0,
                now,
            );
            self.pdus[p as usize].prev_events = ext;
            p
        };
        self.record(Obs::Created {
            pdu,
            t: now,
            origin_end: None,
        });
        let others: Vec<ServerId> = self.servers[resident as usize]
            .room_servers(room, &self.server_of)
            .into_iter()
            .filter(|s| *s != resident && *s != joiner)
            .collect();
        self.receive_pdu(ctx, resident, joiner, pdu, Path::Direct, 1);
        for o in others {
            self.enqueue_to(ctx, resident, o, pdu, false);
        }
        let transit = self.net.transit(resident, joiner, now);
        let lost = !matches!(transit, Transit::Arrives(_));
        self.trace_join_response(resident, joiner, pdu, now, lost);
        if let Transit::Arrives(l) = transit {
            ctx.schedule_in(
                l,
                Ev::JoinResp {
                    joiner,
                    resident,
                    client,
                    room,
                    ok: true,
                },
            );
        }
        self.pending_joins.push((joiner, client, room, pdu));
    }

    /// send_join's answer: the joiner takes the room's state from the resident.
    pub(crate) fn on_join_resp(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        joiner: ServerId,
        resident: ServerId,
        client: ClientId,
        room: RoomId,
        ok: bool,
    ) {
        let now = ctx.now();
        let Some(i) = self
            .pending_joins
            .iter()
            .position(|(j, c, r, _)| *j == joiner && *c == client && *r == room)
        else {
            return;
        };
        let (_, _, _, pdu) = self.pending_joins.remove(i);
        if !ok || !self.servers[joiner as usize].up {
            return;
        }
        let state = self.servers[resident as usize]
            .rooms
            .get(&room)
            .cloned()
            .unwrap_or_default();
        {
            let view = self.servers[joiner as usize].rooms.entry(room).or_default();
            view.members.extend(state.members.iter().copied());
            view.power = state.power.clone();
            // send_join gives the state and the room's forward extremities, not the events
            // themselves: older (sticky) events arrive later, pushed or fetched.
            view.known.extend(state.extremities.iter().copied());
            view.known.insert(pdu);
            view.extremities = state.extremities.clone();
        }
        self.servers[joiner as usize].members_epoch += 1;
        self.record(Obs::Membership {
            user: client,
            room,
            joined: true,
            t: now,
        });
        self.apply_membership(ctx, joiner, room, client, true);
        self.append_timeline(ctx, joiner, room, pdu);
        self.trace_join_done(client, room, now);
    }

    // ---- sync responses at the client ----

    pub(crate) fn on_sync_response(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        client: ClientId,
        req: u64,
        resp: SyncResponse,
    ) {
        let now = ctx.now();
        {
            let c = &self.clients[client as usize];
            if c.sync_req != req || !c.online {
                return;
            }
        }
        self.clients[client as usize].since = Some(resp.next_batch);
        let mut applied: Vec<Applied> = vec![];
        let mut touched: BTreeMap<MapKey, Option<Top>> = BTreeMap::new();
        let mut changed_keys = vec![];
        let mut timeline_n = 0u32;
        let mut sticky_n = 0u32;
        let mut gappy = false;
        let mut items: Vec<(PduId, i64)> = vec![];
        for part in &resp.rooms {
            timeline_n += part.timeline.len() as u32;
            sticky_n += part.sticky.len() as u32;
            gappy |= part.limited;
            // Power levels: the state as of this response (the state section / timeline).
            self.clients[client as usize]
                .pl_view
                .insert(part.room, part.power.clone());
            items.extend(part.timeline_remaining.iter().copied());
            items.extend(part.sticky.iter().copied());
        }
        for (pdu, _) in &items {
            if let Some(k) = self.map_key(*pdu) {
                let map = &self.clients[client as usize].map;
                touched.entry(k).or_insert_with_key(|k| map.top(k, now));
            }
        }
        for (pdu, remaining) in &items {
            let Some(key) = self.map_key(*pdu) else {
                continue;
            };
            let p = &self.pdus[*pdu as usize];
            // access_control = authorized_only: discard writes the client's power levels do not allow.
            if self.clients[client as usize].access == AccessControl::AuthorizedOnly {
                let info = &self.rooms[p.room as usize];
                let needed = info.type_levels.get(&key.ev_type).copied().unwrap_or(0);
                let lvl = self.clients[client as usize]
                    .pl_view
                    .get(&p.room)
                    .and_then(|m| m.get(&p.sender).copied())
                    .unwrap_or(info.default_level);
                if lvl < needed {
                    continue;
                }
            }
            let (order, _) = p.map_order().expect("sticky");
            let cand = Candidate {
                pdu: *pdu,
                order: (order, p.event_id.clone()),
                leave: p.is_leave(),
                expires_at: now + (*remaining).max(0) as Time * 1000,
            };
            self.clients[client as usize].map.insert(key, cand, now);
        }
        for (pdu, _) in &items {
            let Some(key) = self.map_key(*pdu) else {
                continue;
            };
            let before = touched.get(&key).cloned().flatten();
            let after = self.clients[client as usize].map.top(&key, now);
            // Actionable: it is what the key now shows, and what the key shows changed.
            let actionable = after.as_ref().is_some_and(|a| a.pdu == *pdu)
                && before != after
                && (after.as_ref().is_some_and(|a| a.active)
                    || before.as_ref().is_some_and(|b| b.active));
            applied.push(Applied {
                pdu: *pdu,
                actionable,
            });
        }
        for (key, before) in touched {
            let after = self.clients[client as usize].map.top(&key, now);
            if after != before {
                changed_keys.push((key.clone(), after));
            }
            self.schedule_expiry(ctx, client, &key);
        }
        for (key, top) in changed_keys {
            self.record(Obs::MapTop {
                client,
                key,
                t: now,
                top,
            });
        }
        self.record(Obs::Sync {
            t: now,
            client,
            room_count: resp.rooms.len() as u32,
            timeline_events: timeline_n,
            sticky_events: sticky_n,
            bytes: resp.bytes,
            gappy,
            applied,
        });
        self.send_sync(ctx, client);
    }

    pub fn map_key(&self, pdu: PduId) -> Option<MapKey> {
        let p = &self.pdus[pdu as usize];
        match &p.content {
            Content::Sticky { ev_type, key, .. } if p.is_sticky() => Some(MapKey {
                room: p.room,
                sender: p.sender,
                ev_type: *ev_type,
                sticky_key: key.clone(),
            }),
            _ => None,
        }
    }

    fn schedule_expiry(&mut self, ctx: &mut Ctx<'_, Ev>, client: ClientId, key: &MapKey) {
        let now = ctx.now();
        let c = &mut self.clients[client as usize];
        let Some(next) = c.map.next_expiry(key, now) else {
            return;
        };
        if c.expiry_at.get(key).is_some_and(|t| *t > now && *t <= next) {
            return;
        }
        c.expiry_at.insert(key.clone(), next);
        // An expiry after the end of the run would never be handled: keep it out of the
        // queue (most entries outlive an hour-long run; queueing them only slows the heap).
        if next > self.end {
            return;
        }
        ctx.schedule_at(
            next,
            Ev::ClientExpiry {
                client,
                key: key.clone(),
            },
        );
    }

    /// An entry of the map expires (MSC4354: clients SHOULD expire entries).
    pub(crate) fn on_client_expiry(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        client: ClientId,
        key: MapKey,
    ) {
        let now = ctx.now();
        if self.clients[client as usize].expiry_at.get(&key) != Some(&now) {
            return;
        }
        self.clients[client as usize].expiry_at.remove(&key);
        let top = self.clients[client as usize].map.top(&key, now);
        self.record(Obs::MapTop {
            client,
            key: key.clone(),
            t: now,
            top,
        });
        self.schedule_expiry(ctx, client, &key);
    }

    // ---- servers going down and up ----

    fn crash_server(&mut self, ctx: &mut Ctx<'_, Ev>, server: ServerId) {
        let now = ctx.now();
        let s = &mut self.servers[server as usize];
        if !s.up {
            return;
        }
        s.up = false;
        s.epoch += 1;
        self.down_intervals[server as usize].push((now, None));
        // In-flight requests fail; persisted queues keep their PDUs (returned to the front).
        let mut aborted = vec![];
        for (dest, dq) in s.dests.iter_mut() {
            if let Some(txn) = dq.in_flight.take() {
                if let Some(k) = txn.timeout {
                    ctx.cancel(k);
                }
                // Only an attempt on the wire is a row; one waiting for its retry timer was
                // recorded when it failed.
                if !txn.waiting_retry {
                    // SPEC 2.3: every attempt is a row. The sender died waiting: a timeout.
                    aborted.push(super::sender::attempt_row(
                        &self.pdus,
                        server,
                        *dest,
                        &txn,
                        crate::observe::Outcome::Timeout,
                        None,
                    ));
                }
                for e in txn.entries.into_iter().rev() {
                    dq.queue.push_front(e);
                }
            }
            dq.start_scheduled = false;
        }
        for d in s.devices.values_mut() {
            if let Some((_, k)) = d.waiting.take() {
                ctx.cancel(k);
            }
        }
        s.buckets.clear();
        s.busy_until = now;
        for row in aborted {
            self.record(Obs::Send(row));
        }
        let s = &mut self.servers[server as usize];
        // Long-polling clients see their connection drop.
        let clients = s.clients.clone();
        for c in clients {
            if self.clients[c as usize].online {
                let req = self.clients[c as usize].sync_req;
                let hop = self.client_hop(c);
                self.trace_sync_error(c, now);
                ctx.schedule_in(hop, Ev::SyncError { client: c, req });
            }
        }
    }

    fn restart_server(&mut self, ctx: &mut Ctx<'_, Ev>, server: ServerId) {
        let now = ctx.now();
        if self.servers[server as usize].up {
            return;
        }
        self.servers[server as usize].up = true;
        if let Some(last) = self.down_intervals[server as usize].last_mut() {
            last.1 = Some(now);
        }
        // Delayed events that came due while down fire now.
        let due: Vec<u64> = self.servers[server as usize]
            .delayed
            .iter()
            .filter(|(_, d)| d.fire_at <= now)
            .map(|(k, _)| *k)
            .collect();
        for id in due {
            ctx.schedule_in(
                0,
                Ev::DelayedFire {
                    server,
                    delay_id: id,
                },
            );
        }
        let latest_only = self.servers[server as usize].cfg.federation.catch_up
            == crate::scenario::CatchUp::LatestOnly;
        let dests: Vec<ServerId> = self.servers[server as usize]
            .dests
            .keys()
            .copied()
            .collect();
        for d in dests {
            if latest_only {
                // Synapse keeps no queue across a restart: catch-up sends the newest event per room.
                if let Some(dq) = self.servers[server as usize].dests.get_mut(&d) {
                    dq.catching_up = !dq.queue.is_empty();
                }
                self.compact_latest_only(server, d, now);
            }
            self.kick(ctx, server, d);
        }
        self.wake_syncs(ctx, server);
    }

    // ---- delayed events (MSC4140) ----

    pub(crate) fn on_delayed_fire(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        server: ServerId,
        delay_id: u64,
    ) {
        let now = ctx.now();
        let due = self.servers[server as usize]
            .delayed
            .get(&delay_id)
            .is_some_and(|d| d.fire_at <= now);
        if !due || !self.servers[server as usize].up {
            return;
        }
        let d = self.servers[server as usize]
            .delayed
            .remove(&delay_id)
            .expect("checked");
        if !self.servers[server as usize].is_joined(d.room, d.client) {
            return;
        }
        // The server sends the delayed sticky leave itself (the participant went silent).
        let pdu = self.new_pdu(
            server,
            d.room,
            d.client,
            Content::Sticky {
                ev_type: d.ev_type,
                key: d.key,
                duration: DurationField::Ms(d.duration_ms),
                leave: true,
            },
            0,
            now,
        );
        self.record(Obs::LeaveSent { pdu, t: now });
        self.trace_delayed_fire(server, pdu, delay_id, now);
        self.create_local(ctx, server, pdu, None);
    }

    // ---- MatrixRTC participants (matrix-js-sdk MembershipManager) ----

    fn rtc_start(&mut self, ctx: &mut Ctx<'_, Ev>, pi: u32) {
        let p = &mut self.participants[pi as usize];
        if !self.clients[p.client as usize].online {
            return;
        }
        p.active = true;
        let (client, room, key, dur, delay, hb) = (
            p.client,
            p.room,
            p.member_key.clone(),
            p.sticky_duration_ms,
            p.leave_delay,
            p.heartbeat,
        );
        if hb {
            // SPEC 2.7: the delayed sticky leave is scheduled first, then the join is sent.
            let delay_id = self.next_delay;
            self.next_delay += 1;
            self.participants[pi as usize].delay_id = delay_id;
            let req = ClientReq::ScheduleDelayed {
                delay_id,
                room,
                ev_type: TYPE_RTC_MEMBER,
                key,
                duration_ms: dur,
                delay,
                participant: pi,
            };
            self.client_send(ctx, client, req);
        } else {
            self.rtc_send_join(ctx, pi);
        }
    }

    pub(crate) fn on_delayed_ack(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        pi: u32,
        found: bool,
        schedule: bool,
    ) {
        let p = &self.participants[pi as usize];
        if !p.active || !self.clients[p.client as usize].online {
            return;
        }
        if schedule {
            self.rtc_send_join(ctx, pi);
            let every = self.participants[pi as usize].restart_every;
            ctx.schedule_in(every, Ev::Act(Action::RtcRestart { participant: pi }));
        } else if !found {
            // The delayed leave already fired: the js-sdk joins again.
            self.rtc_start(ctx, pi);
        }
    }

    fn rtc_send_join(&mut self, ctx: &mut Ctx<'_, Ev>, pi: u32) {
        let now = ctx.now();
        let p = &mut self.participants[pi as usize];
        let first = !p.joined_once;
        p.joined_once = true;
        let (client, room, key, dur, resend, before) = (
            p.client,
            p.room,
            p.member_key.clone(),
            p.sticky_duration_ms,
            p.sticky_duration_ms,
            p.resend_before,
        );
        let req = ClientReq::Sticky {
            room,
            ev_type: TYPE_RTC_MEMBER,
            key,
            duration: DurationField::Ms(dur),
            leave: false,
            ots_offset_ms: 0,
            only_to: None,
            participant: Some(pi),
        };
        self.client_send(ctx, client, req);
        // Re-send the join `resend_before` before its stickiness ends (js-sdk: 5 s).
        let again =
            (resend.clamp(0, super::event::MAX_STICKY_MS) as Time * 1000).saturating_sub(before);
        if again > 0 && now + again < self.quiet_from {
            ctx.schedule_in(again, Ev::Act(Action::RtcResend { participant: pi }));
        }
        let _ = first;
    }

    fn rtc_resend(&mut self, ctx: &mut Ctx<'_, Ev>, pi: u32) {
        let p = &self.participants[pi as usize];
        if p.active && self.clients[p.client as usize].online && ctx.now() < p.stop_at {
            self.rtc_send_join(ctx, pi);
        }
    }

    fn rtc_restart(&mut self, ctx: &mut Ctx<'_, Ev>, pi: u32) {
        let now = ctx.now();
        let p = &self.participants[pi as usize];
        if !p.active || !self.clients[p.client as usize].online || now >= p.stop_at {
            return;
        }
        let (client, delay_id, every) = (p.client, p.delay_id, p.restart_every);
        self.client_send(
            ctx,
            client,
            ClientReq::RestartDelayed {
                delay_id,
                participant: pi,
            },
        );
        ctx.schedule_in(every, Ev::Act(Action::RtcRestart { participant: pi }));
    }

    fn rtc_stop(&mut self, ctx: &mut Ctx<'_, Ev>, pi: u32) {
        let now = ctx.now();
        let p = self.participants[pi as usize].clone();
        if !p.active {
            return;
        }
        self.participants[pi as usize].active = false;
        if p.crash {
            // A crash just stops everything: no more restarts, no more syncs.
            let key = MapKey {
                room: p.room,
                sender: p.client,
                ev_type: TYPE_RTC_MEMBER,
                sticky_key: p.member_key.clone(),
            };
            self.record(Obs::RtcCrash {
                participant: pi,
                key,
                t: now,
            });
            self.on_action(ctx, Action::Offline { client: p.client });
        } else {
            // A graceful leave cancels the delayed event and sends the sticky leave.
            if p.heartbeat {
                self.client_send(
                    ctx,
                    p.client,
                    ClientReq::CancelDelayed {
                        delay_id: p.delay_id,
                    },
                );
            }
            let req = ClientReq::Sticky {
                room: p.room,
                ev_type: TYPE_RTC_MEMBER,
                key: p.member_key.clone(),
                duration: DurationField::Ms(p.sticky_duration_ms),
                leave: true,
                ots_offset_ms: 0,
                only_to: None,
                participant: Some(pi),
            };
            self.client_send(ctx, p.client, req);
        }
    }
}
