//! Plots drawn with plotters from the CSVs of a run (or sweep) folder.

use std::path::Path;

/// `stickysim plot DIR`: re-draws every plot from the CSVs already in DIR.
pub fn plot_cmd(_dir: &Path) -> anyhow::Result<u8> {
    anyhow::bail!("plot: not built yet")
}
