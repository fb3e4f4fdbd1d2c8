//! Who sent an event, as the SDK's state store knows them, looked up once per room and sender.
//!
//! Why a cache: a member look-up (`Room::get_member_no_sync`) reads the member event, the
//! profile, the power levels and the display-name table out of SQLite, preparing statements
//! as it goes. Profiled after the fast path (`plain.rs`), it was the largest single cost of a
//! relayed message (15 % of the daemon's CPU). Room state only changes when the SDK processes
//! a response (plain responses carry no state, by definition), so the loop clears the cache
//! whenever it hands one to the SDK, and what it holds is never older than the SDK's own view.

use crate::erase::Erase;
use civicbridge_api::Standing;
use matrix_sdk::ruma::{OwnedRoomId, UserId};
use matrix_sdk::Room;
use std::collections::HashMap;
use std::sync::Mutex;

/// Entries kept before the cache starts over: a room full of fresh senders (a raid) cannot
/// grow it without bound.
const MAX_ENTRIES: usize = 10_000;

/// What the inbound conversion needs to know of a sender.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sender {
    pub name: Option<String>,
    pub avatar: Option<String>,
    /// `None` when the SDK does not know them as a member.
    pub power: Option<Standing>,
    pub may_redact_others: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Senders {
    known: Mutex<HashMap<(OwnedRoomId, String), Sender>>,
}

impl Senders {
    /// Forgets everything: the SDK is about to change room state.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// The sender `user` of an event in `room`. A store error is not cached (the next event
    /// asks again) and yields an unknown sender, as before the cache.
    pub(crate) async fn get(&self, room: &Room, user: &UserId) -> Sender {
        let key = (room.room_id().to_owned(), user.as_str().to_owned());
        if let Some(known) = self.lock().get(&key) {
            return known.clone();
        }
        let sender = match room.get_member_no_sync(user).erased().await {
            Ok(Some(m)) => Sender {
                name: Some(m.name().to_owned()),
                avatar: m.avatar_url().map(|u| u.to_string()),
                power: Some(standing(&m)),
                may_redact_others: m.can_redact_other(),
            },
            Ok(None) => Sender::default(),
            Err(e) => {
                tracing::debug!(room = %room.room_id(), %user, error = %e, "matrix: member look-up failed");
                return Sender::default();
            }
        };
        let mut known = self.lock();
        if known.len() >= MAX_ENTRIES {
            known.clear();
        }
        known.insert(key, sender.clone());
        sender
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(OwnedRoomId, String), Sender>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A member's standing from their power level: 100 or more is an admin (Element's "Admin"), 50
/// or more a moderator (Element's "Moderator"); room creators in room versions 12 and later
/// outrank every numeric level.
pub(crate) fn standing(m: &matrix_sdk::room::RoomMember) -> Standing {
    use matrix_sdk::ruma::events::room::power_levels::UserPowerLevel;
    match m.power_level() {
        UserPowerLevel::Int(i) => crate::inbound::standing_of(i64::from(i)),
        UserPowerLevel::Infinite => Standing::Admin,
        // A future variant: claim nothing.
        _ => Standing::Member,
    }
}
