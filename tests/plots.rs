//! Plots drawn from small run and sweep folders written here, in the documented format
//! (docs/output-format.md), with values we know.

use std::fs;
use std::path::Path;
use stickysim::output::plots::{
    self, convergence_figure, federation_figure, latency_cdf_figure, plot_cmd, plot_run_dir,
    plot_sweep_dir, rtc_ghosts_figure, run_figures, spam_window_figure, sweep_figures, AxisKind,
    Figure, Hue, Mark, Scale, SweepData,
};

fn write(dir: &Path, name: &str, text: &str) {
    fs::write(dir.join(name), text).unwrap();
}

const DELIVERIES_HEADER: &str = "event_id,kind,room,sender_server,recipient_server,recipient_client,sent_ms,server_received_ms,client_received_ms,latency_ms,path,attempts\n";

fn summary(policies: &[(&str, &str)], extra: &str) -> String {
    let servers: Vec<String> = policies
        .iter()
        .map(|(n, p)| format!(r#"{{"name":"{n}","policy":"{p}","catch_up":"sticky_all"}}"#))
        .collect();
    format!(
        r#"{{
  "scenario": "tiny", "description": "hand-written", "scenario_digest": "{d1}", "seed": 7,
  "version": "0.1.0", "simulated_duration_ms": 60000, "events": 1000, "wall_s": 0.5,
  "records": "full",
  "metrics": {{ "delivery.count": 7, "delivery.lost": 1, "spam.window_ms": 30000 }},
  "expect": [],
  "annotations": {{
    "faults": [ {{ "kind": "partition", "servers": ["hs2"], "from_ms": 10000, "to_ms": 20000 }} ],
    "leaves_ms": [5000.0, 25000.0],
    "crashes_ms": [],
    "servers": [{servers}]
  }}{extra},
  "digest": "{d2}"
}}"#,
        d1 = "a".repeat(64),
        d2 = "b".repeat(64),
        servers = servers.join(",")
    )
}

/// A complete small run folder with known values.
fn run_folder(dir: &Path) {
    write(
        dir,
        "summary.json",
        &summary(&[("hs1", "reject_429"), ("hs2", "reject_429")], ""),
    );
    let mut d = String::from(DELIVERIES_HEADER);
    for (i, (lat, path)) in [
        (10.0, "direct"),
        (20.0, "direct"),
        (30.0, "direct"),
        (40.0, "direct"),
        (1000.0, "retry"),
        (2000.0, "retry"),
    ]
    .iter()
    .enumerate()
    {
        d.push_str(&format!(
            "$e{i},join,call,hs1,hs2,hs2/0,100,{r},{r},{lat:.3},{path},1\n",
            r = 100.0 + lat
        ));
    }
    d.push_str("$e9,join,call,hs1,hs2,hs2/1,100,,,,lost,3\n");
    write(dir, "deliveries.csv", &d);
    write(
        dir,
        "syncs.csv",
        "t_ms,client,room_count,timeline_events,sticky_events,inactionable_sticky,bytes,gappy\n\
         100,hs2/0,1,1,3,3,500,0\n\
         200,hs2/1,1,1,1,1,500,0\n\
         10000,hs2/0,1,0,0,0,100,0\n",
    );
    write(
        dir,
        "convergence.csv",
        "t_ms,room,live_clients,distinct_views,agreeing_pair_fraction\n\
         0,call,4,1,1.0\n0,lobby,2,1,1.0\n\
         1000,call,4,2,0.5\n1000,lobby,2,1,1.0\n\
         2000,call,4,2,0.5\n2000,lobby,2,1,1.0\n\
         3000,call,4,1,1.0\n3000,lobby,2,1,1.0\n",
    );
    write(
        dir,
        "federation.csv",
        "t_ms,origin,destination,txn_id,pdus,sticky_pdus,outcome,retry_after_ms,next_attempt_ms\n\
         0,hs1,hs2,1,1,1,ok,,\n\
         100,hs1,hs2,2,1,1,rate_limited,1000,1100\n\
         200,hs1,hs2,3,1,1,rate_limited,1000,1200\n\
         11000,hs1,hs2,4,1,1,timeout,,71000\n",
    );
    write(
        dir,
        "timeseries.csv",
        "t_ms,server,queue_depth,in_backoff,tokens,deferred\n\
         0,hs1,0,0,50,0\n0,hs2,0,0,50,0\n\
         1000,hs1,5,1,50,0\n1000,hs2,0,0,50,0\n\
         2000,hs1,2,0,50,0\n2000,hs2,0,0,50,0\n",
    );
    write(
        dir,
        "ghosts.csv",
        "participant,room,crash_ms,gone_ms,ghost_ms\n\
         p1,call,1000,9000,8000\np2,call,2000,10500,8500\np3,call,3000,,\n",
    );
}

/// A minimal well-formedness check: balanced tags, quoted attributes, one root element.
/// Returns the root element's name and attributes.
fn parse_xml_root(text: &str) -> (String, Vec<(String, String)>) {
    let b = text.as_bytes();
    let mut i = 0;
    let mut stack: Vec<String> = vec![];
    let mut root: Option<(String, Vec<(String, String)>)> = None;
    let mut roots = 0;
    while i < b.len() {
        if b[i] != b'<' {
            assert!(
                !stack.is_empty() || b[i].is_ascii_whitespace(),
                "text outside the root at byte {i}"
            );
            if b[i] == b'&' {
                let end = text[i..].find(';').expect("unterminated entity") + i;
                let ent = &text[i + 1..end];
                assert!(
                    ["amp", "lt", "gt", "quot", "apos"].contains(&ent) || ent.starts_with('#'),
                    "unknown entity &{ent};"
                );
            }
            i += 1;
            continue;
        }
        if text[i..].starts_with("<?") {
            i += text[i..].find("?>").expect("unterminated <?") + 2;
            continue;
        }
        if text[i..].starts_with("<!--") {
            i += text[i..].find("-->").expect("unterminated comment") + 3;
            continue;
        }
        if text[i..].starts_with("<!") {
            i += text[i..].find('>').expect("unterminated <!") + 1;
            continue;
        }
        // A tag: find its end outside quotes.
        let mut j = i + 1;
        let mut quote: Option<u8> = None;
        while j < b.len() {
            match (quote, b[j]) {
                (None, b'"') | (None, b'\'') => quote = Some(b[j]),
                (Some(q), c) if c == q => quote = None,
                (None, b'>') => break,
                (None, b'<') => panic!("'<' inside a tag at byte {j}"),
                _ => {}
            }
            j += 1;
        }
        assert!(j < b.len(), "unterminated tag at byte {i}");
        let inner = &text[i + 1..j];
        if let Some(name) = inner.strip_prefix('/') {
            let open = stack.pop().expect("closing tag without an open one");
            assert_eq!(open, name.trim(), "mismatched closing tag");
        } else {
            let self_closing = inner.ends_with('/');
            let inner = inner.trim_end_matches('/');
            let name: String = inner.chars().take_while(|c| !c.is_whitespace()).collect();
            assert!(!name.is_empty(), "empty tag name");
            let mut attrs = vec![];
            let mut rest = inner[name.len()..].trim();
            while !rest.is_empty() {
                let eq = rest.find('=').expect("attribute without a value");
                let key = rest[..eq].trim().to_string();
                let after = rest[eq + 1..].trim_start();
                let q = after.chars().next().expect("attribute value");
                assert!(q == '"' || q == '\'', "unquoted attribute {key}");
                let end = after[1..].find(q).expect("unterminated attribute") + 1;
                attrs.push((key, after[1..end].to_string()));
                rest = after[end + 1..].trim_start();
            }
            if stack.is_empty() {
                roots += 1;
                root = Some((name.clone(), attrs));
            }
            if !self_closing {
                stack.push(name);
            }
        }
        i = j + 1;
    }
    assert!(stack.is_empty(), "unclosed tags: {stack:?}");
    assert_eq!(roots, 1, "want exactly one root element");
    root.expect("no root element")
}

fn assert_svg_800x500(path: &Path) {
    let text = fs::read_to_string(path).unwrap();
    let (name, attrs) = parse_xml_root(&text);
    assert_eq!(name, "svg", "{}", path.display());
    let get = |k: &str| attrs.iter().find(|a| a.0 == k).map(|a| a.1.clone());
    assert_eq!(get("width").as_deref(), Some("800"), "{}", path.display());
    assert_eq!(get("height").as_deref(), Some("500"), "{}", path.display());
}

fn assert_png_800x500(path: &Path) {
    let b = fs::read(path).unwrap();
    assert!(b.len() > 33, "{} too short", path.display());
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} signature",
        path.display()
    );
    assert_eq!(&b[12..16], b"IHDR");
    let w = u32::from_be_bytes([b[16], b[17], b[18], b[19]]);
    let h = u32::from_be_bytes([b[20], b[21], b[22], b[23]]);
    assert_eq!((w, h), (800, 500), "{}", path.display());
}

fn assert_valid_files(paths: &[std::path::PathBuf]) {
    for p in paths {
        match p.extension().and_then(|e| e.to_str()) {
            Some("svg") => assert_svg_800x500(p),
            Some("png") => assert_png_800x500(p),
            other => panic!("unexpected file {other:?}"),
        }
    }
}

fn step_points(fig: &Figure, panel: usize, prefix: &str) -> Vec<(f64, f64)> {
    let s = fig.panels[panel]
        .series
        .iter()
        .find(|s| s.name.starts_with(prefix))
        .unwrap_or_else(|| panic!("no series {prefix} in {}", fig.name));
    s.points().to_vec()
}

#[test]
fn run_folder_gives_every_plot_as_valid_svg_and_png() {
    let tmp = tempfile::tempdir().unwrap();
    run_folder(tmp.path());
    let paths = plot_run_dir(tmp.path()).unwrap();
    let mut names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    names.sort();
    let mut want = vec![];
    for stem in [
        "convergence",
        "federation",
        "latency_cdf",
        "rtc_ghosts",
        "spam_window",
    ] {
        want.push(format!("{stem}.png"));
        want.push(format!("{stem}.svg"));
    }
    assert_eq!(names, want);
    assert_valid_files(&paths);
    // No temporary file is left behind.
    for e in fs::read_dir(tmp.path().join("plots")).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().to_string();
        assert!(!n.starts_with('.'), "left over: {n}");
    }
    // No figure of a complete folder carries a "no data" note.
    for f in run_figures(tmp.path()) {
        assert!(f.notes().is_empty(), "{}: {:?}", f.name, f.notes());
    }
}

#[test]
fn plots_are_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    run_folder(tmp.path());
    let first: Vec<Vec<u8>> = plot_run_dir(tmp.path())
        .unwrap()
        .iter()
        .map(|p| fs::read(p).unwrap())
        .collect();
    let second: Vec<Vec<u8>> = plot_run_dir(tmp.path())
        .unwrap()
        .iter()
        .map(|p| fs::read(p).unwrap())
        .collect();
    assert!(first == second, "same folder, different bytes");
}

#[test]
fn latency_cdf_matches_the_csv() {
    let tmp = tempfile::tempdir().unwrap();
    run_folder(tmp.path());
    let fig = latency_cdf_figure(tmp.path());
    let p = &fig.panels[0];
    assert_eq!(p.x.scale, Scale::Log);
    assert_eq!(p.x.kind, AxisKind::Time);
    // Paths in their fixed order, one line each; the lost row is in no line.
    let names: Vec<&str> = p.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["direct\n4 delivered", "retry\n2 delivered"]);
    let direct = step_points(&fig, 0, "direct");
    assert_eq!(
        direct,
        vec![
            (10.0, 0.0),
            (10.0, 0.25),
            (20.0, 0.5),
            (30.0, 0.75),
            (40.0, 1.0)
        ]
    );
    let retry = step_points(&fig, 0, "retry");
    assert_eq!(retry.last(), Some(&(2000.0, 1.0)));
    assert!(fig.caption.contains("1 lost"), "{}", fig.caption);
}

#[test]
fn latency_cdf_by_policy_counts_lost_pairs() {
    let tmp = tempfile::tempdir().unwrap();
    run_folder(tmp.path());
    // hs2 (every recipient here) accepts and drops; hs1 differs, so lines are per policy.
    write(
        tmp.path(),
        "summary.json",
        &summary(&[("hs1", "reject_429"), ("hs2", "accept_drop")], ""),
    );
    let fig = latency_cdf_figure(tmp.path());
    let s = &fig.panels[0].series;
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].name, "accept_drop\n6 delivered, 1 lost");
    // 6 delivered of 7 pairs: the line ends at 6/7, not 100%.
    let last = *s[0].points().last().unwrap();
    assert_eq!(last.0, 2000.0);
    assert!((last.1 - 6.0 / 7.0).abs() < 1e-12);
    assert_eq!(s[0].hue, Hue::Palette(1), "accept_drop keeps its colour");
    // ...and stays there to the right edge of the axis: the lost pair never arrives.
    let end = fig.panels[0].x.max.expect("axis end fixed");
    assert_eq!(s[0].marks[1], Mark::Line(vec![last, (end, last.1)]));
    assert!(end > 2000.0);
}

#[test]
fn latency_cdf_in_summary_mode_reads_the_histogram() {
    let tmp = tempfile::tempdir().unwrap();
    let hist = r#", "histograms": { "delivery.latency_ms": { "kind": "log", "buckets_per_decade": 1, "min": 1, "counts": [1, 2, 1] } }"#;
    write(
        tmp.path(),
        "summary.json",
        &summary(&[("hs1", "reject_429")], hist),
    );
    let fig = latency_cdf_figure(tmp.path());
    assert!(fig.notes().is_empty(), "{:?}", fig.notes());
    let pts = fig.panels[0].series[0].points().to_vec();
    // Buckets [1,10) [10,100) [100,1000): the CDF at each upper edge, over all 7 due pairs
    // of the metrics (delivery.count 7): 4 delivered, so the line tops out at 4/7, as in full
    // mode.
    let want = [
        (1.0, 0.0),
        (10.0, 1.0 / 7.0),
        (100.0, 3.0 / 7.0),
        (1000.0, 4.0 / 7.0),
    ];
    assert_eq!(pts.len(), want.len());
    for (got, want) in pts.iter().zip(want) {
        assert!(
            (got.0 - want.0).abs() < 1e-9 * want.0.max(1.0),
            "{got:?} vs {want:?}"
        );
        assert!((got.1 - want.1).abs() < 1e-12);
    }
    assert!(fig.caption.contains("Summary mode"));
    assert!(
        fig.caption
            .contains("Not delivered, so the line stays below 100%: 1 lost"),
        "{}",
        fig.caption
    );
}

#[test]
fn summary_mode_cdf_says_when_every_due_pair_was_delivered() {
    let tmp = tempfile::tempdir().unwrap();
    let hist = r#", "histograms": { "delivery.latency_ms": { "kind": "log", "buckets_per_decade": 1, "min": 1, "counts": [1, 2, 1] } }"#;
    let text = summary(&[("hs1", "reject_429")], hist).replace(
        r#""delivery.count": 7, "delivery.lost": 1"#,
        r#""delivery.count": 4, "delivery.lost": 0"#,
    );
    write(tmp.path(), "summary.json", &text);
    let fig = latency_cdf_figure(tmp.path());
    let pts = fig.panels[0].series[0].points().to_vec();
    // 4 delivered of 4 due pairs: the line reaches 100% and is not carried on.
    assert_eq!(pts.last().unwrap().1, 1.0);
    assert_eq!(fig.panels[0].series[0].marks.len(), 1);
    assert!(
        fig.caption.ends_with(" Every due pair was delivered."),
        "{}",
        fig.caption
    );
}

#[test]
fn spam_window_bins_responses_and_marks_leaves() {
    let tmp = tempfile::tempdir().unwrap();
    run_folder(tmp.path());
    let fig = spam_window_figure(tmp.path());
    let p = &fig.panels[0];
    assert_eq!(p.markers.at, vec![5000.0, 25000.0]);
    let w = plots::bin_width_ms(60_000.0, 150);
    assert_eq!(w, 500.0);
    // Bin [0, 500 ms) holds the responses with 3 and 1 inactionable events.
    let max = step_points(&fig, 0, "largest");
    let mean = step_points(&fig, 0, "mean");
    assert_eq!(max[0], (0.0, 3.0));
    assert_eq!(mean[0], (0.0, 2.0));
    // The 10 s response carried none.
    assert_eq!(mean[20], (10_000.0, 0.0));
    assert!(fig.caption.contains("30 s"), "{}", fig.caption);
}

#[test]
fn convergence_has_a_line_per_room_and_shaded_faults() {
    let tmp = tempfile::tempdir().unwrap();
    run_folder(tmp.path());
    let fig = convergence_figure(tmp.path());
    let p = &fig.panels[0];
    let names: Vec<&str> = p.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["call", "lobby"]);
    assert_eq!(
        step_points(&fig, 0, "call"),
        vec![(0.0, 1.0), (1000.0, 2.0), (3000.0, 1.0)]
    );
    assert_eq!(p.shades.len(), 1);
    assert_eq!((p.shades[0].from, p.shades[0].to), (10_000.0, 20_000.0));
    assert_eq!(p.shades[0].label, "partition hs2");
}

#[test]
fn convergence_with_many_rooms_counts_disagreeing_rooms() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = String::from("t_ms,room,live_clients,distinct_views,agreeing_pair_fraction\n");
    for t in [0, 1000] {
        for r in 0..12 {
            let views = if t == 1000 && r < 5 { 2 } else { 1 };
            c.push_str(&format!("{t},room{r:02},3,{views},1.0\n"));
        }
    }
    write(tmp.path(), "convergence.csv", &c);
    let fig = convergence_figure(tmp.path());
    let s = &fig.panels[0].series;
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].points(), &[(0.0, 0.0), (1000.0, 5.0)]);
    assert!(fig.caption.contains("12 rooms"));
    plot_run_dir(tmp.path()).unwrap();
}

#[test]
fn federation_counts_attempts_429s_and_timeouts() {
    let tmp = tempfile::tempdir().unwrap();
    run_folder(tmp.path());
    let fig = federation_figure(tmp.path());
    assert_eq!(fig.panels.len(), 2);
    let w = plots::bin_width_ms(60_000.0, 60);
    assert_eq!(w, 1000.0);
    // Attempts are bars (only bins with attempts), failures lines over them.
    let Mark::Bars(attempts) = &fig.panels[0].series_named("attempts").unwrap().marks[0] else {
        panic!("attempts are bars")
    };
    assert_eq!(attempts[0], (0.0, 1000.0, 3.0));
    assert_eq!(step_points(&fig, 0, "429")[0], (0.0, 2.0));
    assert_eq!(step_points(&fig, 0, "timeout")[11], (11_000.0, 1.0));
    let total: f64 = attempts.iter().map(|b| b.2).sum();
    assert_eq!(total, 4.0);
    // Queue depth per server, deepest first.
    let names: Vec<&str> = fig.panels[1]
        .series
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, vec!["hs1", "hs2"]);
    assert_eq!(
        step_points(&fig, 1, "hs1"),
        vec![(0.0, 0.0), (1000.0, 5.0), (2000.0, 2.0)]
    );
}

#[test]
fn many_servers_fold_into_others() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = String::from("t_ms,server,queue_depth,in_backoff,tokens,deferred\n");
    for s in 0..30 {
        t.push_str(&format!("0,hs{s:02},{s},0,50,0\n"));
    }
    write(tmp.path(), "timeseries.csv", &t);
    let fig = federation_figure(tmp.path());
    let s = &fig.panels[1].series;
    let coloured: Vec<&str> = s
        .iter()
        .filter(|x| x.hue != Hue::Other)
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(coloured, vec!["hs29", "hs28", "hs27", "hs26"]);
    let named_others: Vec<&str> = s
        .iter()
        .filter(|x| x.hue == Hue::Other && !x.name.is_empty())
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(named_others, vec!["26 other servers"]);
    assert_eq!(s.len(), 30);
    plot_run_dir(tmp.path()).unwrap();
}

#[test]
fn ghost_histogram_counts_every_disappeared_participant() {
    let tmp = tempfile::tempdir().unwrap();
    run_folder(tmp.path());
    let fig = rtc_ghosts_figure(tmp.path());
    let Mark::Bars(bars) = &fig.panels[0].series[0].marks[0] else {
        panic!("not bars")
    };
    let n: f64 = bars.iter().map(|b| b.2).sum();
    assert_eq!(n, 2.0);
    for (lo, hi, _) in bars {
        assert!(*lo <= 8500.0 && *hi > 8000.0, "[{lo}, {hi})");
    }
    assert!(
        fig.caption.contains("1 more never disappeared"),
        "{}",
        fig.caption
    );
}

#[test]
fn empty_folder_gives_charts_with_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "summary.json",
        r#"{"scenario":"x","records":"summary"}"#,
    );
    for f in run_figures(tmp.path()) {
        let notes = f.notes();
        assert!(!notes.is_empty(), "{} has no note", f.name);
    }
    // No chart has an empty panel: nothing is drawn, and plots/left_out.txt says why.
    let paths = plot_run_dir(tmp.path()).unwrap();
    assert_eq!(paths.len(), 0, "{paths:?}");
    let left = fs::read_to_string(tmp.path().join("plots/left_out.txt")).unwrap();
    assert_eq!(left.lines().count(), 5, "{left}");
    assert!(
        left.lines()
            .next()
            .unwrap()
            .starts_with("`latency_cdf`\tNo deliveries.csv in this folder"),
        "{left}"
    );
}

#[test]
fn header_only_csvs_say_there_are_no_rows() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "deliveries.csv", DELIVERIES_HEADER);
    write(
        tmp.path(),
        "ghosts.csv",
        "participant,room,crash_ms,gone_ms,ghost_ms\n",
    );
    let fig = latency_cdf_figure(tmp.path());
    assert!(fig.notes()[0].contains("no rows"));
    let fig = rtc_ghosts_figure(tmp.path());
    assert!(fig.notes()[0].contains("no MatrixRTC participant crashed"));
    assert_valid_files(&plot_run_dir(tmp.path()).unwrap());
}

#[test]
fn malformed_inputs_become_notes_not_panics() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "summary.json", "{ not json");
    write(tmp.path(), "deliveries.csv", "event_id,kind\n$e,join\n");
    write(
        tmp.path(),
        "syncs.csv",
        "t_ms,client,room_count,timeline_events,sticky_events,inactionable_sticky,bytes,gappy\n1,a,1,1,1,lots,1,0\n",
    );
    write(
        tmp.path(),
        "convergence.csv",
        "t_ms,room\n1,a,extra,cells\n",
    );
    write(tmp.path(), "federation.csv", "\u{0}\u{1}garbage\"\n\"");
    write(tmp.path(), "ghosts.csv", "ghost_ms\n-\n");
    let figs = run_figures(tmp.path());
    let notes: Vec<String> = figs
        .iter()
        .flat_map(|f| f.notes().into_iter().map(str::to_string))
        .collect();
    assert!(notes
        .iter()
        .any(|n| n.contains("deliveries.csv has no column `latency_ms`")));
    assert!(notes
        .iter()
        .any(|n| n.contains("syncs.csv line 2") && n.contains("lots")));
    assert!(notes.iter().any(|n| n.contains("convergence.csv")));
    assert!(notes.iter().any(|n| n.contains("ghosts.csv")));
    assert!(figs[0].caption.contains("summary.json is not valid JSON"));
    assert_valid_files(&plot_run_dir(tmp.path()).unwrap());
}

#[test]
fn plot_cmd_picks_run_or_sweep_and_refuses_anything_else() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(plot_cmd(tmp.path()).unwrap(), 2);
    assert_eq!(plot_cmd(&tmp.path().join("missing")).unwrap(), 2);
    let run = tmp.path().join("run");
    fs::create_dir(&run).unwrap();
    run_folder(&run);
    assert_eq!(plot_cmd(&run).unwrap(), 0);
    assert!(run.join("plots/latency_cdf.png").is_file());
    // A run folder whose run did not finish (no summary.json, written last) is refused.
    let unfinished = tmp.path().join("unfinished");
    fs::create_dir(&unfinished).unwrap();
    fs::copy(
        run.join("deliveries.csv"),
        unfinished.join("deliveries.csv"),
    )
    .unwrap();
    assert_eq!(plot_cmd(&unfinished).unwrap(), 2);
    assert!(!unfinished.join("plots").exists());
    assert!(run.join("report.md").is_file());
    let sweep = tmp.path().join("sweep");
    fs::create_dir(&sweep).unwrap();
    sweep_folder(&sweep);
    assert_eq!(plot_cmd(&sweep).unwrap(), 0);
    assert!(sweep
        .join("plots/sweep_delivery.lost__servers.defaults.inbound.policy.png")
        .is_file());
}

const RATE: &str = "servers.defaults.inbound.sticky_rate.per_second";
const POLICY: &str = "servers.defaults.inbound.policy";

/// Two rates × two policies, two metrics; `delivery.lost` mean = rate + (10 for accept_drop).
fn sweep_folder(dir: &Path) {
    let mut points = vec![];
    let mut agg =
        format!("point,{RATE},{POLICY},metric,n,mean,std,ci95_lo,ci95_hi,min,median,max\n");
    let mut i = 0;
    for rate in [1, 50] {
        for policy in ["reject_429", "accept_drop"] {
            points.push(format!(
                r#"{{"point":{i},"values":{{"{RATE}":{rate},"{POLICY}":"{policy}"}}}}"#
            ));
            let lost = rate as f64 + if policy == "accept_drop" { 10.0 } else { 0.0 };
            agg.push_str(&format!(
                "{i},{rate},{policy},delivery.latency_ms.p99,3,{m},1,{lo},{hi},1,{m},3\n",
                m = 1000.0 / rate as f64,
                lo = 1000.0 / rate as f64 - 5.0,
                hi = 1000.0 / rate as f64 + 5.0
            ));
            agg.push_str(&format!(
                "{i},{rate},{policy},delivery.lost,3,{lost},1,{lo},{hi},1,{lost},3\n",
                lo = lost - 1.0,
                hi = lost + 1.0
            ));
            i += 1;
        }
    }
    write(
        dir,
        "sweep.json",
        &format!(
            r#"{{"scenario":"tiny","scenario_digest":"{}","keys":["{RATE}","{POLICY}"],"seeds":[1,2,3],"points":[{}],"headline":["delivery.lost","delivery.latency_ms.p99"]}}"#,
            "c".repeat(64),
            points.join(",")
        ),
    );
    write(dir, "aggregate.csv", &agg);
}

#[test]
fn sweep_plots_show_means_and_ci_per_key() {
    let tmp = tempfile::tempdir().unwrap();
    sweep_folder(tmp.path());
    let data = SweepData::load(tmp.path()).unwrap();
    let figs = sweep_figures(&data);
    let names: Vec<&str> = figs.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "sweep_delivery.lost__servers.defaults.inbound.sticky_rate.per_second",
            "sweep_delivery.lost__servers.defaults.inbound.policy",
            "sweep_delivery.latency_ms.p99__servers.defaults.inbound.sticky_rate.per_second",
            "sweep_delivery.latency_ms.p99__servers.defaults.inbound.policy",
        ]
    );
    // Numeric key: numeric (log, 1..50) axis, one line per policy, band = CI.
    let f = &figs[0];
    let p = &f.panels[0];
    assert_eq!(p.x.kind, AxisKind::Plain);
    assert_eq!(p.x.scale, Scale::Log);
    let s = p
        .series
        .iter()
        .find(|s| s.name == "policy=accept_drop")
        .unwrap();
    assert!(s
        .marks
        .contains(&Mark::Line(vec![(1.0, 11.0), (50.0, 60.0)])));
    assert!(s
        .marks
        .contains(&Mark::Band(vec![(1.0, 10.0, 12.0), (50.0, 59.0, 61.0)])));
    // String key: categories in grid order, one colour per rate.
    let p = &figs[1].panels[0];
    assert_eq!(
        p.x.kind,
        AxisKind::Category(vec!["reject_429".into(), "accept_drop".into()])
    );
    let names: Vec<&str> = p.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["per_second=1", "per_second=50"]);
    // Time metric gets a time axis.
    assert_eq!(figs[2].panels[0].y.kind, AxisKind::Time);
    let paths = plot_sweep_dir(tmp.path()).unwrap();
    assert_eq!(paths.len(), 8);
    assert_valid_files(&paths);
}

#[test]
fn sweep_without_aggregates_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    sweep_folder(tmp.path());
    fs::remove_file(tmp.path().join("aggregate.csv")).unwrap();
    let data = SweepData::load(tmp.path()).unwrap();
    let figs = sweep_figures(&data);
    assert!(!figs.is_empty());
    for f in &figs {
        assert!(f.notes()[0].contains("No aggregate.csv"), "{:?}", f.notes());
    }
    assert_valid_files(&plot_sweep_dir(tmp.path()).unwrap());
}

#[test]
fn pathological_values_do_not_panic() {
    let cases: [(&str, &str); 6] = [
        ("deliveries.csv", "NaN"),
        ("deliveries.csv", "-5"),
        ("deliveries.csv", "1e300"),
        ("deliveries.csv", "0"),
        ("deliveries.csv", "inf"),
        ("deliveries.csv", ""),
    ];
    for (file, v) in cases {
        let tmp = tempfile::tempdir().unwrap();
        run_folder(tmp.path());
        let mut d = String::from(DELIVERIES_HEADER);
        d.push_str(&format!("$x,join,call,hs1,hs2,hs2/0,0,,,{v},direct,1\n"));
        d.push_str("$y,join,call,hs1,hs2,hs2/0,0,,,5.000,direct,1\n");
        write(tmp.path(), file, &d);
        write(
            tmp.path(),
            "syncs.csv",
            &format!(
                "t_ms,client,room_count,timeline_events,sticky_events,inactionable_sticky,bytes,gappy\n{},ü/0,1,1,1,{},1,0\n-7,a,1,1,1,2,1,0\n",
                if v.is_empty() { "0" } else { v },
                if v.is_empty() { "0" } else { v }
            ),
        );
        write(
            tmp.path(),
            "ghosts.csv",
            &format!("participant,room,crash_ms,gone_ms,ghost_ms\np,call,0,0,{v}\nq,call,0,0,-3\n"),
        );
        write(
            tmp.path(),
            "summary.json",
            r#"{"simulated_duration_ms": 0, "annotations": {"faults": [{"kind": "crash", "from_ms": 5e20, "to_ms": -1}], "leaves_ms": [1e30, -1, "x"]},
               "histograms": {"rtc.ghost_ms": {"kind": "log", "buckets_per_decade": 0, "counts": [1]}}}"#,
        );
        let paths = plot_run_dir(tmp.path()).unwrap();
        assert_valid_files(&paths);
    }
}

// ------------------------------------------------------------ the real default scenario

/// Runs the built-in default scenario (the one `stickysim run` runs) into a temporary
/// folder, with plots, through the library.
fn default_run() -> tempfile::TempDir {
    let scn = stickysim::scenario::load_str(
        stickysim::scenario::DEFAULT_SCENARIO,
        stickysim::scenario::DEFAULT_SCENARIO_NAME,
        &[],
    )
    .expect("the default scenario loads");
    let tmp = tempfile::tempdir().unwrap();
    let opts = stickysim::run::RunOptions {
        out_dir: tmp.path().to_path_buf(),
        trace: false,
        unstable_names: false,
        plots: true,
        progress: false,
        no_expect: false,
        trace_filter: None,
        limits: Default::default(),
    };
    stickysim::run::run_scenario(&scn, &opts).expect("the default scenario runs");
    tmp
}

/// The rows of a CSV as maps from column name to cell.
fn csv_rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let headers = rdr.headers().unwrap().clone();
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, c)| (h.to_string(), c.to_string()))
                .collect()
        })
        .collect()
}

fn cell(row: &std::collections::BTreeMap<String, String>, col: &str) -> Option<f64> {
    let s = row.get(col).unwrap_or_else(|| panic!("no column {col}"));
    if s.is_empty() {
        None
    } else {
        Some(s.parse().unwrap_or_else(|_| panic!("{col} = {s:?}")))
    }
}

/// The value a step series holds at `t` (the last point at or before `t`).
fn step_at(pts: &[(f64, f64)], t: f64) -> Option<f64> {
    pts.iter().take_while(|p| p.0 <= t).last().map(|p| p.1)
}

/// The text of every `<text>` element of an SVG, trimmed.
fn svg_texts(path: &Path) -> Vec<String> {
    let s = fs::read_to_string(path).unwrap();
    let mut out = vec![];
    let mut rest = s.as_str();
    while let Some(i) = rest.find("<text") {
        rest = &rest[i..];
        let open = rest.find('>').unwrap();
        let close = rest.find("</text>").unwrap();
        out.push(rest[open + 1..close].trim().to_string());
        rest = &rest[close..];
    }
    out
}

fn numeric_labels(texts: &[String]) -> Vec<f64> {
    texts.iter().filter_map(|t| t.parse::<f64>().ok()).collect()
}

const RUN_PLOTS: [&str; 5] = [
    "latency_cdf",
    "spam_window",
    "convergence",
    "federation",
    "rtc_ghosts",
];

#[test]
fn default_run_draws_every_plot_as_800x500_svg_and_png() {
    let tmp = default_run();
    for stem in RUN_PLOTS {
        assert_svg_800x500(&tmp.path().join(format!("plots/{stem}.svg")));
        assert_png_800x500(&tmp.path().join(format!("plots/{stem}.png")));
    }
    for e in fs::read_dir(tmp.path().join("plots")).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().to_string();
        assert!(!n.starts_with('.'), "left over: {n}");
    }
    // A complete run has data for every chart but, maybe, the ghosts one.
    for f in run_figures(tmp.path()) {
        if f.name != "rtc_ghosts" {
            assert!(f.notes().is_empty(), "{}: {:?}", f.name, f.notes());
        }
    }
}

#[test]
fn default_run_latency_cdf_is_the_deliveries_csv() {
    let tmp = default_run();
    let rows = csv_rows(&tmp.path().join("deliveries.csv"));
    let fig = latency_cdf_figure(tmp.path());
    let series = &fig.panels[0].series;
    assert!(!series.is_empty());
    // The default scenario's servers share one policy: one line per path.
    let mut by_path: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for r in &rows {
        if let (Some(l), p) = (cell(r, "latency_ms"), &r["path"]) {
            if p != "lost" {
                by_path.entry(p.clone()).or_default().push(l);
            }
        }
    }
    assert_eq!(series.len(), by_path.len());
    for s in series {
        let path = s.name.split('\n').next().unwrap();
        let lat = &by_path[path];
        let n = lat.len() as f64;
        assert!(
            s.name
                .ends_with(&format!("{} delivered", plots::format::count(n))),
            "{}",
            s.name
        );
        let pts = s.points();
        // Each drawn point is the share of this path's deliveries at or under its latency.
        for (x, y) in pts.iter().skip(1).step_by(7) {
            let within = lat.iter().filter(|l| *l <= x).count() as f64;
            assert!(
                (y - within / n).abs() < 1e-12,
                "{path} at {x}: {y} vs {}",
                within / n
            );
        }
        let max = lat.iter().copied().fold(f64::MIN, f64::max);
        assert_eq!(*pts.last().unwrap(), (max, 1.0), "{path}");
    }
}

#[test]
fn default_run_spam_window_is_the_syncs_csv() {
    let tmp = default_run();
    let rows = csv_rows(&tmp.path().join("syncs.csv"));
    let fig = spam_window_figure(tmp.path());
    let p = &fig.panels[0];
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("summary.json")).unwrap())
            .unwrap();
    let dur = summary["simulated_duration_ms"].as_f64().unwrap();
    let w = plots::bin_width_ms(dur, 150);
    let max = step_points(&fig, 0, "largest in one response");
    let mean = step_points(&fig, 0, "mean per response");
    let last = rows
        .iter()
        .map(|r| cell(r, "t_ms").unwrap())
        .fold(dur, f64::max);
    let nbins = (last / w).ceil() as usize;
    assert_eq!(
        max.len(),
        nbins + 1,
        "one point per bin, plus the closing one"
    );
    for b in (0..nbins).step_by(5) {
        let in_bin: Vec<f64> = rows
            .iter()
            .filter(|r| ((cell(r, "t_ms").unwrap() / w) as usize).min(nbins - 1) == b)
            .map(|r| cell(r, "inactionable_sticky").unwrap())
            .collect();
        let want_max = in_bin.iter().copied().fold(0.0, f64::max);
        let want_mean = if in_bin.is_empty() {
            0.0
        } else {
            in_bin.iter().sum::<f64>() / in_bin.len() as f64
        };
        assert_eq!(max[b], (b as f64 * w, want_max));
        assert_eq!(mean[b].0, b as f64 * w);
        assert!((mean[b].1 - want_mean).abs() < 1e-9);
    }
    // Leave markers are the summary's.
    let leaves: Vec<f64> = summary["annotations"]["leaves_ms"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
        .unwrap_or_default();
    assert_eq!(p.markers.at, leaves);
    // All zero: the axis says 0 and 1 once each, and the caption says why it is flat.
    if rows
        .iter()
        .all(|r| cell(r, "inactionable_sticky") == Some(0.0))
    {
        assert!(
            fig.caption.contains("No /sync response carried"),
            "{}",
            fig.caption
        );
        let labels = numeric_labels(&svg_texts(&tmp.path().join("plots/spam_window.svg")));
        assert_eq!(labels, vec![0.0, 1.0], "y tick labels");
    }
}

#[test]
fn default_run_convergence_is_the_convergence_csv() {
    let tmp = default_run();
    let rows = csv_rows(&tmp.path().join("convergence.csv"));
    let fig = convergence_figure(tmp.path());
    let p = &fig.panels[0];
    let rooms: std::collections::BTreeSet<&String> = rows.iter().map(|r| &r["room"]).collect();
    assert!(
        rooms.len() <= 7,
        "the default scenario draws one line per room"
    );
    assert_eq!(p.series.len(), rooms.len());
    // Every sample of the CSV is what the line shows at that time: no point of the line
    // is anything but a sample (the step holds a sample's value until the next one).
    for s in &p.series {
        let pts = s.points();
        let samples: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r["room"] == s.name)
            .map(|r| (cell(r, "t_ms").unwrap(), cell(r, "distinct_views").unwrap()))
            .collect();
        assert!(!samples.is_empty(), "{}", s.name);
        for (t, v) in &samples {
            assert_eq!(step_at(pts, *t), Some(*v), "{} at {t}", s.name);
        }
        for pt in pts {
            assert!(samples.contains(pt), "{pt:?} is not a sample of {}", s.name);
        }
    }
    // Faults from the summary are shaded.
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("summary.json")).unwrap())
            .unwrap();
    // Faults from the summary are shaded, overlapping ones as one band.
    let faults = summary["annotations"]["faults"].as_array().unwrap();
    assert!(!faults.is_empty());
    for f in faults {
        let (a, b) = (f["from_ms"].as_f64().unwrap(), f["to_ms"].as_f64().unwrap());
        assert!(
            p.shades.iter().any(|s| s.from <= a && b <= s.to),
            "{f} in no band: {:?}",
            p.shades
        );
    }
    assert!(
        p.shades.windows(2).all(|w| w[0].to < w[1].from),
        "{:?}",
        p.shades
    );
    // Integer counts of views: the y ticks are whole numbers, each once.
    let labels = numeric_labels(&svg_texts(&tmp.path().join("plots/convergence.svg")));
    assert!(labels.len() >= 3, "{labels:?}");
    assert!(labels.iter().all(|l| l.fract() == 0.0), "{labels:?}");
    assert!(labels.windows(2).all(|w| w[0] < w[1]), "{labels:?}");
}

#[test]
fn default_run_federation_is_the_federation_and_timeseries_csvs() {
    let tmp = default_run();
    let fed = csv_rows(&tmp.path().join("federation.csv"));
    let ts = csv_rows(&tmp.path().join("timeseries.csv"));
    let fig = federation_figure(tmp.path());
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("summary.json")).unwrap())
            .unwrap();
    let dur = summary["simulated_duration_ms"].as_f64().unwrap();
    let w = plots::bin_width_ms(dur, 60);
    let last = fed
        .iter()
        .chain(ts.iter())
        .map(|r| cell(r, "t_ms").unwrap())
        .fold(dur, f64::max);
    let nbins = (last / w).ceil() as usize;
    let bin = |r: &std::collections::BTreeMap<String, String>| {
        ((cell(r, "t_ms").unwrap() / w) as usize).min(nbins - 1)
    };
    // Attempts: bars per bin.
    let attempts = fig.panels[0].series_named("attempts").unwrap();
    let Mark::Bars(bars) = &attempts.marks[0] else {
        panic!("attempts are bars")
    };
    let drawn: f64 = bars.iter().map(|b| b.2).sum();
    assert_eq!(drawn, fed.len() as f64, "every attempt is in a bar");
    for (x0, x1, n) in bars.iter().step_by(3) {
        let b = (x0 / w).round() as usize;
        assert_eq!(*x1 - *x0, w);
        let want = fed.iter().filter(|r| bin(r) == b).count() as f64;
        assert_eq!(*n, want, "bin {b}");
    }
    // Timeouts: a line per bin.
    let timeouts = step_points(&fig, 0, "timeout");
    for b in (0..nbins).step_by(4) {
        let want = fed
            .iter()
            .filter(|r| bin(r) == b && r["outcome"] == "timeout")
            .count() as f64;
        assert_eq!(timeouts[b], (b as f64 * w, want), "bin {b}");
    }
    // Queue depth: each coloured server's line holds each sample's value.
    let servers: std::collections::BTreeSet<&String> = ts.iter().map(|r| &r["server"]).collect();
    let bottom = &fig.panels[1];
    assert_eq!(bottom.series.len(), servers.len());
    let coloured: Vec<_> = bottom
        .series
        .iter()
        .filter(|s| s.hue != Hue::Other)
        .collect();
    assert!(!coloured.is_empty() && coloured.len() <= 5);
    for s in coloured {
        let pts = s.points();
        for r in ts.iter().filter(|r| r["server"] == s.name).step_by(11) {
            let t = cell(r, "t_ms").unwrap();
            assert_eq!(step_at(pts, t), cell(r, "queue_depth"), "{} at {t}", s.name);
        }
    }
    // Both panels' y axes are labelled with more than "0".
    let labels = numeric_labels(&svg_texts(&tmp.path().join("plots/federation.svg")));
    assert!(
        labels.iter().filter(|l| **l > 0.0).count() >= 4,
        "{labels:?}"
    );
}

#[test]
fn default_run_ghosts_are_the_ghosts_csv() {
    let tmp = default_run();
    let rows = csv_rows(&tmp.path().join("ghosts.csv"));
    let ghosts: Vec<f64> = rows.iter().filter_map(|r| cell(r, "ghost_ms")).collect();
    let fig = rtc_ghosts_figure(tmp.path());
    if ghosts.is_empty() {
        assert!(!fig.notes().is_empty());
        return;
    }
    let Mark::Bars(bars) = &fig.panels[0].series[0].marks[0] else {
        panic!("not bars")
    };
    let n: f64 = bars.iter().map(|b| b.2).sum();
    assert_eq!(n, ghosts.len() as f64);
    for g in &ghosts {
        assert!(
            bars.iter().any(|(lo, hi, _)| lo <= g && g < hi),
            "{g} in no bar"
        );
    }
    // Bars are sized to the axis (which starts at 0), not slivers at its edge.
    let w = bars[0].1 - bars[0].0;
    let max = ghosts.iter().copied().fold(0.0, f64::max);
    assert!(w * 40.0 >= max, "bin {w} ms for a {max} ms axis");
}
