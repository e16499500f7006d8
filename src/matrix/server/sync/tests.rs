//! `/sync` at one server (MSC4354 "Sync API changes"): the sticky section under
//! `sticky_limit` (100) across rooms in stream order, each sticky event once per device,
//! joins, expiry, initial syncs, long-polls. One server hs1 with clients hs1/0 (the reader)
//! and hs1/1 (the writer); client links 10 ms one way. Events are made at 1 s with 1 h, so
//! at 2 s each has 3 601 000 - 2 000 = 3 599 000 ms left.

use crate::kernel::Time;
use crate::matrix::event::DurationField;
use crate::matrix::ids::PduId;
use crate::matrix::msg::Input;
use crate::matrix::msg::{ClientReq, ClientRequest, ServerEv, StickySend, SyncRequest};
use crate::matrix::probe::Probe;
use crate::matrix::server::sync::{SyncResponse, SyncToken};
use crate::matrix::spec::SyncCfg;

/// A response as the tests read it: (time, sticky (pdu, remaining ms), timeline tops).
type Synced = (Time, Vec<(PduId, i64)>, Vec<Option<Top>>);
use crate::matrix::testkit::*;
use crate::matrix::Top;

fn kit(sync: impl FnOnce(&mut SyncCfg), rooms: &[(&str, &[&str])]) -> Kit {
    let mut c = cfg0();
    c.clients_per_server = 2;
    sync(&mut c.sync);
    let mut b = Builder::same(1, c);
    for (name, members) in rooms {
        b = b.room(name, members);
    }
    b.build()
}

/// `n` sticky events (1 h) by hs1/1 in `room`, made now.
fn fill(k: &mut Kit, room: &str, n: usize, duration_ms: i64) -> Vec<PduId> {
    let (c, r) = (k.client("hs1/1"), k.room(room));
    let e = (0..n)
        .map(|i| k.create(c, r, sticky(&format!("{room}{i}"), duration_ms)))
        .collect();
    k.settle();
    k.probes();
    e
}

/// hs1/0 syncs now with `since`: the response (if answered at once) and the labels of
/// everything scheduled.
fn sync(k: &mut Kit, since: Option<SyncToken>) -> (Option<SyncResponse>, Vec<(Time, String)>) {
    let (hs1, c) = (k.server("hs1"), k.client("hs1/0"));
    let req = SyncRequest {
        client: c,
        req: 1,
        since,
    };
    k.to_server(hs1, ServerEv::SyncRequest(req));
    let evs = k.scheduled();
    let resp = sync_responses(&evs).into_iter().next().map(|r| r.2);
    (resp, k.label_all(&evs))
}

fn tok(timeline: usize, sticky: usize) -> Option<SyncToken> {
    Some(SyncToken::at(timeline, sticky))
}

fn with_left(pdus: &[PduId], left_ms: i64) -> Vec<(PduId, i64)> {
    pdus.iter().map(|p| (*p, left_ms)).collect()
}

#[test]
fn two_hundred_fifty_sticky_events_come_as_100_100_50_with_the_timeline_filtered_out() {
    // Cap 100 across rooms in stream order; the rest in the next responses, each answered
    // at once (reaching the client 10 ms later). Tokens: {250, 100}, {250, 200}, {250, 250};
    // then nothing is new: the long-poll waits for its 30 s timeout (at 32 s).
    let mut k = kit(|s| s.timeline_limit = 0, &[("r", &["hs1"])]);
    k.at(SEC);
    let e = fill(&mut k, "r", 250, HOUR_MS);
    k.at(2 * SEC);
    let (r1, l1) = sync(&mut k, tok(0, 0));
    let r1 = r1.unwrap();
    assert_eq!(l1, lbl(&[(2010 * MS, "hs1/0: SyncResponse")]));
    assert_eq!(sticky_of(&r1), with_left(&e[..100], 3_599_000));
    assert_eq!(r1.next_batch, tok(250, 100).unwrap());
    let r2 = sync(&mut k, Some(r1.next_batch)).0.unwrap();
    assert_eq!(sticky_of(&r2), with_left(&e[100..200], 3_599_000));
    assert_eq!(r2.next_batch, tok(250, 200).unwrap());
    let r3 = sync(&mut k, Some(r2.next_batch)).0.unwrap();
    assert_eq!(sticky_of(&r3), with_left(&e[200..], 3_599_000));
    assert_eq!(r3.next_batch, tok(250, 250).unwrap());
    let (r4, l4) = sync(&mut k, Some(r3.next_batch));
    assert!(r4.is_none());
    assert_eq!(l4, lbl(&[(32 * SEC, "hs1: SyncTimeout hs1/0")]));
}

#[test]
fn the_cap_spans_rooms_in_stream_order_80_and_20_then_60() {
    // 80 in room a, then 80 in room b (Synapse measured 80 + 20, then 60): the first
    // response takes a's 80 and b's first 20 (100 in all), the second b's last 60.
    let mut k = kit(
        |s| s.timeline_limit = 0,
        &[("a", &["hs1"]), ("b", &["hs1"])],
    );
    k.at(SEC);
    let a = fill(&mut k, "a", 80, HOUR_MS);
    let b = fill(&mut k, "b", 80, HOUR_MS);
    k.at(2 * SEC);
    let r1 = sync(&mut k, tok(0, 0)).0.unwrap();
    assert_eq!(r1.rooms.len(), 2);
    assert_eq!(r1.rooms[0].room, k.room("a"));
    assert_eq!(r1.rooms[0].sticky, with_left(&a, 3_599_000));
    assert_eq!(r1.rooms[1].sticky, with_left(&b[..20], 3_599_000));
    let r2 = sync(&mut k, Some(r1.next_batch)).0.unwrap();
    assert_eq!(sticky_of(&r2), with_left(&b[20..], 3_599_000));
}

#[test]
fn an_event_in_the_timeline_is_not_repeated_in_the_sticky_section() {
    // Timeline limit 10: the first response's timeline holds the newest 10 (e240..e249,
    // with their remaining 3 599 000 ms), its sticky section e0..e99. Those 10 count as
    // received (MSC4354: each sticky event once), so the sections go 100, 100, 40.
    let mut k = kit(|_| {}, &[("r", &["hs1"])]);
    k.at(SEC);
    let e = fill(&mut k, "r", 250, HOUR_MS);
    k.at(2 * SEC);
    let r1 = sync(&mut k, tok(0, 0)).0.unwrap();
    assert_eq!(r1.rooms[0].timeline, e[240..].to_vec());
    assert!(r1.rooms[0].limited);
    assert_eq!(
        r1.rooms[0].timeline_remaining,
        with_left(&e[240..], 3_599_000)
    );
    assert_eq!(sticky_of(&r1), with_left(&e[..100], 3_599_000));
    let r2 = sync(&mut k, Some(r1.next_batch)).0.unwrap();
    assert_eq!(sticky_of(&r2).len(), 100);
    let r3 = sync(&mut k, Some(r2.next_batch)).0.unwrap();
    assert_eq!(sticky_of(&r3), with_left(&e[200..240], 3_599_000));
    assert_eq!(r3.next_batch, tok(250, 250).unwrap());
}

#[test]
fn resend_timeline_sticky_re_sends_the_first_timeline_as_synapse_does() {
    // sync.resend_timeline_sticky = true (Synapse 1.163): the same 250 come as sticky
    // sections of 100, 100, 50, the last holding e200..e249 (the 10 of the first timeline too).
    let mut k = kit(|s| s.resend_timeline_sticky = true, &[("r", &["hs1"])]);
    k.at(SEC);
    let e = fill(&mut k, "r", 250, HOUR_MS);
    k.at(2 * SEC);
    let r1 = sync(&mut k, tok(0, 0)).0.unwrap();
    assert_eq!(r1.rooms[0].timeline, e[240..].to_vec());
    let r2 = sync(&mut k, Some(r1.next_batch)).0.unwrap();
    let r3 = sync(&mut k, Some(r2.next_batch)).0.unwrap();
    let sizes: Vec<usize> = [&r1, &r2, &r3].iter().map(|r| sticky_of(r).len()).collect();
    assert_eq!(sizes, vec![100, 100, 50]);
    assert_eq!(sticky_of(&r3), with_left(&e[200..], 3_599_000));
}

#[test]
fn an_unconfirmed_response_comes_again_when_the_token_shows_it_never_arrived() {
    // The first response (e0..e99, next_batch {250, 100}) is lost: the client asks again
    // with its old token {0, 0}, so nothing counts as received and e0..e99 come again.
    // Asking with {250, 100} then confirms them: e100..e199 next.
    let mut k = kit(|s| s.timeline_limit = 0, &[("r", &["hs1"])]);
    k.at(SEC);
    let e = fill(&mut k, "r", 250, HOUR_MS);
    k.at(2 * SEC);
    let r1 = sync(&mut k, tok(0, 0)).0.unwrap();
    assert_eq!(sticky_of(&r1).len(), 100);
    let again = sync(&mut k, tok(0, 0)).0.unwrap();
    assert_eq!(sticky_of(&again), sticky_of(&r1));
    let next = sync(&mut k, Some(again.next_batch)).0.unwrap();
    assert_eq!(sticky_of(&next), with_left(&e[100..200], 3_599_000));
    let c = k.client("hs1/0");
    let dev = &k.world.servers[k.server("hs1")].devices[&c];
    assert_eq!(dev.delivered.len(), 100);
}

#[test]
fn a_join_brings_a_rooms_sticky_events_over_the_cap_and_they_never_come_twice() {
    // Stream: 120 events in room a (positions 0..120, hs1/0 a member), then 30 in b
    // (120..150, hs1/0 not a member). hs1/0 joins b at 2 s and syncs from {0, 0} at 3 s:
    // b's 30 come at once (a join brings all unexpired sticky events, uncapped), plus a's
    // first 100 under the cap: 130 events, next position 100. The next response scans
    // positions 100..150: a's last 20; b's 30 were received and are not sent again.
    let mut k = kit(
        |s| s.timeline_limit = 0,
        &[("a", &["hs1"]), ("b", &["hs1/1"])],
    );
    k.at(SEC);
    let a = fill(&mut k, "a", 120, HOUR_MS);
    let b = fill(&mut k, "b", 30, HOUR_MS);
    let (hs1, c, rb) = (k.server("hs1"), k.client("hs1/0"), k.room("b"));
    k.at(2 * SEC);
    let join = ClientRequest {
        client: c,
        req: ClientReq::Join { room: rb },
        tag: None,
    };
    k.to_server(hs1, ServerEv::ClientRequest(Box::new(join)));
    k.settle();
    assert!(k.world.servers[hs1].is_joined(rb, c));
    k.at(3 * SEC);
    let r1 = sync(&mut k, tok(0, 0)).0.unwrap();
    // Made at 1 s with 1 h; at 3 s: 3 601 000 - 3 000 = 3 598 000 ms left.
    assert_eq!(r1.rooms[0].sticky, with_left(&a[..100], 3_598_000));
    assert_eq!(r1.rooms[1].sticky, with_left(&b, 3_598_000));
    assert_eq!(r1.next_batch.sticky, 100);
    let r2 = sync(&mut k, Some(r1.next_batch)).0.unwrap();
    assert_eq!(sticky_of(&r2), with_left(&a[100..], 3_598_000));
}

#[test]
fn a_newly_joined_room_brings_all_150_of_its_sticky_events_in_one_response() {
    // 150 events in b before hs1/0 joins; hs1/0's token is already past them ({150, 150}).
    // The join (at 2 s) is in the timeline; the sticky section holds all 150, over the cap.
    let mut k = kit(|_| {}, &[("a", &["hs1"]), ("b", &["hs1/1"])]);
    k.at(SEC);
    let b = fill(&mut k, "b", 150, HOUR_MS);
    let (hs1, c, rb) = (k.server("hs1"), k.client("hs1/0"), k.room("b"));
    k.at(2 * SEC);
    let join = ClientRequest {
        client: c,
        req: ClientReq::Join { room: rb },
        tag: None,
    };
    k.to_server(hs1, ServerEv::ClientRequest(Box::new(join)));
    k.settle();
    k.at(3 * SEC);
    let r = sync(&mut k, tok(150, 150)).0.unwrap();
    assert_eq!(r.rooms.len(), 1);
    assert_eq!(r.rooms[0].timeline.len(), 1);
    assert_eq!(r.rooms[0].sticky, with_left(&b, 3_598_000));
}

#[test]
fn expired_sticky_events_are_no_news_and_the_long_poll_waits_for_its_timeout() {
    // One event made at 1 s with 5 000 ms: it ends at 6 000 ms. At 10 s the client's token
    // is past it in the timeline ({1, 0}); the sticky stream holds only the expired event:
    // no news, so the request waits for poll_timeout (30 s): answered at 40 s, empty,
    // with the sticky position moved past it ({1, 1}).
    let mut k = kit(|_| {}, &[("r", &["hs1"])]);
    k.at(SEC);
    fill(&mut k, "r", 1, 5_000);
    k.at(10 * SEC);
    let (r, l) = sync(&mut k, tok(1, 0));
    assert!(r.is_none());
    assert_eq!(l, lbl(&[(40 * SEC, "hs1: SyncTimeout hs1/0")]));
    let (hs1, c) = (k.server("hs1"), k.client("hs1/0"));
    k.at(40 * SEC);
    k.to_server(hs1, ServerEv::SyncTimeout { client: c, req: 1 });
    let resp = sync_responses(&k.scheduled());
    assert_eq!(resp.len(), 1);
    assert_eq!(resp[0].0, 40 * SEC + 10 * MS);
    assert!(resp[0].2.rooms.is_empty());
    assert_eq!(resp[0].2.next_batch, tok(1, 1).unwrap());
}

#[test]
fn an_initial_sync_reads_the_sticky_stream_from_its_start_under_the_cap() {
    // No token: initial = true, e0..e99 of 250, next position 100.
    let mut k = kit(|s| s.timeline_limit = 0, &[("r", &["hs1"])]);
    k.at(SEC);
    let e = fill(&mut k, "r", 250, HOUR_MS);
    k.at(2 * SEC);
    let r = sync(&mut k, None).0.unwrap();
    assert!(r.initial);
    assert_eq!(sticky_of(&r), with_left(&e[..100], 3_599_000));
    assert_eq!(r.next_batch, tok(250, 100).unwrap());
}

#[test]
fn a_waiting_long_poll_is_answered_when_a_sticky_event_arrives() {
    // hs1/0 syncs at 0: the initial sync is answered at 10 ms, reaches it at 20 ms; its
    // next request (30 ms) waits. hs1/1 sends a sticky event at 5 s, made at 5.01 s (one
    // hop); the wait ends at once: hs1/0 gets it at 5.02 s in the timeline with
    // 3 605 010 - 5 010 = 3 600 000 ms left, and its map shows it.
    let mut k = kit(|_| {}, &[("r", &["hs1"])]);
    let (c0, c1, r) = (k.client("hs1/0"), k.client("hs1/1"), k.room("r"));
    k.with_cx(|_, clients, cx| clients[c0].send_sync(cx));
    let mut run = k.run();
    let send = StickySend {
        room: r,
        ev_type: RTC,
        key: "m".into(),
        duration: DurationField::Ms(HOUR_MS),
        leave: false,
        ots_offset_ms: 0,
        only_to: None,
    };
    run.input_at(
        5 * SEC,
        Input::Send {
            client: c1,
            req: Box::new(ClientReq::Sticky(send)),
            tag: None,
        },
    );
    run.run_until(6 * SEC);
    let synced: Vec<Synced> = run
        .probes()
        .into_iter()
        .filter_map(|(t, p)| match p {
            Probe::Synced(s) if s.client == c0 => Some((
                t,
                s.resp
                    .rooms
                    .iter()
                    .flat_map(|p| p.timeline_remaining.clone())
                    .collect(),
                s.changes.iter().map(|c| c.2.clone()).collect(),
            )),
            _ => None,
        })
        .collect();
    let e = PduId(0);
    assert_eq!(
        synced,
        vec![
            (20 * MS, vec![], vec![]),
            (
                5020 * MS,
                vec![(e, 3_600_000)],
                vec![Some(Top {
                    pdu: e,
                    active: true
                })]
            ),
        ]
    );
    assert_eq!(run.world().sh.pdus[e].created_at, 5010 * MS);
}
