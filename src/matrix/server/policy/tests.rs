//! One server fed one `/send` under each inbound policy (MSC4354 rate limiting).
//! hs1 is the origin, hs2 the receiver; one client each, both in room "r"; 50 ms one way.
//! The bucket: `sticky_rate` = 10 tokens/s, burst 50 (the defaults) unless a test says.

use crate::kernel::Time;
use crate::matrix::event::Content;
use crate::matrix::ids::{ClientId, PduId, RoomId, ServerId};
use crate::matrix::msg::Outcome;
use crate::matrix::spec::{InboundCfg, InboundPolicy};
use crate::matrix::testkit::*;

struct Setup {
    k: Kit,
    hs1: ServerId,
    hs2: ServerId,
    r: RoomId,
    c1: ClientId,
}

fn setup(rx: impl FnOnce(&mut InboundCfg)) -> Setup {
    let mut cfg = cfg0();
    cfg.clients_per_server = 1;
    let mut cfg2 = cfg.clone();
    rx(&mut cfg2.inbound);
    let k = Builder::new(vec![cfg, cfg2])
        .room("r", &["hs1", "hs2"])
        .build();
    let (hs1, hs2, r, c1) = (
        k.server("hs1"),
        k.server("hs2"),
        k.room("r"),
        k.client("hs1/0"),
    );
    Setup { k, hs1, hs2, r, c1 }
}

impl Setup {
    /// `n` sticky PDUs made by hs1 now (distinct keys, `duration_ms` each).
    fn stickies(&mut self, n: usize, duration_ms: i64) -> Vec<PduId> {
        (0..n)
            .map(|i| {
                let c = sticky(&format!("k{i}"), duration_ms);
                self.k.event(self.hs1, self.r, self.c1, c)
            })
            .collect()
    }

    fn message(&mut self) -> PduId {
        self.k.event(self.hs1, self.r, self.c1, Content::Message)
    }

    /// hs2's tokens for hs1 at `t` (a pure reading).
    fn tokens(&self, t: Time) -> f64 {
        let s = &self.k.world.servers[self.hs2];
        s.buckets.min_tokens_at(&s.cfg.inbound, t)
    }

    /// Empty hs2's bucket for hs1 at `t` (as if it had just spent it).
    fn drain_bucket(&mut self, t: Time) {
        let (hs1, hs2) = (self.hs1, self.hs2);
        let s = &mut self.k.world.servers[hs2];
        s.buckets.refill(&s.cfg.inbound, hs1, t).tokens = 0.0;
    }

    /// Send `pdus` from hs1 to hs2 at `t`; the one answer hs2 scheduled.
    fn send(&mut self, t: Time, pdus: &[PduId]) -> (Time, Outcome, Option<Time>) {
        self.k.at(t);
        self.k.send_txn(self.hs1, self.hs2, pdus);
        let evs = self.k.settle();
        let r = txn_responses(&evs);
        assert_eq!(r.len(), 1, "one answer");
        (r[0].0, r[0].2.outcome, r[0].2.retry_after)
    }
}

#[test]
fn reject_429_takes_a_60_pdu_send_whole_into_a_fresh_bucket_of_50() {
    // reject_429: a /send is refused while the bucket lacks tokens for its sticky PDUs, a
    // /send needing at most a full bucket (else one bigger than the burst never passes):
    // need = min(60, 50) = 50 <= 50 fresh tokens, so all 60 pass; the bucket is left
    // overdrawn at 50 - 60 = -10 (the debt is paid back at the rate). Created at 0 with 1 h, received at 1 s: end = min(1 000, 0) +
    // 3 600 000 ms, i.e. 3 600 s. The 200 reaches hs1 50 ms later.
    let mut s = setup(|_| {});
    let pdus = s.stickies(60, HOUR_MS);
    s.k.at(SEC);
    s.k.send_txn(s.hs1, s.hs2, &pdus);
    let acc = accepted(&s.k.probes());
    assert_eq!(acc.len(), 60);
    assert!(acc
        .iter()
        .all(|a| a.0 == s.hs2 && a.2 == SEC && a.3 == 3600 * SEC));
    assert_eq!(acc.iter().map(|a| a.1).collect::<Vec<_>>(), pdus);
    assert_eq!(
        s.k.labels(),
        lbl(&[
            (SEC, "hs2: SyncWake"),
            (SEC + 50 * MS, "hs1: TxnResponse hs2 ok")
        ])
    );
    assert_eq!(s.tokens(SEC), -10.0);
}

#[test]
fn reject_429_refuses_the_whole_send_with_retry_after_when_tokens_lack() {
    // After the 60 at 1 s the bucket is at -10: a 1-PDU /send at the same instant needs
    // min(1, 50) = 1 token > -10, so it is answered 429 with retry_after = inbound.retry_after
    // = 1 s, at 1 s + 50 ms; nothing in it is processed.
    let mut s = setup(|_| {});
    let first = s.stickies(60, HOUR_MS);
    let one = s.stickies(1, HOUR_MS);
    assert_eq!(s.send(SEC, &first).1, Outcome::Ok);
    s.k.probes();
    assert_eq!(
        s.send(SEC, &one),
        (SEC + 50 * MS, Outcome::RateLimited, Some(SEC))
    );
    assert!(accepted(&s.k.probes()).is_empty());
    assert!(!s.k.world.servers[s.hs2].rooms[&s.r].known.contains(&one[0]));
}

#[test]
fn reject_429_tokens_refill_at_the_rate_after_a_wait() {
    // Empty at 1 s. At 1.15 s: 0 + 0.15 s x 10/s = 1.5 tokens: a 2-PDU /send needs 2 -> 429;
    // a 1-PDU /send needs 1 -> 200, leaving 0.5. At 1.3 s: 0.5 + 1.5 = 2.0: the 2-PDU /send
    // passes, leaving 0.
    let mut s = setup(|_| {});
    let two = s.stickies(2, HOUR_MS);
    let one = s.stickies(1, HOUR_MS);
    s.drain_bucket(SEC);
    assert_eq!(s.send(1150 * MS, &two).1, Outcome::RateLimited);
    assert_eq!(s.tokens(1150 * MS), 1.5);
    assert_eq!(s.send(1150 * MS, &one).1, Outcome::Ok);
    assert_eq!(s.tokens(1150 * MS), 0.5);
    assert_eq!(s.send(1300 * MS, &two).1, Outcome::Ok);
    assert_eq!(s.tokens(1300 * MS), 0.0);
    assert_eq!(accepted(&s.k.probes()).len(), 3);
}

#[test]
fn reject_429_holds_an_origin_to_its_rate_with_sends_larger_than_the_burst() {
    // Rate 10/s, burst 50; an origin tries a 100-PDU /send every second for 60 s. The
    // first takes min(100, 50) = 50 tokens' check and overdraws the bucket to -50; the
    // debt and the next 50 take (50 + 50) / 10 = 10 s, so sends pass at 0, 10, ..., 60 s:
    // 7 x 100 = 700 = burst + rate x 60 s + one overdraft (50 + 600 + 50). Without the
    // debt a full bucket would come back every 5 s: 13 x 100 = 1 300, twice the rate.
    let mut s = setup(|_| {});
    let mut passed = vec![];
    for i in 0..=60 {
        let pdus = s.stickies(100, HOUR_MS);
        if s.send(i * SEC, &pdus).1 == Outcome::Ok {
            passed.push(i);
        }
    }
    assert_eq!(passed, vec![0, 10, 20, 30, 40, 50, 60]);
}

#[test]
fn accept_drop_accepts_exactly_the_burst_and_drops_the_rest_silently() {
    // accept_drop: 200, sticky PDUs beyond the bucket are dropped. A fresh bucket of 50:
    // PDUs 0..50 take one token each and are accepted; 50..60 find it empty: 10 Dropped.
    // Dropped PDUs count as known (never fetched again) but never reach the sticky stream.
    let mut s = setup(|c| c.policy = InboundPolicy::AcceptDrop);
    let pdus = s.stickies(60, HOUR_MS);
    assert_eq!(s.send(SEC, &pdus), (SEC + 50 * MS, Outcome::Ok, None));
    let probes = s.k.probes();
    let acc: Vec<PduId> = accepted(&probes).iter().map(|a| a.1).collect();
    assert_eq!(acc, pdus[..50].to_vec());
    assert_eq!(dropped(&probes), pdus[50..].to_vec());
    let hs2 = &s.k.world.servers[s.hs2];
    assert_eq!(hs2.sticky_stream.len(), 50);
    assert!(pdus[50..].iter().all(|p| hs2.rooms[&s.r].known.contains(p)));
    assert_eq!(s.tokens(SEC), 0.0);
}

#[test]
fn defer_stores_the_excess_and_releases_it_at_the_bucket_rate() {
    // defer: 200; 50 accepted now, 10 stored. The release timer waits for one token:
    // ceil((1 - 0) / 10 x 1e6) = 100 000 us. Each release takes the one token refilled in
    // 0.1 s, so the 10 come out at 1.1 s, 1.2 s, ..., 2.0 s, in order.
    let mut s = setup(|c| c.policy = InboundPolicy::Defer);
    let pdus = s.stickies(60, HOUR_MS);
    s.k.at(SEC);
    s.k.send_txn(s.hs1, s.hs2, &pdus);
    assert_eq!(accepted(&s.k.probes()).len(), 50);
    let evs = s.k.scheduled();
    assert_eq!(
        s.k.label_all(&evs),
        lbl(&[
            (SEC, "hs2: SyncWake"),
            (SEC + 50 * MS, "hs1: TxnResponse hs2 ok"),
            (SEC + 100 * MS, "hs2: DeferRelease"),
        ])
    );
    assert_eq!(s.k.world.servers[s.hs2].deferred.len(), 10);
    let mut run = s.k.run();
    for (t, ev) in evs {
        run.at(t, ev);
    }
    run.run_until(10 * SEC);
    let released: Vec<(PduId, Time)> = accepted(&run.probes_only())
        .iter()
        .map(|a| (a.1, a.2))
        .collect();
    let expected: Vec<(PduId, Time)> = (0..10)
        .map(|i| (pdus[50 + i], SEC + 100 * MS * (i as Time + 1)))
        .collect();
    assert_eq!(released, expected);
    assert!(run.world().servers[s.hs2].deferred.is_empty());
}

#[test]
fn defer_waits_ceil_of_the_missing_token_over_the_rate() {
    // Burst 2, 3 tokens/s, 4 sticky PDUs at 1 s: 2 accepted, 2 stored, bucket 0.
    // First release after ceil((1 - 0) / 3 x 1e6) = ceil(333 333.3) = 333 334 us: the bucket
    // holds 0.333334 x 3 = 1.000002, one is released, 0.000002 left. Next wait:
    // ceil((1 - 0.000002) / 3 x 1e6) = ceil(333 332.67) = 333 333 us, at 1 666 667 us.
    let mut s = setup(|c| {
        c.policy = InboundPolicy::Defer;
        c.sticky_rate.per_second = 3.0;
        c.sticky_rate.burst = 2;
    });
    let pdus = s.stickies(4, HOUR_MS);
    s.k.at(SEC);
    s.k.send_txn(s.hs1, s.hs2, &pdus);
    assert_eq!(accepted(&s.k.probes()).len(), 2);
    let mut run = s.k.run();
    run.run_until(10 * SEC);
    let released: Vec<(PduId, Time)> = accepted(&run.probes_only())
        .iter()
        .map(|a| (a.1, a.2))
        .collect();
    assert_eq!(released, vec![(pdus[2], 1_333_334), (pdus[3], 1_666_667)]);
}

#[test]
fn unlimited_accepts_everything_and_never_opens_a_bucket() {
    // unlimited: 200 sticky PDUs in one /send, all accepted; no bucket is ever made, so
    // the emptiest bucket reads as the burst (50).
    let mut s = setup(|c| c.policy = InboundPolicy::Unlimited);
    let pdus = s.stickies(200, HOUR_MS);
    assert_eq!(s.send(SEC, &pdus).1, Outcome::Ok);
    assert_eq!(accepted(&s.k.probes()).len(), 200);
    assert_eq!(s.tokens(SEC), 50.0);
}

#[test]
fn non_sticky_pdus_never_take_tokens_under_reject_429() {
    // The bucket counts sticky PDUs only. With it empty at 1 s, a /send of 5 ordinary
    // messages is answered 200 and all 5 reach the timeline; the bucket still reads 0; a
    // /send of one sticky PDU at the same instant is 429.
    let mut s = setup(|_| {});
    let msgs: Vec<PduId> = (0..5).map(|_| s.message()).collect();
    let one = s.stickies(1, HOUR_MS);
    s.drain_bucket(SEC);
    assert_eq!(s.send(SEC, &msgs).1, Outcome::Ok);
    assert_eq!(s.k.world.servers[s.hs2].timeline.len(), 5);
    assert_eq!(s.tokens(SEC), 0.0);
    assert_eq!(s.send(SEC, &one).1, Outcome::RateLimited);
}

#[test]
fn non_sticky_pdus_never_take_tokens_under_accept_drop() {
    // Burst 3, one /send [m, s1, m, s2, m, s3, s4]: the messages take nothing, s1..s3 take
    // the 3 tokens, s4 is dropped. 3 messages + 3 sticky events reach the timeline.
    let mut s = setup(|c| {
        c.policy = InboundPolicy::AcceptDrop;
        c.sticky_rate.burst = 3;
    });
    let st = s.stickies(4, HOUR_MS);
    let m: Vec<PduId> = (0..3).map(|_| s.message()).collect();
    let body = [m[0], st[0], m[1], st[1], m[2], st[2], st[3]];
    assert_eq!(s.send(SEC, &body).1, Outcome::Ok);
    let probes = s.k.probes();
    assert_eq!(
        accepted(&probes).iter().map(|a| a.1).collect::<Vec<_>>(),
        st[..3].to_vec()
    );
    assert_eq!(dropped(&probes), vec![st[3]]);
    assert_eq!(s.k.world.servers[s.hs2].timeline.len(), 6);
}

#[test]
fn an_expired_sticky_pdu_is_not_live_and_takes_no_token() {
    // accept_drop, burst 1. At 5 s hs2 gets [old, a, b]: `old` was made at 0 with 1 000 ms,
    // so its end min(5 000, 0) + 1 000 = 1 000 <= 5 000: not live, processed without a token
    // (timeline only, never Accepted). `a` takes the one token; `b` is dropped.
    // Under reject_429 with an empty bucket, a /send holding only `old` passes too.
    let mut s = setup(|c| {
        c.policy = InboundPolicy::AcceptDrop;
        c.sticky_rate.burst = 1;
    });
    let old = s.stickies(1, 1_000)[0];
    s.k.at(5 * SEC);
    let ab = s.stickies(2, HOUR_MS);
    assert_eq!(s.send(5 * SEC, &[old, ab[0], ab[1]]).1, Outcome::Ok);
    let probes = s.k.probes();
    assert_eq!(
        accepted(&probes).iter().map(|a| a.1).collect::<Vec<_>>(),
        vec![ab[0]]
    );
    assert_eq!(dropped(&probes), vec![ab[1]]);
    let tl: Vec<PduId> = s.k.world.servers[s.hs2]
        .timeline
        .iter()
        .map(|x| x.1)
        .collect();
    assert_eq!(tl, vec![old, ab[0]]);

    let mut s = setup(|_| {});
    let old = s.stickies(1, 1_000)[0];
    s.drain_bucket(5 * SEC);
    assert_eq!(s.send(5 * SEC, &[old]).1, Outcome::Ok);
}
