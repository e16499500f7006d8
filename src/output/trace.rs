//! `--trace`: every message in order, with the federation `/send` bodies, the `/sync`
//! responses and the client requests in the MSC's JSON shapes (stable names, or the
//! unstable names of MSC4354's "Unstable prefix" section with `--unstable-names`).
//!
//! The model emits a [`Wire`] probe where it puts a message on the wire; the recorder
//! keeps them in the model's order and this module renders them once the run is over
//! (every message carries what its line shows, and events never change once created).
//! A message is stamped with the simulated time it leaves its sender, so the list is
//! sorted by time (stably: ties keep the model's order). Crashes, partitions, clients
//! going offline and sticky events expiring are added as notes.

use crate::kernel::Time;
use crate::matrix::event::{Content, DurationField};
use crate::matrix::msg::{ClientReq, DelayedLeave, Outcome, StickySend};
use crate::matrix::probe::Wire;
use crate::matrix::server::sync::{SyncResponse, SyncToken};
use crate::matrix::server::RoomState;
use crate::matrix::world::World;
use crate::matrix::{ClientId, PduId, RoomId, ServerId};
use crate::observe::recorder::Observer;
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

fn with_lost(mut meta: Vec<(&'static str, Value)>, lost: bool) -> Vec<(&'static str, Value)> {
    if lost {
        meta.push(("lost", json!(true)));
    }
    meta
}

/// Renders wire probes against the finished world.
struct Render<'a> {
    w: &'a World,
    n: &'static Names,
    /// Lines rendered so far (client transaction IDs number them).
    out: Vec<TraceMsg>,
}

impl Render<'_> {
    fn sname(&self, s: ServerId) -> String {
        self.w.sh.dir.servers[s].clone()
    }

    fn cname(&self, c: ClientId) -> String {
        self.w.sh.dir.clients[c].name.clone()
    }

    fn user_id(&self, c: ClientId) -> String {
        self.w.sh.dir.user_id(c)
    }

    fn room_id(&self, r: RoomId) -> String {
        self.w.sh.dir.rooms[r].room_id.clone()
    }

    fn msg(
        &mut self,
        t: Time,
        kind: &'static str,
        from: String,
        to: String,
        meta: Vec<(&'static str, Value)>,
        body: Value,
    ) {
        self.out.push(TraceMsg {
            t,
            kind,
            from,
            to,
            meta,
            body,
        });
    }

    /// The event's `content` as its sender wrote it.
    fn content_json(&self, content: &Content) -> Value {
        match content {
            Content::Sticky { key, leave, .. } => {
                let mut c = Map::new();
                c.insert(self.n.sticky_key.into(), json!(key));
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
            Content::Sticky { ev_type, .. } => self.w.sh.dir.type_name(*ev_type),
            Content::Message => "m.room.message",
            Content::Member { .. } => "m.room.member",
            Content::PowerLevels { .. } => "m.room.power_levels",
        }
    }

    /// A PDU in the federation shape: the top-level `sticky: {duration_ms}` object and
    /// `content.sticky_key` for sticky events (`event_id` kept for readability: room
    /// versions 3+ derive it from the event's hash).
    fn pdu_json(&self, pdu: PduId) -> Value {
        let p = &self.w.sh.pdus[pdu];
        let mut o = Map::new();
        o.insert("event_id".into(), json!(p.event_id));
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
            .map(|e| self.w.sh.pdus[*e].event_id.as_str())
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
            o.insert("unsigned".into(), json!({ self.n.remaining: r }));
        }
        Value::Object(o)
    }

    fn wire(&mut self, m: &Wire) {
        match m {
            Wire::Send {
                t,
                dest,
                body,
                lost,
            } => {
                let pdus: Vec<Value> = body.pdus.iter().map(|e| self.pdu_json(e.pdu)).collect();
                let json = json!({
                    "origin": self.sname(body.origin),
                    "origin_server_ts": body.origin_server_ts,
                    "pdus": pdus,
                    "edus": [],
                });
                let meta = vec![
                    (
                        "http",
                        json!(format!("PUT /_matrix/federation/v1/send/{}", body.id.0)),
                    ),
                    ("attempt", json!(body.attempt)),
                ];
                let (from, to) = (self.sname(body.origin), self.sname(*dest));
                self.msg(*t, "send", from, to, with_lost(meta, *lost), json);
            }
            Wire::SendAnswer {
                t,
                origin,
                dest,
                txn,
                attempt,
                outcome,
                retry_after,
                body,
                lost,
            } => {
                let json = match outcome {
                    Outcome::Ok => {
                        let mut pdus = Map::new();
                        for e in body.iter().flat_map(|b| b.pdus.iter()) {
                            pdus.insert(self.w.sh.pdus[e.pdu].event_id.clone(), json!({}));
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
                let meta = vec![
                    (
                        "http",
                        json!(format!("PUT /_matrix/federation/v1/send/{}", txn.0)),
                    ),
                    ("attempt", json!(attempt)),
                    ("status", status_of(*outcome)),
                    ("outcome", json!(outcome.as_str())),
                ];
                let (from, to) = (self.sname(*dest), self.sname(*origin));
                self.msg(*t, "send_response", from, to, with_lost(meta, *lost), json);
            }
            Wire::MissingRequest { t, to, req, lost } => {
                let ids = |v: &[PduId]| -> Vec<String> {
                    v.iter()
                        .map(|e| self.w.sh.pdus[*e].event_id.clone())
                        .collect()
                };
                let json = json!({
                    "earliest_events": ids(&req.earliest),
                    "latest_events": ids(&req.latest),
                    "limit": req.limit,
                    "min_depth": 0,
                });
                let meta = vec![(
                    "http",
                    json!(format!(
                        "POST /_matrix/federation/v1/get_missing_events/{}",
                        self.room_id(req.room)
                    )),
                )];
                let (from, to) = (self.sname(req.asker), self.sname(*to));
                self.msg(
                    *t,
                    "get_missing_events",
                    from,
                    to,
                    with_lost(meta, *lost),
                    json,
                );
            }
            Wire::MissingResponse {
                t,
                from,
                asker,
                room,
                pdus,
                lost,
            } => {
                let events: Vec<Value> = pdus.iter().map(|p| self.pdu_json(*p)).collect();
                let meta = vec![
                    (
                        "http",
                        json!(format!(
                            "POST /_matrix/federation/v1/get_missing_events/{}",
                            self.room_id(*room)
                        )),
                    ),
                    ("status", json!(200)),
                ];
                let (f, to) = (self.sname(*from), self.sname(*asker));
                let json = json!({ "events": events });
                self.msg(
                    *t,
                    "get_missing_events_response",
                    f,
                    to,
                    with_lost(meta, *lost),
                    json,
                );
            }
            Wire::JoinRequest {
                t,
                joiner,
                resident,
                client,
                room,
                origin_server_ts,
                lost,
            } => {
                let room_id = self.room_id(*room);
                let user = self.user_id(*client);
                let json = json!({
                    "type": "m.room.member",
                    "room_id": room_id,
                    "sender": user,
                    "state_key": user,
                    "origin_server_ts": origin_server_ts,
                    "content": { "membership": "join" },
                });
                let meta = vec![(
                    "http",
                    json!(format!(
                        "PUT /_matrix/federation/v2/send_join/{room_id}/{user}"
                    )),
                )];
                let (from, to) = (self.sname(*joiner), self.sname(*resident));
                self.msg(*t, "send_join", from, to, with_lost(meta, *lost), json);
            }
            Wire::JoinResponse {
                t,
                resident,
                joiner,
                pdu,
                state,
                lost,
            } => self.join_response(*t, *resident, *joiner, *pdu, state, *lost),
            Wire::SyncRequest { t, client, since } => {
                let server = self.w.sh.dir.server_of(*client);
                let timeout = self.w.servers[server].cfg.sync.poll_timeout.ms();
                let http = match since {
                    Some(SyncToken { timeline, sticky }) => format!(
                        "GET /_matrix/client/v3/sync?since=s{timeline}_{sticky}&timeout={timeout}"
                    ),
                    None => format!("GET /_matrix/client/v3/sync?timeout={timeout}"),
                };
                let (from, to) = (self.cname(*client), self.sname(server));
                self.msg(
                    *t,
                    "sync",
                    from,
                    to,
                    vec![("http", json!(http))],
                    Value::Null,
                );
            }
            Wire::SyncResponse {
                t,
                server,
                client,
                resp,
            } => self.sync_response(*t, *server, *client, resp),
            Wire::SyncError { t, client } => {
                let server = self.w.sh.dir.server_of(*client);
                let (from, to) = (self.sname(server), self.cname(*client));
                let meta = vec![("status", Value::Null), ("outcome", json!("unavailable"))];
                self.msg(*t, "sync_response", from, to, meta, Value::Null);
            }
            Wire::ClientRequest {
                t,
                client,
                req,
                lost,
            } => {
                let (kind, http, body) = self.client_http(*client, req);
                let server = self.w.sh.dir.server_of(*client);
                let (from, to) = (self.cname(*client), self.sname(server));
                let meta = with_lost(vec![("http", json!(http))], *lost);
                self.msg(*t, kind, from, to, meta, body);
            }
            Wire::ClientAnswer {
                t,
                client,
                req,
                created,
                found,
                invalid,
            } => self.client_answer(*t, *client, req, *created, *found, *invalid),
            Wire::JoinDone { t, client, room } => {
                let server = self.w.sh.dir.server_of(*client);
                let (from, to) = (self.sname(server), self.cname(*client));
                let body = json!({ "room_id": self.room_id(*room) });
                self.msg(
                    *t,
                    "join_response",
                    from,
                    to,
                    vec![("status", json!(200))],
                    body,
                );
            }
            Wire::DelayedFire {
                t,
                server,
                pdu,
                delay_id,
            } => {
                let p = &self.w.sh.pdus[*pdu];
                let key = match &p.content {
                    Content::Sticky { key, .. } => key.clone(),
                    _ => String::new(),
                };
                let body = json!({
                    "delay_id": format!("d{}", delay_id.0),
                    "event_id": p.event_id,
                    "sender": self.user_id(p.sender),
                    "sticky_key": key,
                });
                let name = self.sname(*server);
                self.msg(*t, "delayed_fire", name.clone(), name, vec![], body);
            }
        }
    }

    fn join_response(
        &mut self,
        t: Time,
        resident: ServerId,
        joiner: ServerId,
        pdu: PduId,
        state: &RoomState,
        lost: bool,
    ) {
        let room = self.w.sh.pdus[pdu].room;
        let room_id = self.room_id(room);
        let user = self.user_id(self.w.sh.pdus[pdu].sender);
        let mut st = vec![];
        for m in &state.members {
            let u = self.user_id(*m);
            st.push(json!({
                "type": "m.room.member", "state_key": u, "sender": u,
                "content": { "membership": "join" },
            }));
        }
        let users: Map<String, Value> = state
            .power
            .iter()
            .map(|(c, l)| (self.user_id(*c), json!(l)))
            .collect();
        st.push(json!({
            "type": "m.room.power_levels", "state_key": "",
            "content": { "users": users, "users_default": self.w.sh.dir.rooms[room].default_level },
        }));
        let body = json!({
            "origin": self.sname(resident),
            "event": self.pdu_json(pdu),
            "state": st,
            "auth_chain": [],
            "members_omitted": false,
        });
        let meta = vec![
            (
                "http",
                json!(format!(
                    "PUT /_matrix/federation/v2/send_join/{room_id}/{user}"
                )),
            ),
            ("status", json!(200)),
        ];
        let (from, to) = (self.sname(resident), self.sname(joiner));
        self.msg(
            t,
            "send_join_response",
            from,
            to,
            with_lost(meta, lost),
            body,
        );
    }

    /// A `/sync` response: `rooms.join.<room>.timeline.events` and the sticky section
    /// `rooms.join.<room>.sticky.events`.
    fn sync_response(&mut self, t: Time, server: ServerId, client: ClientId, resp: &SyncResponse) {
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
                room.insert(self.n.sticky.into(), json!({ "events": sticky }));
            }
            join.insert(self.room_id(part.room), Value::Object(room));
        }
        let body = json!({
            "next_batch": format!("s{}_{}", resp.next_batch.timeline, resp.next_batch.sticky),
            "rooms": { "join": join },
        });
        let (from, to) = (self.sname(server), self.cname(client));
        self.msg(
            t,
            "sync_response",
            from,
            to,
            vec![("status", json!(200))],
            body,
        );
    }

    /// (kind, method and path, body) of a client request.
    fn client_http(&self, client: ClientId, req: &ClientReq) -> (&'static str, String, Value) {
        let n = self.n;
        let txn = format!("c{}.{}", client.0, self.out.len());
        match req {
            ClientReq::Sticky(StickySend {
                room,
                ev_type,
                key,
                duration,
                leave,
                ..
            }) => {
                let ty = self.w.sh.dir.type_name(*ev_type);
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
                        self.room_id(*room),
                        n.query
                    ),
                    content,
                )
            }
            ClientReq::Message { room } => (
                "room_send",
                format!(
                    "PUT /_matrix/client/v3/rooms/{}/send/m.room.message/{txn}",
                    self.room_id(*room)
                ),
                self.content_json(&Content::Message),
            ),
            ClientReq::PowerLevels { room, user, level } => (
                "room_state",
                format!(
                    "PUT /_matrix/client/v3/rooms/{}/state/m.room.power_levels/",
                    self.room_id(*room)
                ),
                self.content_json(&Content::PowerLevels {
                    user: *user,
                    level: *level,
                }),
            ),
            ClientReq::Join { room } => (
                "join",
                format!("POST /_matrix/client/v3/join/{}", self.room_id(*room)),
                json!({}),
            ),
            ClientReq::Leave { room } => (
                "leave",
                format!(
                    "POST /_matrix/client/v3/rooms/{}/leave",
                    self.room_id(*room)
                ),
                json!({}),
            ),
            ClientReq::ScheduleDelayed(DelayedLeave {
                room,
                ev_type,
                key,
                duration_ms,
                delay,
                ..
            }) => {
                let ty = self.w.sh.dir.type_name(*ev_type);
                (
                    "delayed_send",
                    format!(
                        "PUT /_matrix/client/v3/rooms/{}/send/{ty}/{txn}?{}={}&{}={duration_ms}",
                        self.room_id(*room),
                        n.delay_query,
                        delay / 1000,
                        n.query
                    ),
                    json!({ n.sticky_key: key }),
                )
            }
            ClientReq::RestartDelayed { delay_id } => (
                "delayed_update",
                format!("POST {}/d{}/restart", n.delayed_base, delay_id.0),
                json!({}),
            ),
            ClientReq::CancelDelayed { delay_id } => (
                "delayed_update",
                format!("POST {}/d{}/cancel", n.delayed_base, delay_id.0),
                json!({}),
            ),
            // Not a real client request: the fault `equivocate` makes the server create
            // sibling versions itself. Traced for the record, never answered.
            ClientReq::Equivocate {
                room, key, groups, ..
            } => (
                "equivocate",
                format!("(fault) equivocate in {}", self.room_id(*room)),
                json!({ n.sticky_key: key, "versions": groups.len() }),
            ),
        }
    }

    /// The server's answer to a client request it handled.
    fn client_answer(
        &mut self,
        t: Time,
        client: ClientId,
        req: &ClientReq,
        created: Option<PduId>,
        found: bool,
        invalid: bool,
    ) {
        let forbidden = json!({ "errcode": "M_FORBIDDEN", "error": "not allowed" });
        let not_found = json!({ "errcode": "M_NOT_FOUND", "error": "no such delayed event" });
        let (status, body) = match req {
            ClientReq::Sticky(_) if invalid => (
                400,
                json!({ "errcode": "M_INVALID_PARAM", "error": "sticky duration must be a non-negative integer" }),
            ),
            ClientReq::Sticky(_) | ClientReq::Message { .. } | ClientReq::PowerLevels { .. } => {
                match created {
                    Some(p) => (200, json!({ "event_id": self.w.sh.pdus[p].event_id })),
                    None => (403, forbidden),
                }
            }
            ClientReq::Join { room } => (200, json!({ "room_id": self.room_id(*room) })),
            ClientReq::Leave { .. } => (200, json!({})),
            ClientReq::ScheduleDelayed(d) => {
                (200, json!({ "delay_id": format!("d{}", d.delay_id.0) }))
            }
            ClientReq::Equivocate { .. } => return,
            ClientReq::RestartDelayed { .. } | ClientReq::CancelDelayed { .. } => {
                if found {
                    (200, json!({}))
                } else {
                    (404, not_found)
                }
            }
        };
        let (kind, _, _) = self.client_http(client, req);
        let kind = match kind {
            "room_send" => "room_send_response",
            "room_state" => "room_state_response",
            "join" => "join_response",
            "leave" => "leave_response",
            "delayed_send" => "delayed_send_response",
            _ => "delayed_update_response",
        };
        let server = self.w.sh.dir.server_of(client);
        let (from, to) = (self.sname(server), self.cname(client));
        self.msg(t, kind, from, to, vec![("status", json!(status))], body);
    }
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
/// order).
pub fn render(
    w: &World,
    scn: &Scenario,
    obs: &Observer,
    end: Time,
    unstable_names: bool,
) -> Vec<TraceMsg> {
    let mut r = Render {
        w,
        n: if unstable_names { &UNSTABLE } else { &STABLE },
        out: vec![],
    };
    for m in &obs.wire {
        r.wire(m);
    }
    let model = r.out;
    // Notes first: at equal times they come before the model's messages (a crash or a
    // partition starting at t is in force for what is sent at t).
    let mut out = vec![];
    for (s, ivs) in &obs.down {
        let name = &w.sh.dir.servers[*s];
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
        let name = &w.sh.dir.clients[*c].name;
        for (t, on) in changes {
            if *t > 0 {
                let kind = if *on { "online" } else { "offline" };
                out.push(note(*t, kind, name, json!({ "client": name })));
            }
        }
    }
    for (id, p) in w.sh.pdus.iter() {
        if !p.is_sticky() {
            continue;
        }
        let at = w.origin_end(id);
        if at > end {
            continue;
        }
        let key = match &p.content {
            Content::Sticky { key, .. } => key.clone(),
            _ => String::new(),
        };
        let origin = &w.sh.dir.servers[p.origin];
        out.push(note(
            at,
            "expire",
            origin,
            json!({
                "event_id": p.event_id,
                "sender": w.sh.dir.user_id(p.sender),
                "sticky_key": key,
                "leave": p.is_leave(),
            }),
        ));
    }
    out.extend(model);
    out.sort_by_key(|m| m.t);
    out
}
