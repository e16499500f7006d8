//! The pending-event queue: a radix heap on the event time, with a sorted front, ordered
//! by (time, insertion sequence).
//!
//! The kernel never schedules into the past (`Ctx::schedule_at` clamps to now), so the
//! times popped never decrease. A radix heap lives on exactly that. The queue keeps a
//! boundary time `hi`: every pending event at or before `hi` is in `front`, sorted by
//! (time, sequence); every later one is in the bucket named by the highest bit in which its
//! time differs from `hi`. Bucket `b` thus holds times that agree with `hi` above bit `b`
//! and have bit `b` set where `hi` has it clear, so every time in bucket `b` is earlier
//! than every time in a higher bucket.
//!
//! When `front` runs dry the lowest non-empty bucket holds the next events:
//! - if it is small, it is sorted by time into `front` whole, and `hi` moves to the top of
//!   its range (`hi` with bits `0..=b` set), which leaves every other bucket where it is;
//! - otherwise `hi` moves to its earliest time: the events at that time go to `front` and
//!   the rest are filed again, each into a strictly lower bucket.
//!
//! An event is therefore moved a handful of times at most (never more than 64), whatever
//! the spread of times: no calendar width to tune, no resize, and the order is exact.
//!
//! Ties: events at the same instant run in the order they were scheduled, which makes runs
//! deterministic. No sequence comparison is needed for that: events at one time always
//! share a place (`front` or one bucket), and within it they stay in sequence order,
//! because a push appends the highest sequence yet and every move (filing a bucket again,
//! cutting `front` back) walks its source in order and appends. So a stable sort by time
//! alone puts a bucket in (time, sequence) order.
//!
//! A push at or before `hi` is inserted into `front` at its place (after every event at
//! or before its time: it has the highest sequence yet), so a push into the past is exact
//! too. If such pushes make `front` long, it is cut back to its earliest instant and the
//! rest filed into buckets.
//!
//! Cancellation is lazy: a cancelled sequence number is remembered and its entry skipped
//! when it reaches the front. It is remembered as one bit per sequence number: the events
//! that reach the front together were mostly scheduled close together, so their bits share
//! a few cache lines, where a hash set cost a cache miss per event (6% of a 10 000-server
//! run). One bit per event scheduled up to the last cancelled one: 6 MB for 47 M events.

use super::time::Time;
use std::collections::VecDeque;

/// Identifies one scheduled event, for cancellation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey(u64);

/// One pending event.
struct Entry<E> {
    time: Time,
    seq: u64,
    ev: E,
}

/// One bucket per bit of the time.
const BUCKETS: usize = 64;

/// A bucket this small is sorted into `front` whole instead of being filed again.
/// (Tiny under `cfg(test)`, so that unit tests go through every path often; the order
/// does not depend on these two numbers.)
const SORT_MAX: usize = if cfg!(test) { 3 } else { 64 };

/// `front` longer than this after an insertion in its middle is cut back (see `spill`).
const FRONT_CAP: usize = if cfg!(test) { 4 } else { 128 };

/// The cancelled sequence numbers (dense integers chosen by the queue), as bits.
#[derive(Default)]
struct SeqBits {
    words: Vec<u64>,
    /// Bits set.
    count: usize,
}

impl SeqBits {
    /// Set the bit of `seq`; false if it was set already.
    fn insert(&mut self, seq: u64) -> bool {
        let (w, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        let was = self.words[w] & bit != 0;
        self.words[w] |= bit;
        self.count += usize::from(!was);
        !was
    }

    /// Clear the bit of `seq`; whether it was set.
    #[inline]
    fn remove(&mut self, seq: u64) -> bool {
        let (w, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        match self.words.get_mut(w) {
            Some(word) if *word & bit != 0 => {
                *word &= !bit;
                self.count -= 1;
                true
            }
            _ => false,
        }
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn len(&self) -> usize {
        self.count
    }
}

pub struct EventQueue<E> {
    /// Every pending event at or before `hi`, in (time, sequence) order.
    front: VecDeque<Entry<E>>,
    /// Events after `hi`, filed by the highest bit of `time ^ hi`.
    buckets: [Vec<Entry<E>>; BUCKETS],
    /// Bit `b` set when `buckets[b]` is not empty.
    occupied: u64,
    /// The boundary between `front` and the buckets.
    hi: Time,
    len: usize,
    next_seq: u64,
    cancelled: SeqBits,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

/// The bucket of an event at `time` when the boundary is `hi` (`time > hi`).
#[inline]
fn bucket_of(time: Time, hi: Time) -> usize {
    debug_assert!(time > hi);
    // `time ^ hi` is not zero, so this is 0..=63; the mask tells the compiler so.
    (63 - (time ^ hi).leading_zeros()) as usize & (BUCKETS - 1)
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// `cap` is a hint only: events are spread over buckets that grow as needed.
    pub fn with_capacity(cap: usize) -> Self {
        EventQueue {
            front: VecDeque::with_capacity(cap.min(SORT_MAX)),
            buckets: std::array::from_fn(|_| Vec::new()),
            occupied: 0,
            hi: 0,
            len: 0,
            next_seq: 0,
            cancelled: SeqBits::default(),
        }
    }

    #[inline]
    pub fn push(&mut self, time: Time, ev: E) -> EventKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.len += 1;
        let e = Entry { time, seq, ev };
        if time > self.hi {
            self.file(e);
        } else {
            self.insert_front(e);
        }
        EventKey(seq)
    }

    /// Put an event after `hi` into its bucket.
    #[inline]
    fn file(&mut self, e: Entry<E>) {
        let b = bucket_of(e.time, self.hi);
        self.buckets[b].push(e);
        self.occupied |= 1 << b;
    }

    /// Insert a new event at or before `hi` into `front`, after every event at or before
    /// its time (its sequence is the highest yet).
    #[inline]
    fn insert_front(&mut self, e: Entry<E>) {
        match self.front.back() {
            Some(b) if b.time > e.time => {
                let at = self.front.partition_point(|x| x.time <= e.time);
                // VecDeque moves the shorter side: cheap near either end.
                self.front.insert(at, e);
                if self.front.len() > FRONT_CAP {
                    self.spill();
                }
            }
            _ => self.front.push_back(e),
        }
    }

    /// Cut `front` back to the events at its earliest time, filing the rest into buckets.
    #[cold]
    fn spill(&mut self) {
        let lo = self.front.front().expect("front is long").time;
        // Moving `hi` down to `lo` leaves the buckets valid when the two agree above the
        // lowest occupied bucket, which is always so for the kernel (times never go back).
        // Otherwise every bucket is filed again.
        let keeps_buckets = self.occupied == 0
            || lo == self.hi
            || bucket_of(self.hi, lo) < self.occupied.trailing_zeros() as usize;
        let mut moved: Vec<Entry<E>> = Vec::new();
        if !keeps_buckets {
            for b in 0..BUCKETS {
                moved.append(&mut self.buckets[b]);
            }
            self.occupied = 0;
        }
        let keep = self.front.partition_point(|x| x.time <= lo);
        moved.extend(self.front.drain(keep..));
        self.hi = lo;
        for e in moved {
            self.file(e);
        }
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

    /// `front` is empty: bring the next events into it from the lowest non-empty bucket.
    /// False when nothing is pending.
    #[inline]
    fn refill(&mut self) -> bool {
        if self.occupied == 0 {
            return false;
        }
        let b = self.occupied.trailing_zeros() as usize;
        self.occupied &= !(1 << b);
        // Take the bucket out to move from it while pushing into the lower ones; its
        // allocation is put back afterwards.
        let mut src = std::mem::take(&mut self.buckets[b]);
        if src.len() <= SORT_MAX {
            // These are all the events up to the top of the bucket's range, and that top
            // agrees with `hi` above bit `b`: the other buckets stay valid.
            // Stable: events at one time are already in sequence order (see below).
            src.sort_by_key(|e| e.time);
            self.front.extend(src.drain(..));
            self.hi |= u64::MAX >> (63 - b);
        } else {
            let lo = src.iter().map(|e| e.time).min().expect("occupied bucket");
            self.hi = lo;
            for e in src.drain(..) {
                if e.time == lo {
                    self.front.push_back(e);
                } else {
                    // Strictly below `b`: `e.time` and `lo` agree on bits b and above.
                    self.file(e);
                }
            }
        }
        self.buckets[b] = src;
        true
    }

    /// Make the front of `front` the earliest live event. False when nothing is pending.
    #[inline]
    fn settle(&mut self) -> bool {
        loop {
            if self.front.is_empty() && !self.refill() {
                return false;
            }
            if self.cancelled.is_empty() {
                return true;
            }
            let seq = self.front.front().expect("refilled").seq;
            if !self.cancelled.remove(seq) {
                return true;
            }
            self.front.pop_front();
            self.len -= 1;
        }
    }

    #[inline]
    pub fn peek_time(&mut self) -> Option<Time> {
        if self.settle() {
            self.front.front().map(|e| e.time)
        } else {
            None
        }
    }

    #[inline]
    pub fn pop(&mut self) -> Option<(Time, E)> {
        if !self.settle() {
            return None;
        }
        let e = self.front.pop_front().expect("settled");
        self.len -= 1;
        Some((e.time, e.ev))
    }

    /// Pop the next event if it is at or before `end`; otherwise leave it pending.
    /// (`peek_time` then `pop`, in one step.)
    #[inline]
    pub fn pop_at_or_before(&mut self, end: Time) -> Option<(Time, E)> {
        if !self.settle() || self.front.front().is_some_and(|e| e.time > end) {
            return None;
        }
        let e = self.front.pop_front().expect("settled");
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

    /// The obvious queue: a `BinaryHeap` on (time, sequence) with the same lazy cancels.
    struct Reference {
        heap: BinaryHeap<Reverse<(Time, u64)>>,
        next_seq: u64,
        cancelled: std::collections::HashSet<u64>,
    }

    impl Reference {
        fn new() -> Self {
            Reference {
                heap: BinaryHeap::new(),
                next_seq: 0,
                cancelled: std::collections::HashSet::new(),
            }
        }
        fn push(&mut self, time: Time) -> u64 {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.heap.push(Reverse((time, seq)));
            seq
        }
        fn cancel(&mut self, seq: u64) -> bool {
            seq < self.next_seq && self.cancelled.insert(seq)
        }
        fn skip_cancelled(&mut self) {
            while let Some(Reverse((_, seq))) = self.heap.peek() {
                if !self.cancelled.remove(seq) {
                    break;
                }
                self.heap.pop();
            }
        }
        fn peek_time(&mut self) -> Option<Time> {
            self.skip_cancelled();
            self.heap.peek().map(|Reverse((t, _))| *t)
        }
        fn pop(&mut self) -> Option<(Time, u64)> {
            self.skip_cancelled();
            self.heap.pop().map(|Reverse(k)| k)
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// Push at a time of the given kind (see `time_of`), from the raw number.
        Push(u8, u64),
        Pop,
        Peek,
        /// Pop if the next event is at most this far after the latest time popped.
        PopWithin(u64),
        /// Cancel the key of the n-th push so far (modulo), pending, run or cancelled.
        Cancel(usize),
    }

    fn op(past: bool) -> impl Strategy<Value = Op> {
        let kinds = if past { 6u8 } else { 5 };
        prop_oneof![
            6 => (0..kinds, any::<u64>()).prop_map(|(k, x)| Op::Push(k, x)),
            4 => Just(Op::Pop),
            1 => Just(Op::Peek),
            2 => (0u64..2_000_000).prop_map(Op::PopWithin),
            2 => any::<usize>().prop_map(Op::Cancel),
        ]
    }

    /// The time of a push, `now` being the latest time popped or peeked.
    fn time_of(kind: u8, x: u64, now: Time) -> Time {
        match kind {
            // Ties: the same few instants over and over.
            0 => now.saturating_add(x % 3),
            // Sub-millisecond to a second ahead.
            1 => now.saturating_add(x % 1_000_000),
            // Exponential-ish spread: up to 2^40 us (12 days) ahead, bunched near now.
            2 => now.saturating_add(x >> (24 + x % 40)),
            // Anywhere up to u64::MAX / 2, the kernel's "never" (far-future expiries).
            3 => now.max(x >> 1),
            // The very end of time.
            4 => now.max(u64::MAX - x % 2),
            // The past (the kernel never does this; the queue stays exact anyway).
            _ => x % now.saturating_add(1).max(1),
        }
    }

    fn check_against_reference(ops: &[Op]) -> Result<(), TestCaseError> {
        let mut q = EventQueue::new();
        let mut r = Reference::new();
        let mut keys: Vec<EventKey> = vec![];
        let mut now: Time = 0;
        for op in ops {
            match *op {
                Op::Push(kind, x) => {
                    let t = time_of(kind, x, now);
                    let seq = r.push(t);
                    let k = q.push(t, seq);
                    keys.push(k);
                }
                Op::Pop => {
                    let got = q.pop();
                    let want = r.pop();
                    prop_assert_eq!(got, want);
                    if let Some((t, _)) = got {
                        now = now.max(t);
                    }
                }
                Op::PopWithin(d) => {
                    let end = now.saturating_add(d);
                    let got = q.pop_at_or_before(end);
                    let want = match r.peek_time() {
                        Some(t) if t <= end => r.pop(),
                        _ => None,
                    };
                    prop_assert_eq!(got, want);
                    if let Some((t, _)) = got {
                        now = now.max(t);
                    }
                }
                Op::Peek => {
                    let got = q.peek_time();
                    prop_assert_eq!(got, r.peek_time());
                    if let Some(t) = got {
                        now = now.max(t);
                    }
                }
                Op::Cancel(i) => {
                    if !keys.is_empty() {
                        let k = keys[i % keys.len()];
                        prop_assert_eq!(q.cancel(k), r.cancel(k.0));
                    }
                }
            }
            prop_assert_eq!(q.len(), r.heap.len());
            prop_assert_eq!(q.is_empty(), r.heap.len() <= r.cancelled.len());
        }
        // Drain: the rest comes out in the same order too.
        loop {
            let got = q.pop();
            prop_assert_eq!(got, r.pop());
            if got.is_none() {
                break;
            }
        }
        prop_assert_eq!(q.len(), 0);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// As the kernel uses it: never a push before the latest time popped.
        #[test]
        fn same_order_as_a_binary_heap(ops in proptest::collection::vec(op(false), 0..600)) {
            check_against_reference(&ops)?;
        }

        /// Pushes into the past as well.
        #[test]
        fn same_order_as_a_binary_heap_with_pushes_into_the_past(
            ops in proptest::collection::vec(op(true), 0..600)
        ) {
            check_against_reference(&ops)?;
        }
    }

    #[test]
    fn huge_times_and_ties_keep_their_order() {
        let mut q = EventQueue::new();
        let week = 7 * 24 * 3600 * 1_000_000u64;
        let times = [
            u64::MAX,
            u64::MAX / 2,
            week,
            0,
            u64::MAX / 2,
            week,
            1,
            u64::MAX,
            0,
            week + 1,
        ];
        for (i, &t) in times.iter().enumerate() {
            q.push(t, i);
        }
        let mut want: Vec<(Time, usize)> = times.iter().copied().zip(0..).collect();
        want.sort();
        let got: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_push_at_the_current_instant_runs_after_the_others_there() {
        let mut q = EventQueue::new();
        for i in 0..10 {
            q.push(100, i);
        }
        q.push(5_000, 99);
        assert_eq!(q.pop(), Some((100, 0)));
        q.push(100, 10);
        q.push(100, 11);
        let got: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, i)| i).collect();
        assert_eq!(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99]);
    }

    #[test]
    fn a_long_front_is_cut_back_without_changing_the_order() {
        // A sparse queue sorted into the front, then many pushes into its middle.
        let mut q = EventQueue::new();
        let mut r = Reference::new();
        for t in [1_000_000u64, 2_000_000, 3_000_000] {
            q.push(t, r.push(t));
        }
        assert_eq!(q.pop(), r.pop());
        for i in 0..200u64 {
            let t = 1_000_000 + (i * 7_919) % 1_500_000;
            q.push(t, r.push(t));
        }
        loop {
            let got = q.pop();
            assert_eq!(got, r.pop());
            if got.is_none() {
                break;
            }
        }
    }

    #[test]
    fn cancel_is_lazy_and_says_whether_it_was_new() {
        let mut q = EventQueue::new();
        let a = q.push(10, 'a');
        let b = q.push(20, 'b');
        assert!(q.cancel(a));
        assert!(!q.cancel(a));
        assert!(!q.cancel(EventKey(99)));
        assert_eq!(q.len(), 2);
        assert_eq!(q.peek_time(), Some(20));
        assert_eq!(q.len(), 1);
        assert!(q.cancel(b));
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
        assert_eq!(q.len(), 0);
    }
}
