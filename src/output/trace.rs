//! `--trace`: every message in order, with the federation `/send` bodies, the `/sync`
//! responses and the client requests in the MSC's JSON shapes (stable names, or the
//! unstable names of MSC4354's "Unstable prefix" section with `--unstable-names`).
//!
//! The model emits a [`Wire`](crate::matrix::probe::Wire) probe where it puts a message
//! on the wire; the recorder keeps them in the model's order and this module renders them
//! once the run is over (every message carries what its line shows, and events never
//! change once created).
//! A message is stamped with the simulated time it leaves its sender, so the list is
//! sorted by time (stably: ties keep the model's order). Crashes, partitions, clients
//! going offline and sticky events expiring are added as notes.
//!
//! The renderer is split by what it renders: `shapes` (MSC4354's names and the JSON of
//! events and PDUs), `wire` (federation messages and `/sync`) and `client` (client
//! requests and their answers).

mod client;
pub mod filter;
mod shapes;
mod wire;

pub use filter::TraceFilter;

use crate::kernel::Time;
use crate::matrix::event::Content;
use crate::matrix::world::World;
use crate::matrix::{ClientId, RoomId, ServerId};
use crate::observe::recorder::Observer;
use crate::scenario::{FaultCfg, Scenario};
use serde_json::{json, Map, Value};
use shapes::{Names, STABLE, UNSTABLE};

/// One line of `trace.jsonl`.
#[derive(Clone, Debug)]
pub struct TraceMsg {
    pub t: Time,
    pub kind: &'static str,
    pub from: String,
    pub to: String,
    /// Keys of the line between `to` and `body`: `http` (method and path), `attempt`,
    /// `status` (null when no HTTP answer came), `outcome`, `lost` (the network lost it),
    /// `received: false` and `unreceived` (why) on a sync response its client never read.
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
    if t.is_multiple_of(crate::kernel::time::MICROS_PER_MS) {
        json!(crate::kernel::time::to_ms(t))
    } else {
        json!(crate::kernel::time::to_ms_f64(t))
    }
}

/// Renders wire probes against the finished world.
struct Render<'a> {
    w: &'a World,
    n: &'static Names,
    /// Lines rendered so far (client transaction IDs number them).
    out: Vec<TraceMsg>,
    /// The line of each sync response not yet known to be received, by (client, request).
    sync_lines: std::collections::BTreeMap<(ClientId, u64), usize>,
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
}

/// Each room of the scenario as (name, room ID), for `--trace-filter room=`.
pub fn room_names(scn: &Scenario) -> Vec<(String, String)> {
    scn.file
        .rooms
        .iter()
        .map(|r| (r.name.clone(), crate::app::build::room_id(&r.name)))
        .collect()
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
        sync_lines: Default::default(),
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
    for (c, changes) in obs.online_changes.iter().enumerate() {
        let name = &w.sh.dir.clients[ClientId(c as u32)].name;
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
            Content::Sticky { key, .. } => key.to_string(),
            _ => String::new(),
        };
        let origin = &w.sh.dir.servers[p.origin];
        out.push(note(
            at,
            "expire",
            origin,
            json!({
                "event_id": &*p.event_id,
                "room_id": w.sh.dir.rooms[p.room].room_id,
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
