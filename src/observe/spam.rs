//! What a client syncing afresh would receive (README "Metrics" `spam.*`, the `fresh_*` columns of
//! timeseries.csv): MSC4354 "Sync API changes" gives an initial sync every unexpired sticky
//! event of each joined room, so per (server, room) this follows the server's unexpired sticky
//! events as they are accepted and expire, and what of them a client could act on. Updated
//! incrementally from the `Accepted` probes and an expiry queue: nothing scans all events.

use crate::kernel::hash::IdMap;
use crate::kernel::Time;
use crate::matrix::world::World;
use crate::matrix::{ClientId, MapKey, PduId, RoomId, ServerId};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A sender's live keys in one room beyond this many are a flood (README "Reading the
/// metrics"): ten devices in one call, ten live-location shares at once.
pub const FLOOD_KEYS: usize = 10;

/// Bytes of the remaining-time field each sticky event carries in a sync response (as
/// syncs.csv counts it).
pub const STICKY_FIELD_BYTES: u64 = 40;

/// What a fresh sync at one server would carry, summed over its rooms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fresh {
    /// Unexpired sticky events.
    pub sticky: usize,
    /// Of them, inactionable: a leave that wins its key, or beaten for its key.
    pub inactionable: usize,
    /// Bytes of the inactionable ones (event plus remaining-time field).
    pub inactionable_bytes: u64,
    /// Actionable keys beyond [`FLOOD_KEYS`] per sender.
    pub flood: usize,
}

/// One key's unexpired events at one server, with its winner (MSC4354 "Ephemeral map":
/// highest origin_server_ts + duration, then highest event ID).
#[derive(Default)]
struct Key {
    live: Vec<PduId>,
    winner: Option<PduId>,
}

/// One (server, room).
#[derive(Default)]
struct Group {
    keys: IdMap<MapKey, Key>,
    /// Actionable keys per sender (for the flood).
    per_sender: IdMap<ClientId, usize>,
    live: usize,
    live_bytes: u64,
    actionable: usize,
    actionable_bytes: u64,
    flood: usize,
    /// The instant the current state holds from.
    since: Time,
    run_start: Option<Time>,
}

impl Group {
    fn fresh(&self) -> Fresh {
        Fresh {
            sticky: self.live,
            inactionable: self.live - self.actionable,
            inactionable_bytes: self.live_bytes - self.actionable_bytes,
            flood: self.flood,
        }
    }

    /// A spam instant: what a fresh sync would carry that the client cannot use
    /// (inactionable events and flood keys) outweighs what it needs (the other actionable
    /// keys).
    fn spam(&self) -> bool {
        let waste = self.live - self.actionable + self.flood;
        waste > self.actionable - self.flood
    }
}

fn bytes(w: &World, p: PduId) -> u64 {
    u64::from(w.sh.pdus[p].bytes) + STICKY_FIELD_BYTES
}

/// The fresh-sync tracker and the `spam.*` figures.
#[derive(Default)]
pub struct FreshSync {
    /// Hashed, not ordered: looked up at every acceptance and expiry (a tree walk over
    /// every (server, room) was 2% of a 10 000-server run); only `finish` walks them all, and
    /// what it adds up (integer sums, the longest window) does not depend on the order.
    groups: IdMap<(ServerId, RoomId), Group>,
    expiries: BinaryHeap<Reverse<(Time, ServerId, PduId)>>,
    servers: Vec<Fresh>,
    /// `spam.window_ms` (µs) and whether the longest window reached the run's end.
    pub longest: Time,
    pub censored: bool,
    /// `spam.inactionable_integral` in event-µs.
    pub integral: u128,
}

impl FreshSync {
    /// `server` accepted sticky event `pdu` at `t`; it stays sticky there until `end`.
    pub fn accept(&mut self, w: &World, server: ServerId, pdu: PduId, t: Time, end: Time) {
        self.expire_until(w, t);
        if end <= t {
            return;
        }
        if self.change(w, server, pdu, t, true) {
            self.expiries.push(Reverse((end, server, pdu)));
        }
    }

    /// Take out every event that stopped being sticky at or before `t`.
    pub fn expire_until(&mut self, w: &World, t: Time) {
        while let Some(Reverse((at, server, pdu))) = self.expiries.peek().copied() {
            if at > t {
                break;
            }
            self.expiries.pop();
            self.change(w, server, pdu, at, false);
        }
    }

    /// What a fresh sync at `server` would carry at `t`.
    pub fn at(&mut self, w: &World, server: ServerId, t: Time) -> Fresh {
        self.expire_until(w, t);
        self.servers.get(server.ix()).copied().unwrap_or_default()
    }

    /// Close the windows at the run's end (events still sticky then are cut there).
    pub fn finish(&mut self, w: &World, end: Time) {
        self.expire_until(w, end);
        let (mut longest, mut censored, mut integral) =
            (self.longest, self.censored, self.integral);
        for g in self.groups.values_mut() {
            if g.since < end {
                settle(g, end, end, &mut longest, &mut censored, &mut integral);
            }
            if let Some(s) = g.run_start.take() {
                close(s, end, end, &mut longest, &mut censored);
            }
        }
        (self.longest, self.censored, self.integral) = (longest, censored, integral);
    }

    /// One event starts or stops being sticky at a server; false when nothing changed.
    fn change(&mut self, w: &World, server: ServerId, pdu: PduId, t: Time, start: bool) -> bool {
        let ev = &w.sh.pdus[pdu];
        let Some(key) = ev.map_key() else {
            return false;
        };
        let g = self.groups.entry((server, ev.room)).or_default();
        if t > g.since {
            settle(
                g,
                t,
                Time::MAX,
                &mut self.longest,
                &mut self.censored,
                &mut self.integral,
            );
        }
        let before = g.fresh();
        let sender = key.sender;
        if !start && !g.keys.get(&key).is_some_and(|k| k.live.contains(&pdu)) {
            return false;
        }
        let k = g.keys.entry(key.clone()).or_default();
        let old_winner = k.winner.filter(|p| !w.sh.pdus[*p].is_leave());
        if start {
            if k.live.contains(&pdu) {
                return false;
            }
            k.live.push(pdu);
            g.live += 1;
            g.live_bytes += bytes(w, pdu);
            if k.winner.is_none_or(|b| beats(w, pdu, b)) {
                k.winner = Some(pdu);
            }
        } else {
            let Some(i) = k.live.iter().position(|p| *p == pdu) else {
                return false;
            };
            k.live.swap_remove(i);
            g.live -= 1;
            g.live_bytes -= bytes(w, pdu);
            if k.winner == Some(pdu) {
                k.winner = k
                    .live
                    .iter()
                    .copied()
                    .reduce(|a, b| if beats(w, b, a) { b } else { a });
            }
        }
        // Actionable: the key's winner is not a leave.
        let new_winner = k.winner.filter(|p| !w.sh.pdus[*p].is_leave());
        if k.live.is_empty() {
            g.keys.remove(&key);
        }
        if let Some(p) = old_winner {
            g.actionable -= 1;
            g.actionable_bytes -= bytes(w, p);
        }
        if let Some(p) = new_winner {
            g.actionable += 1;
            g.actionable_bytes += bytes(w, p);
        }
        let delta = new_winner.is_some() as i64 - old_winner.is_some() as i64;
        if delta != 0 {
            let n = g.per_sender.entry(sender).or_insert(0);
            let old_flood = n.saturating_sub(FLOOD_KEYS);
            *n = (*n as i64 + delta) as usize;
            let new_flood = n.saturating_sub(FLOOD_KEYS);
            if *n == 0 {
                g.per_sender.remove(&sender);
            }
            g.flood = g.flood + new_flood - old_flood;
        }
        let after = g.fresh();
        if self.servers.len() <= server.ix() {
            self.servers.resize(server.ix() + 1, Fresh::default());
        }
        let s = &mut self.servers[server.ix()];
        s.sticky = s.sticky + after.sticky - before.sticky;
        s.inactionable = s.inactionable + after.inactionable - before.inactionable;
        s.inactionable_bytes =
            s.inactionable_bytes + after.inactionable_bytes - before.inactionable_bytes;
        s.flood = s.flood + after.flood - before.flood;
        true
    }
}

/// Whether event `a` beats `b` for their key (MSC4354 "Ephemeral map").
fn beats(w: &World, a: PduId, b: PduId) -> bool {
    w.sh.pdus[a].map_order() > w.sh.pdus[b].map_order()
}

/// The group's state held over [since, t): add it to the integral, open or close its run.
fn settle(
    g: &mut Group,
    t: Time,
    end: Time,
    longest: &mut Time,
    censored: &mut bool,
    integral: &mut u128,
) {
    *integral += u128::from(t - g.since) * (g.live - g.actionable) as u128;
    match (g.spam(), g.run_start) {
        (true, None) => g.run_start = Some(g.since),
        (false, Some(s)) => {
            close(s, g.since, end, longest, censored);
            g.run_start = None;
        }
        _ => {}
    }
    g.since = t;
}

/// A run of spam instants [s, e): the longest wins; one that reaches the run's end marks
/// the window censored.
fn close(s: Time, e: Time, end: Time, longest: &mut Time, censored: &mut bool) {
    let len = e - s;
    if len > *longest {
        *longest = len;
        *censored = e >= end;
    } else if len == *longest && len > 0 && e >= end {
        *censored = true;
    }
}
