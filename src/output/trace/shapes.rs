//! The JSON shapes of the trace: MSC4354's names (stable or unstable), an event's
//! `content`, a PDU as federation carries it, an event as `/sync` gives it to clients,
//! and the `status` and `lost` keys of a line.

use super::Render;
use crate::matrix::event::{Content, DurationField};
use crate::matrix::msg::Outcome;
use crate::matrix::PduId;
use serde_json::{json, Map, Value};

/// The names MSC4354 uses, stable or unstable ("Unstable prefix").
pub(super) struct Names {
    pub(super) sticky: &'static str,
    pub(super) sticky_key: &'static str,
    pub(super) remaining: &'static str,
    pub(super) query: &'static str,
    pub(super) delay_query: &'static str,
    pub(super) delayed_base: &'static str,
}

pub(super) const STABLE: Names = Names {
    sticky: "sticky",
    sticky_key: "sticky_key",
    remaining: "sticky_duration_remaining_ms",
    query: "sticky_duration_ms",
    delay_query: "delay",
    delayed_base: "/_matrix/client/v1/delayed_events",
};

pub(super) const UNSTABLE: Names = Names {
    sticky: "msc4354_sticky",
    sticky_key: "msc4354_sticky_key",
    remaining: "msc4354_sticky_duration_ttl_ms",
    query: "org.matrix.msc4354.sticky_duration_ms",
    delay_query: "org.matrix.msc4140.delay",
    delayed_base: "/_matrix/client/unstable/org.matrix.msc4140/delayed_events",
};

pub(super) fn status_of(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Ok => json!(200),
        Outcome::RateLimited => json!(429),
        Outcome::ServerError => json!(503),
        Outcome::Timeout | Outcome::Refused => Value::Null,
    }
}

pub(super) fn with_lost(
    mut meta: Vec<(&'static str, Value)>,
    lost: bool,
) -> Vec<(&'static str, Value)> {
    if lost {
        meta.push(("lost", json!(true)));
    }
    meta
}

impl Render<'_> {
    /// The event's `content` as its sender wrote it.
    pub(super) fn content_json(&self, content: &Content) -> Value {
        match content {
            Content::Sticky { key, leave, .. } => {
                let mut c = Map::new();
                c.insert(self.n.sticky_key.into(), json!(&**key));
                if !leave {
                    c.insert("member".into(), json!({ "id": &**key }));
                }
                Value::Object(c)
            }
            Content::Message => json!({ "msgtype": "m.text", "body": "hello" }),
            Content::Member { join, .. } => {
                json!({ "membership": if *join { "join" } else { "leave" } })
            }
            Content::PowerLevels { user, level } => {
                json!({ "users": { self.user_id(*user): level } })
            }
        }
    }

    fn type_of(&self, content: &Content) -> &str {
        match content {
            Content::Sticky { ev_type, .. } => self.w.sh.dir.type_name(*ev_type),
            Content::Message => "m.room.message",
            Content::Member { .. } => "m.room.member",
            Content::PowerLevels { .. } => "m.room.power_levels",
        }
    }

    /// A PDU in the federation shape: the top-level `sticky: {duration_ms}` object and
    /// `content.sticky_key` for sticky events (`event_id` kept for readability: room
    /// versions 3+ derive it from the event's hash).
    pub(super) fn pdu_json(&self, pdu: PduId) -> Value {
        let p = &self.w.sh.pdus[pdu];
        let mut o = Map::new();
        o.insert("event_id".into(), json!(&*p.event_id));
        o.insert("room_id".into(), json!(self.room_id(p.room)));
        o.insert("sender".into(), json!(self.user_id(p.sender)));
        o.insert("origin_server_ts".into(), json!(p.origin_server_ts));
        o.insert("type".into(), json!(self.type_of(&p.content)));
        match &p.content {
            Content::Member { user, .. } => {
                o.insert("state_key".into(), json!(self.user_id(*user)));
            }
            Content::PowerLevels { .. } => {
                o.insert("state_key".into(), json!(""));
            }
            _ => {}
        }
        o.insert("content".into(), self.content_json(&p.content));
        if let Content::Sticky { duration, .. } = &p.content {
            let d = match duration {
                DurationField::Ms(d) => json!(d),
                DurationField::Invalid => json!("invalid"),
            };
            o.insert(self.n.sticky.into(), json!({ "duration_ms": d }));
        }
        let prev: Vec<&str> = p
            .prev_events
            .iter()
            .map(|e| self.w.sh.pdus[*e].event_id.as_ref())
            .collect();
        o.insert("prev_events".into(), json!(prev));
        Value::Object(o)
    }

    /// An event as `/sync` gives it to clients (no `room_id`, no `prev_events`), with
    /// `unsigned.sticky_duration_remaining_ms` while it is sticky.
    pub(super) fn client_event_json(&self, pdu: PduId, remaining: Option<i64>) -> Value {
        let Value::Object(pdu) = self.pdu_json(pdu) else {
            return Value::Null;
        };
        let mut o: Map<String, Value> = pdu
            .into_iter()
            .filter(|(k, _)| k != "prev_events" && k != "room_id")
            .collect();
        if let Some(r) = remaining {
            o.insert("unsigned".into(), json!({ self.n.remaining: r }));
        }
        Value::Object(o)
    }
}
