//! Convergence, joins and ghosts (README "Metrics" `convergence.*`, `rtc.*`): per key, what each
//! client's map shows, and the open questions about it: has a write reached every live
//! client, is a participant's join visible to everyone, is a crashed participant still
//! shown somewhere.

use crate::kernel::hash::IdMap;
use crate::kernel::Time;
use crate::matrix::world::World;
use crate::matrix::{ClientId, MapKey, PduId, RoomId, Top};
use std::collections::{BTreeMap, BTreeSet};

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

/// One key as the convergence questions follow it: what each client's map shows for it,
/// and its open questions.
struct KeyState {
    key: MapKey,
    /// What each client's map shows now (lookup only).
    tops: IdMap<ClientId, Top>,
    /// Writes (indexes into `Open::writes`) not yet seen by every live client, each with
    /// its witness: the client last found not to show it.
    pending: Vec<(usize, Witness)>,
    /// Participants whose join is not yet visible to all, sorted, each with the client
    /// last found not to show it.
    joins: Vec<(u32, Witness)>,
    /// Crashed participants still shown somewhere, sorted, each with the client last found
    /// to show it.
    crashes: Vec<(u32, Witness)>,
}

/// The client that last decided an open question (`NOBODY` before the first check). A
/// question is re-checked at every change of its key or room, and usually the client that
/// decided it last still decides it: checking that one first makes most checks O(1)
/// instead of a walk over every live client (a 50-person call's key changes often). Only
/// the order of the checks changes, never their answer.
type Witness = ClientId;
const NOBODY: ClientId = ClientId(u32::MAX);

/// Whether `pred` holds for every client of `live` (sorted) except `skip`; when it does
/// not, `witness` becomes a client for which it fails, tried first next time.
fn all_live(
    live: &[ClientId],
    skip: Option<ClientId>,
    witness: &mut Witness,
    pred: impl Fn(&ClientId) -> bool,
) -> bool {
    if *witness != NOBODY && live.binary_search(witness).is_ok() && !pred(witness) {
        return false;
    }
    match live.iter().find(|c| Some(**c) != skip && !pred(c)) {
        Some(c) => {
            *witness = *c;
            false
        }
        None => true,
    }
}

impl KeyState {
    fn is_open(&self) -> bool {
        !(self.pending.is_empty() && self.joins.is_empty() && self.crashes.is_empty())
    }
}

#[derive(Default)]
pub struct Open {
    /// Each key seen, numbered in order of first sight (an index into `keys`).
    ids: IdMap<MapKey, u32>,
    keys: Vec<KeyState>,
    /// Per room, the keys with an open question (numbers into `keys`).
    open_in_room: Vec<BTreeSet<u32>>,
    /// Live (joined and online) clients of each room, sorted by id; indexed by room.
    live: Vec<Vec<ClientId>>,
    /// Per room, a counter bumped whenever its live list changes.
    live_epochs: Vec<u64>,
    /// Rooms each client is joined to (ground truth).
    rooms_of: BTreeMap<ClientId, BTreeSet<RoomId>>,
    pub writes: Vec<Write>,
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

    /// A counter that changes whenever the room's live list does.
    pub fn live_epoch(&self, room: RoomId) -> u64 {
        self.live_epochs.get(room.ix()).copied().unwrap_or(0)
    }

    /// The number of a key, given one at first sight.
    fn id(&mut self, key: &MapKey) -> u32 {
        if let Some(&i) = self.ids.get(key) {
            return i;
        }
        let i = self.keys.len() as u32;
        self.ids.insert(key.clone(), i);
        self.keys.push(KeyState {
            key: key.clone(),
            tops: IdMap::default(),
            pending: vec![],
            joins: vec![],
            crashes: vec![],
        });
        i
    }

    /// Keep `open_in_room` in step with key `i`'s open questions.
    fn reindex(&mut self, i: u32) {
        let k = &self.keys[i as usize];
        let room = k.key.room.ix();
        if self.open_in_room.len() <= room {
            self.open_in_room.resize_with(room + 1, BTreeSet::new);
        }
        if k.is_open() {
            self.open_in_room[room].insert(i);
        } else {
            self.open_in_room[room].remove(&i);
        }
    }

    /// Add or remove one client in a room's live list.
    fn set_live(&mut self, room: RoomId, client: ClientId, live: bool) {
        if self.live.len() <= room.ix() {
            self.live.resize_with(room.ix() + 1, Vec::new);
        }
        if self.live_epochs.len() <= room.ix() {
            self.live_epochs.resize(room.ix() + 1, 0);
        }
        let v = &mut self.live[room.ix()];
        match (v.binary_search(&client), live) {
            (Err(i), true) => v.insert(i, client),
            (Ok(i), false) => {
                v.remove(i);
            }
            _ => return,
        }
        self.live_epochs[room.ix()] += 1;
    }

    /// A sticky write to follow (its own check waits for the next change of its key).
    pub fn write(&mut self, pdu: PduId, key: MapKey, sent: Time, origin_end: Time) {
        let i = self.writes.len();
        let k = self.id(&key);
        self.writes.push(Write {
            pdu,
            key,
            sent,
            origin_end,
            converged: None,
        });
        self.keys[k as usize].pending.push((i, NOBODY));
        self.reindex(k);
    }

    /// A participant's first join event was created.
    pub fn rtc_join(&mut self, w: &World, participant: u32, key: MapKey, pdu: PduId, t: Time) {
        let k = self.id(&key);
        if let std::collections::btree_map::Entry::Vacant(e) = self.rtc_joins.entry(participant) {
            e.insert((key, pdu, t, None));
            insert_sorted(&mut self.keys[k as usize].joins, participant);
            self.reindex(k);
        }
        self.check_key(w, k, t);
    }

    pub fn rtc_crash(&mut self, w: &World, participant: u32, key: MapKey, t: Time) {
        let k = self.id(&key);
        if let Some((old, _, None)) = self.crashes.insert(participant, (key, t, None)) {
            let o = self.id(&old);
            let open = &mut self.keys[o as usize].crashes;
            if let Ok(i) = open.binary_search_by_key(&participant, |e| e.0) {
                open.remove(i);
            }
            self.reindex(o);
        }
        insert_sorted(&mut self.keys[k as usize].crashes, participant);
        self.reindex(k);
        self.check_key(w, k, t);
    }

    /// What a client's map shows for a key changed.
    pub fn map_top(
        &mut self,
        w: &World,
        client: ClientId,
        key: &MapKey,
        t: Time,
        top: Option<Top>,
    ) {
        let k = match (self.ids.get(key), &top) {
            (Some(&k), _) => k,
            // A key never seen that shows nothing: nothing to record, nothing to check.
            (None, None) => return,
            (None, Some(_)) => self.id(key),
        };
        let tops = &mut self.keys[k as usize].tops;
        match top {
            Some(tp) => {
                tops.insert(client, tp);
            }
            None => {
                tops.remove(&client);
            }
        }
        self.check_key(w, k, t);
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

    /// Re-check the keys of this room with an open question (each key's questions are its
    /// own, so the order does not matter).
    fn check_room(&mut self, w: &World, room: RoomId, t: Time) {
        let Some(open) = self.open_in_room.get(room.ix()) else {
            return;
        };
        let ids: Vec<u32> = open.iter().copied().collect();
        for k in ids {
            self.check_key(w, k, t);
        }
    }

    /// Re-check every open question about one key: pending writes, joins, ghosts.
    fn check_key(&mut self, w: &World, k: u32, t: Time) {
        let pdus = &w.sh.pdus;
        let ks = &mut self.keys[k as usize];
        if !ks.is_open() {
            return;
        }
        let key = &ks.key;
        let live: &[ClientId] = self.live.get(key.room.ix()).map_or(&[], |v| v.as_slice());
        let tops = &ks.tops;
        let top_of = |c: &ClientId| tops.get(c);
        // The top is `pdu` or beats it (the same event first: no event-ID comparison).
        let covers = |tp: &Top, pdu: PduId, order: (i64, &str)| {
            tp.pdu == pdu || pdus[tp.pdu].map_order().is_some_and(|o| o >= order)
        };
        if !ks.pending.is_empty() {
            let writes = &mut self.writes;
            ks.pending.retain_mut(|(i, witness)| {
                let i = *i;
                let wr = &writes[i];
                let Some(order) = pdus[wr.pdu].map_order() else {
                    return false;
                };
                let holds = all_live(live, None, witness, |c| {
                    top_of(c).is_some_and(|tp| covers(tp, wr.pdu, order))
                });
                if holds {
                    writes[i].converged = Some(t);
                    false
                } else {
                    wr.origin_end > t
                }
            });
        }
        if !ks.joins.is_empty() {
            let joins = &mut self.rtc_joins;
            ks.joins.retain_mut(|(p, witness)| {
                let Some((_, pdu, _, vis)) = joins.get_mut(p) else {
                    return false;
                };
                let Some(order) = pdus[*pdu].map_order() else {
                    return true;
                };
                let shows = all_live(live, Some(key.sender), witness, |c| {
                    top_of(c).is_some_and(|tp| tp.active && covers(tp, *pdu, order))
                });
                if shows {
                    *vis = Some(t);
                }
                !shows
            });
        }
        if !ks.crashes.is_empty() {
            let crashes = &mut self.crashes;
            ks.crashes.retain_mut(|(p, witness)| {
                let Some((_, crash_t, gone)) = crashes.get_mut(p) else {
                    return false;
                };
                if t < *crash_t {
                    return true;
                }
                let shown = |c: &ClientId| top_of(c).is_some_and(|tp| tp.active);
                let anyone = !all_live(live, None, witness, |c| !shown(c));
                if !anyone {
                    *gone = Some(t);
                }
                anyone
            });
        }
        if !ks.is_open() {
            self.reindex(k);
        }
    }
}

/// Insert `p` (with no witness yet) into a sorted list unless it is there.
fn insert_sorted(v: &mut Vec<(u32, Witness)>, p: u32) {
    if let Err(i) = v.binary_search_by_key(&p, |e| e.0) {
        v.insert(i, (p, NOBODY));
    }
}

/// One client's cached view of one room: valid while its map's version is `version` and
/// the sample time is before `valid_until` (the next expiry of a candidate of that room).
struct CachedView {
    version: u64,
    valid_until: Time,
    pdus: Vec<PduId>,
}

/// Each (client, room) view, recomputed only when the room's part of the client's map
/// changed or one of the room's candidates expired since; and each room's answer, reused
/// while nothing of the room changed: exact, so the answers equal a full recomputation.
#[derive(Default)]
pub struct Views {
    cache: IdMap<(ClientId, RoomId), CachedView>,
    /// Per room, the last answer and when it stops holding.
    rooms: Vec<RoomAnswer>,
}

/// A room's last answer: it holds while no client's map changed in the room (`fresh`),
/// the live list is the same (`live_epoch`) and no candidate of the room has expired
/// (before `until`, the earliest `valid_until` of its live clients' views).
#[derive(Clone, Copy, Default)]
struct RoomAnswer {
    fresh: bool,
    live_epoch: u64,
    until: Time,
    answer: (u32, f64),
}

impl Views {
    /// A client's map changed in `room` (every insert comes with a `Synced` probe naming
    /// the keys it touched).
    pub fn map_changed(&mut self, room: RoomId) {
        if let Some(r) = self.rooms.get_mut(room.ix()) {
            r.fresh = false;
        }
    }

    /// Bring the cached view of each of `live` in `room` up to date at `t` (samples come in
    /// time order, so a cached view computed earlier is still right if nothing changed and
    /// nothing expired in between). Returns the earliest instant one of them expires.
    fn refresh(&mut self, w: &World, live: &[ClientId], room: RoomId, t: Time) -> Time {
        let mut until = Time::MAX;
        for c in live {
            let map = &w.clients[*c].map;
            let e = self.cache.entry((*c, room)).or_insert(CachedView {
                version: u64::MAX,
                valid_until: 0,
                pdus: vec![],
            });
            let version = map.room_version(room);
            if e.version != version || t >= e.valid_until {
                e.valid_until = map.view_pdus_into(room, t, &mut e.pdus);
                e.version = version;
            }
            until = until.min(e.valid_until);
        }
        until
    }

    /// (distinct views, fraction of client pairs that agree) among `live` clients of a room
    /// (`live_epoch`: [`Open::live_epoch`] of the room).
    pub fn agreement(
        &mut self,
        w: &World,
        live: &[ClientId],
        live_epoch: u64,
        room: RoomId,
        t: Time,
    ) -> (u32, f64) {
        if let Some(r) = self.rooms.get(room.ix()) {
            if r.fresh && r.live_epoch == live_epoch && t < r.until {
                return r.answer;
            }
        }
        let until = self.refresh(w, live, room, t);
        // A view is its winning events in key order: each event has one key, so two views
        // are equal exactly when their event lists are.
        let mut groups: BTreeMap<&[PduId], u32> = BTreeMap::new();
        for c in live {
            let v = self.cache[&(*c, room)].pdus.as_slice();
            *groups.entry(v).or_insert(0) += 1;
        }
        let answer = agreement_of(live.len(), groups.values());
        if self.rooms.len() <= room.ix() {
            self.rooms.resize(room.ix() + 1, RoomAnswer::default());
        }
        self.rooms[room.ix()] = RoomAnswer {
            fresh: true,
            live_epoch,
            until,
            answer,
        };
        answer
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// The witness is tried first and kept while it decides; the answer is the plain
    /// "every live client but `skip`" whatever the witness.
    #[test]
    fn all_live_tries_its_witness_first_and_answers_as_a_full_walk() {
        let live = [ClientId(1), ClientId(2), ClientId(3)];
        let asked = RefCell::new(vec![]);
        let fails_for = |bad: Vec<u32>| {
            let asked = &asked;
            move |c: &ClientId| {
                asked.borrow_mut().push(c.0);
                !bad.contains(&c.0)
            }
        };
        let mut w = NOBODY;
        assert!(!all_live(&live, None, &mut w, fails_for(vec![3])));
        assert_eq!((w, asked.take()), (ClientId(3), vec![1, 2, 3]));
        // Still failing for 3: one question.
        assert!(!all_live(&live, None, &mut w, fails_for(vec![3])));
        assert_eq!(asked.take(), vec![3]);
        // 3 is fine now, 1 is not: 3 first, then the walk; the witness moves.
        assert!(!all_live(&live, None, &mut w, fails_for(vec![1])));
        assert_eq!((w, asked.take()), (ClientId(1), vec![3, 1]));
        // Everyone fine: the witness, then a full walk, says so.
        assert!(all_live(&live, None, &mut w, fails_for(vec![])));
        assert_eq!(asked.take(), vec![1, 1, 2, 3]);
        // A witness no longer live is not asked, nor is `skip` (failing, but skipped).
        let mut gone = ClientId(9);
        assert!(all_live(
            &live,
            Some(ClientId(2)),
            &mut gone,
            fails_for(vec![2, 9])
        ));
        assert_eq!(asked.take(), vec![1, 3]);
    }
}
