//! The metric names a scenario may refer to (README "Metrics"): `[sweep] headline` entries are
//! checked against them. `tests/metric_names.rs` runs scenarios and checks that every metric
//! a run reports is known here, so a new metric that is not added fails that test.

/// Every scalar metric of a run, by its README "Metrics" name.
pub const KNOWN_METRICS: &[&str] = &[
    "delivery.count",
    "delivery.lost",
    "delivery.pending_at_end",
    "delivery.delivered_fraction",
    "delivery.within_1s",
    "delivery.within_10s",
    "delivery.within_60s",
    "delivery.latency_ms.p50",
    "delivery.latency_ms.p90",
    "delivery.latency_ms.p99",
    "delivery.latency_ms.max",
    "delivery.latency_ms.mean",
    "delivery.local.count",
    "delivery.local.lost",
    "delivery.local.pending_at_end",
    "delivery.local.delivered_fraction",
    "delivery.local.within_1s",
    "delivery.local.within_10s",
    "delivery.local.within_60s",
    "delivery.local.latency_ms.p50",
    "delivery.local.latency_ms.p90",
    "delivery.local.latency_ms.p99",
    "delivery.remote.count",
    "delivery.remote.lost",
    "delivery.remote.pending_at_end",
    "delivery.remote.delivered_fraction",
    "delivery.remote.within_1s",
    "delivery.remote.within_10s",
    "delivery.remote.within_60s",
    "delivery.remote.latency_ms.p50",
    "delivery.remote.latency_ms.p90",
    "delivery.remote.latency_ms.p99",
    "federation.attempts",
    "federation.retries",
    "federation.rate_limited",
    "federation.timeouts",
    "federation.refused",
    "federation.server_errors",
    "federation.bytes",
    "federation.max_queue_depth",
    "sync.max_sticky_per_response",
    "sync.mean_bytes",
    "sync.responses",
    "spam.inactionable_events",
    "spam.window_ms",
    "spam.window_censored",
    "spam.inactionable_integral",
    "convergence.time_to_converge_ms.p50",
    "convergence.time_to_converge_ms.p99",
    "convergence.time_to_converge_ms.max",
    "convergence.final_divergent_rooms",
    "convergence.max_divergence_ms",
    "convergence.writes",
    "convergence.unconverged_writes",
    "rtc.participants",
    "rtc.crashes",
    "rtc.ghosts_at_end",
    "rtc.ghost_ms.p50",
    "rtc.ghost_ms.p99",
    "rtc.ghost_ms.max",
    "rtc.join_visible_ms.p50",
    "rtc.join_visible_ms.p99",
    "rtc.false_leaves",
    "rtc.heartbeat_requests",
    "rtc.heartbeat_bytes",
    "rtc.ghost_participant_s",
    "sim.events",
    "sim.wall_s",
    "sim.events_per_s",
];

/// Families whose members are named at run time (a cause, a path): any
/// `<family>.<name>` is a metric.
pub const METRIC_FAMILIES: &[&str] = &["delivery.lost_by_cause", "delivery.by_path"];

/// Whether `name` is a metric a run reports: a known name, or a member of a family.
pub fn is_known_metric(name: &str) -> bool {
    KNOWN_METRICS.contains(&name)
        || METRIC_FAMILIES.iter().any(|f| {
            name.strip_prefix(f)
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|m| !m.is_empty() && !m.contains('.'))
        })
}

/// Known metrics that start with `prefix` (to suggest what was meant).
pub fn metrics_starting_with(prefix: &str) -> Vec<&'static str> {
    KNOWN_METRICS
        .iter()
        .copied()
        .filter(|m| m.starts_with(prefix))
        .collect()
}

/// A short hint for an unknown metric name: the names it is a prefix of, else the names of
/// its family (the part before the last dot), else the families.
pub fn hint(name: &str) -> String {
    let under = metrics_starting_with(&format!("{name}."));
    if !under.is_empty() {
        return format!("`{name}` is a group; name one of {}", list(&under));
    }
    let family = name.split('.').next().unwrap_or("");
    let same = metrics_starting_with(&format!("{family}."));
    if !same.is_empty() {
        return format!("known `{family}.*` metrics: {}", list(&same));
    }
    let mut fams: Vec<&str> = KNOWN_METRICS
        .iter()
        .filter_map(|m| m.split('.').next())
        .collect();
    fams.dedup();
    format!("metric names start with {}", list(&fams))
}

fn list(names: &[&str]) -> String {
    let shown: Vec<String> = names.iter().take(12).map(|n| format!("`{n}`")).collect();
    let more = names.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_families_and_hints() {
        assert!(is_known_metric("delivery.lost"));
        assert!(is_known_metric("delivery.lost_by_cause.unreachable"));
        assert!(is_known_metric("delivery.by_path.join_push"));
        assert!(!is_known_metric("delivery.by_path."));
        assert!(!is_known_metric("delivery.by_path.a.b"));
        assert!(!is_known_metric("delivery.latency_ms"));
        assert!(!is_known_metric("a.lin"));
        assert!(hint("delivery.latency_ms").starts_with("`delivery.latency_ms` is a group"));
        assert!(hint("rtc.ghost").starts_with("known `rtc.*` metrics"));
        assert!(hint("zzz").starts_with("metric names start with `delivery`"));
    }
}
