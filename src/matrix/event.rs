//! Matrix events (PDUs) as the model needs them, the sticky rules of MSC4354 that belong
//! to one event, and the run's event store.

use super::client::map::MapKey;
use super::ids::{ClientId, EvType, IdVec, PduId, RoomId, ServerId};
use crate::kernel::Time;
use std::sync::Arc;

/// MSC4354 "Sticky events": a duration_ms above one hour is clamped to one hour.
pub const MAX_STICKY_MS: i64 = 3_600_000;

/// The `sticky.duration_ms` field as the sender wrote it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DurationField {
    /// A non-negative integer (may exceed one hour: clamped for expiry, not for tie-breaks).
    Ms(i64),
    /// Negative or not an integer: the event is an ordinary event (as Synapse treats it).
    Invalid,
}

impl DurationField {
    /// A negative integer is invalid (MSC4354: duration_ms must be non-negative).
    pub fn normalise(self) -> DurationField {
        match self {
            DurationField::Ms(d) if d < 0 => DurationField::Invalid,
            other => other,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// An event carrying `sticky` (valid or not) and `content.sticky_key`.
    /// `leave`: the content holds only the key (a MatrixRTC leave: a tombstone).
    Sticky {
        ev_type: EvType,
        key: Arc<str>,
        duration: DurationField,
        leave: bool,
    },
    /// An ordinary timeline message.
    Message,
    /// `m.room.member` for `user` (join or leave).
    Member { user: ClientId, join: bool },
    /// `m.room.power_levels`: sets `user`'s level.
    PowerLevels { user: ClientId, level: i64 },
}

#[derive(Clone, Debug)]
pub struct Pdu {
    /// Opaque event ID ("$..."), random from the origin's stream, compared lexicographically.
    pub event_id: Arc<str>,
    pub room: RoomId,
    pub sender: ClientId,
    pub origin: ServerId,
    /// Milliseconds of the origin's clock (plus any offset a misbehaving origin adds).
    pub origin_server_ts: i64,
    /// Simulated time the origin created it.
    pub created_at: Time,
    /// The origin's own clock at creation (its received_ts for its own event), in ms.
    pub origin_local_ms: i64,
    pub content: Content,
    pub prev_events: Vec<PduId>,
    pub bytes: u32,
}

impl Pdu {
    /// `Some(duration_ms)` when this is a sticky event (MSC4354: a non-negative integer).
    pub fn sticky_duration_ms(&self) -> Option<i64> {
        match &self.content {
            Content::Sticky {
                duration: DurationField::Ms(d),
                ..
            } if *d >= 0 => Some(*d),
            _ => None,
        }
    }

    /// Carries a `sticky` object at all (valid or not): handled by the sticky code path.
    pub fn is_sticky_kind(&self) -> bool {
        matches!(self.content, Content::Sticky { .. })
    }

    pub fn is_sticky(&self) -> bool {
        self.sticky_duration_ms().is_some()
    }

    pub fn is_leave(&self) -> bool {
        matches!(self.content, Content::Sticky { leave: true, .. })
    }

    /// MSC4354 "Implementing an ephemeral map": the ordering value, origin_server_ts +
    /// duration_ms as written (not clamped), then the event ID.
    pub fn map_order(&self) -> Option<(i64, &str)> {
        self.sticky_duration_ms()
            .map(|d| (self.origin_server_ts.saturating_add(d), &*self.event_id))
    }

    /// MSC4354 "Implementing an ephemeral map": the key (room_id, sender, type,
    /// content.sticky_key) of a sticky event.
    pub fn map_key(&self) -> Option<MapKey> {
        match &self.content {
            Content::Sticky { ev_type, key, .. } if self.is_sticky() => Some(MapKey {
                room: self.room,
                sender: self.sender,
                ev_type: *ev_type,
                sticky_key: key.clone(),
            }),
            _ => None,
        }
    }

    /// The end of stickiness at the origin, in the origin's local milliseconds (for its own
    /// event, received_ts is the creation time).
    pub fn origin_end_local_ms(&self) -> Option<i64> {
        self.sticky_duration_ms()
            .map(|d| sticky_end_local_ms(self.origin_local_ms, self.origin_server_ts, d))
    }
}

/// MSC4354 "Sticky events": stickiness at a server starts at min(received_ts,
/// origin_server_ts) and lasts min(duration_ms, 1 h). Returns the end, in the server's
/// local milliseconds.
pub fn sticky_end_local_ms(received_ts: i64, origin_server_ts: i64, duration_ms: i64) -> i64 {
    received_ts
        .min(origin_server_ts)
        .saturating_add(duration_ms.clamp(0, MAX_STICKY_MS))
}

/// Every event created in the run, by id. An event never changes once created, so
/// every server shares this one copy (each server's own knowledge is kept by the server).
#[derive(Default)]
pub struct EventStore {
    pdus: IdVec<PduId, Pdu>,
}

impl EventStore {
    pub fn add(&mut self, p: Pdu) -> PduId {
        self.pdus.push(p)
    }

    pub fn len(&self) -> usize {
        self.pdus.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pdus.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (PduId, &Pdu)> {
        self.pdus.enumerate()
    }
}

impl std::ops::Index<PduId> for EventStore {
    type Output = Pdu;
    #[inline]
    fn index(&self, i: PduId) -> &Pdu {
        &self.pdus[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_is_min_of_receipt_and_origin_ts_and_duration_is_clamped() {
        // Origin 10 min ahead: bounded by receipt.
        assert_eq!(
            sticky_end_local_ms(1_000_000, 1_600_000, 3_600_000),
            4_600_000
        );
        // Origin 10 min behind: expires 10 min early.
        assert_eq!(
            sticky_end_local_ms(1_600_000, 1_000_000, 3_600_000),
            4_600_000
        );
        // 2 h clamped to 1 h.
        assert_eq!(sticky_end_local_ms(0, 0, 7_200_000), 3_600_000);
    }

    #[test]
    fn negative_duration_is_not_sticky_and_zero_is() {
        assert_eq!(DurationField::Ms(-1).normalise(), DurationField::Invalid);
        assert_eq!(DurationField::Ms(0).normalise(), DurationField::Ms(0));
    }
}
