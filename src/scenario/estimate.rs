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
use super::{Scenario, ScenarioError};
use std::fmt;

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

// ---- the cost model (bytes and kernel events per unit; see the module comment) ----

/// Resident memory of an empty run: the binary, the allocator, the embedded fonts.
const BASE_BYTES: f64 = 10e6;
/// A server: its state, random streams, per-room views.
const BYTES_PER_SERVER: f64 = 10_000.0;
/// Each server keeps its view of every room it is in: per (server, room member) pair.
const BYTES_PER_REPLICA: f64 = 8.0;
/// Per (origin, destination) pair that exchanges events: a destination queue, a token
/// bucket at the receiver.
const BYTES_PER_SERVER_PAIR: f64 = 200.0;
const BYTES_PER_CLIENT: f64 = 2_500.0;
const BYTES_PER_MEMBERSHIP: f64 = 200.0;
/// A PDU, its event ID, its write record.
const BYTES_PER_EVENT: f64 = 600.0;
/// The PDU in a destination queue, in the receiver's room state, its federation.csv share.
const BYTES_PER_FEDERATION_PAIR: f64 = 250.0;
/// A delivery record, the device's delivered set, the latency sample.
const BYTES_PER_DELIVERY: f64 = 250.0;
/// An entry in a client's ephemeral map (one per sticky key and client) and its expiry timer.
const BYTES_PER_MAP_ENTRY: f64 = 300.0;
/// A syncs.csv row.
const BYTES_PER_SYNC: f64 = 100.0;
/// An action scheduled before the run starts, in the event queue.
const BYTES_PER_PLANNED_ACTION: f64 = 250.0;
/// A convergence.csv or timeseries.csv row.
const BYTES_PER_SAMPLE_ROW: f64 = 100.0;

/// The client's request, its arrival, the event's creation and fan-out.
const EVENTS_PER_EVENT: f64 = 3.0;
/// Transactions carry several PDUs; per PDU and destination about one event.
const EVENTS_PER_FEDERATION_PAIR: f64 = 1.0;
/// A /sync round trip: request arrives, server answers (at once, on news or at timeout),
/// response arrives.
const EVENTS_PER_SYNC: f64 = 3.1;
/// A delayed-leave restart: the timer, the request's arrival, the acknowledgement.
const EVENTS_PER_HEARTBEAT: f64 = 3.0;
/// A sample instant: one step of the run loop ...
const EVENTS_PER_SAMPLE: f64 = 1.0;
/// ... and per room, server, room member and map entry looked at (comparing client
/// views): 10-55 ns measured, against about 2 µs for a kernel event.
const EVENTS_PER_SAMPLE_UNIT: f64 = 0.03;
/// Checking a delivery against the room's other clients (convergence accounting): per
/// (delivery, room member), measured at about 12 ns.
const EVENTS_PER_DELIVERY_MEMBER: f64 = 0.006;
/// Delivery accounting at the end of the run walks every (room, client) membership for
/// every sticky event: a few ns each.
const EVENTS_PER_EVENT_MEMBERSHIP: f64 = 0.002;

/// One hour: the MSC's bound on a sticky event's lifetime.
const HOUR_US: f64 = 3_600e6;

/// Standard normal quantiles at (i + 0.5) / 16, i = 0..16 (for expectations over a
/// distribution by its quantiles).
const Z16: [f64; 16] = [
    -1.8627, -1.318, -1.01, -0.7764, -0.5791, -0.4023, -0.2372, -0.0784, 0.0784, 0.2372, 0.4023,
    0.5791, 0.7764, 1.01, 1.318, 1.8627,
];

/// The mean of a distribution, in microseconds.
pub fn dist_mean_us(d: &Dist) -> f64 {
    match d {
        Dist::Constant { value } => value.0 as f64,
        Dist::Uniform { min, max } => (min.0 as f64 + max.0 as f64) / 2.0,
        Dist::Exponential { mean } => mean.0 as f64,
        Dist::Lognormal { median, sigma } => {
            median.0 as f64 * (sigma.clamp(0.0, 40.0).powi(2) / 2.0).exp()
        }
        Dist::Normal { mean, min, .. } => (mean.0 as f64).max(min.0 as f64),
    }
}

/// The distribution's quantile at (i + 0.5) / 16, in microseconds.
fn dist_quantile_us(d: &Dist, i: usize) -> f64 {
    let q = (i as f64 + 0.5) / 16.0;
    let z = Z16[i.min(15)];
    match d {
        Dist::Constant { value } => value.0 as f64,
        Dist::Uniform { min, max } => {
            let (a, b) = (min.0.min(max.0) as f64, min.0.max(max.0) as f64);
            a + q * (b - a)
        }
        Dist::Exponential { mean } => -(mean.0 as f64) * (1.0 - q).ln(),
        Dist::Lognormal { median, sigma } => median.0 as f64 * (sigma.clamp(0.0, 40.0) * z).exp(),
        Dist::Normal { mean, std, min } => (mean.0 as f64 + std.0 as f64 * z).max(min.0 as f64),
    }
}

/// E[min(X, t)] for X drawn from `d`: exact for the exponential and uniform, else
/// min(E[X], t), which is never below it.
fn mean_capped_us(d: &Dist, t: f64) -> f64 {
    if t <= 0.0 {
        return 0.0;
    }
    match d {
        Dist::Exponential { mean } if mean.0 > 0 => {
            let m = mean.0 as f64;
            m * (1.0 - (-t / m).exp())
        }
        Dist::Uniform { min, max } if max.0 > min.0 => {
            let (a, b) = (min.0 as f64, max.0 as f64);
            if t <= a {
                t
            } else if t >= b {
                (a + b) / 2.0
            } else {
                // t for X > t, X below it.
                ((t * t - a * a) / 2.0 + t * (b - t)) / (b - a)
            }
        }
        _ => dist_mean_us(d).min(t),
    }
}

/// How long one actor of a workload is active, on average: it starts at a draw of
/// `start`, stays a draw of `stay`, and stops at the quiet tail.
fn active_span_us(start: &Dist, stay: &Dist, quiet: f64) -> f64 {
    (0..16)
        .map(|i| mean_capped_us(stay, quiet - dist_quantile_us(start, i)))
        .sum::<f64>()
        / 16.0
}

/// The mean number of whole `every` periods in an actor's active span (re-sends happen only
/// when a span outlasts a period), over a 16 x 16 grid of start and stay quantiles.
fn mean_periods(start: &Dist, stay: &Dist, quiet: f64, every: f64) -> f64 {
    if every <= 0.0 {
        return 0.0;
    }
    let mut sum = 0.0;
    for i in 0..16 {
        let left = (quiet - dist_quantile_us(start, i)).max(0.0);
        for j in 0..16 {
            sum += (dist_quantile_us(stay, j).min(left) / every).floor();
        }
    }
    sum / 256.0
}

/// A count kept finite (at most 1e30, NaN as 0), so that products of counts stay finite
/// and `0 × count` stays 0.
fn fin(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1e30)
    }
}

fn sat(x: f64) -> u64 {
    // `as` saturates (and maps NaN to 0).
    x.max(0.0) as u64
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
    let clients_of = |name: &str| -> f64 {
        scn.servers
            .iter()
            .find(|s| s.name == name)
            .map_or(0.0, |s| f64::from(s.cfg.clients_per_server))
    };
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
        f.rooms
            .iter()
            .position(|r| r.name == name)
            .and_then(|i| rooms.get(i).copied())
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
            path: clients_key(scn),
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
                let loss = room_loss(scn, &m.room);
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
            clients_key(scn)
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

    let memory = BASE_BYTES
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
fn clients_key(scn: &Scenario) -> KeyPath {
    let sp = KeyPath::root().key("servers");
    let f = &scn.file;
    let listed: Vec<(usize, f64)> = f
        .servers
        .list
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            scn.servers
                .iter()
                .find(|s| s.name == e.name)
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
fn room_loss(scn: &Scenario, room: &str) -> f64 {
    let Some(r) = scn.file.rooms.iter().find(|r| r.name == room) else {
        return 0.0;
    };
    scn.servers
        .iter()
        .filter(|s| match &r.servers {
            ServerSet::All(_) => true,
            ServerSet::List(l) => l.contains(&s.name),
        })
        .map(|s| s.cfg.client_loss)
        .fold(0.0, f64::max)
        .clamp(0.0, 1.0)
}

/// Counts that each cost memory and kernel events.
#[derive(Clone, Debug, Default)]
struct Totals {
    created: f64,
    federation_pairs: f64,
    deliveries: f64,
    map_entries: f64,
    syncs: f64,
    heartbeats: f64,
    planned: f64,
    samples: f64,
    sample_rows: f64,
    sample_work: f64,
    check_work: f64,
}

impl Totals {
    fn add(&mut self, o: &Totals) {
        self.created += o.created;
        self.federation_pairs += o.federation_pairs;
        self.deliveries += o.deliveries;
        self.map_entries += o.map_entries;
        self.syncs += o.syncs;
        self.heartbeats += o.heartbeats;
        self.planned += o.planned;
        self.samples += o.samples;
        self.sample_rows += o.sample_rows;
        self.sample_work += o.sample_work;
        self.check_work += o.check_work;
    }

    /// Memory of the counted things (servers and clients are added by the caller).
    fn memory(&self) -> f64 {
        self.created * BYTES_PER_EVENT
            + self.federation_pairs * BYTES_PER_FEDERATION_PAIR
            + self.deliveries * BYTES_PER_DELIVERY
            + self.map_entries * BYTES_PER_MAP_ENTRY
            + self.syncs * BYTES_PER_SYNC
            + self.planned * BYTES_PER_PLANNED_ACTION
            + self.sample_rows * BYTES_PER_SAMPLE_ROW
    }

    /// Kernel events alone.
    fn kernel_only(&self) -> f64 {
        Totals {
            samples: 0.0,
            sample_work: 0.0,
            check_work: 0.0,
            ..self.clone()
        }
        .kernel_events()
    }

    fn kernel_events(&self) -> f64 {
        self.created * EVENTS_PER_EVENT
            + self.federation_pairs * EVENTS_PER_FEDERATION_PAIR
            + self.syncs * EVENTS_PER_SYNC
            + self.heartbeats * EVENTS_PER_HEARTBEAT
            + self.samples * EVENTS_PER_SAMPLE
            + self.sample_work * EVENTS_PER_SAMPLE_UNIT
            + self.check_work * EVENTS_PER_DELIVERY_MEMBER
    }
}

/// A count for a message: 1234 -> "1234", 12345678 -> "1.2e7".
fn count(x: f64) -> String {
    if !x.is_finite() {
        return "∞".into();
    }
    let x = x.max(0.0).round();
    if x < 1e6 {
        format!("{x}")
    } else {
        format!("{x:.1e}")
    }
}

/// Bytes for a message: "420 MiB", "38 GiB".
pub fn bytes(b: f64) -> String {
    if !b.is_finite() {
        return "∞ bytes".into();
    }
    const UNITS: [(f64, &str); 5] = [
        (1_125_899_906_842_624.0, "PiB"),
        (1_099_511_627_776.0, "TiB"),
        (1_073_741_824.0, "GiB"),
        (1_048_576.0, "MiB"),
        (1024.0, "KiB"),
    ];
    for (size, unit) in UNITS {
        if b >= size {
            let v = b / size;
            return if v >= 1e6 {
                format!("{v:.1e} {unit}")
            } else if v >= 10.0 {
                format!("{v:.0} {unit}")
            } else {
                format!("{v:.1} {unit}")
            };
        }
    }
    format!("{b:.0} bytes")
}

impl fmt::Display for Estimate {
    /// One line: `3158 clients, 7900 sticky events, 5.4e5 deliveries, ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} clients, {} sticky events, {} server deliveries, {} client deliveries, {} samples; {} kernel events ({}/simulated s), {} peak memory",
            count(self.clients as f64),
            count(self.sticky_events as f64),
            count(self.federation_pairs as f64),
            count(self.deliveries as f64),
            count(self.samples as f64),
            count(self.events as f64),
            count(self.events_per_sim_s),
            bytes(self.memory_bytes as f64)
        )
    }
}

/// Refusals for a scenario whose estimate does not fit `limits`: one for memory, one for
/// events, each at the key of the part that contributes most, with the estimate.
pub fn check_limits(scn: &Scenario, est: &Estimate, limits: &Limits) -> Vec<ScenarioError> {
    let mut out = vec![];
    if est.memory_bytes > limits.max_memory_bytes {
        let part = est
            .parts
            .iter()
            .max_by(|a, b| a.memory_bytes.total_cmp(&b.memory_bytes));
        out.push(refusal(
            scn,
            part,
            format!(
                "estimated {} peak memory exceeds --max-memory {}",
                bytes(est.memory_bytes as f64),
                bytes(limits.max_memory_bytes as f64)
            ),
            |p| bytes(p.memory_bytes),
        ));
    }
    if est.events > limits.max_events {
        let part = est
            .parts
            .iter()
            .max_by(|a, b| a.events.total_cmp(&b.events));
        out.push(refusal(
            scn,
            part,
            format!(
                "estimated {} kernel events ({}/simulated s) exceeds --max-events {}",
                count(est.events as f64),
                count(est.events_per_sim_s),
                count(limits.max_events as f64)
            ),
            |p| format!("{} events", count(p.events)),
        ));
    }
    out
}

fn refusal(
    scn: &Scenario,
    part: Option<&Part>,
    headline: String,
    share: impl Fn(&Part) -> String,
) -> ScenarioError {
    let path = part.map(|p| p.path.clone()).unwrap_or_default();
    let message = match part {
        Some(p) => format!("{headline}; most of it ({}) from {}", share(p), p.what),
        None => headline,
    };
    super::loader::locate_in_file(scn, &path, message)
}

/// Parse a size such as "16GiB", "512MiB", "2GB", "1.5 TiB" or a plain number of bytes.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: f64 = n
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{s}` is not a size (e.g. \"16GiB\", \"512MiB\", \"2GB\")"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1_048_576.0,
        "gi" | "gib" => 1_073_741_824.0,
        "ti" | "tib" => 1_099_511_627_776.0,
        u => {
            return Err(format!(
                "`{s}`: unknown unit `{u}` (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            ))
        }
    };
    let v = n * mult;
    if !v.is_finite() || v >= u64::MAX as f64 {
        return Err(format!("`{s}` is too large"));
    }
    Ok(v.round() as u64)
}

/// Parse a count such as "2e9", "2000000000" or "2_000_000_000".
pub fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v < u64::MAX as f64 && v.fract() == 0.0 => {
            Ok(v as u64)
        }
        _ => Err(format!(
            "`{s}` is not a whole number (e.g. 2000000000 or 2e9)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A scenario with every size-driving key set from the arguments.
    #[allow(clippy::too_many_arguments)]
    fn scenario_text(
        servers: u32,
        cps: u32,
        participants: u32,
        sharers: u32,
        rate: f64,
        count: Option<u64>,
        duration_us: u64,
        sample_us: u64,
        every_us: u64,
        sigma: f64,
    ) -> String {
        let count = count.map(|c| format!("count = {c}\n")).unwrap_or_default();
        format!(
            r#"
[simulation]
name = "p"
duration = "{duration_us}us"
sample_interval = "{sample_us}us"
[servers]
count = {servers}
[servers.defaults]
clients_per_server = {cps}
client_latency = {{ dist = "lognormal", median = "{every_us}us", sigma = {sigma} }}
[[servers.list]]
name = "x"
clients_per_server = {cps}
[[rooms]]
name = "r"
servers = "all"
[[rooms]]
name = "s"
servers = ["x"]
[[workload]]
kind = "matrixrtc"
room = "r"
participants = {participants}
stay = {{ dist = "exponential", mean = "{every_us}us" }}
sticky_duration = "{every_us}us"
resend_before_expiry = "{sample_us}us"
heartbeat = {{ leave_delay = "{every_us}us", restart_every = "{every_us}us" }}
[[workload]]
kind = "location"
room = "s"
sharers = {sharers}
update_every = "{every_us}us"
share_for = {{ dist = "normal", mean = "{duration_us}us", std = "{every_us}us" }}
[[workload]]
kind = "spam"
room = "r"
client = "x/0"
rate = {rate:e}
{count}"#
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Whatever a loaded scenario holds, the estimate is a number (no panic, no
        /// overflow), and the limits check names a key.
        #[test]
        fn estimate_never_panics(
            servers in prop_oneof![0u32..5, 0u32..=100_000],
            cps in prop_oneof![0u32..5, any::<u32>()],
            participants in prop_oneof![0u32..5, any::<u32>()],
            sharers in prop_oneof![0u32..5, any::<u32>()],
            rate in prop_oneof![Just(1e-300), Just(1e300), 1e-9f64..1e12],
            count in proptest::option::of(any::<u64>()),
            duration_us in prop_oneof![1u64..10, 1u64..=34_560_000_000_000],
            sample_us in prop_oneof![1u64..10, 1u64..=34_560_000_000_000],
            every_us in prop_oneof![Just(0u64), 1u64..10, 1u64..=3_153_600_000_000_000],
            sigma in 0.0f64..=5.0,
        ) {
            let text = scenario_text(servers, cps, participants, sharers, rate, count, duration_us, sample_us, every_us, sigma);
            if let Ok(scn) = crate::scenario::load_str(&text, "p.toml", &[]) {
                let e = estimate(&scn);
                prop_assert!(e.memory_bytes >= BASE_BYTES as u64);
                prop_assert!(!e.events_per_sim_s.is_nan());
                let tight = Limits { max_memory_bytes: 0, max_events: 0 };
                let errs = check_limits(&scn, &e, &tight);
                prop_assert_eq!(errs.len(), if e.events > 0 { 2 } else { 1 });
                for err in errs {
                    prop_assert!(!err.key.is_empty(), "{}", err);
                }
            }
        }
    }

    #[test]
    fn sizes_and_counts_parse() {
        assert_eq!(parse_bytes("16GiB"), Ok(16 << 30));
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_bytes("1.5 GiB"), Ok(3 << 29));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("3 parsecs").is_err());
        assert!(parse_bytes("1e30GB").is_err());
        assert_eq!(parse_count("2e9"), Ok(2_000_000_000));
        assert_eq!(parse_count("2_000"), Ok(2000));
        assert!(parse_count("-1").is_err());
        assert!(parse_count("1.5").is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(bytes(16.0 * 1_073_741_824.0), "16 GiB");
        assert_eq!(bytes(1.5 * 1_048_576.0), "1.5 MiB");
        assert_eq!(bytes(12.0), "12 bytes");
        assert_eq!(bytes(f64::INFINITY), "∞ bytes");
        assert_eq!(count(1234.0), "1234");
        assert_eq!(count(38_000_000.0), "3.8e7");
    }
}
