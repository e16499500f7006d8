//! The `stickysim` command line: parse, call the library, print, set the exit code.
//! Exit codes: 0 all claims hold, 1 a claim failed, 2 bad input, 101 an internal error (a
//! bug: an arithmetic overflow the input checks missed, say; release builds check overflow).

use clap::Parser;
use std::process::ExitCode;
use stickysim::run::cli::{dispatch, Command, RunArgs};

/// mimalloc instead of the system allocator: 12% off a 10 000-server run (its small-object
/// free lists keep a step's allocations together); outputs do not depend on it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// mimalloc's `mi_option_purge_delay` (15 in its v3 `mi_option_e`) and its v3 default, 1000 ms.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const MI_PURGE_DELAY_DEFAULT_MS: std::os::raw::c_long = 1000;

/// Keep the memory a run frees instead of giving it back to the system after a second
/// idle: a run frees and allocates all along, and every page given back is zeroed again
/// by the kernel when it is touched next (half the page clearing of a 1 000-server run).
/// The peak can be a little higher (memory freed late in a run is not handed back: 1.60 to
/// 1.76 GB at 10 000 servers). Only done while the option has its default value (which also
/// tells the enum numbering is the one above, and leaves a `MIMALLOC_PURGE_DELAY` set by
/// the user alone).
fn keep_freed_memory() {
    // SAFETY: plain calls into the allocator's option table, before any thread starts.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == MI_PURGE_DELAY_DEFAULT_MS {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    // A panic is a bug, never an answer: say so in one line, with where, and exit 101.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        // A closed stdout (`stickysim run | head`) is not a bug: stop as a SIGPIPE would.
        if what.contains("Broken pipe") {
            std::process::exit(141);
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "internal error: {what}{at}. This is a bug in stickysim {} (an input the checks \
             should have refused); please report it with the scenario and the command line.",
            env!("CARGO_PKG_VERSION")
        );
    }));
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
