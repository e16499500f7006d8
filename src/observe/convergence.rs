//! Convergence, joins and ghosts (README "Metrics" `convergence.*`, `rtc.*`): per key, what each
//! client's map shows, and the open questions about it: has a write reached every live
//! client, is a participant's join visible to everyone, is a crashed participant still
//! shown somewhere.

use crate::kernel::Time;
use crate::matrix::world::World;
use crate::matrix::{ClientId, EvType, MapKey, PduId, RoomId, Top};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One sticky write followed to convergence.
#[derive(Clone, Debug)]
pub struct Write {
    pub pdu: PduId,
    pub key: MapKey,
    pub sent: Time,
    /// When it stops being sticky at its origin (no longer followed after that).
    pub origin_end: Time,
    pub converged: Option<Time>,
}

#[derive(Default)]
pub struct Open {
    /// What each client's map shows per key now: key -> client -> top (lookup only).
    tops: HashMap<MapKey, HashMap<ClientId, Top>>,
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
}

impl Open {
    /// Live (joined and online) clients of a room, sorted by id.
    pub fn live_members(&self, room: RoomId) -> &[ClientId] {
        self.live.get(room.ix()).map_or(&[], |v| v.as_slice())
    }

    /// Add or remove one client in a room's live list.
    fn set_live(&mut self, room: RoomId, client: ClientId, live: bool) {
        if self.live.len() <= room.ix() {
            self.live.resize_with(room.ix() + 1, Vec::new);
        }
        let v = &mut self.live[room.ix()];
        match (v.binary_search(&client), live) {
            (Err(i), true) => v.insert(i, client),
            (Ok(i), false) => {
                v.remove(i);
            }
            _ => {}
        }
    }

    /// A sticky write to follow (its own check waits for the next change of its key).
    pub fn write(&mut self, pdu: PduId, key: MapKey, sent: Time, origin_end: Time) {
        let i = self.writes.len();
        self.writes.push(Write {
            pdu,
            key: key.clone(),
            sent,
            origin_end,
            converged: None,
        });
        self.pending_writes.entry(key).or_default().push(i);
    }

    /// A participant's first join event was created.
    pub fn rtc_join(&mut self, w: &World, participant: u32, key: MapKey, pdu: PduId, t: Time) {
        if let std::collections::btree_map::Entry::Vacant(e) = self.rtc_joins.entry(participant) {
            e.insert((key.clone(), pdu, t, None));
            let open = self.joins_open.entry(key.clone()).or_default();
            if let Err(i) = open.binary_search(&participant) {
                open.insert(i, participant);
            }
        }
        self.check_key(w, &key, t);
    }

    pub fn rtc_crash(&mut self, w: &World, participant: u32, key: MapKey, t: Time) {
        if let Some((old, _, None)) = self.crashes.insert(participant, (key.clone(), t, None)) {
            remove_open(&mut self.crashes_open, &old, participant);
        }
        let open = self.crashes_open.entry(key.clone()).or_default();
        if let Err(i) = open.binary_search(&participant) {
            open.insert(i, participant);
        }
        self.check_key(w, &key, t);
    }

    /// What a client's map shows for a key changed.
    pub fn map_top(&mut self, w: &World, client: ClientId, key: MapKey, t: Time, top: Option<Top>) {
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

    pub fn set_online(&mut self, w: &World, client: ClientId, online: bool, t: Time) {
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

    pub fn set_member(
        &mut self,
        w: &World,
        user: ClientId,
        room: RoomId,
        joined: bool,
        online: bool,
        t: Time,
    ) {
        if joined {
            self.rooms_of.entry(user).or_default().insert(room);
        } else if let Some(m) = self.rooms_of.get_mut(&user) {
            m.remove(&room);
        }
        self.set_live(room, user, joined && online);
        self.check_room(w, room, t);
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
        let pdus = &w.sh.pdus;
        let live: &[ClientId] = self.live.get(key.room.ix()).map_or(&[], |v| v.as_slice());
        let tops = self.tops.get(key);
        let top_of = |c: &ClientId| tops.and_then(|m| m.get(c));
        if let Some(list) = self.pending_writes.get_mut(key) {
            let mut still = vec![];
            for &i in list.iter() {
                let wr = &self.writes[i];
                let Some(order) = pdus[wr.pdu].map_order() else {
                    continue;
                };
                let holds = live.iter().all(|c| {
                    top_of(c)
                        .and_then(|tp| pdus[tp.pdu].map_order())
                        .is_some_and(|o| o >= order)
                });
                if holds {
                    self.writes[i].converged = Some(t);
                } else if wr.origin_end > t {
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
                let Some(order) = pdus[*pdu].map_order() else {
                    return true;
                };
                let shows = live.iter().filter(|c| **c != key.sender).all(|c| {
                    top_of(c).is_some_and(|tp| {
                        tp.active && pdus[tp.pdu].map_order().is_some_and(|o| o >= order)
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
}

/// One client's cached view of one room: valid while its map's version is `version` and
/// the sample time is before `valid_until` (the next expiry of a candidate of that room).
struct CachedView {
    version: u64,
    valid_until: Time,
    pdus: Vec<PduId>,
}

/// Each (client, room) view, recomputed only when the client's map changed or one of the
/// room's candidates expired since: exact, so the answers equal a full recomputation.
#[derive(Default)]
pub struct Views {
    cache: HashMap<(ClientId, RoomId), CachedView>,
}

impl Views {
    /// Bring the cached view of each of `live` in `room` up to date at `t` (samples come in
    /// time order, so a cached view computed earlier is still right if nothing changed and
    /// nothing expired in between).
    fn refresh(&mut self, w: &World, live: &[ClientId], room: RoomId, t: Time) {
        for c in live {
            let map = &w.clients[*c].map;
            let e = self.cache.entry((*c, room)).or_insert(CachedView {
                version: u64::MAX,
                valid_until: 0,
                pdus: vec![],
            });
            if e.version != map.version() || t >= e.valid_until {
                e.valid_until = map.view_pdus_into(room, t, &mut e.pdus);
                e.version = map.version();
            }
        }
    }

    /// (distinct views, fraction of client pairs that agree) among `live` clients of a room.
    pub fn agreement(&mut self, w: &World, live: &[ClientId], room: RoomId, t: Time) -> (u32, f64) {
        self.refresh(w, live, room, t);
        // A view is its winning events in key order: each event has one key, so two views
        // are equal exactly when their event lists are.
        let mut groups: BTreeMap<&[PduId], u32> = BTreeMap::new();
        for c in live {
            let v = self.cache[&(*c, room)].pdus.as_slice();
            *groups.entry(v).or_insert(0) += 1;
        }
        agreement_of(live.len(), groups.values())
    }
}

/// (distinct views, fraction of pairs that agree) from the group sizes, in view order.
fn agreement_of<'a>(n: usize, groups: impl Iterator<Item = &'a u32>) -> (u32, f64) {
    let n = n as f64;
    let pairs = n * (n - 1.0) / 2.0;
    let mut distinct = 0u32;
    let mut agree = 0.0f64;
    for g in groups {
        distinct += 1;
        agree += (*g as f64) * (*g as f64 - 1.0) / 2.0;
    }
    let frac = if pairs > 0.0 { agree / pairs } else { 1.0 };
    (distinct, frac)
}

/// (distinct views, fraction of client pairs that agree) among `live` clients of a room,
/// recomputed from every map (the reference the cached `Views` must equal).
pub fn view_agreement(w: &World, live: &[ClientId], room: RoomId, t: Time) -> (u32, f64) {
    let mut groups: BTreeMap<Vec<PduId>, u32> = BTreeMap::new();
    let mut v: Vec<PduId> = vec![];
    for c in live {
        w.clients[*c].map.view_pdus_into(room, t, &mut v);
        match groups.get_mut(&v) {
            Some(n) => *n += 1,
            None => {
                groups.insert(v.clone(), 1);
            }
        }
    }
    agreement_of(live.len(), groups.values())
}

/// The keys of one room in a map ordered by key (room first).
fn keys_in_room<V>(m: &BTreeMap<MapKey, V>, room: RoomId) -> impl Iterator<Item = &MapKey> {
    let lo = MapKey {
        room,
        sender: ClientId(0),
        ev_type: EvType(0),
        sticky_key: std::sync::Arc::from(""),
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
