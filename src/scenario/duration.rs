//! Durations written as strings with units: "250ms", "60.5s", "10m", "1h30m", "7d", "-10m".

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

pub use crate::kernel::time::{Dur, SignedDur};

/// Parse "1h30m", "250ms", "60.5s", "-10m", "+10m" into signed microseconds.
pub fn parse_duration_us(s: &str) -> Result<i64, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    let (neg, mut rest) = match t.as_bytes()[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if rest.is_empty() {
        return Err(format!("`{s}` has no number"));
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{s}` lacks a unit (use ms, s, m, h or d, e.g. \"250ms\")"))?;
        if num_end == 0 {
            return Err(format!(
                "`{s}` is not a duration (expected e.g. \"250ms\", \"1h30m\")"
            ));
        }
        let num: f64 = rest[..num_end]
            .parse()
            .map_err(|_| format!("`{}` is not a number", &rest[..num_end]))?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let mult: f64 = match unit {
            "us" | "µs" => 1.0,
            "ms" => 1e3,
            "s" => 1e6,
            "m" | "min" => 60e6,
            "h" => 3600e6,
            "d" => 86_400e6,
            "" => return Err(format!("`{s}` lacks a unit (use ms, s, m, h or d)")),
            u => {
                return Err(format!(
                    "`{s}` has an unknown unit `{u}` (use us, ms, s, m, h or d)"
                ))
            }
        };
        total += num * mult;
    }
    if !total.is_finite() || total > 9.0e18 {
        return Err(format!("`{s}` is too large"));
    }
    let us = total.round() as i64;
    Ok(if neg { -us } else { us })
}

/// Canonical text of a duration, the inverse of the parser (used when writing scenario.toml).
pub fn format_duration_us(us: i64) -> String {
    let neg = us < 0;
    let mut v = us.unsigned_abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if v == 0 {
        return "0s".into();
    }
    if !v.is_multiple_of(1000) {
        out.push_str(&format!("{v}us"));
        return out;
    }
    let units: [(u64, &str); 5] = [
        (86_400_000_000, "d"),
        (3_600_000_000, "h"),
        (60_000_000, "m"),
        (1_000_000, "s"),
        (1000, "ms"),
    ];
    for (size, name) in units {
        if v >= size {
            let n = v / size;
            v %= size;
            out.push_str(&format!("{n}{name}"));
        }
    }
    out
}

struct DurVisitor {
    signed: bool,
}

impl<'de> Visitor<'de> for DurVisitor {
    type Value = i64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.signed {
            write!(f, "a signed duration string such as \"-10m\" or \"+250ms\"")
        } else {
            write!(
                f,
                "a duration string such as \"250ms\", \"60s\" or \"1h30m\""
            )
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        let us = parse_duration_us(v).map_err(E::custom)?;
        if !self.signed && us < 0 {
            return Err(E::custom(format!(
                "`{v}` is negative; durations here must be >= 0"
            )));
        }
        if !self.signed && v.trim_start().starts_with('+') {
            return Err(E::custom(format!(
                "`{v}`: a sign is only allowed on offsets"
            )));
        }
        Ok(us)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(DurVisitor { signed: false })
            .map(|v| Dur(v as u64))
    }
}
impl<'de> Deserialize<'de> for SignedDur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(DurVisitor { signed: true })
            .map(SignedDur)
    }
}
impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration_us(self.0 as i64))
    }
}
impl Serialize for SignedDur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration_us(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_decimals_compounds_and_signs() {
        assert_eq!(parse_duration_us("250ms"), Ok(250_000));
        assert_eq!(parse_duration_us("60.5s"), Ok(60_500_000));
        assert_eq!(parse_duration_us("10m"), Ok(600_000_000));
        assert_eq!(parse_duration_us("1h30m"), Ok(5_400_000_000));
        assert_eq!(parse_duration_us("7d"), Ok(604_800_000_000));
        assert_eq!(parse_duration_us("-10m"), Ok(-600_000_000));
        assert_eq!(parse_duration_us("+10m"), Ok(600_000_000));
        assert_eq!(parse_duration_us("0s"), Ok(0));
        assert!(parse_duration_us("10").is_err());
        assert!(parse_duration_us("ten s").is_err());
        assert!(parse_duration_us("5 parsecs").is_err());
        assert!(parse_duration_us("").is_err());
        assert!(parse_duration_us("-").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for s in ["250ms", "1h30m", "7d", "-10m", "0s", "1m0s5ms", "1500us"] {
            let us = parse_duration_us(s).unwrap();
            assert_eq!(parse_duration_us(&format_duration_us(us)), Ok(us), "{s}");
        }
        assert_eq!(format_duration_us(5_400_000_000), "1h30m");
    }
}
