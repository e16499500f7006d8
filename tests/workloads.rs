//! Workloads are keyed by name: adding one never changes another's random draws.

mod common;
use common::*;
use stickysim::matrix::msg::{AppEv, Ev};

const BASE: &str = r#"
[simulation]
name = "w"
seed = 3
duration = "1h"
[servers]
count = 3
[[rooms]]
name = "call"
servers = "all"
[[rooms]]
name = "other"
servers = "all"
"#;

const CALL: &str = r#"
[[workload]]
kind = "matrixrtc"
room = "call"
participants = 5
crash_fraction = 0.4
"#;

const EXTRA: &str = r#"
[[workload]]
kind = "matrixrtc"
room = "other"
participants = 7
"#;

/// (time, token) of the timers the workload numbered `app` planned.
fn timers(text: &str, app: u32) -> Vec<(u64, u64)> {
    let built = stickysim::app::build(&scenario(text), false).expect("build");
    built
        .initial
        .iter()
        .filter_map(|(t, ev)| match ev {
            Ev::App(AppEv::Timer { app: a, token }) if *a == app => Some((*t, *token)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_workload_added_in_front_changes_nothing_of_the_others() {
    let alone = timers(&format!("{BASE}{CALL}"), 0);
    let behind = timers(&format!("{BASE}{EXTRA}{CALL}"), 1);
    assert_eq!(alone.len(), 10, "5 starts and 5 stops: {alone:?}");
    assert_eq!(alone, behind);
}

#[test]
fn the_same_name_keys_the_same_stream_and_names_are_unique() {
    // A named workload draws the same wherever it stands.
    let named = CALL.replace("room = \"call\"", "room = \"call\"\nname = \"standup\"");
    let a = timers(&format!("{BASE}{named}"), 0);
    let b = timers(&format!("{BASE}{EXTRA}{named}"), 1);
    assert_eq!(a, b);
    // Two workloads may not share a name.
    let extra = EXTRA.replace("room = \"other\"", "room = \"other\"\nname = \"standup\"");
    let text = format!("{BASE}{named}{extra}");
    let errs = stickysim::scenario::load_str(&text, "t.toml", &[]).expect_err("duplicate");
    let msg = format!("{errs:?}");
    assert!(
        msg.contains("workload[1].name") && msg.contains("unique"),
        "{msg}"
    );
}
