//! The bundled font (DejaVu Sans), registered once with plotters' ab_glyph support so
//! PNGs render identically on a machine with no system fonts.

use plotters::style::{register_font, FontStyle};
use std::sync::Once;

/// The family name every plot asks for. SVGs name it as their `font-family`, so a viewer
/// without DejaVu Sans still picks a sans-serif face.
pub const FAMILY: &str = "sans-serif";

pub(crate) static FONT_BYTES: &[u8] = include_bytes!("../font/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Registers the bundled font (idempotent, thread-safe).
pub fn ensure_registered() {
    REGISTER.call_once(|| {
        // The bytes are a known-good TTF compiled in; a failure here would be a build defect,
        // and plotting would then report a font error instead of panicking.
        let _ = register_font(FAMILY, FontStyle::Normal, FONT_BYTES);
    });
}
