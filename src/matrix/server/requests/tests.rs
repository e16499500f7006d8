//! Stickiness at a server (MSC4354 "Sticky events"): it starts at
//! min(received_ts, origin_server_ts) (for a server's own event received_ts is its
//! creation time) and lasts min(duration_ms, 1 h), each server reading its own clock.
//! hs1 is the origin, hs2 the receiver, one client each, both in "r"; events are made at
//! simulated time 0 and reach hs2 at 1 s unless a test says.

use crate::kernel::time::SignedDur;
use crate::kernel::Time;
use crate::matrix::event::{Content, DurationField};
use crate::matrix::ids::PduId;
use crate::matrix::msg::{ServerEv, SyncRequest};
use crate::matrix::probe::Probe;
use crate::matrix::server::sync::SyncToken;
use crate::matrix::testkit::*;

/// Clocks `skew1_s` / `skew2_s` seconds off simulated time; the timeline filtered out of
/// `/sync` (so sticky events come in the sticky section).
fn kit(skew1_s: i64, skew2_s: i64) -> Kit {
    let mk = |skew: i64| {
        let mut c = cfg0();
        c.clients_per_server = 1;
        c.clock_skew = SignedDur(skew * 1_000_000);
        c.sync.timeline_limit = 0;
        c
    };
    Builder::new(vec![mk(skew1_s), mk(skew2_s)])
        .room("r", &["hs1", "hs2"])
        .build()
}

/// hs1/0 creates a sticky event at hs1 now; returns it with the Created probe's origin_end.
fn create(k: &mut Kit, duration_ms: i64) -> (PduId, Option<Time>) {
    let (c1, r) = (k.client("hs1/0"), k.room("r"));
    let e = k.create(c1, r, sticky("m", duration_ms));
    k.scheduled();
    let end = k.probes().iter().find_map(|p| match p {
        Probe::Created { origin_end, .. } => Some(*origin_end),
        _ => None,
    });
    (e, end.flatten())
}

/// `pdu` reaches hs2 at 1 s; the end (simulated time) of its Accepted probe.
fn receive_at_hs2(k: &mut Kit, pdu: PduId) -> Option<Time> {
    let (hs1, hs2) = (k.server("hs1"), k.server("hs2"));
    k.at(SEC);
    k.send_txn(hs1, hs2, &[pdu]);
    k.settle();
    let acc = accepted(&k.probes());
    acc.iter().find(|a| a.0 == hs2 && a.1 == pdu).map(|a| a.3)
}

#[test]
fn origin_clock_ten_minutes_ahead_is_bounded_by_receipt_time() {
    // hs1 shows 600 000 ms at simulated 0: origin_server_ts = 600 000. At hs1 (received_ts =
    // creation = 600 000) the end is 4 200 000 ms of its clock = simulated 3 600 s. hs2 (true
    // clock) receives at 1 000 ms: min(1 000, 600 000) + 3 600 000 = 3 601 000 ms -> 3 601 s.
    let mut k = kit(600, 0);
    let (e, origin_end) = create(&mut k, HOUR_MS);
    assert_eq!(k.world.sh.pdus[e].origin_server_ts, 600_000);
    assert_eq!(origin_end, Some(3600 * SEC));
    assert_eq!(receive_at_hs2(&mut k, e), Some(3601 * SEC));
}

#[test]
fn origin_clock_ten_minutes_behind_expires_early_at_the_receiver() {
    // hs1 shows -600 000 ms at simulated 0. By its own clock the event lasts to -600 000 +
    // 3 600 000 = 3 000 000 ms = simulated 3 600 s; hs2 takes min(1 000, -600 000) +
    // 3 600 000 = 3 000 000 ms of its true clock: simulated 3 000 s, 10 min early.
    let mut k = kit(-600, 0);
    let (e, origin_end) = create(&mut k, HOUR_MS);
    assert_eq!(k.world.sh.pdus[e].origin_server_ts, -600_000);
    assert_eq!(origin_end, Some(3600 * SEC));
    assert_eq!(receive_at_hs2(&mut k, e), Some(3000 * SEC));
}

#[test]
fn receiver_clock_ten_minutes_ahead_expires_early() {
    // hs2 shows 601 000 ms at simulated 1 s: end = min(601 000, 0) + 3 600 000 = 3 600 000
    // ms of hs2's clock, which it shows at simulated 3 000 s.
    let mut k = kit(0, 600);
    let (e, origin_end) = create(&mut k, HOUR_MS);
    assert_eq!(origin_end, Some(3600 * SEC));
    assert_eq!(receive_at_hs2(&mut k, e), Some(3000 * SEC));
}

#[test]
fn receiver_clock_ten_minutes_behind_starts_at_its_receipt() {
    // hs2 shows -599 000 ms at simulated 1 s: end = min(-599 000, 0) + 3 600 000 =
    // 3 001 000 ms of hs2's clock = simulated 3 001 000 + 600 000 ms = 3 601 s.
    let mut k = kit(0, -600);
    let (e, _) = create(&mut k, HOUR_MS);
    assert_eq!(receive_at_hs2(&mut k, e), Some(3601 * SEC));
}

#[test]
fn a_future_origin_server_ts_from_a_true_clock_is_bounded_by_receipt_time() {
    // A misbehaving origin adds 10 min to origin_server_ts (clock true): ots = 600 000.
    // Its own end: min(0, 600 000) + 3 600 000 -> 3 600 s. hs2: min(1 000, 600 000) +
    // 3 600 000 -> 3 601 s. The map's order still sees 600 000 + 3 600 000 = 4 200 000.
    let mut k = kit(0, 0);
    let (hs1, r, c1) = (k.server("hs1"), k.room("r"), k.client("hs1/0"));
    let e = k.event_ots(hs1, r, c1, sticky("m", HOUR_MS), 600_000);
    assert_eq!(k.world.origin_end(e), 3600 * SEC);
    assert_eq!(receive_at_hs2(&mut k, e), Some(3601 * SEC));
    assert_eq!(k.world.sh.pdus[e].map_order().map(|o| o.0), Some(4_200_000));
}

#[test]
fn a_duration_over_one_hour_is_clamped_for_expiry_but_not_for_the_map_order() {
    // duration_ms = 7 200 000 (2 h): the end is start + min(7 200 000, 3 600 000): 3 600 s
    // at hs1, min(1 000, 0) + 3 600 000 ms = 3 600 s at hs2. The tie-break order is
    // origin_server_ts + duration_ms unclamped: 0 + 7 200 000.
    let mut k = kit(0, 0);
    let (e, origin_end) = create(&mut k, 2 * HOUR_MS);
    assert_eq!(origin_end, Some(3600 * SEC));
    assert_eq!(receive_at_hs2(&mut k, e), Some(3600 * SEC));
    assert_eq!(k.world.sh.pdus[e].map_order().map(|o| o.0), Some(7_200_000));
}

/// A sync of `client` at `t` from the start of the streams: its sticky section.
fn sticky_section(k: &mut Kit, client: &str, t: Time) -> Vec<(PduId, i64)> {
    let c = k.client(client);
    let s = k.world.sh.dir.server_of(c);
    k.at(t);
    let since = Some(SyncToken::default());
    k.to_server(
        s,
        ServerEv::SyncRequest(SyncRequest {
            client: c,
            req: 1,
            since,
        }),
    );
    let resp = sync_responses(&k.scheduled());
    assert_eq!(resp.len(), 1);
    sticky_of(&resp[0].2)
}

#[test]
fn sticky_duration_remaining_ms_is_the_servers_end_minus_its_now() {
    // hs1 10 min ahead. At hs2 (end 3 601 000 ms, see above), a sync at 1 001 s carries
    // 3 601 000 - 1 001 000 = 2 600 000 ms. At hs1 (end 4 200 000 ms of its clock), a sync at
    // simulated 1 234.567 s (hs1 shows 1 834 567 ms) carries 4 200 000 - 1 834 567 = 2 365 433.
    let mut k = kit(600, 0);
    let (e, _) = create(&mut k, HOUR_MS);
    receive_at_hs2(&mut k, e);
    assert_eq!(
        sticky_section(&mut k, "hs2/0", 1001 * SEC),
        vec![(e, 2_600_000)]
    );
    assert_eq!(
        sticky_section(&mut k, "hs1/0", 1_234_567 * MS),
        vec![(e, 2_365_433)]
    );
}

#[test]
fn zero_negative_and_non_integer_durations_are_never_live() {
    // duration_ms 0 is sticky but ends where it starts (min(1 000, 0) + 0 = 0 <= 1 000);
    // -5 and a non-integer are ordinary events. None takes a token (hs2's bucket is empty
    // and the /send passes), all three reach the timeline, none the sticky stream. At the
    // origin, the 0-duration event ends at its creation (origin_end = 0), never accepted.
    let mut k = kit(0, 0);
    let (hs1, hs2, r, c1) = (
        k.server("hs1"),
        k.server("hs2"),
        k.room("r"),
        k.client("hs1/0"),
    );
    let (zero, zero_end) = create(&mut k, 0);
    assert_eq!(zero_end, Some(0));
    assert!(k.world.servers[hs1].sticky_stream.is_empty());
    let odd = |d: DurationField| Content::Sticky {
        ev_type: RTC,
        key: "m".into(),
        duration: d,
        leave: false,
    };
    let neg = k.event(hs1, r, c1, odd(DurationField::Ms(-5)));
    let frac = k.event(hs1, r, c1, odd(DurationField::Invalid));
    let s2 = &mut k.world.servers[hs2];
    s2.buckets.refill(&s2.cfg.inbound, hs1, SEC).tokens = 0.0;
    k.at(SEC);
    k.send_txn(hs1, hs2, &[zero, neg, frac]);
    let r = txn_responses(&k.settle());
    assert_eq!(r[0].2.outcome, crate::matrix::msg::Outcome::Ok);
    assert!(accepted(&k.probes()).is_empty());
    let tl: Vec<PduId> = k.world.servers[hs2].timeline.iter().map(|x| x.1).collect();
    assert_eq!(tl, vec![zero, neg, frac]);
    assert!(k.world.servers[hs2].sticky_stream.is_empty());
}
