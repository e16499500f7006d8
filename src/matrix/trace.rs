//! `--trace`: every message in order, with the federation `/send` bodies, the `/sync`
//! responses and the client requests in the MSC's JSON shapes (stable names, or the
//! unstable names of MSC4354's "Unstable prefix" section with `--unstable-names`).
//!
//! The model calls the `trace_*` hooks where it puts a message on the wire; each returns
//! at once when tracing is off. A message is stamped with the simulated time it leaves
//! its sender (a response delayed by processing is stamped when it leaves), so the list
//! is sorted by time (stably: ties keep the model's order) before it is written.
//! Crashes, partitions, clients going offline and sticky events expiring are added as
//! notes by [`finish_trace`].

use super::event::{ClientId, Content, DurationField, PduId, RoomId, ServerId};
use super::sync::SyncResponse;
use super::world::{ClientReq, World};
use crate::kernel::Time;
use crate::observe::recorder::Observer;
use crate::observe::Outcome;
use crate::scenario::{FaultCfg, Scenario};
use serde_json::{json, Map, Value};

/// One line of `trace.jsonl`.
#[derive(Clone, Debug)]
pub struct TraceMsg {
    pub t: Time,
    pub kind: &'static str,
    pub from: String,
    pub to: String,
    /// Keys of the line between `to` and `body`: `http` (method and path), `attempt`,
    /// `status` (null when no HTTP answer came), `outcome`, `lost` (the network lost it).
    pub meta: Vec<(&'static str, Value)>,
    /// The message's JSON body as it would be on the wire (null when it has none).
    pub body: Value,
}

impl TraceMsg {
    /// The line as JSON: `{"t_ms", "kind", "from", "to", [meta…], "body"}`.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("t_ms".into(), t_ms(self.t));
        o.insert("kind".into(), json!(self.kind));
        o.insert("from".into(), json!(self.from));
        o.insert("to".into(), json!(self.to));
        for (k, v) in &self.meta {
            o.insert((*k).into(), v.clone());
        }
        o.insert("body".into(), self.body.clone());
        Value::Object(o)
    }

    /// A meta value by key.
    pub fn meta(&self, key: &str) -> Option<&Value> {
        self.meta.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

/// Milliseconds of simulated time: an integer when whole, else three decimals.
fn t_ms(t: Time) -> Value {
    if t % 1000 == 0 {
        json!(t / 1000)
    } else {
        json!((t as f64) / 1000.0)
    }
}

/// The names MSC4354 uses, stable or unstable ("Unstable prefix").
struct Names {
    sticky: &'static str,
    sticky_key: &'static str,
    remaining: &'static str,
    query: &'static str,
    delay_query: &'static str,
    delayed_base: &'static str,
}

const STABLE: Names = Names {
    sticky: "sticky",
    sticky_key: "sticky_key",
    remaining: "sticky_duration_remaining_ms",
    query: "sticky_duration_ms",
    delay_query: "delay",
    delayed_base: "/_matrix/client/v1/delayed_events",
};

const UNSTABLE: Names = Names {
    sticky: "msc4354_sticky",
    sticky_key: "msc4354_sticky_key",
    remaining: "msc4354_sticky_duration_ttl_ms",
    query: "org.matrix.msc4354.sticky_duration_ms",
    delay_query: "org.matrix.msc4140.delay",
    delayed_base: "/_matrix/client/unstable/org.matrix.msc4140/delayed_events",
};

fn status_of(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Ok => json!(200),
        Outcome::RateLimited => json!(429),
        Outcome::ServerError => json!(503),
        Outcome::Timeout | Outcome::Refused => Value::Null,
    }
}

impl World {
    fn names(&self) -> &'static Names {
        if self.unstable_names {
            &UNSTABLE
        } else {
            &STABLE
        }
    }

    fn push_trace(&mut self, msg: TraceMsg) {
        if let Some(tr) = self.trace.as_mut() {
            tr.push(msg);
        }
    }

    fn sname(&self, s: ServerId) -> String {
        self.servers[s as usize].name.clone()
    }

    fn cname(&self, c: ClientId) -> String {
        self.clients[c as usize].name.clone()
    }

    /// The event's `content` as its sender wrote it.
    fn content_json(&self, content: &Content) -> Value {
        let n = self.names();
        match content {
            Content::Sticky { key, leave, .. } => {
                let mut c = Map::new();
                c.insert(n.sticky_key.into(), json!(key));
                if !leave {
                    c.insert("member".into(), json!({ "id": key }));
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
            Content::Sticky { ev_type, .. } => self
                .types
                .get(*ev_type as usize)
                .map_or("m.rtc.member", |s| s.as_str()),
            Content::Message => "m.room.message",
            Content::Member { .. } => "m.room.member",
            Content::PowerLevels { .. } => "m.room.power_levels",
        }
    }

    /// A PDU in the federation shape: the top-level `sticky: {duration_ms}` object and
    /// `content.sticky_key` for sticky events (`event_id` kept for readability: room
    /// versions 3+ derive it from the event's hash).
    pub fn pdu_json(&self, pdu: PduId) -> Value {
        let n = self.names();
        let p = &self.pdus[pdu as usize];
        let room = &self.rooms[p.room as usize].room_id;
        let mut o = Map::new();
        o.insert("event_id".into(), json!(p.event_id));
        o.insert("room_id".into(), json!(room));
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
            o.insert(n.sticky.into(), json!({ "duration_ms": d }));
        }
        let prev: Vec<&str> = p
            .prev_events
            .iter()
            .map(|e| self.pdus[*e as usize].event_id.as_str())
            .collect();
        o.insert("prev_events".into(), json!(prev));
        Value::Object(o)
    }

    /// An event as `/sync` gives it to clients (no `room_id`, no `prev_events`), with
    /// `unsigned.sticky_duration_remaining_ms` while it is sticky.
    fn client_event_json(&self, pdu: PduId, remaining: Option<i64>) -> Value {
        let Value::Object(pdu) = self.pdu_json(pdu) else {
            return Value::Null;
        };
        let mut o: Map<String, Value> = pdu
            .into_iter()
            .filter(|(k, _)| k != "prev_events" && k != "room_id")
            .collect();
        if let Some(r) = remaining {
            o.insert("unsigned".into(), json!({ self.names().remaining: r }));
        }
        Value::Object(o)
    }

    // ---- federation /send ----

    /// A `/send` attempt leaves `origin` (the in-flight transaction's PDUs).
    pub(crate) fn trace_send(&mut self, origin: ServerId, dest: ServerId, now: Time, lost: bool) {
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
        let (id, attempt) = (t.id, t.attempt);
        let pdus: Vec<Value> = t.entries.iter().map(|e| self.pdu_json(e.pdu)).collect();
        let body = json!({
            "origin": self.servers[origin as usize].name,
            "origin_server_ts": self.servers[origin as usize].clock.local_ms(now),
            "pdus": pdus,
            "edus": [],
        });
        let mut meta = vec![
            (
                "http",
                json!(format!("PUT /_matrix/federation/v1/send/{id}")),
            ),
            ("attempt", json!(attempt)),
        ];
        if lost {
            meta.push(("lost", json!(true)));
        }
        let msg = TraceMsg {
            t: now,
            kind: "send",
            from: self.sname(origin),
            to: self.sname(dest),
            meta,
            body,
        };
        self.push_trace(msg);
    }

    /// The answer to a `/send` attempt, leaving `dest` at `t` (refused: the connection
    /// attempt reaching a down server).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn trace_send_response(
        &mut self,
        origin: ServerId,
        dest: ServerId,
        txn: u64,
        attempt: u32,
        outcome: Outcome,
        retry_after: Option<Time>,
        t: Time,
        lost: bool,
    ) {
        if self.trace.is_none() {
            return;
        }
        let body = match outcome {
            Outcome::Ok => {
                let mut pdus = Map::new();
                if let Some(tx) = self.live_txn(origin, dest, txn, attempt) {
                    for e in &tx.entries {
                        pdus.insert(self.pdus[e.pdu as usize].event_id.clone(), json!({}));
                    }
                }
                json!({ "pdus": pdus })
            }
            Outcome::RateLimited => json!({
                "errcode": "M_LIMIT_EXCEEDED",
                "error": "Too many sticky events",
                "retry_after_ms": retry_after.unwrap_or(0) / 1000,
            }),
            Outcome::ServerError => json!({
                "errcode": "M_UNKNOWN",
                "error": "Server overloaded",
            }),
            Outcome::Timeout | Outcome::Refused => Value::Null,
        };
        let mut meta = vec![
            (
                "http",
                json!(format!("PUT /_matrix/federation/v1/send/{txn}")),
            ),
            ("attempt", json!(attempt)),
            ("status", status_of(outcome)),
            ("outcome", json!(outcome.as_str())),
        ];
        if lost {
            meta.push(("lost", json!(true)));
        }
        let msg = TraceMsg {
            t,
            kind: "send_response",
            from: self.sname(dest),
            to: self.sname(origin),
            meta,
            body,
        };
        self.push_trace(msg);
    }

    /// No answer within `request_timeout`: the origin gives the attempt up.
    pub(crate) fn trace_send_timeout(
        &mut self,
        origin: ServerId,
        dest: ServerId,
        txn: u64,
        attempt: u32,
        now: Time,
    ) {
        self.trace_send_response(
            origin,
            dest,
            txn,
            attempt,
            Outcome::Timeout,
            None,
            now,
            false,
        );
    }

    /// The destination is down: the connection is refused when the attempt reaches it.
    pub(crate) fn trace_send_refused(
        &mut self,
        origin: ServerId,
        dest: ServerId,
        txn: u64,
        attempt: u32,
        t: Time,
    ) {
        self.trace_send_response(origin, dest, txn, attempt, Outcome::Refused, None, t, false);
    }

    // ---- get_missing_events and send_join ----

    /// `asker` asks `to` for the prev_events it misses (walked back from those IDs).
    pub(crate) fn trace_missing_request(
        &mut self,
        asker: ServerId,
        to: ServerId,
        room: RoomId,
        ids: &[PduId],
        now: Time,
        lost: bool,
    ) {
        if self.trace.is_none() {
            return;
        }
        let room_id = &self.rooms[room as usize].room_id;
        let earliest: Vec<&str> = self.servers[asker as usize]
            .rooms
            .get(&room)
            .map(|v| {
                v.extremities
                    .iter()
                    .map(|e| self.pdus[*e as usize].event_id.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let latest: Vec<&str> = ids
            .iter()
            .map(|e| self.pdus[*e as usize].event_id.as_str())
            .collect();
        let body = json!({
            "earliest_events": earliest,
            "latest_events": latest,
            "limit": self.servers[asker as usize].cfg.federation.missing_events_limit,
            "min_depth": 0,
        });
        let mut meta = vec![(
            "http",
            json!(format!(
                "POST /_matrix/federation/v1/get_missing_events/{room_id}"
            )),
        )];
        if lost {
            meta.push(("lost", json!(true)));
        }
        let msg = TraceMsg {
            t: now,
            kind: "get_missing_events",
            from: self.sname(asker),
            to: self.sname(to),
            meta,
            body,
        };
        self.push_trace(msg);
    }

    pub(crate) fn trace_missing_response(
        &mut self,
        from: ServerId,
        asker: ServerId,
        room: RoomId,
        pdus: &[PduId],
        now: Time,
        lost: bool,
    ) {
        if self.trace.is_none() {
            return;
        }
        let room_id = &self.rooms[room as usize].room_id;
        let events: Vec<Value> = pdus.iter().map(|p| self.pdu_json(*p)).collect();
        let mut meta = vec![
            (
                "http",
                json!(format!(
                    "POST /_matrix/federation/v1/get_missing_events/{room_id}"
                )),
            ),
            ("status", json!(200)),
        ];
        if lost {
            meta.push(("lost", json!(true)));
        }
        let msg = TraceMsg {
            t: now,
            kind: "get_missing_events_response",
            from: self.sname(from),
            to: self.sname(asker),
            meta,
            body: json!({ "events": events }),
        };
        self.push_trace(msg);
    }

    /// A joining server asks a resident to join `client` to the room (make_join and
    /// send_join in one round trip; the resident builds the join event).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn trace_join_request(
        &mut self,
        joiner: ServerId,
        resident: ServerId,
        client: ClientId,
        room: RoomId,
        now: Time,
        lost: bool,
    ) {
        if self.trace.is_none() {
            return;
        }
        let room_id = self.rooms[room as usize].room_id.clone();
        let user = self.user_id(client);
        let body = json!({
            "type": "m.room.member",
            "room_id": room_id,
            "sender": user,
            "state_key": user,
            "origin_server_ts": self.servers[joiner as usize].clock.local_ms(now),
            "content": { "membership": "join" },
        });
        let mut meta = vec![(
            "http",
            json!(format!(
                "PUT /_matrix/federation/v2/send_join/{room_id}/{user}"
            )),
        )];
        if lost {
            meta.push(("lost", json!(true)));
        }
        let msg = TraceMsg {
            t: now,
            kind: "send_join",
            from: self.sname(joiner),
            to: self.sname(resident),
            meta,
            body,
        };
        self.push_trace(msg);
    }

    pub(crate) fn trace_join_response(
        &mut self,
        resident: ServerId,
        joiner: ServerId,
        pdu: PduId,
        now: Time,
        lost: bool,
    ) {
        if self.trace.is_none() {
            return;
        }
        let room = self.pdus[pdu as usize].room;
        let room_id = self.rooms[room as usize].room_id.clone();
        let user = self.user_id(self.pdus[pdu as usize].sender);
        let mut state = vec![];
        if let Some(v) = self.servers[resident as usize].rooms.get(&room) {
            for m in &v.members {
                let u = self.user_id(*m);
                state.push(json!({
                    "type": "m.room.member", "state_key": u, "sender": u,
                    "content": { "membership": "join" },
                }));
            }
            let users: Map<String, Value> = v
                .power
                .iter()
                .map(|(c, l)| (self.user_id(*c), json!(l)))
                .collect();
            state.push(json!({
                "type": "m.room.power_levels", "state_key": "",
                "content": { "users": users, "users_default": self.rooms[room as usize].default_level },
            }));
        }
        let body = json!({
            "origin": self.servers[resident as usize].name,
            "event": self.pdu_json(pdu),
            "state": state,
            "auth_chain": [],
            "members_omitted": false,
        });
        let mut meta = vec![
            (
                "http",
                json!(format!(
                    "PUT /_matrix/federation/v2/send_join/{room_id}/{user}"
                )),
            ),
            ("status", json!(200)),
        ];
        if lost {
            meta.push(("lost", json!(true)));
        }
        let msg = TraceMsg {
            t: now,
            kind: "send_join_response",
            from: self.sname(resident),
            to: self.sname(joiner),
            meta,
            body,
        };
        self.push_trace(msg);
    }

    // ---- /sync ----

    /// A client's `/sync` long-poll leaves the client.
    pub(crate) fn trace_sync_request(&mut self, client: ClientId, now: Time) {
        if self.trace.is_none() {
            return;
        }
        let server = self.server_of[client as usize];
        let timeout = self.servers[server as usize].cfg.sync.poll_timeout.ms();
        let http = match self.clients[client as usize].since {
            Some((a, b)) => format!("GET /_matrix/client/v3/sync?since=s{a}_{b}&timeout={timeout}"),
            None => format!("GET /_matrix/client/v3/sync?timeout={timeout}"),
        };
        let msg = TraceMsg {
            t: now,
            kind: "sync",
            from: self.cname(client),
            to: self.sname(server),
            meta: vec![("http", json!(http))],
            body: Value::Null,
        };
        self.push_trace(msg);
    }

    /// A `/sync` response leaves the server: `rooms.join.<room>.timeline.events` and the
    /// sticky section `rooms.join.<room>.sticky.events`.
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
        let n = self.names();
        let mut join = Map::new();
        for part in &resp.rooms {
            let timeline: Vec<Value> = part
                .timeline
                .iter()
                .map(|p| {
                    let rem = part
                        .timeline_remaining
                        .iter()
                        .find(|(q, _)| q == p)
                        .map(|(_, r)| *r);
                    self.client_event_json(*p, rem)
                })
                .collect();
            let sticky: Vec<Value> = part
                .sticky
                .iter()
                .map(|(p, r)| self.client_event_json(*p, Some(*r)))
                .collect();
            let mut room = Map::new();
            room.insert(
                "timeline".into(),
                json!({ "events": timeline, "limited": part.limited }),
            );
            if !sticky.is_empty() {
                room.insert(n.sticky.into(), json!({ "events": sticky }));
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
            kind: "sync_response",
            from: self.sname(server),
            to: self.cname(client),
            meta: vec![("status", json!(200))],
            body,
        };
        self.push_trace(msg);
    }

    /// A long-poll that fails: its server is down (the connection drops or is refused).
    pub(crate) fn trace_sync_error(&mut self, client: ClientId, t: Time) {
        if self.trace.is_none() {
            return;
        }
        let server = self.server_of[client as usize];
        let msg = TraceMsg {
            t,
            kind: "sync_response",
            from: self.sname(server),
            to: self.cname(client),
            meta: vec![("status", Value::Null), ("outcome", json!("unavailable"))],
            body: Value::Null,
        };
        self.push_trace(msg);
    }

    // ---- client -> server requests ----

    fn client_http(&self, client: ClientId, req: &ClientReq) -> (&'static str, String, Value) {
        let n = self.names();
        let txn = format!("c{}.{}", client, self.trace.as_ref().map_or(0, |t| t.len()));
        let rid = |r: &RoomId| self.rooms[*r as usize].room_id.clone();
        match req {
            ClientReq::Sticky {
                room,
                ev_type,
                key,
                duration,
                leave,
                ..
            } => {
                let ty = self
                    .types
                    .get(*ev_type as usize)
                    .map_or("m.rtc.member", |s| s.as_str());
                let d = match duration {
                    DurationField::Ms(d) => d.to_string(),
                    DurationField::Invalid => "invalid".into(),
                };
                let content = self.content_json(&Content::Sticky {
                    ev_type: *ev_type,
                    key: key.clone(),
                    duration: *duration,
                    leave: *leave,
                });
                (
                    "room_send",
                    format!(
                        "PUT /_matrix/client/v3/rooms/{}/send/{ty}/{txn}?{}={d}",
                        rid(room),
                        n.query
                    ),
                    content,
                )
            }
            ClientReq::Message { room } => (
                "room_send",
                format!(
                    "PUT /_matrix/client/v3/rooms/{}/send/m.room.message/{txn}",
                    rid(room)
                ),
                self.content_json(&Content::Message),
            ),
            ClientReq::PowerLevels { room, user, level } => (
                "room_state",
                format!(
                    "PUT /_matrix/client/v3/rooms/{}/state/m.room.power_levels/",
                    rid(room)
                ),
                self.content_json(&Content::PowerLevels {
                    user: *user,
                    level: *level,
                }),
            ),
            ClientReq::Join { room } => (
                "join",
                format!("POST /_matrix/client/v3/join/{}", rid(room)),
                json!({}),
            ),
            ClientReq::Leave { room } => (
                "leave",
                format!("POST /_matrix/client/v3/rooms/{}/leave", rid(room)),
                json!({}),
            ),
            ClientReq::ScheduleDelayed {
                room,
                ev_type,
                key,
                duration_ms,
                delay,
                ..
            } => {
                let ty = self
                    .types
                    .get(*ev_type as usize)
                    .map_or("m.rtc.member", |s| s.as_str());
                (
                    "delayed_send",
                    format!(
                        "PUT /_matrix/client/v3/rooms/{}/send/{ty}/{txn}?{}={}&{}={duration_ms}",
                        rid(room),
                        n.delay_query,
                        delay / 1000,
                        n.query
                    ),
                    json!({ n.sticky_key: key }),
                )
            }
            ClientReq::RestartDelayed { delay_id, .. } => (
                "delayed_update",
                format!("POST {}/d{delay_id}/restart", n.delayed_base),
                json!({}),
            ),
            ClientReq::CancelDelayed { delay_id } => (
                "delayed_update",
                format!("POST {}/d{delay_id}/cancel", n.delayed_base),
                json!({}),
            ),
            // Not a real client request: the fault `equivocate` makes the server create
            // sibling versions itself. Traced for the record, never answered.
            ClientReq::Equivocate {
                room, key, groups, ..
            } => (
                "equivocate",
                format!("(fault) equivocate in {}", rid(room)),
                json!({ n.sticky_key: key, "versions": groups.len() }),
            ),
        }
    }

    /// A client request leaves the client (`lost`: the client's link lost it).
    pub(crate) fn trace_client_request(
        &mut self,
        client: ClientId,
        req: &ClientReq,
        now: Time,
        lost: bool,
    ) {
        if self.trace.is_none() {
            return;
        }
        let (kind, http, body) = self.client_http(client, req);
        let mut meta = vec![("http", json!(http))];
        if lost {
            meta.push(("lost", json!(true)));
        }
        let msg = TraceMsg {
            t: now,
            kind,
            from: self.cname(client),
            to: self.sname(self.server_of[client as usize]),
            meta,
            body,
        };
        self.push_trace(msg);
    }

    /// What a traced client request needs to describe its answer: the request, the
    /// number of events before it was handled, and whether its delayed event existed.
    pub(crate) fn trace_client_before(
        &self,
        client: ClientId,
        req: &ClientReq,
    ) -> Option<TracedReq> {
        self.trace.as_ref()?;
        let server = self.server_of[client as usize];
        let had_delay = match req {
            ClientReq::RestartDelayed { delay_id, .. } | ClientReq::CancelDelayed { delay_id } => {
                self.servers[server as usize].delayed.contains_key(delay_id)
            }
            _ => true,
        };
        Some(TracedReq {
            req: req.clone(),
            pdus_before: self.pdus.len(),
            had_delay,
        })
    }

    /// The server's answer to a client request it handled.
    pub(crate) fn trace_client_response(&mut self, client: ClientId, tr: TracedReq, now: Time) {
        if self.trace.is_none() {
            return;
        }
        let created = (tr.pdus_before < self.pdus.len()).then_some(tr.pdus_before as PduId);
        let forbidden = json!({ "errcode": "M_FORBIDDEN", "error": "not allowed" });
        let not_found = json!({ "errcode": "M_NOT_FOUND", "error": "no such delayed event" });
        let (status, body) = match &tr.req {
            ClientReq::Sticky { .. }
            | ClientReq::Message { .. }
            | ClientReq::PowerLevels { .. } => match created {
                Some(p) => (200, json!({ "event_id": self.pdus[p as usize].event_id })),
                None => (403, forbidden),
            },
            ClientReq::Join { room } => {
                let server = self.server_of[client as usize];
                if !self.servers[server as usize].is_joined(*room, client) {
                    return; // joining over federation: answered when send_join returns
                }
                let rid = self.rooms[*room as usize].room_id.clone();
                (200, json!({ "room_id": rid }))
            }
            ClientReq::Leave { .. } => (200, json!({})),
            ClientReq::ScheduleDelayed { delay_id, .. } => {
                (200, json!({ "delay_id": format!("d{delay_id}") }))
            }
            ClientReq::Equivocate { .. } => return,
            ClientReq::RestartDelayed { .. } | ClientReq::CancelDelayed { .. } => {
                if tr.had_delay {
                    (200, json!({}))
                } else {
                    (404, not_found)
                }
            }
        };
        let (kind, _, _) = self.client_http(client, &tr.req);
        let kind = match kind {
            "room_send" => "room_send_response",
            "room_state" => "room_state_response",
            "join" => "join_response",
            "leave" => "leave_response",
            "delayed_send" => "delayed_send_response",
            _ => "delayed_update_response",
        };
        let msg = TraceMsg {
            t: now,
            kind,
            from: self.sname(self.server_of[client as usize]),
            to: self.cname(client),
            meta: vec![("status", json!(status))],
            body,
        };
        self.push_trace(msg);
    }

    /// A join over federation completes: the client's `/join` is answered.
    pub(crate) fn trace_join_done(&mut self, client: ClientId, room: RoomId, now: Time) {
        if self.trace.is_none() {
            return;
        }
        let msg = TraceMsg {
            t: now,
            kind: "join_response",
            from: self.sname(self.server_of[client as usize]),
            to: self.cname(client),
            meta: vec![("status", json!(200))],
            body: json!({ "room_id": self.rooms[room as usize].room_id }),
        };
        self.push_trace(msg);
    }

    /// MSC4140: the server sends a delayed sticky leave itself (its client went silent).
    pub(crate) fn trace_delayed_fire(
        &mut self,
        server: ServerId,
        pdu: PduId,
        delay_id: u64,
        now: Time,
    ) {
        if self.trace.is_none() {
            return;
        }
        let key = match &self.pdus[pdu as usize].content {
            Content::Sticky { key, .. } => key.clone(),
            _ => String::new(),
        };
        let body = json!({
            "delay_id": format!("d{delay_id}"),
            "event_id": self.pdus[pdu as usize].event_id,
            "sender": self.user_id(self.pdus[pdu as usize].sender),
            "sticky_key": key,
        });
        let name = self.sname(server);
        self.push_trace(TraceMsg {
            t: now,
            kind: "delayed_fire",
            from: name.clone(),
            to: name,
            meta: vec![],
            body,
        });
    }
}

/// A client request as it was before its server handled it (for the traced answer).
#[derive(Clone, Debug)]
pub struct TracedReq {
    req: ClientReq,
    pdus_before: usize,
    had_delay: bool,
}

fn note(t: Time, kind: &'static str, who: &str, body: Value) -> TraceMsg {
    TraceMsg {
        t,
        kind,
        from: who.to_string(),
        to: who.to_string(),
        meta: vec![],
        body,
    }
}

/// The finished trace: the model's messages with notes for crashes and restarts,
/// partitions, clients going offline and online, and sticky events expiring at their
/// origin, in time order (ties: the notes, then the model's messages in the model's
/// order). Empty when the run was not traced.
pub fn finish_trace(w: &mut World, scn: &Scenario, obs: &Observer, end: Time) -> Vec<TraceMsg> {
    let Some(model) = w.trace.take() else {
        return vec![];
    };
    // Notes first: at equal times they come before the model's messages (a crash or a
    // partition starting at t is in force for what is sent at t).
    let mut out = vec![];
    for (s, ivs) in w.down_intervals.iter().enumerate() {
        let name = &w.servers[s].name;
        for (a, b) in ivs {
            out.push(note(*a, "crash", name, json!({ "server": name })));
            if let Some(b) = b {
                out.push(note(*b, "restart", name, json!({ "server": name })));
            }
        }
    }
    for f in &scn.file.fault {
        if let FaultCfg::Partition { servers, from, to } = f {
            let (Some(first), Some(last)) = (servers.first(), servers.last()) else {
                continue;
            };
            for (t, kind) in [(from.us(), "partition_start"), (to.us(), "partition_end")] {
                if t <= end {
                    out.push(TraceMsg {
                        t,
                        kind,
                        from: first.clone(),
                        to: last.clone(),
                        meta: vec![],
                        body: json!({ "servers": servers }),
                    });
                }
            }
        }
    }
    for (c, changes) in &obs.online_changes {
        let name = &w.clients[*c as usize].name;
        for (t, on) in changes {
            if *t > 0 {
                let kind = if *on { "online" } else { "offline" };
                out.push(note(*t, kind, name, json!({ "client": name })));
            }
        }
    }
    for (i, p) in w.pdus.iter().enumerate() {
        if !p.is_sticky() {
            continue;
        }
        let at = w.origin_end(i as PduId);
        if at > end {
            continue;
        }
        let key = match &p.content {
            Content::Sticky { key, .. } => key.clone(),
            _ => String::new(),
        };
        let origin = &w.servers[p.origin as usize].name;
        out.push(note(
            at,
            "expire",
            origin,
            json!({
                "event_id": p.event_id,
                "sender": w.user_id(p.sender),
                "sticky_key": key,
                "leave": p.is_leave(),
            }),
        ));
    }
    out.extend(model);
    out.sort_by_key(|m| m.t);
    out
}
