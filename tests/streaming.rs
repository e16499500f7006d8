//! The big CSV files are streamed to the run folder as the run goes (docs/performance.md
//! "Streaming the big CSV files"): the folder's files are byte for byte those of the
//! in-memory writer (every row kept, federation.csv sorted once at the end), and the
//! run's digest is the one computed over those bytes.

use std::path::Path;
use stickysim::observe::stream::{CsvFile, StreamTo};
use stickysim::run::{simulate_limited, Guards, RunOptions};

fn check(path: &str, seed: &str) {
    let sets = vec![format!("simulation.seed={seed}")];
    let scn = stickysim::scenario::load_path(Path::new(path), &sets).expect("loads");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let opts = RunOptions {
        out_dir: out.clone(),
        no_expect: true,
        ..Default::default()
    };
    let run = stickysim::run::run_scenario(&scn, &opts).expect("runs");

    let mut fin = simulate_limited(
        &scn,
        false,
        false,
        false,
        &Guards::default(),
        StreamTo::Memory,
    )
    .expect("simulates");
    let files = std::mem::take(&mut fin.observer.streams)
        .finish()
        .expect("finishes");
    assert_eq!(files.len(), 4);
    for f in &files {
        let CsvFile::Memory(name, bytes) = f else {
            panic!("in memory")
        };
        let on_disk = std::fs::read(out.join(name)).unwrap();
        assert!(
            on_disk == *bytes,
            "{path} {name} differs from the in-memory writer's"
        );
        assert!(bytes.len() > 100, "{name} has rows");
    }
    let fed = std::fs::read_to_string(out.join("federation.csv")).unwrap();
    assert_eq!(
        fed.lines().count() as f64 - 1.0,
        run.metrics["federation.attempts"],
        "one row per attempt"
    );
    // The digest over the files as they are on disk, in the fixed order.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let names: Vec<String> = summary["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    let bytes: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(out.join(n)).unwrap())
        .collect();
    let parts: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&bytes)
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    assert_eq!(stickysim::output::files::digest(&parts), run.digest);
    assert_eq!(summary["digest"].as_str().unwrap(), run.digest);
    // No temporary file is left.
    for e in std::fs::read_dir(&out).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        assert!(!n.contains(".tmp"), "{n} left behind");
    }
}

#[test]
fn partition_catch_up_folder_matches_the_in_memory_writer() {
    // Timeouts during the partition end long after later attempts start: the reorder
    // buffer is exercised at every sample.
    check("scenarios/partition_catch_up.toml", "7");
}

#[test]
fn rate_limit_folder_matches_the_in_memory_writer() {
    check("scenarios/rate_limit_policies.toml", "1");
}
