//! What a client syncing afresh would receive (timeseries.csv `fresh_*`), `spam.window_ms` with
//! its flood rule, `rtc.heartbeat_bytes`, `rtc.ghost_participant_s`, and the summary-mode
//! latency CDF topping out at the delivered fraction: numbers worked out by hand.

mod common;
use common::*;
use stickysim::output::plots::figure::Mark;
use stickysim::output::plots::latency_cdf_figure;

const TWO: &str = r#"
[simulation]
name = "fresh"
seed = 1
duration = "5m"
sample_interval = "5s"
[network]
latency = { dist = "constant", value = "100ms" }
[servers]
count = 2
[servers.defaults]
processing = { dist = "constant", value = "0ms" }
origin_processing = { dist = "constant", value = "0ms" }
clients_per_server = 2
client_latency = { dist = "constant", value = "10ms" }
[[rooms]]
name = "r"
servers = "all"
"#;

fn row(r: &Run, t: f64, server: &str) -> std::collections::BTreeMap<String, String> {
    r.csv("timeseries.csv")
        .into_iter()
        .find(|x| f(x, "t_ms") == t && x["server"] == server)
        .expect("row")
}

#[test]
fn a_flood_of_new_keys_is_a_spam_window() {
    // hs1/0 sends 30 sticky events on 30 new keys, one every 100 ms from 10 s, each sticky
    // for 1 min. Event i is created at 10.01 + 0.1 i s and expires 60 s later. Every one is
    // its key's winner (actionable); beyond 10 keys a sender floods. At hs1 a fresh sync is
    // spam while flood (n - 10) outweighs the rest (10): from the 21st event (12.01 s) until
    // the 10th expires (70.91 s): 58.9 s. hs2 starts 100 ms later and ends alike.
    let text = format!(
        "{TWO}[[workload]]\nkind = \"spam\"\nroom = \"r\"\nclient = \"hs1/0\"\nrate = 10.0\ncount = 30\nstart = \"10s\"\nduration = \"1m\"\ndistinct_keys = true\n"
    );
    let r = run(&text);
    assert_eq!(r.metric("spam.window_ms"), 58_900.0);
    assert_eq!(r.metric("spam.window_censored"), 0.0);
    // Nothing is inactionable: the integral is 0.
    assert_eq!(r.metric("spam.inactionable_integral"), 0.0);
    let at30 = row(&r, 30_000.0, "hs1");
    assert_eq!(f(&at30, "fresh_sticky"), 30.0);
    assert_eq!(f(&at30, "fresh_inactionable"), 0.0);
    assert_eq!(f(&at30, "fresh_inactionable_bytes"), 0.0);
    assert_eq!(f(&at30, "fresh_flood"), 20.0);
    // 70 s: none expired yet (the first at 70.01 s); 75 s: all gone (the last at 72.91 s).
    assert_eq!(f(&row(&r, 70_000.0, "hs2"), "fresh_sticky"), 30.0);
    assert_eq!(f(&row(&r, 75_000.0, "hs2"), "fresh_sticky"), 0.0);
}

#[test]
fn leaves_outweighing_the_live_members_are_a_spam_window() {
    // The spam_window scenario: 7 joins at 60.01 s (expire 660.01 s), leaves created at
    // 120.01 + 0.1 k s (k = 0..6, expire 600 s later). At hs1 the 3rd leave (120.21 s) makes
    // 6 inactionable events (3 joins beaten, 3 leaves) outweigh the 4 live keys; it stays so
    // until the last leave expires at 720.61 s: 600.4 s. At 300 s a fresh sync at hs1 gets
    // all 14 events, none actionable.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/spam_window.toml"
    ))
    .expect("scenario");
    let r = run(&text);
    assert_eq!(r.metric("spam.window_ms"), 600_400.0);
    assert_eq!(r.metric("spam.window_censored"), 0.0);
    let at300 = row(&r, 300_000.0, "hs1");
    assert_eq!(f(&at300, "fresh_sticky"), 14.0);
    assert_eq!(f(&at300, "fresh_inactionable"), 14.0);
    assert_eq!(f(&at300, "fresh_flood"), 0.0);
    assert!(f(&at300, "fresh_inactionable_bytes") > 14.0 * 40.0);
    // Cut by the run's end: 10 min from 120.21 s is 720.21 s; a 12-minute run ends inside.
    let r = run(&text.replace("duration = \"30m\"", "duration = \"12m\""));
    assert_eq!(r.metric("spam.window_censored"), 1.0);
    assert_eq!(r.metric("spam.window_ms"), 720_000.0 - 120_210.0);
}

fn heartbeat_call(crash: f64) -> Run {
    run(&format!(
        "{TWO}[[workload]]\nkind = \"matrixrtc\"\nroom = \"r\"\nparticipants = 1\njoin = {{ dist = \"constant\", value = \"10s\" }}\nstay = {{ dist = \"constant\", value = \"60s\" }}\ncrash_fraction = {crash}\nheartbeat = {{ leave_delay = \"8s\", restart_every = \"5s\" }}\n"
    ))
}

#[test]
fn heartbeat_bytes_and_ghost_participant_seconds() {
    // Restarts every 5 s from 15.02 s to 65.02 s: 11, each 200 + 71 + 2 = 273 bytes.
    let r = heartbeat_call(0.0);
    assert_eq!(r.metric("rtc.heartbeat_requests"), 11.0);
    assert_eq!(r.metric("rtc.heartbeat_bytes"), 11.0 * 273.0);
    assert_eq!(r.metric("rtc.ghost_participant_s"), 0.0);
    // Crash at 70 s; the last restart reached hs1 at 65.03 s, so the delayed leave fires
    // at 73.03 s, reaches hs2 at 73.13 s and its client at 73.14 s: one ghost for 3.14 s.
    let r = heartbeat_call(1.0);
    assert_eq!(r.metric("rtc.crashes"), 1.0);
    let g = r.metric("rtc.ghost_participant_s");
    assert!((g * 1000.0 - 3140.0).abs() < 1e-6, "{g}");
    assert_eq!(g * 1000.0, r.metric("rtc.ghost_ms.max"));
}

#[test]
fn summary_mode_latency_cdf_tops_out_at_the_delivered_fraction() {
    // hs2 is cut off for the whole run: hs1/0's event reaches hs1/1 (delivered) and is
    // pending for hs2's two clients. 1 of 3 due pairs delivered.
    let text = format!(
        "{}[[workload]]\nkind = \"script\"\nroom = \"r\"\nactions = [{{ at = \"10s\", client = \"hs1/0\", send = \"sticky\", key = \"a\", duration = \"1h\" }}]\n[[fault]]\nkind = \"partition\"\nservers = [\"hs2\"]\nfrom = \"0s\"\nto = \"5m\"\n",
        TWO.replace("sample_interval = \"5s\"", "sample_interval = \"5s\"\nrecords = \"summary\"")
    );
    let r = run(&text);
    assert!(!r.path("deliveries.csv").exists());
    assert_eq!(r.metric("delivery.delivered_fraction"), 1.0 / 3.0);
    let fig = latency_cdf_figure(r.dir.path());
    let series = &fig.panels[0].series;
    assert_eq!(series.len(), 1);
    let top = series[0]
        .marks
        .iter()
        .flat_map(|m| match m {
            Mark::Line(p) | Mark::Step(p) | Mark::Points(p) => p.clone(),
            _ => vec![],
        })
        .map(|p| p.1)
        .fold(0.0, f64::max);
    assert!((top - 1.0 / 3.0).abs() < 1e-12, "{top}");
}
