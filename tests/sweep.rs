//! Sweep machinery end to end: grid, parallelism, shards, merge, resume, refusals.
//!
//! Each property is checked twice: with a small deterministic runner written here (it
//! writes a summary.json whose metrics are simple functions of the point and the seed; it
//! tests the sweep machinery, it does not pretend to be the simulator), and through the
//! `stickysim` binary on the real scenarios (ignored until the protocol model exists).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use stickysim::scenario::Scenario;
use stickysim::sweep::{self, SweepArgs};

const NEEDS_MODEL: &str = "needs the protocol model; un-ignore after merge";

/// A tiny scenario for the test runner: 3 policies x 2 rates x 4 seeds = 24 runs.
const TINY: &str = r#"
[simulation]
name = "tiny_sweep"
description = "sweep machinery test"
seed = 40
duration = "1m"

[servers]
count = 2

[[rooms]]
name = "r"
servers = "all"

[[workload]]
kind = "spam"
room = "r"
client = "hs1/0"
rate = 10.0
count = 5

[sweep]
seeds = 4
headline = ["delivery.by_path.a_lin", "delivery.by_path.b_const"]
"servers.defaults.inbound.policy" = ["accept_drop", "defer", "unlimited"]
"workload.0.rate" = [1.0, 2.5]
"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------- the test runner

/// Every run folder the test runner was called for (tests run in parallel: filter by folder).
static RAN: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn runs_done_in(dir: &Path) -> Vec<String> {
    let ran = RAN.lock().unwrap_or_else(|p| p.into_inner());
    ran.iter()
        .filter(|p| p.parent() == Some(dir))
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect()
}

/// Metrics: functions of the point (through its scenario digest and values) and the seed.
fn test_runner(scn: &Scenario, dir: &Path) -> anyhow::Result<()> {
    if let Ok(mut v) = RAN.lock() {
        v.push(dir.to_path_buf());
    }
    let digest = scn.digest();
    let seed = scn.seed();
    let h = u64::from_str_radix(&digest[..8], 16)? % 1000;
    // Finish in a scrambled order so completion order differs from (point, seed) order.
    std::thread::sleep(std::time::Duration::from_millis((h + seed * 7) % 13));
    let rate = match scn.file.workload.first() {
        Some(stickysim::scenario::WorkloadCfg::Spam(s)) => s.rate,
        _ => 0.0,
    };
    let mut metrics = serde_json::Map::new();
    metrics.insert(
        "delivery.by_path.a_lin".into(),
        (h as f64 + seed as f64 * 0.1 + rate).into(),
    );
    metrics.insert("delivery.by_path.b_const".into(), (h as f64 / 7.0).into());
    metrics.insert(
        "delivery.by_path.d_loss".into(),
        (scn.file.network.loss * 100.0).into(),
    );
    if seed.is_multiple_of(2) {
        metrics.insert("delivery.by_path.c_sometimes".into(), (seed as f64).into());
    }
    // Machine-dependent figures: never in the sweep tables.
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .subsec_nanos() as f64;
    metrics.insert("sim.wall_s".into(), (wall / 1e9).into());
    metrics.insert("sim.events_per_s".into(), wall.into());
    let summary = serde_json::json!({
        "scenario": scn.name(),
        "scenario_digest": digest,
        "seed": seed,
        "version": stickysim::VERSION,
        "metrics": metrics,
        "expect": [ { "metric": "delivery.by_path.a_lin", "pass": !seed.is_multiple_of(4) } ],
        "digest": format!("{h}-{seed}"),
    });
    std::fs::write(dir.join("metrics.txt"), format!("{h} {seed}\n"))?;
    // Last, by temp name + rename, like run_scenario.
    let tmp = dir.join(".summary.json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&summary)?)?;
    std::fs::rename(tmp, dir.join("summary.json"))?;
    Ok(())
}

// ---------------------------------------------------------------- two ways to sweep

#[derive(Clone, Copy)]
enum Mode {
    /// The library with the test runner.
    Lib,
    /// The `stickysim` binary (run::run_scenario).
    Bin,
}

/// Run `stickysim sweep SCENARIO ARGS...`; returns (exit code, stderr).
fn sweep(mode: Mode, scenario: &Path, args: &[&str]) -> (u8, String) {
    match mode {
        Mode::Bin => {
            let out = Command::new(env!("CARGO_BIN_EXE_stickysim"))
                .arg("sweep")
                .arg(scenario)
                .args(args)
                .output()
                .expect("run stickysim");
            (
                out.status.code().unwrap_or(-1) as u8,
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
        Mode::Lib => {
            let mut a = SweepArgs {
                scenario: scenario.to_path_buf(),
                jobs: None,
                shard: None,
                out: None,
                resume: false,
                sets: vec![],
                quiet: false,
                limits: Default::default(),
            };
            let mut it = args.iter();
            while let Some(x) = it.next() {
                match *x {
                    "--jobs" => a.jobs = it.next().and_then(|v| v.parse().ok()),
                    "--shard" => a.shard = it.next().map(|v| v.to_string()),
                    "--out" => a.out = it.next().map(PathBuf::from),
                    "--set" => a.sets.extend(it.next().map(|v| v.to_string())),
                    "--resume" => a.resume = true,
                    "--quiet" => a.quiet = true,
                    other => panic!("test: unknown arg {other}"),
                }
            }
            match sweep::sweep_with(&a, &test_runner) {
                Ok(c) => (c, String::new()),
                Err(e) => (2, format!("error: {e:#}")),
            }
        }
    }
}

fn merge(mode: Mode, dirs: &[&Path], out: &Path) -> (u8, String) {
    match mode {
        Mode::Bin => {
            let o = Command::new(env!("CARGO_BIN_EXE_stickysim"))
                .arg("merge")
                .args(dirs)
                .arg("--out")
                .arg(out)
                .output()
                .expect("run stickysim");
            (
                o.status.code().unwrap_or(-1) as u8,
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        }
        Mode::Lib => {
            let d: Vec<PathBuf> = dirs.iter().map(|p| p.to_path_buf()).collect();
            match sweep::merge_cmd(&d, out) {
                Ok(c) => (c, String::new()),
                Err(e) => (2, format!("error: {e:#}")),
            }
        }
    }
}

fn ok(r: (u8, String)) {
    assert_eq!(r.0, 0, "sweep failed: {}", r.1);
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const TABLES: [&str; 4] = ["sweep.json", "sweep.csv", "aggregate.csv", "shard.json"];

fn assert_same_tables(a: &Path, b: &Path) {
    for f in TABLES {
        assert!(
            read(&a.join(f)) == read(&b.join(f)),
            "{f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

fn run_dirs(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('p') && n.contains("-seed-"))
        .collect()
}

fn tiny(dir: &Path) -> PathBuf {
    let p = dir.join("tiny.toml");
    std::fs::write(&p, TINY).unwrap();
    p
}

/// Real scenarios made small enough for a test.
fn real(which: &str) -> (PathBuf, Vec<&'static str>) {
    let path = root().join("scenarios").join(which);
    (
        path,
        vec![
            "--set",
            "sweep.seeds=2",
            "--set",
            "simulation.duration=5m",
            "--quiet",
        ],
    )
}

// ---------------------------------------------------------------- the properties

fn check_jobs_do_not_change_bytes(mode: Mode, scenario: &Path, extra: &[&str]) {
    let t = tempfile::tempdir().unwrap();
    let one = t.path().join("j1");
    let four = t.path().join("j4");
    let mut a = vec!["--jobs", "1", "--out", one.to_str().unwrap()];
    a.extend(extra);
    ok(sweep(mode, scenario, &a));
    let mut b = vec!["--jobs", "4", "--out", four.to_str().unwrap()];
    b.extend(extra);
    ok(sweep(mode, scenario, &b));
    assert_same_tables(&one, &four);
    let runs = run_dirs(&one);
    assert_eq!(runs, run_dirs(&four));
    for r in &runs {
        for f in ["scenario.toml", "summary.json"] {
            let (x, y) = (one.join(r).join(f), four.join(r).join(f));
            if f == "summary.json" {
                // wall_s differs between runs; everything the sweep reads must not.
                let j =
                    |p: &Path| -> serde_json::Value { serde_json::from_slice(&read(p)).unwrap() };
                let (mut jx, mut jy) = (j(&x), j(&y));
                for m in [&mut jx, &mut jy] {
                    if let Some(o) = m.get_mut("metrics").and_then(|v| v.as_object_mut()) {
                        o.remove("sim.wall_s");
                        o.remove("sim.events_per_s");
                    }
                }
                for k in ["scenario_digest", "seed", "digest", "metrics"] {
                    assert_eq!(jx.get(k), jy.get(k), "{r}/{f}: {k}");
                }
            } else {
                assert!(read(&x) == read(&y), "{r}/{f} differs");
            }
        }
    }
}

fn check_shards_merge_to_unsharded(mode: Mode, scenario: &Path, extra: &[&str]) {
    let t = tempfile::tempdir().unwrap();
    let whole = t.path().join("whole");
    let mut a = vec!["--jobs", "2", "--out", whole.to_str().unwrap()];
    a.extend(extra);
    ok(sweep(mode, scenario, &a));
    let shards: Vec<PathBuf> = (1..=3).map(|k| t.path().join(format!("s{k}"))).collect();
    let mut held = BTreeSet::new();
    for (k, dir) in shards.iter().enumerate() {
        let spec = format!("{}/3", k + 1);
        let mut a = vec![
            "--jobs",
            "2",
            "--shard",
            &spec,
            "--out",
            dir.to_str().unwrap(),
        ];
        a.extend(extra);
        ok(sweep(mode, scenario, &a));
        assert!(dir.join("shard.json").is_file());
        assert!(
            !dir.join("sweep.csv").exists(),
            "a shard writes no sweep tables"
        );
        let mine = run_dirs(dir);
        assert!(held.is_disjoint(&mine), "shards overlap");
        held.extend(mine);
    }
    assert_eq!(held, run_dirs(&whole), "the shards together hold every run");

    // A merge with a shard missing names the missing runs.
    let out = t.path().join("merged");
    let (code, err) = merge(mode, &[&shards[0], &shards[2]], &out);
    assert_eq!(code, 2);
    assert!(
        err.contains("missing") && err.contains("p0000-seed-"),
        "{err}"
    );
    assert!(!out.join("sweep.csv").exists());

    let refs: Vec<&Path> = shards.iter().map(|p| p.as_path()).collect();
    ok(merge(mode, &refs, &out));
    assert_same_tables(&whole, &out);
    assert_eq!(run_dirs(&out), run_dirs(&whole));
    // Merging again (everything already there) changes nothing.
    ok(merge(mode, &refs, &out));
    assert_same_tables(&whole, &out);
}

fn check_resume(mode: Mode, scenario: &Path, extra: &[&str]) {
    let t = tempfile::tempdir().unwrap();
    let clean = t.path().join("clean");
    let mut a = vec!["--jobs", "2", "--out", clean.to_str().unwrap()];
    a.extend(extra);
    ok(sweep(mode, scenario, &a));

    // An interrupted sweep: some runs never started, one was killed while writing its
    // summary, one before writing it; the tables were never written.
    let broken = t.path().join("broken");
    stickysim::sweep::tables::copy_dir(&clean, &broken).unwrap();
    let runs: Vec<String> = run_dirs(&broken).into_iter().collect();
    assert!(runs.len() >= 5);
    let (gone1, gone2, trunc, nosum) = (&runs[1], &runs[runs.len() - 1], &runs[2], &runs[3]);
    std::fs::remove_dir_all(broken.join(gone1)).unwrap();
    std::fs::remove_dir_all(broken.join(gone2)).unwrap();
    let s = broken.join(trunc).join("summary.json");
    let bytes = read(&s);
    std::fs::write(&s, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(broken.join(nosum).join("summary.json")).unwrap();
    for f in ["sweep.csv", "aggregate.csv", "sweep.json"] {
        let _ = std::fs::remove_file(broken.join(f));
    }
    let untouched = broken.join(&runs[0]).join("summary.json");
    let before = std::fs::metadata(&untouched).unwrap().modified().unwrap();

    let mut a = vec!["--jobs", "2", "--resume", "--out", broken.to_str().unwrap()];
    a.extend(extra);
    ok(sweep(mode, scenario, &a));
    if let Mode::Lib = mode {
        let mut ran = runs_done_in(&broken);
        ran.sort();
        let mut expected: Vec<String> = [gone1, gone2, trunc, nosum].into_iter().cloned().collect();
        expected.sort();
        assert_eq!(
            ran, expected,
            "resume redoes exactly the unfinished runs, once each"
        );
    }
    let after = std::fs::metadata(&untouched).unwrap().modified().unwrap();
    assert_eq!(before, after, "a finished run is not redone");
    assert_same_tables(&clean, &broken);

    // Resuming a finished sweep runs nothing.
    ok(sweep(mode, scenario, &a));
    if let Mode::Lib = mode {
        assert_eq!(
            runs_done_in(&broken).len(),
            4,
            "a finished sweep resumes to nothing"
        );
    }
    assert_same_tables(&clean, &broken);
}

// ---------------------------------------------------------------- with the test runner

#[test]
fn jobs_do_not_change_bytes() {
    let t = tempfile::tempdir().unwrap();
    check_jobs_do_not_change_bytes(Mode::Lib, &tiny(t.path()), &["--quiet"]);
}

#[test]
fn shards_merge_to_the_unsharded_sweep() {
    let t = tempfile::tempdir().unwrap();
    check_shards_merge_to_unsharded(Mode::Lib, &tiny(t.path()), &["--quiet"]);
}

#[test]
fn resume_redoes_only_unfinished_runs() {
    let t = tempfile::tempdir().unwrap();
    check_resume(Mode::Lib, &tiny(t.path()), &["--quiet"]);
}

#[test]
fn shards_sharing_one_folder_merge_in_place() {
    let t = tempfile::tempdir().unwrap();
    let scn = tiny(t.path());
    let whole = t.path().join("whole");
    ok(sweep(
        Mode::Lib,
        &scn,
        &["--out", whole.to_str().unwrap(), "--quiet"],
    ));
    let shared = t.path().join("shared");
    for k in ["2/2", "1/2"] {
        ok(sweep(
            Mode::Lib,
            &scn,
            &["--shard", k, "--out", shared.to_str().unwrap(), "--quiet"],
        ));
    }
    ok(merge(Mode::Lib, &[&shared], &shared));
    assert_same_tables(&whole, &shared);
}

#[test]
fn machinery_on_the_real_scenarios() {
    // Plan building, shards and merge on the shipped scenarios (the runner is the test's).
    let (p, extra) = real("sweep_heartbeat.toml");
    check_shards_merge_to_unsharded(Mode::Lib, &p, &extra);
}

#[test]
fn tables_follow_the_format() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    ok(sweep(
        Mode::Lib,
        &tiny(t.path()),
        &["--out", out.to_str().unwrap(), "--quiet"],
    ));
    let meta: serde_json::Value = serde_json::from_slice(&read(&out.join("sweep.json"))).unwrap();
    let keys: Vec<&str> = meta
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "scenario",
            "scenario_digest",
            "keys",
            "seeds",
            "points",
            "headline"
        ]
    );
    assert_eq!(meta["scenario"], "tiny_sweep");
    assert_eq!(
        meta["keys"],
        serde_json::json!(["servers.defaults.inbound.policy", "workload.0.rate"])
    );
    assert_eq!(meta["seeds"], serde_json::json!([40, 41, 42, 43]));
    assert_eq!(meta["points"][1]["values"]["workload.0.rate"], 2.5);
    assert_eq!(
        meta["headline"],
        serde_json::json!(["delivery.by_path.a_lin", "delivery.by_path.b_const"])
    );

    let csv = String::from_utf8(read(&out.join("sweep.csv"))).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "run,point,seed,servers.defaults.inbound.policy,workload.0.rate,delivery.by_path.a_lin,delivery.by_path.b_const,delivery.by_path.c_sometimes,delivery.by_path.d_loss"
    );
    assert_eq!(lines.len(), 1 + 24);
    assert!(lines[1].starts_with("p0000-seed-40,0,40,accept_drop,1.0,"));
    assert!(lines[2].starts_with("p0000-seed-41,0,41,accept_drop,1.0,"));
    assert!(
        lines[2].ends_with(",,0"),
        "absent metric is an empty cell: {}",
        lines[2]
    );
    assert!(lines[5].starts_with("p0001-seed-40,1,40,accept_drop,2.5,"));

    let agg = String::from_utf8(read(&out.join("aggregate.csv"))).unwrap();
    let rows: Vec<Vec<String>> = agg
        .lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert_eq!(
        rows[0].join(","),
        "point,servers.defaults.inbound.policy,workload.0.rate,metric,n,mean,std,ci95_lo,ci95_hi,min,median,max,pooled,pooled_n,pooled_ci95_lo,pooled_ci95_hi,warning"
    );
    assert_eq!(rows.len(), 1 + 6 * 4);
    let row = |point: &str, metric: &str| {
        rows.iter()
            .find(|r| r[0] == point && r[3] == metric)
            .cloned()
            .unwrap()
    };
    // delivery.by_path.a_lin at a point = h + 0.1*seed + rate: seeds 40..43 -> mean h + 4.15 + rate.
    let r = row("0", "delivery.by_path.a_lin");
    let f = |s: &str| s.parse::<f64>().unwrap();
    assert_eq!(r[4], "4");
    let std = f(&r[6]);
    assert!((std - 0.12909944487358055).abs() < 1e-9, "{std}");
    let half = 3.182446305284263 * std / 2.0;
    assert!((f(&r[8]) - (f(&r[5]) + half)).abs() < 1e-9);
    assert!((f(&r[7]) - (f(&r[5]) - half)).abs() < 1e-9);
    assert!(
        (f(&r[10]) - f(&r[5])).abs() < 1e-9,
        "median = mean for evenly spaced seeds"
    );
    // A constant metric: zero width.
    let r = row("2", "delivery.by_path.b_const");
    assert_eq!((r[6].as_str(), &r[7], &r[8]), ("0", &r[5], &r[5]));
    // Present in two seeds of four: n = 2.
    let r = row("0", "delivery.by_path.c_sometimes");
    assert_eq!(
        (r[4].as_str(), r[5].as_str(), r[9].as_str(), r[11].as_str()),
        ("2", "41", "40", "42")
    );
}

#[test]
fn a_run_folder_reruns_by_hand_to_the_same_digest() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    ok(sweep(
        Mode::Lib,
        &tiny(t.path()),
        &["--out", out.to_str().unwrap(), "--quiet"],
    ));
    let dir = out.join("p0003-seed-42");
    let text = String::from_utf8(read(&dir.join("scenario.toml"))).unwrap();
    assert!(
        !text.contains("[sweep]"),
        "the sweep table is removed from a run"
    );
    let scn = stickysim::scenario::load_str(&text, "rerun", &[]).unwrap();
    assert_eq!(scn.seed(), 42);
    let summary: serde_json::Value =
        serde_json::from_slice(&read(&dir.join("summary.json"))).unwrap();
    assert_eq!(summary["scenario_digest"], scn.digest());
}

#[test]
fn merge_refuses_different_sweeps() {
    let t = tempfile::tempdir().unwrap();
    let scn = tiny(t.path());
    let a = t.path().join("a");
    let b = t.path().join("b");
    ok(sweep(
        Mode::Lib,
        &scn,
        &["--shard", "1/2", "--out", a.to_str().unwrap(), "--quiet"],
    ));
    ok(sweep(
        Mode::Lib,
        &scn,
        &[
            "--shard",
            "2/2",
            "--out",
            b.to_str().unwrap(),
            "--set",
            "network.loss=0.5",
            "--quiet",
        ],
    ));
    let out = t.path().join("m");
    let (code, err) = merge(Mode::Lib, &[&a, &b], &out);
    assert_eq!(code, 2);
    assert!(
        err.contains("different sweeps")
            && err.contains(a.to_str().unwrap())
            && err.contains(b.to_str().unwrap()),
        "{err}"
    );
    // A run folder from another sweep, dropped into a shard, is named.
    ok(sweep(
        Mode::Lib,
        &scn,
        &["--shard", "2/2", "--out", b.to_str().unwrap(), "--quiet"],
    ));
    let c = t.path().join("c");
    ok(sweep(
        Mode::Lib,
        &scn,
        &[
            "--out",
            c.to_str().unwrap(),
            "--set",
            "network.loss=0.5",
            "--quiet",
        ],
    ));
    let victim = run_dirs(&b).into_iter().next().unwrap();
    std::fs::remove_dir_all(b.join(&victim)).unwrap();
    stickysim::sweep::tables::copy_dir(&c.join(&victim), &b.join(&victim)).unwrap();
    let (code, err) = merge(Mode::Lib, &[&a, &b], &out);
    assert_eq!(code, 2);
    assert!(
        err.contains(&victim) && err.contains("scenario digest"),
        "{err}"
    );
}

// ---------------------------------------------------------------- refusals (binary, exit 2)

fn refused(text: &str, args: &[&str], needle: &str) {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("bad.toml");
    std::fs::write(&p, text).unwrap();
    let out = t.path().join("out");
    let mut a = vec!["--out", out.to_str().unwrap(), "--quiet"];
    a.extend(args);
    let (code, err) = sweep(Mode::Bin, &p, &a);
    assert_eq!(code, 2, "expected exit 2 for {needle}: {err}");
    assert!(err.contains(needle), "stderr should name {needle}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.join("sweep.csv").exists());
}

#[test]
fn bad_input_is_refused_with_exit_2() {
    let swap = |from: &str, to: &str| TINY.replace(from, to);
    refused(
        &swap("\"workload.0.rate\"", "\"workload.0.rat\""),
        &[],
        "workload.0.rat",
    );
    refused(
        &swap("\"workload.0.rate\"", "\"network.lossy\""),
        &[],
        "network.lossy",
    );
    refused(&swap("[1.0, 2.5]", "[]"), &[], "workload.0.rate");
    refused(
        &swap(
            "seeds = 4",
            "seeds = 4\nzip = [[\"workload.0.rate\", \"servers.defaults.inbound.policy\"]]",
        ),
        &[],
        "as many values",
    );
    refused(
        &swap(
            "seeds = 4",
            "seeds = 4\nzip = [[\"workload.0.rate\", \"network.loss\"]]",
        ),
        &[],
        "network.loss",
    );
    refused(&swap("\"defer\"", "\"deferred\""), &[], "deferred");
    refused(&swap("seeds = 4", "seeds = -1"), &[], "seeds");
    refused(TINY, &["--shard", "4/3"], "4/3");
    refused(TINY, &["--shard", "0/3"], "0/3");
    refused(TINY, &["--shard", "a/b"], "a/b");
    refused(TINY, &["--jobs", "0"], "--jobs");
    refused(TINY, &["--set", "network.nope=1"], "nope");
    refused(
        "[simulation]\nname = \"x\"\nduration = \"1m\"\n",
        &[],
        "[sweep]",
    );
    refused("not toml [", &[], "bad.toml");
}

#[test]
fn merge_of_nothing_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let (code, err) = merge(Mode::Bin, &[t.path()], &t.path().join("o"));
    assert_eq!(code, 2);
    assert!(err.contains("shard.json"), "{err}");
}

// ---------------------------------------------------------------- shipped scenarios

#[test]
fn shipped_sweep_scenarios_parse() {
    for f in ["sweep_rate_limit.toml", "sweep_heartbeat.toml"] {
        let p = root().join("scenarios").join(f);
        let s = stickysim::scenario::load_path(&p, &[]).unwrap_or_else(|e| panic!("{f}: {e:?}"));
        assert!(
            !s.file.simulation.description.is_empty(),
            "{f}: description"
        );
        let sw = s.file.sweep.as_ref().expect("a [sweep] table");
        assert!(sw.contains_key("headline"), "{f}: headline metrics");
    }
    let plan = sweep::plan_from_path(&root().join("scenarios/sweep_heartbeat.toml"), &[]).unwrap();
    assert_eq!(plan.meta.points.len(), 12);
    assert_eq!(plan.meta.seeds.len(), 3);
    assert_eq!(
        plan.meta.keys,
        [
            "workload.0.heartbeat.leave_delay",
            "workload.0.heartbeat.restart_every",
            "network.loss"
        ]
    );
}

#[test]
fn rate_limit_sweep_plans() {
    let plan = sweep::plan_from_path(&root().join("scenarios/sweep_rate_limit.toml"), &[]).unwrap();
    assert_eq!(plan.meta.points.len(), 12);
    assert_eq!(plan.meta.seeds, [1, 2, 3, 4, 5]);
    assert_eq!(plan.meta.keys[0], "servers.defaults.inbound.policy");
}

// ---------------------------------------------------------------- the simulator (binary)

#[test]
fn e2e_jobs_do_not_change_bytes() {
    let _ = NEEDS_MODEL;
    let (p, extra) = real("sweep_heartbeat.toml");
    check_jobs_do_not_change_bytes(Mode::Bin, &p, &extra);
}

#[test]
fn e2e_shards_merge_to_the_unsharded_sweep() {
    let (p, extra) = real("sweep_heartbeat.toml");
    check_shards_merge_to_unsharded(Mode::Bin, &p, &extra);
}

#[test]
fn e2e_resume_redoes_only_unfinished_runs() {
    let (p, extra) = real("sweep_heartbeat.toml");
    check_resume(Mode::Bin, &p, &extra);
}

#[test]
fn e2e_rate_limit_sweep_jobs_do_not_change_bytes() {
    let (p, extra) = real("sweep_rate_limit.toml");
    check_jobs_do_not_change_bytes(Mode::Bin, &p, &extra);
}
