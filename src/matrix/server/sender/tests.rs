//! The sending side (MSC4354 "Federation behaviour"): own events only, one queue
//! and one `/send` in flight per destination, `max_pdus_per_txn` oldest first, retries
//! inside a `/send`, destination backoff and its wake-up tick, catch-up, push on join,
//! withholding. Servers hs1.., one client each, 50 ms one way, processing 0. Jitter is off
//! ([1.0, 1.0]) so the waits are exact; backoff is checked at its first two steps only.

use crate::kernel::time::Dur;
use crate::kernel::Time;
use crate::matrix::event::{Content, DurationField};
use crate::matrix::ids::{PduId, ServerId, TxnId};
use crate::matrix::msg::{
    AttemptRef, ClientReq, Ev, Input, Outcome, ServerEv, StickySend, TxnEntry, TxnResponse,
};
use crate::matrix::msg::{TxnArrival, TxnBody};
use crate::matrix::probe::{NotQueued, Probe, Unqueued};
use crate::matrix::server::Withhold;
use crate::matrix::spec::{CatchUp, InboundPolicy, ServerCfg};
use crate::matrix::testkit::*;
use std::sync::Arc;

fn cfg() -> ServerCfg {
    let mut c = cfg0();
    c.clients_per_server = 1;
    c.federation.retries.jitter = [1.0, 1.0];
    c.federation.backoff.jitter = [1.0, 1.0];
    c
}

/// Rows of federation.csv in a run: (outcome, attempt start, next attempt).
fn rows(probes: &[Probe]) -> Vec<(Outcome, Time, Option<Time>)> {
    attempts(probes)
        .iter()
        .map(|a| (a.outcome, a.t, a.next_attempt))
        .collect()
}

fn unqueued(probes: &[Probe]) -> Vec<(PduId, ServerId, Time, Time, Unqueued)> {
    probes
        .iter()
        .filter_map(|p| match p {
            Probe::Unqueued {
                pdu,
                dest,
                t,
                origin_end,
                why,
                ..
            } => Some((*pdu, *dest, *t, *origin_end, *why)),
            _ => None,
        })
        .collect()
}

fn queue_of(k: &Kit, from: &str, to: &str) -> Vec<PduId> {
    let (s, d) = (k.server(from), k.server(to));
    k.world.servers[s]
        .dests
        .get(&d)
        .map(|q| q.queue.iter().map(|e| e.pdu).collect())
        .unwrap_or_default()
}

#[test]
fn one_queue_per_destination_and_at_most_one_send_in_flight() {
    // hs1, hs2, hs3 in "r". e1 at 0 is queued for hs2 and hs3, each destination kicked
    // (StartTxn now). hs2's /send leaves at 0: it arrives at 50 ms, times out at 60 s if
    // unanswered. e2 at 10 ms schedules nothing: hs2 has a /send in flight (depth 1 + 1
    // queued = 2), hs3's start is already scheduled (depth 2). hs3's /send then carries
    // both; hs2's next one, after the 200 at 100 ms, carries e2 alone.
    let mut k = Builder::same(3, cfg())
        .room("r", &["hs1", "hs2", "hs3"])
        .build();
    let (hs1, hs2, hs3, r, c1) = (
        k.server("hs1"),
        k.server("hs2"),
        k.server("hs3"),
        k.room("r"),
        k.client("hs1/0"),
    );
    let e1 = k.create(c1, r, sticky("a", HOUR_MS));
    let evs = k.scheduled();
    assert_eq!(
        k.label_all(&evs),
        lbl(&[
            (0, "hs1: StartTxn hs2"),
            (0, "hs1: StartTxn hs3"),
            (0, "hs1: SyncWake")
        ])
    );
    k.deliver(evs[0].1.clone());
    let sent = k.scheduled();
    assert_eq!(
        k.label_all(&sent),
        lbl(&[
            (50 * MS, "hs2: Txn hs1 n=1"),
            (60 * SEC, "hs1: TxnTimeout hs2")
        ])
    );
    k.probes();
    k.at(10 * MS);
    let e2 = k.create(c1, r, sticky("b", HOUR_MS));
    assert!(k.scheduled().is_empty());
    let depths: Vec<(ServerId, usize)> = k
        .probes()
        .iter()
        .filter_map(|p| match p {
            Probe::QueueDepth { dest, depth, .. } => Some((*dest, *depth)),
            _ => None,
        })
        .collect();
    assert_eq!(depths, vec![(hs2, 2), (hs3, 2)]);
    let dq = &k.world.servers[hs1].dests[&hs2];
    let in_flight: Vec<PduId> = dq
        .in_flight
        .as_ref()
        .unwrap()
        .entries
        .iter()
        .map(|e| e.pdu)
        .collect();
    assert_eq!(
        (in_flight, queue_of(&k, "hs1", "hs2")),
        (vec![e1], vec![e2])
    );
    // hs3's start: one /send with both.
    k.deliver(evs[1].1.clone());
    assert_eq!(k.labels()[0], (60 * MS, "hs3: Txn hs1 n=2".to_string()));
    // hs2's 200 at 100 ms: the next /send starts at once with e2.
    let txn = k.world.servers[hs1].dests[&hs2]
        .in_flight
        .as_ref()
        .unwrap()
        .id;
    k.at(100 * MS);
    let at = AttemptRef {
        dest: hs2,
        txn,
        attempt: 1,
    };
    k.to_server(
        hs1,
        ServerEv::TxnResponse(Box::new(TxnResponse {
            at,
            outcome: Outcome::Ok,
            retry_after: None,
        })),
    );
    assert_eq!(k.step(), Some((100 * MS, "hs1: StartTxn hs2".to_string())));
    assert_eq!(k.labels()[0], (150 * MS, "hs2: Txn hs1 n=1".to_string()));
    let dq = &k.world.servers[hs1].dests[&hs2];
    assert_eq!(dq.in_flight.as_ref().unwrap().entries[0].pdu, e2);
}

#[test]
fn a_server_sends_only_its_own_sticky_events() {
    // hs2 accepts hs1's sticky event but never queues it for hs3 (it is not hs2's own).
    let mut k = Builder::same(3, cfg())
        .room("r", &["hs1", "hs2", "hs3"])
        .build();
    let (hs1, hs2, r, c1) = (
        k.server("hs1"),
        k.server("hs2"),
        k.room("r"),
        k.client("hs1/0"),
    );
    let e = k.event(hs1, r, c1, sticky("a", HOUR_MS));
    k.at(SEC);
    k.send_txn(hs1, hs2, &[e]);
    assert_eq!(accepted(&k.probes()).len(), 1);
    assert!(k.world.servers[hs2].dests.is_empty());
}

#[test]
fn a_send_carries_at_most_max_pdus_per_txn_oldest_first() {
    // 120 events at 0, max 50: /sends of 50, 50, 20 in creation order. Each is answered
    // 100 ms after it leaves (50 + 50 ms), and the next leaves at once: at 0, 100, 200 ms;
    // hs2 (unlimited) accepts them at 50, 150, 250 ms.
    let mut rx = cfg();
    rx.inbound.policy = InboundPolicy::Unlimited;
    let mut k = Builder::new(vec![cfg(), rx])
        .room("r", &["hs1", "hs2"])
        .build();
    let (hs2, r, c1) = (k.server("hs2"), k.room("r"), k.client("hs1/0"));
    let e: Vec<PduId> = (0..120)
        .map(|i| k.create(c1, r, sticky(&format!("k{i}"), HOUR_MS)))
        .collect();
    let mut run = k.run();
    run.run_until(SEC);
    let probes = run.probes_only();
    let a = attempts(&probes);
    let sends: Vec<(Outcome, Time, Vec<PduId>)> =
        a.iter().map(|a| (a.outcome, a.t, pdus_of(a))).collect();
    assert_eq!(
        sends,
        vec![
            (Outcome::Ok, 0, e[..50].to_vec()),
            (Outcome::Ok, 100 * MS, e[50..100].to_vec()),
            (Outcome::Ok, 200 * MS, e[100..].to_vec()),
        ]
    );
    let at: Vec<Time> = accepted(&probes)
        .iter()
        .filter(|x| x.0 == hs2)
        .map(|x| x.2)
        .collect();
    let mut expected = vec![50 * MS; 50];
    expected.extend(vec![150 * MS; 50]);
    expected.extend(vec![250 * MS; 20]);
    assert_eq!(at, expected);
}

/// hs1 and hs2 in "r", hs2 down from the start; hs1's cfg edited by `f`; one event `e`
/// (duration `duration_ms`) made by hs1 at 0.
fn down_dest(f: impl FnOnce(&mut ServerCfg), duration_ms: i64) -> (Run, PduId) {
    let mut c1 = cfg();
    f(&mut c1);
    let mut k = Builder::new(vec![c1, cfg()])
        .room("r", &["hs1", "hs2"])
        .build();
    let (hs2, r, c) = (k.server("hs2"), k.room("r"), k.client("hs1/0"));
    k.world.sh.up[hs2] = false;
    let e = k.create(c, r, sticky("a", duration_ms));
    (k.run(), e)
}

#[test]
fn refused_sends_are_retried_after_4_16_60_s_then_the_destination_backs_off_600_s() {
    // retries.count 3. hs2 is down: each attempt is refused after one round trip (100 ms).
    // Waits first x multiplier^k capped at max: 4, 16, min(64, 60) = 60 s. Attempts at
    // 0, 0.1 + 4 = 4.1, 4.2 + 16 = 20.2, 20.3 + 60 = 80.3 s; the 4th fails at 80.4 s: the
    // retries are spent, backoff initial x 2^0 = 600 s until 680.4 s; the next /send waits
    // for the wake-up tick after that: ceil(680.4 / 60) x 60 = 720 s. The event goes back
    // to the queue, having been carried 4 times and seen a backoff.
    let (mut run, e) = down_dest(|c| c.federation.retries.count = 3, HOUR_MS);
    run.run_until(700 * SEC);
    let r = Outcome::Refused;
    assert_eq!(
        rows(&run.probes_only()),
        vec![
            (r, 0, Some(4100 * MS)),
            (r, 4100 * MS, Some(20_200 * MS)),
            (r, 20_200 * MS, Some(80_300 * MS)),
            (r, 80_300 * MS, Some(720 * SEC)),
        ]
    );
    let w = run.world();
    let dq = &w.servers[ServerId(0)].dests[&ServerId(1)];
    assert_eq!((dq.failures, dq.backoff_until), (1, Some(680_400 * MS)));
    assert!(dq.in_flight.is_none());
    assert_eq!(
        dq.queue.iter().copied().collect::<Vec<TxnEntry>>(),
        vec![TxnEntry {
            pdu: e,
            join_push: false,
            attempts: 4,
            saw_backoff: true
        }]
    );
}

#[test]
fn the_second_backoff_is_twice_the_first() {
    // The /send at the 720 s tick fails the same way: attempts at 720, 724.1, 740.2, 800.3 s;
    // at 800.4 s the second backoff is 600 x 2 = 1 200 s, until 2 000.4 s; next tick
    // ceil(2 000.4 / 60) x 60 = 2 040 s.
    let (mut run, _) = down_dest(|c| c.federation.retries.count = 3, HOUR_MS);
    run.run_until(2030 * SEC);
    let r = Outcome::Refused;
    assert_eq!(
        rows(&run.probes_only())[4..].to_vec(),
        vec![
            (r, 720 * SEC, Some(724_100 * MS)),
            (r, 724_100 * MS, Some(740_200 * MS)),
            (r, 740_200 * MS, Some(800_300 * MS)),
            (r, 800_300 * MS, Some(2040 * SEC)),
        ]
    );
    let dq = &run.world().servers[ServerId(0)].dests[&ServerId(1)];
    assert_eq!((dq.failures, dq.backoff_until), (2, Some(2_000_400 * MS)));
}

#[test]
fn a_request_from_the_destination_ends_the_backoff_and_the_queue_goes_at_once() {
    // As above, backing off from 80.4 s. At 300 s hs2 is back and sends hs1 a /send: hs1
    // ends its backoff (Synapse does), cancels the 720 s wake-up and starts a /send at once:
    // it reaches hs2 at 300.05 s (the event's 5th attempt, after a backoff), 200 at 300.1 s;
    // success resets failures. Nothing more is sent by 800 s.
    let (mut run, e) = down_dest(|c| c.federation.retries.count = 3, HOUR_MS);
    let (hs1, hs2) = (ServerId(0), ServerId(1));
    run.input_at(300 * SEC, Input::Restart { server: hs2 });
    // An empty /send from hs2 (any request would do).
    let body = ServerEv::Txn(TxnArrival {
        body: Arc::new(TxnBody {
            id: TxnId(999),
            origin: hs2,
            attempt: 1,
            origin_server_ts: 300_000,
            pdus: vec![],
        }),
    });
    run.at(300 * SEC, Ev::Server(hs1, body));
    run.run_until(800 * SEC);
    let probes = run.probes_only();
    let rs = rows(&probes);
    assert_eq!(rs.len(), 5);
    assert_eq!(rs[4], (Outcome::Ok, 300 * SEC, None));
    let arrived: Vec<(PduId, Time, u32, bool)> = probes
        .iter()
        .filter_map(|p| match p {
            Probe::Accepted {
                server,
                pdu,
                t,
                arrival,
                ..
            } if *server == hs2 => Some((*pdu, *t, arrival.attempts, arrival.saw_backoff)),
            _ => None,
        })
        .collect();
    assert_eq!(arrived, vec![(e, 300_050 * MS, 5, true)]);
    let dq = &run.world().servers[hs1].dests[&hs2];
    assert_eq!(
        (dq.failures, dq.backoff_until, dq.failing_since),
        (0, None, None)
    );
    assert!(dq.wake.is_none() && dq.queue.is_empty());
}

#[test]
fn a_429s_retry_after_is_a_lower_bound_on_the_wait_unless_ignored() {
    // hs2's bucket for hs1 is empty at 0; its 429 says retry_after 10 s. Attempt 1 reaches
    // it at 50 ms (0.5 tokens < 1): 429, back at 100 ms. Honoured: wait max(4 s, 10 s) =
    // 10 s -> 10.1 s; ignored (Synapse): 4 s -> 4.1 s. Either way the bucket has refilled
    // (>= 41.5 tokens) and attempt 2 succeeds.
    for (honour, next) in [(true, 10_100 * MS), (false, 4100 * MS)] {
        let mut c1 = cfg();
        c1.federation.honour_retry_after = honour;
        let mut c2 = cfg();
        c2.inbound.retry_after = Dur::from_secs(10);
        let mut k = Builder::new(vec![c1, c2])
            .room("r", &["hs1", "hs2"])
            .build();
        let (hs1, hs2, r, c) = (
            k.server("hs1"),
            k.server("hs2"),
            k.room("r"),
            k.client("hs1/0"),
        );
        let s2 = &mut k.world.servers[hs2];
        s2.buckets.refill(&s2.cfg.inbound, hs1, 0).tokens = 0.0;
        k.create(c, r, sticky("a", HOUR_MS));
        let mut run = k.run();
        run.run_until(20 * SEC);
        let a = attempts(&run.probes_only());
        let got: Vec<(Outcome, Time, Option<Time>, Option<Time>)> = a
            .iter()
            .map(|a| (a.outcome, a.t, a.retry_after, a.next_attempt))
            .collect();
        assert_eq!(
            got,
            vec![
                (Outcome::RateLimited, 0, Some(10 * SEC), Some(next)),
                (Outcome::Ok, next, None, None),
            ],
            "honour_retry_after = {honour}"
        );
    }
}

#[test]
fn a_lost_request_times_out_after_request_timeout() {
    // Every message is lost (loss 1.0): attempt 1 (0) times out at 60 s, is retried after
    // 4 s (64 s), times out at 124 s; with retries.count 1 the destination backs off
    // 600 s until 724 s, next tick ceil(724 / 60) x 60 = 780 s.
    let mut c1 = cfg();
    c1.federation.retries.count = 1;
    let mut k = Builder::new(vec![c1, cfg()])
        .loss(1.0)
        .room("r", &["hs1", "hs2"])
        .build();
    let (r, c) = (k.room("r"), k.client("hs1/0"));
    k.create(c, r, sticky("a", HOUR_MS));
    let mut run = k.run();
    run.run_until(700 * SEC);
    assert_eq!(
        rows(&run.probes_only()),
        vec![
            (Outcome::Timeout, 0, Some(64 * SEC)),
            (Outcome::Timeout, 64 * SEC, Some(780 * SEC)),
        ]
    );
}

#[test]
fn expired_events_are_dropped_from_the_queue_before_sending() {
    // No retries: the /send at 0 is refused at 0.1 s, backoff 600 s to 600.1 s, tick 660 s.
    // The event (30 s) ended at 30 s: at 660 s it leaves the queue unsent (Unqueued,
    // Expired, origin_end 30 s) and no /send starts.
    let (mut run, e) = down_dest(|c| c.federation.retries.count = 0, 30_000);
    run.run_until(2000 * SEC);
    let probes = run.probes_only();
    assert_eq!(rows(&probes), vec![(Outcome::Refused, 0, Some(660 * SEC))]);
    assert_eq!(
        unqueued(&probes),
        vec![(e, ServerId(1), 660 * SEC, 30 * SEC, Unqueued::Expired)]
    );
    let dq = &run.world().servers[ServerId(0)].dests[&ServerId(1)];
    assert!(dq.queue.is_empty() && dq.in_flight.is_none());
}

#[test]
fn latest_only_catch_up_keeps_the_newest_event_per_room() {
    // catch_up = latest_only after 60 s of failure; no retries; hs2 down. a1 b1 a2 b2 a3
    // (a in room "a", b in "b") go in one /send at 0, refused at 0.1 s: failing 0.1 s < 60 s,
    // all 5 back in the queue. At the 660 s tick they fail again (660.1 s, failing 660.1 s):
    // catch-up keeps the newest per room, b2 and a3; a1, b1, a2 leave (Unqueued, CatchUp).
    // a4, made at 700.01 s, then replaces a3.
    let mut c1 = cfg();
    c1.federation.retries.count = 0;
    c1.federation.catch_up = CatchUp::LatestOnly;
    c1.federation.catch_up_after = Dur::from_secs(60);
    let mut k = Builder::new(vec![c1, cfg()])
        .room("a", &["hs1", "hs2"])
        .room("b", &["hs1", "hs2"])
        .build();
    let (hs2, ra, rb, c) = (k.server("hs2"), k.room("a"), k.room("b"), k.client("hs1/0"));
    k.world.sh.up[hs2] = false;
    let a1 = k.create(c, ra, sticky("a1", HOUR_MS));
    let b1 = k.create(c, rb, sticky("b1", HOUR_MS));
    let a2 = k.create(c, ra, sticky("a2", HOUR_MS));
    let b2 = k.create(c, rb, sticky("b2", HOUR_MS));
    let a3 = k.create(c, ra, sticky("a3", HOUR_MS));
    let mut run = k.run();
    run.run_until(SEC);
    assert!(unqueued(&run.probes_only()).is_empty());
    run.run_until(690 * SEC);
    let t = 660_100 * MS;
    let un: Vec<(PduId, Time, Unqueued)> = unqueued(&run.probes_only())
        .iter()
        .map(|u| (u.0, u.2, u.4))
        .collect();
    assert_eq!(
        un,
        vec![
            (a1, t, Unqueued::CatchUp),
            (b1, t, Unqueued::CatchUp),
            (a2, t, Unqueued::CatchUp)
        ]
    );
    let q = |run: &mut Run| -> Vec<PduId> {
        run.world().servers[ServerId(0)].dests[&hs2]
            .queue
            .iter()
            .map(|e| e.pdu)
            .collect()
    };
    assert_eq!(q(&mut run), vec![b2, a3]);
    let send = StickySend {
        room: ra,
        ev_type: RTC,
        key: "a4".into(),
        duration: DurationField::Ms(HOUR_MS),
        leave: false,
        ots_offset_ms: 0,
        only_to: None,
    };
    run.input_at(
        700 * SEC,
        Input::Send {
            client: c,
            req: Box::new(ClientReq::Sticky(send)),
            tag: None,
        },
    );
    run.run_until(701 * SEC);
    let a4 = PduId(5);
    let un: Vec<(PduId, Time)> = unqueued(&run.probes_only())
        .iter()
        .map(|u| (u.0, u.2))
        .collect();
    assert_eq!(un, vec![(a3, 700_010 * MS)]);
    assert_eq!(q(&mut run), vec![b2, a4]);
}

/// hs1, hs2 in "r" (hs3 not). hs1 has made e1 (1 h) and e2 (1 s) at 0 and accepted hs2's
/// e3; at 5 s hs3's user joins, its membership reaching hs1 in a /send from hs3.
fn join_setup(push_on_join: bool) -> (Kit, [PduId; 3]) {
    let mut c1 = cfg();
    c1.federation.push_on_join = push_on_join;
    let mut k = Builder::new(vec![c1, cfg(), cfg()])
        .room("r", &["hs1", "hs2"])
        .build();
    let (hs1, hs2, hs3, r) = (
        k.server("hs1"),
        k.server("hs2"),
        k.server("hs3"),
        k.room("r"),
    );
    let (c1, c2, c3) = (k.client("hs1/0"), k.client("hs2/0"), k.client("hs3/0"));
    let e1 = k.create(c1, r, sticky("a", HOUR_MS));
    let e2 = k.create(c1, r, sticky("b", 1_000));
    let e3 = k.event(hs2, r, c2, sticky("c", HOUR_MS));
    k.send_txn(hs2, hs1, &[e3]);
    k.scheduled();
    k.probes();
    k.at(5 * SEC);
    let j = k.event(
        hs3,
        r,
        c3,
        Content::Member {
            user: c3,
            join: true,
        },
    );
    k.send_txn(hs3, hs1, &[j]);
    (k, [e1, e2, e3])
}

#[test]
fn push_on_join_queues_own_unexpired_sticky_events_for_the_newcomer() {
    // MSC4354: on a new server's join, push our own unexpired sticky events to it. Of e1
    // (ends 3 600 s), e2 (ended at 1 s) and e3 (hs2's), only e1 is queued for hs3, marked
    // join_push, and hs3's queue is kicked at once (5 s).
    let (mut k, [e1, ..]) = join_setup(true);
    let hs3 = k.server("hs3");
    let q: Vec<TxnEntry> = k.world.servers[k.server("hs1")].dests[&hs3]
        .queue
        .iter()
        .copied()
        .collect();
    assert_eq!(
        q,
        vec![TxnEntry {
            pdu: e1,
            join_push: true,
            attempts: 0,
            saw_backoff: false
        }]
    );
    assert!(k
        .labels()
        .contains(&(5 * SEC, "hs1: StartTxn hs3".to_string())));
}

#[test]
fn without_push_on_join_the_newcomer_never_gets_older_sticky_events() {
    // push_on_join = false: e1 is reported NotQueued (NoPushOnJoin) for hs3; nothing queued.
    let (mut k, [e1, ..]) = join_setup(false);
    let hs3 = k.server("hs3");
    let nq: Vec<(ServerId, PduId, Time, NotQueued)> = k
        .probes()
        .iter()
        .filter_map(|p| match p {
            Probe::NotQueued { dest, pdu, t, why } => Some((*dest, *pdu, *t, *why)),
            _ => None,
        })
        .collect();
    assert_eq!(nq, vec![(hs3, e1, 5 * SEC, NotQueued::NoPushOnJoin)]);
    assert!(queue_of(&k, "hs1", "hs3").is_empty());
}

#[test]
fn withhold_keeps_events_from_a_destination_for_its_interval() {
    // Fault `withhold`: hs1 never sends to hs2 in [0, 10 s). e1 at 1 s: NotQueued
    // (Withheld) for hs2, queued for hs3. e2 at 10 s: queued for both.
    let mut k = Builder::same(3, cfg())
        .room("r", &["hs1", "hs2", "hs3"])
        .build();
    let (hs1, hs2, r, c1) = (
        k.server("hs1"),
        k.server("hs2"),
        k.room("r"),
        k.client("hs1/0"),
    );
    k.world.servers[hs1].withhold.push(Withhold {
        dest: hs2,
        from: 0,
        to: Some(10 * SEC),
    });
    k.at(SEC);
    let e1 = k.create(c1, r, sticky("a", HOUR_MS));
    let why: Vec<(ServerId, PduId, NotQueued)> = k
        .probes()
        .iter()
        .filter_map(|p| match p {
            Probe::NotQueued { dest, pdu, why, .. } => Some((*dest, *pdu, *why)),
            _ => None,
        })
        .collect();
    assert_eq!(why, vec![(hs2, e1, NotQueued::Withheld)]);
    assert_eq!(queue_of(&k, "hs1", "hs2"), vec![]);
    assert_eq!(queue_of(&k, "hs1", "hs3"), vec![e1]);
    k.at(10 * SEC);
    let e2 = k.create(c1, r, sticky("b", HOUR_MS));
    assert_eq!(queue_of(&k, "hs1", "hs2"), vec![e2]);
    assert_eq!(queue_of(&k, "hs1", "hs3"), vec![e1, e2]);
}
