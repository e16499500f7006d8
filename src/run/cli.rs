//! What each command does, as library code (so tests can drive it too).

use std::path::PathBuf;

/// `stickysim run`'s arguments.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RunArgs {
    pub scenario: Option<PathBuf>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override a scenario key by dotted path: KEY=VALUE (VALUE read as TOML, else as a string).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Write trace.jsonl and sequence.mmd.
    #[arg(long)]
    pub trace: bool,
    /// Keep only some trace lines (implies --trace): t=FROM..TO, server=NAME, room=NAME,
    /// key=KEY, comma-separated (repeatable).
    #[arg(long = "trace-filter", value_name = "FILTER")]
    pub trace_filter: Vec<String>,
    /// Use the MSC's unstable names in the trace (msc4354_sticky, ...).
    #[arg(long)]
    pub unstable_names: bool,
    #[arg(long)]
    pub no_plots: bool,
    #[arg(long)]
    pub quiet: bool,
    /// Do not check the scenario's [[expect]] claims (exit 0 whatever they say); for exploring.
    #[arg(long)]
    pub no_expect: bool,
    #[command(flatten)]
    pub limits: crate::scenario::commands::LimitArgs,
}

/// The commands (README "The command line"), parsed by clap in `main.rs`.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum Command {
    /// Run one simulation (no SCENARIO: the embedded default, scenarios/matrixrtc_call.toml).
    Run(RunArgs),
    /// Run a scenario's [sweep] grid x seeds in parallel.
    Sweep(crate::sweep::SweepArgs),
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
        #[command(flatten)]
        limits: crate::scenario::commands::LimitArgs,
    },
    /// Benchmarks of the kernel.
    Bench {
        #[command(subcommand)]
        which: BenchCmd,
    },
    /// Paired metric table and overlay plots of two or more run folders.
    Compare(crate::output::compare::CompareArgs),
    /// The scenario library, one line each (no DIR: the library compiled into the binary).
    List { dir: Option<PathBuf> },
    /// Run every calibration scenario; print the measured-vs-simulated Markdown table.
    Calibrate {
        #[arg(default_value = "scenarios/calibration")]
        dir: PathBuf,
    },
}

#[derive(clap::Subcommand, Clone, Debug)]
pub enum BenchCmd {
    /// PHOLD on the simulation kernel (README "Performance").
    Phold(crate::bench::phold::PholdParams),
    /// The generated large federation at 1 000 and 10 000 servers (100 000 with --huge):
    /// events, wall time, peak memory and cost per delivery pair (README "Performance").
    Scale(crate::bench::scale::ScaleParams),
}

/// Runs a command; returns the exit code (0 ok, 1 a claim failed, 2 bad input).
pub fn dispatch(cmd: Command) -> anyhow::Result<u8> {
    match cmd {
        Command::Run(args) => run_cmd(args),
        Command::Sweep(args) => crate::sweep::sweep_cmd(&args),
        Command::Merge { dirs, out } => crate::sweep::merge_cmd(&dirs, &out),
        Command::Compare(args) => crate::output::compare::compare_cmd(&args),
        Command::Plot { dir } => crate::output::plots::plot_cmd(&dir),
        Command::Validate { scenarios, limits } => Ok(
            crate::scenario::commands::validate_cmd_with(&scenarios, &limits.limits()),
        ),
        Command::List { dir } => Ok(crate::scenario::commands::list_cmd(dir.as_deref())),
        Command::Calibrate { dir } => Ok(crate::run::calibrate::calibrate_cmd(&dir)),
        Command::Bench {
            which: BenchCmd::Phold(p),
        } => crate::bench::phold::cli(&p).map(|()| 0),
        Command::Bench {
            which: BenchCmd::Scale(p),
        } => crate::bench::scale::cli(&p).map(|()| 0),
    }
}

fn run_cmd(args: RunArgs) -> anyhow::Result<u8> {
    use std::io::IsTerminal;
    let RunArgs {
        scenario,
        seed,
        out,
        mut sets,
        mut trace,
        trace_filter,
        unstable_names,
        no_plots,
        quiet,
        no_expect,
        limits,
    } = args;
    // A bad filter is refused before anything runs or is written.
    let trace_filter = if trace_filter.is_empty() {
        None
    } else {
        trace = true;
        match crate::output::trace::TraceFilter::parse(&trace_filter) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(2);
            }
        }
    };
    let limits = limits.limits();
    if let Some(s) = seed {
        sets.push(format!("simulation.seed={s}"));
    }
    let loaded = match &scenario {
        Some(p) => crate::scenario::commands::load_arg(p, &sets),
        None => crate::scenario::load_str(
            crate::scenario::DEFAULT_SCENARIO,
            crate::scenario::DEFAULT_SCENARIO_NAME,
            &sets,
        ),
    };
    // Refused before anything runs when the size estimate does not fit the limits.
    let scn =
        match loaded.and_then(|s| crate::scenario::commands::check_size(&s, &limits).map(|_| s)) {
            Ok(s) => s,
            Err(errs) => {
                for e in errs {
                    eprintln!("{e}");
                }
                return Ok(2);
            }
        };
    if let Some(f) = &trace_filter {
        let servers: Vec<String> = scn.servers.iter().map(|s| s.name.clone()).collect();
        if let Err(e) = f.check_names(&servers, &crate::output::trace::room_names(&scn)) {
            eprintln!("error: {e}");
            return Ok(2);
        }
    }
    let out_dir = out.unwrap_or_else(|| {
        PathBuf::from("output")
            .join(scn.name())
            .join(format!("seed-{}", scn.seed()))
    });
    let opts = crate::run::RunOptions {
        out_dir,
        trace,
        unstable_names,
        plots: !no_plots,
        progress: !quiet && std::io::stdout().is_terminal(),
        no_expect,
        trace_filter,
        limits,
    };
    let outcome = match crate::run::run_scenario(&scn, &opts) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(2);
        }
    };
    if !quiet {
        print_summary(&scn, &outcome);
    }
    for f in &outcome.failures {
        eprintln!("FAILED: {f}");
    }
    if no_expect && !quiet && !scn.file.expect.is_empty() {
        println!(
            "claims not checked (--no-expect): {} [[expect]] claim(s) in the scenario",
            scn.file.expect.len()
        );
    }
    Ok(if outcome.failures.is_empty() { 0 } else { 1 })
}

fn print_summary(scn: &crate::scenario::Scenario, o: &crate::run::RunOutcome) {
    let m = &o.metrics;
    let g = |k: &str| {
        m.get(k)
            .map(|v| {
                if v.fract() == 0.0 {
                    format!("{}", *v as i64)
                } else {
                    format!("{v:.1}")
                }
            })
            .unwrap_or_else(|| "-".into())
    };
    // Shares of every due pair (lost and pending ones in the denominator).
    let pct = |k: &str| {
        m.get(k)
            .map(|v| format!("{:.1}%", v * 100.0))
            .unwrap_or_else(|| "-".into())
    };
    let due = m
        .get("delivery.count")
        .map(|c| {
            format!(
                "{}",
                (c + m.get("delivery.pending_at_end").unwrap_or(&0.0)) as i64
            )
        })
        .unwrap_or_else(|| "-".into());
    println!(
        "stickysim {} — {} (seed {})",
        crate::VERSION,
        scn.name(),
        scn.seed()
    );
    let rows = [
        (
            "due pairs: delivered, lost, pending",
            format!(
                "{}: {}, {}, {}",
                due,
                pct("delivery.delivered_fraction"),
                g("delivery.lost"),
                g("delivery.pending_at_end")
            ),
        ),
        (
            "delivered within 1 s / 10 s / 60 s",
            format!(
                "{} / {} / {}",
                pct("delivery.within_1s"),
                pct("delivery.within_10s"),
                pct("delivery.within_60s")
            ),
        ),
        (
            "latency of delivered p50/p99/max (ms)",
            format!(
                "{} / {} / {}",
                g("delivery.latency_ms.p50"),
                g("delivery.latency_ms.p99"),
                g("delivery.latency_ms.max")
            ),
        ),
        (
            "/send attempts (429s, timeouts)",
            format!(
                "{} ({}, {})",
                g("federation.attempts"),
                g("federation.rate_limited"),
                g("federation.timeouts")
            ),
        ),
        ("inactionable sticky events", g("spam.inactionable_events")),
        (
            "spam window (ms)",
            if m.get("spam.window_censored").is_some_and(|c| *c > 0.0) {
                format!("{} (censored: still open at the end)", g("spam.window_ms"))
            } else {
                g("spam.window_ms")
            },
        ),
        (
            "time to converge p50 / p99 (ms)",
            format!(
                "{} / {}",
                g("convergence.time_to_converge_ms.p50"),
                g("convergence.time_to_converge_ms.p99")
            ),
        ),
        (
            "divergent rooms at end",
            g("convergence.final_divergent_rooms"),
        ),
        (
            "ghost time p50 / max (ms)",
            format!("{} / {}", g("rtc.ghost_ms.p50"), g("rtc.ghost_ms.max")),
        ),
        (
            "events handled (events/s)",
            format!("{} ({})", g("sim.events"), g("sim.events_per_s")),
        ),
    ];
    for (k, v) in rows {
        println!("  {k:<38} {v}");
    }
    for c in &o.expectations {
        println!("  {} {}", if c.pass { "ok  " } else { "FAIL" }, c.text);
    }
    println!("digest {}", o.digest);
    println!("results in {}", o.out_dir.display());
}
