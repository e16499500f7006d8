//! Helpers shared by the scenario tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use stickysim::run::{run_scenario, RunOptions, RunOutcome};
use stickysim::scenario::{load_str, Scenario};

pub fn scenario(text: &str) -> Scenario {
    match load_str(text, "test.toml", &[]) {
        Ok(s) => s,
        Err(e) => panic!("scenario does not load: {e:?}"),
    }
}

pub fn run_in(text: &str, dir: &Path) -> RunOutcome {
    let scn = scenario(text);
    run_scenario(
        &scn,
        &RunOptions {
            out_dir: dir.to_path_buf(),
            ..Default::default()
        },
    )
    .expect("run")
}

pub struct Run {
    pub dir: tempfile::TempDir,
    pub out: RunOutcome,
}

impl Run {
    pub fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }
    pub fn metric(&self, k: &str) -> f64 {
        *self.out.metrics.get(k).unwrap_or_else(|| {
            panic!(
                "no metric {k}: {:?}",
                self.out.metrics.keys().collect::<Vec<_>>()
            )
        })
    }
    /// Rows of a CSV as maps column -> value.
    pub fn csv(&self, f: &str) -> Vec<BTreeMap<String, String>> {
        read_csv(&self.path(f))
    }
}

pub fn run(text: &str) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run_in(text, dir.path());
    Run { dir, out }
}

pub fn read_csv(p: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

pub fn f(row: &BTreeMap<String, String>, k: &str) -> f64 {
    row.get(k)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("column {k} in {row:?}"))
}

/// Two servers, 4 clients each, 100 ms between servers, 10 ms to clients, no processing.
/// hs1/0 sends `c` (1 h) at 10 s; hs2 is cut off from 50 s to 9 min; hs1/0 sends `a` (1 h)
/// and `b` (1 min) at 60 s.
pub const CUT: &str = r#"
[simulation]
name = "cut"
seed = 1
duration = "10m"
[network]
latency = { dist = "constant", value = "100ms" }
[servers]
count = 2
[servers.defaults]
processing = { dist = "constant", value = "0ms" }
origin_processing = { dist = "constant", value = "0ms" }
clients_per_server = 4
client_latency = { dist = "constant", value = "10ms" }
[[rooms]]
name = "r"
servers = "all"
[[workload]]
kind = "script"
room = "r"
actions = [
  { at = "10s", client = "hs1/0", send = "sticky", key = "c", duration = "1h" },
  { at = "60s", client = "hs1/0", send = "sticky", key = "a", duration = "1h" },
  { at = "60s", client = "hs1/0", send = "sticky", key = "b", duration = "1m" },
]
[[fault]]
kind = "partition"
servers = ["hs2"]
from = "50s"
to = "9m"
"#;
