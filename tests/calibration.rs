//! Issue 11: stickysim against the figures measured on real Synapse 1.163.2 (REFERENCES.md,
//! "Measured on real Synapse 1.163.2 servers on loopback"). Each test states the Synapse
//! figure and the hand computation the simulated number must match.

mod common;
use common::*;

/// Two servers, one client each, no network or client delay: `extra` is appended to
/// `[servers.defaults]`, `tail` after the room (faults, the workload).
fn two_servers(duration: &str, extra: &str, tail: &str) -> Run {
    run(&format!(
        r#"
[simulation]
name = "calib"
seed = 3
duration = "{duration}"
sample_interval = "10s"
[network]
latency = {{ dist = "constant", value = "0ms" }}
[servers]
count = 2
[servers.defaults]
clients_per_server = 1
client_latency = {{ dist = "constant", value = "0ms" }}
{extra}
[[rooms]]
name = "r"
servers = "all"
{tail}
"#
    ))
}

/// The /send attempts hs1 → hs2 as (start ms, outcome).
fn attempts(r: &Run) -> Vec<(f64, String)> {
    r.csv("federation.csv")
        .into_iter()
        .filter(|a| a["origin"] == "hs1" && a["destination"] == "hs2")
        .map(|a| (f(&a, "t_ms"), a["outcome"].clone()))
        .collect()
}

const REFUSED_ONE_EVENT: &str = r#"
[[fault]]
kind = "crash"
servers = ["hs2"]
from = "0s"
to = "2h"
[[workload]]
kind = "script"
room = "r"
actions = [ { at = "10s", client = "hs1/0", send = "sticky", key = "k" } ]
"#;

#[test]
fn the_first_backoff_is_exactly_the_initial_interval_after_the_send_retries() {
    // Synapse (retryutils.py): after the retries inside one /send, the first backoff is
    // exactly 10 min, no jitter. With the retry jitter off the waits are 4, 16, then 60 s
    // (capped) eight times: the 11th attempt starts at 10 + 4 + 16 + 480 = 510 s, the
    // first attempt after the backoff exactly 600 s later, at 1110 s (wake_interval 0).
    let r = two_servers(
        "1h",
        r#"processing = { dist = "constant", value = "0ms" }
origin_processing = { dist = "constant", value = "0ms" }
[servers.defaults.federation]
retries = { count = 10, first = "4s", multiplier = 4.0, max = "60s", jitter = [1.0, 1.0] }
wake_interval = "0s""#,
        REFUSED_ONE_EVENT,
    );
    let a = attempts(&r);
    let starts: Vec<f64> = a.iter().map(|x| x.0).collect();
    let mut want = vec![10_000.0];
    for w in [4, 16, 60, 60, 60, 60, 60, 60, 60, 60] {
        want.push(want.last().unwrap() + w as f64 * 1000.0);
    }
    assert_eq!(
        &starts[..11],
        &want[..],
        "the retries inside the first /send"
    );
    assert_eq!(*want.last().unwrap(), 510_000.0);
    assert_eq!(
        starts[11],
        510_000.0 + 600_000.0,
        "first backoff exactly 10 min"
    );
    assert!(a.iter().all(|x| x.1 == "refused"));
    // The second backoff compounds: 600 s x 2 x U(0.8, 1.4) = 960..1680 s after the 22nd
    // attempt (the second /send's retries take 500 s again).
    let end_second_send = starts[11] + 500_000.0;
    assert_eq!(starts[21], end_second_send);
    let second = starts[22] - end_second_send;
    assert!(
        (960_000.0..=1_680_000.0).contains(&second),
        "second backoff {second} ms"
    );
}

#[test]
fn the_independent_rule_jitters_the_first_backoff() {
    // `backoff.rule = "independent"` (the old rule): the first backoff is 600 s x U(0.8, 1.4).
    let r = two_servers(
        "1h",
        r#"processing = { dist = "constant", value = "0ms" }
origin_processing = { dist = "constant", value = "0ms" }
[servers.defaults.federation]
retries = { count = 10, first = "4s", multiplier = 4.0, max = "60s", jitter = [1.0, 1.0] }
backoff = { initial = "10m", multiplier = 2.0, max = "7d", jitter = [0.8, 1.4], rule = "independent" }
wake_interval = "0s""#,
        REFUSED_ONE_EVENT,
    );
    let a = attempts(&r);
    let first = a[11].0 - 510_000.0;
    assert!((480_000.0..=840_000.0).contains(&first), "{first}");
}

#[test]
fn loopback_end_to_end_lies_in_synapses_measured_range() {
    // Synapse, two servers on loopback: 39.3 / 49.2 / 57.8 ms (min / median / max of 10).
    // stickysim's defaults: origin_processing U(24, 33) ms + the receiver's processing
    // U(15, 25) ms, nothing else on loopback: every sample within [39, 58] ms.
    let actions: Vec<String> = (1..=20)
        .map(|i| format!(r#"{{ at = "{i}s", client = "hs1/0", send = "sticky", key = "k{i}" }}"#))
        .collect();
    let tail = format!(
        "[[workload]]\nkind = \"script\"\nroom = \"r\"\nactions = [\n{}\n]\n",
        actions.join(",\n")
    );
    let r = two_servers("30s", "", &tail);
    let lat: Vec<f64> = r
        .csv("deliveries.csv")
        .iter()
        .map(|d| f(d, "latency_ms"))
        .collect();
    assert_eq!(lat.len(), 20);
    for l in &lat {
        assert!((39.0..=58.0).contains(l), "latency {l} ms");
    }
    let p50 = r.metric("delivery.latency_ms.p50");
    assert!((39.3..=57.8).contains(&p50), "p50 {p50}");
}

/// One server, two clients; hs1/1 offline while hs1/0 sends `n` sticky events at 10 s.
fn one_server_backlog(n: usize, sync: &str, extra_actions: &str) -> Run {
    let mut actions: Vec<String> = (0..n)
        .map(|i| format!(r#"{{ at = "10s", client = "hs1/0", send = "sticky", key = "k{i}" }}"#))
        .collect();
    if !extra_actions.is_empty() {
        actions.push(extra_actions.to_string());
    }
    run(&format!(
        r#"
[simulation]
name = "calib1"
seed = 3
duration = "2m"
[network]
latency = {{ dist = "constant", value = "0ms" }}
[servers]
count = 1
[servers.defaults]
clients_per_server = 2
client_latency = {{ dist = "constant", value = "1ms" }}
[servers.defaults.sync]
{sync}
[[rooms]]
name = "r"
servers = "all"
[[fault]]
kind = "client_offline"
clients = ["hs1/1"]
from = "5s"
to = "60s"
[[workload]]
kind = "script"
room = "r"
actions = [
{}
]
"#,
        actions.join(",\n")
    ))
}

/// hs1/1's responses after it came back: (timeline events, sticky events).
fn returning(r: &Run) -> Vec<(u32, u32)> {
    r.csv("syncs.csv")
        .into_iter()
        .filter(|s| s["client"] == "hs1/1" && f(s, "t_ms") >= 60_000.0)
        .map(|s| {
            (
                f(&s, "timeline_events") as u32,
                f(&s, "sticky_events") as u32,
            )
        })
        .filter(|&(t, s)| t + s > 0)
        .collect()
}

#[test]
fn the_sticky_cap_counts_scanned_positions() {
    // Synapse: 105 sticky events, timeline limit 100 → 100 in the timeline + 5 sticky, then
    // a second response with 5. By hand: the timeline carries the newest 100 (events 5..104);
    // the cap of 100 is spent on the 100 oldest positions scanned (0..99), of which 0..4 are
    // not in the timeline → 5 sticky; the next response scans 100..104, which Synapse 1.163
    // re-sends although a timeline carried them (`resend_timeline_sticky`) → 5 sticky.
    let r = one_server_backlog(
        105,
        "timeline_limit = 100\nresend_timeline_sticky = true\ncap_counts = \"positions\"",
        "",
    );
    let got = returning(&r);
    assert_eq!(got[0], (100, 5), "{got:?}");
    assert_eq!(got[1], (0, 5), "{got:?}");
}

#[test]
fn an_invalid_sticky_duration_is_refused_or_becomes_an_ordinary_event() {
    // Synapse: a negative or non-integer sticky.duration_ms is answered 400 and no event is
    // created (`reject`); `ordinary` creates a non-sticky event, which the other client gets
    // in its timeline.
    for (mode, timeline) in [("reject", 0), ("ordinary", 1)] {
        let text = format!(
            r#"
[simulation]
name = "calib_invalid"
seed = 3
duration = "1m"
[network]
latency = {{ dist = "constant", value = "0ms" }}
[servers]
count = 1
[servers.defaults]
clients_per_server = 2
client_latency = {{ dist = "constant", value = "1ms" }}
invalid_sticky_duration = "{mode}"
[[rooms]]
name = "r"
servers = "all"
[[workload]]
kind = "script"
room = "r"
actions = [ {{ at = "10s", client = "hs1/0", send = "sticky", key = "k", duration_ms = -5 }} ]
"#
        );
        let r = run(&text);
        let seen: f64 = r
            .csv("syncs.csv")
            .iter()
            .filter(|s| s["client"] == "hs1/1")
            .map(|s| f(s, "timeline_events") + f(s, "sticky_events"))
            .sum();
        assert_eq!(seen as u32, timeline, "{mode}");
        assert_eq!(
            r.metric("delivery.count"),
            0.0,
            "{mode}: not sticky either way"
        );
    }
}

#[test]
fn calibrate_runs_every_calibration_scenario_and_every_claim_holds() {
    // `stickysim calibrate`: one table row per [[expect]] of scenarios/calibration/*.toml,
    // each holding (README's "How close to Synapse" is this table).
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("scenarios").join("calibration");
    let tmp = tempfile::tempdir().unwrap();
    let (mut out, mut err) = (vec![], vec![]);
    let code = stickysim::run::calibrate::calibrate_to(&dir, tmp.path(), &mut out, &mut err);
    let text = String::from_utf8_lossy(&out).to_string();
    assert_eq!(code, 0, "{text}{}", String::from_utf8_lossy(&err));
    let claims: usize = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .matches("[[expect]]")
                .count()
        })
        .sum();
    let rows: Vec<&str> = text.lines().skip(2).collect();
    assert_eq!(rows.len(), claims, "{text}");
    assert!(rows.iter().all(|r| r.ends_with("| yes |")), "{text}");
    assert!(rows.len() >= 6);
}

#[test]
fn a_zero_duration_never_reaches_a_sticky_section() {
    // Synapse, one server: duration 0 is not sticky. Here it expires at its creation
    // (end = start + 0), so a client coming back after it (timeline filtered out, limit 0)
    // gets nothing, while a 1 h event sent with it comes in the sticky section.
    let r = one_server_backlog(
        0,
        "timeline_limit = 0",
        r#"{ at = "10s", client = "hs1/0", send = "sticky", key = "zero", duration = "0s" },
  { at = "10s", client = "hs1/0", send = "sticky", key = "hour", duration = "1h" }"#,
    );
    assert_eq!(returning(&r), vec![(0, 1)]);
}

#[test]
fn calibrate_takes_the_embedded_library_like_run() {
    // From a folder without a checkout, the default `scenarios/calibration` and the names
    // `calibration` and `calibration/loopback_e2e` are the library compiled into the binary:
    // the same table as the files give.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let calibrate = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_stickysim"))
            .arg("calibrate")
            .args(args)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).to_string(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let files = |arg: &std::path::Path| {
        let (mut out, mut err) = (vec![], vec![]);
        let out_dir = tempfile::tempdir().unwrap();
        let code = stickysim::run::calibrate::calibrate_to(arg, out_dir.path(), &mut out, &mut err);
        (
            Some(i32::from(code)),
            String::from_utf8_lossy(&out).to_string(),
        )
    };
    let all = files(&root.join("scenarios/calibration"));
    for args in [&[][..], &["calibration"], &["scenarios/calibration"]] {
        let (code, out, err) = calibrate(args);
        assert_eq!((code, out), all.clone(), "{args:?}: {err}");
    }
    let one = files(&root.join("scenarios/calibration/loopback_e2e.toml"));
    let (code, out, _) = calibrate(&["calibration/loopback_e2e"]);
    assert_eq!((code, out.clone()), one);
    assert!(out.contains("| `loopback_e2e` |"), "{out}");
    let (code, out, err) = calibrate(&["calibration/nope"]);
    assert_eq!(code, Some(2));
    assert!(out.is_empty());
    assert!(
        err.contains("calibration/nope: no such file or folder"),
        "{err}"
    );
}
