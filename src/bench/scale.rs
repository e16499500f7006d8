//! `stickysim bench scale` (README "Performance"): the generated large federation
//! (`tools/gen_large_federation.py`, five participants per server as in
//! `scenarios/large_federation.toml`) at 1 000 and 10 000 servers (100 000 with `--huge`),
//! each run as a child process of this binary so that its peak memory (`VmHWM` of
//! `/proc/self/status`, Linux) is its own. Prints per size the events, the wall time of the
//! whole child (scenario loading, run, files), the peak memory, the due delivery pairs and
//! the wall time per event and per pair, so that linearity shows.

use crate::run::{run_scenario, RunOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone, Debug)]
pub struct ScaleParams {
    /// Server counts, comma-separated (participants: five per server).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    pub servers: Vec<u32>,
    /// Also run 100 000 servers (500 000 participants; about 10 GiB or more).
    #[arg(long)]
    pub huge: bool,
    /// Folder for the generated scenarios and run folders [default: a folder under the
    /// system's temporary folder].
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// The scenario generator.
    #[arg(long, default_value = "tools/gen_large_federation.py")]
    pub generator: PathBuf,
    /// Kill a run whose resident memory passes this many GiB (reported as killed).
    #[arg(long, default_value_t = 20.0)]
    pub max_rss_gib: f64,
    /// Internal: run this one scenario in this process and print its figures.
    #[arg(long, hide = true)]
    pub one: Option<PathBuf>,
}

/// One size's figures, as the child prints them.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    pub events: u64,
    pub pairs: u64,
    pub peak_kb: u64,
}

impl Figures {
    fn line(&self) -> String {
        format!(
            "events={} pairs={} peak_kb={}",
            self.events, self.pairs, self.peak_kb
        )
    }

    /// Reads [`Figures::line`] back.
    pub fn parse(text: &str) -> Option<Figures> {
        let line = text.lines().rev().find(|l| l.starts_with("events="))?;
        let get = |k: &str| -> Option<u64> {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(k)?.strip_prefix('='))?
                .parse()
                .ok()
        };
        Some(Figures {
            events: get("events")?,
            pairs: get("pairs")?,
            peak_kb: get("peak_kb")?,
        })
    }
}

/// A `kB` field of `/proc/<pid>/status` (`VmHWM`, `VmRSS`); `None` off Linux.
pub fn status_kb(pid: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

pub fn cli(p: &ScaleParams) -> anyhow::Result<()> {
    let work = p
        .work
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("stickysim-bench-scale"));
    std::fs::create_dir_all(&work)?;
    if let Some(file) = &p.one {
        return run_one(file, &work);
    }
    if !p.generator.exists() {
        anyhow::bail!(
            "{}: no such generator (run from the repository root, or give --generator)",
            p.generator.display()
        );
    }
    let mut sizes = p.servers.clone();
    if p.huge && !sizes.contains(&100_000) {
        sizes.push(100_000);
    }
    for servers in sizes {
        let scn = generate(&p.generator, servers, &work)?;
        let started = Instant::now();
        let outcome = run_child(&scn, &work.join(format!("run-{servers}")), p.max_rss_gib)?;
        let wall = started.elapsed().as_secs_f64();
        match outcome {
            Ok(f) => println!(
                "servers={servers} {} wall_s={wall:.1} peak_mib={:.0} ns_per_event={:.0} ns_per_pair={:.0}",
                f.line(),
                f.peak_kb as f64 / 1024.0,
                wall * 1e9 / f.events.max(1) as f64,
                wall * 1e9 / f.pairs.max(1) as f64,
            ),
            Err(why) => println!("servers={servers} wall_s={wall:.1} {why}"),
        }
    }
    Ok(())
}

/// The generator's scenario at `servers` servers, written into `work`.
fn generate(generator: &Path, servers: u32, work: &Path) -> anyhow::Result<PathBuf> {
    let out = work.join(format!("large_federation_{servers}.toml"));
    let status = Command::new("python3")
        .arg(generator)
        .args(["--servers", &servers.to_string()])
        .args(["--participants", &(5 * u64::from(servers)).to_string()])
        .args(["--name", &format!("large_federation_{servers}")])
        .arg("--out")
        .arg(&out)
        .status()
        .map_err(|e| anyhow::anyhow!("python3 {}: {e}", generator.display()))?;
    if !status.success() {
        anyhow::bail!("{} failed ({status})", generator.display());
    }
    Ok(out)
}

/// Runs one scenario in a child process, watching its resident memory; the figures, or
/// why there are none.
fn run_child(scn: &Path, work: &Path, max_rss_gib: f64) -> anyhow::Result<Result<Figures, String>> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["bench", "scale", "--one"])
        .arg(scn)
        .arg("--work")
        .arg(work)
        .stdout(Stdio::piped())
        .spawn()?;
    let pid = child.id().to_string();
    let limit_kb = (max_rss_gib * 1024.0 * 1024.0) as u64;
    loop {
        if let Some(status) = child.try_wait()? {
            let out = child.wait_with_output()?;
            let text = String::from_utf8_lossy(&out.stdout);
            return Ok(match Figures::parse(&text) {
                Some(f) if status.success() => Ok(f),
                _ => Err(format!("failed ({status})")),
            });
        }
        if let Some(rss) = status_kb(&pid, "VmRSS").filter(|kb| *kb > limit_kb) {
            child.kill()?;
            child.wait()?;
            return Ok(Err(format!(
                "killed: resident memory {:.1} GiB passed --max-rss-gib {max_rss_gib}",
                rss as f64 / (1024.0 * 1024.0)
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A scenario's problems as one error, one per line.
fn joined(errs: Vec<crate::scenario::ScenarioError>) -> anyhow::Error {
    let lines: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    anyhow::anyhow!("{}", lines.join("\n"))
}

/// The child: one run (summary mode, no plots, claims not checked), then its figures.
fn run_one(file: &Path, work: &Path) -> anyhow::Result<()> {
    let scn = crate::scenario::load_path(file, &[]).map_err(joined)?;
    // `run` estimates the size before it runs (README "Ranges and size limits"): measured too,
    // with no limit, so the figures are those of `stickysim run`.
    let no_limit = crate::scenario::estimate::Limits {
        max_memory_bytes: u64::MAX,
        max_events: u64::MAX,
    };
    crate::scenario::commands::check_size(&scn, &no_limit).map_err(joined)?;
    let opts = RunOptions {
        out_dir: work.to_path_buf(),
        no_expect: true,
        ..Default::default()
    };
    let out = run_scenario(&scn, &opts)?;
    let m = |k: &str| out.metrics.get(k).copied().unwrap_or(0.0) as u64;
    let f = Figures {
        events: out.events,
        // Due pairs: delivered, lost and pending.
        pairs: m("delivery.count") + m("delivery.pending_at_end"),
        peak_kb: status_kb("self", "VmHWM").unwrap_or(0),
    };
    println!("{}", f.line());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_back() {
        let f = Figures {
            events: 5_626_403,
            pairs: 597_485,
            peak_kb: 419_540,
        };
        let text = format!("noise\n{}\n", f.line());
        assert_eq!(Figures::parse(&text), Some(f));
        assert_eq!(Figures::parse("events=1 pairs=2"), None);
    }

    #[test]
    fn own_peak_memory_is_read() {
        if cfg!(target_os = "linux") {
            // RSS first: the peak read afterwards is at least what RSS was (other tests
            // allocate meanwhile, in other threads).
            let rss = status_kb("self", "VmRSS").expect("VmRSS");
            let hwm = status_kb("self", "VmHWM").expect("VmHWM");
            assert!(hwm >= rss && rss > 0, "{hwm} {rss}");
        }
    }
}
