//! The one place that knows how keys and values are laid out on disk.
//!
//! The trees are named, in a fixed order ([`Tree`]): the engine opens them by name, and the
//! sled engine's journal records a tree by its position in that order. Keys are bytes chosen so
//! that the engine's key order is useful: numeric ids are big-endian so that the outbox and the
//! audit log iterate oldest first. Values are JSON in an envelope
//! `{"v": <format version>, "d": <record>}` so a later release can migrate old records.

use super::StoreError;
use civicbridge_api::{InboundId, LinkId, Platform, RemoteMsgId, RoomRef, ThreadId};
use civicbridge_kv::TreeId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One tree per concern. The names are the on-disk tree names and the order is the journal's
/// tree numbering: never rename or reorder one, only add at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tree {
    Meta,
    Links,
    Rules,
    Seen,
    Mirrors,
    MsgIndex,
    Threads,
    Pending,
    Outbox,
    Audit,
    ConnectorState,
    /// Dead letters: jobs and events that failed the same way repeatedly, panicked, or cannot
    /// be decoded (see `parked.rs`).
    Parked,
    /// Links changed at runtime (`!link`, `!unlink`), each with the config's record of the
    /// link when it was changed (see `runtime_links.rs`).
    LinkOverrides,
    /// Rooms' names as their platforms last gave them, for cards and notices.
    RoomNames,
    /// People's reactions on each bridged message, and what the bot shows (`reactions.rs`).
    Reactions,
    /// A reaction's own id (where the platform deletes reactions by id) to its message.
    ReactionIds,
    /// Moderators' private notes about senders, per link (`notes.rs`).
    Notes,
    /// Each link's recent messages as moderation saw them, for dry runs (`history.rs`).
    History,
    /// Reports on bridged messages (`reports.rs`).
    Reports,
    /// The bridge's own messages to delete at a set time (`expiring.rs`).
    Expiring,
}

impl Tree {
    pub const ALL: [Tree; 20] = [
        Tree::Meta,
        Tree::Links,
        Tree::Rules,
        Tree::Seen,
        Tree::Mirrors,
        Tree::MsgIndex,
        Tree::Threads,
        Tree::Pending,
        Tree::Outbox,
        Tree::Audit,
        Tree::ConnectorState,
        Tree::Parked,
        Tree::LinkOverrides,
        Tree::RoomNames,
        Tree::Reactions,
        Tree::ReactionIds,
        Tree::Notes,
        Tree::History,
        Tree::Reports,
        Tree::Expiring,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Tree::Meta => "meta",
            Tree::Links => "links",
            Tree::Rules => "rules",
            Tree::Seen => "seen",
            Tree::Mirrors => "mirrors",
            Tree::MsgIndex => "msg_index",
            Tree::Threads => "threads",
            Tree::Pending => "pending",
            Tree::Outbox => "outbox",
            Tree::Audit => "audit",
            Tree::ConnectorState => "connector_state",
            Tree::Parked => "parked",
            Tree::LinkOverrides => "link_overrides",
            Tree::RoomNames => "room_names",
            Tree::Reactions => "reactions",
            Tree::ReactionIds => "reaction_ids",
            Tree::Notes => "notes",
            Tree::History => "history",
            Tree::Reports => "reports",
            Tree::Expiring => "expiring",
        }
    }

    /// The engine's id of this tree: its position in [`TREE_NAMES`].
    pub const fn id(self) -> TreeId {
        TreeId::new(self as u8)
    }
}

/// The names the engine is opened with, in [`Tree`] order.
pub const TREE_NAMES: [&str; 20] = {
    let mut names = [""; 20];
    let mut i = 0;
    while i < Tree::ALL.len() {
        names[i] = Tree::ALL[i].name();
        i += 1;
    }
    names
};

/// The format version written into every value's envelope.
pub const VALUE_VERSION: u32 = 1;

pub fn id(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

pub fn parse_id(key: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("id key of {} bytes", key.len())))?;
    Ok(u64::from_be_bytes(bytes))
}

pub fn link(id: &LinkId) -> Vec<u8> {
    id.as_str().as_bytes().to_vec()
}

fn joined(parts: &[&str]) -> Vec<u8> {
    parts.join("\0").into_bytes()
}

pub fn seen(platform: Platform, event: &InboundId) -> Vec<u8> {
    joined(&[platform.as_str(), event.as_str()])
}

pub fn message(room: &RoomRef, msg: &RemoteMsgId) -> Vec<u8> {
    joined(&[room.platform.as_str(), room.room.as_str(), msg.as_str()])
}

pub fn thread(room: &RoomRef, thread: &ThreadId) -> Vec<u8> {
    joined(&[room.platform.as_str(), room.room.as_str(), thread.as_str()])
}

pub fn room(room: &RoomRef) -> Vec<u8> {
    joined(&[room.platform.as_str(), room.room.as_str()])
}

/// One entry of a link's history: the link's name, then its sequence number big-endian, so a
/// prefix scan reads the link's history oldest first.
pub fn history(link: &LinkId, seq: u64) -> Vec<u8> {
    let mut key = history_prefix(link);
    key.extend(seq.to_be_bytes());
    key
}

pub fn history_prefix(link: &LinkId) -> Vec<u8> {
    let mut key = link.as_str().as_bytes().to_vec();
    key.push(0);
    key
}

/// A message to delete at `due_ms`: the time big-endian first, so a scan reads the earliest
/// first.
pub fn expiring(due_ms: u64, room: &RoomRef, msg: &RemoteMsgId) -> Vec<u8> {
    let mut key = due_ms.to_be_bytes().to_vec();
    key.extend(message(room, msg));
    key
}

/// A person's notes on one link.
pub fn note(link: &LinkId, user: &civicbridge_api::UserKey) -> Vec<u8> {
    joined(&[link.as_str(), &user.to_string()])
}

pub fn connector_state(platform: Platform, key: &str) -> Vec<u8> {
    joined(&[platform.as_str(), key])
}

pub fn counter(name: &str) -> Vec<u8> {
    format!("counter/{name}").into_bytes()
}

/// A bookkeeping value of the daemon's housekeeping (reminder marks, posted notices).
pub fn housekeeping(parts: &[&str]) -> Vec<u8> {
    let mut key = b"housekeeping/".to_vec();
    key.extend(joined(parts));
    key
}

pub const SCHEMA_VERSION: &[u8] = b"schema_version";
pub const AUDIT_HEAD: &[u8] = b"audit_head";

#[derive(Serialize)]
struct EnvelopeOut<'a, T> {
    v: u32,
    d: &'a T,
}

#[derive(Deserialize)]
struct EnvelopeIn<T> {
    v: u32,
    d: T,
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own plain records cannot fail: no maps with non-string keys, no I/O.
    serde_json::to_vec(&EnvelopeOut {
        v: VALUE_VERSION,
        d: value,
    })
    .unwrap_or_default()
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    let env: EnvelopeIn<T> = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("undecodable record: {e}")))?;
    if env.v > VALUE_VERSION {
        return Err(StoreError::Corrupt(format!(
            "record format {} is newer than this build understands ({VALUE_VERSION})",
            env.v
        )));
    }
    Ok(env.d)
}

pub fn encode_u64(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

pub fn decode_u64(bytes: &[u8]) -> Result<u64, StoreError> {
    parse_id(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The on-disk shape is a contract with every existing data directory.
    #[test]
    fn value_envelope_and_key_layout_are_stable() {
        assert_eq!(encode(&"x"), br#"{"v":1,"d":"x"}"#.to_vec());
        assert_eq!(
            decode::<String>(br#"{"v":1,"d":"x"}"#).expect("decodes"),
            "x"
        );
        assert!(decode::<String>(br#"{"v":9,"d":"x"}"#).is_err());
        let room = RoomRef::new(Platform::new("telegram"), "-100");
        assert_eq!(
            message(&room, &RemoteMsgId::new("7")),
            b"telegram\0-100\x007".to_vec()
        );
        assert!(id(1) < id(256), "big-endian ids sort numerically");
        // The journal numbers trees by their place in this list.
        assert_eq!(
            TREE_NAMES,
            [
                "meta",
                "links",
                "rules",
                "seen",
                "mirrors",
                "msg_index",
                "threads",
                "pending",
                "outbox",
                "audit",
                "connector_state",
                "parked",
                "link_overrides",
                "room_names",
                "reactions",
                "reaction_ids",
                "notes",
                "history",
                "reports",
                "expiring"
            ]
        );
        assert!(Tree::ALL
            .iter()
            .enumerate()
            .all(|(i, t)| t.id().index() == i));
    }

    use civicbridge_api::testing::nested_links;

    /// The deepest tree the store may hold reads back from every record that carries text,
    /// and a deeper one (which no parser builds) is written flattened, never unreadable.
    #[test]
    fn the_deepest_allowed_rich_text_round_trips_through_every_record() {
        use crate::store::{Author, Job, JobKind, MirrorRecord, PendingItem, PendingKind};
        use civicbridge_api::rich_text::MAX_DEPTH;
        use civicbridge_api::{LinkId, MirrorId, PendingId};
        let deepest = nested_links(MAX_DEPTH);
        assert_eq!(deepest.depth(), MAX_DEPTH);
        let mirror = MirrorRecord::new(
            MirrorId(1),
            LinkId::new("l"),
            RoomRef::new(Platform::new("telegram"), "-1"),
            RemoteMsgId::new("5"),
            Author::new(Platform::new("telegram"), "42", "Ada"),
            deepest.clone(),
        );
        let back: MirrorRecord = decode(&encode(&mirror)).expect("mirror reads back");
        assert_eq!(back, mirror);
        let job = Job {
            id: crate::store::JobId(1),
            link: LinkId::new("l"),
            target: RoomRef::new(Platform::new("matrix"), "!m"),
            kind: JobKind::EditNotice {
                message: RemoteMsgId::new("$e"),
                text: deepest.clone(),
                about: None,
            },
            created_ms: 0,
            parts_done: 0,
            attempts: 0,
        };
        let back: Job = decode(&encode(&job)).expect("job reads back");
        assert_eq!(back, job);
        let mut item = PendingItem::new(
            LinkId::new("l"),
            MirrorId(1),
            PendingKind::Edit {
                text: deepest.clone(),
            },
            vec![],
            crate::moderation::HoldReasons::one(crate::moderation::HoldReason::Links),
            0,
        );
        item.id = PendingId(1);
        item.content = Some(crate::store::HeldContent {
            text: deepest.clone(),
            attachments: vec![],
        });
        let back: PendingItem = decode(&encode(&item)).expect("pending item reads back");
        assert_eq!(back, item);

        let mut too_deep = mirror.clone();
        too_deep.text = nested_links(120);
        let back: MirrorRecord = decode(&encode(&too_deep)).expect("flattened, readable");
        assert_eq!(back.text.depth(), MAX_DEPTH);
        assert_eq!(back.text.to_plain(), "deep");
    }
}
