//! `stickysim calibrate [DIR]`: runs every scenario of DIR (default `scenarios/calibration`,
//! the replays of the real Synapse measurements) and prints one Markdown table row per
//! `[[expect]]` claim: the Synapse figure (the claim's `note`), the claim, what stickysim
//! got and whether it holds. README's "How close to Synapse" table is this output.

use super::expect::check;
use crate::scenario::ExpectCfg;
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

/// Runs every scenario of `dir` (output under `out`), writes the table to `w`; returns the
/// exit code: 0 every claim holds, 1 one does not, 2 bad input.
pub fn calibrate_to(dir: &Path, out: &Path, w: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let paths = match files(dir) {
        Ok(p) if !p.is_empty() => p,
        Ok(_) => {
            let _ = writeln!(err, "{}: no scenarios", dir.display());
            return 2;
        }
        Err(e) => {
            let _ = writeln!(err, "{}: cannot read: {e}", dir.display());
            return 2;
        }
    };
    let _ = writeln!(
        w,
        "| scenario | metric | Synapse 1.163.2 | claim | stickysim | holds |"
    );
    let _ = writeln!(w, "| --- | --- | --- | --- | --- | --- |");
    let mut code = 0;
    for path in paths {
        let scn = match crate::scenario::load_path(&path, &[]) {
            Ok(s) => s,
            Err(errs) => {
                for e in errs {
                    let _ = writeln!(err, "{e}");
                }
                return 2;
            }
        };
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let opts = super::RunOptions {
            out_dir: out.join(&stem),
            plots: false,
            ..Default::default()
        };
        let outcome = match super::run_scenario(&scn, &opts) {
            Ok(o) => o,
            Err(e) => {
                let _ = writeln!(err, "{}: {e:#}", path.display());
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
