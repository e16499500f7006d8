//! MSC4140 delayed events at the server: schedule, restart (the send time becomes now +
//! delay), cancel, and the server sending the event itself when it comes due (the
//! MatrixRTC delayed leave of a participant that went silent).

use super::{Delayed, Server};
use crate::matrix::cx::Cx;
use crate::matrix::event::{Content, DurationField};
use crate::matrix::ids::{ClientId, DelayId, ReqTag};
use crate::matrix::msg::{Answer, ClientEv, DelayedLeave, ServerEv};
use crate::matrix::probe::Probe;
use crate::matrix::probe::Wire;

impl Server {
    pub(crate) fn schedule_delayed(
        &mut self,
        cx: &mut Cx<'_, '_>,
        client: ClientId,
        d: &DelayedLeave,
        tag: Option<ReqTag>,
    ) {
        let now = cx.now();
        let timer = cx.server_timer(
            self.id,
            d.delay,
            ServerEv::DelayedFire {
                delay_id: d.delay_id,
            },
        );
        self.delayed.insert(
            d.delay_id,
            Delayed {
                client,
                room: d.room,
                ev_type: d.ev_type,
                key: d.key.clone(),
                duration_ms: d.duration_ms,
                delay: d.delay,
                fire_at: now + d.delay,
                timer: Some(timer),
            },
        );
        let answer = Answer::DelayScheduled;
        cx.to_client(client, ClientEv::Answer { tag, answer });
    }

    /// MSC4140 `restart`: the send time becomes now + delay. Returns whether the delayed
    /// event existed (a 404 tells the client it already fired).
    pub(crate) fn restart_delayed(
        &mut self,
        cx: &mut Cx<'_, '_>,
        client: ClientId,
        delay_id: DelayId,
        tag: Option<ReqTag>,
    ) -> bool {
        let now = cx.now();
        let found = match self.delayed.get_mut(&delay_id) {
            Some(d) => {
                if let Some(k) = d.timer.take() {
                    cx.cancel(k);
                }
                d.fire_at = now + d.delay;
                d.timer =
                    Some(cx.server_timer(self.id, d.delay, ServerEv::DelayedFire { delay_id }));
                true
            }
            None => false,
        };
        if found {
            // A 200 to a restart tells the client nothing it acts on (its restart loop runs on
            // its own timer), so no event carries it: the link's latency is still drawn, so
            // every random stream, and every later event's order, is what it would be.
            // (A sixth of a large federation's kernel events were these answers.)
            cx.sh.links[client].hop();
        } else {
            let answer = Answer::DelayRestarted { found };
            cx.to_client(client, ClientEv::Answer { tag, answer });
        }
        found
    }

    /// MSC4140 `cancel`. Returns whether the delayed event existed.
    pub(crate) fn cancel_delayed(&mut self, cx: &mut Cx<'_, '_>, delay_id: DelayId) -> bool {
        match self.delayed.remove(&delay_id) {
            Some(d) => {
                if let Some(k) = d.timer {
                    cx.cancel(k);
                }
                true
            }
            None => false,
        }
    }

    /// A delayed event comes due: the server sends the sticky leave itself.
    pub(crate) fn on_delayed_fire(&mut self, cx: &mut Cx<'_, '_>, delay_id: DelayId) {
        let now = cx.now();
        let due = self
            .delayed
            .get(&delay_id)
            .is_some_and(|d| d.fire_at <= now);
        if !due || !self.is_up(cx) {
            return;
        }
        let d = self.delayed.remove(&delay_id).expect("checked");
        if !self.is_joined(d.room, d.client) {
            return;
        }
        let content = Content::Sticky {
            ev_type: d.ev_type,
            key: d.key,
            duration: DurationField::Ms(d.duration_ms),
            leave: true,
        };
        let pdu = self.new_event(cx, d.room, d.client, content, 0, None);
        cx.probe(Probe::DelayedFired { pdu, t: now });
        let server = self.id;
        cx.wire(|| Wire::DelayedFire {
            t: now,
            server,
            pdu,
            delay_id,
        });
        self.create_local(cx, pdu, None, None);
    }
}

#[cfg(test)]
mod tests {
    use crate::matrix::ids::{DelayId, ReqTag};
    use crate::matrix::msg::DelayedLeave;
    use crate::matrix::testkit::*;

    /// MSC4140: schedule a delayed leave at 0 (8 s), restart it at 5 s, let it fire, then
    /// restart it again. Client links are a constant 10 ms.
    #[test]
    fn a_restart_moves_the_send_time_and_only_a_404_is_answered() {
        let mut k = Builder::same(1, cfg0()).room("r", &["hs1"]).build();
        let (s, c, r) = (k.server("hs1"), k.client("hs1/0"), k.room("r"));
        let tag = Some(ReqTag { app: 0, token: 7 });
        let d = DelayedLeave {
            delay_id: DelayId(1),
            room: r,
            ev_type: RTC,
            key: "m".into(),
            duration_ms: HOUR_MS,
            delay: 8 * SEC,
        };
        k.with_cx(|srv, _, cx| srv[s].schedule_delayed(cx, c, &d, tag));
        assert_eq!(
            k.labels(),
            lbl(&[
                (10 * MS, "hs1/0: Answer DelayScheduled"),
                (8 * SEC, "hs1: DelayedFire 1")
            ])
        );
        // Restarted at 5 s: it now fires at 13 s; the 200 is not carried by any event (the
        // client acts on nothing in it), the old timer is cancelled.
        k.at(5 * SEC);
        let found = k.with_cx(|srv, _, cx| srv[s].restart_delayed(cx, c, DelayId(1), tag));
        assert!(found);
        assert_eq!(k.labels(), lbl(&[(13 * SEC, "hs1: DelayedFire 1")]));
        // It fires at 13 s: the server sends the leave; a restart after that is a 404,
        // answered at 20 s + 10 ms so that the client joins again.
        k.at(13 * SEC);
        k.to_server(
            s,
            crate::matrix::msg::ServerEv::DelayedFire {
                delay_id: DelayId(1),
            },
        );
        assert!(k.srv(s).delayed.is_empty());
        k.scheduled();
        k.at(20 * SEC);
        let found = k.with_cx(|srv, _, cx| srv[s].restart_delayed(cx, c, DelayId(1), tag));
        assert!(!found);
        assert_eq!(
            k.labels(),
            lbl(&[(
                20 * SEC + 10 * MS,
                "hs1/0: Answer DelayRestarted { found: false }"
            )])
        );
    }
}
