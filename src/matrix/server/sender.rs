//! The sending side of federation (MSC4354 "Federation behaviour"): a server
//! sends its own sticky events; one queue and at most one `/send` in flight per
//! destination; retries inside a `/send`; per-destination backoff; catch-up.

use super::{InFlight, Server};
use crate::kernel::Time;
use crate::matrix::cx::Cx;
use crate::matrix::ids::{PduId, RoomId, ServerId, TxnId};
use crate::matrix::msg::{
    AttemptRef, Outcome, ServerEv, TxnArrival, TxnBody, TxnEntry, TxnResponse,
};
use crate::matrix::probe::{AttemptDone, NotQueued, Probe, Unqueued, Wire};
use crate::matrix::spec::{BackoffRule, CatchUp};
use crate::net::{jitter, Transit};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The first multiple of `interval` at or after `t` (`interval` 0: `t` itself).
pub fn next_tick(t: Time, interval: Time) -> Time {
    if interval == 0 {
        t
    } else {
        t.div_ceil(interval).saturating_mul(interval)
    }
}

impl Server {
    /// Queue one of this server's own events for every other server in the room
    /// (MSC4354 "Federation behaviour": servers send their own sticky events).
    pub(crate) fn enqueue_own(
        &mut self,
        cx: &mut Cx<'_, '_>,
        pdu: PduId,
        only_to: Option<&[ServerId]>,
    ) {
        let room = cx.sh.pdus[pdu].room;
        for dest in self.room_servers(cx, room) {
            if dest == self.id {
                continue;
            }
            if only_to.is_some_and(|o| !o.contains(&dest)) {
                // Fault `equivocate`: this destination is kept from this version.
                self.not_queued(cx, dest, pdu, NotQueued::Excluded);
                continue;
            }
            self.enqueue_to(cx, dest, pdu, false);
        }
    }

    fn not_queued(&self, cx: &mut Cx<'_, '_>, dest: ServerId, pdu: PduId, why: NotQueued) {
        if cx.sh.pdus[pdu].is_sticky() {
            let t = cx.now();
            cx.probe(Probe::NotQueued { dest, pdu, t, why });
        }
    }

    /// Queue a PDU for one destination.
    pub(crate) fn enqueue_to(
        &mut self,
        cx: &mut Cx<'_, '_>,
        dest: ServerId,
        pdu: PduId,
        join_push: bool,
    ) {
        let now = cx.now();
        if self.withholds(dest, now) {
            // Fault `withhold`: this destination never gets it.
            self.not_queued(cx, dest, pdu, NotQueued::Withheld);
            return;
        }
        let catch_up = self.cfg.federation.catch_up;
        let room = cx.sh.pdus[pdu].room;
        let dq = self.dests.entry(dest).or_default();
        let saw_backoff = dq.in_backoff(now);
        if dq.catching_up && catch_up == CatchUp::LatestOnly {
            // Synapse's catch-up: only the newest event per room is kept for this destination.
            let pdus = &cx.sh.pdus;
            let mut dropped = vec![];
            dq.queue.retain(|e| {
                let same = pdus[e.pdu].room == room;
                if same {
                    dropped.push(e.pdu);
                }
                !same
            });
            for p in dropped {
                self.unqueued(cx, dest, p, Unqueued::CatchUp);
            }
        }
        let dq = self.dests.entry(dest).or_default();
        dq.queue.push_back(TxnEntry {
            pdu,
            join_push,
            attempts: 0,
            saw_backoff,
        });
        let depth = dq.depth();
        cx.probe(Probe::QueueDepth {
            origin: self.id,
            dest,
            depth,
        });
        self.kick(cx, dest);
    }

    /// A sticky PDU left the queue towards `dest` unsent.
    pub(crate) fn unqueued(&self, cx: &mut Cx<'_, '_>, dest: ServerId, pdu: PduId, why: Unqueued) {
        let p = &cx.sh.pdus[pdu];
        if !p.is_sticky() {
            return;
        }
        let origin_end = self.own_end(p);
        let t = cx.now();
        cx.probe(Probe::Unqueued {
            origin: self.id,
            dest,
            pdu,
            t,
            origin_end,
            why,
        });
    }

    /// Start a transaction soon if the destination is idle and not backed off.
    pub(crate) fn kick(&mut self, cx: &mut Cx<'_, '_>, dest: ServerId) {
        let now = cx.now();
        if !self.is_up(cx) {
            return;
        }
        let Some(dq) = self.dests.get_mut(&dest) else {
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
        cx.server_timer(self.id, 0, ServerEv::StartTxn { dest });
    }

    pub(crate) fn on_start_txn(&mut self, cx: &mut Cx<'_, '_>, dest: ServerId) {
        let now = cx.now();
        let max = self.cfg.federation.max_pdus_per_txn.max(1) as usize;
        let up = self.is_up(cx);
        let Some(dq) = self.dests.get_mut(&dest) else {
            return;
        };
        dq.start_scheduled = false;
        if !up || dq.in_flight.is_some() || dq.in_backoff(now) {
            return;
        }
        // A restart's catch-up transaction carries the newest event per room alone.
        let catch_up = dq.first_batch.take();
        let max = catch_up.map_or(max, |n| n.clamp(1, max));
        // MSC4354: expired events are dropped from the queue before sending (nothing to deliver).
        let local_ms = self.clock.local_ms(now);
        let mut expired = vec![];
        let mut entries = vec![];
        while entries.len() < max {
            let Some(e) = dq.queue.pop_front() else { break };
            if cx.sh.pdus[e.pdu]
                .origin_end_local_ms()
                .is_some_and(|end| end <= local_ms)
            {
                expired.push(e.pdu);
                continue;
            }
            entries.push(e);
        }
        for p in expired {
            self.unqueued(cx, dest, p, Unqueued::Expired);
        }
        if entries.is_empty() {
            return;
        }
        let id = cx.sh.new_txn_id();
        let dq = self.dests.get_mut(&dest).expect("checked above");
        dq.in_flight = Some(InFlight {
            id,
            entries,
            attempt: 1,
            attempt_started: now,
            body: None,
            timeout: None,
            waiting_retry: false,
            catch_up: catch_up.is_some(),
        });
        self.send_attempt(cx, dest);
    }

    /// Put the in-flight transaction on the wire.
    fn send_attempt(&mut self, cx: &mut Cx<'_, '_>, dest: ServerId) {
        let now = cx.now();
        let origin = self.id;
        let timeout = self.cfg.federation.request_timeout.us();
        let origin_server_ts = self.clock.local_ms(now);
        let txn = self
            .dests
            .get_mut(&dest)
            .and_then(|d| d.in_flight.as_mut())
            .expect("in flight");
        txn.attempt_started = now;
        txn.waiting_retry = false;
        for e in &mut txn.entries {
            e.attempts += 1;
        }
        let body = Arc::new(TxnBody {
            id: txn.id,
            origin,
            attempt: txn.attempt,
            origin_server_ts,
            pdus: txn.entries.clone(),
        });
        txn.body = Some(body.clone());
        let at = body.attempt_ref(dest);
        txn.timeout = Some(cx.server_timer(origin, timeout, ServerEv::TxnTimeout(at)));
        let transit = cx.transit(origin, dest, 0);
        let lost = !matches!(transit, Transit::Arrives(_));
        cx.wire(|| Wire::Send {
            t: now,
            dest,
            body: body.clone(),
            lost,
        });
        let Transit::Arrives(lat) = transit else {
            return; // cut or lost: the origin times out
        };
        if !cx.sh.up[dest] {
            // Destination down: the connection is refused after one round trip.
            let back = match cx.transit(dest, origin, lat) {
                Transit::Arrives(b) => b,
                _ => lat,
            };
            cx.wire(|| Wire::SendAnswer {
                t: now + lat,
                origin,
                dest,
                txn: at.txn,
                attempt: at.attempt,
                outcome: Outcome::Refused,
                retry_after: None,
                body: None,
                lost: false,
            });
            let resp = TxnResponse {
                at,
                outcome: Outcome::Refused,
                retry_after: None,
            };
            cx.server_timer(origin, lat + back, ServerEv::TxnResponse(Box::new(resp)));
        } else {
            cx.server_timer(dest, lat, ServerEv::Txn(TxnArrival { body }));
        }
    }

    pub(crate) fn on_txn_response(&mut self, cx: &mut Cx<'_, '_>, r: TxnResponse) {
        if !self.is_up(cx) || self.live_attempt(r.at).is_none() {
            return;
        }
        if let Some(k) = self
            .dests
            .get_mut(&r.at.dest)
            .and_then(|d| d.in_flight.as_mut())
            .and_then(|t| t.timeout.take())
        {
            cx.cancel(k);
        }
        self.finish_attempt(cx, r.at.dest, r.outcome, r.retry_after);
    }

    pub(crate) fn on_txn_timeout(&mut self, cx: &mut Cx<'_, '_>, at: AttemptRef) {
        if !self.is_up(cx) || self.live_attempt(at).is_none() {
            return;
        }
        let (t, origin) = (cx.now(), self.id);
        cx.wire(|| Wire::SendAnswer {
            t,
            origin,
            dest: at.dest,
            txn: at.txn,
            attempt: at.attempt,
            outcome: Outcome::Timeout,
            retry_after: None,
            body: None,
            lost: false,
        });
        self.finish_attempt(cx, at.dest, Outcome::Timeout, None);
    }

    /// MSC4354 "Federation behaviour": success resets both retry levels; a failure is retried inside the `/send`
    /// (`retries`), then the destination backs off (`backoff`).
    fn finish_attempt(
        &mut self,
        cx: &mut Cx<'_, '_>,
        dest: ServerId,
        outcome: Outcome,
        retry_after: Option<Time>,
    ) {
        let now = cx.now();
        let origin = self.id;
        let fed = &self.cfg.federation;
        let dq = self.dests.get_mut(&dest).expect("in flight");
        let txn = dq.in_flight.as_mut().expect("in flight");
        let mut row = AttemptDone {
            t: txn.attempt_started,
            dest,
            body: txn.body.clone().expect("sent"),
            outcome,
            retry_after,
            next_attempt: None,
        };
        if outcome == Outcome::Ok {
            dq.in_flight = None;
            dq.failures = 0;
            dq.backoff_interval = None;
            dq.backoff_until = None;
            dq.failing_since = None;
            dq.catching_up = false;
            cx.probe(Probe::Attempt(Box::new(row)));
            self.kick(cx, dest);
            return;
        }
        dq.failing_since.get_or_insert(txn.attempt_started);
        let honour = fed.honour_retry_after && outcome == Outcome::RateLimited;
        if txn.attempt <= fed.retries.count {
            // Retry inside this /send: first x multiplier^k, capped, then jittered (Synapse).
            let k = (txn.attempt - 1) as i32;
            let base = (fed.retries.first.us() as f64 * fed.retries.multiplier.powi(k))
                .min(fed.retries.max.us() as f64);
            let mut wait = (base * jitter(&mut self.rng_fed, fed.retries.jitter)).round() as Time;
            if honour {
                wait = wait.max(retry_after.unwrap_or(0));
            }
            txn.attempt += 1;
            txn.waiting_retry = true;
            txn.timeout = None;
            let id = txn.id;
            row.next_attempt = Some(now + wait);
            cx.server_timer(origin, wait, ServerEv::RetryTxn { dest, txn: id });
            cx.probe(Probe::Attempt(Box::new(row)));
            return;
        }
        // Retries spent: the destination backs off; its PDUs go back to the queue, in order
        // (a catch-up transaction stays one of its own).
        let txn = dq.in_flight.take().expect("in flight");
        if txn.catch_up {
            dq.first_batch = Some(txn.entries.len());
        }
        for mut e in txn.entries.into_iter().rev() {
            e.saw_backoff = true;
            dq.queue.push_front(e);
        }
        for e in dq.queue.iter_mut() {
            e.saw_backoff = true;
        }
        dq.failures += 1;
        let b = &fed.backoff;
        let interval = match (b.rule, dq.backoff_interval) {
            // Synapse (retryutils.py): the first backoff is exactly the initial interval.
            (BackoffRule::Synapse, None) => b.initial.us(),
            // Each later one compounds: previous × multiplier × jitter, capped.
            (BackoffRule::Synapse, Some(prev)) => {
                let j = jitter(&mut self.rng_fed, b.jitter);
                ((prev as f64 * b.multiplier * j).round() as Time).min(b.max.us())
            }
            (BackoffRule::Independent, _) => {
                let base = (b.initial.us() as f64 * b.multiplier.powi(dq.failures as i32 - 1))
                    .min(b.max.us() as f64);
                (base * jitter(&mut self.rng_fed, b.jitter)).round() as Time
            }
        };
        dq.backoff_interval = Some(interval);
        let mut wait = interval;
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
            cx.cancel(k);
        }
        dq.wake = Some(cx.server_timer_at(origin, wake_at, ServerEv::Wake { dest }));
        row.next_attempt = Some(wake_at);
        let catching_up = dq.catching_up;
        cx.probe(Probe::Attempt(Box::new(row)));
        if catching_up {
            self.compact_latest_only(cx, dest);
        }
    }

    /// Synapse's catch-up (`latest_only`): the queue is emptied but for the newest event per room.
    pub(crate) fn compact_latest_only(&mut self, cx: &mut Cx<'_, '_>, dest: ServerId) {
        let Some(dq) = self.dests.get_mut(&dest) else {
            return;
        };
        let mut newest: BTreeMap<RoomId, usize> = BTreeMap::new();
        for (i, e) in dq.queue.iter().enumerate() {
            newest.insert(cx.sh.pdus[e.pdu].room, i);
        }
        let keep: BTreeSet<usize> = newest.values().copied().collect();
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
            self.unqueued(cx, dest, p, Unqueued::CatchUp);
        }
    }

    pub(crate) fn on_retry_txn(&mut self, cx: &mut Cx<'_, '_>, dest: ServerId, txn: TxnId) {
        let ok = self.is_up(cx)
            && self
                .dests
                .get(&dest)
                .and_then(|d| d.in_flight.as_ref())
                .is_some_and(|t| t.id == txn && t.waiting_retry);
        if ok {
            self.send_attempt(cx, dest);
        }
    }

    /// MSC4354 "Federation behaviour": after a backoff ends, the next transaction starts at the sender's next
    /// wake-up tick (or earlier, on new data or a request from the destination).
    pub(crate) fn on_wake(&mut self, cx: &mut Cx<'_, '_>, dest: ServerId) {
        if let Some(dq) = self.dests.get_mut(&dest) {
            dq.wake = None;
        }
        self.kick(cx, dest);
    }

    /// MSC4354 "Federation behaviour" (as Synapse does): any request received from a server ends our backoff
    /// towards it.
    pub(crate) fn clear_backoff(&mut self, cx: &mut Cx<'_, '_>, towards: ServerId) {
        let now = cx.now();
        if let Some(dq) = self.dests.get_mut(&towards) {
            if dq.in_backoff(now) || dq.failures > 0 {
                dq.backoff_until = None;
                dq.backoff_interval = None;
                dq.failures = 0;
                dq.failing_since = None;
                if let Some(k) = dq.wake.take() {
                    cx.cancel(k);
                }
            }
        }
        self.kick(cx, towards);
    }
}

#[cfg(test)]
mod tests;
