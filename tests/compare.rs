//! `stickysim compare` and `run --no-expect`: two tiny runs compared, the paired table's
//! numbers checked against each summary.json, the difference and ratio arithmetic, the
//! overlay CDF flat at the delivered fraction, bad folders exit 2, and claims skipped.

mod common;

use common::read_csv;
use std::path::{Path, PathBuf};
use stickysim::output::compare::{
    compare_csv, format_difference, format_ratio, latency_overlay, load_runs, ratio, report_text,
    RunData,
};
use stickysim::output::report::format_metric;
use stickysim::run::cli::{dispatch, Command, RunArgs};
use stickysim::run::{run_scenario, RunOptions};

const SCENARIO: &str = "scenarios/rate_limit_policies.toml";

/// rate_limit_policies with only hs1 sending to hs2 and hs3, all under one policy.
fn run_policy(policy: &str, dir: &Path) {
    run_policy_on(policy, r#"[{name="hs1"},{name="hs2"},{name="hs3"}]"#, dir);
}

/// rate_limit_policies with the servers `list`, all under one policy.
fn run_policy_on(policy: &str, list: &str, dir: &Path) {
    let sets = vec![
        format!("servers.defaults.inbound.policy={policy}"),
        format!("servers.list={list}"),
    ];
    let scn = stickysim::scenario::load_path(Path::new(SCENARIO), &sets).expect("loads");
    run_scenario(
        &scn,
        &RunOptions {
            out_dir: dir.to_path_buf(),
            no_expect: true,
            ..Default::default()
        },
    )
    .expect("runs");
}

fn two_runs() -> (tempfile::TempDir, Vec<PathBuf>) {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = vec![
        tmp.path().join("reject_429"),
        tmp.path().join("accept_drop"),
    ];
    run_policy("reject_429", &dirs[0]);
    run_policy("accept_drop", &dirs[1]);
    (tmp, dirs)
}

fn summary_metric(dir: &Path, k: &str) -> Option<f64> {
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    s["metrics"][k].as_f64()
}

#[test]
fn paired_table_matches_the_summaries() {
    let (tmp, dirs) = two_runs();
    let out = tmp.path().join("cmp");
    let code = dispatch(Command::Compare(stickysim::output::compare::CompareArgs {
        runs: dirs.clone(),
        out: out.clone(),
        points: None,
        seed: None,
    }))
    .unwrap();
    assert_eq!(code, 0);
    for f in [
        "report.md",
        "compare.csv",
        "plots/latency_cdf.svg",
        "plots/latency_cdf.png",
        "plots/convergence.png",
        "plots/federation.png",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }

    // compare.csv: every metric of both summaries, exact, with B − A and B / A.
    let rows = read_csv(&out.join("compare.csv"));
    let n_metrics = {
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dirs[0].join("summary.json")).unwrap())
                .unwrap();
        s["metrics"].as_object().unwrap().len()
    };
    assert_eq!(rows.len(), n_metrics);
    for r in &rows {
        let k = &r["metric"];
        let a: f64 = r["reject_429"].parse().unwrap();
        let b: f64 = r["accept_drop"].parse().unwrap();
        assert_eq!(Some(a), summary_metric(&dirs[0], k), "{k}");
        assert_eq!(Some(b), summary_metric(&dirs[1], k), "{k}");
        assert_eq!(r["difference"].parse::<f64>().unwrap(), b - a, "{k}");
        if a == 0.0 {
            assert_eq!(r["ratio"], "", "{k}");
        } else {
            assert_eq!(r["ratio"].parse::<f64>().unwrap(), b / a, "{k}");
        }
    }
    let lost = rows
        .iter()
        .find(|r| r["metric"] == "delivery.lost")
        .unwrap();
    assert_eq!(lost["reject_429"], "0");
    assert!(lost["accept_drop"].parse::<f64>().unwrap() > 0.0);

    // report.md: the same numbers as the run reports format them.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| metric | reject_429 (A) | accept_drop (B) | B − A | B / A |"));
    let p50 = "delivery.latency_ms.p50";
    let (a, b) = (
        summary_metric(&dirs[0], p50).unwrap(),
        summary_metric(&dirs[1], p50).unwrap(),
    );
    let row = format!(
        "| `{p50}` | {} | {} | {} | {} |",
        format_metric(p50, a),
        format_metric(p50, b),
        format_difference(p50, b - a),
        format_ratio(ratio(a, b))
    );
    assert!(md.contains(&row), "{row} not in report:\n{md}");
    // The scenario key that differs is named.
    assert!(
        md.contains("| `servers.defaults.inbound.policy` | `\"reject_429\"` | `\"accept_drop\"` |")
    );
    for stem in ["latency_cdf", "convergence", "federation"] {
        assert!(md.contains(&format!("](plots/{stem}.png)")));
    }

    // Deterministic: the same folders give the same bytes.
    let out2 = tmp.path().join("cmp2");
    dispatch(Command::Compare(stickysim::output::compare::CompareArgs {
        runs: dirs.clone(),
        out: out2.clone(),
        points: None,
        seed: None,
    }))
    .unwrap();
    for f in ["report.md", "compare.csv", "plots/latency_cdf.svg"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(out2.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn latency_cdf_flattens_at_the_delivered_fraction() {
    let (_tmp, dirs) = two_runs();
    let runs = load_runs(&dirs).unwrap();
    assert_eq!(runs[0].label, "reject_429");
    assert_eq!(runs[1].label, "accept_drop");
    let fig = latency_overlay(&runs);
    let panel = &fig.panels[0];
    for (i, r) in runs.iter().enumerate() {
        let count = r.metrics["delivery.count"];
        let lost = r.metrics["delivery.lost"];
        let frac = (count - lost) / count;
        let s = &panel.series[i];
        let last = s.points().last().unwrap().1;
        assert!((last - frac).abs() < 1e-12, "{}: {last} vs {frac}", r.label);
        assert!(s.name.starts_with(&r.label));
        assert!(s.name.contains("% delivered"), "{}", s.name);
    }
    // accept_drop loses pairs: its line ends well below 100%, reject_429's at 100%.
    assert!((panel.series[0].points().last().unwrap().1 - 1.0).abs() < 1e-12);
    assert!(panel.series[1].points().last().unwrap().1 < 0.9);
}

#[test]
fn more_than_two_runs_get_one_column_each() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["reject_429", "accept_drop", "unlimited"]
        .iter()
        .map(|p| {
            let d = tmp.path().join(p);
            run_policy(p, &d);
            d
        })
        .collect();
    let runs = load_runs(&dirs).unwrap();
    let md = report_text(&runs, &[]);
    assert!(md.contains("| metric | reject_429 | accept_drop | unlimited |"));
    let csv = compare_csv(&runs);
    assert!(csv.starts_with("metric,reject_429,accept_drop,unlimited\n"));
    assert!(!csv.contains("difference"));
}

#[test]
fn same_folder_names_are_told_apart() {
    let l =
        stickysim::output::compare::labels(&[PathBuf::from("a/seed-1"), PathBuf::from("b/seed-1")]);
    assert_eq!(l, vec!["a/seed-1", "b/seed-1"]);
}

#[test]
fn bad_folders_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    run_policy("unlimited", &good);
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for bad in [tmp.path().join("missing"), empty] {
        let code = dispatch(Command::Compare(stickysim::output::compare::CompareArgs {
            runs: vec![good.clone(), bad.clone()],
            out: tmp.path().join("out"),
            points: None,
            seed: None,
        }))
        .unwrap();
        assert_eq!(code, 2, "{}", bad.display());
        assert!(RunData::load(&bad).is_err());
    }
    assert!(!tmp.path().join("out").join("report.md").exists());
}

#[test]
fn no_expect_skips_the_claims() {
    // rate_limit_policies' claims fail once hs3 no longer drops.
    let tmp = tempfile::tempdir().unwrap();
    let args = |dir: &Path, no_expect: bool| RunArgs {
        scenario: Some(PathBuf::from(SCENARIO)),
        out: Some(dir.to_path_buf()),
        sets: vec![
            "servers.defaults.inbound.policy=unlimited".into(),
            r#"servers.list=[{name="hs1"},{name="hs2"}]"#.into(),
        ],
        no_plots: true,
        quiet: true,
        no_expect,
        ..Default::default()
    };
    let checked = tmp.path().join("checked");
    assert_eq!(dispatch(Command::Run(args(&checked, false))).unwrap(), 1);
    let unchecked = tmp.path().join("unchecked");
    assert_eq!(dispatch(Command::Run(args(&unchecked, true))).unwrap(), 0);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(unchecked.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["expect_checked"], serde_json::json!(false));
    assert_eq!(s["expect"], serde_json::json!([]));
    assert!(s["expect_note"].as_str().unwrap().contains("not checked"));
    let md = std::fs::read_to_string(unchecked.join("report.md")).unwrap();
    assert!(md.contains("Claims not checked"), "{md}");
    // Same simulation either way.
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(checked.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(c["digest"], s["digest"]);
    assert_eq!(c["expect_checked"], serde_json::json!(true));
}

#[test]
fn pending_pairs_are_in_the_overlay_denominator() {
    // Two servers, 100 ms apart; hs1/0 sends `c` (1 h) at 10 s, `a` (1 h) and `b` (1 min)
    // at 60 s; hs2 is cut off from 50 s to the end. 3 events x 7 recipients = 21 due pairs:
    // `c` 7 delivered; `a` 3 local delivered, 4 pending on hs2; `b` 3 local, 4 lost. The
    // line ends at 13/21, not at 13/17 (pending left out) nor 13/21 of a 17-pair total.
    let text = common::CUT.replace("to = \"9m\"", "to = \"10m\"");
    let a = common::run(&text);
    let b = common::run(&text);
    let dirs = vec![a.dir.path().to_path_buf(), b.dir.path().to_path_buf()];
    let runs = load_runs(&dirs).unwrap();
    assert_eq!(runs[0].metrics["delivery.pending_at_end"], 4.0);
    assert_eq!(runs[0].metrics["delivery.count"], 17.0);
    let fig = latency_overlay(&runs);
    for s in &fig.panels[0].series {
        let last = s.points().last().unwrap().1;
        assert!((last - 13.0 / 21.0).abs() < 1e-12, "{}: {last}", s.name);
        assert!(s.name.contains("delivered of 21"), "{}", s.name);
    }
}

#[test]
fn the_readme_example_reads_at_a_glance() {
    // README "Comparing runs": hs1/0 sends 200 events at once to hs1/1, hs2/0 and hs2/1:
    // 600 due pairs. accept_drop: hs2 keeps its burst of 50 plus 6 tokens refilled over
    // three 100 ms round trips, 56 events x 2 clients, plus the 200 local pairs: 312 of
    // 600 = 52%, every one within 1 s. reject_429: the first 50 events reach hs2 at once
    // (300 of 600 pairs within 1 s), the rest after 429s and retries: 100% within 2 min.
    let tmp = tempfile::tempdir().unwrap();
    let two = r#"[{name="hs1"},{name="hs2"}]"#;
    let dirs = vec![
        tmp.path().join("reject_429"),
        tmp.path().join("accept_drop"),
    ];
    run_policy_on("reject_429", two, &dirs[0]);
    run_policy_on("accept_drop", two, &dirs[1]);
    let runs = load_runs(&dirs).unwrap();
    let fig = latency_overlay(&runs);
    let at = |i: usize, x: f64| -> f64 {
        let pts = fig.panels[0].series[i].points();
        pts.iter().rfind(|p| p.0 <= x).map(|p| p.1).unwrap_or(0.0)
    };
    assert_eq!(
        fig.panels[0].series[0].name,
        "reject_429\n100% delivered of 600"
    );
    assert_eq!(
        fig.panels[0].series[1].name,
        "accept_drop\n52% delivered of 600"
    );
    assert_eq!((at(0, 1000.0), at(1, 1000.0)), (0.5, 0.52));
    assert_eq!((at(0, 120_000.0), at(1, 120_000.0)), (1.0, 0.52));
    assert_eq!(runs[1].metrics["delivery.lost"], 288.0);
    assert_eq!(runs[0].metrics["federation.rate_limited"], 6.0);
}
