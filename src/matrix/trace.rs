//! `--trace`: every message in order, with `/send` and `/sync` bodies in the MSC's JSON
//! shapes (stable names, or the unstable `msc4354_*` names with `--unstable-names`).

use super::event::{ClientId, Content, DurationField, PduId, ServerId};
use super::sync::SyncResponse;
use super::world::World;
use crate::kernel::Time;
use serde_json::{json, Map, Value};

#[derive(Clone, Debug)]
pub struct TraceMsg {
    pub t: Time,
    pub kind: &'static str,
    pub from: String,
    pub to: String,
    pub body: Value,
}

impl World {
    fn names(&self) -> (&'static str, &'static str, &'static str) {
        if self.unstable_names {
            (
                "msc4354_sticky",
                "msc4354_sticky_key",
                "msc4354_sticky_duration_ttl_ms",
            )
        } else {
            ("sticky", "sticky_key", "sticky_duration_remaining_ms")
        }
    }

    /// A PDU in the federation shape.
    pub fn pdu_json(&self, pdu: PduId) -> Value {
        let (sticky_name, key_name, _) = self.names();
        let p = &self.pdus[pdu as usize];
        let room = &self.rooms[p.room as usize].room_id;
        let mut o = Map::new();
        o.insert("event_id".into(), json!(p.event_id));
        o.insert("room_id".into(), json!(room));
        o.insert("sender".into(), json!(self.user_id(p.sender)));
        o.insert("origin_server_ts".into(), json!(p.origin_server_ts));
        match &p.content {
            Content::Sticky {
                ev_type,
                key,
                duration,
                leave,
            } => {
                o.insert("type".into(), json!(self.types[*ev_type as usize]));
                let mut c = Map::new();
                c.insert(key_name.into(), json!(key));
                if !leave {
                    c.insert("member".into(), json!({ "id": key }));
                }
                o.insert("content".into(), Value::Object(c));
                let d = match duration {
                    DurationField::Ms(d) => json!(d),
                    DurationField::Invalid => json!("invalid"),
                };
                o.insert(sticky_name.into(), json!({ "duration_ms": d }));
            }
            Content::Message => {
                o.insert("type".into(), json!("m.room.message"));
                o.insert(
                    "content".into(),
                    json!({ "msgtype": "m.text", "body": "hello" }),
                );
            }
            Content::Member { user, join } => {
                o.insert("type".into(), json!("m.room.member"));
                o.insert("state_key".into(), json!(self.user_id(*user)));
                o.insert(
                    "content".into(),
                    json!({ "membership": if *join { "join" } else { "leave" } }),
                );
            }
            Content::PowerLevels { user, level } => {
                o.insert("type".into(), json!("m.room.power_levels"));
                o.insert("state_key".into(), json!(""));
                o.insert(
                    "content".into(),
                    json!({ "users": { self.user_id(*user): level } }),
                );
            }
        }
        let prev: Vec<&str> = p
            .prev_events
            .iter()
            .map(|e| self.pdus[*e as usize].event_id.as_str())
            .collect();
        o.insert("prev_events".into(), json!(prev));
        Value::Object(o)
    }

    pub(crate) fn trace_send(&mut self, origin: ServerId, dest: ServerId, txn: u64, now: Time) {
        if self.trace.is_none() {
            return;
        }
        let Some(t) = self.servers[origin as usize]
            .dests
            .get(&dest)
            .and_then(|d| d.in_flight.as_ref())
        else {
            return;
        };
        let pdus: Vec<Value> = t.entries.iter().map(|e| self.pdu_json(e.pdu)).collect();
        let body = json!({
            "txn_id": txn.to_string(),
            "attempt": t.attempt,
            "origin": self.servers[origin as usize].name,
            "origin_server_ts": self.servers[origin as usize].clock.local_ms(now),
            "pdus": pdus,
        });
        let msg = TraceMsg {
            t: now,
            kind: "send",
            from: self.servers[origin as usize].name.clone(),
            to: self.servers[dest as usize].name.clone(),
            body,
        };
        if let Some(tr) = self.trace.as_mut() {
            tr.push(msg);
        }
    }

    pub(crate) fn trace_sync(
        &mut self,
        server: ServerId,
        client: ClientId,
        resp: &SyncResponse,
        now: Time,
    ) {
        if self.trace.is_none() {
            return;
        }
        let (sticky_name, _, ttl_name) = self.names();
        let mut join = Map::new();
        for part in &resp.rooms {
            let with_ttl = |w: &World, p: PduId, rem: Option<i64>| {
                let mut v = w.pdu_json(p);
                if let Some(obj) = v.as_object_mut() {
                    obj.remove("prev_events");
                    if let Some(r) = rem {
                        obj.insert("unsigned".into(), json!({ ttl_name: r }));
                    }
                }
                v
            };
            let timeline: Vec<Value> = part
                .timeline
                .iter()
                .map(|p| {
                    with_ttl(
                        self,
                        *p,
                        part.timeline_remaining
                            .iter()
                            .find(|(q, _)| q == p)
                            .map(|(_, r)| *r),
                    )
                })
                .collect();
            let sticky: Vec<Value> = part
                .sticky
                .iter()
                .map(|(p, r)| with_ttl(self, *p, Some(*r)))
                .collect();
            let mut room = Map::new();
            room.insert(
                "timeline".into(),
                json!({ "events": timeline, "limited": part.limited }),
            );
            if !sticky.is_empty() {
                room.insert(sticky_name.into(), json!({ "events": sticky }));
            }
            join.insert(
                self.rooms[part.room as usize].room_id.clone(),
                Value::Object(room),
            );
        }
        let body = json!({
            "next_batch": format!("s{}_{}", resp.next_batch.0, resp.next_batch.1),
            "rooms": { "join": join },
        });
        let msg = TraceMsg {
            t: now,
            kind: "sync",
            from: self.servers[server as usize].name.clone(),
            to: self.clients[client as usize].name.clone(),
            body,
        };
        if let Some(tr) = self.trace.as_mut() {
            tr.push(msg);
        }
    }
}
