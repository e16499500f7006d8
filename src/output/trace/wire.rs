//! Wire probes to trace lines: each federation and client message as it would be on
//! the wire, with its method and path.

use super::shapes::{status_of, with_lost};
use super::Render;
use crate::kernel::Time;
use crate::matrix::event::Content;
use crate::matrix::msg::Outcome;
use crate::matrix::probe::Wire;
use crate::matrix::server::sync::{SyncResponse, SyncToken};
use crate::matrix::server::RoomState;
use crate::matrix::{ClientId, PduId, ServerId};
use serde_json::{json, Map, Value};

impl Render<'_> {
    pub(super) fn wire(&mut self, m: &Wire) {
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
                            pdus.insert(self.w.sh.pdus[e.pdu].event_id.to_string(), json!({}));
                        }
                        json!({ "pdus": pdus })
                    }
                    Outcome::RateLimited => json!({
                        "errcode": "M_LIMIT_EXCEEDED",
                        "error": "Too many sticky events",
                        "retry_after_ms": crate::kernel::time::to_ms(retry_after.unwrap_or(0)),
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
                        .map(|e| self.w.sh.pdus[*e].event_id.to_string())
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
                req,
                resp,
            } => {
                self.sync_response(*t, *server, *client, resp);
                self.sync_lines.insert((*client, *req), self.out.len() - 1);
            }
            Wire::SyncUnreceived {
                client,
                req,
                offline,
                ..
            } => {
                // The response was sent and arrived, but the client never read it.
                if let Some(line) = self
                    .sync_lines
                    .remove(&(*client, *req))
                    .and_then(|i| self.out.get_mut(i))
                {
                    let why = if *offline {
                        "client offline"
                    } else {
                        "client no longer waiting for it"
                    };
                    line.meta.push(("received", json!(false)));
                    line.meta.push(("unreceived", json!(why)));
                }
            }
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
                    Content::Sticky { key, .. } => key.to_string(),
                    _ => String::new(),
                };
                let body = json!({
                    "delay_id": format!("d{}", delay_id.0),
                    "event_id": &*p.event_id,
                    "room_id": self.room_id(p.room),
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
        for m in state.members.iter() {
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
}
