//! The network's own spec types: distributions of durations and topologies.

use crate::kernel::time::Dur;
use serde::{Deserialize, Serialize};

/// A random distribution of durations (SPEC 1.2).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum Dist {
    Constant {
        value: Dur,
    },
    Uniform {
        min: Dur,
        max: Dur,
    },
    Exponential {
        mean: Dur,
    },
    Lognormal {
        median: Dur,
        sigma: f64,
    },
    Normal {
        mean: Dur,
        std: Dur,
        #[serde(default)]
        min: Dur,
    },
}

impl Dist {
    pub fn constant(d: Dur) -> Dist {
        Dist::Constant { value: d }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    #[default]
    FullMesh,
    Star,
    Regions,
    Explicit,
}
