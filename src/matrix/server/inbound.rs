//! The receiving side of federation (MSC4354 "Federation behaviour"): a `/send` arrives (overload, then the
//! inbound policy of `policy.rs`), each PDU enters the room's DAG (forward extremities,
//! get_missing_events), state applies, and sticky events pass auth or are soft-failed
//! and re-evaluated when membership or power levels change.

use super::policy::{policy_for, Admission, Query};
use super::requests::{end_at_receiver, RECENT_PDUS};
use super::{Deferred, Server, SoftFailed, StickyEntry};
use crate::kernel::Time;
use crate::matrix::cx::Cx;
use crate::matrix::event::Content;
use crate::matrix::ids::{ClientId, PduId, RoomId, ServerId};
use crate::matrix::msg::{
    AttemptRef, MissingReq, MissingResp, Outcome, ServerEv, TxnArrival, TxnBody, TxnEntry,
    TxnProcessed, TxnResponse,
};
use crate::matrix::probe::{Arrival, NotQueued, Probe, Wire};
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

impl Server {
    /// A `/send` attempt reaches this server.
    pub(crate) fn on_txn(&mut self, cx: &mut Cx<'_, '_>, t: TxnArrival) {
        let body = &t.body;
        let origin = body.origin;
        let at = body.attempt_ref(self.id);
        if !self.is_up(cx) {
            self.answer_txn(cx, body, at, Outcome::Refused, None);
            return;
        }
        // MSC4354 "Federation behaviour": a request from a server ends the receiver's backoff towards it.
        self.clear_backoff(cx, origin);
        // Synapse keeps the answer of a transaction it processed: a repeat gets the same 200.
        if self.inbound_answered.get(&origin) == Some(&body.id) {
            self.answer_txn(cx, body, at, Outcome::Ok, None);
            return;
        }
        match self.inbound_active.get_mut(&origin) {
            // The same transaction again while it is processed: it gets the same answer.
            Some((id, waiting)) if *id == body.id => {
                waiting.push(body.attempt);
                return;
            }
            // Synapse: one transaction per origin at a time; a second one gets 429 "Too
            // many concurrent transactions".
            Some(_) if self.cfg.inbound.reject_concurrent => {
                self.answer_txn(cx, body, at, Outcome::RateLimited, None);
                return;
            }
            _ => {}
        }
        self.inbound_active
            .insert(origin, (body.id, vec![body.attempt]));
        // This server's handling time (`processing`), drawn when the request arrives.
        let handling = cx.sh.processing[self.id].inbound();
        if handling == 0 {
            self.on_txn_handled(cx, t);
        } else {
            cx.server_timer(self.id, handling, ServerEv::TxnHandled(t));
        }
    }

    /// The handling time of a `/send` is over: overload, the inbound policy, then the PDUs.
    pub(crate) fn on_txn_handled(&mut self, cx: &mut Cx<'_, '_>, t: TxnArrival) {
        let now = cx.now();
        let body = t.body;
        let origin = body.origin;
        if !self.is_up(cx)
            || self
                .inbound_active
                .get(&origin)
                .is_none_or(|(id, _)| *id != body.id)
        {
            return; // a crash lost it
        }
        let cfg = &self.cfg.inbound;
        let entries: Vec<TxnEntry> = body.pdus.clone();
        // Overload: per-PDU processing cost and a bounded inbound queue (503 past it).
        let mut ready = now;
        let cost = cfg.pdu_cost.us();
        if let Some(backlog) = self.busy_until.saturating_sub(now).checked_div(cost) {
            if cfg.queue_bound > 0 && backlog + entries.len() as u64 > cfg.queue_bound as u64 {
                self.finish_txn(cx, &body, Outcome::ServerError, None);
                return;
            }
            ready = self.busy_until.max(now) + cost * entries.len() as u64;
            self.busy_until = ready;
        }
        let local = self.clock.local_ms(now);
        let live: Vec<bool> = entries
            .iter()
            .map(|e| end_at_receiver(&cx.sh.pdus[e.pdu], local).is_some_and(|end| end > local))
            .collect();
        let policy = policy_for(cfg.policy);
        let q = Query {
            cfg,
            buckets: &mut self.buckets,
            origin,
            now,
        };
        let (accept, dropped, deferred) = match policy.admit(q, entries, &live) {
            Admission::Reject => {
                let retry_after = Some(self.cfg.inbound.retry_after.us());
                self.finish_txn(cx, &body, Outcome::RateLimited, retry_after);
                return;
            }
            Admission::Accept {
                accept,
                dropped,
                deferred,
            } => (accept, dropped, deferred),
        };
        for pdu in dropped {
            cx.probe(Probe::Dropped {
                server: self.id,
                pdu,
                t: now,
            });
            self.mark_known(cx, pdu);
        }
        if !deferred.is_empty() {
            for e in deferred {
                self.deferred.push_back(Deferred {
                    pdu: e.pdu,
                    origin,
                    arrival: Arrival::of(&e),
                });
            }
            self.schedule_defer(cx);
        }
        if ready == now {
            for e in &accept {
                self.receive_pdu(cx, origin, e.pdu, Arrival::of(e));
            }
            self.finish_txn(cx, &body, Outcome::Ok, None);
        } else {
            // Overloaded: the 200 goes out once the PDUs are processed; a crash before then
            // loses the work and the answer (the sender times out and retries).
            let p = TxnProcessed {
                body,
                entries: accept,
                epoch: self.epoch,
            };
            cx.server_timer(self.id, ready - now, ServerEv::TxnProcessed(Box::new(p)));
        }
    }

    pub(crate) fn on_txn_processed(&mut self, cx: &mut Cx<'_, '_>, p: TxnProcessed) {
        if !self.is_up(cx) || self.epoch != p.epoch {
            return;
        }
        for e in &p.entries {
            self.receive_pdu(cx, p.body.origin, e.pdu, Arrival::of(e));
        }
        self.finish_txn(cx, &p.body, Outcome::Ok, None);
    }

    /// Answer one `/send` attempt (`body` echoed in the trace when processed).
    fn answer_txn(
        &mut self,
        cx: &mut Cx<'_, '_>,
        body: &Arc<TxnBody>,
        at: AttemptRef,
        outcome: Outcome,
        retry_after: Option<Time>,
    ) {
        let resp = TxnResponse {
            at,
            outcome,
            retry_after,
        };
        let shown = (outcome == Outcome::Ok).then(|| body.clone());
        self.send_txn_answer(cx, body.origin, resp, shown);
    }

    /// The transaction being processed for its origin is done: answer every attempt that
    /// waits for it, and remember a 200.
    fn finish_txn(
        &mut self,
        cx: &mut Cx<'_, '_>,
        body: &Arc<TxnBody>,
        outcome: Outcome,
        retry_after: Option<Time>,
    ) {
        let attempts = match self.inbound_active.remove(&body.origin) {
            Some((id, waiting)) if id == body.id => waiting,
            other => {
                // Not the active one (cannot happen): answer this attempt alone.
                if let Some(o) = other {
                    self.inbound_active.insert(body.origin, o);
                }
                vec![body.attempt]
            }
        };
        if outcome == Outcome::Ok {
            self.inbound_answered.insert(body.origin, body.id);
        }
        for attempt in attempts {
            let at = AttemptRef {
                dest: self.id,
                txn: body.id,
                attempt,
            };
            self.answer_txn(cx, body, at, outcome, retry_after);
        }
    }

    fn send_txn_answer(
        &self,
        cx: &mut Cx<'_, '_>,
        origin: ServerId,
        resp: TxnResponse,
        body: Option<Arc<TxnBody>>,
    ) {
        let (t, dest) = (cx.now(), self.id);
        let at = resp.at;
        let (outcome, retry_after) = (resp.outcome, resp.retry_after);
        cx.to_server(
            dest,
            origin,
            0,
            ServerEv::TxnResponse(Box::new(resp)),
            |lost| Wire::SendAnswer {
                t,
                origin,
                dest,
                txn: at.txn,
                attempt: at.attempt,
                outcome,
                retry_after,
                body,
                lost,
            },
        );
    }

    fn schedule_defer(&mut self, cx: &mut Cx<'_, '_>) {
        if self.defer_timer.is_some() {
            return;
        }
        let Some(first) = self.deferred.front() else {
            return;
        };
        let rate = self.cfg.inbound.sticky_rate.per_second.max(1e-6);
        let tokens = self
            .buckets
            .refill(&self.cfg.inbound, first.origin, cx.now())
            .tokens;
        let wait = if tokens >= 1.0 {
            0
        } else {
            ((1.0 - tokens) / rate * 1e6).ceil() as Time
        };
        self.defer_timer = Some(cx.server_timer(self.id, wait, ServerEv::DeferRelease));
    }

    /// `defer`: release stored sticky events at the bucket's rate.
    pub(crate) fn on_defer_release(&mut self, cx: &mut Cx<'_, '_>) {
        let now = cx.now();
        self.defer_timer = None;
        if !self.is_up(cx) {
            return;
        }
        while let Some(&d) = self.deferred.front() {
            let b = self.buckets.refill(&self.cfg.inbound, d.origin, now);
            if b.tokens < 1.0 - 1e-9 {
                break;
            }
            b.tokens -= 1.0;
            self.deferred.pop_front();
            self.receive_pdu(cx, d.origin, d.pdu, d.arrival);
        }
        self.schedule_defer(cx);
    }

    fn mark_known(&mut self, cx: &Cx<'_, '_>, pdu: PduId) {
        let room = cx.sh.pdus[pdu].room;
        self.rooms.entry(room).or_default().known.insert(pdu);
    }

    /// One PDU processed by a server that did not create it.
    pub(crate) fn receive_pdu(
        &mut self,
        cx: &mut Cx<'_, '_>,
        from: ServerId,
        pdu: PduId,
        arrival: Arrival,
    ) {
        let p = &cx.sh.pdus[pdu];
        let (room, ots, is_sticky) = (p.room, p.origin_server_ts, p.is_sticky());
        let old_sticky_ok = self.cfg.inbound.old_sticky_in_extremities;
        // DAG bookkeeping: known events, forward extremities, missing prev_events.
        let missing: Vec<PduId> = {
            let view = self.rooms.entry(room).or_default();
            if !view.known.insert(pdu) {
                return; // already have it
            }
            let late =
                view.recent_ts.len() >= RECENT_PDUS && view.recent_ts.iter().all(|t| *t > ots);
            view.extremities.retain(|e| !p.prev_events.contains(e));
            view.referenced.extend(p.prev_events.iter().copied());
            // MSC4354 "Federation behaviour" `old_sticky_in_extremities`: late sticky events need not become extremities.
            // An event a known event already names (fetched as a missing prev_event) is not
            // a forward extremity.
            let kept_out = late && is_sticky && !old_sticky_ok;
            if !kept_out && !view.referenced.contains(&pdu) {
                view.extremities.push(pdu);
            }
            view.recent_ts.push_back(ots);
            if view.recent_ts.len() > RECENT_PDUS {
                view.recent_ts.pop_front();
            }
            p.prev_events
                .iter()
                .copied()
                .filter(|e| !view.known.contains(e))
                .collect()
        };
        if !missing.is_empty() && from != self.id && !arrival.fetched {
            self.ask_missing(cx, from, room, missing);
        }
        if cx.sh.pdus[pdu].is_sticky_kind() {
            self.receive_sticky(cx, pdu, arrival);
        } else {
            self.apply_ordinary(cx, pdu);
        }
    }

    /// get_missing_events towards the server that sent us an event whose prev_events we lack.
    fn ask_missing(&mut self, cx: &mut Cx<'_, '_>, to: ServerId, room: RoomId, latest: Vec<PduId>) {
        let asker = self.id;
        let t = cx.now();
        let req = MissingReq {
            asker,
            room,
            earliest: self
                .rooms
                .get(&room)
                .map(|v| v.extremities.clone())
                .unwrap_or_default(),
            latest,
            limit: self.cfg.federation.missing_events_limit,
        };
        let shown = cx.sh.probes.wire().then(|| Box::new(req.clone()));
        cx.to_server(asker, to, 0, ServerEv::MissingReq(Box::new(req)), |lost| {
            Wire::MissingRequest {
                t,
                to,
                req: shown.expect("wire on"),
                lost,
            }
        });
    }

    /// An event that is not sticky-shaped, at any server (its origin or a receiver): state
    /// changes apply, then it joins the timeline.
    pub(crate) fn apply_ordinary(&mut self, cx: &mut Cx<'_, '_>, pdu: PduId) {
        let room = cx.sh.pdus[pdu].room;
        match cx.sh.pdus[pdu].content.clone() {
            Content::Member { user, join } => {
                self.apply_membership(cx, room, user, join);
                self.append_timeline(cx, room, pdu);
            }
            Content::PowerLevels { user, level } => {
                let power = &mut self.rooms.entry(room).or_default().power;
                std::sync::Arc::make_mut(power).insert(user, level);
                self.append_timeline(cx, room, pdu);
                // MSC4354 "Federation behaviour": a power-level change re-checks soft-failed sticky events.
                self.reevaluate_soft_failed(cx, room);
            }
            Content::Message | Content::Sticky { .. } => self.append_timeline(cx, room, pdu),
        }
    }

    /// MSC4354: a sticky event is sticky from min(received_ts, origin_server_ts); it is
    /// accepted when its sender is joined in our current view, else soft-failed and kept.
    fn receive_sticky(&mut self, cx: &mut Cx<'_, '_>, pdu: PduId, arrival: Arrival) {
        let now = cx.now();
        let local = self.clock.local_ms(now);
        let p = &cx.sh.pdus[pdu];
        let (room, sender) = (p.room, p.sender);
        let Some(end_local_ms) = end_at_receiver(p, local) else {
            // Invalid duration: an ordinary event.
            self.append_timeline(cx, room, pdu);
            return;
        };
        if !self.is_joined(room, sender) {
            if end_local_ms > local {
                self.soft_failed.entry(room).or_default().push(SoftFailed {
                    pdu,
                    arrival,
                    end_local_ms,
                });
                cx.probe(Probe::SoftFailed {
                    server: self.id,
                    pdu,
                    t: now,
                });
            }
            return;
        }
        self.append_timeline(cx, room, pdu);
        if end_local_ms > local {
            self.accept_sticky(cx, pdu, end_local_ms, arrival);
        }
    }

    /// The sticky event enters this server's sticky stream: clients get it through `/sync`.
    pub(crate) fn accept_sticky(
        &mut self,
        cx: &mut Cx<'_, '_>,
        pdu: PduId,
        end_local_ms: i64,
        arrival: Arrival,
    ) {
        let now = cx.now();
        let room = cx.sh.pdus[pdu].room;
        self.sticky_stream.push(StickyEntry {
            room,
            pdu,
            end_local_ms,
        });
        self.sticky_end.insert(pdu, end_local_ms);
        let end_at = self.clock.sim_time_of_local_ms(end_local_ms, now);
        cx.probe(Probe::Accepted {
            server: self.id,
            pdu,
            t: now,
            arrival,
            end_at,
        });
        self.wake_syncs(cx);
    }

    /// MSC4354 "Federation behaviour": when membership or power levels change, unexpired soft-failed sticky
    /// events are re-checked and delivered if they now pass.
    pub(crate) fn reevaluate_soft_failed(&mut self, cx: &mut Cx<'_, '_>, room: RoomId) {
        if !self.cfg.inbound.reevaluate_soft_failed {
            return;
        }
        let local = self.clock.local_ms(cx.now());
        let Some(list) = self.soft_failed.remove(&room) else {
            return;
        };
        let mut keep = vec![];
        for sf in list {
            if sf.end_local_ms <= local {
                continue; // expired: no longer re-evaluated
            }
            let sender = cx.sh.pdus[sf.pdu].sender;
            if self.is_joined(room, sender) {
                self.accept_sticky(cx, sf.pdu, sf.end_local_ms, sf.arrival);
            } else {
                keep.push(sf);
            }
        }
        if !keep.is_empty() {
            self.soft_failed.insert(room, keep);
        }
    }

    /// A membership change as this server sees it; push-on-join and re-evaluation follow.
    pub(crate) fn apply_membership(
        &mut self,
        cx: &mut Cx<'_, '_>,
        room: RoomId,
        user: ClientId,
        join: bool,
    ) {
        let user_server = cx.sh.dir.server_of(user);
        let before = self.room_servers(cx, room);
        let view = self.rooms.entry(room).or_default();
        if join != view.members.contains(&user) {
            let members = Arc::make_mut(&mut view.members);
            if join {
                members.insert(user);
            } else {
                members.remove(&user);
            }
        }
        self.members_epoch += 1;
        if user_server == self.id {
            let dev = self.devices.entry(user).or_default();
            if join {
                dev.newly_joined.insert(room);
            } else {
                dev.newly_joined.remove(&room);
            }
        }
        let newcomer = join && user_server != self.id && !before.contains(&user_server);
        if newcomer && self.cfg.federation.push_on_join {
            // MSC4354 "Federation behaviour": push our own unexpired sticky events for the
            // room to a newly joined server, oldest first.
            for p in self.own_unexpired_sticky(cx, room) {
                self.enqueue_to(cx, user_server, p, true);
            }
        } else if newcomer {
            // push_on_join = false: the newcomer never gets our older sticky events.
            let t = cx.now();
            for pdu in self.own_unexpired_sticky(cx, room) {
                cx.probe(Probe::NotQueued {
                    dest: user_server,
                    pdu,
                    t,
                    why: NotQueued::NoPushOnJoin,
                });
            }
        }
        self.reevaluate_soft_failed(cx, room);
    }

    fn own_unexpired_sticky(&self, cx: &Cx<'_, '_>, room: RoomId) -> Vec<PduId> {
        let local = self.clock.local_ms(cx.now());
        self.sticky_stream
            .iter()
            .filter(|e| {
                e.room == room && e.end_local_ms > local && cx.sh.pdus[e.pdu].origin == self.id
            })
            .map(|e| e.pdu)
            .collect()
    }

    /// get_missing_events: walk back from the missing events (`latest_events`) through
    /// prev_events, not past the asker's `earliest_events`, up to the asker's limit, and
    /// return what we have (one round trip).
    pub(crate) fn on_missing_req(&mut self, cx: &mut Cx<'_, '_>, r: MissingReq) {
        let now = cx.now();
        if !self.is_up(cx) {
            return;
        }
        self.clear_backoff(cx, r.asker);
        let Some(have) = self.rooms.get(&r.room) else {
            return;
        };
        let limit = r.limit as usize;
        let mut out = vec![];
        let mut seen = BTreeSet::new();
        let mut q: VecDeque<PduId> = r.latest.iter().copied().collect();
        while let Some(p) = q.pop_front() {
            if out.len() >= limit {
                break;
            }
            // The walk stops at what the asker has (its `earliest_events`).
            if !seen.insert(p) || !have.known.contains(&p) || r.earliest.contains(&p) {
                continue;
            }
            out.push(p);
            q.extend(cx.sh.pdus[p].prev_events.iter().copied());
        }
        out.sort_by_key(|p| (cx.sh.pdus[*p].created_at, *p));
        let (from, asker, room) = (self.id, r.asker, r.room);
        let shown = cx.sh.probes.wire().then(|| out.clone());
        let resp = MissingResp {
            from,
            room,
            pdus: out,
        };
        cx.to_server(
            from,
            asker,
            0,
            ServerEv::MissingResp(Box::new(resp)),
            |lost| Wire::MissingResponse {
                t: now,
                from,
                asker,
                room,
                pdus: shown.unwrap_or_default(),
                lost,
            },
        );
    }

    pub(crate) fn on_missing_resp(&mut self, cx: &mut Cx<'_, '_>, r: MissingResp) {
        if !self.is_up(cx) {
            return;
        }
        for p in r.pdus {
            self.receive_pdu(cx, r.from, p, Arrival::FETCHED);
        }
    }

    pub(crate) fn append_timeline(&mut self, cx: &mut Cx<'_, '_>, room: RoomId, pdu: PduId) {
        self.timeline.push((room, pdu));
        self.wake_syncs(cx);
    }
}

#[cfg(test)]
mod tests;
