//! `crash_fraction` is an exact fraction: round(crash_fraction × participants) participants
//! crash, chosen from the workload's random stream among those that can crash. A join
//! tried while the client is offline is tried again until it is back.

mod common;
use common::*;
use stickysim::kernel::rng::stream;
use stickysim::workload::matrixrtc::choose_crashes;

fn call(participants: u32, crash: f64, stay: &str) -> Run {
    run(&format!(
        r#"
[simulation]
name = "exact"
seed = 3
duration = "10m"
[network]
latency = {{ dist = "constant", value = "100ms" }}
[servers]
count = 2
[servers.defaults]
processing = {{ dist = "constant", value = "0ms" }}
origin_processing = {{ dist = "constant", value = "0ms" }}
clients_per_server = 5
client_latency = {{ dist = "constant", value = "10ms" }}
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "matrixrtc"
room = "call"
participants = {participants}
join = {{ dist = "constant", value = "10s" }}
stay = {stay}
crash_fraction = {crash}
"#
    ))
}

#[test]
fn the_count_of_crashes_is_the_rounded_fraction() {
    let stay = r#"{ dist = "constant", value = "60s" }"#;
    // 10 participants: 0.25 x 10 = 2.5 rounds to 3; 0.1 x 10 = 1; 0.04 x 10 = 0.4 rounds to 0.
    assert_eq!(call(10, 0.25, stay).metric("rtc.crashes"), 3.0);
    assert_eq!(call(10, 0.1, stay).metric("rtc.crashes"), 1.0);
    assert_eq!(call(10, 0.04, stay).metric("rtc.crashes"), 0.0);
    assert_eq!(call(10, 1.0, stay).metric("rtc.crashes"), 10.0);
    let r = call(10, 0.25, stay);
    assert_eq!(r.csv("ghosts.csv").len(), 3);
}

#[test]
fn only_participants_whose_stay_ends_in_the_run_are_chosen() {
    // Joins at 0..4 s; stays end at 5, 15, 700, 800 s in a 600 s run: two can crash.
    let times = [
        (0, 5_000_000),
        (1, 15_000_000),
        (2, 700_000_000),
        (3, 800_000_000),
    ];
    let mut rng = stream(1, "t", "t");
    assert_eq!(
        choose_crashes(&times, 1.0, None, 600_000_000, &mut rng),
        vec![0, 1]
    );
    // Half of four is two, but only two can: both. A quarter is one of them.
    let mut rng = stream(1, "t", "t");
    assert_eq!(
        choose_crashes(&times, 0.5, None, 600_000_000, &mut rng).len(),
        2
    );
    let mut rng = stream(1, "t", "t");
    let one = choose_crashes(&times, 0.25, None, 600_000_000, &mut rng);
    assert!(one == vec![0] || one == vec![1], "{one:?}");
    // Same stream, same choice.
    let mut rng = stream(1, "t", "t");
    assert_eq!(
        choose_crashes(&times, 0.25, None, 600_000_000, &mut rng),
        one
    );
    // With a quiet tail from 10 s (stays cut to end at 9.999999 s): only the first.
    let mut rng = stream(1, "t", "t");
    assert_eq!(
        choose_crashes(&times, 1.0, Some(9_999_999), 10_000_000, &mut rng),
        vec![0]
    );
}

/// A participant whose client is offline when the call starts joins once it is back
/// online: tries at 10 s, then after 1, 2, 4, 8 s (11, 13, 17, 25 s); back at 20 s, it
/// starts at 25 s: the delayed leave scheduled first (10 ms to its server and 10 ms back),
/// then the join (10 ms to the server that stamps it): 25.030 s; its leave at 70.010 s.
#[test]
fn a_join_tried_while_offline_is_tried_again_until_the_client_is_back() {
    let text = |offline_to: &str| {
        format!(
            r#"
[simulation]
name = "late_join"
seed = 3
duration = "5m"
[network]
latency = {{ dist = "constant", value = "100ms" }}
[servers]
count = 2
[servers.defaults]
processing = {{ dist = "constant", value = "0ms" }}
origin_processing = {{ dist = "constant", value = "0ms" }}
clients_per_server = 1
client_latency = {{ dist = "constant", value = "10ms" }}
[[rooms]]
name = "call"
servers = "all"
[[workload]]
kind = "matrixrtc"
room = "call"
participants = 1
join = {{ dist = "constant", value = "10s" }}
stay = {{ dist = "constant", value = "60s" }}
[[fault]]
kind = "client_offline"
clients = ["hs1/0"]
from = "0s"
to = "{offline_to}"
"#
        )
    };
    let joins = |r: &Run| -> Vec<f64> {
        r.csv("writes.csv")
            .iter()
            .filter(|row| row["sender"] == "hs1/0")
            .map(|row| f(row, "sent_ms"))
            .collect()
    };
    let back = run(&text("20s"));
    let sent = joins(&back);
    assert_eq!(sent, vec![25_030.0, 70_010.0]);
    // Offline past the end of its stay (10 s + 60 s): it never joins.
    let never = run(&text("4m"));
    assert_eq!(joins(&never), Vec::<f64>::new());
}
