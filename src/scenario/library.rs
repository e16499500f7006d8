//! The scenario library compiled into the binary, so `stickysim list` and
//! `stickysim run NAME` work without a checkout (README "The scenario library").
//! `tests/scenario_load.rs` checks that it holds exactly the files of `scenarios/`.

/// Every shipped scenario: (name, text). The name is the file's path under `scenarios/`
/// without `.toml` (`spam_window`, `calibration/concurrent_429`): the top folder sorted,
/// then `calibration/` sorted.
pub const LIBRARY: &[(&str, &str)] = &[
    (
        "access_control_race",
        include_str!("../../scenarios/access_control_race.toml"),
    ),
    (
        "expiry_divergence",
        include_str!("../../scenarios/expiry_divergence.toml"),
    ),
    (
        "large_federation",
        include_str!("../../scenarios/large_federation.toml"),
    ),
    (
        "live_location",
        include_str!("../../scenarios/live_location.toml"),
    ),
    (
        "matrixrtc_call",
        include_str!("../../scenarios/matrixrtc_call.toml"),
    ),
    (
        "new_joiner",
        include_str!("../../scenarios/new_joiner.toml"),
    ),
    (
        "partition_catch_up",
        include_str!("../../scenarios/partition_catch_up.toml"),
    ),
    (
        "rate_limit_policies",
        include_str!("../../scenarios/rate_limit_policies.toml"),
    ),
    (
        "spam_window",
        include_str!("../../scenarios/spam_window.toml"),
    ),
    (
        "sweep_heartbeat",
        include_str!("../../scenarios/sweep_heartbeat.toml"),
    ),
    (
        "sweep_rate_limit",
        include_str!("../../scenarios/sweep_rate_limit.toml"),
    ),
    (
        "transitive_delivery",
        include_str!("../../scenarios/transitive_delivery.toml"),
    ),
    (
        "calibration/concurrent_429",
        include_str!("../../scenarios/calibration/concurrent_429.toml"),
    ),
    (
        "calibration/inbound_ends_backoff",
        include_str!("../../scenarios/calibration/inbound_ends_backoff.toml"),
    ),
    (
        "calibration/loopback_e2e",
        include_str!("../../scenarios/calibration/loopback_e2e.toml"),
    ),
    (
        "calibration/refused_backoff",
        include_str!("../../scenarios/calibration/refused_backoff.toml"),
    ),
    (
        "calibration/restart_catch_up",
        include_str!("../../scenarios/calibration/restart_catch_up.toml"),
    ),
    (
        "calibration/sync_cap_positions",
        include_str!("../../scenarios/calibration/sync_cap_positions.toml"),
    ),
];

/// The embedded scenario a command-line argument names, when no such file exists:
/// `spam_window`, `spam_window.toml`, `scenarios/spam_window.toml` and
/// `calibration/concurrent_429` all work. Returns (name, text).
pub fn embedded(arg: &str) -> Option<(&'static str, &'static str)> {
    let a = arg.replace('\\', "/");
    let a = a.strip_prefix("./").unwrap_or(&a);
    let a = a.strip_prefix("scenarios/").unwrap_or(a);
    let a = a.strip_suffix(".toml").unwrap_or(a);
    LIBRARY.iter().copied().find(|(n, _)| *n == a)
}

/// Where an embedded scenario's messages say it came from.
pub fn origin(name: &str) -> String {
    format!("scenarios/{name}.toml (embedded)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_in_every_spelling() {
        for arg in [
            "spam_window",
            "spam_window.toml",
            "scenarios/spam_window.toml",
            "./scenarios/spam_window.toml",
        ] {
            assert_eq!(embedded(arg).map(|e| e.0), Some("spam_window"), "{arg}");
        }
        assert_eq!(
            embedded("calibration/concurrent_429").map(|e| e.0),
            Some("calibration/concurrent_429")
        );
        assert_eq!(embedded("no_such_scenario"), None);
        assert_eq!(embedded("calibration"), None);
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = LIBRARY.iter().map(|e| e.0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), LIBRARY.len());
    }
}
