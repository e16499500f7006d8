//! Summary mode's delivery bookkeeping (`records = "summary"`): instead of a map from every
//! (client, event) pair to its first receipt, one bit per (member, event of the room) says
//! whether the client has received the event, and each first receipt's latency goes
//! straight into the statistics when it can already be told that the pair is due. Only the
//! rare receipts that cannot yet be told (the client became a member or came online at the
//! receipt's very instant, or the event was received at its creation instant) keep their
//! time until the end-of-run scan decides. The scan ([`super::delivery::for_each_due`])
//! then finds every due pair as in full mode, and counts the fates.

use super::delivery::{for_each_due, intervals, overlaps};
use super::pairs::DeliveryStats;
use super::recorder::{EventInfo, Observer};
use crate::kernel::hash::IdMap;
use crate::kernel::Time;
use crate::matrix::world::World;
use crate::matrix::{ClientId, PduId, RoomId};

/// What summary mode keeps about receipts.
#[derive(Clone, Debug)]
pub struct Tally {
    /// (client, room) -> bit i set when the client received the room's i-th sticky event.
    seen: IdMap<(ClientId, RoomId), Vec<u64>>,
    /// First receipts whose pair could not be told due when they happened.
    deferred: IdMap<(ClientId, PduId), Time>,
    /// Latencies of the first receipts of pairs known to be due.
    pub stats: DeliveryStats,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            seen: IdMap::default(),
            deferred: IdMap::default(),
            stats: DeliveryStats::new(false),
        }
    }
}

/// The ground truth a receipt is judged against: membership and online changes so far.
pub struct History<'a> {
    pub w: &'a World,
    pub membership: &'a IdMap<(ClientId, RoomId), Vec<(Time, bool)>>,
    /// Indexed by client.
    pub online: &'a [Vec<(Time, bool)>],
}

impl Tally {
    /// Receipts whose pair is still undecided (for tests: this stays small, whatever the
    /// number of pairs).
    pub fn deferred_len(&self) -> usize {
        self.deferred.len()
    }

    fn seen(&self, client: ClientId, room: RoomId, ord: u32) -> bool {
        self.seen.get(&(client, room)).is_some_and(|bits| {
            bits.get(ord as usize / 64)
                .is_some_and(|w| w & (1 << (ord % 64)) != 0)
        })
    }

    /// What receipts by `client` of events of `room` need, looked up once (a sync response
    /// carries a room's events together).
    pub fn room<'a>(
        &'a mut self,
        h: &'a History<'a>,
        client: ClientId,
        room: RoomId,
    ) -> RoomTally<'a> {
        RoomTally {
            w: h.w,
            client,
            room,
            bits: self.seen.entry((client, room)).or_default(),
            mem: h.membership.get(&(client, room)),
            on: h.online.get(client.ix()).filter(|v| !v.is_empty()),
            stats: &mut self.stats,
            deferred: &mut self.deferred,
        }
    }
}

/// [`Tally::room`]: one client's receipts of one room's events.
pub struct RoomTally<'a> {
    w: &'a World,
    client: ClientId,
    room: RoomId,
    bits: &'a mut Vec<u64>,
    mem: Option<&'a Vec<(Time, bool)>>,
    on: Option<&'a Vec<(Time, bool)>>,
    stats: &'a mut DeliveryStats,
    deferred: &'a mut IdMap<(ClientId, PduId), Time>,
}

impl RoomTally<'_> {
    /// The room of these receipts.
    pub fn room(&self) -> RoomId {
        self.room
    }

    /// The client received sticky event `pdu` (of this room) at `t`. Only the first receipt
    /// counts, and never the sender's own (not due).
    pub fn receipt(&mut self, pdu: PduId, info: &EventInfo, t: Time) {
        let (client, w) = (self.client, self.w);
        let p = &w.sh.pdus[pdu];
        debug_assert_eq!(p.room, self.room);
        if client == p.sender || !p.is_sticky_kind() {
            return;
        }
        let local = w.sh.dir.server_of(client) == p.origin;
        let bits = &mut *self.bits;
        let (word, bit) = (info.ord as usize / 64, 1u64 << (info.ord % 64));
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        if bits[word] & bit != 0 {
            return;
        }
        bits[word] |= bit;
        let lo = info.created;
        let hi = info.origin_end.max(lo).max(lo + 1);
        let (mem, on) = (self.mem, self.on);
        // The common case without building intervals: joined and online since before `t`,
        // and since before the window's end: the two open intervals overlap the window.
        if let (Some(&(mt, true)), Some(&(ot, true))) =
            (mem.and_then(|m| m.last()), on.and_then(|o| o.last()))
        {
            if mt.max(ot).max(lo) < t.min(hi) {
                self.stats.add_latency(local, t.saturating_sub(lo));
                return;
            }
        }
        let histories = mem.zip(on).map(|(m, o)| (intervals(m, t), intervals(o, t)));
        // README "Metrics": due when joined and online at some time while the event is
        // sticky. The changes up to `t` are final, so: once the window is over, the answer
        // is known; before, an overlap before `t` already proves it.
        let due = match (&histories, t >= hi) {
            (Some((m, o)), true) => Some(overlaps(m, o, lo, hi)),
            (None, true) => Some(false),
            (Some((m, o)), false) if lo < t && overlaps(m, o, lo, t) => Some(true),
            _ => None,
        };
        match due {
            Some(true) => self.stats.add_latency(local, t.saturating_sub(lo)),
            Some(false) => {}
            None => {
                self.deferred.insert((client, pdu), t);
            }
        }
    }
}

/// The delivery statistics of a summary-mode run: the latencies counted on receipt, then
/// the end-of-run scan's fates (and the latencies of the receipts it had to decide).
pub fn summary_stats(obs: &Observer, tally: &Tally, w: &World, end: Time) -> DeliveryStats {
    let mut stats = tally.stats.clone();
    let received =
        |c: ClientId, p: PduId, info: &EventInfo| tally.seen(c, w.sh.pdus[p].room, info.ord);
    for_each_due(obs, w, end, received, |d| match &d.missed {
        Some(fate) => stats.add_fate(d.local, fate),
        None => {
            let path = d.arrival.map_or(super::Path::Transitive, |a| a.1);
            stats.add_delivered(d.local, path.as_str());
            if let Some(t) = tally.deferred.get(&(d.client, d.pdu)) {
                stats.add_latency(d.local, t.saturating_sub(d.sent));
            }
        }
    });
    stats
}
