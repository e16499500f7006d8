//! A hasher for dense integer ids (event, server, client numbers) in lookup-only hash
//! tables: one multiplication per word (Fibonacci hashing) instead of SipHash. The ids are
//! chosen by the simulator, not by a user, so SipHash's flood resistance buys nothing.
//! Tables using it must never let their iteration order reach an output. Byte strings (the
//! `sticky_key` of a map key) are hashed eight bytes a round.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// See the module documentation.
#[derive(Clone, Copy, Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Eight bytes a round (strings in keys), the last round zero-padded.
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(K);
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A lookup-only map keyed by dense ids.
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;
/// A lookup-only set of dense ids.
pub type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_spread_over_buckets_and_pairs_differ_by_order() {
        let h = |f: &dyn Fn(&mut IdHasher)| {
            let mut s = IdHasher::default();
            f(&mut s);
            s.finish()
        };
        // Low bits (hashbrown's bucket index) of consecutive ids are all distinct.
        let low: IdSet<u64> = (0u32..1024)
            .map(|i| h(&|s| s.write_u32(i)) & 1023)
            .collect();
        assert_eq!(low.len(), 1024);
        assert_ne!(
            h(&|s| {
                s.write_u32(1);
                s.write_u32(2)
            }),
            h(&|s| {
                s.write_u32(2);
                s.write_u32(1)
            })
        );
    }
}
