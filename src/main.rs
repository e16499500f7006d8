//! The `stickysim` command line: parse, call the library, print, set the exit code.
//! Exit codes: 0 all claims hold, 1 a claim failed, 2 bad input.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "stickysim",
    version,
    about = "Deterministic simulator of Matrix federation and MSC4354 sticky events"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one simulation (no SCENARIO: the embedded default, scenarios/matrixrtc_call.toml).
    Run {
        scenario: Option<PathBuf>,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override a scenario key by dotted path: KEY=VALUE (VALUE read as TOML, else as a string).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Write trace.jsonl (and sequence.mmd for small runs).
        #[arg(long)]
        trace: bool,
        /// Use the MSC's unstable names in the trace (msc4354_sticky, ...).
        #[arg(long)]
        unstable_names: bool,
        #[arg(long)]
        no_plots: bool,
        #[arg(long)]
        quiet: bool,
    },
    /// Run a scenario's [sweep] grid x seeds in parallel.
    Sweep {
        scenario: PathBuf,
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only slice K of N (1-based), for batch systems.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        #[arg(long)]
        out: Option<PathBuf>,
        /// Skip runs whose summary.json is already complete.
        #[arg(long)]
        resume: bool,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        #[arg(long)]
        quiet: bool,
    },
    /// Merge shard folders into one sweep.csv, aggregate.csv and plots.
    Merge {
        dirs: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Re-draw every plot from the CSVs of a run or sweep folder.
    Plot { dir: PathBuf },
    /// Parse and check scenarios; print every problem with file, line and column.
    Validate {
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Benchmarks of the kernel.
    Bench {
        #[command(subcommand)]
        which: BenchCmd,
    },
    /// The scenario library, one line each.
    List {
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// PHOLD on the simulation kernel (SPEC 6).
    Phold {
        #[arg(long, default_value_t = 1000)]
        lps: u32,
        #[arg(long, default_value_t = 10)]
        population: u32,
        /// Simulated end time (in PHOLD time units).
        #[arg(long, default_value_t = 1000.0)]
        end_time: f64,
        #[arg(long, default_value_t = 0.9)]
        remote: f64,
        #[arg(long, default_value_t = 0.1)]
        lookahead: f64,
        #[arg(long, default_value_t = 1.0)]
        mean: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also run the bare BinaryHeap loop of the same model and print both.
        #[arg(long)]
        compare: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cmd = cli.cmd.unwrap_or(Cmd::Run {
        scenario: None,
        seed: None,
        out: None,
        sets: vec![],
        trace: false,
        unstable_names: false,
        no_plots: false,
        quiet: false,
    });
    match stickysim::run::cli::dispatch(cmd.into()) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

impl From<Cmd> for stickysim::run::cli::Command {
    fn from(c: Cmd) -> Self {
        use stickysim::run::cli::Command as C;
        match c {
            Cmd::Run {
                scenario,
                seed,
                out,
                sets,
                trace,
                unstable_names,
                no_plots,
                quiet,
            } => C::Run {
                scenario,
                seed,
                out,
                sets,
                trace,
                unstable_names,
                no_plots,
                quiet,
            },
            Cmd::Sweep {
                scenario,
                jobs,
                shard,
                out,
                resume,
                sets,
                quiet,
            } => C::Sweep {
                scenario,
                jobs,
                shard,
                out,
                resume,
                sets,
                quiet,
            },
            Cmd::Merge { dirs, out } => C::Merge { dirs, out },
            Cmd::Plot { dir } => C::Plot { dir },
            Cmd::Validate { scenarios } => C::Validate { scenarios },
            Cmd::List { dir } => C::List { dir },
            Cmd::Bench {
                which:
                    BenchCmd::Phold {
                        lps,
                        population,
                        end_time,
                        remote,
                        lookahead,
                        mean,
                        seed,
                        compare,
                    },
            } => C::BenchPhold(stickysim::bench::phold::PholdParams {
                lps,
                population,
                end_time,
                remote,
                lookahead,
                mean,
                seed,
                compare,
            }),
        }
    }
}
