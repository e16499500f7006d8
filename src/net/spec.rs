//! The network's own spec types: distributions of durations and topologies.

use crate::kernel::time::Dur;
use serde::{Deserialize, Serialize};

/// A random distribution of durations (README "Scenario files").
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

/// One pair's link override (`[[network.link]]`, resolved to server indices).
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSpec {
    pub a: u32,
    pub b: u32,
    pub latency: Option<Dist>,
    pub loss: Option<f64>,
}

/// A partition: `side` cut from everyone else, both ways, in [from, to).
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionSpec {
    pub from: u64,
    pub to: u64,
    pub side: Vec<u32>,
}

/// A `link` fault: one pair's latency and/or loss changed in [from, to).
#[derive(Clone, Debug, PartialEq)]
pub struct LinkFaultSpec {
    pub from: u64,
    pub to: u64,
    pub a: u32,
    pub b: u32,
    pub latency: Option<Dist>,
    pub loss: Option<f64>,
}

/// Everything the network is built from, with server names resolved to indices.
#[derive(Clone, Debug, PartialEq)]
pub struct NetSpec {
    pub seed: u64,
    /// Server names, by index (they name the links' random streams).
    pub names: Vec<String>,
    pub topology: Topology,
    pub latency: Dist,
    pub loss: f64,
    /// `star`: the hub.
    pub hub: u32,
    /// `regions`: each server's region, and the latencies within and between regions.
    pub region_of: Vec<Option<usize>>,
    pub intra_latency: Option<Dist>,
    pub inter_latency: Option<Dist>,
    pub links: Vec<LinkSpec>,
    pub partitions: Vec<PartitionSpec>,
    pub link_faults: Vec<LinkFaultSpec>,
}
