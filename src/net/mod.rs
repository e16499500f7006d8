//! The network between homeservers: topology (petgraph), per-link latency and loss models,
//! partitions and link faults. Pure functions of (link, rng) -> delay or loss; only the
//! kernel advances time.

pub mod dist;
pub mod spec;

pub use dist::{jitter, Sampler};

use crate::kernel::{stream, RngStream, Time};
use crate::scenario::{FaultCfg, Scenario, Topology};
use petgraph::graph::{NodeIndex, UnGraph};
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// One link's model (both directions share it; each direction draws from its own stream).
#[derive(Clone, Debug)]
pub struct LinkModel {
    pub latency: Sampler,
    pub loss: f64,
}

/// What happens to one message sent from one server to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transit {
    /// Arrives after this one-way delay.
    Arrives(Time),
    /// Lost on the way (the sender sees nothing: a timeout).
    Lost,
    /// No route or partitioned (the sender sees a timeout too).
    Cut,
}

struct Partition {
    from: Time,
    to: Time,
    side: BTreeSet<u32>,
}

struct LinkFault {
    from: Time,
    to: Time,
    a: u32,
    b: u32,
    model: LinkModel,
}

pub struct Network {
    seed: u64,
    names: Vec<String>,
    topology: Topology,
    default: LinkModel,
    /// `regions`: region index of each server and the two latency models.
    region_of: Vec<Option<usize>>,
    intra: Option<LinkModel>,
    inter: Option<LinkModel>,
    /// Per-pair overrides (`[[network.link]]`), keyed (min, max).
    overrides: BTreeMap<(u32, u32), LinkModel>,
    /// `star` and `explicit`: the graph messages are routed over (shortest hop path).
    graph: Option<UnGraph<u32, ()>>,
    routes: HashMap<(u32, u32), Option<Vec<u32>>>,
    partitions: Vec<Partition>,
    link_faults: Vec<LinkFault>,
    // Lookup only: the order of this map never reaches an outcome.
    rngs: HashMap<(u32, u32), RngStream>,
}

fn key(a: u32, b: u32) -> (u32, u32) {
    (a.min(b), a.max(b))
}

impl Network {
    pub fn build(scn: &Scenario) -> Network {
        let net = &scn.file.network;
        let names: Vec<String> = scn.servers.iter().map(|s| s.name.clone()).collect();
        let idx = |n: &str| names.iter().position(|x| x == n).map(|i| i as u32);
        let default = LinkModel {
            latency: Sampler::new(&net.latency),
            loss: net.loss,
        };
        let mut region_of = vec![None; names.len()];
        for (ri, r) in net.regions.iter().enumerate() {
            for s in &r.servers {
                if let Some(i) = idx(s) {
                    region_of[i as usize] = Some(ri);
                }
            }
        }
        let mk = |d: &Option<crate::scenario::Dist>| {
            d.as_ref().map(|d| LinkModel {
                latency: Sampler::new(d),
                loss: net.loss,
            })
        };
        let mut overrides = BTreeMap::new();
        for l in &net.link {
            if let (Some(a), Some(b)) = (idx(&l.from), idx(&l.to)) {
                let model = LinkModel {
                    latency: l
                        .latency
                        .as_ref()
                        .map(Sampler::new)
                        .unwrap_or_else(|| default.latency.clone()),
                    loss: l.loss.unwrap_or(net.loss),
                };
                overrides.insert(key(a, b), model);
            }
        }
        let graph = match net.topology {
            Topology::Star => {
                let hub = net.hub.as_deref().and_then(idx).unwrap_or(0);
                let mut g = UnGraph::<u32, ()>::new_undirected();
                let nodes: Vec<NodeIndex> =
                    (0..names.len() as u32).map(|i| g.add_node(i)).collect();
                for i in 0..names.len() as u32 {
                    if i != hub {
                        g.add_edge(nodes[hub as usize], nodes[i as usize], ());
                    }
                }
                Some(g)
            }
            Topology::Explicit => {
                let mut g = UnGraph::<u32, ()>::new_undirected();
                let nodes: Vec<NodeIndex> =
                    (0..names.len() as u32).map(|i| g.add_node(i)).collect();
                for &(a, b) in overrides.keys() {
                    g.add_edge(nodes[a as usize], nodes[b as usize], ());
                }
                Some(g)
            }
            _ => None,
        };
        let mut partitions = vec![];
        let mut link_faults = vec![];
        for f in &scn.file.fault {
            match f {
                FaultCfg::Partition { servers, from, to } => partitions.push(Partition {
                    from: from.us(),
                    to: to.us(),
                    side: servers.iter().filter_map(|s| idx(s)).collect(),
                }),
                FaultCfg::Link {
                    servers,
                    from,
                    to,
                    latency,
                    loss,
                } => {
                    if let (Some(a), Some(b)) = (
                        servers.first().and_then(|s| idx(s)),
                        servers.get(1).and_then(|s| idx(s)),
                    ) {
                        let base = LinkModel {
                            latency: Sampler::new(&net.latency),
                            loss: net.loss,
                        };
                        let base = overrides.get(&key(a, b)).cloned().unwrap_or(base);
                        link_faults.push(LinkFault {
                            from: from.us(),
                            to: to.us(),
                            a,
                            b,
                            model: LinkModel {
                                latency: latency.as_ref().map(Sampler::new).unwrap_or(base.latency),
                                loss: loss.unwrap_or(base.loss),
                            },
                        });
                    }
                }
                _ => {}
            }
        }
        Network {
            seed: scn.seed(),
            names,
            topology: net.topology,
            default,
            region_of,
            intra: mk(&net.intra_latency),
            inter: mk(&net.inter_latency),
            overrides,
            graph,
            routes: HashMap::new(),
            partitions,
            link_faults,
            rngs: HashMap::new(),
        }
    }

    pub fn server_count(&self) -> usize {
        self.names.len()
    }

    /// The model of the direct link a-b at time t (faults, then overrides, then regions).
    fn link_model(&self, a: u32, b: u32, t: Time) -> &LinkModel {
        let k = key(a, b);
        for f in self.link_faults.iter().rev() {
            if key(f.a, f.b) == k && f.from <= t && t < f.to {
                return &f.model;
            }
        }
        if let Some(m) = self.overrides.get(&k) {
            return m;
        }
        if self.topology == Topology::Regions {
            match (self.region_of[a as usize], self.region_of[b as usize]) {
                (Some(x), Some(y)) if x == y => {
                    return self.intra.as_ref().unwrap_or(&self.default)
                }
                _ => return self.inter.as_ref().unwrap_or(&self.default),
            }
        }
        &self.default
    }

    /// Hop sequence from a to b (including both), or None when no route exists.
    fn route(&mut self, a: u32, b: u32) -> Option<Vec<u32>> {
        let Some(g) = &self.graph else {
            return Some(vec![a, b]);
        };
        if let Some(r) = self.routes.get(&(a, b)) {
            return r.clone();
        }
        // Breadth-first search: fewest hops, ties by node order (deterministic).
        let n = g.node_count();
        let mut prev = vec![u32::MAX; n];
        let mut seen = vec![false; n];
        let mut q = VecDeque::new();
        seen[a as usize] = true;
        q.push_back(a);
        while let Some(x) = q.pop_front() {
            if x == b {
                break;
            }
            let mut nbrs: Vec<u32> = g
                .neighbors(NodeIndex::new(x as usize))
                .map(|ni| ni.index() as u32)
                .collect();
            nbrs.sort_unstable();
            for y in nbrs {
                if !seen[y as usize] {
                    seen[y as usize] = true;
                    prev[y as usize] = x;
                    q.push_back(y);
                }
            }
        }
        let r = if seen[b as usize] {
            let mut path = vec![b];
            let mut cur = b;
            while cur != a {
                cur = prev[cur as usize];
                path.push(cur);
            }
            path.reverse();
            Some(path)
        } else {
            None
        };
        self.routes.insert((a, b), r.clone());
        r
    }

    fn cut_by_partition(&self, a: u32, b: u32, t: Time) -> bool {
        self.partitions
            .iter()
            .any(|p| p.from <= t && t < p.to && (p.side.contains(&a) != p.side.contains(&b)))
    }

    /// Whether a message from a to b could get through at time t (ignoring loss and crashes).
    pub fn reachable(&mut self, a: u32, b: u32, t: Time) -> bool {
        match self.route(a, b) {
            None => false,
            Some(path) => path
                .windows(2)
                .all(|w| !self.cut_by_partition(w[0], w[1], t)),
        }
    }

    /// One message from a to b sent at time t: its fate, drawn from the a->b stream.
    pub fn transit(&mut self, a: u32, b: u32, t: Time) -> Transit {
        if a == b {
            return Transit::Arrives(0);
        }
        let Some(path) = self.route(a, b) else {
            return Transit::Cut;
        };
        if path
            .windows(2)
            .any(|w| self.cut_by_partition(w[0], w[1], t))
        {
            return Transit::Cut;
        }
        let mut total = 0;
        let mut lost = false;
        for w in path.windows(2) {
            let (x, y) = (w[0], w[1]);
            let model = self.link_model(x, y, t).clone();
            let seed = self.seed;
            let names = &self.names;
            let rng = self.rngs.entry((x, y)).or_insert_with(|| {
                stream(
                    seed,
                    &format!("link/{}->{}", names[x as usize], names[y as usize]),
                    "transit",
                )
            });
            total += model.latency.sample(rng);
            if model.loss > 0.0 && rng.random::<f64>() < model.loss {
                lost = true;
            }
        }
        if lost {
            Transit::Lost
        } else {
            Transit::Arrives(total)
        }
    }

    /// Partition intervals touching server s (for fault shading and loss causes).
    pub fn partition_intervals(&self) -> Vec<(Time, Time, Vec<u32>)> {
        self.partitions
            .iter()
            .map(|p| (p.from, p.to, p.side.iter().copied().collect()))
            .collect()
    }
}
