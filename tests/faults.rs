//! Faults and the options that had no test yet (overload, link, clock, crash, withhold,
//! equivocate, honour_retry_after, old_sticky_in_extremities, wake_interval): small
//! scenarios with constant latencies, numbers worked out by hand.

mod common;
use common::*;
use std::collections::BTreeMap;
use stickysim::matrix::{PduId, RoomId, ServerId};

type Row = BTreeMap<String, String>;

/// federation.csv rows from `origin` to `destination`, in order.
fn sends(r: &Run, origin: &str, destination: &str) -> Vec<Row> {
    r.csv("federation.csv")
        .into_iter()
        .filter(|x| x["origin"] == origin && x["destination"] == destination)
        .collect()
}

/// (t_ms, outcome, next_attempt_ms) of each row; next_attempt "" -> None.
fn attempts(rows: &[Row]) -> Vec<(f64, String, Option<f64>)> {
    rows.iter()
        .map(|x| {
            (
                f(x, "t_ms"),
                x["outcome"].clone(),
                x["next_attempt_ms"].parse().ok(),
            )
        })
        .collect()
}

/// deliveries.csv rows to one client.
fn to_client(r: &Run, client: &str) -> Vec<Row> {
    r.csv("deliveries.csv")
        .into_iter()
        .filter(|d| d["recipient_client"] == client)
        .collect()
}

/// (sent_ms, server_received_ms, client_received_ms, path) of one client's deliveries,
/// sorted by sent time; received columns NaN when empty (lost).
fn received(r: &Run, client: &str) -> Vec<(f64, f64, f64, String)> {
    let num = |d: &Row, k: &str| d[k].parse::<f64>().unwrap_or(f64::NAN);
    let mut v: Vec<_> = to_client(r, client)
        .iter()
        .map(|d| {
            (
                f(d, "sent_ms"),
                num(d, "server_received_ms"),
                num(d, "client_received_ms"),
                d["path"].clone(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    v
}

// ---------------------------------------------------------------------------------------
// 1. Overload: inbound.pdu_cost and inbound.queue_bound.

/// hs1, hs2, hs3 each burst 50 sticky events to the room, 20 ms apart; hs4 takes 10 ms
/// per PDU and queues at most 100. 100 ms links, no rate limit, no jitter.
const OVERLOAD: &str = r#"
[simulation]
name = "overload"
seed = 21
duration = "2m"
[network]
latency = { dist = "constant", value = "100ms" }
[servers.defaults]
processing = { dist = "constant", value = "0ms" }
origin_processing = { dist = "constant", value = "0ms" }
clients_per_server = 1
client_latency = { dist = "constant", value = "10ms" }
inbound = { policy = "unlimited" }
federation = { retries = { jitter = [1.0, 1.0] }, backoff = { jitter = [1.0, 1.0] } }
[[servers.list]]
name = "hs1"
[[servers.list]]
name = "hs2"
[[servers.list]]
name = "hs3"
[[servers.list]]
name = "hs4"
inbound = { pdu_cost = "10ms", queue_bound = 100 }
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "spam"
room = "call"
client = "hs1/0"
rate = 1e9
count = 50
start = "10s"
[[workload]]
kind = "spam"
room = "call"
client = "hs2/0"
rate = 1e9
count = 50
start = "10.02s"
[[workload]]
kind = "spam"
room = "call"
client = "hs3/0"
rate = 1e9
count = 50
start = "10.04s"
"#;

#[test]
fn overload_answers_503_past_the_queue_bound_and_the_retry_gets_through() {
    let r = run(OVERLOAD);
    // Created at 10.01 s (hs1), 10.03 s (hs2), 10.05 s (hs3): one transaction of 50 each.
    // At hs4 (10 ms a PDU, bound 100):
    //  hs1's arrives at 10.11 s: empty queue, accepted, processed by 10.11 + 50 x 10 ms = 10.61 s;
    //  hs2's at 10.13 s: 48 PDUs still queued (0.48 s / 10 ms), 48 + 50 = 98 <= 100:
    //   accepted, processed by 10.61 + 0.5 = 11.11 s;
    //  hs3's at 10.15 s: 96 queued, 96 + 50 > 100: 503, back at hs3 at 10.25 s. Retried
    //   inside the /send after 4 s (jitter off): 14.25 s, arrives 14.35 s to an empty
    //   queue: accepted, processed by 14.35 + 0.5 = 14.85 s.
    assert_eq!(
        attempts(&sends(&r, "hs3", "hs4")),
        vec![
            (10_050.0, "server_error".into(), Some(14_250.0)),
            (14_250.0, "ok".into(), None),
        ]
    );
    assert_eq!(attempts(&sends(&r, "hs1", "hs4")).len(), 1);
    assert_eq!(attempts(&sends(&r, "hs2", "hs4")).len(), 1);
    assert_eq!(
        r.csv("federation.csv")
            .iter()
            .filter(|x| x["outcome"] == "server_error")
            .count(),
        1,
        "only hs4 is overloaded"
    );
    // The transaction's PDUs become visible together once the last is processed
    // (its position in hs4's queue x 10 ms); the client sees them 10 ms later.
    let got = received(&r, "hs4/0");
    assert_eq!(got.len(), 150);
    for (sent, srv, cli, path) in &got {
        let expect = match *sent as u64 {
            10_010 => 10_610.0,
            10_030 => 11_110.0,
            10_050 => 14_850.0,
            other => panic!("sent at {other}"),
        };
        assert_eq!(*srv, expect);
        assert_eq!(*cli, expect + 10.0);
        let want = if *sent == 10_050.0 { "retry" } else { "direct" };
        assert_eq!(path, want);
    }
    // The other servers have no processing cost: 100 ms + 10 ms.
    assert!(received(&r, "hs1/0")
        .iter()
        .all(|(s, srv, _, _)| *srv == s + 100.0));
    assert_eq!(r.metric("delivery.lost"), 0.0);
}

// ---------------------------------------------------------------------------------------
// 2. `link` fault.

fn link(fault: &str, sends_at: &[&str]) -> Run {
    let actions: String = sends_at
        .iter()
        .enumerate()
        .map(|(i, at)| {
            format!(
                "  {{ at = \"{at}\", client = \"hs1/0\", send = \"sticky\", key = \"k{i}\" }},\n"
            )
        })
        .collect();
    let text = format!(
        r#"
[simulation]
name = "link"
seed = 22
duration = "6m"
[network]
latency = {{ dist = "constant", value = "100ms" }}
[servers]
count = 3
[servers.defaults]
processing = {{ dist = "constant", value = "0ms" }}
origin_processing = {{ dist = "constant", value = "0ms" }}
clients_per_server = 1
client_latency = {{ dist = "constant", value = "10ms" }}
federation = {{ retries = {{ jitter = [1.0, 1.0] }}, backoff = {{ jitter = [1.0, 1.0] }} }}
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "script"
room = "call"
actions = [
{actions}]
{fault}
"#
    );
    run(&text)
}

#[test]
fn link_fault_changes_one_pairs_latency_for_its_interval() {
    let r = link(
        r#"[[fault]]
kind = "link"
servers = ["hs1", "hs2"]
from = "1m"
to = "2m"
latency = { dist = "constant", value = "1s" }"#,
        &["30s", "90s", "119.5s", "150s"],
    );
    // Created 10 ms after each `at`. hs1 -> hs2 takes 100 ms outside [60 s, 120 s) and 1 s
    // inside; what counts is the time a message leaves: the one sent at 119.51 s arrives
    // at 120.51 s, after the fault ended. hs1 -> hs3 is untouched.
    let srv: Vec<f64> = received(&r, "hs2/0").iter().map(|x| x.1).collect();
    assert_eq!(srv, vec![30_110.0, 91_010.0, 120_510.0, 150_110.0]);
    let srv: Vec<f64> = received(&r, "hs3/0").iter().map(|x| x.1).collect();
    assert_eq!(srv, vec![30_110.0, 90_110.0, 119_610.0, 150_110.0]);
    assert!(r.csv("federation.csv").iter().all(|x| x["outcome"] == "ok"));
}

#[test]
fn link_loss_of_one_behaves_like_a_cut() {
    let loss = link(
        r#"[[fault]]
kind = "link"
servers = ["hs1", "hs2"]
from = "1m"
to = "3m"
loss = 1.0"#,
        &["70s"],
    );
    // Created 70.01 s. Every message on hs1-hs2 is lost until 180 s: attempt 1 times out
    // after 60 s (130.01 s), the retry inside the /send waits 4 s (134.01 s, still cut),
    // times out at 194.01 s, waits 16 s: 210.01 s gets through, arriving 210.11 s.
    let rows = sends(&loss, "hs1", "hs2");
    assert_eq!(
        attempts(&rows),
        vec![
            (70_010.0, "timeout".into(), Some(134_010.0)),
            (134_010.0, "timeout".into(), Some(210_010.0)),
            (210_010.0, "ok".into(), None),
        ]
    );
    let got = received(&loss, "hs2/0");
    assert_eq!(got, vec![(70_010.0, 210_110.0, 210_120.0, "retry".into())]);
    assert_eq!(
        received(&loss, "hs3/0"),
        vec![(70_010.0, 70_110.0, 70_120.0, "direct".into())]
    );
    // The same interval as a partition of the pair gives the same attempts and deliveries.
    // (A partition of hs2 alone also cuts hs2-hs3, which carries nothing here.)
    let cut = link(
        r#"[[fault]]
kind = "partition"
servers = ["hs2"]
from = "1m"
to = "3m""#,
        &["70s"],
    );
    assert_eq!(attempts(&sends(&cut, "hs1", "hs2")), attempts(&rows));
    assert_eq!(received(&cut, "hs2/0"), got);
}

// ---------------------------------------------------------------------------------------
// 3. `clock` fault.

/// hs1/0 sends sticky events (1 h) at the given times; hs1's clock changes at 10 min.
/// Returns, per event in sending order, (origin_server_ts, hs1 window, hs2 window) with
/// windows in simulated ms.
/// A sticky window (from, to) in simulated ms.
type Window = (f64, f64);

fn clock(fault: &str, at: &[&str]) -> Vec<(i64, Window, Window)> {
    let actions: String = at
        .iter()
        .enumerate()
        .map(|(i, a)| {
            format!("  {{ at = \"{a}\", client = \"hs1/0\", send = \"sticky\", key = \"k{i}\", duration = \"1h\" }},\n")
        })
        .collect();
    let text = format!(
        r#"
[simulation]
name = "clock"
seed = 23
duration = "1h15m"
sample_interval = "1m"
[network]
latency = {{ dist = "constant", value = "100ms" }}
[servers]
count = 2
[servers.defaults]
processing = {{ dist = "constant", value = "0ms" }}
origin_processing = {{ dist = "constant", value = "0ms" }}
clients_per_server = 1
client_latency = {{ dist = "constant", value = "10ms" }}
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "script"
room = "call"
actions = [
{actions}]
[[fault]]
kind = "clock"
servers = ["hs1"]
from = "10m"
{fault}
"#
    );
    let fin = stickysim::run::simulate(&scenario(&text), false, false, false).expect("run");
    let mut out = vec![];
    let mut sticky: Vec<PduId> = fin
        .observer
        .server_sticky
        .iter()
        .map(|s| s.pdu)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    sticky.sort_by_key(|p| fin.world.sh.pdus[*p].created_at);
    for p in sticky {
        let win = |server: u32| {
            let server = ServerId(server);
            let s = fin
                .observer
                .server_sticky
                .iter()
                .find(|s| s.server == server && s.pdu == p)
                .expect("accepted");
            (s.from as f64 / 1000.0, s.to as f64 / 1000.0)
        };
        out.push((fin.world.sh.pdus[p].origin_server_ts, win(0), win(1)));
    }
    out
}

#[test]
fn clock_fault_skew_from_a_time_on_shortens_stickiness_at_receivers() {
    // Before 10 min hs1's clock is right: the event of 1 min (created 60.01 s) has
    // origin_server_ts 60 010 and is sticky for the full hour at both servers (hs2 from
    // receipt, 60.11 s, to min(60 110, 60 010) + 1 h).
    // From 10 min it runs 10 min slow: the event of 20 min (created 1200.01 s) carries
    // origin_server_ts 1 200 010 - 600 000 = 600 010. hs2 (right clock) starts it at
    // min(1 200 110, 600 010) and ends it at 600 010 + 3 600 000 = 4 200 010 ms: 10 min early.
    // hs1 ends it at local 4 200 010, which its slow clock shows at 4 800 010 ms: the hour.
    let got = clock(r#"skew = "-10m""#, &["1m", "20m"]);
    assert_eq!(
        got,
        vec![
            (60_010, (60_010.0, 3_660_010.0), (60_110.0, 3_660_010.0)),
            (
                600_010,
                (1_200_010.0, 4_800_010.0),
                (1_200_110.0, 4_200_010.0)
            ),
        ]
    );
    // Ten minutes fast instead: origin_server_ts is in hs2's future, so hs2 starts at
    // receipt and keeps the full hour (the min() rule bounds it).
    let got = clock(r#"skew = "10m""#, &["20m"]);
    assert_eq!(
        got,
        vec![(
            1_800_010,
            (1_200_010.0, 4_800_010.0),
            (1_200_110.0, 4_800_110.0)
        )]
    );
}

#[test]
fn clock_fault_drift_over_an_hour_gives_a_computable_offset() {
    // From 10 min (local 600 000 ms, right until then) hs1's clock loses 1000 ppm. The
    // event of 1 h 10 min is created at 4 200.01 s, 3 600.01 s into the drift: hs1 shows
    // 600 000 + 3 600 010 x 0.999 = 4 196 409.99 ms, so origin_server_ts = 4 196 409,
    // 3 601 ms behind. hs2 ends its stickiness at 4 196 409 + 3 600 000 = 7 796 409 ms,
    // 3.6 s earlier than an exact clock would (7 800 010).
    let got = clock("drift_ppm = -1000.0", &["1h10m"]);
    assert_eq!(got.len(), 1);
    let (ots, _, hs2) = got[0];
    assert_eq!(ots, 4_196_409);
    assert_eq!(hs2, (4_200_110.0, 7_796_409.0));
    // Gaining 1000 ppm: 600 000 + 3 600 010 x 1.001 = 4 203 610.01: 3.6 s ahead, which
    // hs2 ignores (start at receipt): 4 200 110 + 3 600 000.
    let got = clock("drift_ppm = 1000.0", &["1h10m"]);
    let (ots, _, hs2) = got[0];
    assert_eq!(ots, 4_203_610);
    assert_eq!(hs2, (4_200_110.0, 7_800_110.0));
}

// ---------------------------------------------------------------------------------------
// 4. `crash` and restart from persisted state.

/// hs2 is cut off from 1 min to 5 min; hs1 queues A (2 min, 1 h), B (2.5 min, 1 h) and
/// C (2 min 40 s, 3 min) for it, crashes at 4 min and restarts at 6 min.
fn origin_crash(catch_up: &str) -> Run {
    let text = format!(
        r#"
[simulation]
name = "origin_crash"
seed = 24
duration = "10m"
[network]
latency = {{ dist = "constant", value = "100ms" }}
[servers]
count = 2
[servers.defaults]
processing = {{ dist = "constant", value = "0ms" }}
origin_processing = {{ dist = "constant", value = "0ms" }}
clients_per_server = 1
client_latency = {{ dist = "constant", value = "10ms" }}
[servers.defaults.federation]
catch_up = "{catch_up}"
restart_catch_up = "queue_order"
retries = {{ count = 0 }}
backoff = {{ initial = "10s", multiplier = 1.0, jitter = [1.0, 1.0] }}
wake_interval = "0s"
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "script"
room = "call"
actions = [
  {{ at = "2m", client = "hs1/0", send = "sticky", key = "A", duration = "1h" }},
  {{ at = "150s", client = "hs1/0", send = "sticky", key = "B", duration = "1h" }},
  {{ at = "160s", client = "hs1/0", send = "sticky", key = "C", duration = "3m" }},
]
[[fault]]
kind = "partition"
servers = ["hs2"]
from = "1m"
to = "5m"
[[fault]]
kind = "crash"
servers = ["hs1"]
from = "4m"
to = "6m"
"#
    );
    run(&text)
}

#[test]
fn a_crashed_origin_sends_its_unexpired_sticky_events_after_restart() {
    let r = origin_crash("sticky_all");
    // A goes at 120.01 s alone and times out at 180.01 s; B and C queued meanwhile.
    // Backoff 10 s: [A, B, C] go at 190.01 s (cut: would time out at 250.01 s), in flight
    // when hs1 crashes at 240 s. On restart at 360 s the queue, persisted, is sent again:
    // C (sticky until 160.01 + 180 = 340.01 s) expired meanwhile and is dropped;
    // A and B go in one transaction, arriving 360.1 s (the partition ended at 300 s).
    let rows = sends(&r, "hs1", "hs2");
    let got = attempts(&rows);
    assert_eq!(got[0], (120_010.0, "timeout".into(), Some(190_010.0)));
    assert_eq!(got.last().unwrap(), &(360_000.0, "ok".into(), None));
    assert_eq!(f(rows.last().unwrap(), "pdus"), 2.0);
    let hs2 = received(&r, "hs2/0");
    assert_eq!(
        hs2.iter()
            .filter(|x| !x.1.is_nan())
            .map(|x| (x.0, x.1, x.3.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (120_010.0, 360_100.0, "catch_up"),
            (150_010.0, 360_100.0, "catch_up")
        ]
    );
    assert_eq!(r.metric("delivery.lost"), 1.0);
    assert_eq!(r.metric("delivery.lost_by_cause.expired_in_queue"), 1.0);
}

#[test]
fn the_attempt_in_flight_at_a_crash_is_a_row() {
    let r = origin_crash("sticky_all");
    // 120.01 s (timeout), 190.01 s (in flight at the crash: fails), 360 s (ok).
    let got = attempts(&sends(&r, "hs1", "hs2"));
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[1].0, 190_010.0);
    assert_ne!(got[1].1, "ok");
}

/// hs2 is down from 1 min to 5 min; hs1 sends S at 30 s (before) and A at 2 min (during).
/// hs2/1 is offline from 10 s to 6 min.
const DEST_CRASH: &str = r#"
[simulation]
name = "dest_crash"
seed = 25
duration = "10m"
[network]
latency = { dist = "constant", value = "100ms" }
[servers]
count = 2
[servers.defaults]
processing = { dist = "constant", value = "0ms" }
origin_processing = { dist = "constant", value = "0ms" }
clients_per_server = 2
client_latency = { dist = "constant", value = "10ms" }
[servers.defaults.federation]
retries = { count = 1, first = "4s", jitter = [1.0, 1.0] }
backoff = { initial = "1m", multiplier = 1.0, jitter = [1.0, 1.0] }
wake_interval = "0s"
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "script"
room = "call"
actions = [
  { at = "30s", client = "hs1/0", send = "sticky", key = "S", duration = "1h" },
  { at = "2m", client = "hs1/0", send = "sticky", key = "A", duration = "1h" },
]
[[fault]]
kind = "crash"
servers = ["hs2"]
from = "1m"
to = "5m"
[[fault]]
kind = "client_offline"
clients = ["hs2/1"]
from = "10s"
to = "6m"
"#;

#[test]
fn a_crashed_destination_refuses_after_one_round_trip_and_keeps_what_it_accepted() {
    let r = run(DEST_CRASH);
    // A created 120.01 s; hs2 is down: refused 200 ms later (120.21 s); one retry after 4 s
    // (124.21 s, refused 124.41 s); then 1 min of backoff: 184.41 s, 188.61 s; 248.81 s,
    // 253.01 s; then 313.21 s, after the restart at 300 s: ok, arriving 313.31 s.
    assert_eq!(
        attempts(&sends(&r, "hs1", "hs2")),
        vec![
            (30_010.0, "ok".into(), None),
            (120_010.0, "refused".into(), Some(124_210.0)),
            (124_210.0, "refused".into(), Some(184_410.0)),
            (184_410.0, "refused".into(), Some(188_610.0)),
            (188_610.0, "refused".into(), Some(248_810.0)),
            (248_810.0, "refused".into(), Some(253_010.0)),
            (253_010.0, "refused".into(), Some(313_210.0)),
            (313_210.0, "ok".into(), None),
        ]
    );
    // hs2/0 got S before the crash and A after the restart.
    assert_eq!(
        received(&r, "hs2/0"),
        vec![
            (30_010.0, 30_110.0, 30_120.0, "direct".into()),
            (120_010.0, 313_310.0, 313_320.0, "catch_up".into()),
        ]
    );
    // hs2/1, offline through the crash, syncs at 360 s: S survived the crash (persisted),
    // and both come in its first response, 10 ms each way.
    let hs2_1 = received(&r, "hs2/1");
    assert_eq!(
        hs2_1.iter().map(|x| (x.0, x.2)).collect::<Vec<_>>(),
        vec![(30_010.0, 360_020.0), (120_010.0, 360_020.0)]
    );
    assert_eq!(r.metric("delivery.lost"), 0.0);
}

/// hs2 takes 1 s per PDU; hs1 sends it 5 sticky events at 10 s; hs2 crashes at 12 s,
/// before it has processed them (15.11 s), and restarts at 20 s.
const CRASH_WHILE_PROCESSING: &str = r#"
[simulation]
name = "crash_processing"
seed = 26
duration = "5m"
[network]
latency = { dist = "constant", value = "100ms" }
[servers.defaults]
processing = { dist = "constant", value = "0ms" }
origin_processing = { dist = "constant", value = "0ms" }
clients_per_server = 1
client_latency = { dist = "constant", value = "10ms" }
federation = { retries = { jitter = [1.0, 1.0] }, backoff = { jitter = [1.0, 1.0] } }
inbound = { policy = "unlimited" }
[[servers.list]]
name = "hs1"
[[servers.list]]
name = "hs2"
inbound = { pdu_cost = "1s" }
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "spam"
room = "call"
client = "hs1/0"
rate = 1e9
count = 5
start = "10s"
[[fault]]
kind = "crash"
servers = ["hs2"]
from = "12s"
to = "20s"
"#;

#[test]
fn a_server_crashing_before_it_processed_a_send_does_not_acknowledge_it() {
    let r = run(CRASH_WHILE_PROCESSING);
    // The transaction (created 10.01 s, arriving 10.11 s) would be processed by 15.11 s;
    // hs2 dies at 12 s, so no 200 can come back: hs1 must see a failure and resend after
    // the restart, and hs2/0 must get all 5 events.
    let rows = sends(&r, "hs1", "hs2");
    assert_ne!(rows[0]["outcome"], "ok", "{rows:?}");
    assert_eq!(r.metric("delivery.lost"), 0.0);
}

// ---------------------------------------------------------------------------------------
// 5. `withhold`.

fn withhold_text(missing_limit: u32, extra: &str) -> String {
    format!(
        r#"
[simulation]
name = "withhold"
seed = 27
duration = "5m"
[network]
latency = {{ dist = "constant", value = "100ms" }}
[servers]
count = 3
[servers.defaults]
processing = {{ dist = "constant", value = "0ms" }}
origin_processing = {{ dist = "constant", value = "0ms" }}
clients_per_server = 1
client_latency = {{ dist = "constant", value = "10ms" }}
federation = {{ missing_events_limit = {missing_limit} }}
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "script"
room = "call"
actions = [
  {{ at = "10s", client = "hs1/0", send = "sticky", key = "S", duration = "1h" }},
  {{ at = "20s", client = "hs2/0", send = "message" }},
{extra}]
[[fault]]
kind = "withhold"
server = "hs1"
to_servers = ["hs3"]
"#
    )
}

fn withhold(missing_limit: u32) -> Run {
    run(&withhold_text(missing_limit, ""))
}

#[test]
fn a_withheld_destination_loses_the_event_unless_a_third_server_passes_it_on() {
    // S (created 10.01 s) goes to hs2 only: 10.11 s, its client 10.12 s.
    // Without get_missing_events, hs3 never gets it: lost, never sent.
    let r = withhold(0);
    assert_eq!(
        received(&r, "hs2/0"),
        vec![(10_010.0, 10_110.0, 10_120.0, "direct".into())]
    );
    let hs3 = received(&r, "hs3/0");
    assert_eq!(hs3.len(), 1);
    assert!(hs3[0].1.is_nan(), "{hs3:?}");
    assert_eq!(r.metric("delivery.lost"), 1.0);
    assert_eq!(r.metric("delivery.lost_by_cause.never_sent"), 1.0);
    assert!(sends(&r, "hs1", "hs3").is_empty());
    // With it (limit 10): hs2's message (created 20.01 s, prev_events = [S]) reaches hs3 at
    // 20.11 s; hs3 asks hs2 for S and has it one round trip later, 20.31 s.
    let r = withhold(10);
    assert_eq!(
        received(&r, "hs3/0"),
        vec![(10_010.0, 20_310.0, 20_320.0, "transitive".into())]
    );
    assert_eq!(r.metric("delivery.lost"), 0.0);
    assert!(sends(&r, "hs1", "hs3").is_empty());
}

#[test]
fn an_event_fetched_as_a_missing_prev_event_is_not_a_forward_extremity() {
    // As above (limit 10): hs3 has M (hs2's message, prev_events [S]) at 20.11 s and S at
    // 20.31 s. S has a known child, M, so hs3's only forward extremity is M: hs3/0's
    // message at 30 s must name [M] alone, not [M, S].
    let text = withhold_text(
        10,
        r#"  { at = "30s", client = "hs3/0", send = "message" },
"#,
    );
    let fin = stickysim::run::simulate(&scenario(&text), false, false, false).expect("run");
    let id = |origin: u32, sticky: bool| {
        fin.world
            .sh
            .pdus
            .iter()
            .find(|(_, p)| p.origin == ServerId(origin) && p.is_sticky() == sticky)
            .expect("event")
            .0
    };
    let m = id(1, false);
    let m2 = id(2, false);
    assert_eq!(fin.world.sh.pdus[m2].prev_events, vec![m]);
}

// ---------------------------------------------------------------------------------------
// 6. `equivocate`.

/// hs1 sends one version of key "eq" to hs2 and another to hs3 and hs4, at 1 min.
fn equivocate(later: &str) -> (Run, stickysim::run::Finished) {
    let text = format!(
        r#"
[simulation]
name = "equivocate"
seed = 28
duration = "5m"
[network]
latency = {{ dist = "constant", value = "100ms" }}
[servers]
count = 4
[servers.defaults]
processing = {{ dist = "constant", value = "0ms" }}
origin_processing = {{ dist = "constant", value = "0ms" }}
clients_per_server = 1
client_latency = {{ dist = "constant", value = "10ms" }}
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "script"
room = "call"
actions = [
{later}]
[[fault]]
kind = "equivocate"
server = "hs1"
room = "call"
split = ["hs3", "hs4"]
at = "1m"
key = "eq"
"#
    );
    let fin = stickysim::run::simulate(&scenario(&text), false, false, false).expect("run");
    (run(&text), fin)
}

/// The two versions (E1 to the rest, E2 to the split) and each client's winner at the end.
fn versions_and_winners(fin: &stickysim::run::Finished) -> ((PduId, PduId), Vec<Option<PduId>>) {
    let e = |i: i64| {
        fin.world
            .sh
            .pdus
            .iter()
            .find(|(_, p)| p.is_sticky() && p.origin_server_ts == 60_000 + i)
            .expect("version")
            .0
    };
    let winners = fin
        .world
        .clients
        .iter()
        .map(|c| c.map.view(RoomId(0), fin.end).first().map(|(_, p)| *p))
        .collect();
    ((e(0), e(1)), winners)
}

#[test]
fn equivocation_divides_the_room_until_later_traffic_spreads_both_versions() {
    // The two versions E1 (to hs2) and E2 (to hs3, hs4) are created at 60 s; E2 carries an
    // origin_server_ts 1 ms later with the same duration (1 h): E2 has the higher
    // origin_server_ts + duration_ms, so E2 wins wherever both are known, whatever the IDs.
    let (r, fin) = equivocate("");
    let ((e1, e2), winners) = versions_and_winners(&fin);
    // No later traffic: hs2's client shows E1; hs1's (its server has both), hs3's and hs4's
    // show E2. One room, two views at the end.
    assert_eq!(winners, vec![Some(e2), Some(e1), Some(e2), Some(e2)]);
    assert_eq!(r.metric("convergence.final_divergent_rooms"), 1.0);
    assert_eq!(
        received(&r, "hs2/0")
            .iter()
            .filter(|x| !x.1.is_nan())
            .map(|x| x.1)
            .collect::<Vec<_>>(),
        vec![60_100.0],
        "hs2 has only E1"
    );

    // Later traffic from the equivocating server: hs1/0's message (created 120.01 s) has
    // prev_events = [E2]; hs2 receives it at 120.11 s, asks hs1 for E2 and has it at
    // 120.31 s, its client at 120.32 s. Every client then shows E2.
    let later = r#"  { at = "2m", client = "hs1/0", send = "message" },
"#;
    let (r, fin) = equivocate(later);
    let ((_, e2b), winners) = versions_and_winners(&fin);
    assert_eq!(winners, vec![Some(e2b); 4]);
    assert_eq!(r.metric("convergence.final_divergent_rooms"), 0.0);
    let hs2: Vec<_> = received(&r, "hs2/0")
        .into_iter()
        .filter(|x| x.3 == "transitive")
        .collect();
    assert_eq!(
        hs2,
        vec![(60_000.0, 120_310.0, 120_320.0, "transitive".into())]
    );

    // Later traffic from a server of the other group: hs3 references E2 (it got E2 directly
    // at 60.1 s); hs3/0's message (created 120.01 s) reaches hs2 at 120.11 s, hs2 asks hs3
    // and has E2 at 120.31 s.
    let later = r#"  { at = "2m", client = "hs3/0", send = "message" },
"#;
    let (r, fin) = equivocate(later);
    let ((_, e2c), winners) = versions_and_winners(&fin);
    assert_eq!(winners, vec![Some(e2c); 4]);
    assert_eq!(r.metric("convergence.final_divergent_rooms"), 0.0);
    let hs2: Vec<_> = received(&r, "hs2/0")
        .into_iter()
        .filter(|x| x.3 == "transitive")
        .collect();
    assert_eq!(
        hs2,
        vec![(60_000.0, 120_310.0, 120_320.0, "transitive".into())]
    );
}

#[test]
fn equivocated_versions_are_siblings() {
    let (r, fin) = equivocate("");
    let ((e1, e2), _) = versions_and_winners(&fin);
    assert_eq!(
        fin.world.sh.pdus[e2].prev_events,
        fin.world.sh.pdus[e1].prev_events
    );
    // hs3 and hs4 then have E2 only (60.1 s), nothing transitive; E1 was never sent to them.
    for c in ["hs3/0", "hs4/0"] {
        let mut got = received(&r, c);
        got.retain(|x| !x.1.is_nan() || x.3 != "lost:never_sent");
        assert_eq!(got, vec![(60_000.0, 60_100.0, 60_110.0, "direct".into())]);
        assert_eq!(
            received(&r, c).len(),
            2,
            "E1's pair is there, lost: never sent"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 7. `honour_retry_after`.

/// hs1/0 bursts 100 sticky events at 10 s to hs2 (10/s, burst 50, Retry-After 10 s).
fn retry_after(honour: bool) -> Run {
    let text = format!(
        r#"
[simulation]
name = "retry_after"
seed = 29
duration = "2m"
[network]
latency = {{ dist = "constant", value = "100ms" }}
[servers]
count = 2
[servers.defaults]
processing = {{ dist = "constant", value = "0ms" }}
origin_processing = {{ dist = "constant", value = "0ms" }}
clients_per_server = 1
client_latency = {{ dist = "constant", value = "10ms" }}
federation = {{ honour_retry_after = {honour}, retries = {{ jitter = [1.0, 1.0] }}, backoff = {{ jitter = [1.0, 1.0] }} }}
inbound = {{ policy = "reject_429", sticky_rate = {{ per_second = 10.0, burst = 50 }}, retry_after = "10s" }}
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "spam"
room = "call"
client = "hs1/0"
rate = 1e9
count = 100
start = "10s"
"#
    );
    run(&text)
}

#[test]
fn honour_retry_after_false_retries_on_the_send_schedule() {
    // Created 10.01 s. Txn 1 (50) arrives 10.11 s with a full bucket: ok, back 10.21 s.
    // Txn 2 leaves 10.21 s, arrives 10.31 s with 0.2 s x 10/s = 2 tokens: 429, Retry-After
    // 10 s, back at 10.41 s.
    // Synapse (false): the retry waits 4 s: 14.41 s, arriving with 2 + 4.2 x 10 = 44
    // tokens: 429 again, back 14.61 s; then 16 s: 30.61 s, the bucket full: ok.
    let r = retry_after(false);
    assert_eq!(
        attempts(&sends(&r, "hs1", "hs2")),
        vec![
            (10_010.0, "ok".into(), None),
            (10_210.0, "rate_limited".into(), Some(14_410.0)),
            (14_410.0, "rate_limited".into(), Some(30_610.0)),
            (30_610.0, "ok".into(), None),
        ]
    );
    assert_eq!(received(&r, "hs2/0").last().map(|x| x.1), Some(30_710.0));
    // Honoured (the default): the retry waits max(4 s, 10 s): 20.41 s, arriving with
    // 2 + 10.2 x 10 > 50 tokens: ok at once.
    let r = retry_after(true);
    assert_eq!(
        attempts(&sends(&r, "hs1", "hs2")),
        vec![
            (10_010.0, "ok".into(), None),
            (10_210.0, "rate_limited".into(), Some(20_410.0)),
            (20_410.0, "ok".into(), None),
        ]
    );
    assert_eq!(received(&r, "hs2/0").last().map(|x| x.1), Some(20_510.0));
    for r in [retry_after(false), retry_after(true)] {
        assert!(r
            .csv("federation.csv")
            .iter()
            .filter(|x| x["outcome"] == "rate_limited")
            .all(|x| x["retry_after_ms"] == "10000"));
        assert_eq!(r.metric("delivery.lost"), 0.0);
    }
}

// ---------------------------------------------------------------------------------------
// 8. `old_sticky_in_extremities`.

/// S from hs1 (10 s) reaches hs2 only after hs2's own 50 newer events (a 20 s link) and
/// never reaches hs3 directly (withheld); hs2/0 then sends a message at 40 s.
fn old_sticky(in_extremities: bool) -> Run {
    let text = format!(
        r#"
[simulation]
name = "old_sticky"
seed = 30
duration = "2m"
[network]
latency = {{ dist = "constant", value = "100ms" }}
[[network.link]]
from = "hs1"
to = "hs2"
latency = {{ dist = "constant", value = "20s" }}
[servers]
count = 3
[servers.defaults]
processing = {{ dist = "constant", value = "0ms" }}
origin_processing = {{ dist = "constant", value = "0ms" }}
clients_per_server = 1
client_latency = {{ dist = "constant", value = "10ms" }}
inbound = {{ policy = "unlimited", old_sticky_in_extremities = {in_extremities} }}
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "script"
room = "call"
actions = [
  {{ at = "10s", client = "hs1/0", send = "sticky", key = "S", duration = "1h" }},
  {{ at = "40s", client = "hs2/0", send = "message" }},
]
[[workload]]
kind = "spam"
room = "call"
client = "hs2/0"
rate = 1e9
count = 50
start = "11s"
[[fault]]
kind = "withhold"
server = "hs1"
to_servers = ["hs3"]
"#
    );
    run(&text)
}

#[test]
fn a_late_sticky_event_is_carried_transitively_only_if_it_becomes_an_extremity() {
    // S: created 10.01 s (origin_server_ts 10 010), at hs2 30.01 s. By then hs2 has created
    // its 50 spam events (11.01 s): its 50 most recent PDUs are all newer than S, so S is
    // late. hs2 accepts it either way (its client at 30.02 s).
    for flag in [true, false] {
        let r = old_sticky(flag);
        let s: Vec<_> = received(&r, "hs2/0")
            .into_iter()
            .filter(|x| x.0 == 10_010.0)
            .collect();
        assert_eq!(s, vec![(10_010.0, 30_010.0, 30_020.0, "direct".into())]);
    }
    // true: S is a forward extremity at hs2, so hs2's message (created 40.01 s) names it in
    // prev_events; hs3 gets the message at 40.11 s, asks hs2 for S, has it at 40.31 s.
    let r = old_sticky(true);
    let s: Vec<_> = received(&r, "hs3/0")
        .into_iter()
        .filter(|x| x.0 == 10_010.0)
        .collect();
    assert_eq!(s, vec![(10_010.0, 40_310.0, 40_320.0, "transitive".into())]);
    assert_eq!(r.metric("delivery.lost"), 0.0);
    // false: S is not an extremity; the message names only hs2's last spam event, which hs3
    // has: nothing is fetched and hs3 never gets S.
    let r = old_sticky(false);
    let s: Vec<_> = received(&r, "hs3/0")
        .into_iter()
        .filter(|x| x.0 == 10_010.0)
        .collect();
    assert_eq!(s.len(), 1);
    assert!(s[0].1.is_nan(), "{s:?}");
    assert_eq!(r.metric("delivery.lost"), 1.0);
    assert_eq!(r.metric("delivery.lost_by_cause.never_sent"), 1.0);
}

// ---------------------------------------------------------------------------------------
// 9. `wake_interval`.

/// hs2 is cut off from 1 min to 3 min; hs1/0 sends S at 2 min. No retries inside a /send,
/// 10 s backoff.
fn wake(interval: &str, extra: &str) -> Run {
    let text = format!(
        r#"
[simulation]
name = "wake"
seed = 31
duration = "10m"
[network]
latency = {{ dist = "constant", value = "100ms" }}
[servers]
count = 2
[servers.defaults]
processing = {{ dist = "constant", value = "0ms" }}
origin_processing = {{ dist = "constant", value = "0ms" }}
clients_per_server = 1
client_latency = {{ dist = "constant", value = "10ms" }}
[servers.defaults.federation]
retries = {{ count = 0 }}
backoff = {{ initial = "10s", multiplier = 1.0, jitter = [1.0, 1.0] }}
wake_interval = "{interval}"
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "script"
room = "call"
actions = [
  {{ at = "2m", client = "hs1/0", send = "sticky", key = "S", duration = "1h" }},
{extra}]
[[fault]]
kind = "partition"
servers = ["hs2"]
from = "1m"
to = "3m"
"#
    );
    run(&text)
}

#[test]
fn after_a_backoff_the_next_transaction_waits_for_the_wake_tick() {
    // S created 120.01 s; its attempt times out at 180.01 s; backoff until 190.01 s.
    // wake_interval 60 s: the next tick at or after 190.01 s is 240 s.
    let r = wake("60s", "");
    assert_eq!(
        attempts(&sends(&r, "hs1", "hs2")),
        vec![
            (120_010.0, "timeout".into(), Some(240_000.0)),
            (240_000.0, "ok".into(), None),
        ]
    );
    assert_eq!(received(&r, "hs2/0")[0].1, 240_100.0);
    // "0s": exactly when the backoff ends.
    let r = wake("0s", "");
    assert_eq!(
        attempts(&sends(&r, "hs1", "hs2")),
        vec![
            (120_010.0, "timeout".into(), Some(190_010.0)),
            (190_010.0, "ok".into(), None),
        ]
    );
    assert_eq!(received(&r, "hs2/0")[0].1, 190_110.0);
    // New data after the backoff ended but before the tick: hs1/0's next event (created
    // 200.01 s) starts a transaction at once, carrying both.
    let r = wake(
        "60s",
        r#"  { at = "200s", client = "hs1/0", send = "sticky", key = "T", duration = "1h" },
"#,
    );
    let rows = sends(&r, "hs1", "hs2");
    assert_eq!(
        attempts(&rows),
        vec![
            (120_010.0, "timeout".into(), Some(240_000.0)),
            (200_010.0, "ok".into(), None),
        ]
    );
    assert_eq!(f(&rows[1], "pdus"), 2.0);
}

#[test]
fn a_request_from_the_destination_ends_the_backoff_at_once() {
    // As measured on Synapse: hs2/0's message (created 185.01 s, backoff still running
    // until 190.01 s) reaches hs1 at 185.11 s; hs1 ends its backoff towards hs2 and sends
    // the queued S in the same instant (arriving 185.21 s), not at the 240 s tick.
    let r = wake(
        "60s",
        r#"  { at = "185s", client = "hs2/0", send = "message" },
"#,
    );
    assert_eq!(
        attempts(&sends(&r, "hs1", "hs2")),
        vec![
            (120_010.0, "timeout".into(), Some(240_000.0)),
            (185_110.0, "ok".into(), None),
        ]
    );
    assert_eq!(
        received(&r, "hs2/0"),
        vec![(120_010.0, 185_210.0, 185_220.0, "catch_up".into())]
    );
}
