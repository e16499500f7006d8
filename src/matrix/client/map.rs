//! The client's ephemeral key-value map (MSC4354 "Implementing an ephemeral map").
//!
//! Key: (room_id, sender, type, content.sticky_key). Winner: highest origin_server_ts +
//! duration_ms (unclamped), then highest event ID. A leave is a tombstone. With
//! `expire_entries`, what a key shows at time t is the winner among the events received
//! and not yet expired at t, so arrival order never matters.

use crate::kernel::Time;
use crate::matrix::ids::{ClientId, EvType, PduId, RoomId};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MapKey {
    pub room: RoomId,
    pub sender: ClientId,
    pub ev_type: EvType,
    pub sticky_key: Arc<str>,
}

/// One event as the map keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub pdu: PduId,
    /// (origin_server_ts + duration_ms, event ID).
    pub order: (i64, Arc<str>),
    pub leave: bool,
    /// Client time at which it expires (receipt + sticky_duration_remaining_ms).
    pub expires_at: Time,
}

/// What a key shows at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Top {
    pub pdu: PduId,
    pub active: bool,
}

#[derive(Clone, Debug, Default)]
pub struct EphemeralMap {
    pub expire_entries: bool,
    /// Per key, the candidates that can still win at some future time: sorted by order,
    /// descending; a candidate beaten by one that also outlives it is dropped.
    entries: BTreeMap<MapKey, Slot>,
    /// Bumped on every change of `entries`.
    version: u64,
    /// Per room with entries, sorted by room: `version` at the room's last change (lets an
    /// observer cache each room's view exactly, without recomputing a client's every room
    /// when one of them changed).
    room_versions: Vec<(RoomId, u64)>,
}

/// Whether a candidate still counts at `now` (always, without `expire_entries`).
fn alive(expire: bool, c: &Candidate, now: Time) -> bool {
    !expire || c.expires_at > now
}

/// What a key with these candidates (best first) shows at `now`.
fn top_of(expire: bool, list: &[Candidate], now: Time) -> Option<Top> {
    list.iter().find(|c| alive(expire, c, now)).map(|c| Top {
        pdu: c.pdu,
        active: !c.leave,
    })
}

/// One key of the map: its candidates, and the expiry timer already scheduled for it (kept
/// here rather than in a second map keyed the same way; `NO_TIMER` when none: 8 bytes
/// rather than an `Option`'s 16, in every key of every client's map).
#[derive(Clone, Debug)]
struct Slot {
    cands: Vec<Candidate>,
    expiry_at: Time,
}

/// `Slot::expiry_at` when no timer is scheduled (no timer is ever set at the end of time).
const NO_TIMER: Time = Time::MAX;

impl Default for Slot {
    fn default() -> Self {
        Slot {
            cands: Vec::new(),
            expiry_at: NO_TIMER,
        }
    }
}

impl EphemeralMap {
    pub fn new(expire_entries: bool) -> Self {
        EphemeralMap {
            expire_entries,
            entries: BTreeMap::new(),
            version: 0,
            room_versions: Vec::new(),
        }
    }

    /// A counter that changes whenever the map's entries do.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// A counter that changes whenever the entries of `room` do (0 while it has none).
    pub fn room_version(&self, room: RoomId) -> u64 {
        match self.room_versions.binary_search_by_key(&room, |e| e.0) {
            Ok(i) => self.room_versions[i].1,
            Err(_) => 0,
        }
    }

    /// The smallest key of a room (the start of its range in `entries`).
    fn room_start(room: RoomId) -> MapKey {
        // One shared empty sticky key: a range start per view would otherwise allocate.
        static EMPTY: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from(""));
        MapKey {
            room,
            sender: ClientId(0),
            ev_type: EvType(0),
            sticky_key: EMPTY.clone(),
        }
    }

    fn alive(&self, c: &Candidate, now: Time) -> bool {
        alive(self.expire_entries, c, now)
    }

    /// What `key` shows at `now`.
    pub fn top(&self, key: &MapKey, now: Time) -> Option<Top> {
        self.top_of(&self.entries.get(key)?.cands, now)
    }

    /// What a key with these candidates shows at `now`.
    fn top_of(&self, list: &[Candidate], now: Time) -> Option<Top> {
        top_of(self.expire_entries, list, now)
    }

    /// The order value of what `key` shows at `now` (for "at least as new as" checks).
    pub fn top_order(&self, key: &MapKey, now: Time) -> Option<&(i64, Arc<str>)> {
        self.entries
            .get(key)?
            .cands
            .iter()
            .find(|c| self.alive(c, now))
            .map(|c| &c.order)
    }

    /// Insert an event. Returns true if the map did not already hold it.
    pub fn insert(&mut self, key: MapKey, cand: Candidate, now: Time) -> bool {
        let expire = self.expire_entries;
        let room = key.room;
        let list = &mut self.entries.entry(key).or_default().cands;
        if list.iter().any(|c| c.pdu == cand.pdu) {
            return false;
        }
        self.version += 1;
        match self.room_versions.binary_search_by_key(&room, |e| e.0) {
            Ok(i) => self.room_versions[i].1 = self.version,
            Err(i) => self.room_versions.insert(i, (room, self.version)),
        }
        let pos = list.partition_point(|c| c.order > cand.order);
        // Prune: drop expired candidates and those beaten by a higher one that lives at
        // least as long. The new candidate is judged in its place before it is stored, so
        // a key whose newest event replaces the old one keeps a one-element vector (most
        // keys): no growth to four (160 bytes per key and client) for a moment's two.
        let mut best_expiry: Option<Time> = None;
        let mut survives = |expires_at: Time| {
            if expire && expires_at <= now {
                return false;
            }
            let keep = match best_expiry {
                None => true,
                Some(b) => expire && expires_at > b,
            };
            if keep {
                best_expiry = Some(best_expiry.map_or(expires_at, |b| b.max(expires_at)));
            }
            keep
        };
        let (mut seen, mut kept_before, mut new_kept) = (0, 0, None);
        list.retain(|c| {
            if seen == pos {
                new_kept = Some(survives(cand.expires_at));
            }
            seen += 1;
            let keep = survives(c.expires_at);
            if keep && new_kept.is_none() {
                kept_before += 1;
            }
            keep
        });
        if new_kept.unwrap_or_else(|| survives(cand.expires_at)) {
            if list.capacity() == 0 {
                list.reserve_exact(1);
            }
            list.insert(kept_before, cand);
        }
        true
    }

    /// After `key` changed at `now`: what it shows, and the expiry timer to schedule for it
    /// (its next expiry after `now`, recorded as scheduled), unless the timer already
    /// scheduled fires after `now` and no later than that. One lookup where `top`, the next
    /// expiry, [`Self::expiry_at`] and [`Self::set_expiry_at`] made four (a client applies
    /// every key of every sync response this way).
    pub fn settle(&mut self, key: &MapKey, now: Time) -> (Option<Top>, Option<Time>) {
        let expire = self.expire_entries;
        let Some(slot) = self.entries.get_mut(key) else {
            return (None, None);
        };
        let top = top_of(expire, &slot.cands, now);
        if !expire {
            return (top, None);
        }
        let Some(next) = slot
            .cands
            .iter()
            .filter(|c| c.expires_at > now)
            .map(|c| c.expires_at)
            .min()
        else {
            return (top, None);
        };
        let at = slot.expiry_at;
        if at != NO_TIMER && at > now && at <= next {
            return (top, None);
        }
        slot.expiry_at = next;
        (top, Some(next))
    }

    /// The time of the expiry timer scheduled for `key`, if any.
    pub fn expiry_at(&self, key: &MapKey) -> Option<Time> {
        let at = self.entries.get(key)?.expiry_at;
        (at != NO_TIMER).then_some(at)
    }

    /// Record (or clear) the expiry timer scheduled for a key the map holds.
    pub fn set_expiry_at(&mut self, key: &MapKey, at: Option<Time>) {
        if let Some(slot) = self.entries.get_mut(key) {
            slot.expiry_at = at.unwrap_or(NO_TIMER);
        }
    }

    /// Active keys of a room with their winning events (the client's view, MSC4354 "Implementing an ephemeral map").
    pub fn view(&self, room: RoomId, now: Time) -> Vec<(&MapKey, PduId)> {
        let lo = Self::room_start(room);
        self.entries
            .range(lo..)
            .take_while(|(k, _)| k.room == room)
            .filter_map(|(k, slot)| match self.top_of(&slot.cands, now) {
                Some(Top { pdu, active: true }) => Some((k, pdu)),
                _ => None,
            })
            .collect()
    }

    /// The winning events of the active keys of a room, in key order, into `out` (cleared
    /// first): `view` without the keys, for comparing views cheaply. Returns the earliest
    /// instant after `now` at which a candidate of the room expires (`Time::MAX` if none):
    /// until then, and while `room_version(room)` stays the same, the view does not change.
    pub fn view_pdus_into(&self, room: RoomId, now: Time, out: &mut Vec<PduId>) -> Time {
        out.clear();
        let lo = Self::room_start(room);
        let mut until = Time::MAX;
        for (_, slot) in self.entries.range(lo..).take_while(|(k, _)| k.room == room) {
            if self.expire_entries {
                for c in slot.cands.iter().filter(|c| c.expires_at > now) {
                    until = until.min(c.expires_at);
                }
            }
            if let Some(Top { pdu, active: true }) = self.top_of(&slot.cands, now) {
                out.push(pdu);
            }
        }
        until
    }

    pub fn keys_in_room(&self, room: RoomId) -> impl Iterator<Item = &MapKey> {
        let lo = Self::room_start(room);
        self.entries
            .range(lo..)
            .take_while(move |(k, _)| k.room == room)
            .map(|(k, _)| k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(k: &str) -> MapKey {
        MapKey {
            room: RoomId(0),
            sender: ClientId(1),
            ev_type: EvType(0),
            sticky_key: k.into(),
        }
    }
    fn cand(pdu: u32, ots: i64, dur: i64, id: &str, leave: bool, expires_at: Time) -> Candidate {
        Candidate {
            pdu: PduId(pdu),
            order: (ots + dur, id.into()),
            leave,
            expires_at,
        }
    }

    /// `settle`: what the key shows and the one expiry timer to schedule, by hand: A1 wins
    /// until it expires at 10 s, then A2 (beaten but longer-lived) until 20 s.
    #[test]
    fn settle_gives_the_top_and_each_expiry_timer_once() {
        const S: Time = 1_000_000;
        let mut m = EphemeralMap::new(true);
        m.insert(key("A"), cand(1, 2000, 600_000, "$a1", false, 10 * S), 0);
        m.insert(key("A"), cand(2, 1000, 600_000, "$a2", false, 20 * S), 0);
        let a1 = Some(Top {
            pdu: PduId(1),
            active: true,
        });
        assert_eq!(m.settle(&key("A"), 0), (a1.clone(), Some(10 * S)));
        assert_eq!(m.expiry_at(&key("A")), Some(10 * S));
        // The timer at 10 s is scheduled: nothing more to schedule.
        assert_eq!(m.settle(&key("A"), S), (a1, None));
        // It fires (the client clears it first): A2 shows, its own expiry is next.
        m.set_expiry_at(&key("A"), None);
        let a2 = Some(Top {
            pdu: PduId(2),
            active: true,
        });
        assert_eq!(m.settle(&key("A"), 10 * S), (a2, Some(20 * S)));
        m.set_expiry_at(&key("A"), None);
        assert_eq!(m.settle(&key("A"), 20 * S), (None, None));
        assert_eq!(m.settle(&key("B"), 0), (None, None));
        // Without expiry, no timer ever.
        let mut keep = EphemeralMap::new(false);
        keep.insert(key("A"), cand(1, 2000, 600_000, "$a1", false, 10 * S), 0);
        assert_eq!(
            keep.settle(&key("A"), 30 * S),
            (
                Some(Top {
                    pdu: PduId(1),
                    active: true
                }),
                None
            )
        );
    }

    #[test]
    fn leave_tombstones_its_key() {
        let mut m = EphemeralMap::new(true);
        m.insert(
            key("A"),
            cand(1, 1000, 600_000, "$a", false, 600_000_000),
            0,
        );
        assert_eq!(
            m.top(&key("A"), 1),
            Some(Top {
                pdu: PduId(1),
                active: true
            })
        );
        m.insert(key("A"), cand(2, 2000, 600_000, "$b", true, 600_000_000), 1);
        assert_eq!(
            m.top(&key("A"), 2),
            Some(Top {
                pdu: PduId(2),
                active: false
            })
        );
        assert!(m.view(RoomId(0), 2).is_empty());
    }

    #[test]
    fn two_hour_duration_clamped_for_expiry_still_wins_tie_break() {
        // S1: sent at t=0 with 2 h (clamped to 1 h for expiry); S2: sent at 10 min with 30 min.
        // Order: S1 = 0 + 7.2e6 > S2 = 600_000 + 1.8e6, so S1 wins while both live.
        let mut m = EphemeralMap::new(true);
        let h = 3_600_000_000u64; // one hour in us
        m.insert(key("A"), cand(1, 0, 7_200_000, "$a", false, h), 0);
        m.insert(
            key("A"),
            cand(
                2,
                600_000,
                1_800_000,
                "$b",
                false,
                600_000_000 + 1_800_000_000,
            ),
            600_000_000,
        );
        assert_eq!(m.top(&key("A"), 600_000_000).unwrap().pdu, PduId(1));
        // S2 expires at 40 min, before S1's clamped hour: S1 still shows at 50 min, and is gone after 1 h.
        assert_eq!(m.top(&key("A"), 3_000_000_000).unwrap().pdu, PduId(1));
        assert_eq!(m.top(&key("A"), h), None);
    }

    #[test]
    fn pruning_keeps_outliving_lower_candidates_in_order_and_one_slot_for_a_replaced_key() {
        let mut m = EphemeralMap::new(true);
        let pdus = |m: &EphemeralMap| -> Vec<u32> {
            m.entries[&key("A")].cands.iter().map(|c| c.pdu.0).collect()
        };
        // Order 1100 lives to 50 s; then order 3000 (to 20 s) beats it but dies first: both stay.
        m.insert(key("A"), cand(1, 100, 1000, "$a", false, 50_000_000), 0);
        m.insert(key("A"), cand(2, 2000, 1000, "$b", false, 20_000_000), 0);
        assert_eq!(pdus(&m), vec![2, 1]);
        // Order 2500 to 30 s goes between them; order 2200 to 10 s is beaten by 3000 (to 20 s).
        m.insert(key("A"), cand(3, 1500, 1000, "$c", false, 30_000_000), 0);
        m.insert(key("A"), cand(4, 1200, 1000, "$d", false, 10_000_000), 0);
        assert_eq!(pdus(&m), vec![2, 3, 1]);
        // Order 9000 living to 60 s beats all three.
        m.insert(key("A"), cand(5, 8000, 1000, "$e", false, 60_000_000), 0);
        assert_eq!(pdus(&m), vec![5]);
        // A key refreshed by ever newer events keeps one candidate in a one-element vector.
        for i in 0..5u32 {
            let t = u64::from(i) * 1_000_000;
            m.insert(
                key("B"),
                cand(
                    10 + i,
                    i64::from(i) * 1000,
                    60_000,
                    "$r",
                    false,
                    t + 60_000_000,
                ),
                t,
            );
        }
        let b = &m.entries[&key("B")].cands;
        assert_eq!((b.len(), b.capacity(), b[0].pdu), (1, 1, PduId(14)));
    }

    #[test]
    fn ties_broken_by_highest_event_id() {
        let mut m = EphemeralMap::new(true);
        m.insert(key("A"), cand(1, 100, 1000, "$b", false, 10_000_000), 0);
        m.insert(key("A"), cand(2, 100, 1000, "$a", false, 10_000_000), 0);
        assert_eq!(m.top(&key("A"), 0).unwrap().pdu, PduId(1));
    }

    #[test]
    fn without_expiry_entries_stay() {
        let mut m = EphemeralMap::new(false);
        m.insert(key("A"), cand(1, 0, 1000, "$a", false, 1_000_000), 0);
        assert_eq!(m.top(&key("A"), 5_000_000).unwrap().pdu, PduId(1));
    }

    proptest! {
        #[test]
        fn any_arrival_order_gives_the_same_map(
            evs in proptest::collection::vec((0i64..50, 0i64..50, 0u8..20, any::<bool>(), 0u64..100, 0usize..3), 1..25),
            perm_seed in any::<u64>(),
            probe in 0u64..120,
        ) {
            let keys = ["A", "B", "C"];
            let items: Vec<(MapKey, Candidate)> = evs.iter().enumerate().map(|(i, (ots, dur, id, leave, exp, k))| {
                (key(keys[*k]), cand(i as u32, *ots, *dur, &format!("${id:03}-{i}"), *leave, *exp))
            }).collect();
            let mut order: Vec<usize> = (0..items.len()).collect();
            // A deterministic shuffle from the seed.
            let mut s = perm_seed;
            for i in (1..order.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                order.swap(i, (s >> 33) as usize % (i + 1));
            }
            for expire in [true, false] {
                // Insert everything at time 0 in both orders, then compare what shows at `probe`.
                let mut a = EphemeralMap::new(expire);
                let mut b = EphemeralMap::new(expire);
                for (k, c) in items.iter() { a.insert(k.clone(), c.clone(), 0); }
                for &i in &order { b.insert(items[i].0.clone(), items[i].1.clone(), 0); }
                for k in keys {
                    prop_assert_eq!(a.top(&key(k), probe), b.top(&key(k), probe));
                }
                prop_assert_eq!(a.view(RoomId(0), probe), b.view(RoomId(0), probe));
            }
        }

        #[test]
        fn top_is_the_highest_live_candidate(
            evs in proptest::collection::vec((0i64..50, 0u8..20, any::<bool>(), 1u64..100), 1..20),
            probe in 0u64..120,
        ) {
            let mut m = EphemeralMap::new(true);
            let cands: Vec<Candidate> = evs.iter().enumerate().map(|(i, (o, id, leave, exp))| {
                Candidate { pdu: PduId(i as u32), order: (*o, format!("${id:03}-{i}").into()), leave: *leave, expires_at: *exp }
            }).collect();
            for c in &cands { m.insert(key("A"), c.clone(), 0); }
            let expected = cands.iter().filter(|c| c.expires_at > probe).max_by(|x, y| x.order.cmp(&y.order)).map(|c| Top { pdu: c.pdu, active: !c.leave });
            prop_assert_eq!(m.top(&key("A"), probe), expected);
        }
    }
}
