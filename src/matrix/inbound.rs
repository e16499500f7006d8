//! The receiving side of federation (SPEC 2.4): rate limits and their policies, overload,
//! auth with soft failure and re-evaluation, forward extremities and get_missing_events.

use super::event::{sticky_end_local_ms, Content, PduId, RoomId, ServerId};
use super::server::{Bucket, QEntry, SoftFailed, StickyEntry};
use super::world::{Ev, World};
use crate::kernel::{Ctx, Time};
use crate::net::Transit;
use crate::observe::{Obs, Outcome, Path};
use crate::scenario::InboundPolicy;
use std::collections::{BTreeSet, VecDeque};

/// How many recent PDUs count as "not late" for forward extremities (SPEC 2.4).
const RECENT_PDUS: usize = 50;

fn path_of(e: &QEntry) -> Path {
    if e.join_push {
        Path::JoinPush
    } else if e.saw_backoff {
        Path::CatchUp
    } else if e.attempts > 1 {
        Path::Retry
    } else {
        Path::Direct
    }
}

impl World {
    fn refill(&mut self, server: ServerId, origin: ServerId, now: Time) -> f64 {
        let s = &mut self.servers[server as usize];
        let rate = s.cfg.inbound.sticky_rate.per_second.max(0.0);
        let burst = s.cfg.inbound.sticky_rate.burst as f64;
        let b = s.buckets.entry(origin).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let dt = now.saturating_sub(b.last) as f64 / 1e6;
        b.tokens = (b.tokens + dt * rate).min(burst);
        b.last = now;
        b.tokens
    }

    /// Tokens of the emptiest bucket on a server (timeseries.csv), the burst when none.
    pub fn min_tokens(&mut self, server: ServerId, now: Time) -> f64 {
        let origins: Vec<ServerId> = self.servers[server as usize]
            .buckets
            .keys()
            .copied()
            .collect();
        let mut m = self.servers[server as usize].cfg.inbound.sticky_rate.burst as f64;
        for o in origins {
            m = m.min(self.refill(server, o, now));
        }
        m
    }

    /// A `/send` reaches `dest`.
    pub(crate) fn on_txn_arrive(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        origin: ServerId,
        dest: ServerId,
        txn: u64,
        attempt: u32,
    ) {
        let now = ctx.now();
        let Some(t) = self.live_txn(origin, dest, txn, attempt) else {
            return;
        };
        let entries = t.entries.clone();
        if !self.servers[dest as usize].up {
            self.respond_txn(ctx, origin, dest, txn, attempt, Outcome::Refused, None, 0);
            return;
        }
        // SPEC 2.3: a request from a server ends the receiver's backoff towards it.
        self.clear_backoff(ctx, dest, origin);
        let cfg = self.servers[dest as usize].cfg.inbound.clone();
        // Overload: per-PDU processing cost and a bounded inbound queue (503 past it).
        let mut ready = now;
        if cfg.pdu_cost.us() > 0 {
            let s = &mut self.servers[dest as usize];
            let backlog = s.busy_until.saturating_sub(now) / cfg.pdu_cost.us();
            if cfg.queue_bound > 0 && backlog + entries.len() as u64 > cfg.queue_bound as u64 {
                self.respond_txn(
                    ctx,
                    origin,
                    dest,
                    txn,
                    attempt,
                    Outcome::ServerError,
                    None,
                    0,
                );
                return;
            }
            ready = s.busy_until.max(now) + cfg.pdu_cost.us() * entries.len() as u64;
            s.busy_until = ready;
        }
        let dest_local = self.servers[dest as usize].clock.local_ms(now);
        let is_live_sticky = |w: &World, p: PduId| {
            let e = &w.pdus[p as usize];
            e.sticky_duration_ms().is_some_and(|d| {
                sticky_end_local_ms(dest_local, e.origin_server_ts, d) > dest_local
            })
        };
        let sticky_n = entries
            .iter()
            .filter(|e| is_live_sticky(self, e.pdu))
            .count();
        let mut accept: Vec<QEntry> = vec![];
        let mut deferred: Vec<QEntry> = vec![];
        match cfg.policy {
            InboundPolicy::Unlimited => accept = entries,
            InboundPolicy::Reject429 => {
                let tokens = self.refill(dest, origin, now);
                let need = sticky_n.min(cfg.sticky_rate.burst.max(1) as usize) as f64;
                if sticky_n > 0 && tokens + 1e-9 < need {
                    // MSC4354 (seed text): a rate-limited /send MUST answer non-2xx so the sender retries.
                    self.respond_txn(
                        ctx,
                        origin,
                        dest,
                        txn,
                        attempt,
                        Outcome::RateLimited,
                        Some(cfg.retry_after.us()),
                        0,
                    );
                    return;
                }
                if let Some(b) = self.servers[dest as usize].buckets.get_mut(&origin) {
                    b.tokens = (b.tokens - sticky_n as f64).max(0.0);
                }
                accept = entries;
            }
            InboundPolicy::AcceptDrop | InboundPolicy::Defer => {
                let mut tokens = self.refill(dest, origin, now);
                for e in entries {
                    if !is_live_sticky(self, e.pdu) {
                        accept.push(e);
                    } else if tokens >= 1.0 - 1e-9 {
                        tokens -= 1.0;
                        accept.push(e);
                    } else if cfg.policy == InboundPolicy::AcceptDrop {
                        // Forbidden by the seed text (200 + silent drop); kept to show why.
                        self.record(Obs::Dropped {
                            server: dest,
                            pdu: e.pdu,
                            t: now,
                        });
                        self.mark_known(dest, e.pdu);
                    } else {
                        deferred.push(e);
                    }
                }
                if let Some(b) = self.servers[dest as usize].buckets.get_mut(&origin) {
                    b.tokens = tokens.max(0.0);
                }
            }
        }
        let ready_delay = ready - now;
        if !deferred.is_empty() {
            // MSC4354 (current text): a server MAY persist rate-limited events and deliver them later.
            let s = &mut self.servers[dest as usize];
            for e in deferred {
                s.deferred
                    .push_back((e.pdu, origin, path_of(&e), e.attempts));
            }
            self.schedule_defer(ctx, dest);
        }
        if ready_delay == 0 {
            for e in &accept {
                self.receive_pdu(ctx, dest, origin, e.pdu, path_of(e), e.attempts);
            }
            self.respond_txn(ctx, origin, dest, txn, attempt, Outcome::Ok, None, 0);
        } else {
            // Overloaded: the 200 goes out once the PDUs are processed; a crash before then
            // loses the work and the answer (the sender times out and retries).
            let epoch = self.servers[dest as usize].epoch;
            ctx.schedule_in(
                ready_delay,
                Ev::TxnApply {
                    server: dest,
                    from: origin,
                    entries: accept,
                    txn,
                    attempt,
                    epoch,
                },
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_txn_apply(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        server: ServerId,
        from: ServerId,
        entries: Vec<QEntry>,
        txn: u64,
        attempt: u32,
        epoch: u32,
    ) {
        let s = &self.servers[server as usize];
        if !s.up || s.epoch != epoch {
            return;
        }
        for e in &entries {
            self.receive_pdu(ctx, server, from, e.pdu, path_of(e), e.attempts);
        }
        self.respond_txn(ctx, from, server, txn, attempt, Outcome::Ok, None, 0);
    }

    #[allow(clippy::too_many_arguments)]
    fn respond_txn(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        origin: ServerId,
        dest: ServerId,
        txn: u64,
        attempt: u32,
        outcome: Outcome,
        retry_after: Option<Time>,
        after: Time,
    ) {
        let now = ctx.now();
        let transit = self.net.transit(dest, origin, now + after);
        let lost = !matches!(transit, Transit::Arrives(_));
        self.trace_send_response(
            origin,
            dest,
            txn,
            attempt,
            outcome,
            retry_after,
            now + after,
            lost,
        );
        if let Transit::Arrives(l) = transit {
            ctx.schedule_in(
                after + l,
                Ev::TxnResponse {
                    origin,
                    dest,
                    txn,
                    attempt,
                    outcome,
                    retry_after,
                },
            );
        }
    }

    fn schedule_defer(&mut self, ctx: &mut Ctx<'_, Ev>, server: ServerId) {
        let s = &self.servers[server as usize];
        if s.defer_timer.is_some() || s.deferred.is_empty() {
            return;
        }
        let rate = s.cfg.inbound.sticky_rate.per_second.max(1e-6);
        let origin = s.deferred[0].1;
        let tokens = self.refill(server, origin, ctx.now());
        let wait = if tokens >= 1.0 {
            0
        } else {
            ((1.0 - tokens) / rate * 1e6).ceil() as Time
        };
        let k = ctx.schedule_in(wait, Ev::DeferRelease { server });
        self.servers[server as usize].defer_timer = Some(k);
    }

    /// `defer`: release stored sticky events at the bucket's rate.
    pub(crate) fn on_defer_release(&mut self, ctx: &mut Ctx<'_, Ev>, server: ServerId) {
        let now = ctx.now();
        self.servers[server as usize].defer_timer = None;
        if !self.servers[server as usize].up {
            return;
        }
        while let Some(&(pdu, origin, path, attempts)) =
            self.servers[server as usize].deferred.front()
        {
            let tokens = self.refill(server, origin, now);
            if tokens < 1.0 - 1e-9 {
                break;
            }
            if let Some(b) = self.servers[server as usize].buckets.get_mut(&origin) {
                b.tokens -= 1.0;
            }
            self.servers[server as usize].deferred.pop_front();
            self.receive_pdu(ctx, server, origin, pdu, path, attempts);
        }
        self.schedule_defer(ctx, server);
    }

    fn mark_known(&mut self, server: ServerId, pdu: PduId) {
        let room = self.pdus[pdu as usize].room;
        self.servers[server as usize]
            .rooms
            .entry(room)
            .or_default()
            .known
            .insert(pdu);
    }

    /// One PDU processed by a server that did not create it.
    pub(crate) fn receive_pdu(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        server: ServerId,
        from: ServerId,
        pdu: PduId,
        path: Path,
        attempts: u32,
    ) {
        let now = ctx.now();
        let room = self.pdus[pdu as usize].room;
        let old_sticky_ok = self.servers[server as usize]
            .cfg
            .inbound
            .old_sticky_in_extremities;
        let (prev, ots, is_sticky) = {
            let p = &self.pdus[pdu as usize];
            (p.prev_events.clone(), p.origin_server_ts, p.is_sticky())
        };
        // DAG bookkeeping: known events, forward extremities, missing prev_events.
        let missing: Vec<PduId> = {
            let view = self.servers[server as usize].rooms.entry(room).or_default();
            if !view.known.insert(pdu) {
                return; // already have it
            }
            let late =
                view.recent_ts.len() >= RECENT_PDUS && view.recent_ts.iter().all(|t| *t > ots);
            view.extremities.retain(|e| !prev.contains(e));
            view.referenced.extend(prev.iter().copied());
            // SPEC 2.4 `old_sticky_in_extremities`: late sticky events need not become extremities.
            if !(late && is_sticky && !old_sticky_ok) {
                // An event a known event already names (fetched as a missing prev_event) is
                // not a forward extremity.
                if !view.referenced.contains(&pdu) {
                    view.extremities.push(pdu);
                }
            }
            view.recent_ts.push_back(ots);
            if view.recent_ts.len() > RECENT_PDUS {
                view.recent_ts.pop_front();
            }
            prev.iter()
                .copied()
                .filter(|p| !view.known.contains(p))
                .collect()
        };
        if !missing.is_empty() && from != server && path != Path::Transitive {
            let transit = self.net.transit(server, from, now);
            let lost = !matches!(transit, Transit::Arrives(_));
            self.trace_missing_request(server, from, room, &missing, now, lost);
            if let Transit::Arrives(l) = transit {
                ctx.schedule_in(
                    l,
                    Ev::MissingReq {
                        asker: server,
                        to: from,
                        room,
                        ids: missing,
                    },
                );
            }
        }
        if self.pdus[pdu as usize].is_sticky_kind() {
            self.receive_sticky(ctx, server, pdu, path, attempts);
        } else {
            self.apply_ordinary(ctx, server, pdu);
        }
    }

    /// An event that is not sticky-shaped, at any server (its origin or a receiver): state
    /// changes apply, then it joins the timeline.
    pub(crate) fn apply_ordinary(&mut self, ctx: &mut Ctx<'_, Ev>, server: ServerId, pdu: PduId) {
        let room = self.pdus[pdu as usize].room;
        match self.pdus[pdu as usize].content.clone() {
            Content::Member { user, join } => {
                self.apply_membership(ctx, server, room, user, join);
                self.append_timeline(ctx, server, room, pdu);
            }
            Content::PowerLevels { user, level } => {
                self.servers[server as usize]
                    .rooms
                    .entry(room)
                    .or_default()
                    .power
                    .insert(user, level);
                self.append_timeline(ctx, server, room, pdu);
                // SPEC 2.4: a power-level change re-checks soft-failed sticky events.
                self.reevaluate_soft_failed(ctx, server, room);
            }
            Content::Message | Content::Sticky { .. } => {
                self.append_timeline(ctx, server, room, pdu)
            }
        }
    }

    /// MSC4354: a sticky event is sticky from min(received_ts, origin_server_ts); it is
    /// accepted when its sender is joined in our current view, else soft-failed and kept.
    fn receive_sticky(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        server: ServerId,
        pdu: PduId,
        path: Path,
        attempts: u32,
    ) {
        let now = ctx.now();
        let (room, sender, ots, dur) = {
            let p = &self.pdus[pdu as usize];
            (p.room, p.sender, p.origin_server_ts, p.sticky_duration_ms())
        };
        let local = self.servers[server as usize].clock.local_ms(now);
        let Some(d) = dur else {
            // Invalid duration: an ordinary event.
            self.append_timeline(ctx, server, room, pdu);
            return;
        };
        let end_local_ms = sticky_end_local_ms(local, ots, d);
        if !self.servers[server as usize].is_joined(room, sender) {
            if end_local_ms > local {
                self.servers[server as usize]
                    .soft_failed
                    .entry(room)
                    .or_default()
                    .push(SoftFailed {
                        pdu,
                        path,
                        attempts,
                        end_local_ms,
                    });
                self.record(Obs::SoftFailed {
                    server,
                    pdu,
                    t: now,
                });
            }
            return;
        }
        self.append_timeline(ctx, server, room, pdu);
        if end_local_ms > local {
            self.accept_sticky(ctx, server, pdu, end_local_ms, path, attempts);
        }
    }

    /// The sticky event enters the server's sticky stream: clients get it through `/sync`.
    pub(crate) fn accept_sticky(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        server: ServerId,
        pdu: PduId,
        end_local_ms: i64,
        path: Path,
        attempts: u32,
    ) {
        let now = ctx.now();
        let room = self.pdus[pdu as usize].room;
        let s = &mut self.servers[server as usize];
        s.sticky_stream.push(StickyEntry {
            room,
            pdu,
            end_local_ms,
        });
        s.sticky_end.insert(pdu, end_local_ms);
        let end_at = s.clock.sim_time_of_local_ms(end_local_ms, now);
        self.record(Obs::ServerAccepted {
            server,
            pdu,
            t: now,
            path,
            attempts,
            end_at: Some(end_at),
        });
        self.wake_syncs(ctx, server);
    }

    /// SPEC 2.4: when membership or power levels change, unexpired soft-failed sticky
    /// events are re-checked and delivered if they now pass.
    pub(crate) fn reevaluate_soft_failed(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        server: ServerId,
        room: RoomId,
    ) {
        if !self.servers[server as usize]
            .cfg
            .inbound
            .reevaluate_soft_failed
        {
            return;
        }
        let local = self.servers[server as usize].clock.local_ms(ctx.now());
        let Some(list) = self.servers[server as usize].soft_failed.remove(&room) else {
            return;
        };
        let mut keep = vec![];
        for sf in list {
            if sf.end_local_ms <= local {
                continue; // expired: no longer re-evaluated
            }
            let sender = self.pdus[sf.pdu as usize].sender;
            if self.servers[server as usize].is_joined(room, sender) {
                self.accept_sticky(ctx, server, sf.pdu, sf.end_local_ms, sf.path, sf.attempts);
            } else {
                keep.push(sf);
            }
        }
        if !keep.is_empty() {
            self.servers[server as usize].soft_failed.insert(room, keep);
        }
    }

    /// A membership change as one server sees it; push_on_join and re-evaluation follow.
    pub(crate) fn apply_membership(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        server: ServerId,
        room: RoomId,
        user: ClientId,
        join: bool,
    ) {
        let user_server = self.server_of[user as usize];
        let before = self.servers[server as usize].room_servers(room, &self.server_of);
        {
            let view = self.servers[server as usize].rooms.entry(room).or_default();
            if join {
                view.members.insert(user);
            } else {
                view.members.remove(&user);
            }
        }
        self.servers[server as usize].members_epoch += 1;
        if user_server == server {
            let dev = self.servers[server as usize]
                .devices
                .entry(user)
                .or_default();
            if join {
                dev.newly_joined.insert(room);
            } else {
                dev.newly_joined.remove(&room);
            }
            let lv = self.servers[server as usize]
                .rooms
                .get(&room)
                .map(|v| v.power.clone())
                .unwrap_or_default();
            if join {
                self.clients[user as usize].pl_view.insert(room, lv);
            }
        }
        let newcomer = join && user_server != server && !before.contains(&user_server);
        if newcomer && self.servers[server as usize].cfg.federation.push_on_join {
            self.push_on_join(ctx, server, room, user_server);
        } else if newcomer {
            // push_on_join = false: the newcomer never gets our older sticky events.
            let now = ctx.now();
            for p in self.own_unexpired_sticky(server, room, now) {
                self.record(Obs::NeverSent {
                    dest: user_server,
                    pdu: p,
                    t: now,
                });
            }
        }
        self.reevaluate_soft_failed(ctx, server, room);
    }

    fn own_unexpired_sticky(&self, server: ServerId, room: RoomId, now: Time) -> Vec<PduId> {
        let s = &self.servers[server as usize];
        let local = s.clock.local_ms(now);
        s.sticky_stream
            .iter()
            .filter(|e| {
                e.room == room
                    && e.end_local_ms > local
                    && self.pdus[e.pdu as usize].origin == server
            })
            .map(|e| e.pdu)
            .collect()
    }

    /// MSC4354 "Federation behaviour": when a server joins, push our own unexpired sticky
    /// events for the room to it, oldest first.
    fn push_on_join(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        server: ServerId,
        room: RoomId,
        newcomer: ServerId,
    ) {
        for p in self.own_unexpired_sticky(server, room, ctx.now()) {
            self.enqueue_to(ctx, server, newcomer, p, true);
        }
    }

    /// get_missing_events: the asked server walks back from the missing events through
    /// prev_events, up to the asker's limit, and returns those it has (one round trip).
    pub(crate) fn on_missing_req(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        asker: ServerId,
        to: ServerId,
        room: RoomId,
        ids: Vec<PduId>,
    ) {
        let now = ctx.now();
        if !self.servers[to as usize].up {
            return;
        }
        self.clear_backoff(ctx, to, asker);
        let limit = self.servers[asker as usize]
            .cfg
            .federation
            .missing_events_limit as usize;
        let mut out = vec![];
        let mut seen = BTreeSet::new();
        let mut q: VecDeque<PduId> = ids.into_iter().collect();
        {
            let Some(have) = self.servers[to as usize].rooms.get(&room) else {
                return;
            };
            let asker_has = self.servers[asker as usize].rooms.get(&room);
            while let Some(p) = q.pop_front() {
                if out.len() >= limit {
                    break;
                }
                if !seen.insert(p)
                    || !have.known.contains(&p)
                    || asker_has.is_some_and(|a| a.known.contains(&p))
                {
                    continue;
                }
                out.push(p);
                for pp in &self.pdus[p as usize].prev_events {
                    q.push_back(*pp);
                }
            }
        }
        out.sort_by_key(|p| (self.pdus[*p as usize].created_at, *p));
        let transit = self.net.transit(to, asker, now);
        let lost = !matches!(transit, Transit::Arrives(_));
        self.trace_missing_response(to, asker, room, &out, now, lost);
        if let Transit::Arrives(l) = transit {
            ctx.schedule_in(
                l,
                Ev::MissingResp {
                    asker,
                    from: to,
                    pdus: out,
                },
            );
        }
    }

    pub(crate) fn on_missing_resp(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        asker: ServerId,
        from: ServerId,
        pdus: Vec<PduId>,
    ) {
        if !self.servers[asker as usize].up {
            return;
        }
        for p in pdus {
            self.receive_pdu(ctx, asker, from, p, Path::Transitive, 0);
        }
    }
}

use super::event::ClientId;
