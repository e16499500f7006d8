//! `/sync` (SPEC 2.5): long-polling, the timeline section, the sticky section limited to
//! `sticky_limit` across all rooms in stream order, each sticky event once per device.

use super::event::{ClientId, PduId, RoomId, ServerId};
use super::world::{Ev, World};
use crate::kernel::{Ctx, Time};
use std::collections::{BTreeMap, HashSet};

/// One room's part of a response.
#[derive(Clone, Debug, Default)]
pub struct RoomPart {
    pub room: RoomId,
    pub timeline: Vec<PduId>,
    pub limited: bool,
    /// Sticky events of the `sticky.events` section, with `sticky_duration_remaining_ms`.
    pub sticky: Vec<(PduId, i64)>,
    /// Remaining stickiness of sticky events carried in the timeline (absent when expired).
    pub timeline_remaining: Vec<(PduId, i64)>,
    /// The room's power levels as the server sees them (the state section).
    pub power: BTreeMap<ClientId, i64>,
}

#[derive(Clone, Debug, Default)]
pub struct SyncResponse {
    pub rooms: Vec<RoomPart>,
    pub next_batch: (usize, usize),
    pub bytes: u64,
    pub initial: bool,
}

impl World {
    /// The rooms a local client is joined to, sorted (callers binary-search it). Cached per
    /// device until the server's membership changes (`members_epoch`).
    fn joined_rooms(&mut self, server: ServerId, client: ClientId) -> Vec<RoomId> {
        let s = &mut self.servers[server as usize];
        let epoch = s.members_epoch;
        if let Some((e, rooms)) = s.devices.get(&client).and_then(|d| d.joined.as_ref()) {
            if *e == epoch {
                return rooms.clone();
            }
        }
        let rooms: Vec<RoomId> = s
            .rooms
            .iter()
            .filter(|(_, v)| v.members.contains(&client))
            .map(|(r, _)| *r)
            .collect();
        if let Some(d) = s.devices.get_mut(&client) {
            d.joined = Some((epoch, rooms.clone()));
        }
        rooms
    }

    /// A sync request reaches the server.
    pub(crate) fn on_sync_arrive(&mut self, ctx: &mut Ctx<'_, Ev>, client: ClientId, req: u64) {
        let server = self.server_of[client as usize];
        if self.clients[client as usize].sync_req != req || !self.clients[client as usize].online {
            return;
        }
        if !self.servers[server as usize].up {
            let back = self.client_hop(client);
            self.trace_sync_error(client, ctx.now());
            ctx.schedule_in(back, Ev::SyncError { client, req });
            return;
        }
        let since = self.clients[client as usize].since;
        let now = ctx.now();
        // The token tells whether our last response arrived: commit or roll back what it carried.
        if let Some(d) = self.servers[server as usize].devices.get_mut(&client) {
            if let Some((token, pdus, rooms)) = d.unconfirmed.take() {
                if since == Some(token) {
                    d.delivered.extend(pdus);
                } else {
                    d.newly_joined.extend(rooms);
                }
            }
        }
        if self.has_news_now(server, client, since, now) {
            self.respond_sync(ctx, server, client, req);
        } else {
            let timeout = self.servers[server as usize].cfg.sync.poll_timeout.us();
            let k = ctx.schedule_in(timeout, Ev::SyncTimeout { client, req });
            if let Some(d) = self.servers[server as usize].devices.get_mut(&client) {
                d.waiting = Some((req, k));
                d.since = since;
            }
        }
    }

    /// Whether a response to this device would carry anything now (expired sticky
    /// events are no news).
    fn has_news_now(
        &mut self,
        server: ServerId,
        client: ClientId,
        since: Option<(usize, usize)>,
        now: Time,
    ) -> bool {
        let Some((tpos, spos)) = since else {
            return true;
        };
        if !self.servers[server as usize].devices[&client]
            .newly_joined
            .is_empty()
        {
            return true;
        }
        let rooms = self.joined_rooms(server, client);
        let s = &self.servers[server as usize];
        let dev = &s.devices[&client];
        if s.timeline
            .get(tpos..)
            .is_some_and(|t| t.iter().any(|(r, _)| rooms.binary_search(r).is_ok()))
        {
            return true;
        }
        let local = s.clock.local_ms(now);
        s.sticky_stream.get(spos..).is_some_and(|st| {
            st.iter().any(|e| {
                rooms.binary_search(&e.room).is_ok()
                    && e.end_local_ms > local
                    && !dev.delivered.contains(&e.pdu)
            })
        })
    }

    pub(crate) fn on_sync_timeout(&mut self, ctx: &mut Ctx<'_, Ev>, client: ClientId, req: u64) {
        let server = self.server_of[client as usize];
        let waiting = self.servers[server as usize]
            .devices
            .get(&client)
            .and_then(|d| d.waiting)
            .is_some_and(|(r, _)| r == req);
        if waiting && self.servers[server as usize].up {
            self.respond_sync(ctx, server, client, req);
        }
    }

    /// Something new for local clients: answer the waiting long-polls (at the same instant,
    /// after everything else happening now, so one transaction makes one response).
    pub(crate) fn wake_syncs(&mut self, ctx: &mut Ctx<'_, Ev>, server: ServerId) {
        let s = &mut self.servers[server as usize];
        if !s.wake_pending {
            s.wake_pending = true;
            ctx.schedule_in(0, Ev::SyncWake { server });
        }
    }

    pub(crate) fn on_sync_wake(&mut self, ctx: &mut Ctx<'_, Ev>, server: ServerId) {
        self.servers[server as usize].wake_pending = false;
        if !self.servers[server as usize].up {
            return;
        }
        let now = ctx.now();
        let waiting: Vec<(ClientId, u64)> = self.servers[server as usize]
            .devices
            .iter()
            .filter_map(|(c, d)| d.waiting.map(|(r, _)| (*c, r)))
            .collect();
        for (c, req) in waiting {
            let since = self.clients[c as usize].since;
            if self.has_news_now(server, c, since, now) {
                self.respond_sync(ctx, server, c, req);
            }
        }
    }

    /// Build and send one response (SPEC 2.5).
    fn respond_sync(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        server: ServerId,
        client: ClientId,
        req: u64,
    ) {
        let now = ctx.now();
        if let Some((_, k)) = self.servers[server as usize]
            .devices
            .get_mut(&client)
            .and_then(|d| d.waiting.take())
        {
            ctx.cancel(k);
        }
        let resp = self.build_response(server, client, now);
        self.trace_sync(server, client, &resp, now);
        let hop = self.client_hop(client);
        ctx.schedule_in(
            hop,
            Ev::SyncResp {
                client,
                req,
                resp: Box::new(resp),
            },
        );
    }

    fn build_response(&mut self, server: ServerId, client: ClientId, now: Time) -> SyncResponse {
        let since = self.clients[client as usize].since;
        let rooms = self.joined_rooms(server, client);
        let s = &self.servers[server as usize];
        let cfg = &s.cfg.sync;
        let local = s.clock.local_ms(now);
        let (tpos, spos) = since.unwrap_or((0, 0));
        let limit = cfg.timeline_limit as usize;
        let mut parts: BTreeMap<RoomId, RoomPart> = BTreeMap::new();
        // Timeline: the newest `timeline_limit` events per room since the token.
        let mut per_room: BTreeMap<RoomId, Vec<PduId>> = BTreeMap::new();
        for (r, p) in s.timeline.get(tpos..).unwrap_or(&[]) {
            if rooms.binary_search(r).is_ok() {
                per_room.entry(*r).or_default().push(*p);
            }
        }
        let mut in_timeline: HashSet<PduId> = HashSet::new();
        for (r, evs) in per_room {
            let limited = evs.len() > limit;
            let tl: Vec<PduId> = evs[evs.len().saturating_sub(limit)..].to_vec();
            in_timeline.extend(tl.iter().copied());
            let part = parts.entry(r).or_insert_with(|| RoomPart {
                room: r,
                ..Default::default()
            });
            part.limited = limited;
            part.timeline = tl;
        }
        let end_of = |p: PduId| s.sticky_end.get(&p).copied();
        let dev = &s.devices[&client];
        let mut sticky: Vec<(RoomId, PduId, i64)> = vec![];
        let mut taken: HashSet<PduId> = HashSet::new();
        // MSC4354 "Sync API changes": joining a room brings all its unexpired sticky events at once.
        if since.is_some() && !dev.newly_joined.is_empty() {
            for e in &s.sticky_stream {
                if dev.newly_joined.contains(&e.room)
                    && rooms.binary_search(&e.room).is_ok()
                    && e.end_local_ms > local
                    && !dev.delivered.contains(&e.pdu)
                    && !in_timeline.contains(&e.pdu)
                    && taken.insert(e.pdu)
                {
                    sticky.push((e.room, e.pdu, e.end_local_ms - local));
                }
            }
        }
        // The capped stream: at most `sticky_limit` across all rooms, in stream order.
        let cap = cfg.sticky_limit as usize;
        let mut n = 0;
        let mut next_spos = s.sticky_stream.len();
        for (i, e) in s.sticky_stream.iter().enumerate().skip(spos) {
            if n >= cap {
                next_spos = i;
                break;
            }
            if rooms.binary_search(&e.room).is_ok()
                && e.end_local_ms > local
                && !dev.delivered.contains(&e.pdu)
                && !in_timeline.contains(&e.pdu)
                && taken.insert(e.pdu)
            {
                sticky.push((e.room, e.pdu, e.end_local_ms - local));
                n += 1;
            }
        }
        let resend = cfg.resend_timeline_sticky;
        let mut bytes: u64 = 200;
        let mut newly_delivered = vec![];
        for (r, p, rem) in &sticky {
            let part = parts.entry(*r).or_insert_with(|| RoomPart {
                room: *r,
                ..Default::default()
            });
            part.sticky.push((*p, *rem));
            bytes += self.pdus[*p as usize].bytes as u64 + 40;
            newly_delivered.push(*p);
        }
        for part in parts.values_mut() {
            bytes += 100;
            for p in &part.timeline {
                bytes += self.pdus[*p as usize].bytes as u64;
                if self.pdus[*p as usize].is_sticky() {
                    if let Some(end) = end_of(*p) {
                        if end > local {
                            part.timeline_remaining.push((*p, end - local));
                            bytes += 40;
                        }
                    }
                    // MSC4354: an event in the timeline is not sent again in a sticky section
                    // (Synapse 1.163 does re-send: `resend_timeline_sticky`).
                    if !resend {
                        newly_delivered.push(*p);
                    }
                }
            }
            part.power = s
                .rooms
                .get(&part.room)
                .map(|v| v.power.clone())
                .unwrap_or_default();
        }
        let next_batch = (s.timeline.len(), next_spos);
        let resp = SyncResponse {
            rooms: parts.into_values().collect(),
            next_batch,
            bytes,
            initial: since.is_none(),
        };
        let dev = self.servers[server as usize]
            .devices
            .get_mut(&client)
            .expect("device");
        let served = std::mem::take(&mut dev.newly_joined);
        dev.unconfirmed = Some((next_batch, newly_delivered, served));
        dev.since = Some(next_batch);

        resp
    }

    pub(crate) fn on_sync_error(&mut self, ctx: &mut Ctx<'_, Ev>, client: ClientId, req: u64) {
        let c = &self.clients[client as usize];
        if c.sync_req != req || !c.online {
            return;
        }
        let retry = self.servers[c.server as usize].cfg.sync.error_retry.us();
        ctx.schedule_in(retry, Ev::SyncRetry { client, req });
    }

    pub(crate) fn on_sync_retry(&mut self, ctx: &mut Ctx<'_, Ev>, client: ClientId, req: u64) {
        let c = &self.clients[client as usize];
        if c.sync_req != req || !c.online {
            return;
        }
        self.send_sync(ctx, client);
    }

    /// The client sends its next `/sync` request.
    pub(crate) fn send_sync(&mut self, ctx: &mut Ctx<'_, Ev>, client: ClientId) {
        let c = &mut self.clients[client as usize];
        c.sync_req += 1;
        let req = c.sync_req;
        let hop = self.client_hop(client);
        self.trace_sync_request(client, ctx.now());
        ctx.schedule_in(hop, Ev::SyncArrive { client, req });
    }
}
