//! `stickysim calibrate [DIR]`: runs every scenario of DIR (default `scenarios/calibration`,
//! the replays of the real Synapse measurements; a scenario file, or, where no such file or
//! folder exists, a scenario or folder of the embedded library: `calibration/loopback_e2e`,
//! `calibration`) and prints one Markdown table row per
//! `[[expect]]` claim: the Synapse figure (the claim's `note`), the claim, what stickysim
//! got and whether it holds. README's "How close to Synapse" table is this output.

use super::expect::check;
use crate::scenario::library::{embedded, origin, LIBRARY};
use crate::scenario::{ExpectCfg, Scenario, ScenarioError};
use std::io::Write;
use std::path::{Path, PathBuf};

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let s = format!("{}", v as i64);
        // Thousands separated by a thin space, as the README writes them.
        let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else {
        format!("{v:.1}")
    }
}

/// The claim as written: `= 5`, `≥ 39.3`, `39.3 – 57.8`, `= 100 ± 5%`.
fn claim(e: &ExpectCfg) -> String {
    let mut parts = vec![];
    if let Some(v) = e.equals {
        let tol = e
            .tolerance
            .map(|t| format!(" ± {}%", num(t * 100.0)))
            .unwrap_or_default();
        parts.push(format!("= {}{tol}", num(v)));
    }
    match (e.min, e.max) {
        (Some(lo), Some(hi)) => parts.push(format!("{} – {}", num(lo), num(hi))),
        (Some(lo), None) => parts.push(format!("≥ {}", num(lo))),
        (None, Some(hi)) => parts.push(format!("≤ {}", num(hi))),
        (None, None) => {}
    }
    parts.join(", ")
}

/// The scenario files of `dir`, sorted by name.
fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// One scenario to calibrate against: a file, or an entry of the embedded library.
enum Source {
    File(PathBuf),
    Embedded(&'static str, &'static str),
}

impl Source {
    /// The name in the table: the file stem, or the entry's last segment.
    fn stem(&self) -> String {
        match self {
            Source::File(p) => p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Source::Embedded(name, _) => name.rsplit('/').next().unwrap_or(name).to_string(),
        }
    }
    fn load(&self) -> Result<Scenario, Vec<ScenarioError>> {
        match self {
            Source::File(p) => crate::scenario::load_path(p, &[]),
            Source::Embedded(name, text) => crate::scenario::load_str(text, &origin(name), &[]),
        }
    }
    fn shown(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Embedded(name, _) => origin(name),
        }
    }
}

/// What `arg` names: a folder's `*.toml` files, one file, or where neither exists, the
/// embedded library's scenario of that name or the entries of that library folder
/// (`calibration`, `scenarios/calibration`).
fn sources(arg: &Path) -> Result<Vec<Source>, String> {
    if arg.is_dir() {
        let paths = files(arg).map_err(|e| format!("{}: cannot read: {e}", arg.display()))?;
        return Ok(paths.into_iter().map(Source::File).collect());
    }
    if arg.is_file() {
        return Ok(vec![Source::File(arg.to_path_buf())]);
    }
    let text = arg.to_string_lossy();
    if let Some((name, text)) = embedded(&text) {
        return Ok(vec![Source::Embedded(name, text)]);
    }
    let a = text.replace('\\', "/");
    let a = a.strip_prefix("./").unwrap_or(&a);
    let a = a.strip_prefix("scenarios/").unwrap_or(a);
    let folder = format!("{}/", a.trim_end_matches('/'));
    let found: Vec<Source> = LIBRARY
        .iter()
        .filter(|(n, _)| n.strip_prefix(&folder).is_some_and(|r| !r.contains('/')))
        .map(|(n, t)| Source::Embedded(n, t))
        .collect();
    if found.is_empty() {
        return Err(format!(
            "{}: no such file or folder, and no scenario or folder of that name in the embedded library (see `stickysim list`)",
            arg.display()
        ));
    }
    Ok(found)
}

/// Runs every scenario `dir` names (see [`sources`]; output under `out`), writes the table
/// to `w`; returns the exit code: 0 every claim holds, 1 one does not, 2 bad input.
pub fn calibrate_to(dir: &Path, out: &Path, w: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let sources = match sources(dir) {
        Ok(p) if !p.is_empty() => p,
        Ok(_) => {
            let _ = writeln!(err, "{}: no scenarios", dir.display());
            return 2;
        }
        Err(e) => {
            let _ = writeln!(err, "{e}");
            return 2;
        }
    };
    let _ = writeln!(
        w,
        "| scenario | metric | Synapse 1.163.2 | claim | stickysim | holds |"
    );
    let _ = writeln!(w, "| --- | --- | --- | --- | --- | --- |");
    let mut code = 0;
    for src in sources {
        let scn = match src.load() {
            Ok(s) => s,
            Err(errs) => {
                for e in errs {
                    let _ = writeln!(err, "{e}");
                }
                return 2;
            }
        };
        let stem = src.stem();
        let opts = super::RunOptions {
            out_dir: out.join(&stem),
            plots: false,
            ..Default::default()
        };
        let outcome = match super::run_scenario(&scn, &opts) {
            Ok(o) => o,
            Err(e) => {
                let _ = writeln!(err, "{}: {e:#}", src.shown());
                return 2;
            }
        };
        for e in &scn.file.expect {
            let checked = check(std::slice::from_ref(e), &outcome.metrics);
            let holds = checked.iter().all(|c| c.pass);
            if !holds {
                code = 1;
            }
            let got = outcome
                .metrics
                .get(&e.metric)
                .map(|v| num(*v))
                .unwrap_or_else(|| "no value".into());
            let measured = e
                .note
                .as_deref()
                .map(|n| n.strip_prefix("Synapse: ").unwrap_or(n))
                .unwrap_or("");
            let _ = writeln!(
                w,
                "| `{stem}` | `{}` | {measured} | {} | {got} | {} |",
                e.metric,
                claim(e),
                if holds { "yes" } else { "**no**" }
            );
        }
    }
    code
}

/// `stickysim calibrate`: the table on stdout, run folders in a temporary folder (removed).
pub fn calibrate_cmd(dir: &Path) -> u8 {
    let out = std::env::temp_dir().join(format!("stickysim-calibrate-{}", std::process::id()));
    let code = calibrate_to(
        dir,
        &out,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    let _ = std::fs::remove_dir_all(&out);
    code
}
