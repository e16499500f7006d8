//! A server going down and coming back (README "Crashes"): in-flight work is void, but
//! what it persisted stays: queued PDUs (returned to the front of their queues), sticky
//! events it accepted, delayed events (those that came due while down fire at restart).

use super::Server;
use crate::matrix::cx::Cx;
use crate::matrix::ids::DelayId;
use crate::matrix::ids::{RoomId, ServerId};
use crate::matrix::msg::{Outcome, ServerEv};
use crate::matrix::probe::{AttemptDone, Probe, Unqueued};
use crate::matrix::spec::{CatchUp, RestartCatchUp};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

impl Server {
    /// The server goes down (the world has already marked it down on the network).
    pub(crate) fn crash(&mut self, cx: &mut Cx<'_, '_>) {
        let now = cx.now();
        self.epoch += 1;
        cx.probe(Probe::ServerDown {
            server: self.id,
            t: now,
        });
        // In-flight requests fail; persisted queues keep their PDUs (returned to the front).
        let mut aborted = vec![];
        for (dest, dq) in self.dests.iter_mut() {
            if let Some(txn) = dq.in_flight.take() {
                if let Some(k) = txn.timeout {
                    cx.cancel(k);
                }
                // MSC4354 "Federation behaviour": every attempt is a row. The sender died waiting: a timeout. One
                // waiting for its retry timer was recorded when it failed.
                if let (false, Some(body)) = (txn.waiting_retry, txn.body) {
                    aborted.push(AttemptDone {
                        t: txn.attempt_started,
                        dest: *dest,
                        body,
                        outcome: Outcome::Timeout,
                        retry_after: None,
                        next_attempt: None,
                    });
                }
                for e in txn.entries.into_iter().rev() {
                    dq.queue.push_front(e);
                }
            }
            dq.start_scheduled = false;
        }
        for d in self.devices.values_mut() {
            if let Some((_, k)) = d.waiting.take() {
                cx.cancel(k);
            }
        }
        self.buckets.clear();
        self.busy_until = now;
        // Transactions being processed are lost with their answers (what was answered 200
        // is persisted).
        self.inbound_active.clear();
        for row in aborted {
            cx.probe(Probe::Attempt(Box::new(row)));
        }
    }

    /// Synapse's catch-up after a restart, with the MSC's rule that own sticky events are
    /// never dropped: the newest event per room goes first in a transaction of its own (the
    /// receiver fetches the events it misses before it with get_missing_events), then
    /// every own sticky event still sticky, in creation order. Older ordinary events are
    /// not sent again.
    fn newest_first(&mut self, cx: &mut Cx<'_, '_>, dest: ServerId) {
        let local = self.clock.local_ms(cx.now());
        let id = self.id;
        let Some(dq) = self.dests.get_mut(&dest) else {
            return;
        };
        if dq.queue.is_empty() {
            return;
        }
        let pdus = &cx.sh.pdus;
        // Expired events are dropped first (MSC4354: nothing to deliver).
        let mut expired = vec![];
        dq.queue.retain(|e| {
            let gone = pdus[e.pdu]
                .origin_end_local_ms()
                .is_some_and(|end| end <= local);
            if gone {
                expired.push(e.pdu);
            }
            !gone
        });
        let mut newest: BTreeMap<RoomId, usize> = BTreeMap::new();
        for (i, e) in dq.queue.iter().enumerate() {
            newest.insert(pdus[e.pdu].room, i);
        }
        let first: BTreeSet<usize> = newest.values().copied().collect();
        let mut head = VecDeque::new();
        let mut rest = VecDeque::new();
        for (i, e) in dq.queue.drain(..).enumerate() {
            let p = &pdus[e.pdu];
            if first.contains(&i) {
                head.push_back(e);
            } else if p.origin == id && p.is_sticky() {
                rest.push_back(e);
            }
        }
        dq.first_batch = Some(head.len());
        head.extend(rest);
        dq.queue = head;
        for pdu in expired {
            self.unqueued(cx, dest, pdu, Unqueued::Expired);
        }
    }

    /// The server is back (the world has marked it up): due delayed events fire, queues
    /// restart.
    pub(crate) fn restart(&mut self, cx: &mut Cx<'_, '_>) {
        let now = cx.now();
        cx.probe(Probe::ServerUp {
            server: self.id,
            t: now,
        });
        let due: Vec<DelayId> = self
            .delayed
            .iter()
            .filter(|(_, d)| d.fire_at <= now)
            .map(|(k, _)| *k)
            .collect();
        for delay_id in due {
            cx.server_timer(self.id, 0, ServerEv::DelayedFire { delay_id });
        }
        let fed = &self.cfg.federation;
        let latest_only = fed.catch_up == CatchUp::LatestOnly;
        let newest_first = fed.restart_catch_up == RestartCatchUp::NewestFirst;
        let dests: Vec<_> = self.dests.keys().copied().collect();
        for d in dests {
            if latest_only {
                // Synapse keeps no queue across a restart: catch-up sends the newest event per room.
                if let Some(dq) = self.dests.get_mut(&d) {
                    dq.catching_up = !dq.queue.is_empty();
                }
                self.compact_latest_only(cx, d);
            } else if newest_first {
                self.newest_first(cx, d);
            }
            self.kick(cx, d);
        }
        self.wake_syncs(cx);
    }
}
