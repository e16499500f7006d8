//! Workloads: what clients do. Each turns its scenario table into scheduled actions;
//! MatrixRTC participants are then driven by the client code in `matrix/client.rs`.

use crate::kernel::{stream, Time};
use crate::matrix::client::Participant;
use crate::matrix::event::{ClientId, DurationField, RoomId, ServerId};
use crate::matrix::world::{Action, ClientReq, Ev, World, TYPE_RTC_MEMBER};
use crate::net::Sampler;
use crate::scenario::{DoKind, Scenario, SendKind, WorkloadCfg};
use rand::Rng;

fn room_index(w: &World, name: &str) -> anyhow::Result<RoomId> {
    w.rooms
        .iter()
        .position(|r| r.name == name)
        .map(|i| i as RoomId)
        .ok_or_else(|| anyhow::anyhow!("unknown room `{name}`"))
}

fn client_index(w: &World, name: &str) -> anyhow::Result<ClientId> {
    w.clients
        .iter()
        .position(|c| c.name == name)
        .map(|i| i as ClientId)
        .ok_or_else(|| anyhow::anyhow!("unknown client `{name}`"))
}

fn server_index(w: &World, name: &str) -> anyhow::Result<ServerId> {
    w.servers
        .iter()
        .position(|s| s.name == name)
        .map(|i| i as ServerId)
        .ok_or_else(|| anyhow::anyhow!("unknown server `{name}`"))
}

/// Clients joined to a room at the start, in server then client order.
fn room_clients(w: &World, room: RoomId) -> Vec<ClientId> {
    w.clients
        .iter()
        .filter(|c| w.servers[c.server as usize].is_joined(room, c.id))
        .map(|c| c.id)
        .collect()
}

/// A sticky duration_ms from a duration (ms), as the sender writes it.
fn duration_field(ms: u64) -> DurationField {
    DurationField::Ms(ms.min(i64::MAX as u64) as i64)
}

pub fn plan(
    w: &mut World,
    wi: usize,
    wl: &WorkloadCfg,
    scn: &Scenario,
    evs: &mut Vec<(Time, Ev)>,
) -> anyhow::Result<()> {
    let seed = scn.seed();
    let mut rng = stream(seed, &format!("workload/{wi}"), "plan");
    let quiet = w.quiet_from;
    match wl {
        WorkloadCfg::Script(s) => {
            let room = room_index(w, &s.room)?;
            for a in &s.actions {
                let at = a.at.us();
                if let Some(server) = &a.server {
                    let server = server_index(w, server)?;
                    let act = match a.action {
                        Some(DoKind::Crash) => Action::Crash { server },
                        Some(DoKind::Restart) => Action::Restart { server },
                        other => {
                            anyhow::bail!("script: `do = {other:?}` needs a client, not a server")
                        }
                    };
                    evs.push((at, Ev::Act(act)));
                    continue;
                }
                let Some(cname) = &a.client else {
                    anyhow::bail!(
                        "script action at {:?} names neither client nor server",
                        a.at
                    )
                };
                let client = client_index(w, cname)?;
                if let Some(d) = a.action {
                    let act = match d {
                        DoKind::Offline => Action::Offline { client },
                        DoKind::Online => Action::Online { client },
                        DoKind::Join => Action::Send {
                            client,
                            req: ClientReq::Join { room },
                        },
                        DoKind::LeaveRoom => Action::Send {
                            client,
                            req: ClientReq::Leave { room },
                        },
                        DoKind::Crash | DoKind::Restart => {
                            anyhow::bail!("script: `do = {d:?}` needs a server")
                        }
                    };
                    evs.push((at, Ev::Act(act)));
                    continue;
                }
                let req = match a.send {
                    Some(SendKind::Sticky) | Some(SendKind::Leave) => {
                        let leave = a.send == Some(SendKind::Leave);
                        let ev_type =
                            w.type_index(a.event_type.as_deref().unwrap_or("m.rtc.member"));
                        let duration = match &a.duration_ms {
                            Some(toml::Value::Integer(i)) => DurationField::Ms(*i).normalise(),
                            Some(_) => DurationField::Invalid,
                            None => duration_field(a.duration.map(|d| d.ms()).unwrap_or(3_600_000)),
                        };
                        let only_to = match &a.only_to {
                            Some(l) => Some(
                                l.iter()
                                    .map(|n| server_index(w, n))
                                    .collect::<anyhow::Result<Vec<_>>>()?,
                            ),
                            None => None,
                        };
                        ClientReq::Sticky {
                            room,
                            ev_type,
                            key: a.key.clone().unwrap_or_else(|| cname.clone()),
                            duration,
                            leave,
                            ots_offset_ms: a.origin_ts_offset.map(|o| o.0 / 1000).unwrap_or(0),
                            only_to,
                            participant: None,
                        }
                    }
                    Some(SendKind::Message) => ClientReq::Message { room },
                    Some(SendKind::PowerLevels) => {
                        let user = client_index(w, a.user.as_deref().unwrap_or(""))?;
                        ClientReq::PowerLevels {
                            room,
                            user,
                            level: a.level.unwrap_or(0),
                        }
                    }
                    None => {
                        anyhow::bail!("script action at {:?} has neither `send` nor `do`", a.at)
                    }
                };
                evs.push((at, Ev::Act(Action::Send { client, req })));
            }
        }
        WorkloadCfg::Spam(s) => {
            let room = room_index(w, &s.room)?;
            let client = client_index(w, &s.client)?;
            let ev_type = w.type_index(&s.event_type);
            let rate = s.rate.max(1e-9);
            let count = s.count.unwrap_or(u64::MAX);
            let stop = s.to.map(|t| t.us()).unwrap_or(quiet).min(quiet);
            let mut i = 0u64;
            while i < count {
                let at = s.start.us() + ((i as f64) * 1e6 / rate).round() as Time;
                if at >= stop || at >= w.end {
                    break;
                }
                let key = if s.distinct_keys {
                    format!("spam{i}")
                } else {
                    "spam".into()
                };
                let req = ClientReq::Sticky {
                    room,
                    ev_type,
                    key,
                    duration: duration_field(s.duration.ms()),
                    leave: false,
                    ots_offset_ms: s.origin_ts_offset.0 / 1000,
                    only_to: None,
                    participant: None,
                };
                evs.push((at, Ev::Act(Action::Send { client, req })));
                i += 1;
            }
        }
        WorkloadCfg::Location(l) => {
            let room = room_index(w, &l.room)?;
            let clients = room_clients(w, room);
            if clients.is_empty() {
                anyhow::bail!("location: room `{}` has no clients", l.room);
            }
            let ev_type = w.type_index("m.beacon");
            let start = Sampler::new(&l.start);
            let share = Sampler::new(&l.share_for);
            for n in 0..l.sharers {
                let client = clients[n as usize % clients.len()];
                let t0 = start.sample(&mut rng);
                let t1 = (t0 + share.sample(&mut rng)).min(quiet);
                let key = format!("loc{wi}.{n}");
                let mut t = t0;
                while t < t1 {
                    let req = ClientReq::Sticky {
                        room,
                        ev_type,
                        key: key.clone(),
                        duration: duration_field(l.sticky_duration.ms()),
                        leave: false,
                        ots_offset_ms: 0,
                        only_to: None,
                        participant: None,
                    };
                    evs.push((t, Ev::Act(Action::Send { client, req })));
                    t += l.update_every.us().max(1000);
                }
                if l.leave_at_end && t1 < quiet {
                    let req = ClientReq::Sticky {
                        room,
                        ev_type,
                        key,
                        duration: duration_field(l.sticky_duration.ms()),
                        leave: true,
                        ots_offset_ms: 0,
                        only_to: None,
                        participant: None,
                    };
                    evs.push((t1, Ev::Act(Action::Send { client, req })));
                }
            }
        }
        WorkloadCfg::Matrixrtc(m) => {
            let room = room_index(w, &m.room)?;
            let clients = room_clients(w, room);
            if clients.is_empty() {
                anyhow::bail!("matrixrtc: room `{}` has no clients", m.room);
            }
            let join = Sampler::new(&m.join);
            let stay = Sampler::new(&m.stay);
            for n in 0..m.participants {
                let client = clients[n as usize % clients.len()];
                let join_at = join.sample(&mut rng);
                let stop_at = join_at + stay.sample(&mut rng);
                let crash = rng.random::<f64>() < m.crash_fraction;
                let id = w.participants.len() as u32;
                w.participants.push(Participant {
                    id,
                    client,
                    room,
                    member_key: format!("_{}_m{wi}.{n}", w.user_id(client)),
                    join_at,
                    stop_at,
                    crash,
                    sticky_duration_ms: m.sticky_duration.ms() as i64,
                    leave_delay: m.heartbeat.leave_delay.us(),
                    restart_every: m.heartbeat.restart_every.us().max(1000),
                    resend_before: m.resend_before_expiry.us(),
                    heartbeat: m.heartbeat.enabled,
                    delay_id: 0,
                    active: false,
                    joined_once: false,
                });
                if join_at < quiet {
                    evs.push((join_at, Ev::Act(Action::RtcStart { participant: id })));
                    if stop_at < quiet {
                        evs.push((stop_at, Ev::Act(Action::RtcStop { participant: id })));
                    }
                }
            }
            let _ = TYPE_RTC_MEMBER;
        }
    }
    Ok(())
}
