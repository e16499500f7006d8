//! The command line as a user meets it: exit codes, nothing written on bad input.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn stickysim(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stickysim"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run stickysim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const SMALL: &str = r#"
[simulation]
name = "small"
seed = 3
duration = "2m"
[network]
latency = { dist = "constant", value = "50ms" }
[servers]
count = 2
[[rooms]]
name = "r"
servers = "all"
[[workload]]
kind = "script"
room = "r"
actions = [ { at = "10s", client = "hs1/0", send = "sticky", key = "A", duration = "10m" } ]
[[expect]]
metric = "delivery.lost"
equals = 0
"#;

#[test]
fn claims_decide_the_exit_code() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("s.toml"), SMALL).unwrap();
    let (code, out, _) = stickysim(&["run", "s.toml", "--out", "o1", "--no-plots"], t.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("digest ") && out.contains("results in o1"),
        "{out}"
    );
    // The same run with a claim that cannot hold: exit 1, the failure printed.
    std::fs::write(
        t.path().join("f.toml"),
        SMALL.replace("equals = 0", "equals = 5"),
    )
    .unwrap();
    let (code, _, err) = stickysim(
        &["run", "f.toml", "--out", "o2", "--no-plots", "--quiet"],
        t.path(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("FAILED: delivery.lost == 5 (got 0)"), "{err}");
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("bad.toml"),
        SMALL.replace("count = 2", "count = 2\ncolour = \"red\""),
    )
    .unwrap();
    let (code, _, err) = stickysim(&["run", "bad.toml", "--out", "o"], t.path());
    assert_eq!(code, 2);
    assert!(
        err.contains("bad.toml:") && err.contains("`servers.colour`"),
        "{err}"
    );
    assert!(!t.path().join("o").exists(), "nothing written");
    // --set on an unknown path.
    std::fs::write(t.path().join("s.toml"), SMALL).unwrap();
    let (code, _, err) = stickysim(
        &["run", "s.toml", "--out", "o", "--set", "network.colour=1"],
        t.path(),
    );
    assert_eq!(code, 2);
    assert!(err.contains("--set") && err.contains("colour"), "{err}");
    assert!(!t.path().join("o").exists());
    // An output folder that cannot be written is refused before the run starts.
    std::fs::write(t.path().join("a_file"), "x").unwrap();
    let (code, _, err) = stickysim(&["run", "s.toml", "--out", "a_file/o"], t.path());
    assert_eq!(code, 2);
    assert!(err.contains("a_file/o"), "{err}");
}

#[test]
fn set_and_seed_override_the_file() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("s.toml"), SMALL).unwrap();
    let (code, _, _) = stickysim(
        &[
            "run",
            "s.toml",
            "--out",
            "o",
            "--no-plots",
            "--quiet",
            "--seed",
            "9",
            "--set",
            "network.latency={ dist = \"constant\", value = \"70ms\" }",
        ],
        t.path(),
    );
    assert_eq!(code, 0);
    let toml = std::fs::read_to_string(t.path().join("o/scenario.toml")).unwrap();
    assert!(toml.contains("seed = 9") && toml.contains("70ms"), "{toml}");
    // The folder reruns by hand to the same digest.
    let (_, out1, _) = stickysim(
        &["run", "o/scenario.toml", "--out", "o2", "--no-plots"],
        t.path(),
    );
    let s1 = std::fs::read_to_string(t.path().join("o/summary.json")).unwrap();
    let digest = s1
        .lines()
        .find(|l| l.trim_start().starts_with("\"digest\""))
        .unwrap()
        .split('"')
        .nth(3)
        .unwrap()
        .to_string();
    assert!(out1.contains(&digest), "{out1} vs {digest}");
}

// The scenario library compiled into the binary (`src/scenario/library.rs`).

#[test]
fn list_and_run_by_name_without_a_checkout() {
    let t = tempfile::tempdir().unwrap();
    let (rc, out, err) = stickysim(&["list"], t.path());
    assert_eq!(rc, 0, "{err}");
    assert_eq!(
        out.lines().count(),
        stickysim::scenario::library::LIBRARY.len(),
        "{out}"
    );
    assert!(out.contains("calibration/loopback_e2e"), "{out}");

    let (rc, out, err) = stickysim(
        &[
            "run",
            "calibration/loopback_e2e",
            "--out",
            "o",
            "--no-plots",
            "--quiet",
        ],
        t.path(),
    );
    assert_eq!(rc, 0, "{out}{err}");
    assert!(t.path().join("o/summary.json").is_file());
    let toml = std::fs::read_to_string(t.path().join("o/scenario.toml")).unwrap();
    assert!(toml.contains("loopback"), "{toml}");

    // The same by the path a checkout would have.
    let (rc, _, err) = stickysim(
        &[
            "run",
            "scenarios/calibration/loopback_e2e.toml",
            "--out",
            "p",
            "--no-plots",
            "--quiet",
        ],
        t.path(),
    );
    assert_eq!(rc, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(t.path().join("p/scenario.toml")).unwrap(),
        toml
    );

    // An unknown name: the usual cannot-read error, exit 2.
    let (rc, _, err) = stickysim(&["run", "no_such_scenario"], t.path());
    assert_eq!(rc, 2);
    assert!(err.contains("no_such_scenario"), "{err}");
}

// `--trace-filter`, the diagram in report.md, and sync responses a client never read.

#[test]
fn bad_filters_exit_2_and_write_nothing() {
    let t = tempfile::tempdir().unwrap();
    for (filter, want) in [
        ("t=2m..10s", "ends before it starts"),
        ("hs1", "`hs1` has no `=`"),
        ("colour=red", "unknown term `colour`"),
        ("server=hs9", "no server `hs9`"),
        ("room=lobby", "no room `lobby`"),
    ] {
        let (rc, _, err) = stickysim(
            &["run", "spam_window", "--out", "o", "--trace-filter", filter],
            t.path(),
        );
        assert_eq!(rc, 2, "{filter}: {err}");
        assert!(err.contains(want), "{filter}: {err}");
        assert!(!t.path().join("o").exists(), "{filter}: nothing written");
    }
}

/// Two servers; hs2/0 goes offline at 5 s, while its long-poll waits at hs2, and hs1/0
/// sends a sticky event at 10 s: hs2 answers the waiting long-poll with it, and the
/// answer reaches a client that is not there.
const OFFLINE: &str = r#"
[simulation]
name = "unread"
seed = 5
duration = "2m"
[network]
latency = { dist = "constant", value = "50ms" }
[servers.defaults]
clients_per_server = 1
[[servers.list]]
name = "hs1"
[[servers.list]]
name = "hs2"
[[servers.list]]
name = "hs3"
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "script"
room = "call"
actions = [
  { at = "10s", client = "hs1/0", send = "sticky", key = "A", duration = "1h" },
  { at = "70s", client = "hs1/0", send = "sticky", key = "B", duration = "1h" },
]
[[fault]]
kind = "client_offline"
clients = ["hs2/0"]
from = "5s"
to = "1m"
"#;

#[test]
fn filtered_trace_diagram_and_unreceived_syncs() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("s.toml"), OFFLINE).unwrap();
    let (rc, out, err) = stickysim(
        &[
            "run",
            "s.toml",
            "--out",
            "o",
            "--no-plots",
            "--trace-filter",
            "t=..20s,server=hs2",
            "--trace-filter",
            "key=A",
        ],
        t.path(),
    );
    assert_eq!(rc, 0, "{out}{err}");
    let dir = t.path().join("o");
    let trace = std::fs::read_to_string(dir.join("trace.jsonl")).unwrap();
    let lines: Vec<Value> = trace
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    let on_hs2 = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s == "hs2" || s.starts_with("hs2/"))
    };
    for l in &lines {
        assert!(l["t_ms"].as_f64().unwrap() <= 20_000.0, "{l}");
        assert!(on_hs2(&l["from"]) || on_hs2(&l["to"]), "{l}");
        assert!(!l.to_string().contains("\"B\""), "key B filtered out: {l}");
    }
    // hs1's /send to hs2 with A, and hs2's answer to it (kept with its /send).
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"send") && kinds.contains(&"send_response"),
        "{kinds:?}"
    );
    let unread: Vec<&Value> = lines
        .iter()
        .filter(|l| l["received"] == Value::Bool(false))
        .collect();
    assert_eq!(unread.len(), 1, "{trace}");
    assert_eq!(unread[0]["kind"], "sync_response");
    assert_eq!(unread[0]["to"], "hs2/0");
    assert_eq!(unread[0]["unreceived"], "client offline");
    assert!(unread[0].to_string().contains("\"sticky_key\":\"A\""));

    let mmd = std::fs::read_to_string(dir.join("sequence.mmd")).unwrap();
    assert!(
        mmd.contains("%% --trace-filter t=..20s, server=hs2, key=A: only the matching messages."),
        "{mmd}"
    );
    let crossed: Vec<&str> = mmd.lines().filter(|l| l.contains("--xhs2_0: [")).collect();
    assert_eq!(crossed.len(), 1, "{mmd}");
    assert!(
        crossed[0].ends_with(
            "] sync timeline: sticky A (59m59.896s left) (never received: client offline)"
        ),
        "{mmd}"
    );
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("## Sequence diagram"), "{report}");
    assert!(report.contains("```mermaid\nsequenceDiagram\n"), "{report}");
    assert!(report.contains("--xhs2_0"), "{report}");

    // Without --trace the report has no diagram.
    let (rc, _, err) = stickysim(&["run", "s.toml", "--out", "o", "--no-plots"], t.path());
    assert_eq!(rc, 0, "{err}");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(!report.contains("```mermaid"), "{report}");
}
