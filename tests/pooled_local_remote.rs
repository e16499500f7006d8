//! `delivery.local.latency_ms` and `delivery.remote.latency_ms` percentiles pooled over a
//! sweep point's seeds, as `delivery.latency_ms` is: from `deliveries.csv` rows split by
//! whether the recipient is on the sender's server (full records), from the summary.json
//! histograms of each part (summary records). Before, aggregate.csv could only give the
//! mean of the seeds' own local/remote percentiles.

use std::path::Path;
use std::process::Command;
use stickysim::sweep::pooled::{self, read_samples, FAMILIES};

const SCENARIO: &str = r#"
[simulation]
name = "local_remote_pool"
description = "local and remote latency pooled over seeds"
seed = 5
duration = "2m"
records = "RECORDS"

[network]
latency = { dist = "lognormal", median = "60ms", sigma = 0.8 }

[servers]
count = 3

[servers.defaults]
clients_per_server = 2

[[rooms]]
name = "r"
servers = "all"

[[workload]]
kind = "spam"
room = "r"
client = "hs1/0"
rate = 2.0
count = 20

[sweep]
seeds = 2
"workload.0.rate" = [2.0]
"#;

fn fam(prefix: &str) -> usize {
    FAMILIES.iter().position(|f| f.0 == prefix).unwrap()
}

fn nearest_rank(v: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank - 1]
}

/// Runs the sweep; returns the folder.
fn sweep(tmp: &Path, records: &str) -> std::path::PathBuf {
    let scn = tmp.join(format!("{records}.toml"));
    std::fs::write(&scn, SCENARIO.replace("RECORDS", records)).unwrap();
    let out = tmp.join(records);
    let st = Command::new(env!("CARGO_BIN_EXE_stickysim"))
        .args([
            "sweep",
            scn.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--quiet", "--jobs", "1"])
        .status()
        .unwrap();
    assert!(st.success());
    out
}

/// aggregate.csv's (pooled, pooled_n, warning) of `metric`.
fn aggregate(dir: &Path, metric: &str) -> (String, String, String) {
    let mut r = csv::Reader::from_path(dir.join("aggregate.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    for row in r.records() {
        let row = row.unwrap();
        if &row[col("metric")] == metric {
            return (
                row[col("pooled")].to_string(),
                row[col("pooled_n")].to_string(),
                row[col("warning")].to_string(),
            );
        }
    }
    panic!("no {metric} in aggregate.csv");
}

/// The run folders of the sweep's one point.
fn runs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("summary.json").is_file())
        .collect();
    v.sort();
    assert_eq!(v.len(), 2, "{v:?}");
    v
}

#[test]
fn local_and_remote_percentiles_are_pooled_from_the_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = sweep(tmp.path(), "full");
    // By hand from deliveries.csv: every delivered row of both seeds, split by server.
    let (mut local, mut remote) = (vec![], vec![]);
    for run in runs(&dir) {
        let mut r = csv::Reader::from_path(run.join("deliveries.csv")).unwrap();
        let h = r.headers().unwrap().clone();
        let col = |n: &str| h.iter().position(|x| x == n).unwrap();
        for row in r.records() {
            let row = row.unwrap();
            let Ok(l) = row[col("latency_ms")].parse::<f64>() else {
                continue;
            };
            if row[col("sender_server")] == row[col("recipient_server")] {
                local.push(l);
            } else {
                remote.push(l);
            }
        }
    }
    local.sort_by(f64::total_cmp);
    remote.sort_by(f64::total_cmp);
    assert!(!local.is_empty() && remote.len() > local.len());
    for (metric, v) in [
        ("delivery.local.latency_ms", &local),
        ("delivery.remote.latency_ms", &remote),
    ] {
        for p in [50.0, 99.0] {
            let (pooled, n, warning) = aggregate(&dir, &format!("{metric}.p{p}"));
            assert_eq!(n, v.len().to_string(), "{metric}");
            assert_eq!(
                pooled.parse::<f64>().unwrap(),
                nearest_rank(v, p),
                "{metric} p{p}"
            );
            assert!(!warning.starts_with("not pooled"), "{metric}: {warning}");
        }
    }
}

#[test]
fn summary_mode_keeps_a_histogram_per_part_that_gives_back_the_runs_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = sweep(tmp.path(), "summary");
    for run in runs(&dir) {
        assert!(!run.join("deliveries.csv").exists());
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap())
                .unwrap();
        let m = &summary["metrics"];
        let mut parts = 0;
        for part in ["local", "remote"] {
            let prefix = format!("delivery.{part}.latency_ms");
            let s = read_samples(&run, fam(&prefix)).unwrap().unwrap();
            // Every delivered pair of the part is in its histogram (`count` is the due pairs
            // that were delivered or lost).
            let delivered = m[format!("delivery.{part}.count")].as_f64().unwrap()
                - m[format!("delivery.{part}.lost")].as_f64().unwrap();
            assert_eq!(s.count() as f64, delivered, "{prefix}");
            parts += s.count();
            for p in [50.0, 99.0] {
                let reported = m[format!("{prefix}.p{p}")].as_f64();
                assert!(pooled::reproduces(&[&s], &[reported], p), "{prefix} p{p}");
            }
        }
        let all = read_samples(&run, fam("delivery.latency_ms"))
            .unwrap()
            .unwrap();
        assert_eq!(parts, all.count());
    }
    for metric in [
        "delivery.local.latency_ms.p99",
        "delivery.remote.latency_ms.p50",
    ] {
        let (pooled, _, warning) = aggregate(&dir, metric);
        assert!(!pooled.is_empty(), "{metric}: {warning}");
    }
}
