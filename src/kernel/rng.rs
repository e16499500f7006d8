//! Random streams: one ChaCha stream per (seed, component, purpose).
//!
//! The stream's key is SHA-256 over the three, so adding a component never shifts the
//! numbers any other component draws (the ns-3 discipline of independent streams).

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use sha2::{Digest, Sha256};

pub type RngStream = ChaCha12Rng;

/// The stream for `component` (e.g. "server/hs1") drawing for `purpose` (e.g. "latency").
pub fn stream(seed: u64, component: &str, purpose: &str) -> RngStream {
    ChaCha12Rng::from_seed(stream_key(seed, component, purpose))
}

/// The key of [`stream`]'s ChaCha stream: with a word position, all it takes to rebuild the
/// stream where it stood (for the many small streams kept compact, one per server pair).
pub fn stream_key(seed: u64, component: &str, purpose: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"stickysim-rng-v1\0");
    h.update(seed.to_le_bytes());
    h.update((component.len() as u64).to_le_bytes());
    h.update(component.as_bytes());
    h.update((purpose.len() as u64).to_le_bytes());
    h.update(purpose.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a: u64 = stream(1, "server/hs1", "latency").random();
        let b: u64 = stream(1, "server/hs1", "latency").random();
        let c: u64 = stream(1, "server/hs2", "latency").random();
        let d: u64 = stream(2, "server/hs1", "latency").random();
        let e: u64 = stream(1, "server/hs1", "jitter").random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_ne!(a, e);
        // The length prefix keeps ("ab","c") and ("a","bc") apart.
        let f: u64 = stream(1, "ab", "c").random();
        let g: u64 = stream(1, "a", "bc").random();
        assert_ne!(f, g);
    }

    #[test]
    fn a_stream_rebuilt_at_its_word_position_goes_on_with_the_same_numbers() {
        let mut whole = stream(3, "link/a->b", "transit");
        let key = stream_key(3, "link/a->b", "transit");
        let mut pos = 0u128;
        for n in 0..200u32 {
            let mut part = ChaCha12Rng::from_seed(key);
            part.set_word_pos(pos);
            // Mixed widths, so draws straddle the 64-word buffer edge at odd positions.
            if n % 3 == 0 {
                assert_eq!(part.random::<u32>(), whole.random::<u32>());
            } else {
                assert_eq!(part.random::<f64>(), whole.random::<f64>());
            }
            pos = part.get_word_pos();
        }
    }
}
