//! The CSV files of a run (README "Outputs", docs/output-format.md): the rows of the big
//! ones, streamed as the run goes ([`super::stream`]), and the small ones built in memory
//! from what the observers kept; `run::write` digests and writes them.

use super::delivery::{DeliveryRow, Fate};
use super::recorder::{ConvRow, Observer, SendRow, SeriesRow, SyncRow};
use super::stream::Names;
use crate::kernel::time::{ms3_text, push_ms3, to_ms};
use crate::kernel::Time;
use crate::matrix::event::Content;
use crate::matrix::world::World;
use std::fmt::Write;

/// A CSV being built in memory; fields are quoted only when they need it.
pub struct Csv {
    buf: String,
}

impl Csv {
    pub fn new(header: &str) -> Csv {
        let mut buf = String::with_capacity(1 << 16);
        buf.push_str(header);
        buf.push('\n');
        Csv { buf }
    }

    pub fn row(&mut self, fields: &[&str]) {
        push_row(&mut self.buf, fields);
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf.into_bytes()
    }
}

/// Append one CSV line to `buf`; fields are quoted only when they need it.
pub fn push_row(buf: &mut String, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            buf.push(',');
        }
        push_field(buf, f);
    }
    buf.push('\n');
}

/// Append one CSV field, quoted only when it needs it.
fn push_field(buf: &mut String, f: &str) {
    // A byte scan: these are ASCII, and a `char` pattern decodes every character (this
    // was 3% of a 10 000-server run, which writes a name in each of its 10 M rows).
    if f.bytes().any(|b| matches!(b, b',' | b'"' | b'\n')) {
        buf.push('"');
        buf.push_str(&f.replace('"', "\"\""));
        buf.push('"');
    } else {
        buf.push_str(f);
    }
}

/// A float with fixed decimals and no "-0".
pub fn fixed(v: f64, decimals: usize) -> String {
    let mut s = String::new();
    push_fixed(&mut s, v, decimals);
    s
}

/// Append `v` with fixed decimals and no "-0" to `buf`.
fn push_fixed(buf: &mut String, v: f64, decimals: usize) {
    let start = buf.len();
    let _ = write!(buf, "{v:.decimals$}");
    let s = &buf[start..];
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        buf.remove(start);
    }
}

/// One CSV line appended field by field, without a `String` per field (the streamed
/// tables write a row per sync, sample and `/send`). Text fields are quoted only when they
/// need it, as [`push_row`] does; numbers never need it.
struct Line<'a> {
    buf: &'a mut String,
    first: bool,
}

impl<'a> Line<'a> {
    fn new(buf: &'a mut String) -> Self {
        Line { buf, first: true }
    }

    fn sep(&mut self) -> &mut String {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        self.buf
    }

    fn text(&mut self, f: &str) -> &mut Self {
        push_field(self.sep(), f);
        self
    }

    fn num(&mut self, v: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.sep(), "{v}");
        self
    }

    fn flag(&mut self, b: bool) -> &mut Self {
        self.sep().push(if b { '1' } else { '0' });
        self
    }

    /// Milliseconds (whole).
    fn ms(&mut self, t: Time) -> &mut Self {
        self.num(to_ms(t))
    }

    /// Milliseconds with three decimals, as [`ms3_text`].
    fn ms3(&mut self, t: Time) -> &mut Self {
        push_ms3(self.sep(), t);
        self
    }

    fn fixed(&mut self, v: f64, decimals: usize) -> &mut Self {
        push_fixed(self.sep(), v, decimals);
        self
    }

    fn end(&mut self) {
        self.buf.push('\n');
    }
}

pub const DELIVERIES_HEADER: &str = "event_id,kind,room,sender_server,recipient_server,recipient_client,sent_ms,server_received_ms,client_received_ms,latency_ms,path,attempts";

/// deliveries.csv: one row per (sticky event, recipient client) pair that was due.
pub fn deliveries(rows: &[DeliveryRow], w: &World) -> Vec<u8> {
    let dir = &w.sh.dir;
    let mut c = Csv::new(DELIVERIES_HEADER);
    for r in rows {
        let p = &w.sh.pdus[r.pdu];
        let kind = match &p.content {
            Content::Sticky { leave: true, .. } => "leave",
            Content::Sticky { ev_type, .. } if ev_type.0 == 0 => "join",
            _ => "update",
        };
        let (sr, cr, lat, path, att) = match &r.fate {
            Fate::Delivered {
                server_received,
                client_received,
                path,
                attempts,
            } => (
                ms3_text(*server_received),
                ms3_text(*client_received),
                ms3_text(client_received - r.sent),
                path.to_string(),
                attempts.to_string(),
            ),
            Fate::Lost {
                cause,
                server_received,
            } => (
                server_received.map(ms3_text).unwrap_or_default(),
                String::new(),
                String::new(),
                format!("lost:{cause}"),
                String::new(),
            ),
            Fate::Pending => (
                String::new(),
                String::new(),
                String::new(),
                "pending".into(),
                String::new(),
            ),
        };
        c.row(&[
            &p.event_id,
            kind,
            &dir.rooms[p.room].name,
            &dir.servers[p.origin],
            &dir.servers[dir.server_of(r.client)],
            &dir.clients[r.client].name,
            &ms3_text(r.sent),
            &sr,
            &cr,
            &lat,
            &path,
            &att,
        ]);
    }
    c.into_bytes()
}

pub const FEDERATION_HEADER: &str =
    "t_ms,origin,destination,txn_id,pdus,sticky_pdus,outcome,retry_after_ms,next_attempt_ms";

/// A row of federation.csv: one `/send` attempt (written in (start, origin, destination,
/// txn, attempt) order by [`super::stream::FedStream`]).
pub fn federation_row(line: &mut String, a: &SendRow, n: &Names) {
    let names = &n.servers;
    let mut l = Line::new(line);
    l.ms3(a.t)
        .text(&names[a.origin.ix()])
        .text(&names[a.destination.ix()])
        .num(a.txn_id)
        .num(a.pdus)
        .num(a.sticky_pdus)
        .text(a.outcome.as_str());
    match a.retry_after {
        Some(t) => l.ms(t),
        None => l.text(""),
    };
    match a.next_attempt {
        Some(t) => l.ms3(t),
        None => l.text(""),
    };
    l.end();
}

pub const SYNCS_HEADER: &str =
    "t_ms,client,room_count,timeline_events,sticky_events,inactionable_sticky,bytes,gappy";

/// A row of syncs.csv: one sync response a client applied.
pub fn syncs_row(line: &mut String, s: &SyncRow, n: &Names) {
    Line::new(line)
        .ms3(s.t)
        .text(&n.clients[s.client.ix()])
        .num(s.room_count)
        .num(s.timeline_events)
        .num(s.sticky_events)
        .num(s.inactionable)
        .num(s.bytes)
        .flag(s.gappy)
        .end();
}

pub const CONVERGENCE_HEADER: &str = "t_ms,room,live_clients,distinct_views,agreeing_pair_fraction";

/// A row of convergence.csv: per sample and room, how many distinct views its live
/// clients hold.
pub fn convergence_row(line: &mut String, r: &ConvRow, n: &Names) {
    Line::new(line)
        .ms(r.t)
        .text(&n.rooms[r.room.ix()])
        .num(r.live_clients)
        .num(r.distinct_views)
        .fixed(r.agreeing_pair_fraction, 4)
        .end();
}

pub const TIMESERIES_HEADER: &str = "t_ms,server,queue_depth,in_backoff,tokens,deferred,fresh_sticky,fresh_inactionable,fresh_inactionable_bytes,fresh_flood";

/// A row of timeseries.csv: per sample and server, its queues, backoff, tokens and
/// deferred events, and what a client syncing afresh there would receive.
pub fn timeseries_row(line: &mut String, r: &SeriesRow, n: &Names) {
    Line::new(line)
        .ms(r.t)
        .text(&n.servers[r.server.ix()])
        .num(r.queue_depth)
        .flag(r.in_backoff)
        .fixed(r.tokens, 2)
        .num(r.deferred)
        .num(r.fresh.sticky)
        .num(r.fresh.inactionable)
        .num(r.fresh.inactionable_bytes)
        .num(r.fresh.flood)
        .end();
}

/// writes.csv: one row per sticky write, followed to convergence.
pub fn writes(obs: &Observer, w: &World) -> Vec<u8> {
    let pdus = &w.sh.pdus;
    let mut c =
        Csv::new("event_id,room,sender,key,sent_ms,converged_ms,time_to_converge_ms,reached_all");
    let mut list: Vec<_> = obs.open.writes.iter().collect();
    list.sort_by(|a, b| (a.sent, &pdus[a.pdu].event_id).cmp(&(b.sent, &pdus[b.pdu].event_id)));
    for x in list {
        let p = &pdus[x.pdu];
        c.row(&[
            &p.event_id,
            &w.sh.dir.rooms[p.room].name,
            &w.sh.dir.clients[p.sender].name,
            &x.key.sticky_key,
            &ms3_text(x.sent),
            &x.converged.map(ms3_text).unwrap_or_default(),
            &x.converged
                .map(|t| ms3_text(t - x.sent))
                .unwrap_or_default(),
            if x.converged.is_some() { "1" } else { "0" },
        ]);
    }
    c.into_bytes()
}

/// ghosts.csv: one row per crashed MatrixRTC participant.
pub fn ghosts(obs: &Observer, w: &World) -> Vec<u8> {
    let mut c = Csv::new("participant,room,crash_ms,gone_ms,ghost_ms");
    for (key, t, gone) in obs.open.crashes.values() {
        c.row(&[
            &key.sticky_key,
            &w.sh.dir.rooms[key.room].name,
            &ms3_text(*t),
            &gone.map(ms3_text).unwrap_or_default(),
            &gone.map(|g| ms3_text(g - t)).unwrap_or_default(),
        ]);
    }
    c.into_bytes()
}

/// The CSV files built in memory at the end of a run (deliveries.csv only in full mode,
/// ghosts.csv only with MatrixRTC participants); the big ones are streamed
/// ([`super::stream`]). `run::write` puts them all in the digest's fixed order.
pub fn in_memory(
    obs: &Observer,
    w: &World,
    deliveries_rows: Option<&[DeliveryRow]>,
) -> (Option<Vec<u8>>, Vec<u8>, Option<Vec<u8>>) {
    (
        deliveries_rows.map(|rows| deliveries(rows, w)),
        writes(obs, w),
        (obs.participants > 0).then(|| ghosts(obs, w)),
    )
}
