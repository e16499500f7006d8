//! `--trace-filter`: which lines of the trace (and so of `sequence.mmd`) to keep.
//!
//! Syntax: comma-separated terms, `t=FROM..TO` (either end may be left out: `t=..5m`,
//! `t=30m..`), `server=NAME`, `room=NAME` (the scenario's room name or its `!name:sim`
//! id) and `key=STICKY_KEY`. A line must pass every kind of term given; several terms of
//! one kind (`server=hs1,server=hs2`) keep a line matching any of them.
//!
//! Fault notes (crash, restart, partition, offline, online) have no room or key: `room=`
//! and `key=` keep them as context; `t=` and `server=` apply to them. A `/send` answer is
//! kept when the `/send` it answers was kept.

use super::TraceMsg;
use crate::kernel::Time;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A parsed `--trace-filter`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceFilter {
    /// Simulated time window, µs, both ends included.
    pub from: Option<Time>,
    pub to: Option<Time>,
    pub servers: Vec<String>,
    pub rooms: Vec<String>,
    pub keys: Vec<String>,
}

const SYNTAX: &str = "expected comma-separated terms t=FROM..TO, server=NAME, room=NAME, key=KEY (e.g. `t=10s..2m,server=hs1,key=A`)";

impl TraceFilter {
    /// Parses one or more `--trace-filter` values (each may hold several terms).
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<TraceFilter, String> {
        let mut f = TraceFilter::default();
        let mut window_seen = false;
        for spec in specs {
            let spec = spec.as_ref();
            for term in spec.split(',').map(str::trim) {
                if term.is_empty() {
                    return Err(format!("--trace-filter `{spec}`: empty term; {SYNTAX}"));
                }
                let Some((name, value)) = term.split_once('=') else {
                    return Err(format!(
                        "--trace-filter `{spec}`: `{term}` has no `=`; {SYNTAX}"
                    ));
                };
                let (name, value) = (name.trim(), value.trim());
                if value.is_empty() {
                    return Err(format!("--trace-filter `{spec}`: `{name}=` needs a value"));
                }
                match name {
                    "t" | "time" => {
                        if window_seen {
                            return Err(format!(
                                "--trace-filter `{spec}`: only one time window (t=FROM..TO) may be given"
                            ));
                        }
                        window_seen = true;
                        let (a, b) = parse_window(value)
                            .map_err(|e| format!("--trace-filter `{spec}`: `{term}`: {e}"))?;
                        f.from = a;
                        f.to = b;
                    }
                    "server" => f.servers.push(value.to_string()),
                    "room" => f.rooms.push(value.to_string()),
                    "key" => f.keys.push(value.to_string()),
                    other => {
                        return Err(format!(
                            "--trace-filter `{spec}`: unknown term `{other}`; {SYNTAX}"
                        ))
                    }
                }
            }
        }
        Ok(f)
    }

    /// The filter as one line (`t=10s..2m, server=hs1`), for the diagram's header.
    pub fn describe(&self) -> String {
        let mut parts = vec![];
        if self.from.is_some() || self.to.is_some() {
            let end = |t: Option<Time>| {
                t.map(|t| crate::output::sequence::human_ms((t / 1000) as i64))
                    .unwrap_or_default()
            };
            parts.push(format!("t={}..{}", end(self.from), end(self.to)));
        }
        for (what, v) in [
            ("server", &self.servers),
            ("room", &self.rooms),
            ("key", &self.keys),
        ] {
            parts.extend(v.iter().map(|x| format!("{what}={x}")));
        }
        parts.join(", ")
    }

    /// Names the scenario does not have (servers and rooms), as one message.
    pub fn check_names(
        &self,
        servers: &[String],
        rooms: &[(String, String)],
    ) -> Result<(), String> {
        let mut bad = vec![];
        for s in &self.servers {
            if !servers.contains(s) {
                bad.push(format!("no server `{s}`"));
            }
        }
        for r in &self.rooms {
            if !rooms.iter().any(|(name, id)| name == r || id == r) {
                let names: Vec<&str> = rooms.iter().map(|x| x.0.as_str()).collect();
                bad.push(format!("no room `{r}` (rooms: {})", names.join(", ")));
            }
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(format!("--trace-filter: {}", bad.join("; ")))
        }
    }

    /// The lines that pass, in their order. `client_server` gives each client's server;
    /// `rooms` (name, id) each room's id.
    pub fn apply(
        &self,
        trace: Vec<TraceMsg>,
        client_server: &BTreeMap<String, String>,
        rooms: &[(String, String)],
    ) -> Vec<TraceMsg> {
        let room_ids: Vec<&str> = self
            .rooms
            .iter()
            .map(|r| {
                rooms
                    .iter()
                    .find(|(name, _)| name == r)
                    .map_or(r.as_str(), |(_, id)| id.as_str())
            })
            .collect();
        // `/send` transactions kept, as (origin, destination, txn), to keep their answers.
        let mut sends: BTreeSet<(String, String, String)> = BTreeSet::new();
        let mut out = vec![];
        for m in trace {
            let keep = self.in_window(m.t)
                && self.server_ok(&m, client_server)
                && match m.kind {
                    "send_response" => {
                        sends.contains(&(m.to.clone(), m.from.clone(), txn(&m).to_string()))
                    }
                    _ if is_fault_note(m.kind) => true,
                    _ => self.room_ok(&m, &room_ids) && self.key_ok(&m),
                };
            if keep {
                if m.kind == "send" {
                    sends.insert((m.from.clone(), m.to.clone(), txn(&m).to_string()));
                }
                out.push(m);
            }
        }
        out
    }

    fn in_window(&self, t: Time) -> bool {
        self.from.is_none_or(|a| t >= a) && self.to.is_none_or(|b| t <= b)
    }

    fn server_ok(&self, m: &TraceMsg, client_server: &BTreeMap<String, String>) -> bool {
        if self.servers.is_empty() {
            return true;
        }
        let server_of = |n: &str| client_server.get(n).map_or(n, String::as_str).to_string();
        let mut involved = vec![server_of(&m.from), server_of(&m.to)];
        if let Some(list) = m.body.get("servers").and_then(Value::as_array) {
            involved.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
        }
        self.servers.iter().any(|s| involved.contains(s))
    }

    fn room_ok(&self, m: &TraceMsg, room_ids: &[&str]) -> bool {
        if room_ids.is_empty() {
            return true;
        }
        let http = m.meta("http").and_then(Value::as_str).unwrap_or("");
        room_ids.iter().any(|id| {
            http.contains(id)
                || any_string_at(&m.body, &["room_id"], id)
                || m.body
                    .pointer("/rooms/join")
                    .and_then(Value::as_object)
                    .is_some_and(|j| j.contains_key(*id))
        })
    }

    fn key_ok(&self, m: &TraceMsg) -> bool {
        self.keys.is_empty()
            || self
                .keys
                .iter()
                .any(|k| any_string_at(&m.body, &["sticky_key", "msc4354_sticky_key"], k))
    }
}

fn is_fault_note(kind: &str) -> bool {
    matches!(
        kind,
        "crash" | "restart" | "partition_start" | "partition_end" | "offline" | "online"
    )
}

fn txn(m: &TraceMsg) -> &str {
    m.meta("http")
        .and_then(Value::as_str)
        .and_then(|h| h.rsplit('/').next())
        .unwrap_or("")
}

/// Whether `v` holds, at any depth, one of `keys` with the string value `want`.
fn any_string_at(v: &Value, keys: &[&str], want: &str) -> bool {
    match v {
        Value::Object(o) => o.iter().any(|(k, x)| {
            (keys.contains(&k.as_str()) && x.as_str() == Some(want)) || any_string_at(x, keys, want)
        }),
        Value::Array(a) => a.iter().any(|x| any_string_at(x, keys, want)),
        _ => false,
    }
}

/// `FROM..TO` with durations from the start of the run; either end may be empty.
fn parse_window(v: &str) -> Result<(Option<Time>, Option<Time>), String> {
    let Some((a, b)) = v.split_once("..") else {
        return Err("a time window is FROM..TO (e.g. 10s..2m, ..5m, 30m..)".into());
    };
    let end = |s: &str| -> Result<Option<Time>, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        let us = crate::scenario::duration::parse_duration_us(s)?;
        if us < 0 {
            return Err(format!("`{s}` is before the start of the run"));
        }
        Ok(Some(us as Time))
    };
    let (a, b) = (end(a)?, end(b)?);
    if let (Some(x), Some(y)) = (a, b) {
        if x > y {
            return Err("the window ends before it starts".into());
        }
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(t_ms: u64, kind: &'static str, from: &str, to: &str, body: Value) -> TraceMsg {
        TraceMsg {
            t: t_ms * 1000,
            kind,
            from: from.into(),
            to: to.into(),
            meta: vec![],
            body,
        }
    }

    #[test]
    fn parses_every_term() {
        let f = TraceFilter::parse(&["t=10s..2m, server=hs1", "room=r,key=A,key=B"]).unwrap();
        assert_eq!(f.from, Some(10_000_000));
        assert_eq!(f.to, Some(120_000_000));
        assert_eq!(f.servers, ["hs1"]);
        assert_eq!(f.rooms, ["r"]);
        assert_eq!(f.keys, ["A", "B"]);
        assert_eq!(f.describe(), "t=10s..2m, server=hs1, room=r, key=A, key=B");
        let open = TraceFilter::parse(&["t=..5m"]).unwrap();
        assert_eq!((open.from, open.to), (None, Some(300_000_000)));
        let open = TraceFilter::parse(&["t=1h30m.."]).unwrap();
        assert_eq!((open.from, open.to), (Some(5_400_000_000), None));
    }

    #[test]
    fn bad_syntax_is_named() {
        let err = |s: &str| TraceFilter::parse(&[s]).unwrap_err();
        assert!(err("hs1").contains("`hs1` has no `=`"), "{}", err("hs1"));
        assert!(err("user=x").contains("unknown term `user`"));
        assert!(err("t=10s").contains("FROM..TO"));
        assert!(err("t=2m..10s").contains("ends before it starts"));
        assert!(err("t=-5s..").contains("before the start"));
        assert!(
            err("t=ten..").contains("not a duration"),
            "{}",
            err("t=ten..")
        );
        assert!(err("t=1s..,t=..2s").contains("only one time window"));
        assert!(err("key=").contains("needs a value"));
        assert!(err("key=A,").contains("empty term"));
    }

    #[test]
    fn unknown_servers_and_rooms_are_refused() {
        let f = TraceFilter::parse(&["server=hs9,room=lobby"]).unwrap();
        let rooms = [("r".to_string(), "!r:sim".to_string())];
        let e = f.check_names(&["hs1".into()], &rooms).unwrap_err();
        assert_eq!(
            e,
            "--trace-filter: no server `hs9`; no room `lobby` (rooms: r)"
        );
        let ok = TraceFilter::parse(&["server=hs1,room=!r:sim"]).unwrap();
        assert_eq!(ok.check_names(&["hs1".into()], &rooms), Ok(()));
    }

    #[test]
    fn keeps_what_matches() {
        let clients: BTreeMap<String, String> = [("hs2/0".to_string(), "hs2".to_string())].into();
        let rooms = [("r".to_string(), "!r:sim".to_string())];
        let ev = |key: &str| json!({"room_id": "!r:sim", "content": {"sticky_key": key}});
        let mut send = msg(5_000, "send", "hs1", "hs2", json!({"pdus": [ev("A")]}));
        send.meta = vec![("http", json!("PUT /_matrix/federation/v1/send/7"))];
        let mut answer = msg(5_050, "send_response", "hs2", "hs1", json!({}));
        answer.meta = vec![("http", json!("PUT /_matrix/federation/v1/send/7"))];
        let trace = vec![
            msg(1_000, "crash", "hs3", "hs3", json!({"server": "hs3"})),
            send,
            answer,
            msg(
                6_000,
                "sync_response",
                "hs2",
                "hs2/0",
                json!({"rooms": {"join": {"!r:sim": {"x": [ev("B")]}}}}),
            ),
            msg(200_000, "send", "hs1", "hs2", json!({"pdus": [ev("A")]})),
        ];
        let kinds = |f: &str| -> Vec<(u64, &'static str)> {
            TraceFilter::parse(&[f])
                .unwrap()
                .apply(trace.clone(), &clients, &rooms)
                .iter()
                .map(|m| (m.t / 1000, m.kind))
                .collect()
        };
        // key=A: the /send carrying A and its answer (by txn), the crash as context.
        assert_eq!(
            kinds("key=A,t=..1m"),
            [(1_000, "crash"), (5_000, "send"), (5_050, "send_response")]
        );
        // server=hs2 matches its client hs2/0 too; not hs3's crash.
        assert_eq!(
            kinds("server=hs2,t=2s..10s"),
            [
                (5_000, "send"),
                (5_050, "send_response"),
                (6_000, "sync_response")
            ]
        );
        // room by name: every line mentioning !r:sim, and the fault note.
        assert_eq!(kinds("room=r").len(), 5);
        assert_eq!(kinds("key=B"), [(1_000, "crash"), (6_000, "sync_response")]);
    }
}
