//! `spam`: one sender emitting sticky events at a rate, optionally with an inflated
//! `duration_ms` or a future `origin_server_ts` (MSC4140 and MSC4143).

use super::{duration_field, Plan};
use crate::kernel::Time;
use crate::matrix::msg::{ClientReq, StickySend};
use crate::scenario::SpamCfg;

pub fn plan(p: &mut Plan<'_>, s: &SpamCfg) -> anyhow::Result<()> {
    let room = p.room(&s.room)?;
    let client = p.client(&s.client)?;
    let ev_type = p.event_type(&s.event_type);
    let rate = s.rate.max(1e-9);
    let count = s.count.unwrap_or(u64::MAX);
    let stop =
        s.to.map(|t| t.us())
            .unwrap_or(p.quiet_from)
            .min(p.quiet_from);
    let mut i = 0u64;
    while i < count {
        let at = s.start.us() + ((i as f64) * 1e6 / rate).round() as Time;
        if at >= stop || at >= p.end {
            break;
        }
        let key = if s.distinct_keys {
            format!("spam{i}")
        } else {
            "spam".into()
        };
        let req = ClientReq::Sticky(StickySend {
            room,
            ev_type,
            key: key.into(),
            duration: duration_field(s.duration.ms()),
            leave: false,
            ots_offset_ms: s.origin_ts_offset.ms(),
            only_to: None,
        });
        p.send(at, client, req, None);
        i += 1;
    }
    Ok(())
}
