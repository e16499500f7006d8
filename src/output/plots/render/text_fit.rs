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
    if text_w(area, text, px) <= max_w {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    for n in (1..chars.len()).rev() {
        let s: String = chars[..n].iter().collect::<String>() + "…";
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
