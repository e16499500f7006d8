//! `stickysim sweep --max-memory/--max-events`: every point's size estimate is checked
//! before anything runs (exit 2, the point named, nothing written), and the runs that
//! `--jobs` puts side by side must fit the memory limit together.

use std::path::{Path, PathBuf};
use std::process::Command;
use stickysim::scenario::estimate::{estimate, Limits};
use stickysim::sweep::{check_sizes, plan_from_path};

/// Two points: 2 servers and 3000 servers, each with an idle room of every server.
fn scenario(dir: &Path, counts: &str, seeds: u32) -> PathBuf {
    let p = dir.join("s.toml");
    let text = format!(
        r#"
[simulation]
name = "sized"
duration = "1m"

[servers]
count = 2

[[rooms]]
name = "r"
servers = "all"

[sweep]
seeds = {seeds}
"servers.count" = {counts}
"#
    );
    std::fs::write(&p, text).unwrap();
    p
}

fn memory_of_points(path: &Path) -> Vec<u64> {
    let plan = plan_from_path(path, &[]).expect("plan");
    plan.point_scenarios
        .iter()
        .map(|s| estimate(s).memory_bytes)
        .collect()
}

#[test]
fn a_point_over_the_memory_limit_is_refused_before_anything_runs() {
    let t = tempfile::tempdir().unwrap();
    let path = scenario(t.path(), "[2, 3000]", 1);
    let mem = memory_of_points(&path);
    assert!(mem[1] > mem[0], "{mem:?}");
    // A limit between the two points' estimates: the second point alone is refused.
    let limit = (mem[0] + mem[1]) / 2;
    let out = t.path().join("out");
    let res = Command::new(env!("CARGO_BIN_EXE_stickysim"))
        .args(["sweep", path.to_str().unwrap(), "--quiet", "--jobs", "1"])
        .args(["--out", out.to_str().unwrap()])
        .args(["--max-memory", &limit.to_string()])
        .output()
        .expect("run stickysim");
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(
        err.contains("point p0001 (servers.count=3000)"),
        "names the point: {err}"
    );
    assert!(
        !err.contains("p0000"),
        "the point that fits is not named: {err}"
    );
    assert!(err.contains("--max-memory"), "{err}");
    assert!(!out.exists(), "nothing written");
}

#[test]
fn the_runs_side_by_side_must_fit_the_memory_limit_together() {
    let t = tempfile::tempdir().unwrap();
    let path = scenario(t.path(), "[300]", 3);
    let one = memory_of_points(&path)[0];
    let plan = plan_from_path(&path, &[]).unwrap();
    // Room for two runs of the point at once, not three.
    let limits = Limits {
        max_memory_bytes: 2 * one + one / 2,
        ..Limits::default()
    };
    assert!(check_sizes(&plan, &limits, 1).is_ok());
    assert!(check_sizes(&plan, &limits, 2).is_ok());
    let err = check_sizes(&plan, &limits, 3).unwrap_err().to_string();
    assert!(err.contains("3 runs at once"), "{err}");
    assert!(err.contains("use --jobs 2"), "{err}");
    // More jobs than runs: only the three runs can be side by side.
    assert!(check_sizes(&plan, &limits, 8)
        .unwrap_err()
        .to_string()
        .contains("3 runs at once"));
}

#[test]
fn the_event_limit_applies_to_every_point() {
    let t = tempfile::tempdir().unwrap();
    let path = scenario(t.path(), "[2, 3]", 1);
    let plan = plan_from_path(&path, &[]).unwrap();
    let limits = Limits {
        max_events: 1,
        ..Limits::default()
    };
    let err = check_sizes(&plan, &limits, 1).unwrap_err().to_string();
    assert!(err.contains("point p0000 (servers.count=2)"), "{err}");
    assert!(err.contains("point p0001 (servers.count=3)"), "{err}");
    assert!(err.contains("--max-events"), "{err}");
}
