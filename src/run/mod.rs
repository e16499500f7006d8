//! One run: scenario -> world -> kernel loop -> observers -> files in the run folder.

pub mod cli;

use crate::scenario::Scenario;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Every scalar metric by its SPEC 3 name (e.g. "delivery.latency_ms.p99").
pub type Metrics = BTreeMap<String, f64>;

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub out_dir: PathBuf,
    pub trace: bool,
    pub unstable_names: bool,
    pub plots: bool,
    /// Show a progress bar (only when stdout is a terminal).
    pub progress: bool,
}

/// What a finished run reports back (also written to `summary.json`).
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub out_dir: PathBuf,
    pub metrics: Metrics,
    pub digest: String,
    /// One line per failed `[[expect]]`.
    pub failures: Vec<String>,
    pub events: u64,
    pub wall_s: f64,
}

/// Run one scenario to completion and write its folder.
pub fn run_scenario(_scn: &Scenario, _opts: &RunOptions) -> anyhow::Result<RunOutcome> {
    anyhow::bail!("the protocol model is not built yet")
}
