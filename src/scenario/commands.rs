//! `stickysim validate` and `stickysim list`.

use super::loader::load_path;
use super::Scenario;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Prints every problem of every file to stderr (one per line, `file:line:col: `key`:
/// message`) and `ok  <path>  <summary>` for each good file; returns 0 when all are
/// valid, 2 otherwise.
pub fn validate_cmd(paths: &[PathBuf]) -> u8 {
    let out = std::io::stdout();
    let err = std::io::stderr();
    validate_to(paths, &mut out.lock(), &mut err.lock())
}

/// [`validate_cmd`] writing to the given streams (for tests).
pub fn validate_to(paths: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    if paths.is_empty() {
        let _ = writeln!(err, "validate: no scenario given");
        return 2;
    }
    let mut code = 0;
    for path in paths {
        match load_path(path, &[]) {
            Ok(s) => {
                let _ = writeln!(out, "ok  {}  {}", path.display(), summary(&s));
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
pub fn list_cmd(dir: &Path) -> u8 {
    let out = std::io::stdout();
    let err = std::io::stderr();
    list_to(dir, &mut out.lock(), &mut err.lock())
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
    let stems: Vec<String> = files
        .iter()
        .map(|p| {
            p.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let width = stems.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    for (path, stem) in files.iter().zip(&stems) {
        let text = match load_path(path, &[]) {
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
    0
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
