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
