//! report.md from small hand-written run and sweep folders.

use std::fs;
use std::path::Path;
use stickysim::output::report::{
    run_report_text, sweep_report_text, write_report, write_sweep_report,
};

fn summary(dir: &Path) {
    let text = r#"{
  "scenario": "tiny",
  "description": "Two servers, one partitioned.",
  "scenario_digest": "1111111111111111111111111111111111111111111111111111111111111111",
  "seed": 42,
  "version": "0.1.0",
  "simulated_duration_ms": 3600000,
  "events": 123456,
  "wall_s": 1.5,
  "records": "summary",
  "records_note": "auto: 2e6 deliveries is over the 1e6 limit",
  "metrics": {
    "delivery.count": 1200,
    "delivery.lost": 3,
    "delivery.latency_ms.p50": 81.25,
    "delivery.latency_ms.p99": 1500,
    "delivery.latency_ms.max": 600000,
    "federation.attempts": 40,
    "federation.bytes": 123456,
    "convergence.final_divergent_rooms": 0,
    "sim.events_per_s": 82304.2
  },
  "expect": [
    { "metric": "delivery.lost", "op": "equals", "value": 0, "actual": 3, "pass": false, "text": "delivery.lost == 0 (got 3)" },
    { "metric": "convergence.final_divergent_rooms", "op": "max", "value": 0, "actual": 0, "pass": true, "text": "..." },
    { "metric": "delivery.latency_ms.p99", "op": "max", "value": 2000, "actual": 1500, "pass": true, "text": "..." }
  ],
  "annotations": {},
  "digest": "2222222222222222222222222222222222222222222222222222222222222222"
}"#;
    fs::write(dir.join("summary.json"), text).unwrap();
}

#[test]
fn run_report_lists_claims_metrics_and_plots() {
    let tmp = tempfile::tempdir().unwrap();
    summary(tmp.path());
    fs::create_dir(tmp.path().join("plots")).unwrap();
    for stem in ["latency_cdf", "federation"] {
        fs::write(tmp.path().join(format!("plots/{stem}.png")), b"png").unwrap();
    }
    let md = run_report_text(tmp.path()).unwrap();
    assert!(md.starts_with("# stickysim run: tiny, seed 42\n"), "{md}");
    assert!(md.contains("> Two servers, one partitioned."));
    assert!(md.contains("**Claims: 2 of 3 hold** ❌"));
    assert!(md.contains("| ❌ | `delivery.lost` = 0 | 3 |"), "{md}");
    assert!(md.contains("| ✅ | `convergence.final_divergent_rooms` ≤ 0 | 0 |"));
    assert!(md.contains("| ✅ | `delivery.latency_ms.p99` ≤ 2 s | 1.5 s |"));
    // What was run.
    assert!(md.contains("| seed | 42 |"));
    assert!(md.contains("| simulated | 1 h (123,456 events) |"));
    assert!(md.contains("| wall time | 1.5 s (82,304/s) |"));
    assert!(md.contains("| records | summary: auto: 2e6 deliveries is over the 1e6 limit |"));
    assert!(md.contains("1111111111111111111111111111111111111111111111111111111111111111"));
    assert!(md.contains("2222222222222222222222222222222222222222222222222222222222222222"));
    // Metrics by family, percentiles on one row, with units.
    assert!(md.contains("### Delivery"));
    assert!(
        md.contains(
            "| `delivery.latency_ms` (over delivered pairs only) | p50 81.2 ms · p99 1.5 s · max 10 min |"
        ),
        "{md}"
    );
    assert!(md.contains("| `federation.bytes` | 123 kB |"));
    assert!(md.find("### Delivery") < md.find("### Federation"));
    assert!(md.find("### Federation") < md.find("### Convergence"));
    // Only the plots that exist, by relative path.
    assert!(md.contains("![latency CDF](plots/latency_cdf.png)"));
    assert!(md.contains("![federation](plots/federation.png)"));
    assert!(!md.contains("plots/spam_window.png"));
    // Deterministic.
    assert_eq!(md, run_report_text(tmp.path()).unwrap());
    let path = write_report(tmp.path()).unwrap();
    assert_eq!(fs::read_to_string(path).unwrap(), md);
}

#[test]
fn run_report_without_plots_or_summary() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(write_report(tmp.path()).is_err(), "no summary.json");
    assert!(!tmp.path().join("report.md").exists());
    summary(tmp.path());
    let md = run_report_text(tmp.path()).unwrap();
    assert!(md.contains("No plots in `plots/` yet"));
    fs::write(tmp.path().join("summary.json"), "[1, 2").unwrap();
    assert!(run_report_text(tmp.path()).is_err());
}

#[test]
fn sweep_report_tables_and_plot_links() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let key = "servers.defaults.inbound.policy";
    fs::write(
        dir.join("sweep.json"),
        format!(
            r#"{{"scenario":"tiny","scenario_digest":"abc","keys":["{key}"],"seeds":[1,2],
               "points":[{{"point":0,"values":{{"{key}":"reject_429"}}}},{{"point":1,"values":{{"{key}":"accept_drop"}}}}],
               "headline":["delivery.lost"]}}"#
        ),
    )
    .unwrap();
    fs::write(
        dir.join("aggregate.csv"),
        format!(
            "point,{key},metric,n,mean,std,ci95_lo,ci95_hi,min,median,max\n\
             0,reject_429,delivery.lost,2,0,0,0,0,0,0,0\n\
             1,accept_drop,delivery.lost,2,12.5,2,0,25,11,12.5,14\n"
        ),
    )
    .unwrap();
    fs::write(
        dir.join("sweep.csv"),
        format!("run,point,seed,{key},delivery.lost\np0000-seed-1,0,1,reject_429,0\np0001-seed-1,1,1,accept_drop,11\n"),
    )
    .unwrap();
    for (run, actual) in [("p0000-seed-1", 0), ("p0001-seed-1", 11)] {
        fs::create_dir(dir.join(run)).unwrap();
        fs::write(
            dir.join(run).join("summary.json"),
            format!(
                r#"{{"expect":[{{"metric":"delivery.lost","op":"equals","value":0,"actual":{actual},"pass":{}}}]}}"#,
                actual == 0
            ),
        )
        .unwrap();
    }
    fs::create_dir(dir.join("plots")).unwrap();
    fs::write(
        dir.join("plots/sweep_delivery.lost__servers.defaults.inbound.policy.png"),
        b"png",
    )
    .unwrap();
    let md = sweep_report_text(dir).unwrap();
    assert!(md.starts_with("# stickysim sweep: tiny\n"));
    assert!(md.contains("| `servers.defaults.inbound.policy` | reject_429, accept_drop |"));
    assert!(md.contains("| ❌ | `delivery.lost` = 0 | 1 of 2 |"), "{md}");
    assert!(md.contains("| policy | mean | 95% CI | n |"));
    assert!(md.contains("| accept_drop | 12.5 | 0 – 25 | 2 |"), "{md}");
    assert!(md.contains(
        "![delivery.lost vs policy](plots/sweep_delivery.lost__servers.defaults.inbound.policy.png)"
    ));
    let path = write_sweep_report(dir).unwrap();
    assert_eq!(fs::read_to_string(path).unwrap(), md);
}

/// Runs the default scenario (through the library) into a new temporary folder; returns
/// the folder and the scenario as run.
fn run_default(plots: bool, no_expect: bool) -> (tempfile::TempDir, stickysim::scenario::Scenario) {
    let scn = stickysim::scenario::load_str(
        stickysim::scenario::DEFAULT_SCENARIO,
        stickysim::scenario::DEFAULT_SCENARIO_NAME,
        &[],
    )
    .expect("the default scenario loads");
    let tmp = tempfile::tempdir().unwrap();
    let opts = stickysim::run::RunOptions {
        out_dir: tmp.path().to_path_buf(),
        plots,
        no_expect,
        ..Default::default()
    };
    stickysim::run::run_scenario(&scn, &opts).expect("the default scenario runs");
    (tmp, scn)
}

/// `report.md` of a real run of the default scenario (through the library, with plots).
#[test]
fn default_run_report_lists_every_claim_and_links_every_plot() {
    let (tmp, _) = run_default(true, false);
    let md = fs::read_to_string(tmp.path().join("report.md")).unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("summary.json")).unwrap())
            .unwrap();
    let expects = summary["expect"].as_array().expect("expect list");
    assert!(
        !expects.is_empty(),
        "the default scenario has [[expect]] claims"
    );
    let claim_rows: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| ✅ |") || l.starts_with("| ❌ |"))
        .collect();
    assert_eq!(claim_rows.len(), expects.len(), "{md}");
    for (e, row) in expects.iter().zip(&claim_rows) {
        let metric = e["metric"].as_str().unwrap();
        let mark = if e["pass"].as_bool().unwrap() {
            "✅"
        } else {
            "❌"
        };
        assert!(
            row.starts_with(&format!("| {mark} | `{metric}`")),
            "claim on {metric} should read {mark}: {row}"
        );
    }
    let held = expects
        .iter()
        .filter(|e| e["pass"].as_bool() == Some(true))
        .count();
    assert!(
        md.contains(&format!("**Claims: {held} of {} hold**", expects.len())),
        "{md}"
    );
    // Each plot linked by a path relative to the report, to a file that is there.
    for stem in [
        "latency_cdf",
        "spam_window",
        "convergence",
        "federation",
        "rtc_ghosts",
    ] {
        let link = format!("](plots/{stem}.png)");
        assert_eq!(md.matches(&link).count(), 1, "{stem} linked once: {md}");
        assert!(tmp.path().join(format!("plots/{stem}.png")).is_file());
    }
    assert!(
        !md.contains(&tmp.path().display().to_string()),
        "no absolute paths"
    );
}

/// A run with `--no-expect` says so once, in one bold line, and lists no claim.
#[test]
fn a_run_without_its_claims_says_so_once() {
    let (tmp, scn) = run_default(false, true);
    let md = fs::read_to_string(tmp.path().join("report.md")).unwrap();
    let n = scn.file.expect.len();
    let line =
        format!("**Claims not checked (--no-expect): the scenario has {n} [[expect]] claim(s)**");
    assert_eq!(md.matches(&line).count(), 1, "{md}");
    assert_eq!(
        md.to_lowercase().matches("claims not checked").count(),
        1,
        "{md}"
    );
    assert!(!md.contains("| ✅ |") && !md.contains("| ❌ |"), "{md}");
}
