//! The pending-event queue: a binary heap ordered by (time, insertion sequence).
//!
//! Cancellation is lazy: a cancelled key is remembered and its entry skipped when it
//! reaches the top. The sequence number breaks ties, so events at the same instant run
//! in the order they were scheduled, which makes runs deterministic.

use super::time::Time;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

/// Identifies one scheduled event, for cancellation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey(u64);

struct Entry<E> {
    time: Time,
    seq: u64,
    ev: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    // Reversed: BinaryHeap is a max-heap and we want the earliest (time, seq) on top.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .time
            .cmp(&self.time)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
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
            heap: BinaryHeap::with_capacity(cap),
            next_seq: 0,
            cancelled: HashSet::new(),
        }
    }

    #[inline]
    pub fn push(&mut self, time: Time, ev: E) -> EventKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { time, seq, ev });
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

    #[inline]
    fn skip_cancelled(&mut self) {
        if self.cancelled.is_empty() {
            return;
        }
        while let Some(top) = self.heap.peek() {
            if self.cancelled.remove(&top.seq) {
                self.heap.pop();
            } else {
                break;
            }
        }
    }

    #[inline]
    pub fn peek_time(&mut self) -> Option<Time> {
        self.skip_cancelled();
        self.heap.peek().map(|e| e.time)
    }

    #[inline]
    pub fn pop(&mut self) -> Option<(Time, E)> {
        self.skip_cancelled();
        self.heap.pop().map(|e| (e.time, e.ev))
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
