//! A rerun into a used folder replaces the old run whole: no CSV, trace or plot of the
//! earlier run survives beside the new run's files, and no temporary file either.

use std::fs;
use std::process::Command;

fn run(args: &[&str]) -> i32 {
    Command::new(env!("CARGO_BIN_EXE_stickysim"))
        .args(args)
        .output()
        .expect("stickysim")
        .status
        .code()
        .unwrap_or(-1)
}

#[test]
fn a_summary_mode_rerun_removes_the_full_runs_deliveries_trace_and_plots() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let scn = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/transitive_delivery.toml"
    );
    let o = out.to_str().unwrap();
    assert_eq!(
        run(&[
            "run",
            scn,
            "--out",
            o,
            "--trace",
            "--quiet",
            "--set",
            "simulation.records=\"full\""
        ]),
        0
    );
    assert!(out.join("deliveries.csv").is_file());
    assert!(out.join("trace.jsonl").is_file());
    assert!(out.join("plots").is_dir());
    // A stale temporary file a killed run left behind.
    fs::write(out.join(".federation.csv.tmp-1-2"), b"x").unwrap();
    assert_eq!(
        run(&[
            "run",
            scn,
            "--out",
            o,
            "--no-plots",
            "--quiet",
            "--set",
            "simulation.records=\"summary\""
        ]),
        0
    );
    assert!(
        !out.join("deliveries.csv").exists(),
        "the old run's deliveries.csv survived"
    );
    assert!(!out.join("trace.jsonl").exists());
    assert!(!out.join("sequence.mmd").exists());
    assert!(!out.join("plots").exists(), "the old run's plots survived");
    assert!(!out.join(".federation.csv.tmp-1-2").exists());
    assert!(out.join("summary.json").is_file());
    assert!(out.join("scenario.toml").is_file());
}
