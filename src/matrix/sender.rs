//! The sending side of federation (SPEC 2.3): one queue and at most one `/send` in flight
//! per destination, retries inside a `/send`, per-destination backoff, catch-up.

use super::event::{PduId, RoomId, ServerId};
use super::server::{QEntry, Txn};
use super::world::{Ev, World};
use crate::kernel::{Ctx, Time};
use crate::net::{jitter, Transit};
use crate::observe::{Obs, Outcome, SendAttempt};
use crate::scenario::CatchUp;

impl World {
    /// Queue one of `origin`'s own events for every other server in the room
    /// (MSC4354 "Federation behaviour": servers send their own sticky events).
    pub(crate) fn enqueue_own(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        origin: ServerId,
        pdu: PduId,
        only_to: Option<&[ServerId]>,
    ) {
        let room = self.pdus[pdu as usize].room;
        let dests = self.servers[origin as usize].room_servers(room, &self.server_of);
        for dest in dests {
            if dest == origin {
                continue;
            }
            if only_to.is_some_and(|o| !o.contains(&dest)) {
                // Fault `equivocate`: this destination is kept from this version.
                if self.pdus[pdu as usize].is_sticky() {
                    let t = ctx.now();
                    self.record(Obs::NeverSent { dest, pdu, t });
                }
                continue;
            }
            self.enqueue_to(ctx, origin, dest, pdu, false);
        }
    }

    /// Queue a PDU for one destination.
    pub(crate) fn enqueue_to(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        origin: ServerId,
        dest: ServerId,
        pdu: PduId,
        join_push: bool,
    ) {
        let now = ctx.now();
        if self.servers[origin as usize].withholds(dest, now) {
            // Fault `withhold`: this destination never gets it.
            if self.pdus[pdu as usize].is_sticky() {
                self.record(Obs::NeverSent { dest, pdu, t: now });
            }
            return;
        }
        let catch_up = self.servers[origin as usize].cfg.federation.catch_up;
        let room = self.pdus[pdu as usize].room;
        let dq = self.servers[origin as usize].dests.entry(dest).or_default();
        let saw_backoff = dq.in_backoff(now);
        if dq.catching_up && catch_up == CatchUp::LatestOnly {
            // Synapse's catch-up: only the newest event per room is kept for this destination.
            let mut dropped = vec![];
            dq.queue.retain(|e| {
                let same = self.pdus[e.pdu as usize].room == room;
                if same {
                    dropped.push(e.pdu);
                }
                !same
            });
            for p in dropped {
                self.record_dropped_from_queue(origin, dest, p, now);
            }
        }
        let dq = self.servers[origin as usize].dests.entry(dest).or_default();
        dq.queue.push_back(QEntry {
            pdu,
            join_push,
            attempts: 0,
            saw_backoff,
        });
        let depth = dq.depth();
        self.record(Obs::QueueDepth {
            origin,
            dest,
            depth,
        });
        self.kick(ctx, origin, dest);
    }

    /// Start a transaction soon if the destination is idle and not backed off.
    pub(crate) fn kick(&mut self, ctx: &mut Ctx<'_, Ev>, origin: ServerId, dest: ServerId) {
        let now = ctx.now();
        let s = &mut self.servers[origin as usize];
        if !s.up {
            return;
        }
        let Some(dq) = s.dests.get_mut(&dest) else {
            return;
        };
        if dq.in_flight.is_some() || dq.start_scheduled || dq.queue.is_empty() {
            return;
        }
        if dq.in_backoff(now) {
            return;
        }
        dq.start_scheduled = true;
        // Same instant, after everything already scheduled now: events created together batch.
        ctx.schedule_in(0, Ev::StartTxn { origin, dest });
    }

    pub(crate) fn on_start_txn(&mut self, ctx: &mut Ctx<'_, Ev>, origin: ServerId, dest: ServerId) {
        let now = ctx.now();
        let max = self.servers[origin as usize]
            .cfg
            .federation
            .max_pdus_per_txn
            .max(1) as usize;
        {
            let s = &mut self.servers[origin as usize];
            let Some(dq) = s.dests.get_mut(&dest) else {
                return;
            };
            dq.start_scheduled = false;
            if !s.up || dq.in_flight.is_some() || dq.in_backoff(now) {
                return;
            }
        }
        // MSC4354: expired events are dropped from the queue before sending (nothing to deliver).
        let mut expired = vec![];
        let mut entries = vec![];
        {
            let local_ms = self.servers[origin as usize].clock.local_ms(now);
            let pdus = &self.pdus;
            let dq = self.servers[origin as usize]
                .dests
                .get_mut(&dest)
                .expect("checked above");
            while entries.len() < max {
                let Some(e) = dq.queue.pop_front() else { break };
                let p = &pdus[e.pdu as usize];
                if let Some(d) = p.sticky_duration_ms() {
                    let end =
                        super::event::sticky_end_local_ms(p.origin_local_ms, p.origin_server_ts, d);
                    if end <= local_ms {
                        expired.push(e.pdu);
                        continue;
                    }
                }
                entries.push(e);
            }
        }
        for p in expired {
            self.record_queue_expired(origin, dest, p, now);
        }
        if entries.is_empty() {
            return;
        }
        let id = self.next_txn;
        self.next_txn += 1;
        let dq = self.servers[origin as usize]
            .dests
            .get_mut(&dest)
            .expect("checked above");
        dq.in_flight = Some(Txn {
            id,
            entries,
            attempt: 1,
            attempt_started: now,
            timeout: None,
            waiting_retry: false,
        });
        self.send_attempt(ctx, origin, dest);
    }

    /// Put the in-flight transaction on the wire.
    fn send_attempt(&mut self, ctx: &mut Ctx<'_, Ev>, origin: ServerId, dest: ServerId) {
        let now = ctx.now();
        let timeout = self.servers[origin as usize]
            .cfg
            .federation
            .request_timeout
            .us();
        let (txn_id, attempt) = {
            let dq = self.servers[origin as usize]
                .dests
                .get_mut(&dest)
                .expect("in flight");
            let txn = dq.in_flight.as_mut().expect("in flight");
            txn.attempt_started = now;
            txn.waiting_retry = false;
            for e in &mut txn.entries {
                e.attempts += 1;
            }
            (txn.id, txn.attempt)
        };
        let key = ctx.schedule_in(
            timeout,
            Ev::TxnTimeout {
                origin,
                dest,
                txn: txn_id,
                attempt,
            },
        );
        if let Some(t) = self.servers[origin as usize]
            .dests
            .get_mut(&dest)
            .and_then(|d| d.in_flight.as_mut())
        {
            t.timeout = Some(key);
        }
        let transit = self.net.transit(origin, dest, now);
        self.trace_send(origin, dest, now, !matches!(transit, Transit::Arrives(_)));
        match transit {
            Transit::Cut | Transit::Lost => {}
            Transit::Arrives(lat) => {
                if !self.servers[dest as usize].up {
                    // Destination down: the connection is refused after one round trip.
                    let back = match self.net.transit(dest, origin, now + lat) {
                        Transit::Arrives(b) => b,
                        _ => lat,
                    };
                    self.trace_send_refused(origin, dest, txn_id, attempt, now + lat);
                    ctx.schedule_in(
                        lat + back,
                        Ev::TxnResponse {
                            origin,
                            dest,
                            txn: txn_id,
                            attempt,
                            outcome: Outcome::Refused,
                            retry_after: None,
                        },
                    );
                } else {
                    let d = &mut self.servers[dest as usize];
                    let p = d.processing.sample(&mut d.rng_misc);
                    ctx.schedule_in(
                        lat + p,
                        Ev::TxnArrive {
                            origin,
                            dest,
                            txn: txn_id,
                            attempt,
                        },
                    );
                }
            }
        }
    }

    /// The in-flight transaction if (txn, attempt) is still the live one on the wire.
    pub(crate) fn live_txn(
        &self,
        origin: ServerId,
        dest: ServerId,
        txn: u64,
        attempt: u32,
    ) -> Option<&Txn> {
        let t = self.servers[origin as usize]
            .dests
            .get(&dest)?
            .in_flight
            .as_ref()?;
        (t.id == txn && t.attempt == attempt && !t.waiting_retry).then_some(t)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_txn_response(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        origin: ServerId,
        dest: ServerId,
        txn: u64,
        attempt: u32,
        outcome: Outcome,
        retry_after: Option<Time>,
    ) {
        if !self.servers[origin as usize].up || self.live_txn(origin, dest, txn, attempt).is_none()
        {
            return;
        }
        if let Some(k) = self.servers[origin as usize]
            .dests
            .get_mut(&dest)
            .and_then(|d| d.in_flight.as_mut())
            .and_then(|t| t.timeout.take())
        {
            ctx.cancel(k);
        }
        self.finish_attempt(ctx, origin, dest, outcome, retry_after);
    }

    pub(crate) fn on_txn_timeout(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        origin: ServerId,
        dest: ServerId,
        txn: u64,
        attempt: u32,
    ) {
        if !self.servers[origin as usize].up || self.live_txn(origin, dest, txn, attempt).is_none()
        {
            return;
        }
        self.trace_send_timeout(origin, dest, txn, attempt, ctx.now());
        self.finish_attempt(ctx, origin, dest, Outcome::Timeout, None);
    }

    /// SPEC 2.3: success resets both retry levels; a failure is retried inside the `/send`
    /// (`retries`), then the destination backs off (`backoff`).
    fn finish_attempt(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        origin: ServerId,
        dest: ServerId,
        outcome: Outcome,
        retry_after: Option<Time>,
    ) {
        let now = ctx.now();
        let fed = self.servers[origin as usize].cfg.federation.clone();
        let s = &mut self.servers[origin as usize];
        let dq = s.dests.get_mut(&dest).expect("in flight");
        let txn = dq.in_flight.as_mut().expect("in flight");
        let mut row = attempt_row(&self.pdus, origin, dest, txn, outcome, retry_after);
        if outcome == Outcome::Ok {
            dq.in_flight = None;
            dq.failures = 0;
            dq.backoff_until = None;
            dq.failing_since = None;
            dq.catching_up = false;
            self.record(Obs::Send(row));
            self.kick(ctx, origin, dest);
            return;
        }
        dq.failing_since.get_or_insert(txn.attempt_started);
        let honour = fed.honour_retry_after && outcome == Outcome::RateLimited;
        if txn.attempt <= fed.retries.count {
            // Retry inside this /send: first x multiplier^k, capped, then jittered (Synapse).
            let k = (txn.attempt - 1) as i32;
            let base = (fed.retries.first.us() as f64 * fed.retries.multiplier.powi(k))
                .min(fed.retries.max.us() as f64);
            let mut wait = (base * jitter(&mut s.rng_fed, fed.retries.jitter)).round() as Time;
            if honour {
                wait = wait.max(retry_after.unwrap_or(0));
            }
            txn.attempt += 1;
            txn.waiting_retry = true;
            txn.timeout = None;
            let id = txn.id;
            row.next_attempt = Some(now + wait);
            ctx.schedule_in(
                wait,
                Ev::RetryTxn {
                    origin,
                    dest,
                    txn: id,
                },
            );
            self.record(Obs::Send(row));
            return;
        }
        // Retries spent: the destination backs off; its PDUs go back to the queue, in order.
        let txn = dq.in_flight.take().expect("in flight");
        for mut e in txn.entries.into_iter().rev() {
            e.saw_backoff = true;
            dq.queue.push_front(e);
        }
        for e in dq.queue.iter_mut() {
            e.saw_backoff = true;
        }
        dq.failures += 1;
        let base = (fed.backoff.initial.us() as f64
            * fed.backoff.multiplier.powi(dq.failures as i32 - 1))
        .min(fed.backoff.max.us() as f64);
        let mut wait = (base * jitter(&mut s.rng_fed, fed.backoff.jitter)).round() as Time;
        if honour {
            wait = wait.max(retry_after.unwrap_or(0));
        }
        let until = now + wait;
        dq.backoff_until = Some(until);
        let failing_for = now - dq.failing_since.unwrap_or(now);
        if fed.catch_up == CatchUp::LatestOnly && failing_for >= fed.catch_up_after.us() {
            dq.catching_up = true;
        }
        let wake_at = next_tick(until, fed.wake_interval.us());
        if let Some(k) = dq.wake.take() {
            ctx.cancel(k);
        }
        dq.wake = Some(ctx.schedule_at(wake_at, Ev::Wake { origin, dest }));
        row.next_attempt = Some(wake_at);
        self.record(Obs::Send(row));
        if self.servers[origin as usize].dests[&dest].catching_up {
            self.compact_latest_only(origin, dest, now);
        }
    }

    /// Synapse's catch-up (`latest_only`): the queue is emptied but for the newest event per room.
    pub(crate) fn compact_latest_only(&mut self, origin: ServerId, dest: ServerId, now: Time) {
        let Some(dq) = self.servers[origin as usize].dests.get_mut(&dest) else {
            return;
        };
        let mut newest: std::collections::BTreeMap<RoomId, usize> = Default::default();
        for (i, e) in dq.queue.iter().enumerate() {
            newest.insert(self.pdus[e.pdu as usize].room, i);
        }
        let keep: std::collections::BTreeSet<usize> = newest.values().copied().collect();
        let mut dropped = vec![];
        let mut i = 0;
        dq.queue.retain(|e| {
            let k = keep.contains(&i);
            i += 1;
            if !k {
                dropped.push(e.pdu);
            }
            k
        });
        for p in dropped {
            self.record_dropped_from_queue(origin, dest, p, now);
        }
    }

    /// A sticky PDU taken out of a queue by catch-up: never sent if it was still sticky,
    /// else it had already expired waiting (unreachable if the destination was cut off then).
    fn record_dropped_from_queue(
        &mut self,
        origin: ServerId,
        dest: ServerId,
        pdu: PduId,
        now: Time,
    ) {
        if !self.pdus[pdu as usize].is_sticky() {
            return;
        }
        if self.origin_end(pdu) <= now {
            self.record_queue_expired(origin, dest, pdu, now);
        } else {
            self.record(Obs::NeverSent { dest, pdu, t: now });
        }
    }

    /// A sticky PDU found expired in the queue towards `dest`; whether `dest` could be
    /// reached when it expired tells `expired_in_queue` from `unreachable`.
    fn record_queue_expired(&mut self, origin: ServerId, dest: ServerId, pdu: PduId, now: Time) {
        let end = self.origin_end(pdu);
        let reachable = self.reachable_at(origin, dest, end);
        self.record(Obs::QueueExpired {
            dest,
            pdu,
            t: now,
            reachable,
        });
    }

    pub(crate) fn on_retry_txn(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        origin: ServerId,
        dest: ServerId,
        txn: u64,
    ) {
        let ok = self.servers[origin as usize].up
            && self.servers[origin as usize]
                .dests
                .get(&dest)
                .and_then(|d| d.in_flight.as_ref())
                .is_some_and(|t| t.id == txn && t.waiting_retry);
        if ok {
            self.send_attempt(ctx, origin, dest);
        }
    }

    /// SPEC 2.3: after a backoff ends, the next transaction starts at the sender's next
    /// wake-up tick (or earlier, on new data or a request from the destination).
    pub(crate) fn on_wake(&mut self, ctx: &mut Ctx<'_, Ev>, origin: ServerId, dest: ServerId) {
        if let Some(dq) = self.servers[origin as usize].dests.get_mut(&dest) {
            dq.wake = None;
        }
        self.kick(ctx, origin, dest);
    }

    /// SPEC 2.3 (as Synapse does): any request received from a server ends our backoff towards it.
    pub(crate) fn clear_backoff(
        &mut self,
        ctx: &mut Ctx<'_, Ev>,
        server: ServerId,
        towards: ServerId,
    ) {
        let now = ctx.now();
        if let Some(dq) = self.servers[server as usize].dests.get_mut(&towards) {
            if dq.in_backoff(now) || dq.failures > 0 {
                dq.backoff_until = None;
                dq.failures = 0;
                dq.failing_since = None;
                if let Some(k) = dq.wake.take() {
                    ctx.cancel(k);
                }
            }
        }
        self.kick(ctx, server, towards);
    }

    /// The simulated time at which a sticky event stops being sticky by its origin's clock.
    pub fn origin_end(&self, pdu: PduId) -> Time {
        let p = &self.pdus[pdu as usize];
        let Some(d) = p.sticky_duration_ms() else {
            return p.created_at;
        };
        let o = &self.servers[p.origin as usize];
        let end = super::event::sticky_end_local_ms(p.origin_local_ms, p.origin_server_ts, d);
        o.clock.sim_time_of_local_ms(end, p.created_at)
    }
}

/// One `/send` attempt as a row of federation.csv (SPEC 2.3: every attempt is a row).
pub(crate) fn attempt_row(
    pdus: &[super::event::Pdu],
    origin: ServerId,
    dest: ServerId,
    txn: &Txn,
    outcome: Outcome,
    retry_after: Option<Time>,
) -> SendAttempt {
    let of = |e: &QEntry| &pdus[e.pdu as usize];
    SendAttempt {
        t: txn.attempt_started,
        origin,
        destination: dest,
        txn_id: txn.id,
        attempt: txn.attempt,
        pdus: txn.entries.len() as u32,
        sticky_pdus: txn.entries.iter().filter(|e| of(e).is_sticky()).count() as u32,
        // Event bytes plus a fixed envelope.
        bytes: txn.entries.iter().map(|e| of(e).bytes as u64).sum::<u64>() + 200,
        outcome,
        retry_after,
        next_attempt: None,
    }
}

/// The first multiple of `interval` at or after `t` (`interval` 0: `t` itself).
pub fn next_tick(t: Time, interval: Time) -> Time {
    if interval == 0 {
        t
    } else {
        t.div_ceil(interval) * interval
    }
}
