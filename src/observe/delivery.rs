//! Delivery accounting (README "Metrics" `delivery.*`): which (sticky event, client) pairs should be
//! delivered, when each was, by which path, and why the others were lost.

use super::recorder::{EventInfo, Observer};
use super::Path;
use crate::kernel::Time;
use crate::matrix::world::World;
use crate::matrix::{ClientId, PduId, RoomId, ServerId};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fate {
    Delivered {
        server_received: Time,
        client_received: Time,
        path: &'static str,
        attempts: u32,
    },
    Lost {
        cause: &'static str,
        server_received: Option<Time>,
    },
    /// Still sticky when the run ended and not delivered yet: neither delivered nor lost.
    Pending,
}

#[derive(Clone, Debug)]
pub struct DeliveryRow {
    pub pdu: PduId,
    pub client: ClientId,
    pub sent: Time,
    /// The recipient client is on the event's origin server (issue 10: reported apart).
    pub local: bool,
    pub fate: Fate,
}

/// Half-open [from, to) intervals of time.
pub type Intervals = Vec<(Time, Time)>;

/// Whether the (time, state) changes leave `state` true at some time within [a, b).
pub fn intervals(changes: &[(Time, bool)], end: Time) -> Vec<(Time, Time)> {
    let mut out = vec![];
    let mut start: Option<Time> = None;
    for (t, on) in changes {
        match (on, start) {
            (true, None) => start = Some(*t),
            (false, Some(s)) => {
                out.push((s, *t));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, end.max(s + 1)));
    }
    out
}

pub fn overlaps(a: &[(Time, Time)], b: &[(Time, Time)], lo: Time, hi: Time) -> bool {
    for (a0, a1) in a {
        for (b0, b1) in b {
            let s = (*a0).max(*b0).max(lo);
            let e = (*a1).min(*b1).min(hi);
            if s < e || (s == e && s == lo && lo == hi) {
                return true;
            }
        }
    }
    false
}

/// Every pair that should be delivered, with its fate. Sorted by (sent, event ID, client).
pub fn deliveries(obs: &Observer, w: &World, end: Time) -> Vec<DeliveryRow> {
    let mut rows = vec![];
    for_each_delivery(obs, w, end, |r| rows.push(r));
    sort_rows(&mut rows, w);
    rows
}

/// The order of deliveries.csv: (sent, event ID, client).
pub fn sort_rows(rows: &mut [DeliveryRow], w: &World) {
    rows.sort_by(|a, b| {
        (a.sent, &w.sh.pdus[a.pdu].event_id, a.client).cmp(&(
            b.sent,
            &w.sh.pdus[b.pdu].event_id,
            b.client,
        ))
    });
}

/// Every pair that should be delivered, with its fate, handed to `f` one at a time
/// (in event then client order, unsorted) so that summary mode keeps no rows. Full mode:
/// the observer kept every (client, event) first receipt.
pub fn for_each_delivery(obs: &Observer, w: &World, end: Time, mut f: impl FnMut(DeliveryRow)) {
    let received = |c: ClientId, p: PduId, _: &EventInfo| obs.received.contains_key(&(c, p));
    for_each_due(obs, w, end, received, |d| {
        let fate = match d.missed {
            Some(fate) => fate,
            None => {
                let ct = obs.received[&(d.client, d.pdu)];
                let (st, path, attempts) = d.arrival.unwrap_or((ct, Path::Transitive, 0));
                Fate::Delivered {
                    server_received: st.min(ct),
                    client_received: ct,
                    path: path.as_str(),
                    attempts,
                }
            }
        };
        f(DeliveryRow {
            pdu: d.pdu,
            client: d.client,
            sent: d.sent,
            local: d.local,
            fate,
        })
    });
}

/// One pair that should be delivered, as the end-of-run scan finds it.
#[derive(Clone, Debug)]
pub struct Due {
    pub pdu: PduId,
    pub client: ClientId,
    pub sent: Time,
    /// The recipient client is on the event's origin server.
    pub local: bool,
    /// How and when the recipient's server first got the event (its creation, for the origin).
    pub arrival: Option<(Time, Path, u32)>,
    /// Why the client did not get it (lost or pending); `None`: the client received it.
    pub missed: Option<Fate>,
}

/// Every pair that should be delivered, handed to `f` in event then client order;
/// `received(client, event, info)` says whether the client ever received the event.
pub fn for_each_due(
    obs: &Observer,
    w: &World,
    end: Time,
    received: impl Fn(ClientId, PduId, &EventInfo) -> bool,
    mut f: impl FnMut(Due),
) {
    // Members of each room with their membership intervals, by client.
    let mut members: BTreeMap<RoomId, Vec<(ClientId, Intervals)>> = BTreeMap::new();
    let mut pairs: Vec<&(ClientId, RoomId)> = obs.membership.keys().collect();
    pairs.sort_unstable();
    for pair @ (client, room) in pairs {
        members
            .entry(*room)
            .or_default()
            .push((*client, intervals(&obs.membership[pair], end)));
    }
    let online: BTreeMap<ClientId, Vec<(Time, Time)>> = obs
        .online_changes
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(c, v)| (ClientId(c as u32), intervals(v, end)))
        .collect();
    // A crashed MatrixRTC participant's own client: the application is gone, so what it
    // did not receive before the crash is nobody's loss (the earliest crash per client).
    let mut crashed: BTreeMap<ClientId, Time> = Default::default();
    for (key, t, _) in obs.open.crashes.values() {
        let e = crashed.entry(key.sender).or_insert(*t);
        *e = (*e).min(*t);
    }
    for (pdu, info) in obs.events.iter() {
        let p = &w.sh.pdus[pdu];
        if !p.is_sticky_kind() {
            continue;
        }
        let (room, sender, origin) = (p.room, p.sender, p.origin);
        let (lo, hi) = (info.created, info.origin_end.max(info.created));
        for (client, iv) in members.get(&room).map_or(&[][..], |v| v.as_slice()) {
            if *client == sender {
                continue;
            }
            let Some(on) = online.get(client) else {
                continue;
            };
            // README "Metrics": joined and online at some time while the event is sticky.
            if !overlaps(iv, on, lo, hi.max(lo + 1)) {
                continue;
            }
            let server = w.sh.dir.server_of(*client);
            let arrival = if server == origin {
                Some((info.created, Path::Direct, 0))
            } else {
                obs.arrivals.get(&(server, pdu)).copied()
            };
            let missed = if received(*client, pdu, info) {
                None
            } else {
                Some(missed_fate(obs, w, end, pdu, info, server, arrival))
            };
            // Not delivered, and the recipient crashed while the event was sticky: not due.
            if missed.is_some() && crashed.get(client).is_some_and(|tc| *tc <= hi) {
                continue;
            }
            f(Due {
                pdu,
                client: *client,
                sent: info.created,
                local: server == origin,
                arrival,
                missed,
            });
        }
    }
}

/// Why a due pair's client never received the event: lost (and the cause) or pending.
fn missed_fate(
    obs: &Observer,
    w: &World,
    end: Time,
    pdu: PduId,
    info: &EventInfo,
    server: ServerId,
    arrival: Option<(Time, Path, u32)>,
) -> Fate {
    let origin = w.sh.pdus[pdu].origin;
    let lost = |cause| Fate::Lost {
        cause,
        server_received: None,
    };
    match arrival {
        // Decided already: a receiver dropped it, or it was never queued for it.
        None if obs.dropped.contains(&(server, pdu)) => lost("dropped"),
        None if obs.never_sent.contains(&(server, pdu)) => lost("never_sent"),
        // Soft-failed where nothing will re-evaluate it.
        None if obs.soft_failed.contains(&(server, pdu))
            && !w.servers[server].cfg.inbound.reevaluate_soft_failed =>
        {
            lost("soft_failed")
        }
        // Still sticky at the end of the run and still on its way: not lost (yet).
        _ if info.origin_end > end => Fate::Pending,
        Some((st, _, _)) => Fate::Lost {
            cause: "not_synced",
            server_received: Some(st),
        },
        None => lost(
            if let Some(reachable) = obs.queue_expired.get(&(server, pdu)) {
                if *reachable {
                    "expired_in_queue"
                } else {
                    "unreachable"
                }
            } else if obs.soft_failed.contains(&(server, pdu)) {
                "soft_failed"
            } else if !obs.reachable_at(w, origin, server, info.origin_end)
                || obs.was_down(origin, info.origin_end)
            {
                "unreachable"
            } else {
                "expired_in_queue"
            },
        ),
    }
}

/// The loss causes reported under `delivery.lost_by_cause.*` (the four of README "Metrics", then ours).
pub const CAUSES: [&str; 6] = [
    "unreachable",
    "dropped",
    "expired_in_queue",
    "never_sent",
    "soft_failed",
    "not_synced",
];
