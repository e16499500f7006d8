//! `stickysim sweep`'s terminal table: a percentile at its value pooled over the point's
//! seeds (with the seed-bootstrap interval and the sample count), other metrics at their
//! mean over seeds, each column labelled, the same figures as report.md and aggregate.csv.
//! A runner written here gives every run latencies chosen so the figures work out by hand.

use std::path::Path;
use stickysim::scenario::Scenario;
use stickysim::sweep::{self, SweepArgs};

/// 2 points (workload rate 1.0 and 2.5) x 2 seeds (40, 41).
const SCENARIO: &str = r#"
[simulation]
name = "table_sweep"
description = "sweep table test"
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
seeds = 2
headline = ["delivery.latency_ms.p50", "delivery.latency_ms.p99", "delivery.lost"]
"workload.0.rate" = [1.0, 2.5]
"#;

/// Latencies (ms) and lost pairs of each run, by (rate, seed).
fn run_data(rate: f64, seed: u64) -> (Vec<f64>, f64) {
    match (rate == 1.0, seed) {
        (true, 40) => (vec![10.0, 20.0, 30.0], 1.0),
        (true, _) => (vec![40.0, 50.0, 60.0, 70.0], 3.0),
        (false, 40) => (vec![100.0], 0.0),
        (false, _) => (vec![200.0, 300.0], 0.0),
    }
}

/// Nearest rank, as the runs compute it.
fn nearest_rank(v: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank - 1]
}

fn runner(scn: &Scenario, dir: &Path) -> anyhow::Result<()> {
    let rate = match scn.file.workload.first() {
        Some(stickysim::scenario::WorkloadCfg::Spam(s)) => s.rate,
        _ => 0.0,
    };
    let (lat, lost) = run_data(rate, scn.seed());
    let mut csv = String::from("latency_ms\n");
    for l in &lat {
        csv += &format!("{l}\n");
    }
    std::fs::write(dir.join("deliveries.csv"), csv)?;
    let summary = serde_json::json!({
        "scenario": scn.name(),
        "scenario_digest": scn.digest(),
        "seed": scn.seed(),
        "version": stickysim::VERSION,
        "metrics": {
            "delivery.latency_ms.p50": nearest_rank(&lat, 50.0),
            "delivery.latency_ms.p99": nearest_rank(&lat, 99.0),
            "delivery.lost": lost,
        },
        "expect": [],
        "digest": "x",
    });
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    Ok(())
}

#[test]
fn the_table_prints_pooled_percentiles_and_means_as_the_report_does() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("s.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let out = tmp.path().join("sweep");
    let args = SweepArgs {
        scenario,
        jobs: Some(2),
        shard: None,
        out: Some(out.clone()),
        resume: false,
        sets: vec![],
        quiet: true,
    };
    assert_eq!(sweep::sweep_with(&args, &runner).unwrap(), 0);
    let lines = sweep::headline_table(&out).unwrap();
    let cells = |line: &str| -> Vec<String> {
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        cells(&lines[0]),
        [
            "point",
            "rate",
            "delivery.latency_ms.p50 (pooled)",
            "delivery.latency_ms.p99 (pooled)",
            "delivery.lost (mean)"
        ]
    );
    // Point 0: seeds 10 20 30 and 40 50 60 70. Pooled p50: rank ceil(3.5) = 4 of the 7
    // samples -> 40 ms (the mean of the seeds' p50s, 20 and 50, would be 35). The bootstrap
    // draws the two seeds with replacement: AA -> 20, AB -> 40, BB -> 50, each of AA and BB
    // about a quarter of 1000 draws, so the 2.5th and 97.5th percentiles are 20 and 50.
    // p99: the largest, 70 (AA -> 30); 7 samples are fewer than the 100 a p99 needs: "!".
    // Lost: 1 and 3, mean 2, std √2, so 2 ± t(1) · √2 / √2 = 2 ± 12.706: [0 (cut), 14.71].
    assert_eq!(
        cells(&lines[1]),
        [
            "p0000",
            "1.0",
            "40 ms [20 ms – 50 ms] n=7",
            "70 ms [30 ms – 70 ms] n=7 !",
            "2 [0 – 14.71]"
        ]
    );
    // Point 1: 100 and 200 300. p50: rank 2 of 3 -> 200 (AA -> 100, AB and BB -> 200).
    // p99: 300 (AA -> 100). Lost 0 and 0: [0 – 0].
    assert_eq!(
        cells(&lines[2]),
        [
            "p0001",
            "2.5",
            "200 ms [100 ms – 200 ms] n=3",
            "300 ms [100 ms – 300 ms] n=3 !",
            "0 [0 – 0]"
        ]
    );
    assert!(lines[3].starts_with("(mean): mean over the point's 2 seed(s)"));
    assert_eq!(
        lines[4],
        "! p0000 delivery.latency_ms.p99: 7 samples: p99 needs at least 100 to differ from the largest"
    );
    assert!(lines[5].starts_with("! p0001 delivery.latency_ms.p99: 3 samples"));
    assert_eq!(lines.len(), 6);

    // report.md and aggregate.csv say the same.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for row in [
        "| 1.0 | 40 ms | 20 ms – 50 ms | 7 |",
        "| 2.5 | 200 ms | 100 ms – 200 ms | 3 |",
        "| 1.0 | 2 | 0 – 14.71 | 2 |",
    ] {
        assert!(md.contains(row), "{row} not in report.md:\n{md}");
    }
    let agg = std::fs::read_to_string(out.join("aggregate.csv")).unwrap();
    assert!(
        agg.contains("0,1.0,delivery.latency_ms.p50,2,35,"),
        "mean of the seeds' p50s:\n{agg}"
    );
    assert!(agg.contains(",40,7,20,50,\n"), "{agg}");
}
