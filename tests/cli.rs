//! The command line as a user meets it: exit codes, nothing written on bad input.

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
