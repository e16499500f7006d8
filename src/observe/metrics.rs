//! The metrics of README "Metrics", computed from what the observer kept. A metric with no data is
//! left out rather than reported as 0.

use super::delivery::DeliveryRow;
use super::pairs::DeliveryStats;
use super::recorder::Observer;
use super::stats::{mean, percentile, LogHistogram};
use super::Metrics;
use crate::kernel::Time;
use crate::matrix::msg::Outcome;
use crate::matrix::world::World;
use crate::matrix::{MapKey, PduId, RoomId, ServerId};
use std::collections::BTreeMap;

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
    pub latency_hist: LogHistogram,
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
    w: &World,
    stats: DeliveryStats,
    end: Time,
    sample_us: Time,
    summary_mode: bool,
) -> Computed {
    let mut m = Metrics::new();
    // delivery.*
    let lat_hist = stats.metrics(&mut m, summary_mode);

    // federation.*
    let fed = &obs.fed;
    m.insert("federation.attempts".into(), fed.len() as f64);
    m.insert(
        "federation.retries".into(),
        fed.iter().filter(|a| a.attempt > 1).count() as f64,
    );
    m.insert(
        "federation.rate_limited".into(),
        fed.iter()
            .filter(|a| a.outcome == Outcome::RateLimited)
            .count() as f64,
    );
    m.insert(
        "federation.timeouts".into(),
        fed.iter().filter(|a| a.outcome == Outcome::Timeout).count() as f64,
    );
    m.insert(
        "federation.server_errors".into(),
        fed.iter()
            .filter(|a| a.outcome == Outcome::ServerError)
            .count() as f64,
    );
    m.insert(
        "federation.refused".into(),
        fed.iter().filter(|a| a.outcome == Outcome::Refused).count() as f64,
    );
    m.insert(
        "federation.bytes".into(),
        fed.iter().map(|a| a.bytes).sum::<u64>() as f64,
    );
    m.insert(
        "federation.max_queue_depth".into(),
        obs.max_queue_depth as f64,
    );

    // sync.*
    m.insert("sync.responses".into(), obs.syncs.len() as f64);
    put(
        &mut m,
        "sync.max_sticky_per_response",
        obs.syncs
            .iter()
            .map(|s| s.sticky_events as f64)
            .reduce(f64::max),
    );
    put(
        &mut m,
        "sync.mean_bytes",
        mean(&obs.syncs.iter().map(|s| s.bytes as f64).collect::<Vec<_>>()),
    );

    // spam.*
    m.insert("spam.inactionable_events".into(), obs.inactionable as f64);
    let spam = spam_window(obs, w, end);
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
        ms(max_divergence(obs, sample_us)),
    );

    // rtc.*
    if obs.participants > 0 {
        m.insert("rtc.participants".into(), obs.participants as f64);
        m.insert("rtc.crashes".into(), obs.open.crashes.len() as f64);
        m.insert("rtc.false_leaves".into(), obs.false_leaves as f64);
        m.insert("rtc.heartbeat_requests".into(), obs.heartbeats as f64);
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
            latency_hist: lat_hist,
            ghost_hist: gh,
        };
    }
    Computed {
        metrics: m,
        latency_hist: lat_hist,
        ghost_hist: LogHistogram::new(),
    }
}

/// What [`spam_window`] measures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpamWindow {
    /// README "Metrics" `spam.window_ms` (µs): the longest interval during which a client syncing
    /// afresh at some server would receive at least one inactionable sticky event.
    pub longest: Time,
    /// Whether a longest interval was still open when the run ended (`spam.window_censored`):
    /// then `longest` is a lower bound, and a longer run would report more.
    pub censored: bool,
    /// `spam.inactionable_integral` (event-µs): over every (server, room), the number of
    /// inactionable events a fresh sync there would receive, integrated over the run.
    pub integral: u128,
}

/// README "Metrics" `spam.window_ms`: the longest interval during which a client syncing afresh at
/// some server would receive at least one inactionable sticky event: a leave, or an event
/// beaten by another unexpired event for the same key at that server. Also whether that
/// interval reaches the run's end, and the integral of the inactionable count.
pub fn spam_window(obs: &Observer, w: &World, end: Time) -> SpamWindow {
    type Spans = Vec<(PduId, Time, Time)>;
    let mut per: BTreeMap<(ServerId, RoomId), Spans> = BTreeMap::new();
    for s in &obs.server_sticky {
        let room = w.sh.pdus[s.pdu].room;
        per.entry((s.server, room))
            .or_default()
            .push((s.pdu, s.from, s.to.min(end)));
    }
    let mut best: Time = 0;
    let mut censored = false;
    let mut integral: u128 = 0;
    // A run [s, e) of inactionable instants: the longest wins, a tie that reaches the end
    // marks the window censored.
    let close = |s: Time, e: Time, best: &mut Time, censored: &mut bool| {
        let len = e - s;
        if len > *best {
            *best = len;
            *censored = e >= end;
        } else if len == *best && len > 0 && e >= end {
            *censored = true;
        }
    };
    for evs in per.values() {
        // Sweep line over the instants where an event starts or stops being sticky,
        // keeping per key the live events ordered by the map's order; a key is actionable
        // when its winner is not a leave. Inactionable events exist when more events are
        // live than there are actionable keys.
        type Live = std::collections::BTreeSet<((i64, String), bool, PduId)>;
        let mut changes: Vec<(Time, PduId, bool)> = vec![];
        for &(p, from, to) in evs {
            if from < to {
                changes.push((from, p, true));
                changes.push((to, p, false));
            }
        }
        changes.sort_by_key(|c| (c.0, c.2, c.1));
        let mut keys: BTreeMap<MapKey, Live> = BTreeMap::new();
        let mut live_total = 0usize;
        let mut actionable = 0usize;
        let mut run_start: Option<Time> = None;
        let mut i = 0;
        let mut last_t: Time = 0;
        let mut last_excess: usize = 0;
        while i < changes.len() {
            let t = changes[i].0;
            integral += (t - last_t) as u128 * last_excess as u128;
            while i < changes.len() && changes[i].0 == t {
                let (_, p, start) = changes[i];
                i += 1;
                let ev = &w.sh.pdus[p];
                let (Some(k), Some((o, id))) = (ev.map_key(), ev.map_order()) else {
                    continue;
                };
                let entry = ((o, id.to_string()), ev.is_leave(), p);
                let set = keys.entry(k).or_default();
                let was = set.last().is_some_and(|e| !e.1);
                if start {
                    set.insert(entry);
                    live_total += 1;
                } else if set.remove(&entry) {
                    live_total -= 1;
                }
                let now_actionable = set.last().is_some_and(|e| !e.1);
                actionable = actionable + now_actionable as usize - was as usize;
            }
            let inactionable = live_total > actionable;
            last_t = t;
            last_excess = live_total - actionable;
            match (inactionable, run_start) {
                (true, None) => run_start = Some(t),
                (false, Some(s)) => {
                    close(s, t, &mut best, &mut censored);
                    run_start = None;
                }
                _ => {}
            }
        }
        if let (Some(s), Some(last)) = (run_start, changes.last()) {
            close(s, last.0, &mut best, &mut censored);
        }
    }
    SpamWindow {
        longest: best,
        censored,
        integral,
    }
}

/// Longest run of consecutive samples in which a room's live clients held differing views.
fn max_divergence(obs: &Observer, sample_us: Time) -> Time {
    let mut best = 0;
    let mut start: BTreeMap<RoomId, Time> = BTreeMap::new();
    for r in &obs.conv {
        if r.distinct_views > 1 {
            let s = *start.entry(r.room).or_insert(r.t);
            best = best.max(r.t - s + sample_us);
        } else {
            start.remove(&r.room);
        }
    }
    best
}
