//! Everything that writes files: CSV, digest, plots, report, trace, sequence diagrams.

pub mod compare;
pub mod files;
pub mod lock;
pub mod plots;
pub mod report;
pub mod sequence;
pub mod sequence_excerpt;
pub mod trace;
