//! Comparing an estimate with `--max-memory` / `--max-events`, the refusal messages, and
//! parsing the limits' values.

use super::*;
use std::fmt;

/// A count for a message: 1234 -> "1234", 12345678 -> "1.2e7".
pub(super) fn count(x: f64) -> String {
    if !x.is_finite() {
        return "∞".into();
    }
    let x = x.max(0.0).round();
    if x < 1e6 {
        format!("{x}")
    } else {
        format!("{x:.1e}")
    }
}

/// Bytes for a message: "420 MiB", "38 GiB".
pub fn bytes(b: f64) -> String {
    if !b.is_finite() {
        return "∞ bytes".into();
    }
    const UNITS: [(f64, &str); 5] = [
        (1_125_899_906_842_624.0, "PiB"),
        (1_099_511_627_776.0, "TiB"),
        (1_073_741_824.0, "GiB"),
        (1_048_576.0, "MiB"),
        (1024.0, "KiB"),
    ];
    for (size, unit) in UNITS {
        if b >= size {
            let v = b / size;
            return if v >= 1e6 {
                format!("{v:.1e} {unit}")
            } else if v >= 10.0 {
                format!("{v:.0} {unit}")
            } else {
                format!("{v:.1} {unit}")
            };
        }
    }
    format!("{b:.0} bytes")
}

impl fmt::Display for Estimate {
    /// One line: `3158 clients, 7900 sticky events, 5.4e5 deliveries, ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} clients, {} sticky events, {} server deliveries, {} client deliveries, {} samples; {} kernel events, {} events with sampling and accounting work ({}/simulated s), {} peak memory",
            count(self.clients as f64),
            count(self.sticky_events as f64),
            count(self.federation_pairs as f64),
            count(self.deliveries as f64),
            count(self.samples as f64),
            count(self.kernel_events as f64),
            count(self.events as f64),
            count(self.events_per_sim_s),
            bytes(self.memory_bytes as f64)
        )
    }
}

/// Refusals for a scenario whose estimate does not fit `limits`: one for memory, one for
/// events, each at the key of the part that contributes most, with the estimate.
pub fn check_limits(scn: &Scenario, est: &Estimate, limits: &Limits) -> Vec<ScenarioError> {
    let mut out = vec![];
    if est.memory_bytes > limits.max_memory_bytes {
        let part = est
            .parts
            .iter()
            .max_by(|a, b| a.memory_bytes.total_cmp(&b.memory_bytes));
        out.push(refusal(
            scn,
            part,
            format!(
                "estimated {} peak memory exceeds --max-memory {}",
                bytes(est.memory_bytes as f64),
                bytes(limits.max_memory_bytes as f64)
            ),
            |p| bytes(p.memory_bytes),
        ));
    }
    if est.events > limits.max_events {
        let part = est
            .parts
            .iter()
            .max_by(|a, b| a.events.total_cmp(&b.events));
        out.push(refusal(
            scn,
            part,
            format!(
                "estimated {} events, kernel events with sampling and accounting work ({}/simulated s), exceeds --max-events {}",
                count(est.events as f64),
                count(est.events_per_sim_s),
                count(limits.max_events as f64)
            ),
            |p| format!("{} events", count(p.events)),
        ));
    }
    out
}

fn refusal(
    scn: &Scenario,
    part: Option<&Part>,
    headline: String,
    share: impl Fn(&Part) -> String,
) -> ScenarioError {
    let path = part.map(|p| p.path.clone()).unwrap_or_default();
    let message = match part {
        Some(p) => format!("{headline}; most of it ({}) from {}", share(p), p.what),
        None => headline,
    };
    crate::scenario::loader::locate_in_file(scn, &path, message)
}

/// Parse a size such as "16GiB", "512MiB", "2GB", "1.5 TiB" or a plain number of bytes.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: f64 = n
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{s}` is not a size (e.g. \"16GiB\", \"512MiB\", \"2GB\")"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1_048_576.0,
        "gi" | "gib" => 1_073_741_824.0,
        "ti" | "tib" => 1_099_511_627_776.0,
        u => {
            return Err(format!(
                "`{s}`: unknown unit `{u}` (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            ))
        }
    };
    let v = n * mult;
    if !v.is_finite() || v >= u64::MAX as f64 {
        return Err(format!("`{s}` is too large"));
    }
    Ok(v.round() as u64)
}

/// Parse a count such as "2e9", "2000000000" or "2_000_000_000".
pub fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v < u64::MAX as f64 && v.fract() == 0.0 => {
            Ok(v as u64)
        }
        _ => Err(format!(
            "`{s}` is not a whole number (e.g. 2000000000 or 2e9)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every size-driving key of [`scenario_text`].
    #[derive(Clone, Copy)]
    struct Sizes {
        servers: u32,
        cps: u32,
        participants: u32,
        sharers: u32,
        rate: f64,
        count: Option<u64>,
        duration_us: u64,
        sample_us: u64,
        every_us: u64,
        sigma: f64,
    }

    /// A scenario with every size-driving key set from `z`.
    fn scenario_text(z: &Sizes) -> String {
        let Sizes {
            servers,
            cps,
            participants,
            sharers,
            rate,
            count,
            duration_us,
            sample_us,
            every_us,
            sigma,
        } = *z;
        let count = count.map(|c| format!("count = {c}\n")).unwrap_or_default();
        format!(
            r#"
[simulation]
name = "p"
duration = "{duration_us}us"
sample_interval = "{sample_us}us"
[servers]
count = {servers}
[servers.defaults]
clients_per_server = {cps}
client_latency = {{ dist = "lognormal", median = "{every_us}us", sigma = {sigma} }}
[[servers.list]]
name = "x"
clients_per_server = {cps}
[[rooms]]
name = "r"
servers = "all"
[[rooms]]
name = "s"
servers = ["x"]
[[workload]]
kind = "matrixrtc"
room = "r"
participants = {participants}
stay = {{ dist = "exponential", mean = "{every_us}us" }}
sticky_duration = "{every_us}us"
resend_before_expiry = "{sample_us}us"
heartbeat = {{ leave_delay = "{every_us}us", restart_every = "{every_us}us" }}
[[workload]]
kind = "location"
room = "s"
sharers = {sharers}
update_every = "{every_us}us"
share_for = {{ dist = "normal", mean = "{duration_us}us", std = "{every_us}us" }}
[[workload]]
kind = "spam"
room = "r"
client = "x/0"
rate = {rate:e}
{count}"#
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Whatever a loaded scenario holds, the estimate is a number (no panic, no
        /// overflow), and the limits check names a key.
        #[test]
        fn estimate_never_panics(
            servers in prop_oneof![0u32..5, 0u32..=100_000],
            cps in prop_oneof![0u32..5, any::<u32>()],
            participants in prop_oneof![0u32..5, any::<u32>()],
            sharers in prop_oneof![0u32..5, any::<u32>()],
            rate in prop_oneof![Just(1e-300), Just(1e300), 1e-9f64..1e12],
            count in proptest::option::of(any::<u64>()),
            duration_us in prop_oneof![1u64..10, 1u64..=34_560_000_000_000],
            sample_us in prop_oneof![1u64..10, 1u64..=34_560_000_000_000],
            every_us in prop_oneof![Just(0u64), 1u64..10, 1u64..=3_153_600_000_000_000],
            sigma in 0.0f64..=5.0,
        ) {
            let text = scenario_text(&Sizes { servers, cps, participants, sharers, rate, count, duration_us, sample_us, every_us, sigma });
            if let Ok(scn) = crate::scenario::load_str(&text, "p.toml", &[]) {
                let e = estimate(&scn);
                prop_assert!(e.memory_bytes >= BASE_BYTES as u64);
                prop_assert!(!e.events_per_sim_s.is_nan());
                let tight = Limits { max_memory_bytes: 0, max_events: 0 };
                let errs = check_limits(&scn, &e, &tight);
                prop_assert_eq!(errs.len(), if e.events > 0 { 2 } else { 1 });
                for err in errs {
                    prop_assert!(!err.key.is_empty(), "{}", err);
                }
            }
        }
    }

    #[test]
    fn sizes_and_counts_parse() {
        assert_eq!(parse_bytes("16GiB"), Ok(16 << 30));
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_bytes("1.5 GiB"), Ok(3 << 29));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("3 parsecs").is_err());
        assert!(parse_bytes("1e30GB").is_err());
        assert_eq!(parse_count("2e9"), Ok(2_000_000_000));
        assert_eq!(parse_count("2_000"), Ok(2000));
        assert!(parse_count("-1").is_err());
        assert!(parse_count("1.5").is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(bytes(16.0 * 1_073_741_824.0), "16 GiB");
        assert_eq!(bytes(1.5 * 1_048_576.0), "1.5 MiB");
        assert_eq!(bytes(12.0), "12 bytes");
        assert_eq!(bytes(f64::INFINITY), "∞ bytes");
        assert_eq!(count(1234.0), "1234");
        assert_eq!(count(38_000_000.0), "3.8e7");
    }
}
