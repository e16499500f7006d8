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
        Command::Run {
            scenario,
            seed,
            out,
            sets,
            trace,
            unstable_names,
            no_plots,
            quiet,
        } => run_cmd(
            scenario,
            seed,
            out,
            sets,
            trace,
            unstable_names,
            no_plots,
            quiet,
        ),
        Command::Sweep {
            scenario,
            jobs,
            shard,
            out,
            resume,
            sets,
            quiet,
        } => crate::sweep::sweep_cmd(&crate::sweep::SweepArgs {
            scenario,
            jobs,
            shard,
            out,
            resume,
            sets,
            quiet,
        }),
        Command::Merge { dirs, out } => crate::sweep::merge_cmd(&dirs, &out),
        Command::Plot { dir } => crate::output::plots::plot_cmd(&dir),
        Command::Validate { scenarios } => Ok(crate::scenario::commands::validate_cmd(&scenarios)),
        Command::List { dir } => Ok(crate::scenario::commands::list_cmd(&dir)),
        Command::BenchPhold(p) => crate::bench::phold::cli(&p).map(|()| 0),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_cmd(
    _scenario: Option<PathBuf>,
    _seed: Option<u64>,
    _out: Option<PathBuf>,
    _sets: Vec<String>,
    _trace: bool,
    _unstable_names: bool,
    _no_plots: bool,
    _quiet: bool,
) -> anyhow::Result<u8> {
    anyhow::bail!("run: the protocol model is not built yet")
}
