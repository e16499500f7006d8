//! Text layout in pixels: the font at a size, a string's width, cutting with an
//! ellipsis and word wrapping.

use super::TEXT;
use crate::output::plots::font::FAMILY;
use plotters::coord::Shift;
use plotters::prelude::*;

pub(super) fn font(px: u32) -> TextStyle<'static> {
    (FAMILY, px).into_font().color(&TEXT)
}

pub(super) fn text_w<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    px: u32,
) -> i32 {
    area.estimate_text_size(text, &font(px))
        .map(|(w, _)| w as i32)
        .unwrap_or((text.chars().count() as f64 * px as f64 * 0.6) as i32)
}

/// Cuts `text` with an ellipsis so it fits `max_w` pixels.
pub(super) fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    px: u32,
    max_w: i32,
) -> String {
    let chars: Vec<char> = text.chars().collect();
    longest_fitting(area, text, px, max_w, |n| {
        chars[..n].iter().collect::<String>() + "…"
    })
}

/// Cuts `text` in the middle so it fits `max_w` pixels, keeping both ends (`hs1/0 … room_12`):
/// names that differ only at the end stay told apart.
pub(super) fn fit_middle<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    px: u32,
    max_w: i32,
) -> String {
    let chars: Vec<char> = text.chars().collect();
    longest_fitting(area, text, px, max_w, |keep| {
        let tail = keep / 2;
        chars[..keep - tail].iter().collect::<String>()
            + "…"
            + &chars[chars.len() - tail..].iter().collect::<String>()
    })
}

/// `text` when it fits, else `cut(n)` for the largest `n` (characters kept) that fits.
fn longest_fitting<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    px: u32,
    max_w: i32,
    cut: impl Fn(usize) -> String,
) -> String {
    if text_w(area, text, px) <= max_w {
        return text.to_string();
    }
    let n = text.chars().count();
    for keep in (1..n).rev() {
        let s = cut(keep);
        if text_w(area, &s, px) <= max_w {
            return s;
        }
    }
    "…".into()
}

/// Greedy word wrap to `max_w` pixels.
pub(super) fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    px: u32,
    max_w: i32,
) -> Vec<String> {
    let mut lines = vec![];
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let cand = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if !line.is_empty() && text_w(area, &cand, px) > max_w {
                lines.push(std::mem::take(&mut line));
                line = word.to_string();
            } else {
                line = cand;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines
}
