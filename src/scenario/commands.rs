//! `stickysim validate` and `stickysim list`.

use super::estimate::{self, Limits};
use super::loader::load_path;
use super::{Scenario, ScenarioError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `--max-memory` and `--max-events`: the size a scenario's estimate must fit (README "The command line").
/// Flatten it into a command's arguments (`#[command(flatten)] limits: LimitArgs`).
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct LimitArgs {
    /// Refuse a scenario whose estimated peak memory is larger (e.g. 16GiB, 512MiB, 2GB).
    #[arg(long, value_name = "SIZE", value_parser = estimate::parse_bytes)]
    pub max_memory: Option<u64>,
    /// Refuse a scenario whose estimated number of kernel events is larger (e.g. 2e9).
    #[arg(long, value_name = "N", value_parser = estimate::parse_count)]
    pub max_events: Option<u64>,
}

impl LimitArgs {
    /// The limits, defaults for what is not given.
    pub fn limits(&self) -> Limits {
        let d = Limits::default();
        Limits {
            max_memory_bytes: self.max_memory.unwrap_or(d.max_memory_bytes),
            max_events: self.max_events.unwrap_or(d.max_events),
        }
    }
}

/// A loaded scenario's estimate, refused when it does not fit `limits` (for `run` and
/// `sweep` too: call it after loading, print the errors and exit 2 when it fails).
pub fn check_size(
    scn: &Scenario,
    limits: &Limits,
) -> Result<estimate::Estimate, Vec<ScenarioError>> {
    let est = estimate::estimate(scn);
    let errors = estimate::check_limits(scn, &est, limits);
    if errors.is_empty() {
        Ok(est)
    } else {
        Err(errors)
    }
}

/// Prints every problem of every file to stderr (one per line, `file:line:col: `key`:
/// message`) and, for each good file, `ok  <path>  <summary>` and an indented line with
/// its size estimate; returns 0 when all are valid and fit the default limits, 2 otherwise.
pub fn validate_cmd(paths: &[PathBuf]) -> u8 {
    validate_cmd_with(paths, &Limits::default())
}

/// [`validate_cmd`] with the limits of `--max-memory` / `--max-events`
/// ([`LimitArgs::limits`]).
pub fn validate_cmd_with(paths: &[PathBuf], limits: &Limits) -> u8 {
    let out = std::io::stdout();
    let err = std::io::stderr();
    validate_with(paths, limits, true, &mut out.lock(), &mut err.lock())
}

/// [`validate_cmd`] with the default limits and without the estimate lines, writing to the
/// given streams (for tests).
pub fn validate_to(paths: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    validate_with(paths, &Limits::default(), false, out, err)
}

/// [`validate_cmd`] writing to the given streams; `show_estimate` adds
/// `    estimate: ...` under each `ok` line.
pub fn validate_with(
    paths: &[PathBuf],
    limits: &Limits,
    show_estimate: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    if paths.is_empty() {
        let _ = writeln!(err, "validate: no scenario given");
        return 2;
    }
    let mut code = 0;
    for path in paths {
        match load_path(path, &[]).and_then(|s| check_size(&s, limits).map(|e| (s, e))) {
            Ok((s, est)) => {
                let _ = writeln!(out, "ok  {}  {}", path.display(), summary(&s));
                if show_estimate {
                    let _ = writeln!(out, "    estimate: {est}");
                }
            }
            Err(errors) => {
                code = 2;
                for e in errors {
                    let _ = writeln!(err, "{e}");
                }
            }
        }
    }
    code
}

/// `<name>: N servers, M rooms, K workloads`.
pub fn summary(s: &Scenario) -> String {
    format!(
        "{}: {} servers, {} rooms, {} workloads",
        s.name(),
        s.servers.len(),
        s.file.rooms.len(),
        s.file.workload.len()
    )
}

/// Prints the scenario library, one line each: every `*.toml` of `dir` sorted by file name,
/// `<stem padded>  <description's first line>`, sweeps marked `[sweep]`, broken files with
/// a short error. Returns 2 when `dir` cannot be read, else 0.
/// No `dir`: the library compiled into the binary ([`list_embedded_to`]).
pub fn list_cmd(dir: Option<&Path>) -> u8 {
    let out = std::io::stdout();
    let err = std::io::stderr();
    match dir {
        Some(d) => list_to(d, &mut out.lock(), &mut err.lock()),
        None => list_embedded_to(&mut out.lock()),
    }
}

/// [`list_cmd`] writing to the given streams (for tests).
pub fn list_to(dir: &Path, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(err, "{}: cannot read: {e}", dir.display());
            return 2;
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    let items = files
        .iter()
        .map(|path| {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (stem, load_path(path, &[]))
        })
        .collect();
    write_list(items, out);
    0
}

/// `stickysim list` with no folder: the library compiled into the binary
/// ([`super::library::LIBRARY`]), `calibration/` entries included.
pub fn list_embedded_to(out: &mut dyn Write) -> u8 {
    let items = super::library::LIBRARY
        .iter()
        .map(|(name, text)| {
            let loaded = super::loader::load_str(text, &super::library::origin(name), &[]);
            (name.to_string(), loaded)
        })
        .collect();
    write_list(items, out);
    0
}

/// One line per scenario: its name, then the first sentence of its description
/// (`[sweep]` marks sweeps) or why it does not load.
fn write_list(items: Vec<(String, Result<Scenario, Vec<ScenarioError>>)>, out: &mut dyn Write) {
    let width = items.iter().map(|i| i.0.chars().count()).max().unwrap_or(0);
    for (stem, loaded) in items {
        let text = match loaded {
            Ok(s) => {
                let first = first_sentence(&s.file.simulation.description);
                let first = first.trim();
                if s.file.sweep.is_some() {
                    if first.is_empty() {
                        "[sweep]".to_string()
                    } else {
                        format!("[sweep] {first}")
                    }
                } else {
                    first.to_string()
                }
            }
            Err(errors) => match errors.first() {
                Some(e) if e.line > 0 => format!("(invalid: line {}: {})", e.line, short(e)),
                Some(e) => format!("(invalid: {})", short(e)),
                None => "(invalid)".to_string(),
            },
        };
        let line = format!("{stem:<width$}  {text}");
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// Loads the scenario a command names: the file at `path`, or when there is no such
/// file, the embedded scenario of that name (`spam_window`, `scenarios/spam_window.toml`).
pub fn load_arg(path: &Path, sets: &[String]) -> Result<Scenario, Vec<ScenarioError>> {
    match embedded_for(path) {
        Some((name, text)) => super::loader::load_str(text, &super::library::origin(name), sets),
        None => load_path(path, sets),
    }
}

/// The embedded scenario `path` names, when no file is there.
pub fn embedded_for(path: &Path) -> Option<(&'static str, &'static str)> {
    if path.exists() {
        return None;
    }
    super::library::embedded(&path.to_string_lossy())
}

fn short(e: &super::ScenarioError) -> String {
    let mut m = if e.key.is_empty() {
        e.message.clone()
    } else {
        format!("`{}`: {}", e.key, e.message)
    };
    if m.chars().count() > 80 {
        m = m.chars().take(77).collect::<String>() + "...";
    }
    m
}

/// The first sentence of a description (one line of `stickysim list`).
fn first_sentence(d: &str) -> &str {
    let line = d.lines().next().unwrap_or("").trim();
    match line.find(". ") {
        Some(i) => &line[..=i],
        None => line,
    }
}
