//! The network between homeservers: topology (petgraph), per-link latency and loss models,
//! partitions and link faults. Pure functions of (link, rng) -> delay or loss; only the
//! kernel advances time.

pub mod dist;
pub mod spec;

pub use dist::{jitter, Sampler};

use crate::kernel::hash::IdMap;
use crate::kernel::{stream_key, RngStream, Time};
use petgraph::graph::{NodeIndex, UnGraph};
use rand::{Rng, SeedableRng};
use spec::{Dist, NetSpec, Topology};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

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
    routes: IdMap<(u32, u32), Option<Vec<u32>>>,
    partitions: Vec<Partition>,
    link_faults: Vec<LinkFault>,
    // Lookup only: the order of these maps never reaches an outcome.
    rngs: IdMap<(u32, u32), LinkStream>,
}

/// One direction's random stream, kept compact: its key and how many words it has drawn.
/// A live ChaCha generator is about 330 bytes and a run has one per server pair that
/// talks (millions at 10 000 servers); this is 40, and the generator is rebuilt at its
/// position for each message (the numbers drawn are the same).
struct LinkStream {
    key: [u8; 32],
    pos: u64,
}

fn key(a: u32, b: u32) -> (u32, u32) {
    (a.min(b), a.max(b))
}

impl Network {
    pub fn build(spec: &NetSpec) -> Network {
        let default = LinkModel {
            latency: Sampler::new(&spec.latency),
            loss: spec.loss,
        };
        let mk = |d: &Option<Dist>| {
            d.as_ref().map(|d| LinkModel {
                latency: Sampler::new(d),
                loss: spec.loss,
            })
        };
        let mut overrides = BTreeMap::new();
        for l in &spec.links {
            let model = LinkModel {
                latency: l
                    .latency
                    .as_ref()
                    .map(Sampler::new)
                    .unwrap_or_else(|| default.latency.clone()),
                loss: l.loss.unwrap_or(spec.loss),
            };
            overrides.insert(key(l.a, l.b), model);
        }
        let n = spec.names.len() as u32;
        let graph = match spec.topology {
            Topology::Star => {
                let mut g = UnGraph::<u32, ()>::new_undirected();
                let nodes: Vec<NodeIndex> = (0..n).map(|i| g.add_node(i)).collect();
                for i in 0..n {
                    if i != spec.hub {
                        g.add_edge(nodes[spec.hub as usize], nodes[i as usize], ());
                    }
                }
                Some(g)
            }
            Topology::Explicit => {
                let mut g = UnGraph::<u32, ()>::new_undirected();
                let nodes: Vec<NodeIndex> = (0..n).map(|i| g.add_node(i)).collect();
                for &(a, b) in overrides.keys() {
                    g.add_edge(nodes[a as usize], nodes[b as usize], ());
                }
                Some(g)
            }
            _ => None,
        };
        let partitions = spec
            .partitions
            .iter()
            .map(|p| Partition {
                from: p.from,
                to: p.to,
                side: p.side.iter().copied().collect(),
            })
            .collect();
        let link_faults = spec
            .link_faults
            .iter()
            .map(|f| {
                // The pair's own model (its override, else the default) under the fault's changes.
                let base = overrides.get(&key(f.a, f.b)).cloned().unwrap_or(LinkModel {
                    latency: Sampler::new(&spec.latency),
                    loss: spec.loss,
                });
                LinkFault {
                    from: f.from,
                    to: f.to,
                    a: f.a,
                    b: f.b,
                    model: LinkModel {
                        latency: f.latency.as_ref().map(Sampler::new).unwrap_or(base.latency),
                        loss: f.loss.unwrap_or(base.loss),
                    },
                }
            })
            .collect();
        Network {
            seed: spec.seed,
            names: spec.names.clone(),
            topology: spec.topology,
            default,
            region_of: spec.region_of.clone(),
            intra: mk(&spec.intra_latency),
            inter: mk(&spec.inter_latency),
            overrides,
            graph,
            routes: IdMap::default(),
            partitions,
            link_faults,
            rngs: IdMap::default(),
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

    /// Hop sequence from a to b (including both), or None when no route exists (cached).
    fn route(&mut self, a: u32, b: u32) -> Option<Vec<u32>> {
        if self.graph.is_none() {
            return Some(vec![a, b]);
        }
        if let Some(r) = self.routes.get(&(a, b)) {
            return r.clone();
        }
        let r = self.compute_route(a, b);
        self.routes.insert((a, b), r.clone());
        r
    }

    /// The route without touching the cache (for readers outside the model).
    fn route_ro(&self, a: u32, b: u32) -> Option<Vec<u32>> {
        match self.routes.get(&(a, b)) {
            Some(r) => r.clone(),
            None => self.compute_route(a, b),
        }
    }

    /// Breadth-first search: fewest hops, ties by node order (deterministic).
    fn compute_route(&self, a: u32, b: u32) -> Option<Vec<u32>> {
        let Some(g) = &self.graph else {
            return Some(vec![a, b]);
        };
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
        if !seen[b as usize] {
            return None;
        }
        let mut path = vec![b];
        let mut cur = b;
        while cur != a {
            cur = prev[cur as usize];
            path.push(cur);
        }
        path.reverse();
        Some(path)
    }

    fn cut_by_partition(&self, a: u32, b: u32, t: Time) -> bool {
        self.partitions
            .iter()
            .any(|p| p.from <= t && t < p.to && (p.side.contains(&a) != p.side.contains(&b)))
    }

    /// Whether a message from a to b could get through at time t (ignoring loss and crashes).
    pub fn reachable(&self, a: u32, b: u32, t: Time) -> bool {
        match self.route_ro(a, b) {
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
        // Without a routing graph every pair is one direct hop (no route to look up).
        let routed = match self.graph {
            None => None,
            Some(_) => match self.route(a, b) {
                None => return Transit::Cut,
                r => r,
            },
        };
        let direct = [a, b];
        let path: &[u32] = routed.as_deref().unwrap_or(&direct);
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
            let st = self.rngs.entry((x, y)).or_insert_with(|| LinkStream {
                key: stream_key(
                    seed,
                    &format!("link/{}->{}", names[x as usize], names[y as usize]),
                    "transit",
                ),
                pos: 0,
            });
            let mut rng = RngStream::from_seed(st.key);
            rng.set_word_pos(u128::from(st.pos));
            total += model.latency.sample(&mut rng);
            if model.loss > 0.0 && rng.random::<f64>() < model.loss {
                lost = true;
            }
            st.pos = rng.get_word_pos() as u64;
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
