//! `sequence.mmd`: the traced messages as a mermaid `sequenceDiagram`, like the MSC's own
//! diagrams (`HS1->>HS2: Sticky event S (1h sticky)`), capped at [`SEQUENCE_CAP`] items.
//!
//! Participants: servers, then clients, in the run's order, only those the shown items
//! use. Requests and sync responses are solid arrows (`->>`), other answers dotted
//! (`-->>`); timeouts, crashes, partitions, clients going offline and sticky events
//! expiring at their origin are notes. Left out: `/sync` requests, sync responses
//! carrying no event (empty long-poll timeouts), repeated sync failures while a server
//! is down, and the answers to client requests.

use super::trace::TraceMsg;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// At most this many arrows and notes; then one note says how many were left out.
pub const SEQUENCE_CAP: usize = 300;

/// A duration in ms as people write it: `1h`, `10m`, `59m59.95s`, `250ms`.
pub fn human_ms(ms: i64) -> String {
    if ms < 0 {
        return format!("-{}", human_ms(ms.saturating_neg()));
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let h = ms / 3_600_000;
    let m = ms / 60_000 % 60;
    let s_ms = ms % 60_000;
    let mut out = String::new();
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if m > 0 {
        let _ = write!(out, "{m}m");
    }
    if s_ms > 0 {
        if s_ms % 1000 == 0 {
            let _ = write!(out, "{}s", s_ms / 1000);
        } else {
            let frac = format!("{:03}", s_ms % 1000);
            let _ = write!(out, "{}.{}s", s_ms / 1000, frac.trim_end_matches('0'));
        }
    }
    out
}

/// Simulated time as `[12.345s]`.
fn stamp(t_us: u64) -> String {
    let ms = t_us / 1000;
    let frac = format!("{:03}", ms % 1000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("[{}s]", ms / 1000)
    } else {
        format!("[{}.{}s]", ms / 1000, frac)
    }
}

/// Mermaid message text: one line, with `;` and `#` written as entity codes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

const KEYWORDS: [&str; 26] = [
    "end",
    "participant",
    "actor",
    "note",
    "loop",
    "alt",
    "else",
    "opt",
    "par",
    "and",
    "rect",
    "activate",
    "deactivate",
    "autonumber",
    "title",
    "box",
    "critical",
    "break",
    "over",
    "left",
    "right",
    "of",
    "as",
    "create",
    "destroy",
    "links",
];

/// A mermaid-safe participant ID for a name (`hs1/0` -> `hs1_0`), unique among `used`.
fn participant_id(name: &str, used: &mut Vec<String>) -> String {
    let mut id: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if id.is_empty()
        || id.starts_with(|c: char| c.is_ascii_digit())
        || KEYWORDS.contains(&id.to_ascii_lowercase().as_str())
    {
        id = format!("p_{id}");
    }
    let base = id.clone();
    let mut n = 2;
    while used.contains(&id) {
        id = format!("{base}_{n}");
        n += 1;
    }
    used.push(id.clone());
    id
}

fn get<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| v.get(*k))
}

fn str_of<'a>(v: &'a Value, keys: &[&str]) -> &'a str {
    get(v, keys).and_then(Value::as_str).unwrap_or("")
}

/// A short label for one event (PDU or client event): `sticky A (1h)`, `leave A (1h)`,
/// `message`, `join @u0:hs3`, `power_levels`; with `remaining`: `(59m59.95s left)`.
fn event_label(e: &Value, with_remaining: bool) -> String {
    let ty = str_of(e, &["type"]);
    let content = e.get("content").unwrap_or(&Value::Null);
    if let Some(sticky) = get(e, &["sticky", "msc4354_sticky"]) {
        let key = str_of(content, &["sticky_key", "msc4354_sticky_key"]);
        let leave = content.as_object().is_some_and(|o| o.len() <= 1);
        let word = if leave { "leave" } else { "sticky" };
        let word = if ty == "m.rtc.member" {
            word.to_string()
        } else {
            format!("{ty} {word}")
        };
        let dur = match sticky.get("duration_ms").and_then(Value::as_i64) {
            Some(d) => human_ms(d),
            None => "invalid duration".into(),
        };
        let rem = e
            .get("unsigned")
            .and_then(|u| {
                get(
                    u,
                    &[
                        "sticky_duration_remaining_ms",
                        "msc4354_sticky_duration_ttl_ms",
                    ],
                )
            })
            .and_then(Value::as_i64);
        return match (with_remaining, rem) {
            (true, Some(r)) => format!("{word} {key} ({} left)", human_ms(r)),
            (true, None) => format!("{word} {key} (expired)"),
            _ => format!("{word} {key} ({dur})"),
        };
    }
    match ty {
        "m.room.message" => "message".into(),
        "m.room.member" => format!(
            "{} {}",
            str_of(content, &["membership"]),
            str_of(e, &["state_key"])
        ),
        "m.room.power_levels" => "power_levels".into(),
        other => other.to_string(),
    }
}

/// Up to three labels, then `+N more`.
fn labels(events: &[Value], with_remaining: bool) -> String {
    let mut parts: Vec<String> = events
        .iter()
        .take(3)
        .map(|e| event_label(e, with_remaining))
        .collect();
    if events.len() > 3 {
        parts.push(format!("+{} more", events.len() - 3));
    }
    parts.join(", ")
}

fn txn_of(m: &TraceMsg) -> &str {
    m.meta("http")
        .and_then(Value::as_str)
        .and_then(|h| h.rsplit('/').next())
        .unwrap_or("?")
}

fn events_of<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], |a| a.as_slice())
}

/// One diagram item: an arrow between two names, or a note over one or two names.
enum Item {
    Arrow {
        from: String,
        to: String,
        dotted: bool,
        /// Ends in a cross: it arrived but was never read (`--x`).
        crossed: bool,
        text: String,
    },
    Note {
        over: Vec<String>,
        text: String,
    },
}

fn item_of(m: &TraceMsg) -> Option<Item> {
    let at = stamp(m.t);
    let lost = if m.meta("lost").and_then(Value::as_bool) == Some(true) {
        " (lost)"
    } else {
        ""
    };
    let arrow = |dotted: bool, text: String| Item::Arrow {
        from: m.from.clone(),
        to: m.to.clone(),
        dotted,
        crossed: false,
        text: format!("{at} {text}{lost}"),
    };
    let note = |over: Vec<String>, text: String| Item::Note {
        over,
        text: format!("{at} {text}"),
    };
    let b = &m.body;
    Some(match m.kind {
        "send" => {
            let attempt = m.meta("attempt").and_then(Value::as_u64).unwrap_or(1);
            let retry = if attempt > 1 {
                format!(" retry {}", attempt - 1)
            } else {
                String::new()
            };
            arrow(
                false,
                format!(
                    "/send txn {}{retry}: {}",
                    txn_of(m),
                    labels(events_of(b, "pdus"), false)
                ),
            )
        }
        "send_response" => {
            let txn = txn_of(m);
            match m.meta("outcome").and_then(Value::as_str).unwrap_or("") {
                "timeout" => note(vec![m.to.clone()], format!("txn {txn} timed out")),
                "ok" => arrow(true, format!("txn {txn}: 200 OK")),
                "rate_limited" => {
                    let ra = b.get("retry_after_ms").and_then(Value::as_i64).unwrap_or(0);
                    arrow(
                        true,
                        format!("txn {txn}: 429 (retry after {})", human_ms(ra)),
                    )
                }
                "refused" => arrow(true, format!("txn {txn}: connection refused")),
                other => {
                    let st = m.meta("status").and_then(Value::as_u64).unwrap_or(0);
                    arrow(true, format!("txn {txn}: {st} {other}"))
                }
            }
        }
        "sync_response" => {
            if m.meta("status").is_some_and(Value::is_null) {
                return Some(arrow(true, "sync: server unavailable".into()));
            }
            let mut timeline = vec![];
            let mut sticky = vec![];
            if let Some(rooms) = b.pointer("/rooms/join").and_then(Value::as_object) {
                for r in rooms.values() {
                    if let Some(t) = r.pointer("/timeline/events").and_then(Value::as_array) {
                        timeline.extend(t.iter().cloned());
                    }
                    if let Some(s) = get(r, &["sticky", "msc4354_sticky"])
                        .and_then(|s| s.get("events"))
                        .and_then(Value::as_array)
                    {
                        sticky.extend(s.iter().cloned());
                    }
                }
            }
            if timeline.is_empty() && sticky.is_empty() {
                return None; // an empty long-poll answer
            }
            let mut parts = vec![];
            if !timeline.is_empty() {
                parts.push(format!("timeline: {}", labels(&timeline, true)));
            }
            if !sticky.is_empty() {
                parts.push(format!("sticky: {}", labels(&sticky, true)));
            }
            let text = format!("sync {}", parts.join(" | "));
            match m.meta("unreceived").and_then(Value::as_str) {
                // Sent and arrived, but the client never read it: a crossed arrow.
                Some(why) => Item::Arrow {
                    from: m.from.clone(),
                    to: m.to.clone(),
                    dotted: true,
                    crossed: true,
                    text: format!("{at} {text} (never received: {why})"),
                },
                None => arrow(false, text),
            }
        }
        "sync" => return None,
        "room_send" | "room_state" | "join" | "leave" | "delayed_send" | "delayed_update" => {
            let http = m.meta("http").and_then(Value::as_str).unwrap_or("");
            let path = http.split('?').next().unwrap_or("");
            let text = match m.kind {
                "room_send" => {
                    let ty = path.rsplit('/').nth(1).unwrap_or("");
                    let key = str_of(b, &["sticky_key", "msc4354_sticky_key"]);
                    let dur = http
                        .split('?')
                        .nth(1)
                        .and_then(|q| q.rsplit('=').next())
                        .and_then(|d| d.parse::<i64>().ok());
                    match dur {
                        Some(d) => {
                            let word = if b.as_object().is_some_and(|o| o.len() <= 1) {
                                "leave"
                            } else {
                                "sticky"
                            };
                            let word = if ty == "m.rtc.member" {
                                word.to_string()
                            } else {
                                format!("{ty} {word}")
                            };
                            format!("send {word} {key} ({})", human_ms(d))
                        }
                        None if ty == "m.room.message" => "send message".into(),
                        None => format!("send {ty} {key}"),
                    }
                }
                "room_state" => "set power_levels".into(),
                "join" => "join room".into(),
                "leave" => "leave room".into(),
                "delayed_send" => {
                    let key = str_of(b, &["sticky_key", "msc4354_sticky_key"]);
                    let delay = http
                        .split(['?', '&'])
                        .find_map(|kv| {
                            kv.strip_prefix("delay=")
                                .or_else(|| kv.strip_prefix("org.matrix.msc4140.delay="))
                        })
                        .and_then(|d| d.parse::<i64>().ok())
                        .unwrap_or(0);
                    format!("schedule delayed leave {key} in {}", human_ms(delay))
                }
                _ => {
                    let mut segs = path.rsplit('/');
                    let action = segs.next().unwrap_or("");
                    let id = segs.next().unwrap_or("");
                    format!("{action} delayed leave {id}")
                }
            };
            arrow(false, text)
        }
        k if k.ends_with("_response")
            && !k.starts_with("get_missing")
            && k != "send_join_response" =>
        {
            return None; // answers to client requests
        }
        "get_missing_events" => {
            let n = events_of(b, "latest_events").len();
            arrow(false, format!("get_missing_events ({n} missing)"))
        }
        "get_missing_events_response" => {
            let evs = events_of(b, "events");
            if evs.is_empty() {
                arrow(true, "0 events".into())
            } else {
                let n = evs.len();
                let s = if n == 1 { "" } else { "s" };
                arrow(true, format!("{n} event{s}: {}", labels(evs, false)))
            }
        }
        "send_join" => arrow(false, format!("send_join {}", str_of(b, &["state_key"]))),
        "send_join_response" => {
            let n = events_of(b, "state")
                .iter()
                .filter(|e| str_of(e, &["type"]) == "m.room.member")
                .count();
            arrow(true, format!("send_join: state ({n} members)"))
        }
        "crash" => note(vec![m.from.clone()], "crashes".into()),
        "restart" => note(vec![m.from.clone()], "back up".into()),
        "offline" => note(vec![m.from.clone()], "goes offline".into()),
        "online" => note(vec![m.from.clone()], "back online".into()),
        "partition_start" | "partition_end" => {
            let names: Vec<&str> = events_of(b, "servers")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let what = if m.kind == "partition_start" {
                "partitioned from the rest"
            } else {
                "partition heals"
            };
            let mut over = vec![m.from.clone()];
            if m.to != m.from {
                over.push(m.to.clone());
            }
            note(over, format!("{}: {what}", names.join(", ")))
        }
        "expire" => {
            let key = str_of(b, &["sticky_key"]);
            let word = if b.get("leave").and_then(Value::as_bool) == Some(true) {
                "leave"
            } else {
                "sticky"
            };
            note(vec![m.from.clone()], format!("{word} {key} expires"))
        }
        "delayed_fire" => {
            let key = str_of(b, &["sticky_key"]);
            note(vec![m.from.clone()], format!("delayed leave {key} fires"))
        }
        other => {
            if m.from == m.to {
                note(vec![m.from.clone()], other.to_string())
            } else {
                arrow(false, other.to_string())
            }
        }
    })
}

/// The diagram of a time-ordered trace. `servers` and `clients` give the participants'
/// order (names outside both come last, in order of appearance).
pub fn render(trace: &[TraceMsg], servers: &[String], clients: &[String], cap: usize) -> String {
    // A client whose server is down retries its sync every few seconds: show the first
    // failure only, until a sync succeeds again.
    let mut failing: Vec<&str> = vec![];
    let mut items: Vec<Item> = vec![];
    for m in trace {
        if m.kind == "sync_response" {
            let failed = m.meta("status").is_some_and(Value::is_null);
            let was = failing.iter().position(|c| *c == m.to);
            match (failed, was) {
                (true, Some(_)) => continue,
                (true, None) => failing.push(&m.to),
                (false, Some(i)) => {
                    failing.swap_remove(i);
                }
                (false, None) => {}
            }
        }
        items.extend(item_of(m));
    }
    let shown = &items[..items.len().min(cap)];
    let hidden = items.len() - shown.len();
    // Participants used by the shown items, in a stable order: servers, clients, others.
    let mut used: Vec<&str> = vec![];
    for it in shown {
        let names: Vec<&str> = match it {
            Item::Arrow { from, to, .. } => vec![from, to],
            Item::Note { over, .. } => over.iter().map(|s| s.as_str()).collect(),
        };
        for n in names {
            if !used.contains(&n) {
                used.push(n);
            }
        }
    }
    let rank = |n: &str| -> (usize, usize) {
        if let Some(i) = servers.iter().position(|s| s == n) {
            (0, i)
        } else if let Some(i) = clients.iter().position(|c| c == n) {
            (1, i)
        } else {
            (2, 0)
        }
    };
    let mut order: Vec<(usize, &str)> = used.iter().enumerate().map(|(i, n)| (i, *n)).collect();
    order.sort_by_key(|(i, n)| (rank(n), *i));
    let mut taken = vec![];
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    let mut out = String::from("sequenceDiagram\n");
    out.push_str("    %% stickysim --trace: the messages of trace.jsonl in time order ([seconds] of simulated time).\n");
    out.push_str("    %% Left out: /sync requests, sync responses carrying no event (empty long-poll timeouts),\n");
    out.push_str("    %% repeated sync failures while a server is down, and the answers to client requests.\n");
    out.push_str(
        "    %% Dotted arrows are answers; (lost) marks a message the network lost; a crossed\n",
    );
    out.push_str(
        "    %% arrow (--x) a sync response that arrived but its client never read (offline).\n",
    );
    for (_, name) in &order {
        let id = participant_id(name, &mut taken);
        if id == *name {
            let _ = writeln!(out, "    participant {id}");
        } else {
            let _ = writeln!(out, "    participant {id} as {}", escape(name));
        }
        ids.insert(name, id);
    }
    let id = |n: &str| ids.get(n).cloned().unwrap_or_default();
    for it in shown {
        match it {
            Item::Arrow {
                from,
                to,
                dotted,
                crossed,
                text,
            } => {
                let a = match (*dotted, *crossed) {
                    (true, true) => "--x",
                    (false, true) => "-x",
                    (true, false) => "-->>",
                    (false, false) => "->>",
                };
                let _ = writeln!(out, "    {}{a}{}: {}", id(from), id(to), escape(text));
            }
            Item::Note { over, text } => {
                let over: Vec<String> = over.iter().map(|n| id(n)).collect();
                let _ = writeln!(out, "    Note over {}: {}", over.join(","), escape(text));
            }
        }
    }
    if hidden > 0 {
        let first = order.first().map(|(_, n)| id(n));
        let last = order.last().map(|(_, n)| id(n));
        let over = match (first, last) {
            (Some(a), Some(b)) if a != b => format!("{a},{b}"),
            (Some(a), _) => a,
            _ => {
                // Nothing shown at all (cap 0): declare one participant for the note.
                let n = trace.first().map_or("trace", |m| m.from.as_str());
                let pid = participant_id(n, &mut taken);
                let _ = writeln!(out, "    participant {pid}");
                pid
            }
        };
        let _ = writeln!(
            out,
            "    Note over {over}: … {hidden} more messages not shown (all in trace.jsonl). Narrow with --trace-filter, e.g. t=10s..2m,server=hs1,key=A"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(human_ms(3_600_000), "1h");
        assert_eq!(human_ms(600_000), "10m");
        assert_eq!(human_ms(3_599_950), "59m59.95s");
        assert_eq!(human_ms(5_400_000), "1h30m");
        assert_eq!(human_ms(250), "250ms");
        assert_eq!(human_ms(0), "0ms");
        assert_eq!(human_ms(-1500), "-1.5s");
    }

    #[test]
    fn ids_are_mermaid_safe_and_unique() {
        let mut used = vec![];
        assert_eq!(participant_id("hs1", &mut used), "hs1");
        assert_eq!(participant_id("hs1/0", &mut used), "hs1_0");
        assert_eq!(participant_id("hs1-0", &mut used), "hs1_0_2");
        assert_eq!(participant_id("end", &mut used), "p_end");
        assert_eq!(participant_id("1x", &mut used), "p_1x");
    }

    #[test]
    fn escapes_semicolons_and_hashes() {
        assert_eq!(escape("a;b#c\nd"), "a#59;b#35;c d");
    }

    #[test]
    fn nothing_shown_still_parses() {
        let m = TraceMsg {
            t: 0,
            kind: "crash",
            from: "hs1".into(),
            to: "hs1".into(),
            meta: vec![],
            body: Value::Null,
        };
        let out = render(&[m], &["hs1".into()], &[], 0);
        assert!(out.contains("participant hs1\n"));
        assert!(out.contains("Note over hs1: … 1 more messages not shown"));
    }
}
