//! Every metric a run reports is one `[sweep] headline` accepts
//! (`scenario::metric_names`): a new metric that is not added there fails here.

use stickysim::run::{run_scenario, RunOptions};
use stickysim::scenario::metric_names::is_known_metric;
use stickysim::scenario::{load_path, load_str, DEFAULT_SCENARIO};

#[test]
fn every_reported_metric_is_known() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut scenarios = vec![load_str(DEFAULT_SCENARIO, "default", &[]).expect("loads")];
    for name in [
        "spam_window",
        "live_location",
        "partition_catch_up",
        "rate_limit_policies",
    ] {
        let path = root.join("scenarios").join(format!("{name}.toml"));
        scenarios.push(load_path(&path, &[]).expect("loads"));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut unknown = vec![];
    for (i, scn) in scenarios.iter().enumerate() {
        let opts = RunOptions {
            out_dir: dir.path().join(format!("r{i}")),
            ..RunOptions::default()
        };
        let out = run_scenario(scn, &opts).expect("runs");
        assert!(!out.metrics.is_empty());
        unknown.extend(
            out.metrics
                .keys()
                .filter(|m| !is_known_metric(m))
                .map(|m| format!("{}: {m}", scn.name())),
        );
    }
    assert!(
        unknown.is_empty(),
        "add these to src/scenario/metric_names.rs: {unknown:?}"
    );
}
