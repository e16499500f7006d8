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
        let answer = Answer::DelayRestarted { found };
        cx.to_client(client, ClientEv::Answer { tag, answer });
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
