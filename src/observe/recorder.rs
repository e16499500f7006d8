//! The observer: consumes the world's [`Obs`] log after every step, samples the world at
//! every `sample_interval`, and keeps what the metrics and CSV files need.

use super::{Obs, Path, SendAttempt};
use crate::kernel::Time;
use crate::matrix::event::{ClientId, PduId, RoomId, ServerId};
use crate::matrix::map::{MapKey, Top};
use crate::matrix::world::World;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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
}

/// A sticky event as the observers know it.
#[derive(Clone, Debug)]
pub struct EventInfo {
    pub created: Time,
    pub origin_end: Time,
}

/// One sticky write followed to convergence.
#[derive(Clone, Debug)]
pub struct Write {
    pub pdu: PduId,
    pub key: MapKey,
    pub sent: Time,
    pub converged: Option<Time>,
}

/// A sticky event accepted by a server (for the spam window).
#[derive(Clone, Debug)]
pub struct ServerSticky {
    pub server: ServerId,
    pub pdu: PduId,
    pub from: Time,
    pub to: Time,
}

#[derive(Default)]
pub struct Observer {
    pub fed: Vec<SendAttempt>,
    pub max_queue_depth: usize,
    pub syncs: Vec<SyncRow>,
    pub inactionable: u64,
    pub events: BTreeMap<PduId, EventInfo>,
    /// (server, pdu) -> (time, path, attempts) of the first acceptance.
    pub arrivals: HashMap<(ServerId, PduId), (Time, Path, u32)>,
    /// (client, pdu) -> first time the client received it.
    pub received: HashMap<(ClientId, PduId), Time>,
    pub dropped: HashSet<(ServerId, PduId)>,
    pub never_sent: HashSet<(ServerId, PduId)>,
    pub queue_expired: HashMap<(ServerId, PduId), bool>,
    pub soft_failed: HashSet<(ServerId, PduId)>,
    /// Ground-truth membership and online intervals: (time, state) changes.
    pub membership: BTreeMap<(ClientId, RoomId), Vec<(Time, bool)>>,
    pub online_changes: BTreeMap<ClientId, Vec<(Time, bool)>>,
    pub online: Vec<bool>,
    pub room_members: BTreeMap<RoomId, BTreeSet<ClientId>>,
    /// What each client's map shows per key now.
    pub tops: HashMap<(ClientId, MapKey), Top>,
    pub writes: Vec<Write>,
    pending_writes: BTreeMap<MapKey, Vec<usize>>,
    /// participant -> (key, first join pdu, time, visible-to-all time).
    pub rtc_joins: BTreeMap<u32, (MapKey, PduId, Time, Option<Time>)>,
    /// participant -> (key, crash time, gone time).
    pub crashes: BTreeMap<u32, (MapKey, Time, Option<Time>)>,
    pub server_sticky: Vec<ServerSticky>,
    pub leaves: Vec<Time>,
    pub conv: Vec<ConvRow>,
    pub series: Vec<SeriesRow>,
    pub end_views_divergent: u32,
}

impl Observer {
    pub fn new(clients: usize) -> Observer {
        Observer {
            online: vec![false; clients],
            ..Default::default()
        }
    }

    /// Consume everything the world logged since the last call.
    pub fn drain(&mut self, w: &mut World) {
        if w.log.is_empty() {
            return;
        }
        let log = std::mem::take(&mut w.log);
        for o in log {
            self.consume(w, o);
        }
    }

    fn live_members(&self, room: RoomId) -> impl Iterator<Item = ClientId> + '_ {
        self.room_members
            .get(&room)
            .into_iter()
            .flatten()
            .copied()
            .filter(|c| self.online[*c as usize])
    }

    fn order_of(w: &World, pdu: PduId) -> Option<(i64, &str)> {
        w.pdus[pdu as usize].map_order()
    }

    fn consume(&mut self, w: &World, o: Obs) {
        match o {
            Obs::Created { pdu, t, origin_end } => {
                if let Some(end) = origin_end {
                    self.events.insert(
                        pdu,
                        EventInfo {
                            created: t,
                            origin_end: end,
                        },
                    );
                    if let Some(key) = w.map_key(pdu) {
                        let i = self.writes.len();
                        self.writes.push(Write {
                            pdu,
                            key: key.clone(),
                            sent: t,
                            converged: None,
                        });
                        self.pending_writes.entry(key).or_default().push(i);
                    }
                }
            }
            Obs::ServerAccepted {
                server,
                pdu,
                t,
                path,
                attempts,
                end_at,
            } => {
                self.arrivals
                    .entry((server, pdu))
                    .or_insert((t, path, attempts));
                if let Some(end) = end_at {
                    self.server_sticky.push(ServerSticky {
                        server,
                        pdu,
                        from: t,
                        to: end,
                    });
                }
            }
            Obs::Dropped { server, pdu, .. } => {
                self.dropped.insert((server, pdu));
            }
            Obs::NeverSent { dest, pdu, .. } => {
                self.never_sent.insert((dest, pdu));
            }
            Obs::QueueExpired {
                dest,
                pdu,
                reachable,
                ..
            } => {
                self.queue_expired.insert((dest, pdu), reachable);
            }
            Obs::SoftFailed { server, pdu, .. } => {
                self.soft_failed.insert((server, pdu));
            }
            Obs::Send(a) => self.fed.push(a),
            Obs::QueueDepth { depth, .. } => self.max_queue_depth = self.max_queue_depth.max(depth),
            Obs::Sync {
                t,
                client,
                room_count,
                timeline_events,
                sticky_events,
                bytes,
                gappy,
                applied,
            } => {
                let mut inact = 0;
                for a in &applied {
                    self.received.entry((client, a.pdu)).or_insert(t);
                    if !a.actionable {
                        inact += 1;
                    }
                }
                self.inactionable += inact as u64;
                self.syncs.push(SyncRow {
                    t,
                    client,
                    room_count,
                    timeline_events,
                    sticky_events,
                    inactionable: inact,
                    bytes,
                    gappy,
                });
            }
            Obs::MapTop {
                client,
                key,
                t,
                top,
            } => {
                match top {
                    Some(tp) => {
                        self.tops.insert((client, key.clone()), tp);
                    }
                    None => {
                        self.tops.remove(&(client, key.clone()));
                    }
                }
                self.check_key(w, &key, t);
            }
            Obs::ClientOnline { client, online, t } => {
                self.online[client as usize] = online;
                self.online_changes
                    .entry(client)
                    .or_default()
                    .push((t, online));
                let rooms: Vec<RoomId> = self
                    .room_members
                    .iter()
                    .filter(|(_, m)| m.contains(&client))
                    .map(|(r, _)| *r)
                    .collect();
                for r in rooms {
                    self.check_room(w, r, t);
                }
            }
            Obs::Membership {
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
                self.check_room(w, room, t);
            }
            Obs::RtcJoin {
                participant,
                key,
                pdu,
                t,
            } => {
                self.rtc_joins
                    .entry(participant)
                    .or_insert((key.clone(), pdu, t, None));
                self.check_key(w, &key, t);
            }
            Obs::RtcCrash {
                participant,
                key,
                t,
            } => {
                self.crashes.insert(participant, (key.clone(), t, None));
                self.check_key(w, &key, t);
            }
            Obs::LeaveSent { t, .. } => self.leaves.push(t),
        }
    }

    fn check_room(&mut self, w: &World, room: RoomId, t: Time) {
        let keys: Vec<MapKey> = self
            .pending_writes
            .keys()
            .filter(|k| k.room == room)
            .cloned()
            .collect();
        let mut all: BTreeSet<MapKey> = keys.into_iter().collect();
        all.extend(
            self.rtc_joins
                .values()
                .filter(|j| j.0.room == room && j.3.is_none())
                .map(|j| j.0.clone()),
        );
        all.extend(
            self.crashes
                .values()
                .filter(|c| c.0.room == room && c.2.is_none())
                .map(|c| c.0.clone()),
        );
        for k in all {
            self.check_key(w, &k, t);
        }
    }

    /// Re-check every open question about one key: pending writes, joins, ghosts.
    fn check_key(&mut self, w: &World, key: &MapKey, t: Time) {
        let live: Vec<ClientId> = self.live_members(key.room).collect();
        if let Some(list) = self.pending_writes.get_mut(key) {
            let mut still = vec![];
            for &i in list.iter() {
                let wr = &self.writes[i];
                let Some(order) = Self::order_of(w, wr.pdu) else {
                    continue;
                };
                let holds = live.iter().all(|c| {
                    self.tops
                        .get(&(*c, key.clone()))
                        .and_then(|tp| Self::order_of(w, tp.pdu))
                        .is_some_and(|o| o >= order)
                });
                if holds {
                    self.writes[i].converged = Some(t);
                } else if self.events.get(&wr.pdu).is_none_or(|e| e.origin_end > t) {
                    still.push(i);
                }
            }
            if still.is_empty() {
                self.pending_writes.remove(key);
            } else {
                self.pending_writes.insert(key.clone(), still);
            }
        }
        for (key2, pdu, _, vis) in self.rtc_joins.values_mut() {
            if vis.is_none() && key2 == key {
                let Some(order) = w.pdus[*pdu as usize].map_order() else {
                    continue;
                };
                let others: Vec<&ClientId> = live.iter().filter(|c| **c != key.sender).collect();
                let shows = others.iter().all(|c| {
                    self.tops.get(&(**c, key.clone())).is_some_and(|tp| {
                        tp.active
                            && w.pdus[tp.pdu as usize]
                                .map_order()
                                .is_some_and(|o| o >= order)
                    })
                });
                if shows {
                    *vis = Some(t);
                }
            }
        }
        for (key2, crash_t, gone) in self.crashes.values_mut() {
            if gone.is_none() && key2 == key && t >= *crash_t {
                let anyone = live.iter().any(|c| {
                    self.tops
                        .get(&(*c, key.clone()))
                        .is_some_and(|tp| tp.active)
                });
                if !anyone {
                    *gone = Some(t);
                }
            }
        }
    }

    /// Record the state of the world at a sample instant.
    pub fn sample(&mut self, w: &mut World, t: Time) {
        let rooms: Vec<RoomId> = (0..w.rooms.len() as RoomId).collect();
        for room in rooms {
            let live: Vec<ClientId> = self.live_members(room).collect();
            let (distinct, frac) = view_agreement(w, room, &live, t);
            self.conv.push(ConvRow {
                t,
                room,
                live_clients: live.len() as u32,
                distinct_views: distinct,
                agreeing_pair_fraction: frac,
            });
        }
        for s in 0..w.servers.len() as ServerId {
            let tokens = w.min_tokens(s, t);
            let sv = &w.servers[s as usize];
            self.series.push(SeriesRow {
                t,
                server: s,
                queue_depth: sv.queue_depth(),
                in_backoff: sv.dests.values().any(|d| d.in_backoff(t)),
                tokens,
                deferred: sv.deferred.len(),
            });
        }
    }

    /// Views at the end of the run: rooms whose live clients disagree.
    pub fn finish(&mut self, w: &World, t: Time) {
        let mut n = 0;
        for room in 0..w.rooms.len() as RoomId {
            let live: Vec<ClientId> = self.live_members(room).collect();
            if view_agreement(w, room, &live, t).0 > 1 {
                n += 1;
            }
        }
        self.end_views_divergent = n;
    }
}

/// (distinct views, fraction of client pairs that agree) among `live` clients of a room.
pub fn view_agreement(w: &World, room: RoomId, live: &[ClientId], t: Time) -> (u32, f64) {
    let mut groups: BTreeMap<Vec<(MapKey, PduId)>, u32> = BTreeMap::new();
    for c in live {
        let v: Vec<(MapKey, PduId)> = w.clients[*c as usize]
            .map
            .view(room, t)
            .into_iter()
            .map(|(k, p)| (k.clone(), p))
            .collect();
        *groups.entry(v).or_insert(0) += 1;
    }
    let n = live.len() as f64;
    let pairs = n * (n - 1.0) / 2.0;
    let agree: f64 = groups
        .values()
        .map(|g| (*g as f64) * (*g as f64 - 1.0) / 2.0)
        .sum();
    let frac = if pairs > 0.0 { agree / pairs } else { 1.0 };
    (groups.len() as u32, frac)
}
