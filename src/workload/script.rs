//! `script`: exact actions at exact times, for small hand-made scenarios that reproduce a
//! diagram from the MSC (README "Scenario files").

use super::{duration_field, Plan};
use crate::matrix::event::DurationField;
use crate::matrix::msg::{ClientReq, Input, StickySend};
use crate::scenario::{DoKind, ScriptCfg, SendKind};

pub fn plan(p: &mut Plan<'_>, s: &ScriptCfg) -> anyhow::Result<()> {
    let room = p.room(&s.room)?;
    for a in &s.actions {
        let at = a.at.us();
        if let Some(server) = &a.server {
            let server = p.server(server)?;
            let i = match a.action {
                Some(DoKind::Crash) => Input::Crash { server },
                Some(DoKind::Restart) => Input::Restart { server },
                other => anyhow::bail!("script: `do = {other:?}` needs a client, not a server"),
            };
            p.input(at, i);
            continue;
        }
        let Some(cname) = &a.client else {
            anyhow::bail!(
                "script action at {:?} names neither client nor server",
                a.at
            )
        };
        let client = p.client(cname)?;
        if let Some(d) = a.action {
            match d {
                DoKind::Offline => p.input(at, Input::Offline { client }),
                DoKind::Online => p.input(at, Input::Online { client }),
                DoKind::Join => p.send(at, client, ClientReq::Join { room }, None),
                DoKind::LeaveRoom => p.send(at, client, ClientReq::Leave { room }, None),
                DoKind::Crash | DoKind::Restart => {
                    anyhow::bail!("script: `do = {d:?}` needs a server")
                }
            }
            continue;
        }
        let req = match a.send {
            Some(SendKind::Sticky) | Some(SendKind::Leave) => {
                let leave = a.send == Some(SendKind::Leave);
                let ev_type = p.event_type(a.event_type.as_deref().unwrap_or("m.rtc.member"));
                let duration = match &a.duration_ms {
                    Some(toml::Value::Integer(i)) => DurationField::Ms(*i).normalise(),
                    Some(_) => DurationField::Invalid,
                    None => duration_field(a.duration.map(|d| d.ms()).unwrap_or(3_600_000)),
                };
                let only_to = match &a.only_to {
                    Some(l) => Some(
                        l.iter()
                            .map(|n| p.server(n))
                            .collect::<anyhow::Result<Vec<_>>>()?,
                    ),
                    None => None,
                };
                ClientReq::Sticky(StickySend {
                    room,
                    ev_type,
                    key: a.key.clone().unwrap_or_else(|| cname.clone()).into(),
                    duration,
                    leave,
                    ots_offset_ms: a.origin_ts_offset.map(|o| o.ms()).unwrap_or(0),
                    only_to,
                })
            }
            Some(SendKind::Message) => ClientReq::Message { room },
            Some(SendKind::PowerLevels) => {
                let user = p.client(a.user.as_deref().unwrap_or(""))?;
                ClientReq::PowerLevels {
                    room,
                    user,
                    level: a.level.unwrap_or(0),
                }
            }
            None => anyhow::bail!("script action at {:?} has neither `send` nor `do`", a.at),
        };
        p.send(at, client, req, None);
    }
    Ok(())
}
