//! Shards (`--shard K/N`), `shard.json`, and reading a run folder back (resume, merge).

use super::grid::{RunId, SweepMeta};
use super::SweepError;
use crate::run::Metrics;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

pub const SHARD_FILE: &str = "shard.json";
pub const SUMMARY_FILE: &str = "summary.json";
pub const SCENARIO_FILE: &str = "scenario.toml";

/// Slice K of N (1-based). Run i of the sweep, in (point, seed) order, belongs to shard
/// `i mod N + 1`: round-robin, so every shard gets a mix of cheap and costly points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    pub fn holds(&self, run: &RunId) -> bool {
        run.index % self.count == self.index - 1
    }

    pub fn is_whole(&self) -> bool {
        self.count == 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = SweepError;

    fn from_str(s: &str) -> Result<Self, SweepError> {
        let bad = |why: &str| SweepError::Input(format!("--shard `{s}`: {why}"));
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| bad("expected K/N, e.g. 2/8 (slice K of N, counting from 1)"))?;
        let k: usize = k
            .trim()
            .parse()
            .map_err(|_| bad("K is not a whole number"))?;
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| bad("N is not a whole number"))?;
        if n == 0 {
            return Err(bad("N must be at least 1"));
        }
        if k == 0 || k > n {
            return Err(bad(&format!("K must be between 1 and {n}")));
        }
        Ok(Shard { index: k, count: n })
    }
}

/// `shard.json`: what a sweep folder is meant to hold. Written before any run starts, so a
/// killed sweep can be resumed and merged. An unsharded sweep writes it too, as shard 1/1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardFile {
    /// "K/N".
    pub shard: String,
    /// The whole sweep (the same in every shard of it).
    pub sweep: SweepMeta,
    /// The scenario digest each point's runs report in their `summary.json`.
    pub point_digests: Vec<String>,
    /// Total runs in the sweep, and the run folders this shard holds.
    pub total_runs: usize,
    pub runs: Vec<String>,
    pub version: String,
}

impl ShardFile {
    pub fn read(dir: &Path) -> Result<ShardFile, SweepError> {
        let path = dir.join(SHARD_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            SweepError::Input(format!(
                "{}: cannot read ({e}); is {} a sweep or shard folder?",
                path.display(),
                dir.display()
            ))
        })?;
        let f: ShardFile = serde_json::from_str(&text)
            .map_err(|e| SweepError::Input(format!("{}: not a shard file: {e}", path.display())))?;
        if f.point_digests.len() != f.sweep.points.len() {
            return Err(SweepError::Input(format!(
                "{}: {} point digests for {} points",
                path.display(),
                f.point_digests.len(),
                f.sweep.points.len()
            )));
        }
        Ok(f)
    }
}

/// Metrics that measure the machine rather than the model (README "Metrics" `sim.wall_s`,
/// `sim.events_per_s`): left out of the sweep tables, which must not depend on the machine,
/// its load or `--jobs`. They stay in each run's `summary.json`.
pub const WALL_CLOCK_METRICS: [&str; 2] = ["sim.wall_s", "sim.events_per_s"];

/// What the sweep needs from a finished run's `summary.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub metrics: Metrics,
    /// `[[expect]]` claims that failed in this run.
    pub failed_claims: usize,
}

/// Read a run folder's `summary.json`; Ok only when it parses completely and names the
/// expected scenario digest and seed (the test for "this run is done").
pub fn read_run(dir: &Path, digest: &str, seed: u64) -> Result<RunSummary, String> {
    let path = dir.join(SUMMARY_FILE);
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("no readable summary.json ({e})"))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("summary.json does not parse ({e})"))?;
    let got_digest = v
        .get("scenario_digest")
        .and_then(|d| d.as_str())
        .ok_or("summary.json has no scenario_digest")?;
    if got_digest != digest {
        return Err(format!(
            "summary.json names scenario digest {got_digest}, the sweep expects {digest}"
        ));
    }
    let got_seed = v
        .get("seed")
        .and_then(|s| s.as_u64())
        .ok_or("summary.json has no seed")?;
    if got_seed != seed {
        return Err(format!(
            "summary.json names seed {got_seed}, expected {seed}"
        ));
    }
    let m = v
        .get("metrics")
        .and_then(|m| m.as_object())
        .ok_or("summary.json has no metrics")?;
    // Non-numeric entries are not scalar metrics; a sweep has nothing to average there.
    let metrics: Metrics = m
        .iter()
        .filter(|(k, _)| !WALL_CLOCK_METRICS.contains(&k.as_str()))
        .filter_map(|(k, x)| x.as_f64().filter(|f| f.is_finite()).map(|f| (k.clone(), f)))
        .collect();
    let failed_claims = v
        .get("expect")
        .and_then(|e| e.as_array())
        .map(|a| {
            a.iter()
                .filter(|c| c.get("pass").and_then(|p| p.as_bool()) == Some(false))
                .count()
        })
        .unwrap_or(0);
    Ok(RunSummary {
        metrics,
        failed_claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_parsing() {
        assert_eq!(
            "2/3".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 3 }
        );
        assert_eq!(" 1 / 1 ".parse::<Shard>().unwrap(), Shard::WHOLE);
        for bad in ["4/3", "0/3", "a/b", "1/0", "3", "", "1/-2", "-1/3"] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains("--shard"), "{bad}: {e}");
        }
    }

    #[test]
    fn shards_partition_the_runs() {
        let runs: Vec<RunId> = (0..10)
            .map(|i| RunId {
                index: i,
                point: i / 2,
                seed: (i % 2) as u64,
            })
            .collect();
        for n in 1..=12 {
            for r in &runs {
                let owners: Vec<usize> = (1..=n)
                    .filter(|&k| Shard { index: k, count: n }.holds(r))
                    .collect();
                assert_eq!(owners.len(), 1);
            }
        }
    }
}
