//! A sweep point's seeds pooled: `stickysim sweep`'s terminal table (a percentile at its
//! value pooled over the point's seeds, with the seed-bootstrap interval and the sample
//! count, other metrics at their mean over seeds, each column labelled, the same figures as
//! report.md and aggregate.csv) and `stickysim compare SWEEP --points` (every seed of each
//! point by default, one with `--seed`). A runner written here gives every run pairs
//! chosen so the figures work out by hand.

use std::path::{Path, PathBuf};
use stickysim::output::compare::{latency_overlay, runs_of, CompareArgs};
use stickysim::run::cli::{dispatch, Command};
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

/// Latencies (ms) of the delivered pairs, lost pairs and pending pairs of each run, by
/// (rate, seed).
fn run_data(rate: f64, seed: u64) -> (Vec<f64>, usize, usize) {
    match (rate == 1.0, seed) {
        (true, 40) => (vec![10.0, 20.0, 30.0], 1, 0),
        (true, _) => (vec![40.0, 50.0, 60.0, 70.0], 3, 0),
        (false, 40) => (vec![100.0], 0, 0),
        (false, _) => (vec![200.0, 300.0], 0, 1),
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
    let (lat, lost, pending) = run_data(rate, scn.seed());
    let mut csv = String::from("latency_ms,path\n");
    for l in &lat {
        csv += &format!("{l},direct\n");
    }
    csv += &",lost:dropped\n".repeat(lost);
    csv += &",pending\n".repeat(pending);
    std::fs::write(dir.join("deliveries.csv"), csv)?;
    let delivered = lat.len() as f64;
    let summary = serde_json::json!({
        "scenario": scn.name(),
        "scenario_digest": scn.digest(),
        "seed": scn.seed(),
        "version": stickysim::VERSION,
        "metrics": {
            "delivery.latency_ms.p50": nearest_rank(&lat, 50.0),
            "delivery.latency_ms.p99": nearest_rank(&lat, 99.0),
            "delivery.lost": lost,
            "delivery.count": delivered + lost as f64,
            "delivery.pending_at_end": pending,
            "delivery.delivered_fraction": delivered / (delivered + (lost + pending) as f64),
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

/// Runs the sweep into `<tmp>/sweep`.
fn sweep_in(tmp: &Path) -> PathBuf {
    let scenario = tmp.join("s.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let out = tmp.join("sweep");
    let args = SweepArgs {
        scenario,
        jobs: Some(2),
        shard: None,
        out: Some(out.clone()),
        resume: false,
        sets: vec![],
        quiet: true,
        limits: Default::default(),
    };
    assert_eq!(sweep::sweep_with(&args, &runner).unwrap(), 0);
    out
}

#[test]
fn the_table_prints_pooled_percentiles_and_means_as_the_report_does() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sweep_in(tmp.path());
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

#[test]
fn compare_points_pools_every_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = sweep_in(tmp.path());
    let args = |seed: Option<u64>, out: &str| CompareArgs {
        runs: vec![sweep.clone()],
        points: Some("0,1".into()),
        seed,
        out: tmp.path().join(out),
    };
    assert_eq!(dispatch(Command::Compare(args(None, "cmp"))).unwrap(), 0);
    let md = std::fs::read_to_string(tmp.path().join("cmp/report.md")).unwrap();
    // Point 0: seed 40 delivers 3 of 4 pairs (one lost), seed 41 4 of 7: 7 of 11 pairs,
    // 63.6%; the mean of the seeds' shares, 75% and 57.1%, is 66.1%. Point 1: seed 40
    // 1 of 1, seed 41 2 of 3 (one pending): 3 of 4, 75%; mean of 100% and 66.7%: 83.3%.
    for row in [
        "| **p0 1.0** | `table_sweep` | 40, 41 (pooled) | 63.6% | 2 runs |",
        "| **p1 2.5** | `table_sweep` | 40, 41 (pooled) | 75% | 2 runs |",
        "| metric | p0 1.0 (A) | p1 2.5 (B) | B − A | B / A | n |",
        // Pooled p50s as in the sweep's table: 40 ms of 7 samples, 200 ms of 3.
        "| `delivery.latency_ms.p50` | 40 ms | 200 ms | +160 ms | ×5 | 7 / 3 samples (pooled) |",
        // 83.33% − 66.07% = 17.3 pp; 0.8333 / 0.6607 = 1.26.
        "| `delivery.delivered_fraction` | 66.1% | 83.3% | +17.3 pp | ×1.26 | 2 / 2 seeds (mean) |",
        "| `delivery.lost` | 2 | 0 | −2 | ×0 | 2 / 2 seeds (mean) |",
    ] {
        assert!(md.contains(row), "{row} not in report.md:\n{md}");
    }
    let csv = std::fs::read_to_string(tmp.path().join("cmp/compare.csv")).unwrap();
    assert!(csv.starts_with("metric,p0 1.0,p1 2.5,difference,ratio,statistic,n p0 1.0,n p1 2.5\n"));
    assert!(
        csv.contains("\ndelivery.latency_ms.p50,40,200,160,5,pooled,7,3\n"),
        "{csv}"
    );
    assert!(csv.contains("\ndelivery.lost,2,0,-2,0,mean,2,2\n"), "{csv}");

    // The CDF pools every seed's pairs, lost and pending ones in the denominator.
    let runs = runs_of(&args(None, "unused")).unwrap();
    let fig = latency_overlay(&runs);
    let ends: Vec<f64> = fig.panels[0]
        .series
        .iter()
        .map(|s| s.points().last().unwrap().1)
        .collect();
    assert_eq!(ends, [7.0 / 11.0, 3.0 / 4.0]);
    assert_eq!(
        fig.panels[0].series[0].name,
        "p0 1.0\n63.6% delivered of 11"
    );
    assert_eq!(fig.panels[0].series[1].name, "p1 2.5\n75% delivered of 4");
    assert!(fig.caption.ends_with("pools every pair of its 2 seeds."));

    // --seed 41: that seed's runs alone, no n column. Its p50s: 50 ms (rank 2 of 4) and
    // 200 ms; delivered 4 of 7 (57.1%) and 2 of 3 (66.7%).
    assert_eq!(
        dispatch(Command::Compare(args(Some(41), "one"))).unwrap(),
        0
    );
    let md = std::fs::read_to_string(tmp.path().join("one/report.md")).unwrap();
    for row in [
        "| **p0 1.0** | `table_sweep` | 41 | 57.1% |",
        "| **p1 2.5** | `table_sweep` | 41 | 66.7% |",
        "| `delivery.latency_ms.p50` | 50 ms | 200 ms | +150 ms | ×4 |\n",
    ] {
        assert!(md.contains(row), "{row} not in report.md:\n{md}");
    }
}
