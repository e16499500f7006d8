//! `/sync` at the server (MSC4354 "Sync API changes"): long-polling, the
//! timeline section, the sticky section limited to `sticky_limit` across all rooms in
//! stream order, each sticky event once per device, joins bringing all sticky events.

use super::{Server, Unconfirmed};
use crate::kernel::hash::IdSet;
use crate::kernel::Time;
use crate::matrix::cx::Cx;
use crate::matrix::event::EventStore;
use crate::matrix::ids::{ClientId, PduId, RoomId};
use crate::matrix::msg::{ClientEv, PowerMap, ServerEv, SyncRequest};
use crate::matrix::probe::Wire;
use crate::matrix::spec::CapCounts;
use std::collections::BTreeMap;

/// A sync token: positions in the server's timeline and sticky streams (32 bits each: it
/// travels in every `/sync` request, so it sets the size of the kernel's events).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncToken {
    pub timeline: u32,
    pub sticky: u32,
}

impl SyncToken {
    /// The token at these stream positions (saturating: no server's stream comes near).
    pub fn at(timeline: usize, sticky: usize) -> SyncToken {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        SyncToken {
            timeline: clamp(timeline),
            sticky: clamp(sticky),
        }
    }
}

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
    pub power: PowerMap,
}

#[derive(Clone, Debug, Default)]
pub struct SyncResponse {
    pub rooms: Vec<RoomPart>,
    pub next_batch: SyncToken,
    /// No token was given (an initial sync).
    pub initial: bool,
}

impl Server {
    /// The rooms a local client is joined to, sorted (callers binary-search it). Cached per
    /// device until the server's membership changes (`members_epoch`); shared, so a call
    /// copies no list.
    fn joined_rooms(&mut self, client: ClientId) -> std::sync::Arc<[RoomId]> {
        let epoch = self.members_epoch;
        if let Some((e, rooms)) = self.devices.get(&client).and_then(|d| d.joined.as_ref()) {
            if *e == epoch {
                return rooms.clone();
            }
        }
        let rooms: std::sync::Arc<[RoomId]> = self
            .rooms
            .iter()
            .filter(|(_, v)| v.members.contains(&client))
            .map(|(r, _)| *r)
            .collect();
        if let Some(d) = self.devices.get_mut(&client) {
            d.joined = Some((epoch, rooms.clone()));
        }
        rooms
    }

    /// A sync request reaches the server.
    pub(crate) fn on_sync_request(&mut self, cx: &mut Cx<'_, '_>, r: SyncRequest) {
        let SyncRequest { client, req, since } = r;
        if !self.is_up(cx) {
            let t = cx.now();
            cx.wire(|| Wire::SyncError { t, client });
            cx.to_client(client, ClientEv::SyncError { req });
            return;
        }
        let now = cx.now();
        let dev = self.devices.entry(client).or_default();
        // The token tells whether our last response arrived: commit or roll back what it carried.
        if let Some(u) = dev.unconfirmed.take() {
            if since == Some(u.token) {
                dev.delivered.extend(u.sticky);
            } else {
                dev.newly_joined.extend(u.rooms);
            }
        }
        dev.since = since;
        if self.has_news_now(client, now) {
            self.respond_sync(cx, client, req);
        } else {
            let timeout = self.cfg.sync.poll_timeout.us();
            let k = cx.server_timer(self.id, timeout, ServerEv::SyncTimeout { client, req });
            if let Some(d) = self.devices.get_mut(&client) {
                d.waiting = Some((req, k));
            }
        }
    }

    /// Whether a response to this device would carry anything now (expired sticky
    /// events are no news).
    fn has_news_now(&mut self, client: ClientId, now: Time) -> bool {
        let Some(since) = self.devices[&client].since else {
            return true;
        };
        if !self.devices[&client].newly_joined.is_empty() {
            return true;
        }
        let rooms = self.joined_rooms(client);
        let dev = &self.devices[&client];
        if self
            .timeline
            .get(since.timeline as usize..)
            .is_some_and(|t| t.iter().any(|(r, _)| rooms.binary_search(r).is_ok()))
        {
            return true;
        }
        let local = self.clock.local_ms(now);
        self.sticky_stream
            .get(since.sticky as usize..)
            .is_some_and(|st| {
                st.iter().any(|e| {
                    rooms.binary_search(&e.room).is_ok()
                        && e.end_local_ms > local
                        && !dev.delivered.contains(&e.pdu)
                })
            })
    }

    pub(crate) fn on_sync_timeout(&mut self, cx: &mut Cx<'_, '_>, client: ClientId, req: u64) {
        let waiting = self
            .devices
            .get(&client)
            .and_then(|d| d.waiting)
            .is_some_and(|(r, _)| r == req);
        if waiting && self.is_up(cx) {
            self.respond_sync(cx, client, req);
        }
    }

    /// Something new for local clients: answer the waiting long-polls (at the same instant,
    /// after everything else happening now, so one transaction makes one response).
    pub(crate) fn wake_syncs(&mut self, cx: &mut Cx<'_, '_>) {
        if !self.wake_pending {
            self.wake_pending = true;
            cx.server_timer(self.id, 0, ServerEv::SyncWake);
        }
    }

    pub(crate) fn on_sync_wake(&mut self, cx: &mut Cx<'_, '_>) {
        self.wake_pending = false;
        if !self.is_up(cx) {
            return;
        }
        let now = cx.now();
        let waiting: Vec<(ClientId, u64)> = self
            .devices
            .iter()
            .filter_map(|(c, d)| d.waiting.map(|(r, _)| (*c, r)))
            .collect();
        for (c, req) in waiting {
            if self.has_news_now(c, now) {
                self.respond_sync(cx, c, req);
            }
        }
    }

    /// Build and send one response (MSC4354 "Sync API changes").
    fn respond_sync(&mut self, cx: &mut Cx<'_, '_>, client: ClientId, req: u64) {
        let now = cx.now();
        if let Some((_, k)) = self.devices.get_mut(&client).and_then(|d| d.waiting.take()) {
            cx.cancel(k);
        }
        let resp = self.build_response(&cx.sh.pdus, client, now);
        let server = self.id;
        cx.wire(|| Wire::SyncResponse {
            t: now,
            server,
            client,
            req,
            resp: Box::new(resp.clone()),
        });
        cx.to_client(
            client,
            ClientEv::SyncResponse {
                req,
                resp: Box::new(resp),
            },
        );
    }

    fn build_response(&mut self, pdus: &EventStore, client: ClientId, now: Time) -> SyncResponse {
        let rooms = self.joined_rooms(client);
        let since = self.devices[&client].since;
        let cfg = &self.cfg.sync;
        let local = self.clock.local_ms(now);
        let SyncToken {
            timeline: tpos,
            sticky: spos,
        } = since.unwrap_or_default();
        let (tpos, spos) = (tpos as usize, spos as usize);
        let limit = cfg.timeline_limit as usize;
        let mut parts: BTreeMap<RoomId, RoomPart> = BTreeMap::new();
        // Timeline: the newest `timeline_limit` events per room since the token.
        let mut per_room: BTreeMap<RoomId, Vec<PduId>> = BTreeMap::new();
        for (r, p) in self.timeline.get(tpos..).unwrap_or(&[]) {
            if rooms.binary_search(r).is_ok() {
                per_room.entry(*r).or_default().push(*p);
            }
        }
        let mut in_timeline: IdSet<PduId> = IdSet::default();
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
        let dev = &self.devices[&client];
        let mut sticky: Vec<(RoomId, PduId, i64)> = vec![];
        let mut taken: IdSet<PduId> = IdSet::default();
        // MSC4354 "Sync API changes": joining a room brings all its unexpired sticky events at once.
        if since.is_some() && !dev.newly_joined.is_empty() {
            for e in &self.sticky_stream {
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
        // MSC4354: at most `sticky_limit` sticky events per response across all rooms, in
        // stream order; the rest come in the next responses. Synapse counts every stream
        // position it scans (an unexpired event of a joined room), also those it then
        // leaves out because a timeline carried them (`cap_counts`).
        let cap = cfg.sticky_limit as usize;
        let positions = cfg.cap_counts == CapCounts::Positions;
        let mut n = 0;
        let mut next_spos = self.sticky_stream.len();
        for (i, e) in self.sticky_stream.iter().enumerate().skip(spos) {
            if n >= cap {
                next_spos = i;
                break;
            }
            if rooms.binary_search(&e.room).is_err() || e.end_local_ms <= local {
                continue;
            }
            let sent = !dev.delivered.contains(&e.pdu)
                && !in_timeline.contains(&e.pdu)
                && taken.insert(e.pdu);
            if sent {
                sticky.push((e.room, e.pdu, e.end_local_ms - local));
            }
            if sent || positions {
                n += 1;
            }
        }
        let mut newly_delivered = vec![];
        for (r, p, rem) in &sticky {
            let part = parts.entry(*r).or_insert_with(|| RoomPart {
                room: *r,
                ..Default::default()
            });
            part.sticky.push((*p, *rem));
            newly_delivered.push(*p);
        }
        for part in parts.values_mut() {
            for p in &part.timeline {
                if pdus[*p].is_sticky() {
                    if let Some(end) = self.sticky_end.get(p) {
                        if *end > local {
                            part.timeline_remaining.push((*p, end - local));
                        }
                    }
                    // MSC4354: an event in the timeline is not sent again in a sticky section
                    // (Synapse 1.163 does re-send: `resend_timeline_sticky`).
                    if !cfg.resend_timeline_sticky {
                        newly_delivered.push(*p);
                    }
                }
            }
            part.power = self
                .rooms
                .get(&part.room)
                .map(|v| v.power.clone())
                .unwrap_or_default();
        }
        let next_batch = SyncToken::at(self.timeline.len(), next_spos);
        let dev = self.devices.get_mut(&client).expect("device");
        let served = std::mem::take(&mut dev.newly_joined);
        dev.unconfirmed = Some(Unconfirmed {
            token: next_batch,
            sticky: newly_delivered,
            rooms: served,
        });
        SyncResponse {
            rooms: parts.into_values().collect(),
            next_batch,
            initial: since.is_none(),
        }
    }
}

#[cfg(test)]
mod tests;
