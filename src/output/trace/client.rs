//! Client requests and the server's answers to them, in the client-server API's shapes.

use super::Render;
use crate::kernel::Time;
use crate::matrix::event::{Content, DurationField};
use crate::matrix::msg::{ClientReq, DelayedLeave, StickySend};
use crate::matrix::{ClientId, PduId};
use serde_json::{json, Value};

impl Render<'_> {
    /// (kind, method and path, body) of a client request.
    pub(super) fn client_http(
        &self,
        client: ClientId,
        req: &ClientReq,
    ) -> (&'static str, String, Value) {
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
                        crate::kernel::time::to_ms(*delay),
                        n.query
                    ),
                    json!({ n.sticky_key: &**key }),
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
    pub(super) fn client_answer(
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
                    Some(p) => (200, json!({ "event_id": &*self.w.sh.pdus[p].event_id })),
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
