//! Client requests at their server: events are created here, with the server's clock and
//! IDs; joins (locally, or through a resident server with send_join) and leaves; power
//! levels; MSC4140 delayed-event requests are in `delayed.rs`.

use super::{RoomState, Server};
use crate::kernel::Time;
use crate::matrix::cx::Cx;
use crate::matrix::event::{sticky_end_local_ms, Content, DurationField, Pdu};
use crate::matrix::ids::{ClientId, PduId, ReqTag, RoomId, ServerId};
use crate::matrix::msg::{ClientReq, ClientRequest, JoinReq, JoinResp, ServerEv, StickySend};
use crate::matrix::probe::{Arrival, Probe, Wire};
use crate::matrix::spec::InvalidDuration;
use rand::Rng;
use std::sync::Arc;

/// The level needed to change power levels (the room's `state_default` in practice).
const POWER_LEVELS_NEEDED: i64 = 100;

/// How many recent PDUs count as "not late" for forward extremities (MSC4354 "Federation behaviour").
pub const RECENT_PDUS: usize = 50;

/// What the world must do for a server that cannot finish a step alone.
#[derive(Clone, Copy, Debug)]
pub enum NeedsWorld {
    /// Join `room` for `client` through a resident server (send_join): the world knows
    /// which servers are in the room (the `via` servers a client would name).
    Resident { client: ClientId, room: RoomId },
    /// send_join reached this (resident) server: the joiner's join event is needed, built
    /// by the joiner on this server's forward extremities (make_join's answer).
    JoinEvent(JoinReq),
}

/// Event IDs: 128 random bits as unpadded URL-safe base64, so they sort like real ones.
pub fn event_id_of(mut v: u128) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(23);
    out.push('$');
    for _ in 0..22 {
        out.push(A[(v & 63) as usize] as char);
        v >>= 6;
    }
    out
}

impl Server {
    /// A new event of this server's: ID from its stream, timestamps from its clock,
    /// prev_events its forward extremities in the room (unless `prev` is given).
    pub fn new_event(
        &mut self,
        cx: &mut Cx<'_, '_>,
        room: RoomId,
        sender: ClientId,
        content: Content,
        ots_offset_ms: i64,
        prev: Option<Vec<PduId>>,
    ) -> PduId {
        let now = cx.now();
        let id_bits: u128 = self.rng_ids.random();
        let factor: u64 = if self.cfg.encrypted { 3 } else { 2 };
        let bytes = (u64::from(self.cfg.event_bytes) * factor / 2).min(u64::from(u32::MAX)) as u32;
        let prev_events = prev.unwrap_or_else(|| {
            self.rooms
                .get(&room)
                .map(|r| r.extremities.clone())
                .unwrap_or_default()
        });
        let origin_local_ms = self.clock.local_ms(now);
        cx.sh.pdus.add(Pdu {
            event_id: event_id_of(id_bits).into(),
            room,
            sender,
            origin: self.id,
            origin_server_ts: origin_local_ms.saturating_add(ots_offset_ms),
            created_at: now,
            origin_local_ms,
            content,
            prev_events,
            bytes,
        })
    }

    /// The simulated time at which one of this server's sticky events stops being sticky
    /// by its clock.
    pub fn own_end(&self, p: &Pdu) -> Time {
        match p.origin_end_local_ms() {
            Some(end) => self.clock.sim_time_of_local_ms(end, p.created_at),
            None => p.created_at,
        }
    }

    /// A client's request reaches this server.
    pub(crate) fn on_client_request(
        &mut self,
        cx: &mut Cx<'_, '_>,
        r: ClientRequest,
    ) -> Option<NeedsWorld> {
        if !self.is_up(cx) {
            return None;
        }
        let ClientRequest { client, req, tag } = r;
        let before = cx.sh.pdus.len();
        let mut found = true;
        let mut invalid = false;
        match &req {
            ClientReq::Sticky(s) => {
                if !self.is_joined(s.room, client) {
                    return None; // not in the room: refused (and not traced)
                }
                // Synapse's client API refuses a negative or non-integer duration (400).
                invalid = s.duration.normalise() == DurationField::Invalid
                    && self.cfg.invalid_sticky_duration == InvalidDuration::Reject;
                if !invalid {
                    self.send_sticky(cx, client, s, tag);
                }
            }
            ClientReq::Message { room } => {
                if self.is_joined(*room, client) {
                    let pdu = self.new_event(cx, *room, client, Content::Message, 0, None);
                    self.create_local(cx, pdu, None, tag);
                }
            }
            ClientReq::PowerLevels { room, user, level } => {
                if self.is_joined(*room, client)
                    && self.level_of(cx, *room, client) >= POWER_LEVELS_NEEDED
                {
                    let content = Content::PowerLevels {
                        user: *user,
                        level: *level,
                    };
                    let pdu = self.new_event(cx, *room, client, content, 0, None);
                    self.create_local(cx, pdu, None, tag);
                }
            }
            ClientReq::Equivocate {
                room,
                ev_type,
                key,
                groups,
            } => {
                if !self.is_joined(*room, client) {
                    return None;
                }
                // Sibling versions: the same prev_events, each sent to its group only.
                let prev = self.rooms.get(room).map(|v| v.extremities.clone());
                for (i, only) in groups.iter().enumerate() {
                    let content = Content::Sticky {
                        ev_type: *ev_type,
                        key: key.as_str().into(),
                        duration: DurationField::Ms(3_600_000),
                        leave: false,
                    };
                    let pdu = self.new_event(cx, *room, client, content, i as i64, prev.clone());
                    self.create_local(cx, pdu, Some(only), tag);
                }
                return None;
            }
            ClientReq::Join { room } => {
                if let Some(need) = self.client_join(cx, client, *room, tag) {
                    return Some(need); // answered when send_join returns
                }
            }
            ClientReq::Leave { room } => {
                if self.is_joined(*room, client) {
                    let content = Content::Member {
                        user: client,
                        join: false,
                    };
                    let pdu = self.new_event(cx, *room, client, content, 0, None);
                    // Sent to every server in the room, the leaver's own view included.
                    self.create_local(cx, pdu, None, tag);
                    let t = cx.now();
                    cx.probe(Probe::Membership {
                        user: client,
                        room: *room,
                        joined: false,
                        t,
                    });
                }
            }
            ClientReq::ScheduleDelayed(d) => self.schedule_delayed(cx, client, d, tag),
            ClientReq::RestartDelayed { delay_id } => {
                found = self.restart_delayed(cx, client, *delay_id, tag);
            }
            ClientReq::CancelDelayed { delay_id } => found = self.cancel_delayed(cx, *delay_id),
        }
        let created = (before < cx.sh.pdus.len()).then_some(PduId(before as u32));
        let t = cx.now();
        cx.wire(|| Wire::ClientAnswer {
            t,
            client,
            req: Box::new(req),
            created,
            found,
            invalid,
        });
        None
    }

    /// A sticky event from a local client (MSC4354 "Sticky events").
    fn send_sticky(
        &mut self,
        cx: &mut Cx<'_, '_>,
        client: ClientId,
        s: &StickySend,
        tag: Option<ReqTag>,
    ) {
        let content = Content::Sticky {
            ev_type: s.ev_type,
            key: s.key.clone(),
            duration: s.duration,
            leave: s.leave,
        };
        let pdu = self.new_event(cx, s.room, client, content, s.ots_offset_ms, None);
        self.create_local(cx, pdu, s.only_to.as_deref(), tag);
    }

    /// An event created by this server itself: into its DAG now; into its queues and its
    /// streams once it is persisted (`origin_processing` later).
    pub(crate) fn create_local(
        &mut self,
        cx: &mut Cx<'_, '_>,
        pdu: PduId,
        only_to: Option<&[ServerId]>,
        tag: Option<ReqTag>,
    ) {
        let now = cx.now();
        let p = &cx.sh.pdus[pdu];
        let room = p.room;
        let origin_end = p.is_sticky().then(|| self.own_end(p));
        cx.probe(Probe::Created {
            pdu,
            t: now,
            origin_end,
            tag,
        });
        {
            let p = &cx.sh.pdus[pdu];
            let view = self.rooms.entry(room).or_default();
            view.known.insert(pdu);
            view.extremities.retain(|e| !p.prev_events.contains(e));
            view.referenced.extend(p.prev_events.iter().copied());
            view.extremities.push(pdu);
            view.recent_ts.push_back(p.origin_server_ts);
            if view.recent_ts.len() > RECENT_PDUS {
                view.recent_ts.pop_front();
            }
        }
        let persist = cx.sh.processing[self.id].origin();
        if persist == 0 {
            self.publish_local(cx, pdu, only_to);
        } else {
            let only_to = only_to.map(Box::from);
            cx.server_timer(self.id, persist, ServerEv::Persisted { pdu, only_to });
        }
    }

    /// One of this server's events is persisted: its federation sender queues it, its
    /// state applies, and (still sticky) it enters the sticky stream.
    pub(crate) fn publish_local(
        &mut self,
        cx: &mut Cx<'_, '_>,
        pdu: PduId,
        only_to: Option<&[ServerId]>,
    ) {
        // Queue before applying a leave, so the leave reaches everyone who was in the room.
        self.enqueue_own(cx, pdu, only_to);
        self.apply_ordinary(cx, pdu);
        // MSC4354: for its own events, received_ts is the creation time.
        if let Some(end) = cx.sh.pdus[pdu].origin_end_local_ms() {
            if end > self.clock.local_ms(cx.now()) {
                self.accept_sticky(cx, pdu, end, Arrival::OWN);
            }
        }
    }

    /// A user joins a room: locally if this server is already in it; else the world finds
    /// a resident server to send_join through.
    fn client_join(
        &mut self,
        cx: &mut Cx<'_, '_>,
        client: ClientId,
        room: RoomId,
        tag: Option<ReqTag>,
    ) -> Option<NeedsWorld> {
        if self.is_joined(room, client) {
            return None;
        }
        if self.resident_in(&cx.sh.dir, room) {
            let content = Content::Member {
                user: client,
                join: true,
            };
            let pdu = self.new_event(cx, room, client, content, 0, None);
            let t = cx.now();
            cx.probe(Probe::Membership {
                user: client,
                room,
                joined: true,
                t,
            });
            self.create_local(cx, pdu, None, tag);
            return None;
        }
        Some(NeedsWorld::Resident { client, room })
    }

    /// The joiner's side: send_join to `resident`.
    pub(crate) fn send_join(
        &mut self,
        cx: &mut Cx<'_, '_>,
        resident: ServerId,
        client: ClientId,
        room: RoomId,
    ) {
        let joiner = self.id;
        let t = cx.now();
        let origin_server_ts = self.clock.local_ms(t);
        let req = JoinReq {
            joiner,
            client,
            room,
        };
        let arrived = cx.to_server(joiner, resident, 0, ServerEv::JoinReq(req), |lost| {
            Wire::JoinRequest {
                t,
                joiner,
                resident,
                client,
                room,
                origin_server_ts,
                lost,
            }
        });
        if arrived.is_some() {
            self.pending_joins.push((client, room));
        }
    }

    /// The resident's side of send_join: it accepts the joiner's join event `pdu` (built
    /// by the joiner on the resident's extremities), sends it to the room and answers
    /// with the room's state.
    pub(crate) fn on_join_req(&mut self, cx: &mut Cx<'_, '_>, r: JoinReq, pdu: PduId) {
        let now = cx.now();
        let resident = self.id;
        // MSC4354 "Federation behaviour": a request from a server ends our backoff towards it.
        self.clear_backoff(cx, r.joiner);
        cx.probe(Probe::Created {
            pdu,
            t: now,
            origin_end: None,
            tag: None,
        });
        let others: Vec<ServerId> = self
            .room_servers(cx, r.room)
            .into_iter()
            .filter(|s| *s != resident && *s != r.joiner)
            .collect();
        self.receive_pdu(
            cx,
            r.joiner,
            pdu,
            Arrival {
                attempts: 1,
                ..Arrival::OWN
            },
        );
        for o in others {
            self.enqueue_to(cx, o, pdu, false);
        }
        let resp = JoinResp {
            resident,
            client: r.client,
            room: r.room,
            join_event: pdu,
            state: self.room_state(r.room),
        };
        let joiner = r.joiner;
        let shown = cx.sh.probes.wire().then(|| Box::new(resp.state.clone()));
        cx.to_server(
            resident,
            joiner,
            0,
            ServerEv::JoinResp(Box::new(resp)),
            |lost| Wire::JoinResponse {
                t: now,
                resident,
                joiner,
                pdu,
                state: shown.expect("wire on"),
                lost,
            },
        );
    }

    /// send_join's answer: the joiner takes the room's state from the resident.
    pub(crate) fn on_join_resp(&mut self, cx: &mut Cx<'_, '_>, r: JoinResp) {
        let now = cx.now();
        let Some(i) = self
            .pending_joins
            .iter()
            .position(|(c, room)| *c == r.client && *room == r.room)
        else {
            return;
        };
        self.pending_joins.remove(i);
        if !self.is_up(cx) {
            return;
        }
        let RoomState {
            members,
            power,
            extremities,
        } = r.state;
        {
            let view = self.rooms.entry(r.room).or_default();
            if view.members.is_empty() {
                view.members = members;
            } else {
                Arc::make_mut(&mut view.members).extend(members.iter().copied());
            }
            view.power = power;
            // send_join gives the state and the room's forward extremities, not the events
            // themselves: older (sticky) events arrive later, pushed or fetched.
            view.known.extend(extremities.iter().copied());
            view.known.insert(r.join_event);
            view.extremities = extremities;
        }
        self.members_epoch += 1;
        cx.probe(Probe::Membership {
            user: r.client,
            room: r.room,
            joined: true,
            t: now,
        });
        self.apply_membership(cx, r.room, r.client, true);
        self.append_timeline(cx, r.room, r.join_event);
        cx.wire(|| Wire::JoinDone {
            t: now,
            client: r.client,
            room: r.room,
        });
    }
}

/// The end of a sticky event's stickiness at a receiver whose clock shows `local_ms` now.
pub fn end_at_receiver(p: &Pdu, local_ms: i64) -> Option<i64> {
    p.sticky_duration_ms()
        .map(|d| sticky_end_local_ms(local_ms, p.origin_server_ts, d))
}

#[cfg(test)]
mod tests;
