//! Sampling the scenario's duration distributions (README "Scenario files").

use super::spec::Dist;
use crate::kernel::{RngStream, Time};
use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal, Normal};

/// A distribution ready to sample, in microseconds.
#[derive(Clone, Debug)]
pub enum Sampler {
    Constant(Time),
    Uniform(Time, Time),
    Exponential(Exp<f64>),
    Lognormal(LogNormal<f64>),
    /// Normal, clamped below at `min`.
    Normal(Normal<f64>, Time),
}

impl Sampler {
    pub fn new(d: &Dist) -> Sampler {
        match d {
            Dist::Constant { value } => Sampler::Constant(value.us()),
            Dist::Uniform { min, max } => {
                Sampler::Uniform(min.us().min(max.us()), max.us().max(min.us()))
            }
            Dist::Exponential { mean } => match Exp::new(1.0 / (mean.us().max(1) as f64)) {
                Ok(e) => Sampler::Exponential(e),
                Err(_) => Sampler::Constant(mean.us()),
            },
            Dist::Lognormal { median, sigma } => {
                let mu = (median.us().max(1) as f64).ln();
                match LogNormal::new(mu, sigma.max(0.0)) {
                    Ok(l) => Sampler::Lognormal(l),
                    Err(_) => Sampler::Constant(median.us()),
                }
            }
            Dist::Normal { mean, std, min } => match Normal::new(mean.us() as f64, std.us() as f64)
            {
                Ok(n) => Sampler::Normal(n, min.us()),
                Err(_) => Sampler::Constant(mean.us().max(min.us())),
            },
        }
    }

    #[inline]
    pub fn sample(&self, rng: &mut RngStream) -> Time {
        match self {
            Sampler::Constant(v) => *v,
            Sampler::Uniform(a, b) => {
                if a == b {
                    *a
                } else {
                    rng.random_range(*a..=*b)
                }
            }
            Sampler::Exponential(e) => clamp_us(e.sample(rng)),
            Sampler::Lognormal(l) => clamp_us(l.sample(rng)),
            Sampler::Normal(n, min) => clamp_us(n.sample(rng)).max(*min),
        }
    }

    /// The distribution's mean in microseconds (for documentation and sanity checks).
    pub fn is_constant(&self) -> bool {
        matches!(self, Sampler::Constant(_))
    }
}

#[inline]
fn clamp_us(x: f64) -> Time {
    if x.is_finite() && x > 0.0 {
        x.min(1e15).round() as Time
    } else {
        0
    }
}

/// A multiplicative jitter factor drawn uniformly from [lo, hi] (1.0 when lo == hi).
pub fn jitter(rng: &mut RngStream, range: [f64; 2]) -> f64 {
    let (lo, hi) = (range[0].min(range[1]), range[0].max(range[1]));
    if (hi - lo).abs() < f64::EPSILON {
        lo
    } else {
        rng.random_range(lo..=hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::stream;
    use crate::scenario::Dur;

    #[test]
    fn constant_and_clamped_normal() {
        let mut r = stream(1, "t", "t");
        assert_eq!(
            Sampler::new(&Dist::Constant {
                value: Dur::from_ms(80)
            })
            .sample(&mut r),
            80_000
        );
        let n = Sampler::new(&Dist::Normal {
            mean: Dur::from_ms(10),
            std: Dur::from_ms(100),
            min: Dur::from_ms(5),
        });
        for _ in 0..1000 {
            assert!(n.sample(&mut r) >= 5_000);
        }
    }

    #[test]
    fn lognormal_median_is_close() {
        let mut r = stream(7, "t", "t");
        let l = Sampler::new(&Dist::Lognormal {
            median: Dur::from_ms(60),
            sigma: 0.6,
        });
        let mut v: Vec<Time> = (0..20001).map(|_| l.sample(&mut r)).collect();
        v.sort();
        let med = v[10000] as f64;
        assert!((med - 60_000.0).abs() < 2_000.0, "median {med}");
    }
}
