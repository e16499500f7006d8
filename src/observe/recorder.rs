//! The recorder: consumes the model's probes after every step, samples the world at every
//! `sample_interval`, and keeps what the metrics and CSV files need.

use super::convergence::{view_agreement, Open, Views};
use super::running::{Divergence, FedTotals, SyncTotals};
use super::spam::{Fresh, FreshSync};
use super::stream::{StreamTo, Streams};
use super::tally::{History, RoomTally, Tally};
use super::Path;
use crate::kernel::hash::{IdMap, IdSet};
use crate::kernel::Time;
use crate::matrix::msg::Outcome;
use crate::matrix::probe::{AttemptDone, Probe, Synced, Unqueued, Wire};
use crate::matrix::world::World;
use crate::matrix::{ClientId, PduId, ReqTag, RoomId, ServerId};
use crate::matrix::{MapKey, Top};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One `/send` attempt (a row of federation.csv).
#[derive(Clone, Debug)]
pub struct SendRow {
    pub t: Time,
    pub origin: ServerId,
    pub destination: ServerId,
    pub txn_id: u64,
    pub attempt: u32,
    pub pdus: u32,
    pub sticky_pdus: u32,
    pub bytes: u64,
    pub outcome: Outcome,
    pub retry_after: Option<Time>,
    pub next_attempt: Option<Time>,
}

/// Bytes of a `/send`: its events plus a fixed envelope.
pub const SEND_ENVELOPE_BYTES: u64 = 200;

#[derive(Clone, Debug)]
pub struct SyncRow {
    pub t: Time,
    pub client: ClientId,
    pub room_count: u32,
    pub timeline_events: u32,
    pub sticky_events: u32,
    pub inactionable: u32,
    pub bytes: u64,
    pub gappy: bool,
}

#[derive(Clone, Debug)]
pub struct ConvRow {
    pub t: Time,
    pub room: RoomId,
    pub live_clients: u32,
    pub distinct_views: u32,
    pub agreeing_pair_fraction: f64,
}

#[derive(Clone, Debug)]
pub struct SeriesRow {
    pub t: Time,
    pub server: ServerId,
    pub queue_depth: usize,
    pub in_backoff: bool,
    pub tokens: f64,
    pub deferred: usize,
    /// What a client syncing afresh there would receive.
    pub fresh: Fresh,
}

/// A sticky event as the observers know it.
#[derive(Clone, Debug)]
pub struct EventInfo {
    pub created: Time,
    pub origin_end: Time,
    /// Its position among its room's sticky events (0, 1, ...), for summary mode's bits.
    pub ord: u32,
}

/// The sticky events as the observers know them, indexed by event number (dense: one slot
/// per event of the run, in event order).
#[derive(Default)]
pub struct Events(Vec<Option<EventInfo>>);

impl Events {
    pub fn get(&self, pdu: PduId) -> Option<&EventInfo> {
        self.0.get(pdu.ix()).and_then(Option::as_ref)
    }

    fn insert(&mut self, pdu: PduId, info: EventInfo) {
        if self.0.len() <= pdu.ix() {
            self.0.resize(pdu.ix() + 1, None);
        }
        self.0[pdu.ix()] = Some(info);
    }

    /// Every sticky event with its info, in event order.
    pub fn iter(&self) -> impl Iterator<Item = (PduId, &EventInfo)> {
        self.0
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (PduId(i as u32), e)))
    }
}

/// A sticky event accepted by a server.
#[derive(Clone, Debug)]
pub struct ServerSticky {
    pub server: ServerId,
    pub pdu: PduId,
    pub from: Time,
    pub to: Time,
}

#[derive(Default)]
pub struct Observer {
    /// federation.csv, syncs.csv, convergence.csv and timeseries.csv, written as the run
    /// goes (nowhere until [`Observer::stream_to`]).
    pub streams: Streams,
    /// What the metrics need of those rows.
    pub fed_totals: FedTotals,
    pub sync_totals: SyncTotals,
    pub divergence: Divergence,
    pub max_queue_depth: usize,
    pub inactionable: u64,
    pub events: Events,
    /// (server, pdu) -> (time, path, attempts) of the first acceptance.
    pub arrivals: IdMap<(ServerId, PduId), (Time, Path, u32)>,
    /// (client, pdu) -> first time the client received it (full mode only).
    pub received: IdMap<(ClientId, PduId), Time>,
    /// Summary mode: receipts as bits and latencies counted as they come, instead of
    /// `received`.
    pub tally: Option<Tally>,
    /// Sticky events per room so far (the next `EventInfo::ord`).
    room_events: Vec<u32>,
    pub dropped: IdSet<(ServerId, PduId)>,
    pub never_sent: IdSet<(ServerId, PduId)>,
    /// (dest, pdu) -> whether dest could be reached when it expired in the queue.
    pub queue_expired: IdMap<(ServerId, PduId), bool>,
    pub soft_failed: IdSet<(ServerId, PduId)>,
    /// Ground-truth membership and online intervals: (time, state) changes.
    /// (Looked up at every receipt: hashed, not ordered; sort the keys to walk it in order.)
    pub membership: IdMap<(ClientId, RoomId), Vec<(Time, bool)>>,
    /// Indexed by client (empty for a client never seen online or offline).
    pub online_changes: Vec<Vec<(Time, bool)>>,
    pub online: Vec<bool>,
    pub room_members: BTreeMap<RoomId, BTreeSet<ClientId>>,
    /// Down intervals of each server (crashes), end None while down.
    pub down: BTreeMap<ServerId, Vec<(Time, Option<Time>)>>,
    /// Convergence, joins and ghosts: the open questions and their answers.
    pub open: Open,
    /// Cached per-(client, room) views for the convergence samples.
    views: Views,
    /// Check every cached answer against a full recomputation (tests).
    pub verify_views: bool,
    /// Every acceptance of a sticky event by a server (not kept in summary mode).
    pub server_sticky: Vec<ServerSticky>,
    /// What a client syncing afresh would receive, and the spam window.
    pub fresh: FreshSync,
    pub leaves: Vec<Time>,
    pub participants: u32,
    /// MatrixRTC member keys whose participant is in the call (joined, neither left nor
    /// crashed): the participant's id while it is, `None` after; for `rtc.false_leaves`.
    pub rtc_live: BTreeMap<MapKey, Option<u32>>,
    /// Delayed leaves a server fired while their participant was still in the call.
    pub false_leaves: u64,
    /// Heartbeats (delayed-leave restarts) the participants sent.
    pub heartbeats: u64,
    /// Joins sent by participants, by request tag, until their event is created.
    pending_joins: HashMap<ReqTag, (u32, MapKey)>,
    pub end_views_divergent: u32,
    /// Messages on the wire, in the model's order (`--trace`).
    pub wire: Vec<Wire>,
}

impl Observer {
    /// An observer for `clients` clients; `summary`: `records = "summary"`, where no
    /// per-pair receipt is kept (see [`Tally`]).
    pub fn new(clients: usize, summary: bool) -> Observer {
        Observer {
            online: vec![false; clients],
            tally: summary.then(Tally::default),
            ..Default::default()
        }
    }

    /// Where the streamed CSV files go from now on.
    pub fn stream_to(&mut self, to: StreamTo<'_>, w: &World) -> anyhow::Result<()> {
        self.streams = Streams::open(to, w)?;
        Ok(())
    }

    /// After a step at `now`: write the federation rows that are final, now and then.
    pub fn tick(&mut self, w: &World, now: Time) {
        self.streams.tick(w, now);
    }

    /// Consume everything the model reported since the last call.
    pub fn drain(&mut self, w: &mut World) {
        if w.sh.probes.is_empty() {
            return;
        }
        let mut log = w.sh.probes.take();
        for p in log.drain(..) {
            self.consume(w, p);
        }
        w.sh.probes.give_back(log);
    }

    /// Whether server `s` was down at time `t`.
    pub fn was_down(&self, s: ServerId, t: Time) -> bool {
        self.down
            .get(&s)
            .is_some_and(|ivs| ivs.iter().any(|(a, b)| *a <= t && b.is_none_or(|b| t < b)))
    }

    /// Whether a message from `a` could have reached `b` at time `t`: a route, no
    /// partition, and `b` not down.
    pub fn reachable_at(&self, w: &World, a: ServerId, b: ServerId, t: Time) -> bool {
        w.sh.net.reachable(a.0, b.0, t) && !self.was_down(b, t)
    }

    fn consume(&mut self, w: &World, p: Probe) {
        match p {
            Probe::Created {
                pdu,
                t,
                origin_end,
                tag,
            } => {
                let ev = &w.sh.pdus[pdu];
                if let Some((participant, key)) = tag.and_then(|g| self.pending_joins.remove(&g)) {
                    self.open.rtc_join(w, participant, key, pdu, t);
                }
                if ev.is_leave() {
                    self.leaves.push(t);
                }
                if let Some(end) = origin_end {
                    let room = ev.room.ix();
                    if self.room_events.len() <= room {
                        self.room_events.resize(room + 1, 0);
                    }
                    let ord = self.room_events[room];
                    self.room_events[room] += 1;
                    self.events.insert(
                        pdu,
                        EventInfo {
                            created: t,
                            origin_end: end,
                            ord,
                        },
                    );
                    if let Some(key) = ev.map_key() {
                        self.open.write(pdu, key, t, end);
                    }
                }
            }
            Probe::Accepted {
                server,
                pdu,
                t,
                arrival,
                end_at,
            } => {
                self.arrivals.entry((server, pdu)).or_insert((
                    t,
                    Path::of(arrival),
                    arrival.attempts,
                ));
                if self.tally.is_none() {
                    self.server_sticky.push(ServerSticky {
                        server,
                        pdu,
                        from: t,
                        to: end_at,
                    });
                }
                self.fresh.accept(w, server, pdu, t, end_at);
            }
            Probe::Dropped { server, pdu, .. } => {
                self.dropped.insert((server, pdu));
            }
            Probe::NotQueued { dest, pdu, .. } => {
                self.never_sent.insert((dest, pdu));
            }
            Probe::Unqueued {
                origin,
                dest,
                pdu,
                t,
                origin_end,
                why,
            } => {
                // Taken out by catch-up while still sticky: never sent. Else it expired
                // waiting; whether `dest` could be reached then tells `expired_in_queue`
                // from `unreachable`.
                if why == Unqueued::CatchUp && origin_end > t {
                    self.never_sent.insert((dest, pdu));
                } else {
                    let reachable = self.reachable_at(w, origin, dest, origin_end);
                    self.queue_expired.insert((dest, pdu), reachable);
                }
            }
            Probe::SoftFailed { server, pdu, .. } => {
                self.soft_failed.insert((server, pdu));
            }
            Probe::Attempt(a) => {
                let row = send_row(w, &a);
                self.fed_totals.add(&row);
                self.streams.fed(row);
            }
            Probe::QueueDepth { depth, .. } => {
                self.max_queue_depth = self.max_queue_depth.max(depth)
            }
            Probe::Synced(s) => self.synced(w, *s),
            Probe::MapTop {
                client,
                key,
                t,
                top,
            } => self.open.map_top(w, client, &key, t, top),
            Probe::ClientOnline { client, online, t } => {
                self.online[client.ix()] = online;
                if self.online_changes.len() <= client.ix() {
                    self.online_changes.resize_with(client.ix() + 1, Vec::new);
                }
                self.online_changes[client.ix()].push((t, online));
                self.open.set_online(w, client, online, t);
            }
            Probe::Membership {
                user,
                room,
                joined,
                t,
            } => {
                self.membership
                    .entry((user, room))
                    .or_default()
                    .push((t, joined));
                if joined {
                    self.room_members.entry(room).or_default().insert(user);
                } else if let Some(m) = self.room_members.get_mut(&room) {
                    m.remove(&user);
                }
                let online = self.online[user.ix()];
                self.open.set_member(w, user, room, joined, online, t);
            }
            Probe::ServerDown { server, t } => self.down.entry(server).or_default().push((t, None)),
            Probe::ServerUp { server, t } => {
                if let Some(last) = self.down.entry(server).or_default().last_mut() {
                    last.1 = Some(t);
                }
            }
            Probe::RtcPlanned { .. } => self.participants += 1,
            Probe::RtcJoinSent {
                participant,
                key,
                tag,
            } => {
                self.rtc_live.insert(key.clone(), Some(participant));
                self.pending_joins.insert(tag, (participant, key));
            }
            Probe::RtcCrash {
                participant,
                key,
                t,
            } => {
                self.rtc_live.insert(key.clone(), None);
                // The crash takes its client (the device) offline: every other participant
                // in a call on that client is gone without a leave too, so it is a crash,
                // not a live participant whose delayed leave fires falsely.
                let with_it: Vec<(MapKey, u32)> = self
                    .rtc_live
                    .iter()
                    .filter(|(k, _)| k.sender == key.sender)
                    .filter_map(|(k, p)| p.map(|p| (k.clone(), p)))
                    .collect();
                for (k, p) in with_it {
                    self.rtc_live.insert(k.clone(), None);
                    self.open.rtc_crash(w, p, k, t);
                }
                self.open.rtc_crash(w, participant, key, t)
            }
            Probe::RtcHeartbeat { .. } => self.heartbeats += 1,
            Probe::RtcLeft { key, .. } => {
                self.rtc_live.insert(key, None);
            }
            Probe::DelayedFired { pdu, .. } => {
                if let Some(k) = w.sh.pdus[pdu].map_key() {
                    if self.rtc_live.get(&k).is_some_and(Option::is_some) {
                        self.false_leaves += 1;
                    }
                }
            }
            Probe::Wire(m) => self.wire.push(*m),
        }
    }

    /// A client applied a sync response: what it changed in the map first (as its own
    /// probes would), then the response's row and which sticky events were actionable.
    fn synced(&mut self, w: &World, s: Synced) {
        let Synced {
            t,
            client,
            resp,
            changes,
        } = s;
        for (key, before, after) in &changes {
            self.views.map_changed(key.room);
            if after != before {
                self.open.map_top(w, client, key, t, after.clone());
            }
        }
        let changed: BTreeMap<&MapKey, (&Option<Top>, &Option<Top>)> =
            changes.iter().map(|(k, b, a)| (k, (b, a))).collect();
        let pdus = &w.sh.pdus;
        let mut inact = 0;
        let (mut timeline_events, mut sticky_events, mut gappy) = (0, 0, false);
        // Bytes of the response: an envelope, each room's part, each event, and each
        // remaining-time field.
        let mut bytes: u64 = 200;
        let history = History {
            w,
            membership: &self.membership,
            online: &self.online_changes,
        };
        let summary = self.tally.is_some();
        // Summary mode's receipts of one room's events: their lookups made at the room's
        // first receipt, once for the run of events of that room.
        let mut room_tally: Option<RoomTally<'_>> = None;
        for part in &resp.rooms {
            timeline_events += part.timeline.len() as u32;
            sticky_events += part.sticky.len() as u32;
            gappy |= part.limited;
            bytes += 100;
            bytes += part
                .timeline
                .iter()
                .map(|p| u64::from(pdus[*p].bytes))
                .sum::<u64>();
            bytes += 40 * part.timeline_remaining.len() as u64;
            bytes += part
                .sticky
                .iter()
                .map(|(p, _)| u64::from(pdus[*p].bytes) + 40)
                .sum::<u64>();
            for (pdu, _) in part.timeline_remaining.iter().chain(&part.sticky) {
                // Only events with a map key count (`map_key` is some exactly then); the
                // key itself is built only when the response changed some key.
                let p = &pdus[*pdu];
                if !(p.is_sticky_kind() && p.is_sticky()) {
                    continue;
                }
                let (before, after) = match changed.is_empty() {
                    true => (&None, &None),
                    false => p
                        .map_key()
                        .and_then(|key| changed.get(&key).copied())
                        .unwrap_or((&None, &None)),
                };
                // Actionable: it is what the key now shows, and what the key shows changed.
                let actionable = after.as_ref().is_some_and(|a| a.pdu == *pdu)
                    && before != after
                    && (after.as_ref().is_some_and(|a| a.active)
                        || before.as_ref().is_some_and(|b| b.active));
                if !summary {
                    self.received.entry((client, *pdu)).or_insert(t);
                } else if let Some(info) = self.events.get(*pdu) {
                    if room_tally.as_ref().is_none_or(|rt| rt.room() != p.room) {
                        room_tally = self
                            .tally
                            .as_mut()
                            .map(|tally| tally.room(&history, client, p.room));
                    }
                    if let Some(rt) = &mut room_tally {
                        rt.receipt(*pdu, info, t);
                    }
                }
                if !actionable {
                    inact += 1;
                }
            }
        }
        self.inactionable += inact as u64;
        let row = SyncRow {
            t,
            client,
            room_count: resp.rooms.len() as u32,
            timeline_events,
            sticky_events,
            inactionable: inact,
            bytes,
            gappy,
        };
        self.sync_totals.add(&row);
        self.streams.sync(row);
    }

    /// Record the state of the world at a sample instant.
    pub fn sample(&mut self, w: &World, t: Time) {
        for room in w.sh.dir.rooms.ids() {
            let live = self.open.live_members(room);
            let epoch = self.open.live_epoch(room);
            let (distinct, frac) = self.views.agreement(w, live, epoch, room, t);
            if self.verify_views {
                assert_eq!(
                    (distinct, frac),
                    view_agreement(w, live, room, t),
                    "views {room:?} {t}"
                );
            }
            let row = ConvRow {
                t,
                room,
                live_clients: live.len() as u32,
                distinct_views: distinct,
                agreeing_pair_fraction: frac,
            };
            self.divergence.add(&row);
            self.streams.conv(row);
        }
        for (s, sv) in w.servers.enumerate() {
            let row = SeriesRow {
                t,
                server: s,
                queue_depth: sv.queue_depth(),
                in_backoff: sv.any_backoff(t),
                tokens: sv.buckets.min_tokens_at(&sv.cfg.inbound, t),
                deferred: sv.deferred.len(),
                fresh: self.fresh.at(w, s, t),
            };
            self.streams.series(row);
        }
        // Every event at or before `t` has been handled.
        self.streams.flush(w, t);
    }

    /// Views at the end of the run: rooms whose live clients disagree.
    pub fn finish(&mut self, w: &World, t: Time) {
        self.fresh.finish(w, t);
        let mut divergent = 0;
        for r in w.sh.dir.rooms.ids() {
            let live = self.open.live_members(r);
            let epoch = self.open.live_epoch(r);
            let distinct = self.views.agreement(w, live, epoch, r, t).0;
            if self.verify_views {
                assert_eq!(distinct, view_agreement(w, live, r, t).0, "end views {r:?}");
            }
            divergent += u32::from(distinct > 1);
        }
        self.end_views_divergent = divergent;
    }
}

/// One attempt as a row of federation.csv.
fn send_row(w: &World, a: &AttemptDone) -> SendRow {
    let pdus = &w.sh.pdus;
    let body = &a.body;
    SendRow {
        t: a.t,
        origin: body.origin,
        destination: a.dest,
        txn_id: body.id.0,
        attempt: body.attempt,
        pdus: body.pdus.len() as u32,
        sticky_pdus: body.pdus.iter().filter(|e| pdus[e.pdu].is_sticky()).count() as u32,
        bytes: body
            .pdus
            .iter()
            .map(|e| u64::from(pdus[e.pdu].bytes))
            .sum::<u64>()
            + SEND_ENVELOPE_BYTES,
        outcome: a.outcome,
        retry_after: a.retry_after,
        next_attempt: a.next_attempt,
    }
}
