//! Run charts that say instead of draw: whole-run faults in the caption, all-zero panels
//! left out with why, and the fresh-sync panel at the server where most is waste.

use std::fs;
use std::path::Path;
use stickysim::output::plots::{federation_figure, spam_window_figure, Mark};

fn write(dir: &Path, name: &str, text: &str) {
    fs::write(dir.join(name), text).unwrap();
}

/// A 60 s run with `faults` (JSON list) and `federation.max_queue_depth` = 3.
fn summary(dir: &Path, faults: &str, spam_window_ms: f64) {
    let text = format!(
        r#"{{"scenario": "t", "simulated_duration_ms": 60000,
            "metrics": {{"federation.max_queue_depth": 3, "spam.window_ms": {spam_window_ms}}},
            "annotations": {{"faults": {faults}, "leaves_ms": [5000.0], "servers": []}}}}"#
    );
    write(dir, "summary.json", &text);
}

const TS_HEADER: &str = "t_ms,server,queue_depth,in_backoff,tokens,deferred,fresh_sticky,fresh_inactionable,fresh_inactionable_bytes,fresh_flood\n";

#[test]
fn a_fault_over_the_whole_run_is_said_not_shaded() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // hs3 and hs4 down from 0 to the end (60 s), a link cut for the whole run, and hs2 down
    // 10..20 s: only hs2 is a band.
    summary(
        d,
        r#"[{"kind": "crash", "servers": ["hs3"], "from_ms": 0, "to_ms": 60000},
            {"kind": "crash", "servers": ["hs4"], "from_ms": 0, "to_ms": 60000},
            {"kind": "link", "servers": ["hs1", "hs5"], "from_ms": 0, "to_ms": 60000},
            {"kind": "crash", "servers": ["hs2"], "from_ms": 10000, "to_ms": 20000}]"#,
        0.0,
    );
    write(d, "federation.csv", "t_ms,outcome\n100,ok\n15000,timeout\n");
    write(
        d,
        "timeseries.csv",
        &format!("{TS_HEADER}0,hs1,0,0,50,0,0,0,0,0\n1000,hs1,2,0,50,0,0,0,0,0\n"),
    );
    let fig = federation_figure(d);
    let top = &fig.panels[0];
    assert_eq!(top.shades.len(), 1);
    assert_eq!((top.shades[0].from, top.shades[0].to), (10000.0, 20000.0));
    assert_eq!(top.shades[0].label, "crash hs2");
    assert!(
        fig.caption.ends_with(
            " Not shaded, for the whole run: 2 server(s) down (hs3, hs4); link fault hs1–hs5."
        ),
        "{}",
        fig.caption
    );
    assert!(fig.caption.contains("Shaded: injected faults."));
}

#[test]
fn an_all_zero_queue_panel_is_left_out_with_why() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    summary(d, "[]", 0.0);
    write(d, "federation.csv", "t_ms,outcome\n100,ok\n");
    write(
        d,
        "timeseries.csv",
        &format!(
            "{TS_HEADER}0,hs1,0,0,50,0,0,0,0,0\n0,hs2,0,0,50,0,0,0,0,0\n\
             5000,hs1,0,0,50,0,0,0,0,0\n5000,hs2,0,0,50,0,0,0,0,0\n"
        ),
    );
    let (fig, gone) = federation_figure(d).without_empty_panels();
    let fig = fig.unwrap();
    assert_eq!(fig.panels.len(), 1);
    assert_eq!(gone.len(), 1);
    // Two servers sampled every 5 s, all 0; the summary's largest queue (3) fell between.
    assert_eq!(
        gone[0].1,
        "No server had a PDU queued at any sample (2 servers, every 5 s); the largest per-destination queue, 3, came and went between samples."
    );
    assert!(fig.caption.contains("left out: No server had a PDU queued"));
    // No band drawn: the caption does not speak of shading.
    assert!(!fig.caption.contains("Shaded"));
}

#[test]
fn the_fresh_sync_panel_follows_the_server_where_most_is_waste() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    summary(d, "[]", 0.0);
    // No response carried an inactionable event: the upper panel is left out.
    write(d, "syncs.csv", "t_ms,inactionable_sticky\n100,0\n2000,0\n");
    // At 1 s: hs1 has 10 unexpired, 2 inactionable; hs2 has 4 unexpired, 3 inactionable
    // and a flood of 1 -> hs2 (waste 4 > 2). At 2 s: hs1 5 unexpired, 5 inactionable
    // (waste 5); hs2 9 unexpired, 0 inactionable, flood 5 (waste 5, but more unexpired)
    // -> hs2. At 3 s: nothing anywhere.
    write(
        d,
        "timeseries.csv",
        &format!(
            "{TS_HEADER}1000,hs1,0,0,50,0,10,2,0,0\n1000,hs2,0,0,50,0,4,3,0,1\n\
             2000,hs1,0,0,50,0,5,5,0,0\n2000,hs2,0,0,50,0,9,0,0,5\n\
             3000,hs1,0,0,50,0,0,0,0,0\n3000,hs2,0,0,50,0,0,0,0,0\n"
        ),
    );
    let (fig, gone) = spam_window_figure(d).without_empty_panels();
    let fig = fig.unwrap();
    assert_eq!(gone.len(), 1, "the upper panel is left out");
    assert_eq!(fig.title, "Inactionable sticky events in a fresh /sync");
    let p = &fig.panels[0];
    // The leave marker moved to the panel that is drawn.
    assert_eq!(p.markers.at, vec![5000.0]);
    let line = |name: &str| match &p.series_named(name).unwrap().marks[0] {
        Mark::Step(v) => v.clone(),
        m => panic!("{m:?}"),
    };
    assert_eq!(
        line("unexpired sticky"),
        vec![(1000.0, 4.0), (2000.0, 9.0), (3000.0, 0.0)]
    );
    assert_eq!(
        line("inactionable"),
        vec![(1000.0, 3.0), (2000.0, 0.0), (3000.0, 0.0)]
    );
    assert_eq!(
        line("inactionable + flood\nflood: > 10 keys/sender"),
        vec![(1000.0, 4.0), (2000.0, 5.0), (3000.0, 0.0)]
    );
    assert!(fig
        .caption
        .starts_with("What a client syncing afresh would receive"));
}
