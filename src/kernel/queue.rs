//! The pending-event queue: a 4-ary min-heap ordered by (time, insertion sequence).
//!
//! Cancellation is lazy: a cancelled key is remembered and its entry skipped when it
//! reaches the top. The sequence number breaks ties, so events at the same instant run
//! in the order they were scheduled, which makes runs deterministic.

use super::time::Time;
use std::collections::HashSet;

/// Identifies one scheduled event, for cancellation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey(u64);

/// One pending event. `key` packs (time, insertion sequence) into one integer, so the
/// heap orders by a single comparison: time first, then the order of scheduling.
struct Entry<E> {
    key: u128,
    ev: E,
}

#[inline]
fn pack(time: Time, seq: u64) -> u128 {
    ((time as u128) << 64) | seq as u128
}

/// Children per node: a 4-ary heap is shallower than a binary one and reads siblings
/// from one cache line.
const ARITY: usize = 4;

pub struct EventQueue<E> {
    /// A min-heap on `key` (4-ary, implicit in the vector).
    heap: Vec<Entry<E>>,
    next_seq: u64,
    // Only membership is asked of this set; its order never reaches an outcome.
    cancelled: HashSet<u64>,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    pub fn with_capacity(cap: usize) -> Self {
        EventQueue {
            heap: Vec::with_capacity(cap),
            next_seq: 0,
            cancelled: HashSet::new(),
        }
    }

    #[inline]
    pub fn push(&mut self, time: Time, ev: E) -> EventKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = pack(time, seq);
        // Sift up: move parents down until the new key's place is found.
        let mut i = self.heap.len();
        self.heap.push(Entry { key, ev });
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if self.heap[parent].key <= key {
                break;
            }
            self.heap.swap(i, parent);
            i = parent;
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

    /// Remove the minimum (the heap is not empty).
    #[inline]
    fn pop_min(&mut self) -> Entry<E> {
        let last = self.heap.len() - 1;
        self.heap.swap(0, last);
        let top = self.heap.pop().expect("not empty");
        let n = self.heap.len();
        if n > 1 {
            // Sift down the moved element.
            let mut i = 0;
            loop {
                let first = i * ARITY + 1;
                if first >= n {
                    break;
                }
                let end = (first + ARITY).min(n);
                let mut best = first;
                let mut best_key = self.heap[first].key;
                for c in first + 1..end {
                    let k = self.heap[c].key;
                    if k < best_key {
                        best = c;
                        best_key = k;
                    }
                }
                if self.heap[i].key <= best_key {
                    break;
                }
                self.heap.swap(i, best);
                i = best;
            }
        }
        top
    }

    #[inline]
    fn skip_cancelled(&mut self) {
        if self.cancelled.is_empty() {
            return;
        }
        while let Some(top) = self.heap.first() {
            if self.cancelled.remove(&(top.key as u64)) {
                self.pop_min();
            } else {
                break;
            }
        }
    }

    #[inline]
    pub fn peek_time(&mut self) -> Option<Time> {
        self.skip_cancelled();
        self.heap.first().map(|e| (e.key >> 64) as Time)
    }

    #[inline]
    pub fn pop(&mut self) -> Option<(Time, E)> {
        self.skip_cancelled();
        if self.heap.is_empty() {
            return None;
        }
        let e = self.pop_min();
        Some(((e.key >> 64) as Time, e.ev))
    }

    /// Pending entries, cancelled ones included until they surface.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.len() <= self.cancelled.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
