//! Observers read the model and never change it: how often they sample must not change
//! what happens.

mod common;
use common::*;

/// rate_limit_policies has a `defer` server whose releases wait for tokens: sampling
/// every 250 ms or every 7 s must give the same deliveries, attempts and syncs.
#[test]
fn the_sample_interval_changes_no_decision_of_the_model() {
    let text = std::fs::read_to_string("scenarios/rate_limit_policies.toml").expect("scenario");
    assert!(text.contains("sample_interval = \"1s\""));
    let fine = text.replacen("sample_interval = \"1s\"", "sample_interval = \"250ms\"", 1);
    let coarse = text.replacen("sample_interval = \"1s\"", "sample_interval = \"7s\"", 1);
    let (a, b) = (run(&fine), run(&coarse));
    for f in [
        "deliveries.csv",
        "federation.csv",
        "syncs.csv",
        "writes.csv",
    ] {
        let (x, y) = (
            std::fs::read(a.path(f)).expect("file"),
            std::fs::read(b.path(f)).expect("file"),
        );
        assert!(x == y, "{f} differs between sample intervals");
    }
    // And the timeseries really was sampled differently.
    assert!(a.csv("timeseries.csv").len() > 20 * b.csv("timeseries.csv").len());
}
