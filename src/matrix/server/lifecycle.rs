//! A server going down and coming back (SPEC 2.8 `crash`): in-flight work is void, but
//! what it persisted stays: queued PDUs (returned to the front of their queues), sticky
//! events it accepted, delayed events (those that came due while down fire at restart).

use super::Server;
use crate::matrix::cx::Cx;
use crate::matrix::ids::DelayId;
use crate::matrix::msg::{Outcome, ServerEv};
use crate::matrix::probe::{AttemptDone, Probe};
use crate::matrix::spec::CatchUp;

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
                // SPEC 2.3: every attempt is a row. The sender died waiting: a timeout. One
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
        for row in aborted {
            cx.probe(Probe::Attempt(Box::new(row)));
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
        let latest_only = self.cfg.federation.catch_up == CatchUp::LatestOnly;
        let dests: Vec<_> = self.dests.keys().copied().collect();
        for d in dests {
            if latest_only {
                // Synapse keeps no queue across a restart: catch-up sends the newest event per room.
                if let Some(dq) = self.dests.get_mut(&d) {
                    dq.catching_up = !dq.queue.is_empty();
                }
                self.compact_latest_only(cx, d);
            }
            self.kick(cx, d);
        }
        self.wake_syncs(cx);
    }
}
