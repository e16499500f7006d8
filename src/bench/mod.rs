//! Benchmarks that run on the simulation kernel itself.

pub mod phold;
pub mod scale;
