//! Inbound rate limits (MSC4354 rate limiting): a token bucket per origin for
//! sticky PDUs, and one [`InboundPolicy`] per `inbound.policy` deciding what happens to a
//! `/send` beyond it.

use crate::kernel::Time;
use crate::matrix::ids::{PduId, ServerId};
use crate::matrix::msg::TxnEntry;
use crate::matrix::spec::{self, InboundCfg};
use std::collections::BTreeMap;

/// One origin's bucket of sticky-PDU tokens.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    pub tokens: f64,
    pub last: Time,
}

impl Bucket {
    /// The tokens at `now` (refilled at `rate` per second, capped at `burst`), without
    /// changing the bucket.
    pub fn tokens_at(&self, now: Time, rate: f64, burst: f64) -> f64 {
        let dt = now.saturating_sub(self.last) as f64 / 1e6;
        (self.tokens + dt * rate).min(burst)
    }
}

/// Per-origin buckets of one server.
#[derive(Clone, Debug, Default)]
pub struct Buckets {
    by_origin: BTreeMap<ServerId, Bucket>,
}

impl Buckets {
    fn rate_burst(cfg: &InboundCfg) -> (f64, f64) {
        (
            cfg.sticky_rate.per_second.max(0.0),
            cfg.sticky_rate.burst as f64,
        )
    }

    /// Refill `origin`'s bucket up to `now` (a new origin starts full) and return it.
    pub fn refill(&mut self, cfg: &InboundCfg, origin: ServerId, now: Time) -> &mut Bucket {
        let (rate, burst) = Self::rate_burst(cfg);
        let b = self.by_origin.entry(origin).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        b.tokens = b.tokens_at(now, rate, burst);
        b.last = now;
        b
    }

    /// Tokens of the emptiest bucket at `now` (the burst when none): a pure reading for
    /// samplers, which must never change what the model decides.
    pub fn min_tokens_at(&self, cfg: &InboundCfg, now: Time) -> f64 {
        let (rate, burst) = Self::rate_burst(cfg);
        self.by_origin
            .values()
            .map(|b| b.tokens_at(now, rate, burst))
            .fold(burst, f64::min)
    }

    /// A crash forgets the buckets.
    pub fn clear(&mut self) {
        self.by_origin.clear();
    }
}

/// What a policy decided about one `/send`.
#[derive(Clone, Debug, PartialEq)]
pub enum Admission {
    /// Answer 429 with `retry_after`; nothing is processed.
    Reject,
    /// Answer 200: `accept` are processed now, `dropped` thrown away, `deferred` stored
    /// for later release.
    Accept {
        accept: Vec<TxnEntry>,
        dropped: Vec<PduId>,
        deferred: Vec<TxnEntry>,
    },
}

/// One rule for sticky PDUs beyond an origin's bucket.
pub trait InboundPolicy {
    /// Decide about `entries` from `origin` (`live[i]`: entry i is a sticky event still
    /// sticky here), taking tokens from the origin's bucket.
    fn admit(&self, q: Query<'_>, entries: Vec<TxnEntry>, live: &[bool]) -> Admission;
}

/// Where a policy finds its bucket.
pub struct Query<'a> {
    pub cfg: &'a InboundCfg,
    pub buckets: &'a mut Buckets,
    pub origin: ServerId,
    pub now: Time,
}

impl Query<'_> {
    fn bucket(&mut self) -> &mut Bucket {
        self.buckets.refill(self.cfg, self.origin, self.now)
    }
}

/// `unlimited`: no limit.
pub struct Unlimited;

/// `reject_429` (MSC4354, seed text): a rate-limited `/send` MUST answer non-2xx so the
/// sender retries; the whole transaction is refused while the bucket lacks tokens for its
/// sticky PDUs (a burst-sized transaction needs a full bucket; a larger one overdraws it).
pub struct Reject429;

/// `accept_drop`: 200, and the sticky PDUs beyond the bucket are silently dropped
/// (forbidden by the seed text; kept to show why).
pub struct AcceptDrop;

/// `defer` (MSC4354, current text): a server MAY persist rate-limited events and deliver
/// them later: 200, the excess is stored and released at the bucket's rate.
pub struct Defer;

impl InboundPolicy for Unlimited {
    fn admit(&self, _: Query<'_>, entries: Vec<TxnEntry>, _: &[bool]) -> Admission {
        Admission::Accept {
            accept: entries,
            dropped: vec![],
            deferred: vec![],
        }
    }
}

impl InboundPolicy for Reject429 {
    fn admit(&self, mut q: Query<'_>, entries: Vec<TxnEntry>, live: &[bool]) -> Admission {
        let sticky_n = live.iter().filter(|l| **l).count();
        let need = sticky_n.min(q.cfg.sticky_rate.burst.max(1) as usize) as f64;
        let bucket = q.bucket();
        if sticky_n > 0 && bucket.tokens + 1e-9 < need {
            return Admission::Reject;
        }
        // A /send larger than the burst overdraws the bucket: the debt is paid back at the
        // rate before the next one passes, so the origin is held to `per_second` on average.
        bucket.tokens -= sticky_n as f64;
        Admission::Accept {
            accept: entries,
            dropped: vec![],
            deferred: vec![],
        }
    }
}

/// `accept_drop` and `defer` take tokens one sticky PDU at a time; they differ in what
/// happens to a PDU that finds the bucket empty.
fn take_one_by_one(
    bucket: &mut Bucket,
    entries: Vec<TxnEntry>,
    live: &[bool],
    drop_excess: bool,
) -> Admission {
    let mut tokens = bucket.tokens;
    let (mut accept, mut dropped, mut deferred) = (vec![], vec![], vec![]);
    for (e, is_live) in entries.into_iter().zip(live) {
        if !is_live {
            accept.push(e);
        } else if tokens >= 1.0 - 1e-9 {
            tokens -= 1.0;
            accept.push(e);
        } else if drop_excess {
            dropped.push(e.pdu);
        } else {
            deferred.push(e);
        }
    }
    bucket.tokens = tokens.max(0.0);
    Admission::Accept {
        accept,
        dropped,
        deferred,
    }
}

impl InboundPolicy for AcceptDrop {
    fn admit(&self, mut q: Query<'_>, entries: Vec<TxnEntry>, live: &[bool]) -> Admission {
        take_one_by_one(q.bucket(), entries, live, true)
    }
}

impl InboundPolicy for Defer {
    fn admit(&self, mut q: Query<'_>, entries: Vec<TxnEntry>, live: &[bool]) -> Admission {
        take_one_by_one(q.bucket(), entries, live, false)
    }
}

/// The rule a setting names.
pub fn policy_for(p: spec::InboundPolicy) -> &'static dyn InboundPolicy {
    match p {
        spec::InboundPolicy::Unlimited => &Unlimited,
        spec::InboundPolicy::Reject429 => &Reject429,
        spec::InboundPolicy::AcceptDrop => &AcceptDrop,
        spec::InboundPolicy::Defer => &Defer,
    }
}

#[cfg(test)]
mod tests;
