//! The pending-event queue: a radix heap on the event time, ordered by (time, insertion
//! sequence).
//!
//! The kernel never schedules into the past (`Ctx::schedule_at` clamps to now), so the
//! times popped never decrease. A radix heap lives on exactly that: it remembers `last`,
//! the time of the latest minimum, and files every pending event in the bucket named by
//! the highest bit in which its time differs from `last`. All events at `last` itself sit
//! in `now_q`, first in, first out. When `now_q` runs dry the lowest non-empty bucket
//! holds the next time: `last` moves to its minimum and its events are filed again, each
//! into a strictly lower bucket (or `now_q`). An event is therefore moved at most 64
//! times and in practice a handful, whatever the spread of times: no calendar width to
//! tune, no resize, and the order is exact.
//!
//! Ties: events enter `now_q` either when pushed at `last` (later sequence than anything
//! already there) or together when a bucket is refiled into an empty `now_q`, and then
//! they are sorted by sequence. So events at the same instant run in the order they were
//! scheduled, which makes runs deterministic.
//!
//! A push before `last` (only possible through [`EventQueue::push`] directly, after a
//! `peek_time` or `pop` returned a later time) is still exact: every pending event is
//! refiled against the earlier `last`, at O(n) cost. The kernel's run loop never does it.
//!
//! Cancellation is lazy: a cancelled sequence number is remembered and its entry skipped
//! when it reaches the front.

use super::time::Time;
use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// Identifies one scheduled event, for cancellation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey(u64);

/// One pending event.
struct Entry<E> {
    time: Time,
    seq: u64,
    ev: E,
}

/// Buckets 0..64: bucket `b` holds the events whose time differs from `last` first in bit
/// `b` (so `2^b <= time ^ last < 2^(b+1)`, and `time > last`).
const BUCKETS: usize = 64;

/// Hashes a sequence number for the cancelled set with one multiplication (Fibonacci
/// hashing). Sequence numbers are dense integers chosen by the queue, not by a user, so
/// SipHash's flood resistance buys nothing here.
#[derive(Default)]
struct SeqHasher(u64);

impl Hasher for SeqHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type SeqSet = HashSet<u64, BuildHasherDefault<SeqHasher>>;

pub struct EventQueue<E> {
    /// Events at exactly `last`, in sequence order.
    now_q: VecDeque<Entry<E>>,
    /// Events after `last`, filed by the highest bit of `time ^ last`.
    buckets: [Vec<Entry<E>>; BUCKETS],
    /// Bit `b` set when `buckets[b]` is not empty.
    occupied: u64,
    /// Time of the latest minimum: no pending event is earlier.
    last: Time,
    len: usize,
    next_seq: u64,
    // Only membership is asked of this set; its order never reaches an outcome.
    cancelled: SeqSet,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

/// The bucket of an event at `time` when the latest minimum is `last` (`time != last`).
#[inline]
fn bucket_of(time: Time, last: Time) -> usize {
    debug_assert!(time != last);
    (63 - (time ^ last).leading_zeros()) as usize
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// `cap` is a hint: events are spread over buckets, so it sizes the tie queue only.
    pub fn with_capacity(cap: usize) -> Self {
        EventQueue {
            now_q: VecDeque::with_capacity(cap.min(1024)),
            buckets: std::array::from_fn(|_| Vec::new()),
            occupied: 0,
            last: 0,
            len: 0,
            next_seq: 0,
            cancelled: SeqSet::default(),
        }
    }

    #[inline]
    pub fn push(&mut self, time: Time, ev: E) -> EventKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        if time < self.last {
            self.rebase(time);
        }
        self.len += 1;
        let e = Entry { time, seq, ev };
        if time == self.last {
            self.now_q.push_back(e);
        } else {
            let b = bucket_of(time, self.last);
            self.buckets[b].push(e);
            self.occupied |= 1 << b;
        }
        EventKey(seq)
    }

    /// Mark a pending event as cancelled. False if it is not pending.
    pub fn cancel(&mut self, key: EventKey) -> bool {
        if key.0 >= self.next_seq {
            return false;
        }
        // We cannot cheaply tell whether it already ran; callers keep keys only for
        // pending events, and a stale key costs one set entry that is never matched.
        self.cancelled.insert(key.0)
    }

    /// Move `last` back to `time` (earlier than every pending event) and refile everything.
    #[cold]
    fn rebase(&mut self, time: Time) {
        debug_assert!(time < self.last);
        let mut all: Vec<Entry<E>> = self.now_q.drain(..).collect();
        for b in 0..BUCKETS {
            all.append(&mut self.buckets[b]);
        }
        self.occupied = 0;
        self.last = time;
        for e in all {
            // Every pending event is later than `time`: none lands in `now_q`.
            let b = bucket_of(e.time, time);
            self.buckets[b].push(e);
            self.occupied |= 1 << b;
        }
    }

    /// `now_q` is empty: advance `last` to the earliest pending time and move the events
    /// at it into `now_q`. False when nothing is pending.
    #[inline]
    fn refill(&mut self) -> bool {
        if self.occupied == 0 {
            return false;
        }
        let b = self.occupied.trailing_zeros() as usize;
        // Take the bucket out to refile from it while pushing into the lower ones; its
        // allocation is put back afterwards.
        let mut src = std::mem::take(&mut self.buckets[b]);
        let last = src.iter().map(|e| e.time).min().expect("occupied bucket");
        self.last = last;
        self.occupied &= !(1 << b);
        for e in src.drain(..) {
            if e.time == last {
                self.now_q.push_back(e);
            } else {
                // Strictly below `b`: `e.time` and `last` agree on bits b and above.
                let nb = bucket_of(e.time, last);
                self.buckets[nb].push(e);
                self.occupied |= 1 << nb;
            }
        }
        self.buckets[b] = src;
        if self.now_q.len() > 1 {
            // Same instant, filed in arbitrary order: run them in scheduling order.
            self.now_q
                .make_contiguous()
                .sort_unstable_by_key(|e| e.seq);
        }
        true
    }

    /// Make the front of `now_q` the earliest live event. False when nothing is pending.
    #[inline]
    fn settle(&mut self) -> bool {
        loop {
            if self.now_q.is_empty() && !self.refill() {
                return false;
            }
            if self.cancelled.is_empty() {
                return true;
            }
            let seq = self.now_q.front().expect("refilled").seq;
            if !self.cancelled.remove(&seq) {
                return true;
            }
            self.now_q.pop_front();
            self.len -= 1;
        }
    }

    #[inline]
    pub fn peek_time(&mut self) -> Option<Time> {
        if self.settle() {
            Some(self.last)
        } else {
            None
        }
    }

    #[inline]
    pub fn pop(&mut self) -> Option<(Time, E)> {
        if !self.settle() {
            return None;
        }
        let e = self.now_q.pop_front().expect("settled");
        self.len -= 1;
        Some((e.time, e.ev))
    }

    /// Pending entries, cancelled ones included until they surface.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len <= self.cancelled.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    proptest! {
        #[test]
        fn pops_in_time_then_insertion_order(times in proptest::collection::vec(0u64..50, 0..200),
                                             cancel_mask in proptest::collection::vec(any::<bool>(), 200)) {
            let mut q = EventQueue::new();
            let mut keys = vec![];
            for (i, t) in times.iter().enumerate() {
                keys.push(q.push(*t, i));
            }
            let mut expected: Vec<(u64, usize)> = vec![];
            for (i, t) in times.iter().enumerate() {
                if cancel_mask[i] {
                    prop_assert!(q.cancel(keys[i]));
                } else {
                    expected.push((*t, i));
                }
            }
            expected.sort();
            let mut got = vec![];
            while let Some((t, i)) = q.pop() {
                got.push((t, i));
            }
            prop_assert_eq!(got, expected);
        }
    }
}
