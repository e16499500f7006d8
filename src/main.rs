//! The `stickysim` command line: parse, call the library, print, set the exit code.
//! Exit codes: 0 all claims hold, 1 a claim failed, 2 bad input.

use clap::Parser;
use std::process::ExitCode;
use stickysim::run::cli::{dispatch, Command, RunArgs};

#[derive(Parser)]
#[command(
    name = "stickysim",
    version,
    about = "Deterministic simulator of Matrix federation and MSC4354 sticky events"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Command>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // No command: `stickysim run` with the embedded default scenario.
    let cmd = cli.cmd.unwrap_or(Command::Run(RunArgs::default()));
    match dispatch(cmd) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
