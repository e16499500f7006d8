//! The receiving side (MSC4354 "Federation behaviour"): overload, auth and soft failure with re-evaluation,
//! prev_events and get_missing_events. Servers hs1..hs3, one client each, 50 ms one way.

use crate::kernel::Time;
use crate::matrix::event::Content;
use crate::matrix::ids::{PduId, ServerId};
use crate::matrix::msg::{Ev, MissingReq, Outcome, ServerEv};
use crate::matrix::probe::Probe;
use crate::matrix::spec::{InboundPolicy, ServerCfg};
use crate::matrix::testkit::*;

fn cfg() -> ServerCfg {
    let mut c = cfg0();
    c.clients_per_server = 1;
    c
}

#[test]
fn overload_delays_the_200_by_cost_times_n_and_answers_503_past_the_bound() {
    // hs2: 10 ms per PDU, at most 5 PDUs waiting (unlimited policy, so only overload acts).
    // At 1 s: A (3 PDUs) -> busy until 1 s + 3 x 10 ms = 1.03 s: processed then, 200 after.
    // B (3 PDUs) at the same instant: backlog 30 ms / 10 ms = 3 PDUs, 3 + 3 = 6 > 5 -> 503
    // at once (reaching hs1 at 1.05 s). C (2 PDUs): 3 + 2 = 5 <= 5 -> processed at
    // 1.03 + 0.02 = 1.05 s. A's PDUs become visible at 1.03 s and its 200 reaches hs1 at 1.08 s.
    let mut rx = cfg();
    rx.inbound.policy = InboundPolicy::Unlimited;
    rx.inbound.pdu_cost = crate::kernel::time::Dur::from_ms(10);
    rx.inbound.queue_bound = 5;
    // Three /send at once from one origin: the concurrency rule would refuse B and C.
    rx.inbound.reject_concurrent = false;
    let mut k = Builder::new(vec![cfg(), rx])
        .room("r", &["hs1", "hs2"])
        .build();
    let (hs1, hs2, r, c1) = (
        k.server("hs1"),
        k.server("hs2"),
        k.room("r"),
        k.client("hs1/0"),
    );
    let p: Vec<PduId> = (0..8)
        .map(|i| k.event(hs1, r, c1, sticky(&format!("k{i}"), HOUR_MS)))
        .collect();
    k.at(SEC);
    k.send_txn(hs1, hs2, &p[0..3]);
    k.send_txn(hs1, hs2, &p[3..6]);
    k.send_txn(hs1, hs2, &p[6..8]);
    assert!(accepted(&k.probes()).is_empty());
    let evs = k.scheduled();
    assert_eq!(
        k.label_all(&evs),
        lbl(&[
            (1030 * MS, "hs2: TxnProcessed hs1 n=3"),
            (1050 * MS, "hs1: TxnResponse hs2 server_error"),
            (1050 * MS, "hs2: TxnProcessed hs1 n=2"),
        ])
    );
    assert_eq!(k.world.servers[hs2].busy_until, 1050 * MS);
    // A's processing: its 3 PDUs, then its 200.
    let (t, ev) = evs[0].clone();
    k.at(t).deliver(ev);
    let acc = accepted(&k.probes());
    assert_eq!(
        acc.iter().map(|a| (a.1, a.2)).collect::<Vec<_>>(),
        vec![(p[0], 1030 * MS), (p[1], 1030 * MS), (p[2], 1030 * MS)]
    );
    let r = txn_responses(&k.scheduled());
    assert_eq!((r[0].0, r[0].2.outcome), (1080 * MS, Outcome::Ok));
}

/// hs1 and hs2 in room "r"; hs3's user is not a member.
fn auth_kit(rx: impl FnOnce(&mut ServerCfg)) -> Kit {
    let mut c2 = cfg();
    rx(&mut c2);
    Builder::new(vec![cfg(), c2, cfg()])
        .room("r", &["hs1", "hs2"])
        .build()
}

/// hs3's user joins: its membership event reaches hs2 at `t`.
fn join_hs3(k: &mut Kit, t: Time) {
    let (hs2, hs3, r, c3) = (
        k.server("hs2"),
        k.server("hs3"),
        k.room("r"),
        k.client("hs3/0"),
    );
    k.at(t);
    let j = k.event(
        hs3,
        r,
        c3,
        Content::Member {
            user: c3,
            join: true,
        },
    );
    k.send_txn(hs3, hs2, &[j]);
}

#[test]
fn a_sticky_event_from_a_non_member_is_soft_failed_and_kept() {
    // MSC4354 "Federation behaviour" auth: hs3/0 is not joined in hs2's view of "r". Its sticky event (made at 0
    // with 1 h, received at 1 s) is soft-failed: kept with its end 0 + 3 600 000 ms, not in
    // the timeline nor the sticky stream; the /send itself is still answered 200.
    let mut k = auth_kit(|_| {});
    let (hs2, hs3, r, c3) = (
        k.server("hs2"),
        k.server("hs3"),
        k.room("r"),
        k.client("hs3/0"),
    );
    let e = k.event(hs3, r, c3, sticky("m", HOUR_MS));
    k.at(SEC);
    k.send_txn(hs3, hs2, &[e]);
    let probes = k.probes();
    assert_eq!(soft_failed(&probes), vec![(hs2, e, SEC)]);
    assert!(accepted(&probes).is_empty());
    let s = &k.world.servers[hs2];
    assert_eq!(s.soft_failed[&r].len(), 1);
    assert_eq!(s.soft_failed[&r][0].end_local_ms, HOUR_MS);
    assert!(s.sticky_stream.is_empty() && s.timeline.is_empty());
    let r = txn_responses(&k.scheduled());
    assert_eq!(r[0].2.outcome, Outcome::Ok);
}

#[test]
fn a_soft_failed_sticky_event_is_accepted_when_the_membership_arrives() {
    // MSC4354 "Federation behaviour" re-evaluation: hs3/0's join reaches hs2 at 2 s; the soft-failed event (end
    // 3 600 000 ms > 2 000) now passes: Accepted at 2 s, until 3 600 s, with its arrival
    // (1 attempt) as it came.
    let mut k = auth_kit(|_| {});
    let (hs2, hs3, r, c3) = (
        k.server("hs2"),
        k.server("hs3"),
        k.room("r"),
        k.client("hs3/0"),
    );
    let e = k.event(hs3, r, c3, sticky("m", HOUR_MS));
    k.at(SEC);
    k.send_txn(hs3, hs2, &[e]);
    k.probes();
    join_hs3(&mut k, 2 * SEC);
    let probes = k.probes();
    assert_eq!(accepted(&probes), vec![(hs2, e, 2 * SEC, 3600 * SEC)]);
    let arrival = probes.iter().find_map(|p| match p {
        Probe::Accepted { arrival, .. } => Some(*arrival),
        _ => None,
    });
    assert_eq!(arrival.map(|a| a.attempts), Some(1));
    assert!(!k.world.servers[hs2].soft_failed.contains_key(&r));
    assert_eq!(k.world.servers[hs2].sticky_stream.len(), 1);
}

#[test]
fn no_re_evaluation_when_reevaluate_soft_failed_is_off() {
    // reevaluate_soft_failed = false: the join changes the membership, the soft-failed
    // event stays soft-failed.
    let mut k = auth_kit(|c| c.inbound.reevaluate_soft_failed = false);
    let (hs2, hs3, r, c3) = (
        k.server("hs2"),
        k.server("hs3"),
        k.room("r"),
        k.client("hs3/0"),
    );
    let e = k.event(hs3, r, c3, sticky("m", HOUR_MS));
    k.at(SEC);
    k.send_txn(hs3, hs2, &[e]);
    join_hs3(&mut k, 2 * SEC);
    assert!(accepted(&k.probes()).is_empty());
    assert!(k.world.servers[hs2].is_joined(r, c3));
    assert_eq!(k.world.servers[hs2].soft_failed[&r][0].pdu, e);
}

#[test]
fn an_expired_soft_failed_event_is_not_re_evaluated() {
    // Made at 0 with 10 000 ms: end 10 000 ms. Soft-failed at 1 s (10 000 > 1 000); the join
    // arrives at 20 s (10 000 <= 20 000): expired, dropped from the soft-failed list, never
    // accepted.
    let mut k = auth_kit(|_| {});
    let (hs2, hs3, r, c3) = (
        k.server("hs2"),
        k.server("hs3"),
        k.room("r"),
        k.client("hs3/0"),
    );
    let e = k.event(hs3, r, c3, sticky("m", 10_000));
    k.at(SEC);
    k.send_txn(hs3, hs2, &[e]);
    assert_eq!(soft_failed(&k.probes()).len(), 1);
    join_hs3(&mut k, 20 * SEC);
    assert!(accepted(&k.probes()).is_empty());
    assert!(!k.world.servers[hs2].soft_failed.contains_key(&r));
}

/// hs1 and hs2 in "r"; hs1 makes a chain e0 <- e1 <- ... of `n` sticky events at 0; hs2
/// has received e0 at 1 s.
fn chain(n: usize, limit: u32) -> (Kit, Vec<PduId>) {
    let mut c2 = cfg();
    c2.federation.missing_events_limit = limit;
    let mut k = Builder::new(vec![cfg(), c2])
        .room("r", &["hs1", "hs2"])
        .build();
    let (hs1, hs2, r, c1) = (
        k.server("hs1"),
        k.server("hs2"),
        k.room("r"),
        k.client("hs1/0"),
    );
    let e: Vec<PduId> = (0..n)
        .map(|i| k.create(c1, r, sticky(&format!("k{i}"), HOUR_MS)))
        .collect();
    k.scheduled();
    k.at(SEC);
    k.send_txn(hs1, hs2, &e[..1]);
    k.settle();
    k.probes();
    (k, e)
}

fn missing_req(evs: &[(Time, Ev)]) -> Vec<(Time, ServerId, MissingReq)> {
    evs.iter()
        .filter_map(|(t, e)| match e {
            Ev::Server(s, ServerEv::MissingReq(r)) => Some((*t, *s, (**r).clone())),
            _ => None,
        })
        .collect()
}

fn missing_resp(evs: &[(Time, Ev)]) -> Vec<(Time, ServerId, Vec<PduId>)> {
    evs.iter()
        .filter_map(|(t, e)| match e {
            Ev::Server(s, ServerEv::MissingResp(r)) => Some((*t, *s, r.pdus.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_pdu_with_unknown_prev_events_asks_its_sender_for_them() {
    // Chain e0 <- e1 <- e2 <- e3 (prev_events = the origin's forward extremities). hs2 has
    // e0; at 2 s e3 arrives: its prev e2 is unknown, so hs2 asks hs1 (the sender), one way
    // 50 ms: get_missing_events with earliest = hs2's extremities [e0, e3], latest [e2],
    // limit 10 (Synapse's). e3 itself is accepted at once.
    let (mut k, e) = chain(4, 10);
    let (hs1, hs2) = (k.server("hs1"), k.server("hs2"));
    assert_eq!(k.world.sh.pdus[e[3]].prev_events, vec![e[2]]);
    k.at(2 * SEC);
    k.send_txn(hs1, hs2, &e[3..4]);
    assert_eq!(accepted(&k.probes()).len(), 1);
    let reqs = missing_req(&k.scheduled());
    assert_eq!(reqs.len(), 1);
    let (t, to, req) = &reqs[0];
    assert_eq!((*t, *to, req.asker), (2050 * MS, hs1, hs2));
    assert_eq!(req.earliest, vec![e[0], e[3]]);
    assert_eq!(req.latest, vec![e[2]]);
    assert_eq!(req.limit, 10);
}

#[test]
fn the_responder_walks_back_to_the_askers_earliest_events_and_stops_at_the_limit() {
    // hs1 walks prev_events from `latest`, skipping what the asker has (`earliest`), up to
    // `limit`, and answers oldest first, one way 50 ms:
    //  - latest [e2], earliest [e0, e3], limit 10: e2, e1, then e0 is the asker's -> [e1, e2];
    //  - latest [e5], earliest [e0], limit 2: e5, e4, then the limit -> [e4, e5];
    //  - latest [e5], earliest [], limit 10: the whole chain e0..e5.
    let (mut k, e) = chain(6, 10);
    let (hs1, hs2, r) = (k.server("hs1"), k.server("hs2"), k.room("r"));
    let ask = |earliest: Vec<PduId>, latest: Vec<PduId>, limit: u32| {
        ServerEv::MissingReq(Box::new(MissingReq {
            asker: hs2,
            room: r,
            earliest,
            latest,
            limit,
        }))
    };
    k.at(2 * SEC);
    k.to_server(hs1, ask(vec![e[0], e[3]], vec![e[2]], 10));
    k.to_server(hs1, ask(vec![e[0]], vec![e[5]], 2));
    k.to_server(hs1, ask(vec![], vec![e[5]], 10));
    let resp = missing_resp(&k.scheduled());
    assert_eq!(
        resp,
        vec![
            (2050 * MS, hs2, vec![e[1], e[2]]),
            (2050 * MS, hs2, vec![e[4], e[5]]),
            (2050 * MS, hs2, e.clone()),
        ]
    );
}

#[test]
fn fetched_events_fill_the_gap_without_asking_again() {
    // The answer [e1, e2] reaches hs2 at 2.1 s: both are accepted as fetched (a fetched
    // event never triggers another get_missing_events), and hs2's forward extremities go
    // from [e0, e3] to [e3] (e1 is named by e2, e2 by e3).
    let (mut k, e) = chain(4, 10);
    let (hs1, hs2) = (k.server("hs1"), k.server("hs2"));
    k.at(2 * SEC);
    k.send_txn(hs1, hs2, &e[3..4]);
    k.probes();
    let mut run = k.run();
    run.run_until(3 * SEC);
    let probes = run.probes();
    let fetched: Vec<(PduId, Time, bool)> = probes
        .iter()
        .filter_map(|(_, p)| match p {
            Probe::Accepted {
                pdu, t, arrival, ..
            } => Some((*pdu, *t, arrival.fetched)),
            _ => None,
        })
        .collect();
    assert_eq!(
        fetched,
        vec![(e[1], 2100 * MS, true), (e[2], 2100 * MS, true)]
    );
    let w = run.world();
    assert_eq!(
        w.servers[hs2].rooms[&w.sh.dir.room_id("r").unwrap()].extremities,
        vec![e[3]]
    );
}
