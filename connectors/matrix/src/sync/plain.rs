//! Which `/sync` responses may skip matrix-sdk's processing: the loop's fast path.
//!
//! Why: matrix-sdk's `sync_once` does fixed work on every response, whatever it holds: a
//! crypto-store transaction that pickles, saves and clones back the Olm account (its one-time
//! keys' public halves recomputed each time), writes to the state store, room-info updates and
//! push-rule evaluation. Measured, that is about 5 ms of CPU per response, most of a relayed
//! message's cost, and every message in a quiet room is one response. A response that only
//! carries plaintext timeline events in rooms the SDK already knows are not encrypted changes
//! nothing the bridge later reads from the SDK (room state, members, encryption state, keys),
//! so the loop reads such a response itself and hands the SDK only the others.
//!
//! The contract [`classify`] keeps: a response is [`Plain`] only if the SDK, given it, would
//! change no state the connector or the encryption machinery depends on. Anything else —
//! a state event (a membership, a name, a room turning encrypted), a redaction (it may redact
//! stored state), an encrypted event, to-device messages, device-list changes, one-time-key
//! counts that differ from the last ones the SDK was shown, account data, invites, leaves,
//! knocks, a room the SDK does not know as joined and unencrypted, a `limited` timeline (its
//! gap may hide state), or anything that cannot be read — sends the whole response to the SDK.
//! When in doubt, the SDK: a wrong "not plain" costs one extra request; a wrong "plain" could
//! post in the clear into a room that just turned encrypted.

use matrix_sdk::ruma::api::client::sync::sync_events::v3::Response;
use matrix_sdk::ruma::events::AnySyncTimelineEvent;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{OneTimeKeyAlgorithm, RoomId, UInt};
use std::collections::BTreeMap;

/// The key counts a response reports, as the SDK was last shown them. The SDK uploads new
/// one-time keys when the count falls, so a response whose counts differ must reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyCounts {
    one_time: BTreeMap<OneTimeKeyAlgorithm, UInt>,
    unused_fallback: Option<Vec<OneTimeKeyAlgorithm>>,
}

impl KeyCounts {
    pub(crate) fn of(response: &Response) -> Self {
        Self {
            one_time: response.device_one_time_keys_count.clone(),
            unused_fallback: response.device_unused_fallback_key_types.clone(),
        }
    }
}

/// What the SDK knows of a joined room, as far as the fast path cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Known {
    /// Joined, and known (synced) not to be encrypted.
    JoinedPlain,
    /// Anything else: encrypted, encryption state not yet synced, not joined, or unknown.
    Other,
}

/// Why a response goes to the SDK (logged at debug; also what the tests check).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NeedsSdk {
    ToDevice,
    DeviceLists,
    KeyCounts,
    AccountData,
    Presence,
    /// An invite, a leave or a knock.
    Membership,
    /// A room the SDK does not know as joined and unencrypted.
    Room,
    RoomState,
    RoomSummary,
    RoomAccountData,
    Ephemeral,
    Limited,
    /// A state event in the timeline.
    StateEvent,
    Encrypted,
    Redaction,
    /// An event whose `type` cannot be read.
    Unreadable,
}

/// The fast path's verdict: `Ok(())` is plain, the events may be delivered without the SDK.
pub(crate) fn classify(
    response: &Response,
    shown: Option<&KeyCounts>,
    known: impl Fn(&RoomId) -> Known,
) -> Result<(), NeedsSdk> {
    if !response.to_device.is_empty() {
        return Err(NeedsSdk::ToDevice);
    }
    if !response.device_lists.is_empty() {
        return Err(NeedsSdk::DeviceLists);
    }
    if shown != Some(&KeyCounts::of(response)) {
        return Err(NeedsSdk::KeyCounts);
    }
    if !response.account_data.is_empty() {
        return Err(NeedsSdk::AccountData);
    }
    if !response.presence.is_empty() {
        return Err(NeedsSdk::Presence);
    }
    let rooms = &response.rooms;
    if !rooms.invite.is_empty() || !rooms.leave.is_empty() || !rooms.knock.is_empty() {
        return Err(NeedsSdk::Membership);
    }
    for (room_id, room) in &rooms.join {
        if known(room_id) != Known::JoinedPlain {
            return Err(NeedsSdk::Room);
        }
        if !room.state.is_empty() {
            return Err(NeedsSdk::RoomState);
        }
        if !room.summary.is_empty() {
            return Err(NeedsSdk::RoomSummary);
        }
        if !room.account_data.is_empty() {
            return Err(NeedsSdk::RoomAccountData);
        }
        if !room.ephemeral.is_empty() {
            return Err(NeedsSdk::Ephemeral);
        }
        if room.timeline.limited {
            return Err(NeedsSdk::Limited);
        }
        room.timeline.events.iter().try_for_each(event)?;
    }
    Ok(())
}

/// The two fields of a timeline event the fast path decides on.
///
/// Read through a derived `Deserialize`, which refuses a key given twice: an event that says
/// `type` (or `state_key`) twice could be read one way here and another way by the
/// conversion (`serde_json::Value` keeps the last), so it is unreadable here and the SDK
/// reads it. `kind` is borrowed, so an escaped type (`m.room.encr\u0079pted`) cannot be
/// read either: the SDK decides rather than a check a spelling could slip past.
#[derive(serde::Deserialize)]
struct Head<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default)]
    state_key: Present,
}

/// Whether a field is there at all, whatever its value (`null` included).
#[derive(Default)]
struct Present(bool);

impl<'de> serde::Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Present(true))
    }
}

/// One timeline event: plain unless it is state, encrypted, a redaction, or unreadable.
fn event(raw: &Raw<AnySyncTimelineEvent>) -> Result<(), NeedsSdk> {
    let head: Head<'_> = raw
        .deserialize_as_unchecked()
        .map_err(|_| NeedsSdk::Unreadable)?;
    // Any `state_key`, even a malformed one, makes it the SDK's: it decides what is state.
    if head.state_key.0 {
        return Err(NeedsSdk::StateEvent);
    }
    match head.kind {
        "m.room.encrypted" => Err(NeedsSdk::Encrypted),
        "m.room.redaction" => Err(NeedsSdk::Redaction),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
