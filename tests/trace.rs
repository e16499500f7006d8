//! Issue "Charts, reports and traces", part 4: `--trace` writes every message in order
//! with the MSC's JSON bodies (`trace.jsonl`) and a mermaid sequence diagram
//! (`sequence.mmd`). The bodies below are worked out by hand.

mod common;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use stickysim::output::sequence::SEQUENCE_CAP;
use stickysim::run::{run_scenario, RunOptions};

struct Traced {
    run: Run,
    lines: Vec<Value>,
}

impl Traced {
    fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.lines.iter().filter(|l| l["kind"] == kind).collect()
    }
    fn text(&self, f: &str) -> String {
        std::fs::read_to_string(self.run.path(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
    }
}

fn run_traced(text: &str, unstable: bool) -> Traced {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run_scenario(
        &scenario(text),
        &RunOptions {
            out_dir: dir.path().to_path_buf(),
            trace: true,
            unstable_names: unstable,
            ..Default::default()
        },
    )
    .expect("run");
    let run = Run { dir, out };
    let body = std::fs::read_to_string(run.path("trace.jsonl")).expect("trace.jsonl");
    let lines = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    Traced { run, lines }
}

/// Two servers, 50 ms apart, clients 10 ms from their server; hs1/0 sends one sticky
/// event (key A, 1 h) at 1 s. `hs2` holds extra keys for server hs2.
fn two_servers(hs2: &str) -> String {
    format!(
        r#"
[simulation]
name = "trace_two"
seed = 11
duration = "2m"
[network]
latency = {{ dist = "constant", value = "50ms" }}
[servers.defaults]
processing = {{ dist = "constant", value = "0ms" }}
origin_processing = {{ dist = "constant", value = "0ms" }}
clients_per_server = 1
client_latency = {{ dist = "constant", value = "10ms" }}
[[servers.list]]
name = "hs1"
[[servers.list]]
name = "hs2"
{hs2}
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "script"
room = "call"
actions = [
  {{ at = "1s", client = "hs1/0", send = "sticky", key = "A", duration = "1h" }},
]
"#
    )
}

fn event_id(t: &Traced) -> String {
    let rows = t.run.csv("deliveries.csv");
    assert_eq!(rows.len(), 1, "one (event, client) pair: hs2/0");
    rows[0]["event_id"].clone()
}

#[test]
fn send_and_sync_bodies_are_the_msc_shapes_worked_out_by_hand() {
    let t = run_traced(&two_servers(""), false);
    let id = event_id(&t);

    // Every line has the five keys, and the lines are in simulated-time order.
    let mut last = -1.0;
    for l in &t.lines {
        for k in ["t_ms", "kind", "from", "to", "body"] {
            assert!(l.get(k).is_some(), "{k} missing in {l}");
        }
        let ts = l["t_ms"].as_f64().expect("t_ms");
        assert!(ts >= last, "out of order: {l}");
        last = ts;
    }

    // The client's request reaches hs1 at 1.010 s: the event is created then, by hs1's clock.
    let req = t.of_kind("room_send");
    assert_eq!(req.len(), 1);
    assert_eq!(req[0]["t_ms"], json!(1000));
    assert_eq!(
        (req[0]["from"].as_str(), req[0]["to"].as_str()),
        (Some("hs1/0"), Some("hs1"))
    );
    let http = req[0]["http"].as_str().unwrap();
    assert!(
        http.starts_with("PUT /_matrix/client/v3/rooms/!call:sim/send/m.rtc.member/")
            && http.ends_with("?sticky_duration_ms=3600000"),
        "{http}"
    );
    assert_eq!(
        req[0]["body"],
        json!({ "sticky_key": "A", "member": { "id": "A" } })
    );
    let ans = t.of_kind("room_send_response");
    assert_eq!(ans[0]["t_ms"], json!(1010));
    assert_eq!(ans[0]["status"], json!(200));
    assert_eq!(ans[0]["body"], json!({ "event_id": id }));

    // hs1 -> hs2 /send at 1.010 s, one transaction, the federation PDU shape.
    let pdu = json!({
        "event_id": id,
        "room_id": "!call:sim",
        "sender": "@u0:hs1",
        "origin_server_ts": 1010,
        "type": "m.rtc.member",
        "content": { "sticky_key": "A", "member": { "id": "A" } },
        "sticky": { "duration_ms": 3_600_000 },
        "prev_events": [],
    });
    let sends = t.of_kind("send");
    assert_eq!(sends.len(), 1);
    let s = sends[0];
    assert_eq!(s["t_ms"], json!(1010));
    assert_eq!(
        (s["from"].as_str(), s["to"].as_str()),
        (Some("hs1"), Some("hs2"))
    );
    assert_eq!(s["http"], json!("PUT /_matrix/federation/v1/send/1"));
    assert_eq!(s["attempt"], json!(1));
    assert_eq!(
        s["body"],
        json!({ "origin": "hs1", "origin_server_ts": 1010, "pdus": [pdu], "edus": [] })
    );
    // hs2 answers 200 at 1.060 s with the PDU's result.
    let resp = t.of_kind("send_response");
    assert_eq!(resp.len(), 1);
    assert_eq!(resp[0]["t_ms"], json!(1060));
    assert_eq!(
        (resp[0]["from"].as_str(), resp[0]["to"].as_str()),
        (Some("hs2"), Some("hs1"))
    );
    assert_eq!(resp[0]["status"], json!(200));
    assert_eq!(resp[0]["outcome"], json!("ok"));
    assert_eq!(resp[0]["body"], json!({ "pdus": { id.clone(): {} } }));

    // /sync: hs2/0 was long-polling; hs2 answers at 1.060 s, 50 ms after the creation,
    // so 3 600 000 - 50 ms of stickiness remain. Timeline limit 10: in the timeline.
    let client_event = |remaining: i64| {
        json!({
            "event_id": id,
            "sender": "@u0:hs1",
            "origin_server_ts": 1010,
            "type": "m.rtc.member",
            "content": { "sticky_key": "A", "member": { "id": "A" } },
            "sticky": { "duration_ms": 3_600_000 },
            "unsigned": { "sticky_duration_remaining_ms": remaining },
        })
    };
    let sync_with_event = |client: &str| -> Value {
        t.of_kind("sync_response")
            .into_iter()
            .find(|l| l["to"] == client && l["body"]["rooms"]["join"].get("!call:sim").is_some())
            .unwrap_or_else(|| panic!("no sync response with the event for {client}"))
            .clone()
    };
    let at_hs2 = sync_with_event("hs2/0");
    assert_eq!(at_hs2["t_ms"], json!(1060));
    assert_eq!(at_hs2["from"], json!("hs2"));
    assert_eq!(at_hs2["status"], json!(200));
    let room = &at_hs2["body"]["rooms"]["join"]["!call:sim"];
    assert_eq!(room["timeline"]["events"], json!([client_event(3_599_950)]));
    assert!(
        room.get("sticky").is_none(),
        "in the timeline, so not again in the sticky section"
    );
    // The sender's own client gets it from hs1 at once: the full hour remains.
    let at_hs1 = sync_with_event("hs1/0");
    assert_eq!(at_hs1["t_ms"], json!(1010));
    assert_eq!(
        at_hs1["body"]["rooms"]["join"]["!call:sim"]["timeline"]["events"],
        json!([client_event(3_600_000)])
    );
    // The client's next long-poll carries the token of that response.
    let next = at_hs2["body"]["next_batch"].as_str().unwrap().to_string();
    assert!(t.of_kind("sync").iter().any(|l| l["from"] == "hs2/0"
        && l["t_ms"] == json!(1070)
        && l["http"]
            .as_str()
            .unwrap()
            .contains(&format!("since={next}&"))));
}

#[test]
fn a_client_that_filters_the_timeline_out_gets_the_sticky_section() {
    // hs2 answers with no timeline: the event comes in rooms.join.<room>.sticky.events.
    let t = run_traced(&two_servers("sync = { timeline_limit = 0 }"), false);
    let id = event_id(&t);
    let r = t
        .of_kind("sync_response")
        .into_iter()
        .find(|l| l["to"] == "hs2/0" && l["body"]["rooms"]["join"].get("!call:sim").is_some())
        .expect("sync with the event")
        .clone();
    assert_eq!(r["t_ms"], json!(1060));
    let room = &r["body"]["rooms"]["join"]["!call:sim"];
    assert_eq!(room["timeline"]["events"], json!([]));
    assert_eq!(
        room["sticky"]["events"],
        json!([{
            "event_id": id,
            "sender": "@u0:hs1",
            "origin_server_ts": 1010,
            "type": "m.rtc.member",
            "content": { "sticky_key": "A", "member": { "id": "A" } },
            "sticky": { "duration_ms": 3_600_000 },
            "unsigned": { "sticky_duration_remaining_ms": 3_599_950 },
        }])
    );
}

#[test]
fn origin_server_ts_is_the_creating_servers_clock() {
    // hs1's clock runs 5 s ahead: origin_server_ts = 1010 + 5000 in the PDU and in the
    // /send body. hs2 bounds the start by its receipt (1060 on its clock), so the whole
    // hour remains in its sync response.
    let text = two_servers("").replace(
        "[[servers.list]]\nname = \"hs1\"\n",
        "[[servers.list]]\nname = \"hs1\"\nclock_skew = \"5s\"\n",
    );
    let t = run_traced(&text, false);
    let s = t.of_kind("send")[0];
    assert_eq!(s["body"]["origin_server_ts"], json!(6010));
    assert_eq!(s["body"]["pdus"][0]["origin_server_ts"], json!(6010));
    let r = t
        .of_kind("sync_response")
        .into_iter()
        .find(|l| l["to"] == "hs2/0" && l["body"]["rooms"]["join"].get("!call:sim").is_some())
        .expect("sync with the event");
    let ev = &r["body"]["rooms"]["join"]["!call:sim"]["timeline"]["events"][0];
    assert_eq!(ev["origin_server_ts"], json!(6010));
    assert_eq!(
        ev["unsigned"]["sticky_duration_remaining_ms"],
        json!(3_600_000)
    );
}

/// Every object key anywhere in a JSON value.
fn keys(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                out.insert(k.clone());
                keys(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        _ => {}
    }
}

#[test]
fn unstable_names_are_the_msc_unstable_prefix() {
    let t = run_traced(&two_servers("sync = { timeline_limit = 0 }"), true);
    let id = event_id(&t);
    let s = t.of_kind("send")[0];
    let pdu = &s["body"]["pdus"][0];
    assert_eq!(pdu["event_id"], json!(id));
    assert_eq!(pdu["msc4354_sticky"], json!({ "duration_ms": 3_600_000 }));
    assert_eq!(pdu["content"]["msc4354_sticky_key"], json!("A"));
    let r = t
        .of_kind("sync_response")
        .into_iter()
        .find(|l| l["to"] == "hs2/0" && l["body"]["rooms"]["join"].get("!call:sim").is_some())
        .expect("sync with the event");
    let ev = &r["body"]["rooms"]["join"]["!call:sim"]["msc4354_sticky"]["events"][0];
    assert_eq!(
        ev["unsigned"],
        json!({ "msc4354_sticky_duration_ttl_ms": 3_599_950 })
    );
    assert_eq!(ev["msc4354_sticky"], json!({ "duration_ms": 3_600_000 }));
    let http = t.of_kind("room_send")[0]["http"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        http.ends_with("?org.matrix.msc4354.sticky_duration_ms=3600000"),
        "{http}"
    );
    // No stable name anywhere.
    let mut all = BTreeSet::new();
    for l in &t.lines {
        keys(l, &mut all);
    }
    for stable in ["sticky", "sticky_key", "sticky_duration_remaining_ms"] {
        assert!(
            !all.contains(stable),
            "stable name {stable} in the unstable trace"
        );
    }
    assert!(!t.text("trace.jsonl").contains("?sticky_duration_ms="));
}

#[test]
fn tracing_changes_no_result_and_is_deterministic() {
    let text = two_servers("");
    let plain = run(&text);
    let a = run_traced(&text, false);
    let b = run_traced(&text, false);
    assert_eq!(plain.out.digest, a.run.out.digest);
    assert_eq!(a.text("trace.jsonl"), b.text("trace.jsonl"));
    assert_eq!(a.text("sequence.mmd"), b.text("sequence.mmd"));
}

/// A mermaid line, checked against the grammar the diagram uses.
enum Line {
    Participant(String),
    Arrow(String, String, String),
    Note(Vec<String>, String),
    Comment,
}

fn parse_mmd(text: &str) -> Vec<Line> {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("sequenceDiagram"));
    lines
        .map(|l| {
            let l = l.trim();
            if l.starts_with("%%") {
                return Line::Comment;
            }
            if let Some(rest) = l.strip_prefix("participant ") {
                let id = rest.split(" as ").next().unwrap().to_string();
                assert!(
                    id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "participant id {id}"
                );
                return Line::Participant(id);
            }
            if let Some(rest) = l.strip_prefix("Note over ") {
                let (who, text) = rest.split_once(": ").unwrap_or_else(|| panic!("{l}"));
                return Line::Note(who.split(',').map(String::from).collect(), text.into());
            }
            let (head, text) = l
                .split_once(": ")
                .unwrap_or_else(|| panic!("not mermaid: {l}"));
            let (a, b) = head
                .split_once("-->>")
                .or_else(|| head.split_once("->>"))
                .unwrap_or_else(|| panic!("not an arrow: {l}"));
            Line::Arrow(a.into(), b.into(), text.into())
        })
        .collect()
}

/// Seconds in a `[12.345s]` stamp.
fn stamp(text: &str) -> Option<f64> {
    let s = text.strip_prefix('[')?;
    s[..s.find("s]")?].parse().ok()
}

fn crash_scenario() -> String {
    r#"
[simulation]
name = "trace_crash"
seed = 3
duration = "20m"
[network]
latency = { dist = "constant", value = "50ms" }
[servers]
count = 2
[servers.defaults]
processing = { dist = "constant", value = "0ms" }
origin_processing = { dist = "constant", value = "0ms" }
clients_per_server = 1
client_latency = { dist = "constant", value = "10ms" }
[servers.defaults.federation]
retries = { count = 2 }
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "script"
room = "call"
actions = [
  { at = "1s", client = "hs1/0", send = "sticky", key = "S", duration = "10m" },
  { at = "20s", server = "hs2", do = "crash" },
  { at = "30s", client = "hs1/0", send = "sticky", key = "S", duration = "5m" },
  { at = "60s", server = "hs2", do = "restart" },
]
"#
    .into()
}

#[test]
fn the_sequence_diagram_parses_and_lists_the_messages_in_time_order() {
    let t = run_traced(&crash_scenario(), false);
    let mmd = t.text("sequence.mmd");
    let lines = parse_mmd(&mmd);
    let declared: Vec<&String> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Participant(p) => Some(p),
            _ => None,
        })
        .collect();
    // Servers first, then clients.
    assert_eq!(declared, ["hs1", "hs2", "hs1_0", "hs2_0"], "{mmd}");
    let mut last = 0.0;
    let mut texts = vec![];
    for l in &lines {
        let (who, text) = match l {
            Line::Arrow(a, b, x) => (vec![a.clone(), b.clone()], x),
            Line::Note(w, x) => (w.clone(), x),
            _ => continue,
        };
        for w in &who {
            assert!(declared.contains(&w), "{w} not declared:\n{mmd}");
        }
        let s = stamp(text).unwrap_or_else(|| panic!("no time stamp: {text}"));
        assert!(s >= last, "not in time order: {text}");
        last = s;
        texts.push(text.clone());
    }
    // The story, in order: S sent and delivered; hs2 crashes; S' is refused and retried;
    // hs2 comes back; the sticky events expire at their origin.
    let want = [
        "[1s] send sticky S (10m)",
        "[1.01s] /send txn 1: sticky S (10m)",
        "[1.06s] txn 1: 200 OK",
        "[1.06s] sync timeline: sticky S (9m59.95s left)",
        "[20s] crashes",
        "[30.01s] /send txn 2: sticky S (5m)",
        "[30.06s] txn 2: connection refused",
        "retry 1: sticky S (5m)",
        "[60s] back up",
        "[330.01s] sticky S expires",
        "[601.01s] sticky S expires",
    ];
    let mut at = 0;
    for w in want {
        let i = texts[at..]
            .iter()
            .position(|x| x.contains(w))
            .unwrap_or_else(|| panic!("`{w}` not found after item {at}:\n{mmd}"));
        at += i + 1;
    }
    // Empty long-poll answers are left out; the trace has them.
    assert!(!mmd.contains("sync timeline: \n"));
    assert!(t
        .of_kind("sync_response")
        .iter()
        .any(|l| l["body"]["rooms"]["join"] == json!({})));
    assert!(!mmd.contains("more messages not shown"));
}

#[test]
fn the_diagram_is_capped_with_a_note() {
    // 200 sticky events, one per transaction: far more than the cap.
    let text = r#"
[simulation]
name = "trace_cap"
seed = 1
duration = "2m"
[network]
latency = { dist = "constant", value = "20ms" }
[servers]
count = 2
[servers.defaults]
processing = { dist = "constant", value = "0ms" }
origin_processing = { dist = "constant", value = "0ms" }
clients_per_server = 1
client_latency = { dist = "constant", value = "5ms" }
[servers.defaults.federation]
max_pdus_per_txn = 1
[servers.defaults.inbound]
policy = "unlimited"
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "spam"
room = "call"
client = "hs1/0"
rate = 10.0
count = 200
start = "1s"
duration = "10m"
"#;
    let t = run_traced(text, false);
    let mmd = t.text("sequence.mmd");
    let lines = parse_mmd(&mmd);
    let items = lines
        .iter()
        .filter(|l| matches!(l, Line::Arrow(..) | Line::Note(..)))
        .count();
    assert_eq!(items, SEQUENCE_CAP + 1, "the cap, then the note");
    let last = mmd.lines().last().unwrap();
    assert!(
        last.starts_with("    Note over hs1,hs2_0: … ")
            && last.contains(" more messages not shown"),
        "{last}"
    );
    let n: usize = last
        .split("… ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .expect("a count");
    assert!(n > 200, "{n} hidden");
    // The trace itself is complete: one /send and one answer per event.
    assert_eq!(t.of_kind("send").len(), 200);
    assert_eq!(t.of_kind("send_response").len(), 200);
}
