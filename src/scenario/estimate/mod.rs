//! How big a run will be, from its checked scenario alone (README "The command line": `validate` refuses a
//! scenario whose estimated size cannot fit).
//!
//! The model counts what the simulator allocates and handles per unit of the scenario —
//! servers, clients, (room, client) memberships and their per-server replicas, sticky
//! events, (event, destination server) pairs, (event, recipient client) pairs, `/sync`
//! round trips, delayed-leave restarts, actions planned before the run starts, samples —
//! and multiplies each count by a cost measured on real runs. Counts are f64 kept finite,
//! so nothing here overflows or panics: a huge scenario gives a huge estimate.
//!
//! Calibration (`/usr/bin/time -v stickysim run --quiet --no-plots`, release build; the
//! estimate / the measurement; `lfN` = `tools/gen_large_federation.py --servers N
//! --participants 5N`):
//!
//! | run | peak memory | kernel events |
//! | --- | --- | --- |
//! | matrixrtc_call | 16 / 13 MiB | 7.2e4 / 6.5e4 |
//! | lf100, lf300 | 50 / 39, 145 / 108 MiB | 6.7e5 / 5.8e5, 2.0e6 / 1.7e6 |
//! | large_federation (lf1000) | 629 / 408 MiB | 7.7e6 / 6.0e6 |
//! | lf3000 | 2662 / 1359 MiB | 2.7e7 / 1.7e7 |
//! | 2 servers, spam 100/s, 30 min | 705 / 637 MiB | 3.0e6 / 1.8e6 |
//! | 5 servers, spam 20/s over its rate limit, 1 h | 663 / 456 MiB | 4.8e6 / 1.5e6 |
//! | live_location, 600 sharers every 10 s | 342 / 226 MiB | 2.1e6 / 6.8e5 |
//! | 40 000 idle clients, 1 h | 577 / 453 MiB | 1.5e7 / 1.4e7 |
//! | matrixrtc_call, a sample every 10 ms | 735 / 473 MiB | 7.2e4 / 6.5e4 |
//! | 1000 clients, 500 participants, 1 h | 857 / 555 MiB | 7.1e6 / 6.4e6 |
//! | 300-3000 servers, one room of all, idle | 1.25-1.37 x | 1.02 x |
//!
//! Memory comes out 1.1-2x the measurement, kernel events 1-1.7x (3-4x when federation
//! batches a burst that the model sends one by one). `events` adds work that is not a
//! kernel event, in events of the same time: comparing client views at each sample and
//! delivery accounting; one core handles 0.25-3.6 M of those per second.

use super::locate::KeyPath;
use super::schema::*;
use super::validate::num;
use super::{Scenario, ScenarioError, ServerSpec};
use std::collections::BTreeMap;

mod limits;
mod model;

use limits::count;
pub use limits::{bytes, check_limits, parse_bytes, parse_count};
pub use model::dist_mean_us;
use model::*;

/// A run's estimated size.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Estimate {
    pub servers: u64,
    pub clients: u64,
    pub rooms: u64,
    /// (room, client) pairs joined at the start.
    pub memberships: u64,
    /// Sticky (and other) events the workloads create.
    pub sticky_events: u64,
    /// (event, destination server) pairs: what federation carries.
    pub federation_pairs: u64,
    /// (event, recipient client) pairs: what `/sync` carries and delivery accounting tracks.
    pub deliveries: u64,
    /// (sticky key, client) entries alive at once in the clients' ephemeral maps.
    pub map_entries: u64,
    /// `/sync` round trips: long polls that end at `poll_timeout`, and responses with news.
    pub syncs: u64,
    /// Delayed-leave restarts (MatrixRTC heartbeats).
    pub heartbeats: u64,
    /// Actions scheduled before the run starts (spam and location sends, script actions).
    pub planned_actions: u64,
    /// Sample instants (`duration / sample_interval`).
    pub samples: u64,
    /// Rows of convergence.csv and timeseries.csv: samples x (rooms + servers).
    pub sample_rows: u64,
    /// Kernel events handled (what `sim.events` reports).
    pub kernel_events: u64,
    /// `kernel_events` plus work that is not a kernel event counted in kernel events of the
    /// same time: taking samples (comparing client views) and convergence checks. This is
    /// what `--max-events` limits.
    pub events: u64,
    /// `events` per simulated second.
    pub events_per_sim_s: f64,
    /// Peak resident memory, bytes.
    pub memory_bytes: u64,
    /// What each part of the scenario contributes, largest first by memory.
    pub parts: Vec<Part>,
}

/// One part of a scenario and its share of the estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// The key that sets this part's size (where a refusal points).
    pub path: KeyPath,
    /// What it is, e.g. "1000 servers × 5 clients".
    pub what: String,
    pub memory_bytes: f64,
    pub events: f64,
}

/// Limits a scenario must fit (`--max-memory`, `--max-events`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_memory_bytes: u64,
    pub max_events: u64,
}

/// 16 GiB: the machines this runs on (laptops, CI runners, 2-core cloud VMs) have 8-64 GiB;
/// 16 GiB fits most of them and is 8x the README "Performance" target for the large scenario (2 GiB).
pub const DEFAULT_MAX_MEMORY: u64 = 16 << 30;

/// 2e9 events (kernel events and their equivalents): one core handles 0.25-3.6 M of them
/// per second on the calibration runs (about 0.7 M on the large federations), so about
/// 10 minutes to 2 hours, typically 45 minutes: long, but a run someone meant.
pub const DEFAULT_MAX_EVENTS: u64 = 2_000_000_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_memory_bytes: DEFAULT_MAX_MEMORY,
            max_events: DEFAULT_MAX_EVENTS,
        }
    }
}

/// Rooms as the model sees them: servers and clients joined at the start.
#[derive(Clone, Copy)]
struct RoomSize {
    servers: f64,
    clients: f64,
}

/// Estimate a checked scenario's size. Never panics, whatever the numbers.
pub fn estimate(scn: &Scenario) -> Estimate {
    let f = &scn.file;
    let dur = f.simulation.duration.0 as f64;
    let quiet = (f
        .simulation
        .duration
        .0
        .saturating_sub(f.simulation.quiet_tail.0)) as f64;
    let servers = scn.servers.len() as f64;
    // Lookups by name, built once (a scenario can name 100 000 servers and rooms).
    let server_by_name: BTreeMap<&str, &ServerSpec> = scn
        .servers
        .iter()
        .rev()
        .map(|s| (s.name.as_str(), s))
        .collect();
    let room_ix: BTreeMap<&str, usize> = f
        .rooms
        .iter()
        .enumerate()
        .rev()
        .map(|(i, r)| (r.name.as_str(), i))
        .collect();
    let clients_of = |name: &str| -> f64 {
        server_by_name
            .get(name)
            .map_or(0.0, |s| f64::from(s.cfg.clients_per_server))
    };
    let clients_key = clients_key(scn, &server_by_name);
    let clients: f64 = scn
        .servers
        .iter()
        .map(|s| f64::from(s.cfg.clients_per_server))
        .sum();
    let rooms: Vec<RoomSize> = f
        .rooms
        .iter()
        .map(|r| match &r.servers {
            ServerSet::All(_) => RoomSize {
                servers,
                clients: (clients - r.absent.len() as f64).max(0.0),
            },
            ServerSet::List(l) => {
                let mut names: Vec<&str> = l.iter().map(String::as_str).collect();
                names.sort_unstable();
                names.dedup();
                RoomSize {
                    servers: names.len() as f64,
                    clients: (names.iter().map(|n| clients_of(n)).sum::<f64>()
                        - r.absent.len() as f64)
                        .max(0.0),
                }
            }
        })
        .collect();
    let no_room = RoomSize {
        servers: 0.0,
        clients: 0.0,
    };
    let room_of = |name: &str| -> RoomSize {
        room_ix
            .get(name)
            .and_then(|&i| rooms.get(i).copied())
            .unwrap_or(no_room)
    };
    let memberships: f64 = rooms.iter().map(|r| r.clients).sum();
    let replicas: f64 = rooms.iter().map(|r| r.servers * r.clients).sum();
    // Ordered (origin, destination) pairs that share a room, bounded by all pairs.
    let server_pairs = rooms
        .iter()
        .map(|r| r.servers * (r.servers - 1.0).max(0.0))
        .sum::<f64>()
        .min(servers * (servers - 1.0).max(0.0));
    // The shortest /sync round trip of any server's clients: how often a client with news
    // waiting can sync.
    let busy_cycle = scn
        .servers
        .iter()
        .map(|s| 2.0 * dist_mean_us(&s.cfg.client_latency) + dist_mean_us(&s.cfg.processing))
        .fold(f64::INFINITY, f64::min)
        .max(1.0);

    let samples = fin((dur / (f.simulation.sample_interval.0 as f64).max(1.0)).floor());
    let mut views_by_samples = 0.0;
    // (origin, destination) server pairs that exchange events.
    let mut pairs = 0.0;
    let mut parts: Vec<Part> = vec![];
    let mut totals = Totals::default();

    // Servers and clients: their state, and idle /sync long polls.
    {
        let mut idle = 0.0;
        for s in &scn.servers {
            let cycle = s.cfg.sync.poll_timeout.0 as f64
                + 2.0 * dist_mean_us(&s.cfg.client_latency)
                + dist_mean_us(&s.cfg.processing);
            idle += f64::from(s.cfg.clients_per_server) * dur / cycle.max(1.0);
        }
        let idle = fin(idle);
        let t = Totals {
            syncs: idle,
            ..Totals::default()
        };
        parts.push(Part {
            path: clients_key.clone(),
            what: format!(
                "{} servers × {} clients on average, {} room memberships, {} idle /sync polls",
                count(servers),
                count(if servers > 0.0 {
                    clients / servers
                } else {
                    0.0
                }),
                count(memberships),
                count(idle)
            ),
            memory_bytes: servers * BYTES_PER_SERVER
                + clients * BYTES_PER_CLIENT
                + memberships * BYTES_PER_MEMBERSHIP
                + replicas * BYTES_PER_REPLICA
                + t.memory(),
            events: t.kernel_events(),
        });
        totals.add(&t);
    }

    // Workloads: events created, fanned out to servers and clients.
    for (i, w) in f.workload.iter().enumerate() {
        let p = KeyPath::root().key("workload").index(i);
        // (room, events created, distinct map keys, planned actions, heartbeats, senders,
        // key, what)
        let (room, created, keys, planned, heartbeats, senders, path, what) = match w {
            WorkloadCfg::Matrixrtc(m) => {
                let n = f64::from(m.participants);
                let span = active_span_us(&m.join, &m.stay, quiet);
                let sticky = (m.sticky_duration.0 as f64).min(HOUR_US);
                let every = sticky - m.resend_before_expiry.0 as f64;
                let resends = mean_periods(&m.join, &m.stay, quiet, every);
                let hb = &m.heartbeat;
                // The participant's period (a `restart_every` not below `leave_delay` is
                // taken as half of it: src/workload/matrixrtc.rs).
                let period = crate::workload::matrixrtc::restart_period(
                    hb.leave_delay.0,
                    hb.restart_every.0,
                ) as f64;
                let restarts = if hb.enabled {
                    span / period.max(1_000.0)
                } else {
                    0.0
                };
                // A false leave needs every restart within `leave_delay` lost: it costs a
                // leave and a join.
                let loss = room_loss(scn, &server_by_name, room_ix.get(m.room.as_str()).copied());
                let in_a_row = (hb.leave_delay.0 as f64 / period.max(1.0)).ceil().max(1.0);
                let false_leaves = restarts * loss.powf(in_a_row);
                let per = 2.0 + resends + 2.0 * false_leaves;
                let r = room_of(&m.room);
                let what = format!(
                    "{} participants × {} events (join, leave, re-sends) to {} servers and {} clients",
                    count(n),
                    num((per * 10.0).round() / 10.0),
                    count(r.servers),
                    count(r.clients)
                );
                let path = if resends > 10.0 {
                    p.key("resend_before_expiry")
                } else {
                    p.key("participants")
                };
                (r, n * per, n, 0.0, n * restarts, n, path, what)
            }
            WorkloadCfg::Location(l) => {
                let n = f64::from(l.sharers);
                let span = active_span_us(&l.start, &l.share_for, quiet);
                let every = (l.update_every.0 as f64).max(1_000.0);
                let per = (span / every).ceil() + 1.0;
                let r = room_of(&l.room);
                let what = format!(
                    "{} sharers × {} updates to {} servers and {} clients",
                    count(n),
                    count(per),
                    count(r.servers),
                    count(r.clients)
                );
                let path = if per > n {
                    p.key("update_every")
                } else {
                    p.key("sharers")
                };
                (r, n * per, n, n * per, 0.0, n, path, what)
            }
            WorkloadCfg::Spam(s) => {
                let stop = s.to.map_or(f64::INFINITY, |t| t.0 as f64).min(quiet);
                let span = (stop - s.start.0 as f64).max(0.0);
                let by_rate = if s.rate.is_finite() && s.rate > 0.0 {
                    (s.rate * span / 1e6).ceil()
                } else {
                    0.0
                };
                let n = s.count.map_or(by_rate, |c| (c as f64).min(by_rate));
                let r = room_of(&s.room);
                let rate = if s.rate.abs() >= 1e6 {
                    format!("{:e}", s.rate)
                } else {
                    num(s.rate)
                };
                let what = format!(
                    "{} spam events ({rate}/s) to {} servers and {} clients",
                    count(n),
                    count(r.servers),
                    count(r.clients)
                );
                let path = match s.count {
                    Some(c) if (c as f64) <= by_rate => p.key("count"),
                    _ => p.key("rate"),
                };
                // Distinct keys live as long as their event is sticky (at most an hour).
                let lifetime = (s.duration.0 as f64).min(HOUR_US);
                let keys = if s.distinct_keys {
                    n.min((s.rate * lifetime / 1e6).ceil())
                } else {
                    n.min(1.0)
                };
                (r, n, keys, n, 0.0, 1.0, path, what)
            }
            WorkloadCfg::Script(s) => {
                let n = s.actions.len() as f64;
                let sends = s.actions.iter().filter(|a| a.send.is_some()).count() as f64;
                let r = room_of(&s.room);
                let what = format!(
                    "{} script actions to {} servers and {} clients",
                    count(n),
                    count(r.servers),
                    count(r.clients)
                );
                (r, sends, sends, n, 0.0, sends, p.key("actions"), what)
            }
        };
        // Every client in the room but the sender's own.
        let (created, keys, planned, heartbeats) =
            (fin(created), fin(keys), fin(planned), fin(heartbeats));
        let deliveries = created * (room.clients - 1.0).max(0.0);
        // A client with news waiting syncs again at once: responses carry every event that
        // arrived since, so there are at most as many as round trips fit in the run.
        let responses = deliveries.min(room.clients * dur / busy_cycle);
        let map_entries = keys * room.clients;
        // Origin servers (at most one per sender) sending to the room's other servers.
        pairs += if created > 0.0 {
            fin(senders).min(room.servers) * (room.servers - 1.0).max(0.0)
        } else {
            0.0
        };
        let t = Totals {
            created,
            federation_pairs: created * (room.servers - 1.0).max(0.0),
            deliveries,
            check_work: deliveries * room.clients
                + created * memberships * EVENTS_PER_EVENT_MEMBERSHIP / EVENTS_PER_DELIVERY_MEMBER,
            map_entries,
            syncs: responses,
            heartbeats,
            planned,
            ..Totals::default()
        };
        // Each sample compares the clients' views, their map entries: counted with the
        // samples when those are the larger factor, else with the workload.
        let view_work = samples * map_entries;
        if samples > map_entries {
            views_by_samples += view_work;
        }
        let t = Totals {
            sample_work: if samples > map_entries {
                0.0
            } else {
                view_work
            },
            ..t
        };
        // Blame the workload's own count unless the room's clients are what makes it big
        // (a few events to a huge room).
        let path = if created < room.clients {
            clients_key.clone()
        } else {
            path
        };
        parts.push(Part {
            path,
            what,
            memory_bytes: t.memory(),
            events: t.kernel_events(),
        });
        totals.add(&t);
    }

    // Samples: one row per room and per server at every sample instant.
    let rooms_n = f.rooms.len() as f64;
    let rows = samples * (rooms_n + servers);
    {
        let t = Totals {
            samples,
            sample_rows: rows,
            sample_work: samples * (rooms_n + servers + memberships) + views_by_samples,
            ..Totals::default()
        };
        parts.push(Part {
            path: KeyPath::root().key("simulation").key("sample_interval"),
            what: format!(
                "{} samples × ({} rooms + {} servers)",
                count(samples),
                rooms_n,
                count(servers)
            ),
            memory_bytes: t.memory(),
            events: t.kernel_events(),
        });
        totals.add(&t);
    }

    // Server pairs that exchange events.
    let pair_mem = pairs.min(server_pairs) * BYTES_PER_SERVER_PAIR;
    if let Some(part) = parts.first_mut() {
        part.memory_bytes += pair_mem;
    }

    // Delivery rows kept: full mode all, auto mode up to its limit (then it drops them).
    let kept_rows = match f.simulation.records {
        RecordsMode::Full => totals.deliveries,
        RecordsMode::Auto => totals.deliveries.min(AUTO_FULL_ROWS as f64),
        RecordsMode::Summary => 0.0,
    };
    let memory = BASE_BYTES
        + kept_rows * BYTES_PER_DELIVERY_ROW
        + servers * BYTES_PER_SERVER
        + clients * BYTES_PER_CLIENT
        + memberships * BYTES_PER_MEMBERSHIP
        + replicas * BYTES_PER_REPLICA
        + pair_mem
        + totals.memory();
    let events = totals.kernel_events();
    parts.sort_by(|a, b| b.memory_bytes.total_cmp(&a.memory_bytes));
    Estimate {
        servers: sat(servers),
        clients: sat(clients),
        rooms: f.rooms.len() as u64,
        memberships: sat(memberships),
        sticky_events: sat(totals.created),
        federation_pairs: sat(totals.federation_pairs),
        deliveries: sat(totals.deliveries),
        map_entries: sat(totals.map_entries),
        syncs: sat(totals.syncs),
        heartbeats: sat(totals.heartbeats),
        planned_actions: sat(totals.planned),
        samples: sat(samples),
        sample_rows: sat(rows),
        kernel_events: sat(totals.kernel_only()),
        events: sat(events),
        events_per_sim_s: if dur > 0.0 { events / (dur / 1e6) } else { 0.0 },
        memory_bytes: sat(memory),
        parts,
    }
}

/// The key that sets the number of clients: when the servers that take the defaults hold
/// most clients, the larger of `servers.count` and the defaults' `clients_per_server`;
/// else the list entry with the most.
fn clients_key(scn: &Scenario, by_name: &BTreeMap<&str, &ServerSpec>) -> KeyPath {
    let sp = KeyPath::root().key("servers");
    let f = &scn.file;
    let listed: Vec<(usize, f64)> = f
        .servers
        .list
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            by_name
                .get(e.name.as_str())
                .map(|s| (i, f64::from(s.cfg.clients_per_server)))
        })
        .collect();
    let listed_total: f64 = listed.iter().map(|(_, n)| n).sum();
    let by_default = (scn.servers.len() as f64 - listed.len() as f64).max(0.0)
        * f64::from(f.servers.defaults.clients_per_server);
    if by_default >= listed_total {
        // Of the two factors, blame the larger: 60000 servers x 3 clients is a server
        // count problem, 20 servers x 10^7 clients a clients_per_server one.
        let per = u64::from(f.servers.defaults.clients_per_server);
        match f.servers.count {
            Some(n) if u64::from(n) >= per => sp.key("count"),
            _ => sp.key("defaults").key("clients_per_server"),
        }
    } else {
        let (i, _) = listed
            .iter()
            .copied()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0));
        sp.key("list").index(i).key("clients_per_server")
    }
}

/// The largest probability that a client request of the room's servers is lost.
fn room_loss(scn: &Scenario, by_name: &BTreeMap<&str, &ServerSpec>, room: Option<usize>) -> f64 {
    let Some(r) = room.and_then(|i| scn.file.rooms.get(i)) else {
        return 0.0;
    };
    let losses: Vec<f64> = match &r.servers {
        ServerSet::All(_) => scn.servers.iter().map(|s| s.cfg.client_loss).collect(),
        ServerSet::List(l) => l
            .iter()
            .filter_map(|n| by_name.get(n.as_str()))
            .map(|s| s.cfg.client_loss)
            .collect(),
    };
    losses.into_iter().fold(0.0, f64::max).clamp(0.0, 1.0)
}
