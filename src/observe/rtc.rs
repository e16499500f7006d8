//! MatrixRTC figures over the whole run (README "Metrics" `rtc.heartbeat_bytes`,
//! `rtc.ghost_participant_s`).

use crate::kernel::Time;
use crate::matrix::MapKey;
use std::collections::BTreeMap;

/// Envelope of one client-server HTTP request or response (headers, as for `/send` and
/// `/sync`).
pub const REQUEST_ENVELOPE_BYTES: u64 = 200;

/// A delayed-event ID as Synapse makes them (`syd_` and 20 random characters).
pub const DELAY_ID_CHARS: u64 = 24;

/// Bytes of one heartbeat (MSC4140 restart of the delayed leave): the envelope, the
/// request line `POST /_matrix/client/v1/delayed_events/{delay_id}/restart` and the body
/// `{}`.
pub fn heartbeat_request_bytes() -> u64 {
    let line = "POST /_matrix/client/v1/delayed_events/".len() as u64
        + DELAY_ID_CHARS
        + "/restart".len() as u64;
    REQUEST_ENVELOPE_BYTES + line + "{}".len() as u64
}

/// `rtc.ghost_participant_s` in participant-µs: the integral over the run of the number of
/// ghosts (crashed participants some live client still shows), i.e. each crashed
/// participant's time from its crash until no live client shows it, or until the end of
/// the run when one still does.
pub fn ghost_participant_us(
    crashes: &BTreeMap<u32, (MapKey, Time, Option<Time>)>,
    end: Time,
) -> u128 {
    crashes
        .values()
        .map(|(_, crash, gone)| u128::from(gone.unwrap_or(end).max(*crash) - crash))
        .sum()
}
