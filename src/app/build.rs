//! Setup in one place: a checked scenario becomes the world (servers, clients, rooms,
//! network), the workloads, and the initial events. Every name is resolved here, once.

use super::Sim;
use crate::kernel::{stream, Time};
use crate::matrix::client::Client;
use crate::matrix::cx::{ClientInfo, ClientLink, Directory, Processing, RoomInfo, Shared};
use crate::matrix::event::EventStore;
use crate::matrix::msg::{ClientReq, ClientRequest, Ev, Input, ServerEv};
use crate::matrix::probe::{Probe, Probes};
use crate::matrix::server::{Members, Server, Withhold};
use crate::matrix::world::World;
use crate::matrix::{ClientId, IdVec, RoomId, ServerId};
use crate::net::spec::{LinkFaultSpec, LinkSpec, NetSpec, PartitionSpec};
use crate::net::{Network, Sampler};
use crate::scenario::{FaultCfg, Scenario, ServerSet};
use crate::workload::plan_all;
use std::collections::{BTreeMap, BTreeSet};

/// A built run: the model and the events it starts with.
pub struct Built {
    pub sim: Sim,
    pub initial: Vec<(Time, Ev)>,
}

/// The network's spec from the scenario (names resolved to server indices).
pub fn net_spec(scn: &Scenario) -> NetSpec {
    let net = &scn.file.network;
    let by_name: std::collections::BTreeMap<&str, u32> = scn
        .servers
        .iter()
        .enumerate()
        .rev()
        .map(|(i, s)| (s.name.as_str(), i as u32))
        .collect();
    let idx = |n: &str| by_name.get(n).copied();
    let mut region_of = vec![None; scn.servers.len()];
    for (ri, r) in net.regions.iter().enumerate() {
        for s in r.servers.iter().filter_map(|s| idx(s)) {
            region_of[s as usize] = Some(ri);
        }
    }
    let links = net
        .link
        .iter()
        .filter_map(|l| {
            Some(LinkSpec {
                a: idx(&l.from)?,
                b: idx(&l.to)?,
                latency: l.latency.clone(),
                loss: l.loss,
            })
        })
        .collect();
    let mut partitions = vec![];
    let mut link_faults = vec![];
    for f in &scn.file.fault {
        match f {
            FaultCfg::Partition { servers, from, to } => partitions.push(PartitionSpec {
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
                    link_faults.push(LinkFaultSpec {
                        from: from.us(),
                        to: to.us(),
                        a,
                        b,
                        latency: latency.clone(),
                        loss: *loss,
                    });
                }
            }
            _ => {}
        }
    }
    NetSpec {
        seed: scn.seed(),
        names: scn.servers.iter().map(|s| s.name.clone()).collect(),
        topology: net.topology,
        latency: net.latency.clone(),
        loss: net.loss,
        hub: net.hub.as_deref().and_then(idx).unwrap_or(0),
        region_of,
        intra_latency: net.intra_latency.clone(),
        inter_latency: net.inter_latency.clone(),
        links,
        partitions,
        link_faults,
    }
}

/// Build the run from a checked scenario. Initial memberships are in place at time 0.
/// The room ID a scenario's room gets (`r` -> `!r:sim`).
pub fn room_id(name: &str) -> String {
    format!("!{name}:sim")
}

pub fn build(scn: &Scenario, wire: bool) -> anyhow::Result<Built> {
    let seed = scn.seed();
    let f = &scn.file;
    let end = f.simulation.duration.us();
    let quiet_from = end.saturating_sub(f.simulation.quiet_tail.us());
    let mut dir = Directory::default();
    dir.types.push("m.rtc.member".into());
    let mut servers: IdVec<ServerId, Server> = IdVec::new();
    let mut clients: IdVec<ClientId, Client> = IdVec::new();
    let mut links: IdVec<ClientId, ClientLink> = IdVec::new();
    let mut processing: IdVec<ServerId, Processing> = IdVec::new();
    for spec in &scn.servers {
        let comp = format!("server/{}", spec.name);
        let id = dir.add_server(spec.name.clone());
        let mut local = vec![];
        for k in 0..spec.cfg.clients_per_server {
            let name = format!("{}/{}", spec.name, k);
            links.push(ClientLink {
                latency: Sampler::new(&spec.cfg.client_latency),
                loss: spec.cfg.client_loss,
                rng: stream(seed, &format!("client/{name}"), "client"),
            });
            let c = dir.add_client(ClientInfo {
                name,
                server: id,
                index: k,
                cfg: spec.cfg.client.clone(),
                sync_error_retry: spec.cfg.sync.error_retry.us(),
            });
            clients.push(Client::new(c, &spec.cfg.client));
            local.push(c);
        }
        processing.push(Processing {
            sampler: Sampler::new(&spec.cfg.processing),
            rng: stream(seed, &comp, "misc"),
            origin: Sampler::new(&spec.cfg.origin_processing),
            origin_rng: stream(seed, &comp, "origin_processing"),
        });
        servers.push(Server::new(
            id,
            spec.cfg.clone(),
            stream(seed, &comp, "event_ids"),
            stream(seed, &comp, "federation"),
            local,
        ));
    }
    let mut probes = Probes::new(wire);
    // Rooms: every client of the listed servers is joined from the start.
    let mut initial_members: Vec<(RoomId, Vec<ClientId>)> = vec![];
    for r in &f.rooms {
        let members: Vec<ServerId> = match &r.servers {
            ServerSet::All(_) => servers.ids().collect(),
            ServerSet::List(l) => l.iter().filter_map(|n| dir.server_id(n)).collect(),
        };
        let absent: BTreeSet<&str> = r.absent.iter().map(|s| s.as_str()).collect();
        let users: Vec<ClientId> = members
            .iter()
            .flat_map(|s| servers[*s].clients.iter().copied())
            .filter(|c| !absent.contains(dir.clients[*c].name.as_str()))
            .collect();
        let pl = r.power_levels.clone().unwrap_or_default();
        let type_levels = pl
            .events
            .iter()
            .map(|(t, lvl)| (dir.type_index(t), *lvl))
            .collect();
        let creator = pl
            .creator
            .as_deref()
            .and_then(|n| dir.client_id(n))
            .or_else(|| users.first().copied());
        let room = dir.add_room(RoomInfo {
            name: r.name.clone(),
            room_id: room_id(&r.name),
            default_level: pl.default,
            type_levels,
            creator,
        });
        let mut power = BTreeMap::new();
        if let Some(c) = creator {
            power.insert(c, 100);
        }
        for (u, lvl) in &pl.users {
            if let Some(c) = dir.client_id(u) {
                power.insert(c, *lvl);
            }
        }
        let power = std::sync::Arc::new(power);
        let shared: Members = std::sync::Arc::new(users.iter().copied().collect());
        for s in &members {
            let view = servers[*s].rooms.entry(room).or_default();
            view.members = shared.clone();
            view.power = power.clone();
            servers[*s].members_epoch += 1;
        }
        for u in &users {
            clients[*u].pl_view.insert(room, power.clone());
        }
        initial_members.push((room, users));
    }
    for (room, users) in &initial_members {
        for u in users {
            probes.emit(Probe::Membership {
                user: *u,
                room: *room,
                joined: true,
                t: 0,
            });
        }
    }
    let mut steps: Vec<(Time, Ev)> = vec![];
    // Every client starts online and long-polling.
    for c in clients.ids() {
        probes.emit(Probe::ClientOnline {
            client: c,
            online: true,
            t: 0,
        });
        steps.push((0, Ev::Input(Input::Online { client: c })));
    }
    faults(scn, &mut dir, &mut servers, &mut steps);
    let up = IdVec::from_vec(vec![true; servers.len()]);
    let sh = Shared {
        pdus: EventStore::default(),
        dir,
        net: Network::build(&net_spec(scn)),
        links,
        processing,
        up,
        probes,
        next_txn: 1,
        next_delay: 1,
        end,
    };
    let mut world = World::new(servers, clients, sh);
    let workloads = plan_all(&f.workload, &mut world, seed, end, quiet_from, &mut steps)?;
    Ok(Built {
        sim: Sim { world, workloads },
        initial: steps,
    })
}

/// The faults that are steps of the run (crashes, clients offline, clocks, equivocation)
/// or settings of a server (withholding). Partitions and link faults are the network's.
fn faults(
    scn: &Scenario,
    dir: &mut Directory,
    servers: &mut IdVec<ServerId, Server>,
    steps: &mut Vec<(Time, Ev)>,
) {
    for fault in &scn.file.fault {
        match fault {
            FaultCfg::Crash {
                servers: names,
                from,
                to,
            } => {
                for server in names.iter().filter_map(|n| dir.server_id(n)) {
                    steps.push((from.us(), Ev::Input(Input::Crash { server })));
                    if let Some(to) = to {
                        steps.push((to.us(), Ev::Input(Input::Restart { server })));
                    }
                }
            }
            FaultCfg::ClientOffline { clients, from, to } => {
                for client in clients.iter().filter_map(|n| dir.client_id(n)) {
                    steps.push((from.us(), Ev::Input(Input::Offline { client })));
                    if let Some(to) = to {
                        steps.push((to.us(), Ev::Input(Input::Online { client })));
                    }
                }
            }
            FaultCfg::Clock {
                servers: names,
                from,
                skew,
                drift_ppm,
            } => {
                for server in names.iter().filter_map(|n| dir.server_id(n)) {
                    let i = Input::ClockChange {
                        server,
                        skew_us: skew.map(|k| k.0),
                        drift_ppm: *drift_ppm,
                    };
                    steps.push((from.us(), Ev::Input(i)));
                }
            }
            FaultCfg::Withhold {
                server,
                to_servers,
                from,
                to,
            } => {
                if let Some(s) = dir.server_id(server) {
                    for dest in to_servers.iter().filter_map(|n| dir.server_id(n)) {
                        servers[s].withhold.push(Withhold {
                            dest,
                            from: from.us(),
                            to: to.map(|t| t.us()),
                        });
                    }
                }
            }
            FaultCfg::Equivocate {
                server,
                room,
                split,
                at,
                event_type,
                key,
            } => {
                let (Some(s), Some(r)) = (dir.server_id(server), dir.room_id(room)) else {
                    continue;
                };
                let Some(&client) = servers[s].clients.first() else {
                    continue;
                };
                let ev_type = dir.type_index(event_type);
                let split: Vec<ServerId> = split.iter().filter_map(|n| dir.server_id(n)).collect();
                let rest: Vec<ServerId> = servers
                    .ids()
                    .filter(|x| *x != s && !split.contains(x))
                    .collect();
                // Not a client's request: the faulty server makes the versions itself.
                let req = ClientRequest {
                    client,
                    req: ClientReq::Equivocate {
                        room: r,
                        ev_type,
                        key: key.clone(),
                        groups: vec![rest, split],
                    },
                    tag: None,
                };
                steps.push((
                    at.us(),
                    Ev::Server(s, ServerEv::ClientRequest(Box::new(req))),
                ));
            }
            FaultCfg::Partition { .. } | FaultCfg::Link { .. } => {}
        }
    }
}
