//! One writer per output folder: a second `run` into a folder being written exits 2 naming
//! the folder and the other pid; a dead writer's lock and temporary files are cleared by the
//! next run; a run stopped by `--max-events` leaves nothing behind.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

const LOCK: &str = ".stickysim.lock";

fn stickysim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stickysim"))
}

fn temporaries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn two_runs_started_at_once_never_mix_their_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let o = out.to_str().unwrap();
    let start = |seed: &str| {
        stickysim()
            .args([
                "run",
                "--quiet",
                "--no-plots",
                "--no-expect",
                "--seed",
                seed,
                "--out",
                o,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("stickysim")
    };
    let (a, b) = (start("1"), start("2"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    assert!(codes.contains(&Some(0)), "neither run finished: {codes:?}");
    for r in [&a, &b] {
        if r.status.code() == Some(2) {
            let err = String::from_utf8_lossy(&r.stderr);
            assert!(
                err.contains(o) && err.contains("being written by another stickysim"),
                "{err}"
            );
            assert!(err.contains("process "), "{err}");
        }
    }
    // The folder is one run's: summary.json and scenario.toml name the same seed.
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let seed = summary["seed"].as_u64().unwrap();
    let toml = fs::read_to_string(out.join("scenario.toml")).unwrap();
    assert!(
        toml.contains(&format!("seed = {seed}")),
        "summary seed {seed}, scenario:\n{toml}"
    );
    assert_eq!(temporaries(&out), Vec::<String>::new());
}

#[test]
fn a_live_writers_lock_refuses_and_a_dead_ones_is_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    fs::create_dir_all(&out).unwrap();
    let o = out.to_str().unwrap();
    // This test's own process holds the lock (the system's lock on the file, as a writer does).
    let me = std::process::id();
    fs::write(out.join(LOCK), format!("{me}\n")).unwrap();
    let held = fs::File::open(out.join(LOCK)).unwrap();
    held.try_lock().unwrap();
    let r = stickysim()
        .args(["run", "--quiet", "--no-plots", "--out", o])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains(o) && err.contains(&format!("process {me}")),
        "{err}"
    );
    assert!(!out.join("summary.json").exists());
    // Its writer gone (the system released the lock), the file and the pid it names stay:
    // the next writer takes it over.
    drop(held);
    {
        fs::write(out.join(LOCK), "4194305\n").unwrap();
        fs::write(out.join(".summary.json.tmp-4194305-1"), "half").unwrap();
        fs::create_dir_all(out.join("plots")).unwrap();
        fs::write(out.join("plots").join(".latency.tmp-4194305.png"), "half").unwrap();
        let r = stickysim()
            .args(["run", "--quiet", "--no-plots", "--out", o])
            .output()
            .unwrap();
        assert_eq!(
            r.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert!(out.join("summary.json").is_file());
        assert_eq!(temporaries(&out), Vec::<String>::new());
    }
}

#[test]
fn a_run_over_max_events_stops_cleanly_and_writes_nothing() {
    let scn = stickysim::scenario::load_str(
        stickysim::scenario::DEFAULT_SCENARIO,
        stickysim::scenario::DEFAULT_SCENARIO_NAME,
        &[],
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let opts = stickysim::run::RunOptions {
        out_dir: out.clone(),
        limits: stickysim::scenario::estimate::Limits {
            max_events: 1000,
            ..Default::default()
        },
        ..Default::default()
    };
    let e = stickysim::run::run_scenario(&scn, &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("more than --max-events 1000 kernel events"),
        "{e}"
    );
    assert!(!out.exists(), "the folder the run made is removed");
    // Into a used folder: the old run stays whole, nothing new is written.
    let ok = stickysim::run::RunOptions {
        out_dir: out.clone(),
        ..Default::default()
    };
    let first = stickysim::run::run_scenario(&scn, &ok).unwrap();
    let whole = |d: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = fs::read_dir(d)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                (n, fs::read(e.path()).unwrap())
            })
            .collect();
        v.sort();
        v
    };
    let before = whole(&out);
    assert!(stickysim::run::run_scenario(&scn, &opts).is_err());
    // Every file as it was (the streamed CSV files' temporaries are gone).
    assert_eq!(whole(&out), before);
    assert!(first.events > 1000);
    assert_eq!(temporaries(&out), Vec::<String>::new());

    // From the command line: the size estimate refuses first, exit 2, at a key.
    let o = tmp.path().join("cli");
    let r = stickysim()
        .args([
            "run",
            "--quiet",
            "--no-plots",
            "--max-events",
            "1000",
            "--out",
        ])
        .arg(&o)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("--max-events"), "{err}");
    assert!(!o.join("summary.json").exists());
}
