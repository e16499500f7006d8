//! The client's ephemeral map as sync responses fill it (MSC4354 "Implementing an
//! ephemeral map"): one test per tie-break rule, tombstones, expiry, arrival order, access
//! control. One server hs1; hs1/0 and hs1/1 read, hs1/2 writes (power level 0; hs1/0 is
//! the room's creator with 100). Each response is built by hand: the client applies it at
//! the kit's `now`, and expires an entry at its receipt time + sticky_duration_remaining_ms.

use crate::kernel::Time;
use crate::matrix::client::map::MapKey;
use crate::matrix::event::Content;
use crate::matrix::ids::{ClientId, PduId};
use crate::matrix::msg::{ClientEv, PowerMap};
use crate::matrix::probe::Probe;
use crate::matrix::server::sync::{RoomPart, SyncResponse};
use crate::matrix::spec::AccessControl;
use crate::matrix::testkit::*;
use crate::matrix::Top;

fn kit(expire_entries: bool) -> Kit {
    let mut c = cfg0();
    c.clients_per_server = 3;
    c.client.expire_entries = expire_entries;
    Builder::same(1, c).room("r", &["hs1"]).build()
}

/// A sticky event by hs1/2 on key "k" with the given order fields and event ID.
fn ev(k: &mut Kit, ots: i64, duration_ms: i64, id: &str) -> PduId {
    let (w, r) = (k.client("hs1/2"), k.room("r"));
    k.add_pdu(w, r, sticky("k", duration_ms), ots, id)
}

fn leave(k: &mut Kit, ots: i64, duration_ms: i64, id: &str) -> PduId {
    let (w, r) = (k.client("hs1/2"), k.room("r"));
    k.add_pdu(w, r, sticky_leave("k", duration_ms), ots, id)
}

fn key(k: &Kit) -> MapKey {
    MapKey {
        room: k.room("r"),
        sender: k.client("hs1/2"),
        ev_type: RTC,
        sticky_key: "k".into(),
    }
}

/// A 23-character event ID: `$`, then `first`, then `fill` repeated.
fn id(first: char, fill: char) -> String {
    let mut s = String::from("$");
    s.push(first);
    s.extend(std::iter::repeat_n(fill, 21));
    s
}

/// `client` gets a response now with `items` (pdu, remaining ms) in its sticky section
/// and the room's power levels `power`; what it scheduled (labels) comes back.
fn give_with_power(
    k: &mut Kit,
    client: ClientId,
    items: &[(PduId, i64)],
    power: PowerMap,
) -> Vec<(Time, String)> {
    let part = RoomPart {
        room: k.room("r"),
        sticky: items.to_vec(),
        power,
        ..Default::default()
    };
    let resp = SyncResponse {
        rooms: vec![part],
        ..Default::default()
    };
    let req = k.world.clients[client].sync_req;
    k.to_client(
        client,
        ClientEv::SyncResponse {
            req,
            resp: Box::new(resp),
        },
    );
    k.labels()
}

fn give(k: &mut Kit, client: ClientId, items: &[(PduId, i64)]) -> Vec<(Time, String)> {
    let power = k.world.clients[client].pl_view[&k.room("r")].clone();
    give_with_power(k, client, items, power)
}

fn top(k: &Kit, client: ClientId, t: Time) -> Option<Top> {
    k.world.clients[client].map.top(&key(k), t)
}

fn active(pdu: PduId) -> Option<Top> {
    Some(Top { pdu, active: true })
}

/// The (before, after) of every key change in the Synced probes.
fn changes(probes: &[Probe]) -> Vec<(Option<Top>, Option<Top>)> {
    probes
        .iter()
        .filter_map(|p| match p {
            Probe::Synced(s) => Some(s.changes.iter().map(|c| (c.1.clone(), c.2.clone()))),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn the_higher_origin_server_ts_plus_duration_wins_not_the_later_event() {
    // A: 1 000 + 60 000 = 61 000. B, sent later with a higher ID: 2 000 + 30 000 = 32 000.
    // B arrives first and shows; A then takes the key (61 000 > 32 000).
    let mut k = kit(true);
    let c = k.client("hs1/0");
    let a = ev(&mut k, 1_000, 60_000, &id('A', 'A'));
    let b = ev(&mut k, 2_000, 30_000, &id('z', 'z'));
    k.at(3 * SEC);
    give(&mut k, c, &[(b, 30_000)]);
    assert_eq!(top(&k, c, 3 * SEC), active(b));
    give(&mut k, c, &[(a, 60_000)]);
    assert_eq!(top(&k, c, 3 * SEC), active(a));
    assert_eq!(
        changes(&k.probes()),
        vec![(None, active(b)), (active(b), active(a))]
    );
}

#[test]
fn an_unclamped_two_hour_duration_beats_a_later_thirty_minutes_while_both_live() {
    // A: ots 0, 2 h: order 7 200 000 (clamped to 1 h for expiry: the server says 3 000 000
    // ms left at 600 s). B: ots 600 000, 30 min: order 2 400 000, 1 800 000 ms left. Both
    // arrive at 600 s: A shows. B expires at 2 400 s, A at 600 + 3 000 = 3 600 s: A shows
    // until then, then nothing. B can never win, so the only expiry timer is A's, at 3 600 s.
    let mut k = kit(true);
    let c = k.client("hs1/0");
    let a = ev(&mut k, 0, 2 * HOUR_MS, &id('a', 'a'));
    let b = ev(&mut k, 600_000, 1_800_000, &id('b', 'b'));
    k.at(600 * SEC);
    let l = give(&mut k, c, &[(a, 3_000_000), (b, 1_800_000)]);
    assert!(l.contains(&(3600 * SEC, "hs1/0: MapExpiry k".to_string())));
    assert!(!l.iter().any(|x| x.0 == 2400 * SEC));
    assert_eq!(top(&k, c, 600 * SEC), active(a));
    assert_eq!(top(&k, c, 3600 * SEC - 1), active(a));
    assert_eq!(top(&k, c, 3600 * SEC), None);
}

#[test]
fn equal_order_is_broken_by_the_higher_event_id_in_either_arrival_order() {
    // Both 1 000 + 60 000 = 61 000. IDs compare as bytes: "$a..." (0x61) > "$B..." (0x42),
    // though B's tail is "ZZZ...": A wins at both readers, whichever came first.
    let mut k = kit(true);
    let (c0, c1) = (k.client("hs1/0"), k.client("hs1/1"));
    let a = ev(&mut k, 1_000, 60_000, &id('a', 'A'));
    let b = ev(&mut k, 1_000, 60_000, &id('B', 'Z'));
    k.at(2 * SEC);
    give(&mut k, c0, &[(b, 60_000)]);
    give(&mut k, c0, &[(a, 60_000)]);
    give(&mut k, c1, &[(a, 60_000)]);
    give(&mut k, c1, &[(b, 60_000)]);
    assert_eq!(top(&k, c0, 2 * SEC), active(a));
    assert_eq!(top(&k, c1, 2 * SEC), active(a));
}

#[test]
fn a_leave_is_a_tombstone_the_key_stays_but_inactive() {
    // Join J (1 000 + 1 h), then leave L (5 000 + 1 h, content only the key): L wins, the
    // key is present but inactive, and the room's view (active keys) is empty.
    let mut k = kit(true);
    let (c, r) = (k.client("hs1/0"), k.room("r"));
    let j = ev(&mut k, 1_000, HOUR_MS, &id('j', 'j'));
    let l = leave(&mut k, 5_000, HOUR_MS, &id('l', 'l'));
    assert!(matches!(
        k.world.sh.pdus[l].content,
        Content::Sticky { leave: true, .. }
    ));
    k.at(SEC);
    give(&mut k, c, &[(j, HOUR_MS - 1_000)]);
    assert_eq!(k.world.clients[c].map.view(r, SEC).len(), 1);
    k.at(5 * SEC);
    give(&mut k, c, &[(l, HOUR_MS - 1_000)]);
    assert_eq!(
        top(&k, c, 5 * SEC),
        Some(Top {
            pdu: l,
            active: false
        })
    );
    let map = &k.world.clients[c].map;
    assert!(map.view(r, 5 * SEC).is_empty());
    assert_eq!(map.keys_in_room(r).count(), 1);
    assert_eq!(
        changes(&k.probes()).last(),
        Some(&(
            active(j),
            Some(Top {
                pdu: l,
                active: false
            })
        ))
    );
}

#[test]
fn with_expire_entries_an_entry_disappears_at_receipt_plus_remaining() {
    // At 1 s: A (10 000 + 5 000 = 15 000, 5 000 ms left: expires at 6 s) and B (1 000 +
    // 10 000 = 11 000, 20 000 ms left: expires at 21 s). A shows; the map's timer fires at
    // 6 s and B shows; at 21 s B goes too and the key shows nothing.
    let mut k = kit(true);
    let c = k.client("hs1/0");
    let a = ev(&mut k, 10_000, 5_000, &id('a', 'a'));
    let b = ev(&mut k, 1_000, 10_000, &id('b', 'b'));
    k.at(SEC);
    let l = give(&mut k, c, &[(a, 5_000), (b, 20_000)]);
    assert_eq!(
        l,
        lbl(&[
            (SEC + 10 * MS, "hs1: SyncRequest hs1/0"),
            (6 * SEC, "hs1/0: MapExpiry k"),
        ])
    );
    assert_eq!(top(&k, c, SEC), active(a));
    k.probes();
    let kk = Box::new(key(&k));
    k.at(6 * SEC);
    k.to_client(c, ClientEv::MapExpiry { key: kk.clone() });
    assert_eq!(k.labels(), lbl(&[(21 * SEC, "hs1/0: MapExpiry k")]));
    k.at(21 * SEC);
    k.to_client(c, ClientEv::MapExpiry { key: kk });
    let tops: Vec<(Time, Option<Top>)> = k
        .probes()
        .into_iter()
        .filter_map(|p| match p {
            Probe::MapTop { t, top, .. } => Some((t, top)),
            _ => None,
        })
        .collect();
    assert_eq!(tops, vec![(6 * SEC, active(b)), (21 * SEC, None)]);
}

#[test]
fn without_expire_entries_the_winner_stays_forever() {
    // expire_entries = false, the same two events: no expiry timer; A still shows at 100 s,
    // long after both expired (the MSC's divergence when one side never expires entries).
    let mut k = kit(false);
    let c = k.client("hs1/0");
    let a = ev(&mut k, 10_000, 5_000, &id('a', 'a'));
    let b = ev(&mut k, 1_000, 10_000, &id('b', 'b'));
    k.at(SEC);
    let l = give(&mut k, c, &[(a, 5_000), (b, 20_000)]);
    assert_eq!(l, lbl(&[(SEC + 10 * MS, "hs1: SyncRequest hs1/0")]));
    assert_eq!(top(&k, c, 100 * SEC), active(a));
}

#[test]
fn arrival_order_never_matters() {
    // X 50 000, Y 70 000, Z 60 000 (ots 0, durations 50 s, 70 s, 60 s; all live): hs1/0 gets
    // X, Y, Z one per response, hs1/1 gets Z, Y, X. Both show Y; the views are equal.
    let mut k = kit(true);
    let (c0, c1, r) = (k.client("hs1/0"), k.client("hs1/1"), k.room("r"));
    let x = ev(&mut k, 0, 50_000, &id('x', 'x'));
    let y = ev(&mut k, 0, 70_000, &id('y', 'y'));
    let z = ev(&mut k, 0, 60_000, &id('z', 'z'));
    k.at(SEC);
    for p in [x, y, z] {
        give(&mut k, c0, &[(p, 40_000)]);
    }
    for p in [z, y, x] {
        give(&mut k, c1, &[(p, 40_000)]);
    }
    assert_eq!(top(&k, c0, SEC), active(y));
    assert_eq!(top(&k, c1, SEC), active(y));
    let v0: Vec<PduId> = k.world.clients[c0]
        .map
        .view(r, SEC)
        .iter()
        .map(|v| v.1)
        .collect();
    let v1: Vec<PduId> = k.world.clients[c1]
        .map
        .view(r, SEC)
        .iter()
        .map(|v| v.1)
        .collect();
    assert_eq!(v0, vec![y]);
    assert_eq!(v0, v1);
}

#[test]
fn authorized_only_discards_a_write_its_power_levels_do_not_allow() {
    // The room needs level 50 to send the type. hs1/2 has 0 in the response's power
    // levels: hs1/0 (authorized_only) discards its write, hs1/1 (accept_all) takes it.
    // A later response raises hs1/2 to 50: its next write (order higher) enters at hs1/0.
    let mut c = cfg0();
    c.clients_per_server = 3;
    let mut k = Builder::same(1, c)
        .room_with_rtc_level("r", &["hs1"], 50)
        .build();
    let (c0, c1, w) = (k.client("hs1/0"), k.client("hs1/1"), k.client("hs1/2"));
    k.world.clients[c0].access = AccessControl::AuthorizedOnly;
    let a = ev(&mut k, 1_000, HOUR_MS, &id('a', 'a'));
    let a2 = ev(&mut k, 2_000, HOUR_MS, &id('b', 'b'));
    let mut power: PowerMap = std::sync::Arc::new([(c0, 100)].into_iter().collect());
    k.at(2 * SEC);
    give_with_power(&mut k, c0, &[(a, HOUR_MS)], power.clone());
    give_with_power(&mut k, c1, &[(a, HOUR_MS)], power.clone());
    assert_eq!(top(&k, c0, 2 * SEC), None);
    assert_eq!(top(&k, c1, 2 * SEC), active(a));
    std::sync::Arc::make_mut(&mut power).insert(w, 50);
    give_with_power(&mut k, c0, &[(a2, HOUR_MS)], power);
    assert_eq!(top(&k, c0, 2 * SEC), active(a2));
}
