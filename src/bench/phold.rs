//! PHOLD (Fujimoto 1990) on the very kernel the protocol model uses (SPEC 6).

#[derive(Clone, Debug)]
pub struct PholdParams {
    pub lps: u32,
    pub population: u32,
    pub end_time: f64,
    pub remote: f64,
    pub lookahead: f64,
    pub mean: f64,
    pub seed: u64,
    pub compare: bool,
}

pub fn cli(_p: &PholdParams) {}
