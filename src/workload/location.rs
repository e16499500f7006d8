//! `location` (MSC3489 live location): sharers send periodic sticky updates with one key
//! per sharing session, and a leave when they stop (MSC4140 and MSC4143).

use super::{duration_field, Plan};
use crate::matrix::msg::{ClientReq, StickySend};
use crate::net::Sampler;
use crate::scenario::LocationCfg;

pub fn plan(p: &mut Plan<'_>, l: &LocationCfg) -> anyhow::Result<()> {
    let room = p.room(&l.room)?;
    let clients = p.room_clients(room);
    if clients.is_empty() {
        anyhow::bail!("location: room `{}` has no clients", l.room);
    }
    let mut rng = p.rng();
    let ev_type = p.event_type("m.beacon");
    let start = Sampler::new(&l.start);
    let share = Sampler::new(&l.share_for);
    let quiet = p.quiet_from;
    for n in 0..l.sharers {
        let client = clients[n as usize % clients.len()];
        let t0 = start.sample(&mut rng);
        let t1 = (t0 + share.sample(&mut rng)).min(quiet);
        let key = format!("{}.{n}", p.name);
        let update = |leave: bool, key: String| {
            ClientReq::Sticky(StickySend {
                room,
                ev_type,
                key: key.into(),
                duration: duration_field(l.sticky_duration.ms()),
                leave,
                ots_offset_ms: 0,
                only_to: None,
            })
        };
        let mut t = t0;
        while t < t1 {
            p.send(t, client, update(false, key.clone()), None);
            t += l.update_every.us().max(1000);
        }
        if l.leave_at_end && t1 < quiet {
            p.send(t1, client, update(true, key), None);
        }
    }
    Ok(())
}
