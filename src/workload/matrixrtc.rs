//! `matrixrtc` (MSC4143 calls over MSC4354 sticky events and MSC4140 delayed events): each
//! participant behaves as matrix-js-sdk's MembershipManager does (MSC4140 and MSC4143):
//! - joining, it schedules a delayed sticky leave first (`leave_delay`), then sends its
//!   sticky join `m.rtc.member` keyed by its member ID;
//! - every `restart_every` it restarts the delayed leave; if the restart finds it gone
//!   (the server already sent the leave), it joins again, and the restart loop starts over
//!   (one loop per participant, never a second beside the first);
//! - a client restarts the delayed leave before it fires (MSC4143): a `restart_every` not
//!   below `leave_delay` is taken as `leave_delay / 2`, so a short `leave_delay` shortens
//!   the heartbeat instead of making every member leave and rejoin at every restart;
//! - it re-sends the join `resend_before_expiry` before the join's stickiness ends;
//! - a graceful leave cancels the delayed event and sends the sticky leave; a crash just
//!   stops everything, so the delayed leave fires after `leave_delay`;
//! - with a quiet tail, a stay that would reach into it ends just before it with a clean
//!   leave (a crash planned there does not happen), so no heartbeat stops and no delayed
//!   leave fires in the tail. (A crash before the tail may still see its delayed leave fire
//!   in the tail: that is the server cleaning up, and the ghost metrics measure it.)

use super::Plan;
use crate::kernel::{Ctx, Time};
use crate::matrix::event::{DurationField, MAX_STICKY_MS};
use crate::matrix::msg::{Answer, AppEv, ClientReq, DelayedLeave, Ev, StickySend};
use crate::matrix::probe::Probe;
use crate::matrix::world::World;
use crate::matrix::{ClientId, DelayId, EvType, MapKey, ReqTag, RoomId};
use crate::net::Sampler;
use crate::scenario::MatrixRtcCfg;
use rand::Rng;
use std::sync::Arc;

/// The MatrixRTC membership event type (index 0 of the directory's types).
pub const TYPE_RTC_MEMBER: EvType = EvType(0);

/// What a participant's timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Start = 0,
    Stop = 1,
    Restart = 2,
    Resend = 3,
}

impl Step {
    fn token(self, participant: u32) -> u64 {
        u64::from(participant) * 4 + self as u64
    }

    fn of(token: u64) -> (u32, Step) {
        let step = match token % 4 {
            0 => Step::Start,
            1 => Step::Stop,
            2 => Step::Restart,
            _ => Step::Resend,
        };
        ((token / 4) as u32, step)
    }
}

/// How often a participant restarts its delayed leave: `restart_every`, unless that is not
/// below `leave_delay` (the leave would fire before the restart reaches the server), then
/// `leave_delay / 2`; at least 1ms.
pub fn restart_period(leave_delay: Time, restart_every: Time) -> Time {
    let every = if restart_every >= leave_delay {
        leave_delay / 2
    } else {
        restart_every
    };
    every.max(1000)
}

/// Which participants crash: exactly `round(fraction × participants)` of them, drawn
/// without replacement from the workload's random stream among those that can crash (they
/// join before the workload stops and their stay ends before the run or its quiet tail;
/// fewer when fewer can). Sorted.
pub fn choose_crashes(
    times: &[(Time, Time)],
    fraction: f64,
    leave_by: Option<Time>,
    quiet_from: Time,
    rng: &mut impl Rng,
) -> Vec<u32> {
    let stop_from = leave_by.unwrap_or(quiet_from);
    let mut can: Vec<u32> = (0..times.len() as u32)
        .filter(|&i| {
            let (join_at, stop_at) = times[i as usize];
            join_at < stop_from && leave_by.map_or(stop_at < quiet_from, |last| stop_at < last)
        })
        .collect();
    let want = ((fraction * times.len() as f64).round() as usize).min(can.len());
    // A partial Fisher-Yates shuffle: the first `want` places are a uniform sample.
    for k in 0..want {
        let j = rng.random_range(k..can.len());
        can.swap(k, j);
    }
    let mut chosen = can[..want].to_vec();
    chosen.sort_unstable();
    chosen
}

/// A MatrixRTC participant: a client application in a call. (What every participant of a
/// workload shares is in [`Call`]; a participant is touched at every heartbeat, so it is
/// kept small.)
#[derive(Clone, Debug)]
pub struct Participant {
    /// When the pending restart is due: the one restart loop (a timer due at another time
    /// is stale, from before a rejoin reset the loop); `NONE` when none is pending.
    pub restart_at: Time,
    pub stop_at: Time,
    pub delay_id: DelayId,
    pub client: ClientId,
    pub active: bool,
    pub crash: bool,
    /// When the pending re-send of the join is due (likewise one loop); `NONE` if none.
    pub resend_at: Time,
    /// The membership's sticky key, shared by every event and request that carries it.
    pub member_key: Arc<str>,
    /// The wait before the next try of a join whose client was offline (0: none yet).
    pub start_wait: Time,
}

/// `Participant::restart_at` / `resend_at` when nothing is pending (no timer is ever due at
/// the end of time).
const NONE: Time = Time::MAX;

/// What the participants of one `matrixrtc` workload share.
#[derive(Clone, Copy, Debug)]
struct Call {
    room: RoomId,
    sticky_duration_ms: i64,
    leave_delay: Time,
    restart_every: Time,
    resend_before: Time,
    heartbeat: bool,
}

/// The first wait before a join tried while the client was offline is tried again.
const START_RETRY_FIRST: Time = crate::kernel::time::from_ms(1_000);
/// The longest wait between such tries.
const START_RETRY_MAX: Time = crate::kernel::time::from_ms(60_000);

/// The participants of one `matrixrtc` workload.
pub struct MatrixRtc {
    app: u32,
    quiet_from: Time,
    /// Global participant numbers start here (participants of earlier workloads come first).
    first: u32,
    call: Call,
    participants: Vec<Participant>,
}

impl MatrixRtc {
    pub fn plan(p: &mut Plan<'_>, m: &MatrixRtcCfg) -> anyhow::Result<MatrixRtc> {
        let room = p.room(&m.room)?;
        let clients = p.room_clients(room);
        if clients.is_empty() {
            anyhow::bail!("matrixrtc: room `{}` has no clients", m.room);
        }
        let mut rng = p.rng();
        let join = Sampler::new(&m.join);
        let stay = Sampler::new(&m.stay);
        let first = *p.participants;
        let mut participants = vec![];
        // With a quiet tail, the last instant a participant may act (just before the tail).
        let leave_by = (p.quiet_from < p.end).then(|| p.quiet_from.saturating_sub(1));
        // When each participant joins and stops: the quiet tail stops every workload action,
        // heartbeat expiry included, so a stay that would reach into it ends just before it
        // with a clean leave (which cancels the delayed leave).
        let times: Vec<(Time, Time)> = (0..m.participants)
            .map(|_| {
                let join_at = join.sample(&mut rng);
                let stop_at = join_at + stay.sample(&mut rng);
                (join_at, leave_by.map_or(stop_at, |last| stop_at.min(last)))
            })
            .collect();
        let crashing = choose_crashes(&times, m.crash_fraction, leave_by, p.quiet_from, &mut rng);
        for (n, &(join_at, stop_at)) in times.iter().enumerate() {
            let n = n as u32;
            let client = clients[n as usize % clients.len()];
            let crash = crashing.binary_search(&n).is_ok();
            let id = first + participants.len() as u32;
            participants.push(Participant {
                restart_at: NONE,
                stop_at,
                delay_id: DelayId(0),
                client,
                active: false,
                crash,
                resend_at: NONE,
                member_key: format!("_{}_{}.{n}", p.world.sh.dir.user_id(client), p.name).into(),
                start_wait: 0,
            });
            p.world.probe(Probe::RtcPlanned { participant: id });
            let local = id - first;
            let stop_from = leave_by.unwrap_or(p.quiet_from);
            if join_at < stop_from {
                p.timer(join_at, Step::Start.token(local));
                // With a tail every stay was cut to end before it; without one, a stay
                // that outlasts the run never stops.
                if leave_by.is_some() || stop_at < p.quiet_from {
                    p.timer(stop_at, Step::Stop.token(local));
                }
            }
        }
        *p.participants = first + participants.len() as u32;
        let call = Call {
            room,
            sticky_duration_ms: m.sticky_duration.ms() as i64,
            leave_delay: m.heartbeat.leave_delay.us(),
            restart_every: restart_period(
                m.heartbeat.leave_delay.us(),
                m.heartbeat.restart_every.us(),
            ),
            resend_before: m.resend_before_expiry.us(),
            heartbeat: m.heartbeat.enabled,
        };
        Ok(MatrixRtc {
            app: p.app,
            quiet_from: p.quiet_from,
            first,
            call,
            participants,
        })
    }

    fn tag(&self, local: u32) -> ReqTag {
        ReqTag {
            app: self.app,
            token: u64::from(local),
        }
    }

    fn key(&self, local: u32) -> MapKey {
        let c = self.call;
        let p = &self.participants[local as usize];
        MapKey {
            room: c.room,
            sender: p.client,
            ev_type: TYPE_RTC_MEMBER,
            sticky_key: p.member_key.clone(),
        }
    }

    fn timer(&self, ctx: &mut Ctx<'_, Ev>, delay: Time, step: Step, local: u32) {
        ctx.schedule_in(
            delay,
            Ev::App(AppEv::Timer {
                app: self.app,
                token: step.token(local),
            }),
        );
    }

    fn start(&mut self, w: &mut World, ctx: &mut Ctx<'_, Ev>, i: u32) {
        let c = self.call;
        let p = &mut self.participants[i as usize];
        if !w.client_online(p.client) {
            // MSC4143 (js-sdk MembershipManager): a join tried while offline is retried, with
            // a doubling wait from 1 s up to a minute, while the stay lasts and before the tail.
            let wait = (p.start_wait * 2).clamp(START_RETRY_FIRST, START_RETRY_MAX);
            p.start_wait = wait;
            if ctx.now() + wait < p.stop_at.min(self.quiet_from) {
                self.timer(ctx, wait, Step::Start, i);
            }
            return;
        }
        p.active = true;
        if !c.heartbeat {
            self.send_join(w, ctx, i);
            return;
        }
        // MSC4140 and MSC4143: the delayed sticky leave is scheduled first, then the join is sent.
        let delay_id = w.new_delay_id();
        p.delay_id = delay_id;
        let req = ClientReq::ScheduleDelayed(DelayedLeave {
            delay_id,
            room: c.room,
            ev_type: TYPE_RTC_MEMBER,
            key: p.member_key.clone(),
            duration_ms: c.sticky_duration_ms,
            delay: c.leave_delay,
        });
        let (client, tag) = (p.client, self.tag(i));
        w.client_send(ctx, client, req, Some(tag));
    }

    fn on_answer(&mut self, w: &mut World, ctx: &mut Ctx<'_, Ev>, i: u32, answer: Answer) {
        let c = self.call;
        let p = &self.participants[i as usize];
        if !p.active || !w.client_online(p.client) {
            return;
        }
        match answer {
            Answer::DelayScheduled => {
                self.send_join(w, ctx, i);
                // One restart loop per participant (MSC4140/js-sdk MembershipManager): a
                // rejoin resets it rather than starting a second loop beside the first.
                let p = &mut self.participants[i as usize];
                let every = c.restart_every;
                p.restart_at = ctx.now() + every;
                self.timer(ctx, every, Step::Restart, i);
            }
            // The delayed leave already fired: join again.
            Answer::DelayRestarted { found: false } => self.start(w, ctx, i),
            // Not sent: a 200 to a restart carries nothing to act on (`Server::restart_delayed`).
            Answer::DelayRestarted { found: true } => {}
        }
    }

    fn send_join(&mut self, w: &mut World, ctx: &mut Ctx<'_, Ev>, i: u32) {
        let c = self.call;
        let now = ctx.now();
        let p = &self.participants[i as usize];
        let req = ClientReq::Sticky(StickySend {
            room: c.room,
            ev_type: TYPE_RTC_MEMBER,
            key: p.member_key.clone(),
            duration: DurationField::Ms(c.sticky_duration_ms),
            leave: false,
            ots_offset_ms: 0,
            only_to: None,
        });
        let (client, tag) = (p.client, self.tag(i));
        // js-sdk: re-send the join `resend_before` before its stickiness ends (5 s).
        let again =
            crate::kernel::time::from_ms(c.sticky_duration_ms.clamp(0, MAX_STICKY_MS) as u64)
                .saturating_sub(c.resend_before);
        w.probe(Probe::RtcJoinSent {
            participant: self.first + i,
            key: self.key(i),
            tag,
        });
        w.client_send(ctx, client, req, Some(tag));
        // One re-send loop: a join sent for any reason resets it (js-sdk `UpdateExpiry`).
        let due = now + again;
        if again > 0 && due < self.quiet_from {
            self.participants[i as usize].resend_at = due;
            self.timer(ctx, again, Step::Resend, i);
        } else {
            self.participants[i as usize].resend_at = NONE;
        }
    }

    fn resend(&mut self, w: &mut World, ctx: &mut Ctx<'_, Ev>, i: u32) {
        let c = self.call;
        let p = &mut self.participants[i as usize];
        if p.resend_at != ctx.now() {
            return; // stale: a later join reset the loop
        }
        p.resend_at = NONE;
        if !p.active || ctx.now() >= p.stop_at {
            return;
        }
        if w.client_online(p.client) {
            self.send_join(w, ctx, i);
        } else {
            // MSC4354 "Proposal": an offline client re-sends its join once back online, so its
            // membership is sticky again; it tries every `resend_before` (at least 1 s) until then.
            let again = c.resend_before.max(crate::kernel::time::from_ms(1000));
            if ctx.now() + again >= self.quiet_from {
                return;
            }
            p.resend_at = ctx.now() + again;
            self.timer(ctx, again, Step::Resend, i);
        }
    }

    fn restart(&mut self, w: &mut World, ctx: &mut Ctx<'_, Ev>, i: u32) {
        let c = self.call;
        let now = ctx.now();
        let p = &mut self.participants[i as usize];
        if p.restart_at != now {
            return; // stale: a rejoin reset the loop
        }
        p.restart_at = NONE;
        if !p.active || now >= p.stop_at {
            return;
        }
        let (client, every) = (p.client, c.restart_every);
        p.restart_at = now + every;
        if !w.client_online(client) {
            // MSC4143 (js-sdk MembershipManager): an offline client keeps its restart loop and
            // restarts once back online; finding the delayed leave gone, it joins again.
            self.timer(ctx, every, Step::Restart, i);
            return;
        }
        let req = ClientReq::RestartDelayed {
            delay_id: p.delay_id,
        };
        w.probe(Probe::RtcHeartbeat {
            participant: self.first + i,
        });
        w.client_send(ctx, client, req, Some(self.tag(i)));
        self.timer(ctx, every, Step::Restart, i);
    }

    fn stop(&mut self, w: &mut World, ctx: &mut Ctx<'_, Ev>, i: u32) {
        let c = self.call;
        let now = ctx.now();
        let p = &mut self.participants[i as usize];
        if !p.active {
            return;
        }
        p.active = false;
        let p = p.clone();
        if p.crash {
            // A crash just stops everything: no more restarts, no more syncs.
            w.probe(Probe::RtcCrash {
                participant: self.first + i,
                key: self.key(i),
                t: now,
            });
            w.client_offline(ctx, p.client);
            return;
        }
        // A graceful leave cancels the delayed event and sends the sticky leave.
        w.probe(Probe::RtcLeft {
            participant: self.first + i,
            key: self.key(i),
            t: now,
        });
        if c.heartbeat {
            let req = ClientReq::CancelDelayed {
                delay_id: p.delay_id,
            };
            w.client_send(ctx, p.client, req, Some(self.tag(i)));
        }
        let req = ClientReq::Sticky(StickySend {
            room: c.room,
            ev_type: TYPE_RTC_MEMBER,
            key: p.member_key.clone(),
            duration: DurationField::Ms(c.sticky_duration_ms),
            leave: true,
            ots_offset_ms: 0,
            only_to: None,
        });
        w.client_send(ctx, p.client, req, None);
    }
}

impl super::Workload for MatrixRtc {
    fn on_app(&mut self, w: &mut World, ctx: &mut Ctx<'_, Ev>, ev: AppEv) {
        match ev {
            AppEv::Timer { token, .. } => {
                let (i, step) = Step::of(token);
                if i as usize >= self.participants.len() {
                    return;
                }
                match step {
                    Step::Start => self.start(w, ctx, i),
                    Step::Stop => self.stop(w, ctx, i),
                    Step::Restart => self.restart(w, ctx, i),
                    Step::Resend => self.resend(w, ctx, i),
                }
            }
            AppEv::Answer { tag, answer, .. } => {
                if (tag.token as usize) < self.participants.len() {
                    self.on_answer(w, ctx, tag.token as u32, answer);
                }
            }
        }
    }
}
