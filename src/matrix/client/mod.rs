//! A client: one device of its own user. It goes online and offline, sends requests to its
//! server, long-polls `/sync`, and applies what it receives to its ephemeral map
//! (MSC4354 "Implementing an ephemeral map", `map.rs`).

pub mod map;

use crate::matrix::cx::Cx;
use crate::matrix::ids::{ClientId, ReqTag, RoomId};
use crate::matrix::msg::{
    AppEv, ClientEv, ClientReq, ClientRequest, PowerMap, ServerEv, SyncRequest,
};
use crate::matrix::probe::{Probe, Synced, Wire};
use crate::matrix::server::sync::{SyncResponse, SyncToken};
use crate::matrix::spec::{AccessControl, ClientCfg};
use map::{Candidate, EphemeralMap, MapKey, Top};
use std::collections::BTreeMap;

pub struct Client {
    pub id: ClientId,
    pub online: bool,
    /// The client's sync token (client-held, as in Matrix).
    pub since: Option<SyncToken>,
    /// Number of the client's current `/sync` request; answers to older ones are ignored.
    pub sync_req: u64,
    pub map: EphemeralMap,
    pub access: AccessControl,
    /// The client's view of power levels per room (from its sync responses).
    pub pl_view: BTreeMap<RoomId, PowerMap>,
}

impl Client {
    pub fn new(id: ClientId, cfg: &ClientCfg) -> Client {
        Client {
            id,
            online: false,
            since: None,
            sync_req: 0,
            map: EphemeralMap::new(cfg.expire_entries),
            access: cfg.access_control,
            pl_view: BTreeMap::new(),
        }
    }

    /// Handle one event addressed to this client; an answer for the application layer is
    /// handed back.
    pub fn handle(&mut self, cx: &mut Cx<'_, '_>, ev: ClientEv) -> Option<AppEv> {
        match ev {
            ClientEv::SyncResponse { req, resp } => self.on_sync_response(cx, req, *resp),
            ClientEv::SyncError { req } => self.on_sync_error(cx, req),
            ClientEv::SyncRetry { req } => {
                if self.sync_req == req && self.online {
                    self.send_sync(cx);
                }
            }
            ClientEv::MapExpiry { key } => self.on_map_expiry(cx, *key),
            ClientEv::Answer { tag, answer } => {
                return tag.map(|tag| AppEv::Answer {
                    client: self.id,
                    tag,
                    answer,
                })
            }
        }
        None
    }

    /// The client loses its connection (fault `client_offline`, a crashed participant).
    pub fn go_offline(&mut self, cx: &mut Cx<'_, '_>) {
        if self.online {
            self.online = false;
            self.sync_req += 1; // outstanding requests and responses are void
            let t = cx.now();
            cx.probe(Probe::ClientOnline {
                client: self.id,
                online: false,
                t,
            });
        }
    }

    /// The client comes (back) online: a (gappy) sync from its old token (MSC4354 "Sync API changes").
    pub fn go_online(&mut self, cx: &mut Cx<'_, '_>) {
        if !self.online {
            self.online = true;
            let t = cx.now();
            if t > 0 {
                cx.probe(Probe::ClientOnline {
                    client: self.id,
                    online: true,
                    t,
                });
            }
            self.send_sync(cx);
        }
    }

    /// The client sends a request to its server (lost with `client_loss`).
    pub fn send_request(&mut self, cx: &mut Cx<'_, '_>, req: ClientReq, tag: Option<ReqTag>) {
        if !self.online {
            return;
        }
        let client = self.id;
        let (t, shown) = (cx.now(), cx.sh.probes.wire().then(|| Box::new(req.clone())));
        let r = ClientRequest { client, req, tag };
        cx.client_to_server(client, true, ServerEv::ClientRequest(Box::new(r)), |lost| {
            Wire::ClientRequest {
                t,
                client,
                req: shown.expect("wire on"),
                lost,
            }
        });
    }

    /// The client sends its next `/sync` request, with its token.
    pub fn send_sync(&mut self, cx: &mut Cx<'_, '_>) {
        self.sync_req += 1;
        let r = SyncRequest {
            client: self.id,
            req: self.sync_req,
            since: self.since,
        };
        let t = cx.now();
        cx.client_to_server(self.id, false, ServerEv::SyncRequest(r), |_| {
            Wire::SyncRequest {
                t,
                client: r.client,
                since: r.since,
            }
        });
    }

    /// The connection to a crashed server drops: the long-poll fails after one hop.
    pub fn connection_dropped(&mut self, cx: &mut Cx<'_, '_>) {
        if self.online {
            let (t, client, req) = (cx.now(), self.id, self.sync_req);
            cx.wire(|| Wire::SyncError { t, client });
            cx.to_client(client, ClientEv::SyncError { req });
        }
    }

    fn on_sync_error(&mut self, cx: &mut Cx<'_, '_>, req: u64) {
        if self.sync_req != req || !self.online {
            return;
        }
        let retry = cx.sh.dir.clients[self.id].sync_error_retry;
        cx.client_timer(self.id, retry, ClientEv::SyncRetry { req });
    }

    /// A sync response reaches the client: apply its sticky events to the map, then sync
    /// again.
    fn on_sync_response(&mut self, cx: &mut Cx<'_, '_>, req: u64, resp: SyncResponse) {
        let now = cx.now();
        if self.sync_req != req || !self.online {
            let (client, offline) = (self.id, !self.online);
            cx.wire(|| Wire::SyncUnreceived {
                t: now,
                client,
                req,
                offline,
            });
            return;
        }
        self.since = Some(resp.next_batch);
        let mut items = vec![];
        for part in &resp.rooms {
            // Power levels: the state as of this response (the state section / timeline).
            // (Most responses carry the map the client already holds: keep it.)
            match self.pl_view.get_mut(&part.room) {
                Some(p) if std::sync::Arc::ptr_eq(p, &part.power) => {}
                Some(p) => *p = part.power.clone(),
                None => {
                    self.pl_view.insert(part.room, part.power.clone());
                }
            }
            items.extend(part.timeline_remaining.iter().copied());
            items.extend(part.sticky.iter().copied());
        }
        let pdus = &cx.sh.pdus;
        let mut touched: BTreeMap<MapKey, Option<Top>> = BTreeMap::new();
        for (pdu, _) in &items {
            if let Some(k) = pdus[*pdu].map_key() {
                let map = &self.map;
                touched.entry(k).or_insert_with_key(|k| map.top(k, now));
            }
        }
        for (pdu, remaining) in &items {
            let p = &pdus[*pdu];
            let Some(key) = p.map_key() else {
                continue;
            };
            // access_control = authorized_only: discard writes the client's power levels
            // do not allow (the MSC's example of divergence when a PL change races a write).
            if self.access == AccessControl::AuthorizedOnly {
                let info = &cx.sh.dir.rooms[p.room];
                let needed = info.type_levels.get(&key.ev_type).copied().unwrap_or(0);
                let lvl = self
                    .pl_view
                    .get(&p.room)
                    .and_then(|m| m.get(&p.sender).copied())
                    .unwrap_or(info.default_level);
                if lvl < needed {
                    continue;
                }
            }
            let (order, _) = p.map_order().expect("sticky");
            let cand = Candidate {
                pdu: *pdu,
                order: (order, p.event_id.clone()),
                leave: p.is_leave(),
                // MSC4354: the client's expiry is its receipt time + the remaining time.
                expires_at: now + crate::kernel::time::from_ms((*remaining).max(0) as u64),
            };
            self.map.insert(key, cand, now);
        }
        let mut changes = Vec::with_capacity(touched.len());
        for (key, before) in touched {
            let (after, timer) = self.map.settle(&key, now);
            self.expiry_timer(cx, &key, timer);
            changes.push((key, before, after));
        }
        cx.probe(Probe::Synced(Box::new(Synced {
            t: now,
            client: self.id,
            resp,
            changes,
        })));
        self.send_sync(cx);
    }

    /// Queue the expiry timer the map recorded for `key` (`EphemeralMap::settle`).
    fn expiry_timer(
        &mut self,
        cx: &mut Cx<'_, '_>,
        key: &MapKey,
        next: Option<crate::kernel::Time>,
    ) {
        let Some(next) = next else {
            return;
        };
        // An expiry after the end of the run would never be handled: keep it out of the
        // queue (most entries outlive an hour-long run; queueing them only slows the heap).
        if next > cx.sh.end {
            return;
        }
        cx.client_timer_at(
            self.id,
            next,
            ClientEv::MapExpiry {
                key: Box::new(key.clone()),
            },
        );
    }

    /// An entry of the map expires (MSC4354: clients SHOULD expire entries).
    fn on_map_expiry(&mut self, cx: &mut Cx<'_, '_>, key: MapKey) {
        let now = cx.now();
        if self.map.expiry_at(&key) != Some(now) {
            return;
        }
        self.map.set_expiry_at(&key, None);
        let (top, timer) = self.map.settle(&key, now);
        self.expiry_timer(cx, &key, timer);
        cx.probe(Probe::MapTop {
            client: self.id,
            key,
            t: now,
            top,
        });
    }
}

#[cfg(test)]
mod tests;
