//! Simulated time: an integer count of microseconds since the start of the run.

pub type Time = u64;

pub const MICROS_PER_MS: u64 = 1_000;
pub const MICROS_PER_SEC: u64 = 1_000_000;

/// Whole milliseconds of a time (truncating), for protocol timestamps and CSV columns.
#[inline]
pub fn to_ms(t: Time) -> u64 {
    t / MICROS_PER_MS
}

/// Milliseconds as a float with microsecond precision, for latencies in outputs.
#[inline]
pub fn to_ms_f64(t: Time) -> f64 {
    t as f64 / MICROS_PER_MS as f64
}

/// Whole milliseconds as text (CSV columns).
pub fn ms_text(t: Time) -> String {
    to_ms(t).to_string()
}

/// Milliseconds with three decimals (microsecond precision) as text (CSV columns).
pub fn ms3_text(t: Time) -> String {
    let mut s = String::new();
    push_ms3(&mut s, t);
    s
}

/// [`ms3_text`] appended to `buf` (the streamed CSV rows: no `String` of its own).
pub fn push_ms3(buf: &mut String, t: Time) {
    use std::fmt::Write;
    let (ms, us) = (t / MICROS_PER_MS, t % MICROS_PER_MS);
    let _ = write!(buf, "{ms}.{us:03}");
}

#[inline]
pub const fn from_ms(ms: u64) -> Time {
    ms.saturating_mul(MICROS_PER_MS)
}

#[inline]
pub fn from_secs_f64(s: f64) -> Time {
    if s.is_finite() && s > 0.0 {
        (s * MICROS_PER_SEC as f64).round() as Time
    } else {
        0
    }
}

/// A non-negative duration in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Dur(pub Time);

/// A signed offset in microseconds (only where a key says so, e.g. `origin_ts_offset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct SignedDur(pub i64);

impl Dur {
    pub const ZERO: Dur = Dur(0);
    pub fn us(self) -> Time {
        self.0
    }
    pub fn ms(self) -> u64 {
        self.0 / 1000
    }
    pub fn from_ms(ms: u64) -> Dur {
        Dur(ms * 1000)
    }
    pub fn from_secs(s: u64) -> Dur {
        Dur(s * 1_000_000)
    }
}

impl SignedDur {
    /// Whole milliseconds (truncating towards zero).
    pub fn ms(self) -> i64 {
        self.0 / 1000
    }
}
