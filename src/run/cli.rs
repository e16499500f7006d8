//! What each command does, as library code (so tests can drive it too).

use std::path::PathBuf;

pub enum Command {
    Run {
        scenario: Option<PathBuf>,
        seed: Option<u64>,
        out: Option<PathBuf>,
        sets: Vec<String>,
        trace: bool,
        unstable_names: bool,
        no_plots: bool,
        quiet: bool,
    },
    Sweep {
        scenario: PathBuf,
        jobs: Option<usize>,
        shard: Option<String>,
        out: Option<PathBuf>,
        resume: bool,
        sets: Vec<String>,
        quiet: bool,
    },
    Merge {
        dirs: Vec<PathBuf>,
        out: PathBuf,
    },
    Plot {
        dir: PathBuf,
    },
    Validate {
        scenarios: Vec<PathBuf>,
    },
    List {
        dir: PathBuf,
    },
    BenchPhold(crate::bench::phold::PholdParams),
}

/// Runs a command; returns the exit code (0 ok, 1 a claim failed, 2 bad input).
pub fn dispatch(cmd: Command) -> anyhow::Result<u8> {
    match cmd {
        Command::BenchPhold(p) => {
            crate::bench::phold::cli(&p);
            Ok(0)
        }
        _ => anyhow::bail!("not built yet"),
    }
}
