//! The metrics of README "Metrics", computed from what the observer kept. A metric with no data is
//! left out rather than reported as 0.

use super::delivery::DeliveryRow;
use super::pairs::{DeliveryStats, LatencyHists};
use super::recorder::Observer;
use super::stats::{mean, percentile, LogHistogram};
use super::Metrics;
use crate::kernel::Time;
use crate::matrix::world::World;

fn put(m: &mut Metrics, name: &str, v: Option<f64>) {
    if let Some(v) = v {
        if v.is_finite() {
            m.insert(name.to_string(), v);
        }
    }
}

fn ms(t: Time) -> f64 {
    crate::kernel::time::to_ms_f64(t)
}

/// Distribution metrics, from exact values or from a histogram.
pub fn dist_metrics(
    m: &mut Metrics,
    prefix: &str,
    values: &mut [f64],
    hist: &LogHistogram,
    use_hist: bool,
    ps: &[(&str, f64)],
    with_mean_max: bool,
) {
    if use_hist {
        for (n, p) in ps {
            put(m, &format!("{prefix}.{n}"), hist.percentile(*p));
        }
        if with_mean_max {
            put(
                m,
                &format!("{prefix}.max"),
                (hist.count > 0).then_some(hist.max),
            );
            put(m, &format!("{prefix}.mean"), hist.mean());
        }
    } else {
        values.sort_by(|a, b| a.total_cmp(b));
        for (n, p) in ps {
            put(m, &format!("{prefix}.{n}"), percentile(values, *p));
        }
        if with_mean_max {
            put(m, &format!("{prefix}.max"), values.last().copied());
            put(m, &format!("{prefix}.mean"), mean(values));
        }
    }
}

pub struct Computed {
    pub metrics: Metrics,
    /// Latency histograms of the delivered pairs: all, local, remote.
    pub latency_hists: LatencyHists,
    pub ghost_hist: LogHistogram,
}

pub fn compute(
    obs: &Observer,
    w: &World,
    rows: &[DeliveryRow],
    end: Time,
    sample_us: Time,
    summary_mode: bool,
) -> Computed {
    let mut stats = DeliveryStats::new(!summary_mode);
    for r in rows {
        stats.add(r);
    }
    compute_with(obs, w, stats, end, sample_us, summary_mode)
}

/// [`compute`] from delivery figures already gathered (streamed in summary mode).
pub fn compute_with(
    obs: &Observer,
    _w: &World,
    stats: DeliveryStats,
    end: Time,
    sample_us: Time,
    summary_mode: bool,
) -> Computed {
    let mut m = Metrics::new();
    // delivery.*
    let lat_hists = stats.metrics(&mut m, summary_mode);

    // federation.*, from the running totals of federation.csv's rows.
    let fed = &obs.fed_totals;
    m.insert("federation.attempts".into(), fed.attempts as f64);
    m.insert("federation.retries".into(), fed.retries as f64);
    m.insert("federation.rate_limited".into(), fed.rate_limited as f64);
    m.insert("federation.timeouts".into(), fed.timeouts as f64);
    m.insert("federation.server_errors".into(), fed.server_errors as f64);
    m.insert("federation.refused".into(), fed.refused as f64);
    m.insert("federation.bytes".into(), fed.bytes as f64);
    m.insert(
        "federation.max_queue_depth".into(),
        obs.max_queue_depth as f64,
    );

    // sync.*, from syncs.csv's.
    let syncs = &obs.sync_totals;
    m.insert("sync.responses".into(), syncs.responses as f64);
    put(&mut m, "sync.max_sticky_per_response", syncs.max_sticky);
    put(&mut m, "sync.mean_bytes", syncs.mean_bytes());

    // spam.*
    m.insert("spam.inactionable_events".into(), obs.inactionable as f64);
    let spam = &obs.fresh;
    m.insert("spam.window_ms".into(), ms(spam.longest));
    m.insert(
        "spam.window_censored".into(),
        if spam.censored { 1.0 } else { 0.0 },
    );
    m.insert(
        "spam.inactionable_integral".into(),
        spam.integral as f64 / 1e6,
    );

    // convergence.*
    let mut ttc: Vec<f64> = obs
        .open
        .writes
        .iter()
        .filter_map(|x| x.converged.map(|c| ms(c - x.sent)))
        .collect();
    m.insert("convergence.writes".into(), obs.open.writes.len() as f64);
    m.insert(
        "convergence.unconverged_writes".into(),
        obs.open
            .writes
            .iter()
            .filter(|x| x.converged.is_none())
            .count() as f64,
    );
    dist_metrics(
        &mut m,
        "convergence.time_to_converge_ms",
        &mut ttc,
        &LogHistogram::new(),
        false,
        &[("p50", 50.0), ("p99", 99.0)],
        false,
    );
    put(
        &mut m,
        "convergence.time_to_converge_ms.max",
        ttc.last().copied(),
    );
    m.insert(
        "convergence.final_divergent_rooms".into(),
        obs.end_views_divergent as f64,
    );
    m.insert(
        "convergence.max_divergence_ms".into(),
        ms(obs.divergence.longest(sample_us)),
    );

    // rtc.*
    if obs.participants > 0 {
        m.insert("rtc.participants".into(), obs.participants as f64);
        m.insert("rtc.crashes".into(), obs.open.crashes.len() as f64);
        m.insert("rtc.false_leaves".into(), obs.false_leaves as f64);
        m.insert("rtc.heartbeat_requests".into(), obs.heartbeats as f64);
        m.insert(
            "rtc.heartbeat_bytes".into(),
            (obs.heartbeats * super::rtc::heartbeat_request_bytes()) as f64,
        );
        m.insert(
            "rtc.ghost_participant_s".into(),
            super::rtc::ghost_participant_us(&obs.open.crashes, end) as f64 / 1e6,
        );
        let mut ghosts: Vec<f64> = obs
            .open
            .crashes
            .values()
            .filter_map(|(_, c, g)| g.map(|g| ms(g - c)))
            .collect();
        let mut gh = LogHistogram::new();
        for g in &ghosts {
            gh.add(*g);
        }
        m.insert(
            "rtc.ghosts_at_end".into(),
            obs.open.crashes.values().filter(|c| c.2.is_none()).count() as f64,
        );
        dist_metrics(
            &mut m,
            "rtc.ghost_ms",
            &mut ghosts,
            &gh,
            summary_mode,
            &[("p50", 50.0), ("p99", 99.0)],
            false,
        );
        put(
            &mut m,
            "rtc.ghost_ms.max",
            if summary_mode {
                (gh.count > 0).then_some(gh.max)
            } else {
                ghosts.last().copied()
            },
        );
        let mut vis: Vec<f64> = obs
            .open
            .rtc_joins
            .values()
            .filter_map(|(_, _, t, v)| v.map(|v| ms(v - t)))
            .collect();
        dist_metrics(
            &mut m,
            "rtc.join_visible_ms",
            &mut vis,
            &LogHistogram::new(),
            false,
            &[("p50", 50.0), ("p99", 99.0)],
            false,
        );
        return Computed {
            metrics: m,
            latency_hists: lat_hists,
            ghost_hist: gh,
        };
    }
    Computed {
        metrics: m,
        latency_hists: lat_hists,
        ghost_hist: LogHistogram::new(),
    }
}
