//! Plots drawn with plotters from the CSVs of a run (or sweep) folder.
//!
//! Each plot is first computed as a [`Figure`] (plain data: series, shaded intervals,
//! notes) by a pub builder such as [`latency_cdf_figure`], then drawn by one renderer
//! for both SVG and PNG (800×500, bundled DejaVu Sans, Okabe–Ito colours). Tests check
//! the figures, not pixels. See docs/plots.md.

pub mod data;
pub mod figure;
mod font;
pub mod format;
mod render;
mod run_plots;
mod sweep_plots;
mod text;
mod tradeoff;

pub use figure::{Axis, AxisKind, Figure, Hue, Mark, Markers, Panel, Scale, Series, Shade};
pub use render::{write_figure, HEIGHT, WIDTH};
pub use run_plots::{
    bin_width_ms, cdf_points, convergence_figure, federation_figure, latency_cdf_figure,
    rtc_ghosts_figure, run_figures, spam_window_figure,
};
pub use sweep_plots::{
    file_safe, key_number, short_key, sweep_figures, value_text, Agg, SweepData,
};
pub use tradeoff::{higher_is_better, pareto_front, tradeoff_figure};

use super::files;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// In a run's `plots/`: the plots and panels left out because they had nothing to
/// show, one `name<TAB>reason` per line (`report.md` lists them).
pub const LEFT_OUT_FILE: &str = "left_out.txt";

/// Draws every run plot into `<dir>/plots/` (SVG and PNG each) and returns the paths.
/// Missing or malformed inputs give no error: a panel with nothing to draw is left out,
/// a figure with no panel left is not drawn, and why goes to `plots/left_out.txt`.
/// With `verbose`, each reason is also printed on stderr. Only an unwritable folder is
/// an error.
pub fn plot_run_dir_with(dir: &Path, verbose: bool) -> Result<Vec<PathBuf>> {
    let out = dir.join("plots");
    let mut paths = vec![];
    let mut left_out = String::new();
    for fig in run_figures(dir) {
        let name = fig.name.clone();
        let (fig, gone) = fig.without_empty_panels();
        for (what, why) in &gone {
            if verbose {
                eprintln!("note: {what} not drawn: {why}");
            }
            left_out.push_str(&format!("{what}\t{}\n", why.replace(['\t', '\n'], " ")));
        }
        match fig {
            Some(fig) => paths.extend(write_figure(&fig, &out)?),
            None => {
                // A redraw must not leave an older run's chart behind.
                for ext in ["svg", "png"] {
                    let _ = std::fs::remove_file(out.join(format!("{name}.{ext}")));
                }
            }
        }
    }
    let list = out.join(LEFT_OUT_FILE);
    if left_out.is_empty() {
        let _ = std::fs::remove_file(&list);
    } else {
        std::fs::create_dir_all(&out)?;
        files::write_file_atomic(&list, left_out.as_bytes())?;
    }
    Ok(paths)
}

/// [`plot_run_dir_with`], quietly.
pub fn plot_run_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    plot_run_dir_with(dir, false)
}

/// Draws each headline metric against each swept key into `<dir>/plots/`, from
/// `sweep.json` and `aggregate.csv`.
pub fn plot_sweep_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let data = SweepData::load(dir)?;
    let out = dir.join("plots");
    let mut paths = vec![];
    for fig in sweep_figures(&data) {
        paths.extend(write_figure(&fig, &out)?);
    }
    Ok(paths)
}

/// What a folder holds, judged by its files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FolderKind {
    Run,
    Sweep,
}

/// `sweep.json` makes a sweep folder; `summary.json` or any run CSV makes a run folder.
pub fn folder_kind(dir: &Path) -> Option<FolderKind> {
    if dir.join("sweep.json").is_file() {
        return Some(FolderKind::Sweep);
    }
    const RUN_FILES: [&str; 7] = [
        "summary.json",
        "deliveries.csv",
        "federation.csv",
        "syncs.csv",
        "convergence.csv",
        "timeseries.csv",
        "ghosts.csv",
    ];
    if RUN_FILES.iter().any(|f| dir.join(f).is_file()) {
        Some(FolderKind::Run)
    } else {
        None
    }
}

/// `stickysim plot DIR`: re-draws every plot from the CSVs already in DIR.
/// Exit code 0 when drawn, 2 when DIR is neither a run nor a sweep folder, or is a run
/// folder without `summary.json` (an unfinished run).
pub fn plot_cmd(dir: &Path) -> Result<u8> {
    let kind = match folder_kind(dir) {
        Some(k) => k,
        None => {
            eprintln!(
                "error: {} is neither a run folder (summary.json or run CSVs) nor a sweep folder (sweep.json)",
                dir.display()
            );
            return Ok(2);
        }
    };
    // summary.json is the last file a run writes: without it the run did not finish (it
    // was killed, or is still running), and its CSVs may be partial or an older run's.
    if kind == FolderKind::Run && !dir.join("summary.json").is_file() {
        eprintln!(
            "error: {} is an incomplete run folder: no summary.json (the run did not finish); rerun it",
            dir.display()
        );
        return Ok(2);
    }
    let _lock = crate::output::lock::FolderLock::acquire(dir)?;
    let mut paths = match kind {
        FolderKind::Run => plot_run_dir_with(dir, true)?,
        FolderKind::Sweep => plot_sweep_dir(dir)?,
    };
    // The report links the plots, so it is refreshed with them (when it can be written).
    let report = match kind {
        FolderKind::Run if dir.join("summary.json").is_file() => {
            Some(crate::output::report::write_report(dir))
        }
        FolderKind::Sweep => Some(crate::output::report::write_sweep_report(dir)),
        _ => None,
    };
    match report {
        Some(Ok(p)) => paths.push(p),
        Some(Err(e)) => eprintln!("note: report.md not written: {e:#}"),
        None => {}
    }
    println!(
        "wrote {} files ({} plots) under {}",
        paths.len(),
        paths
            .iter()
            .filter(|p| p.starts_with(dir.join("plots")))
            .count(),
        dir.display()
    );
    Ok(0)
}
