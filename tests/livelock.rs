//! The livelock guard: a run whose clock stops advancing ends with an error that names the
//! repeating event kinds and the keys to check, instead of running forever.

use stickysim::run::{simulate, simulate_guarded, LIVELOCK_EVENTS};

fn scenario() -> stickysim::scenario::Scenario {
    // Ten clients on one server, all syncing from time 0: a handful of events at t = 0.
    let text = r#"
[simulation]
name = "livelock"
duration = "10s"

[servers]
count = 1
[servers.defaults]
clients_per_server = 10

[[rooms]]
name = "r"
servers = "all"
"#;
    stickysim::scenario::load_str(text, "livelock.toml", &[]).expect("scenario")
}

#[test]
fn a_normal_run_is_far_below_the_guard() {
    const { assert!(LIVELOCK_EVENTS >= 1_000_000) };
    assert!(simulate(&scenario(), false, false, false).is_ok());
}

#[test]
fn more_events_at_one_instant_than_the_guard_stops_the_run_with_a_clear_message() {
    // At t = 0 the ten clients each send their first /sync (ten input events at least):
    // a guard of 5 events per instant is passed there.
    let e = match simulate_guarded(&scenario(), false, false, false, Some(5)) {
        Ok(_) => panic!("a guard of 5 must stop a run with 10 syncs at t = 0"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.starts_with("livelock: more than 5 events at simulated time 0 ms"),
        "{e}"
    );
    assert!(e.contains("of the next 10 000"), "{e}");
    assert!(e.contains("check these keys"), "{e}");
}
