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
    /// What each client's map shows per key now: key -> client -> top (lookup only).
    pub tops: HashMap<MapKey, HashMap<ClientId, Top>>,
    /// Live (joined and online) clients of each room, sorted by id; indexed by room.
    live: Vec<Vec<ClientId>>,
    /// Rooms each client is joined to (ground truth).
    rooms_of: BTreeMap<ClientId, BTreeSet<RoomId>>,
    /// Participants whose join is not yet visible to all, by key (an index of `rtc_joins`).
    joins_open: BTreeMap<MapKey, Vec<u32>>,
    /// Crashed participants still shown somewhere, by key (an index of `crashes`).
    crashes_open: BTreeMap<MapKey, Vec<u32>>,
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

    /// Live (joined and online) clients of a room, sorted by id.
    fn live_members(&self, room: RoomId) -> &[ClientId] {
        self.live.get(room as usize).map_or(&[], |v| v.as_slice())
    }

    /// Add or remove one client in a room's live list.
    fn set_live(&mut self, room: RoomId, client: ClientId, live: bool) {
        if self.live.len() <= room as usize {
            self.live.resize_with(room as usize + 1, Vec::new);
        }
        let v = &mut self.live[room as usize];
        match (v.binary_search(&client), live) {
            (Err(i), true) => v.insert(i, client),
            (Ok(i), false) => {
                v.remove(i);
            }
            _ => {}
        }
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
                    Some(tp) => match self.tops.get_mut(&key) {
                        Some(m) => {
                            m.insert(client, tp);
                        }
                        None => {
                            self.tops.insert(key.clone(), HashMap::from([(client, tp)]));
                        }
                    },
                    None => {
                        if let Some(m) = self.tops.get_mut(&key) {
                            m.remove(&client);
                        }
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
                    .rooms_of
                    .get(&client)
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default();
                for &r in &rooms {
                    self.set_live(r, client, online);
                }
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
                    self.rooms_of.entry(user).or_default().insert(room);
                } else {
                    if let Some(m) = self.room_members.get_mut(&room) {
                        m.remove(&user);
                    }
                    if let Some(m) = self.rooms_of.get_mut(&user) {
                        m.remove(&room);
                    }
                }
                let live = joined && self.online[user as usize];
                self.set_live(room, user, live);
                self.check_room(w, room, t);
            }
            Obs::RtcJoin {
                participant,
                key,
                pdu,
                t,
            } => {
                if let std::collections::btree_map::Entry::Vacant(e) =
                    self.rtc_joins.entry(participant)
                {
                    e.insert((key.clone(), pdu, t, None));
                    let open = self.joins_open.entry(key.clone()).or_default();
                    if let Err(i) = open.binary_search(&participant) {
                        open.insert(i, participant);
                    }
                }
                self.check_key(w, &key, t);
            }
            Obs::RtcCrash {
                participant,
                key,
                t,
            } => {
                if let Some((old, _, None)) =
                    self.crashes.insert(participant, (key.clone(), t, None))
                {
                    remove_open(&mut self.crashes_open, &old, participant);
                }
                let open = self.crashes_open.entry(key.clone()).or_default();
                if let Err(i) = open.binary_search(&participant) {
                    open.insert(i, participant);
                }
                self.check_key(w, &key, t);
            }
            Obs::LeaveSent { t, .. } => self.leaves.push(t),
        }
    }

    fn check_room(&mut self, w: &World, room: RoomId, t: Time) {
        // The keys of this room with an open question, in key order.
        let mut all: BTreeSet<MapKey> = BTreeSet::new();
        all.extend(keys_in_room(&self.pending_writes, room).cloned());
        all.extend(keys_in_room(&self.joins_open, room).cloned());
        all.extend(keys_in_room(&self.crashes_open, room).cloned());
        for k in all {
            self.check_key(w, &k, t);
        }
    }

    /// Re-check every open question about one key: pending writes, joins, ghosts.
    fn check_key(&mut self, w: &World, key: &MapKey, t: Time) {
        let live: &[ClientId] = self
            .live
            .get(key.room as usize)
            .map_or(&[], |v| v.as_slice());
        let tops = self.tops.get(key);
        let top_of = |c: &ClientId| tops.and_then(|m| m.get(c));
        if let Some(list) = self.pending_writes.get_mut(key) {
            let mut still = vec![];
            for &i in list.iter() {
                let wr = &self.writes[i];
                let Some(order) = Self::order_of(w, wr.pdu) else {
                    continue;
                };
                let holds = live.iter().all(|c| {
                    top_of(c)
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
                *list = still;
            }
        }
        if let Some(open) = self.joins_open.get_mut(key) {
            open.retain(|p| {
                let Some((_, pdu, _, vis)) = self.rtc_joins.get_mut(p) else {
                    return false;
                };
                let Some(order) = w.pdus[*pdu as usize].map_order() else {
                    return true;
                };
                let shows = live.iter().filter(|c| **c != key.sender).all(|c| {
                    top_of(c).is_some_and(|tp| {
                        tp.active
                            && w.pdus[tp.pdu as usize]
                                .map_order()
                                .is_some_and(|o| o >= order)
                    })
                });
                if shows {
                    *vis = Some(t);
                }
                !shows
            });
            if open.is_empty() {
                self.joins_open.remove(key);
            }
        }
        if let Some(open) = self.crashes_open.get_mut(key) {
            open.retain(|p| {
                let Some((_, crash_t, gone)) = self.crashes.get_mut(p) else {
                    return false;
                };
                if t < *crash_t {
                    return true;
                }
                let anyone = live.iter().any(|c| top_of(c).is_some_and(|tp| tp.active));
                if !anyone {
                    *gone = Some(t);
                }
                anyone
            });
            if open.is_empty() {
                self.crashes_open.remove(key);
            }
        }
    }

    /// Record the state of the world at a sample instant.
    pub fn sample(&mut self, w: &mut World, t: Time) {
        let rooms: Vec<RoomId> = (0..w.rooms.len() as RoomId).collect();
        for room in rooms {
            let live = self.live_members(room);
            let (distinct, frac) = view_agreement(w, room, live, t);
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
            let live = self.live_members(room);
            if view_agreement(w, room, live, t).0 > 1 {
                n += 1;
            }
        }
        self.end_views_divergent = n;
    }
}

/// (distinct views, fraction of client pairs that agree) among `live` clients of a room.
pub fn view_agreement(w: &World, room: RoomId, live: &[ClientId], t: Time) -> (u32, f64) {
    // A view is its winning events in key order: each event has one key, so two views are
    // equal exactly when their event lists are.
    let mut groups: BTreeMap<Vec<PduId>, u32> = BTreeMap::new();
    let mut v: Vec<PduId> = vec![];
    for c in live {
        w.clients[*c as usize].map.view_pdus_into(room, t, &mut v);
        match groups.get_mut(&v) {
            Some(n) => *n += 1,
            None => {
                groups.insert(v.clone(), 1);
            }
        }
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

/// The keys of one room in a map ordered by key (room first).
fn keys_in_room<V>(m: &BTreeMap<MapKey, V>, room: RoomId) -> impl Iterator<Item = &MapKey> {
    let lo = MapKey {
        room,
        sender: 0,
        ev_type: 0,
        sticky_key: String::new(),
    };
    m.range(lo..)
        .take_while(move |(k, _)| k.room == room)
        .map(|(k, _)| k)
}

/// Take a participant out of an open-question index.
fn remove_open(m: &mut BTreeMap<MapKey, Vec<u32>>, key: &MapKey, p: u32) {
    if let Some(v) = m.get_mut(key) {
        if let Ok(i) = v.binary_search(&p) {
            v.remove(i);
        }
        if v.is_empty() {
            m.remove(key);
        }
    }
}
