//! Calibration helper for `scenario::estimate` (ignored; run by hand):
//! `SCEN=path SETS='k=v;k=v' cargo test --release --test estimate_calibrate -- --ignored --nocapture`
//! prints the estimate's counts as one JSON line, to compare with a measured run.

#[test]
#[ignore]
fn print_estimate() {
    let Ok(path) = std::env::var("SCEN") else {
        return;
    };
    let sets: Vec<String> = std::env::var("SETS")
        .unwrap_or_default()
        .split(';')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let scn = stickysim::scenario::load_path(std::path::Path::new(&path), &sets).expect("loads");
    let e = stickysim::scenario::estimate::estimate(&scn);
    println!(
        "EST {{\"clients\":{},\"memberships\":{},\"sticky_events\":{},\"federation_pairs\":{},\"deliveries\":{},\"syncs\":{},\"map\":{},\"heartbeats\":{},\"planned\":{},\"samples\":{},\"sample_rows\":{},\"events\":{},\"kernel\":{},\"memory\":{},\"servers\":{}}}",
        e.clients, e.memberships, e.sticky_events, e.federation_pairs, e.deliveries, e.syncs, e.map_entries,
        e.heartbeats, e.planned_actions, e.samples, e.sample_rows, e.events, e.kernel_events, e.memory_bytes, e.servers
    );
}
