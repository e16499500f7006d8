//! Issue "Numbers a spec discussion can trust", metrics part: numbers worked out by hand on
//! fixed-latency networks.

mod common;
use common::*;

#[test]
fn within_fractions_count_every_due_pair() {
    // 3 events x 7 recipients = 21 pairs. `c`: all 7 within 110 ms. `a`: 3 local pairs
    // within 10 ms; hs2's 4 only after the partition ends at 9 min (> 60 s). `b`: 3 local
    // within 10 ms; hs2's 4 lost (expired at 2 min, before the partition ended).
    let r = run(CUT);
    assert_eq!(r.metric("delivery.lost"), 4.0);
    assert_eq!(r.metric("delivery.pending_at_end"), 0.0);
    assert_eq!(r.metric("delivery.count"), 21.0);
    assert_eq!(r.metric("delivery.delivered_fraction"), 17.0 / 21.0);
    for m in [
        "delivery.within_1s",
        "delivery.within_10s",
        "delivery.within_60s",
    ] {
        assert_eq!(r.metric(m), 13.0 / 21.0, "{m}");
    }
    // The percentiles stay over delivered pairs only: of 17 (9 local at 10 ms, 4 at
    // 110 ms, 4 after 9 min), p50 is the 9th, 10 ms.
    assert_eq!(r.metric("delivery.latency_ms.p50"), 10.0);
    let report = std::fs::read_to_string(r.path("report.md")).unwrap_or_default();
    if !report.is_empty() {
        let frac = report.find("delivery.within_1s").expect("within in report");
        let pct = report
            .find("delivery.latency_ms")
            .expect("latency in report");
        assert!(frac < pct, "fractions before percentiles");
        assert!(report.contains("over delivered pairs only"));
    }
}

#[test]
fn pending_pairs_are_in_the_denominator() {
    // The partition lasts to the end: `a` is still sticky and undelivered on hs2 (pending),
    // `b` is lost. 21 pairs, 13 delivered, all within 1 s.
    let r = run(&CUT.replace("to = \"9m\"", "to = \"10m\""));
    assert_eq!(r.metric("delivery.pending_at_end"), 4.0);
    assert_eq!(r.metric("delivery.lost"), 4.0);
    assert_eq!(r.metric("delivery.delivered_fraction"), 13.0 / 21.0);
    assert_eq!(r.metric("delivery.within_1s"), 13.0 / 21.0);
    assert_eq!(r.metric("delivery.within_60s"), 13.0 / 21.0);
}

/// One server, two clients: hs1/0 joins at 10 s and leaves at 20 s (both 1 h), run 5 min.
const LEAVE: &str = r#"
[simulation]
name = "leave"
seed = 1
duration = "5m"
[network]
latency = { dist = "constant", value = "100ms" }
[servers]
count = 1
[servers.defaults]
processing = { dist = "constant", value = "0ms" }
origin_processing = { dist = "constant", value = "0ms" }
clients_per_server = 2
client_latency = { dist = "constant", value = "10ms" }
[[rooms]]
name = "r"
servers = "all"
[[workload]]
kind = "script"
room = "r"
actions = [
  { at = "10s", client = "hs1/0", send = "sticky", key = "m", duration = "1h" },
  { at = "20s", client = "hs1/0", send = "leave", key = "m", duration = "1h" },
]
"#;

#[test]
fn a_spam_window_cut_by_the_run_end_says_so() {
    // From the leave's creation (20.01 s) the join and the leave are both inactionable until
    // the run ends at 300 s: 279.99 s, censored, 2 x 279.99 = 559.98 event-seconds.
    let r = run(LEAVE);
    assert_eq!(r.metric("spam.window_ms"), 279_990.0);
    assert_eq!(r.metric("spam.window_censored"), 1.0);
    assert!((r.metric("spam.inactionable_integral") - 559.98).abs() < 1e-6);
    // Sticky for 1 min only: the window ends at the leave's expiry (80.01 s), not censored;
    // the join expires at 70.01 s: 2 x 50 s + 1 x 10 s = 110 event-seconds.
    let r = run(&LEAVE.replace("duration = \"1h\"", "duration = \"1m\""));
    assert_eq!(r.metric("spam.window_ms"), 60_000.0);
    assert_eq!(r.metric("spam.window_censored"), 0.0);
    assert!((r.metric("spam.inactionable_integral") - 110.0).abs() < 1e-6);
}

#[test]
fn the_quiet_tail_stops_matrixrtc() {
    // One participant (hs1/0) joins at 10 s to stay 10 min and would crash; the run is 5 min
    // with a 1 min quiet tail, so it leaves cleanly just before 4 min instead: no crash, no
    // delayed leave in the tail, the last write is its leave, sent before the tail.
    let text = r#"
[simulation]
name = "tail"
seed = 2
duration = "5m"
quiet_tail = "1m"
[network]
latency = { dist = "constant", value = "100ms" }
[servers]
count = 2
[servers.defaults]
processing = { dist = "constant", value = "0ms" }
origin_processing = { dist = "constant", value = "0ms" }
clients_per_server = 2
client_latency = { dist = "constant", value = "10ms" }
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "matrixrtc"
room = "call"
participants = 1
join = { dist = "constant", value = "10s" }
stay = { dist = "constant", value = "10m" }
crash_fraction = 1.0
sticky_duration = "1h"
heartbeat = { leave_delay = "8s", restart_every = "5s" }
"#;
    let r = run(text);
    assert_eq!(r.metric("rtc.crashes"), 0.0);
    let w = r.csv("writes.csv");
    let last = w.last().expect("writes");
    let sent = f(last, "sent_ms");
    assert!((239_000.0..240_100.0).contains(&sent), "leave at {sent}");
    assert!(w.iter().all(|x| f(x, "sent_ms") < 240_100.0), "{w:?}");
    assert_eq!(r.metric("convergence.final_divergent_rooms"), 0.0);
}

#[test]
fn the_summary_histogram_reads_back() {
    use stickysim::observe::stats::LogHistogram;
    use stickysim::output::plots::data::Histogram;
    let mut h = LogHistogram::new();
    for v in [0.0, 10.0, 100.0, 100.0] {
        h.add(v);
    }
    let json = serde_json::to_value(&h).expect("json");
    let back = Histogram::from_json(&json).expect("reads");
    assert_eq!(back.total(), 4.0);
    assert_eq!(back.underflow, 1.0);
    let first = back.buckets.iter().find(|b| b.2 > 0.0).unwrap();
    assert!(first.0 < 10.0 && 10.0 <= first.1, "{first:?}");
    let last = back.buckets.last().unwrap();
    assert!(
        last.0 < 100.0 && 100.0 <= last.1 && last.2 == 2.0,
        "{last:?}"
    );
}

fn heartbeat(crash: f64, fault: &str) -> Run {
    let text = format!(
        r#"
[simulation]
name = "hb"
seed = 2
duration = "5m"
[network]
latency = {{ dist = "constant", value = "100ms" }}
[servers]
count = 2
[servers.defaults]
processing = {{ dist = "constant", value = "0ms" }}
origin_processing = {{ dist = "constant", value = "0ms" }}
clients_per_server = 2
client_latency = {{ dist = "constant", value = "10ms" }}
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "matrixrtc"
room = "call"
participants = 1
join = {{ dist = "constant", value = "10s" }}
stay = {{ dist = "constant", value = "60s" }}
crash_fraction = {crash}
sticky_duration = "1h"
heartbeat = {{ leave_delay = "8s", restart_every = "5s" }}
{fault}
"#
    );
    run(&text)
}

#[test]
fn a_delayed_leave_for_a_live_participant_is_a_false_leave() {
    // Restarted every 5 s with an 8 s delay: it never fires while the participant (hs1/0)
    // is in the call; after a crash it fires once, for a participant that is gone.
    let r = heartbeat(0.0, "");
    assert_eq!(r.metric("rtc.false_leaves"), 0.0);
    // Restarts every 5 s from 15.02 s while in the call (until 70 s): 15.02 .. 65.02 s.
    assert_eq!(r.metric("rtc.heartbeat_requests"), 11.0);
    assert_eq!(heartbeat(1.0, "").metric("rtc.false_leaves"), 0.0);
    // Its client is offline from 30 s to 50 s: the last restart (25.02 s) reached hs1 at
    // 25.03 s, so the delayed leave fires at 33.03 s while the participant, still in the
    // call until 70 s, could not restart it: one false leave.
    let r = heartbeat(
        0.0,
        "[[fault]]\nkind = \"client_offline\"\nclients = [\"hs1/0\"]\nfrom = \"30s\"\nto = \"50s\"",
    );
    assert_eq!(r.metric("rtc.false_leaves"), 1.0);
    // Its restart loop survives the offline spell: restarts at 30.02 .. 45.02 s are not sent
    // (offline); the one at 50.02 s is, finds the delayed leave gone (answer at 50.04 s), so
    // the participant schedules a new one and joins again at 50.06 s, restarting at 55.06,
    // 60.06 and 65.06 s: 3 + 1 + 3 heartbeat requests. Four writes to the member key: the
    // join, the false leave, the join again and the leave at 70 s (without the fault: two).
    assert_eq!(r.metric("rtc.heartbeat_requests"), 7.0);
    assert_eq!(r.metric("convergence.writes"), 4.0);
    assert_eq!(heartbeat(0.0, "").metric("convergence.writes"), 2.0);
}

#[test]
fn local_and_remote_pairs_are_reported_apart() {
    // CUT by hand. Local (hs1/1..3, on the sender's server): 3 events x 3 = 9 pairs, all
    // delivered in 10 ms. Remote (hs2's 4 clients): 3 x 4 = 12 pairs: `c` 4 in 110 ms,
    // `a` 4 after the partition (over 60 s), `b` 4 lost.
    for records in ["full", "summary"] {
        let r = run(&CUT.replace(
            "duration = \"10m\"",
            &format!("duration = \"10m\"\nrecords = \"{records}\""),
        ));
        let m = |k: &str| r.metric(k);
        assert_eq!(m("delivery.local.count"), 9.0, "{records}");
        assert_eq!(m("delivery.local.lost"), 0.0);
        assert_eq!(m("delivery.local.pending_at_end"), 0.0);
        assert_eq!(m("delivery.local.delivered_fraction"), 1.0);
        assert_eq!(m("delivery.local.within_1s"), 1.0);
        assert_eq!(m("delivery.remote.count"), 12.0);
        assert_eq!(m("delivery.remote.lost"), 4.0);
        assert_eq!(m("delivery.remote.delivered_fraction"), 8.0 / 12.0);
        assert_eq!(m("delivery.remote.within_1s"), 4.0 / 12.0);
        assert_eq!(m("delivery.remote.within_60s"), 4.0 / 12.0);
        // Local plus remote is the whole.
        assert_eq!(
            m("delivery.local.count") + m("delivery.remote.count"),
            m("delivery.count")
        );
        if records == "full" {
            assert_eq!(m("delivery.local.latency_ms.p99"), 10.0);
            // Remote delivered: 4 at 110 ms, 4 after 8 min; nearest-rank p50 is the 4th.
            assert_eq!(m("delivery.remote.latency_ms.p50"), 110.0);
        }
    }
}

#[test]
fn a_crash_takes_down_every_call_on_its_device() {
    // hs1/0 is the only client of hs1, in two calls (rooms a and b). Its participant in
    // `a` crashes at 40 s; the crash takes the client offline, so its participant in `b`
    // (in the call until 200 s) is gone without a leave too: two crashes, and the delayed
    // leave that then fires for `b` is the mechanism working, not a false leave.
    let text = r#"
[simulation]
name = "device"
seed = 3
duration = "5m"
[network]
latency = { dist = "constant", value = "100ms" }
[servers]
count = 2
[servers.defaults]
processing = { dist = "constant", value = "0ms" }
origin_processing = { dist = "constant", value = "0ms" }
clients_per_server = 1
client_latency = { dist = "constant", value = "10ms" }
[[rooms]]
name = "a"
servers = "all"
[[rooms]]
name = "b"
servers = "all"
[[workload]]
kind = "matrixrtc"
room = "a"
participants = 1
join = { dist = "constant", value = "10s" }
stay = { dist = "constant", value = "30s" }
crash_fraction = 1.0
sticky_duration = "1h"
[[workload]]
kind = "matrixrtc"
room = "b"
participants = 1
join = { dist = "constant", value = "10s" }
stay = { dist = "constant", value = "190s" }
crash_fraction = 0.0
sticky_duration = "1h"
"#;
    let r = run(text);
    assert_eq!(r.metric("rtc.participants"), 2.0);
    assert_eq!(r.metric("rtc.crashes"), 2.0);
    assert_eq!(r.metric("rtc.false_leaves"), 0.0);
    assert_eq!(r.metric("rtc.ghosts_at_end"), 0.0);
}
