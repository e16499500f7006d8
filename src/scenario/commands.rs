//! `stickysim validate` and `stickysim list`.

use std::path::{Path, PathBuf};

/// Prints every problem of every file; returns 0 when all are valid, 2 otherwise.
pub fn validate_cmd(_paths: &[PathBuf]) -> u8 {
    eprintln!("validate: not built yet");
    2
}

/// Prints the scenario library, one line each.
pub fn list_cmd(_dir: &Path) -> u8 {
    eprintln!("list: not built yet");
    2
}
