//! Parameter sweeps: grids, seeds, parallel runs, shards, resume, merge, aggregates.

use std::path::{Path, PathBuf};

pub struct SweepArgs {
    pub scenario: PathBuf,
    pub jobs: Option<usize>,
    pub shard: Option<String>,
    pub out: Option<PathBuf>,
    pub resume: bool,
    pub sets: Vec<String>,
    pub quiet: bool,
}

pub fn sweep_cmd(_args: &SweepArgs) -> anyhow::Result<u8> {
    anyhow::bail!("sweep: not built yet")
}

pub fn merge_cmd(_dirs: &[PathBuf], _out: &Path) -> anyhow::Result<u8> {
    anyhow::bail!("merge: not built yet")
}
