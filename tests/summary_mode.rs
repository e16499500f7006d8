//! Issue "Charts, reports and traces", part 5: `records = "summary"` keeps histograms
//! instead of per-delivery rows, and its percentiles agree with full mode within 1 %.

mod common;
use common::*;
use serde_json::Value;

fn call(records: &str) -> String {
    format!(
        r#"
[simulation]
name = "summary_call"
seed = 9
duration = "20m"
records = "{records}"
[network]
latency = {{ dist = "lognormal", median = "60ms", sigma = 0.8 }}
[servers]
count = 5
[servers.defaults]
clients_per_server = 4
client_latency = {{ dist = "exponential", mean = "15ms" }}
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "matrixrtc"
room = "call"
participants = 20
join = {{ dist = "uniform", min = "0s", max = "1m" }}
stay = {{ dist = "exponential", mean = "8m" }}
crash_fraction = 0.5
sticky_duration = "1h"
"#
    )
}

fn summary(r: &Run) -> Value {
    let text = std::fs::read_to_string(r.path("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("json")
}

fn within_1pct(name: &str, full: f64, summ: f64) {
    let rel = (summ - full).abs() / full.abs().max(1e-9);
    assert!(
        rel <= 0.01,
        "{name}: summary {summ} vs full {full} ({:.3} %)",
        rel * 100.0
    );
}

#[test]
fn summary_mode_agrees_with_full_mode_within_one_percent() {
    let full = run(&call("full"));
    let summ = run(&call("summary"));

    // Same simulation: the counts are exact in both modes.
    for m in [
        "delivery.count",
        "delivery.lost",
        "rtc.crashes",
        "federation.attempts",
    ] {
        assert_eq!(full.metric(m), summ.metric(m), "{m}");
    }
    assert!(
        full.metric("delivery.count") > 500.0,
        "enough deliveries to matter"
    );
    assert!(
        full.metric("rtc.crashes") >= 5.0,
        "enough crashes for ghost_ms"
    );
    for m in [
        "delivery.latency_ms.p50",
        "delivery.latency_ms.p90",
        "delivery.latency_ms.p99",
        "delivery.latency_ms.max",
        "delivery.latency_ms.mean",
        "rtc.ghost_ms.p50",
        "rtc.ghost_ms.p99",
        "rtc.ghost_ms.max",
    ] {
        within_1pct(m, full.metric(m), summ.metric(m));
    }

    // Files: no deliveries.csv in summary mode, histograms in summary.json instead.
    assert!(full.path("deliveries.csv").exists());
    assert!(!summ.path("deliveries.csv").exists());
    let sf = summary(&full);
    let ss = summary(&summ);
    assert_eq!(sf["records"], "full");
    assert_eq!(ss["records"], "summary");
    assert!(sf.get("histograms").is_none());
    let lat = &ss["histograms"]["delivery.latency_ms"];
    assert_eq!(lat["kind"], "log");
    assert_eq!(lat["buckets_per_decade"], 200);
    assert_eq!(
        lat["count"].as_f64(),
        Some(full.metric("delivery.count") - full.metric("delivery.lost")),
        "one histogram entry per delivered pair"
    );
    assert_eq!(
        ss["histograms"]["rtc.ghost_ms"]["count"].as_f64(),
        Some(
            full.csv("ghosts.csv")
                .iter()
                .filter(|g| !g["ghost_ms"].is_empty())
                .count() as f64
        )
    );
    let files: Vec<&str> = ss["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(!files.contains(&"deliveries.csv"));
    assert!(
        ss.get("records_note").is_none(),
        "summary was asked for: no note"
    );

    // The report says which records mode the run used.
    let report = std::fs::read_to_string(summ.path("report.md")).expect("report.md");
    assert!(report.contains("| records | summary |"), "{report}");
    let report = std::fs::read_to_string(full.path("report.md")).expect("report.md");
    assert!(report.contains("| records | full |"));
}

#[test]
fn auto_below_the_limit_is_full_mode_byte_for_byte() {
    let full = run(&call("full"));
    let auto = run(&call("auto"));
    assert_eq!(summary(&auto)["records"], "full");
    assert!(summary(&auto).get("records_note").is_none());
    assert_eq!(full.out.digest, auto.out.digest);
    assert_eq!(
        std::fs::read(full.path("deliveries.csv")).unwrap(),
        std::fs::read(auto.path("deliveries.csv")).unwrap()
    );
}

#[test]
fn summary_mode_is_deterministic() {
    let a = run(&call("summary"));
    let b = run(&call("summary"));
    assert_eq!(a.out.digest, b.out.digest);
    let strip = |v: Value| {
        let mut v = v;
        if let Some(o) = v.as_object_mut() {
            o.remove("wall_s");
            if let Some(m) = o.get_mut("metrics").and_then(Value::as_object_mut) {
                m.remove("sim.wall_s");
                m.remove("sim.events_per_s");
            }
        }
        v
    };
    assert_eq!(strip(summary(&a)), strip(summary(&b)));
}

#[test]
fn auto_drops_the_rows_once_past_its_limit() {
    use stickysim::run::simulate;
    use stickysim::run::write::gather_deliveries;
    let scn = scenario(&call("auto"));
    let fin = simulate(&scn, false, false, false).expect("simulate");
    let (rows, stats, full) = gather_deliveries(&fin.observer, &fin.world, fin.end, |_| true);
    let total = rows.len();
    assert!(full && total > 500 && stats.all.rows as usize == total);
    assert_eq!(stats.all.latencies.len() as u64, stats.all.hist.count);
    // A limit of 100 rows: the 101st switches to summary mode and frees what was kept.
    let (rows, stats, full) = gather_deliveries(&fin.observer, &fin.world, fin.end, |n| n <= 100);
    assert!(!full && rows.is_empty() && stats.all.latencies.is_empty());
    assert_eq!(stats.all.rows as usize, total, "every pair still counted");
    // Summary mode never keeps a row.
    let (rows, stats, full) = gather_deliveries(&fin.observer, &fin.world, fin.end, |_| false);
    assert!(!full && rows.is_empty() && stats.all.latencies.is_empty());
    assert_eq!(stats.all.rows as usize, total);
}

/// Summary mode counts receipts as they come (bits and latencies, no per-pair map): every
/// delivery figure must equal what the end-of-run scan over full mode's per-pair map gives,
/// exactly, and so must every metric computed from them.
#[test]
fn summary_mode_counts_exactly_what_full_mode_counts() {
    use stickysim::observe::metrics::compute_with;
    use stickysim::run::simulate;
    use stickysim::run::write::gather_deliveries;
    let mut cases: Vec<(
        String,
        stickysim::scenario::Scenario,
        stickysim::scenario::Scenario,
    )> = vec![(
        "summary_call".into(),
        scenario(&call("full")),
        scenario(&call("summary")),
    )];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in [
        "matrixrtc_call",
        "partition_catch_up",
        "new_joiner",
        "rate_limit_policies",
        "transitive_delivery",
        "expiry_divergence",
        "spam_window",
    ] {
        let path = root.join("scenarios").join(format!("{name}.toml"));
        let load = |records: &str| {
            stickysim::scenario::load_path(&path, &[format!("simulation.records={records}")])
                .unwrap_or_else(|e| panic!("{name}: {e:?}"))
        };
        cases.push((name.into(), load("full"), load("summary")));
    }
    for (name, full_scn, summ_scn) in cases {
        let full = simulate(&full_scn, false, false, false).expect("simulate");
        let summ = simulate(&summ_scn, false, false, false).expect("simulate");
        assert!(full.observer.tally.is_none() && !full.observer.received.is_empty());
        let tally = summ
            .observer
            .tally
            .as_ref()
            .expect("summary mode keeps a tally");
        assert!(summ.observer.received.is_empty(), "{name}: no per-pair map");
        let (_, old, _) = gather_deliveries(&full.observer, &full.world, full.end, |_| false);
        let (rows, new, full_kept) =
            gather_deliveries(&summ.observer, &summ.world, summ.end, |_| true);
        assert!(rows.is_empty() && !full_kept);
        assert!(old.all.rows > 0, "{name}: pairs to count");
        assert_eq!(old, new, "{name}: delivery figures");
        assert!(
            (tally.deferred_len() as u64) * 10 <= old.all.rows,
            "{name}: {} receipts left undecided of {} pairs",
            tally.deferred_len(),
            old.all.rows
        );
        let interval = full_scn.file.simulation.sample_interval.us().max(1);
        let a = compute_with(&full.observer, &full.world, old, full.end, interval, true);
        let b = compute_with(&summ.observer, &summ.world, new, summ.end, interval, true);
        assert_eq!(a.metrics, b.metrics, "{name}: metrics");
        assert_eq!(a.latency_hists.all, b.latency_hists.all, "{name}");
        assert_eq!(a.latency_hists.local, b.latency_hists.local, "{name}");
        assert_eq!(a.latency_hists.remote, b.latency_hists.remote, "{name}");
    }
}
