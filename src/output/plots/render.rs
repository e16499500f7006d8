//! Draws a [`Figure`] on any plotters backend (SVG and PNG share this code), and writes
//! both files atomically.
//!
//! The figure's layout is here (title, caption, one area per panel); the parts are in
//! [`axes`] (ranges, ticks and labels), [`panel`] (one panel's frame and contents),
//! [`series`] (the data marks), [`legend`] and [`text_fit`] (text sizes, cutting and
//! wrapping).

mod axes;
mod legend;
mod panel;
mod series;
mod text_fit;

use super::figure::{Figure, Hue};
use super::font::ensure_registered;
use super::text::GlyphText;
use anyhow::{anyhow, Context, Result};
use panel::{draw_panel, panel_layout};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use text_fit::{fit, font, wrap};

pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 500;

/// Okabe–Ito, reordered so the first colours are the most distinct on white
/// (yellow, the weakest on white, comes last).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
    RGBColor(0xF0, 0xE4, 0x42), // yellow
];
const OTHER: RGBColor = RGBColor(0xA8, 0xA8, 0xA8);
const TEXT: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x55, 0x55, 0x55);
const GRID: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);
const GRID_LIGHT: RGBColor = RGBColor(0xF2, 0xF2, 0xF2);

const TITLE_PX: u32 = 20;
const PANEL_TITLE_PX: u32 = 15;
const LABEL_PX: u32 = 14;
const TICK_PX: u32 = 12;
const LEGEND_PX: u32 = 13;
const CAPTION_PX: u32 = 13;
const LEGEND_W: i32 = 170;
const SHADE_ROW_H: i32 = 15;

fn color(h: Hue) -> RGBColor {
    match h {
        Hue::Palette(i) => PALETTE[i % PALETTE.len()],
        Hue::Other => OTHER,
    }
}

fn de<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

/// Draws the figure on `root` (800×500).
pub fn render<DB: DrawingBackend>(fig: &Figure, root: &DrawingArea<DB, Shift>) -> Result<()> {
    ensure_registered();
    root.fill(&WHITE).map_err(de)?;
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);

    // Title.
    let title = fit(root, &fig.title, TITLE_PX, w - 20);
    root.draw(&Text::new(title, (14, 10), font(TITLE_PX)))
        .map_err(de)?;
    let top = 40;

    // Caption, wrapped, at the bottom.
    let cap_lines = wrap(root, &fig.caption, CAPTION_PX, w - 28);
    // At most 5 lines; a cut one ends in "…" (the SVG and PNG carry the same text).
    let cut = cap_lines.len() > 5;
    let mut cap_lines: Vec<String> = cap_lines.into_iter().take(5).collect();
    if cut {
        if let Some(last) = cap_lines.last_mut() {
            last.push('…');
        }
    }
    let cap_h = cap_lines.len() as i32 * 17 + if cap_lines.is_empty() { 4 } else { 8 };
    for (i, line) in cap_lines.iter().enumerate() {
        let y = h - cap_h + 4 + i as i32 * 17;
        root.draw(&Text::new(
            line.clone(),
            (14, y),
            font(CAPTION_PX).color(&MUTED),
        ))
        .map_err(de)?;
    }

    let panels_h = h - top - cap_h;
    let n = fig.panels.len().max(1) as i32;
    let area_of = |i: usize| {
        let y0 = top + i as i32 * panels_h / n;
        let y1 = top + (i as i32 + 1) * panels_h / n;
        (
            y0,
            root.clone().shrink((0, y0), (w as u32, (y1 - y0) as u32)),
        )
    };
    let min_y_area = fig
        .panels
        .iter()
        .enumerate()
        .map(|(i, p)| panel_layout(p, &area_of(i).1, if p.title.is_some() { 20 } else { 0 }).2)
        .max()
        .unwrap_or(0);
    for (i, panel) in fig.panels.iter().enumerate() {
        let (y0, area) = area_of(i);
        draw_panel(panel, root, &area, (0, y0), min_y_area)?;
    }
    Ok(())
}

/// Writes `<dir>/<name>.svg` and `.png`, each under a temporary name first.
pub fn write_figure(fig: &Figure, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let svg_path = dir.join(format!("{}.svg", fig.name));
    let png_path = dir.join(format!("{}.png", fig.name));

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        render(fig, &root)?;
        root.present().map_err(de)?;
    }
    crate::output::files::write_file_atomic(&svg_path, svg.as_bytes())
        .with_context(|| format!("writing {}", svg_path.display()))?;

    // The bitmap encoder picks the format from the extension, so the temporary name ends in
    // .png; the pid keeps two processes' names apart.
    let tmp_png = dir.join(format!(".{}.tmp-{}.png", fig.name, std::process::id()));
    {
        let root = GlyphText {
            inner: BitMapBackend::new(&tmp_png, (WIDTH, HEIGHT)),
        }
        .into_drawing_area();
        render(fig, &root)?;
        root.present().map_err(de)?;
    }
    std::fs::rename(&tmp_png, &png_path)
        .with_context(|| format!("renaming to {}", png_path.display()))?;
    Ok(vec![svg_path, png_path])
}
