//! The reactions and reaction_ids trees: who reacted with what on each message of the bridge
//! (the source and each copy), what the bot shows there, and, where a platform removes a
//! reaction by deleting it (Matrix redacts the `m.reaction` event), the reaction's own id.
//!
//! Reactors are people (`UserKey`), so erasure removes them (`privacy::erase`) and retention
//! removes a message's reactions with its record.

use super::read::{self, Read};
use super::{keys, StoreError, Tree, Tx, TxError};
use civicbridge_api::{LinkId, MirrorId, ReactionCount, RemoteMsgId, RoomRef, UserKey};
use serde::{Deserialize, Serialize};

/// At most this many different keys are kept per message and room; later ones are ignored.
/// (Discord allows 20 on a message; more carries no meaning, only cost.)
pub const MAX_KEYS_PER_ROOM: usize = 20;
/// At most this many people's reactions are kept per message and room.
pub const MAX_REACTIONS_PER_ROOM: usize = 2_000;

/// One person's reaction on one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub key: String,
    pub by: UserKey,
    /// The reaction's own id where the platform deletes reactions by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<RemoteMsgId>,
}

/// The reactions on one bridged message in one room (its source room or a copy's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomReactions {
    pub room: RoomRef,
    pub people: Vec<Reaction>,
    /// Totals the platform gives without names (Telegram's anonymous reactions), the bot's
    /// own included: those it showed when the totals came, `counted_shown`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counted: Vec<ReactionCount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counted_shown: Vec<String>,
    /// The keys the bot has put on the message here, in the order it put them.
    #[serde(default)]
    pub shown: Vec<String>,
    /// Keys the platform refused from the bot here (an emoji it does not know): not tried again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    /// When a `Reactions` job for this room was queued that has not started (0: none): another
    /// change needs none of its own (the job reads the tallies when it starts). So someone
    /// toggling a reaction fast costs one job at a time, not one per toggle, in a lane messages
    /// share. A mark older than [`QUEUED_FOR_AT_MOST_MS`] is ignored (a job parked before it
    /// started must not silence the room for good).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub queued_at_ms: u64,
}

/// See [`RoomReactions::queued_at_ms`].
pub const QUEUED_FOR_AT_MOST_MS: u64 = 10 * 60 * 1000;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl RoomReactions {
    fn new(room: RoomRef) -> Self {
        RoomReactions {
            room,
            people: Vec::new(),
            counted: Vec::new(),
            counted_shown: Vec::new(),
            shown: Vec::new(),
            refused: Vec::new(),
            queued_at_ms: 0,
        }
    }

    /// How many reacted with `key` here, not counting the bot.
    pub fn count(&self, key: &str) -> usize {
        let named = self.people.iter().filter(|r| r.key == key).count();
        let anonymous = self
            .counted
            .iter()
            .find(|c| c.key == key)
            .map_or(0, |c| c.count as usize);
        // Anonymous totals include the bot's own reaction, as it was when they came.
        let bot = usize::from(self.counted_shown.iter().any(|k| k == key));
        named.max(anonymous.saturating_sub(bot))
    }

    /// Every key anyone reacted with here, in the order first seen.
    pub fn keys(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for k in self
            .people
            .iter()
            .map(|r| r.key.as_str())
            .chain(self.counted.iter().map(|c| c.key.as_str()))
        {
            if !out.contains(&k) {
                out.push(k);
            }
        }
        out
    }
}

/// The reactions on every message of one bridged message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionRecord {
    pub mirror: MirrorId,
    pub link: LinkId,
    pub rooms: Vec<RoomReactions>,
}

impl ReactionRecord {
    pub fn new(mirror: MirrorId, link: LinkId) -> Self {
        ReactionRecord {
            mirror,
            link,
            rooms: Vec::new(),
        }
    }

    pub fn room(&self, room: &RoomRef) -> Option<&RoomReactions> {
        self.rooms.iter().find(|r| &r.room == room)
    }

    pub fn room_mut(&mut self, room: &RoomRef) -> &mut RoomReactions {
        if let Some(i) = self.rooms.iter().position(|r| &r.room == room) {
            return &mut self.rooms[i];
        }
        self.rooms.push(RoomReactions::new(room.clone()));
        let last = self.rooms.len() - 1;
        &mut self.rooms[last]
    }

    /// Whether `user` reacted anywhere on this message.
    pub fn mentions(&self, user: &UserKey) -> bool {
        self.rooms
            .iter()
            .any(|r| r.people.iter().any(|p| &p.by == user))
    }
}

/// Reads of the reactions.
pub trait ReactionReads: Read {
    fn reactions(&self, mirror: MirrorId) -> Result<Option<ReactionRecord>, StoreError> {
        read::get(self, Tree::Reactions, &keys::id(mirror.0))
    }

    /// The bridged message a reaction (by its own id) was made on.
    fn reaction_target(
        &self,
        room: &RoomRef,
        id: &RemoteMsgId,
    ) -> Result<Option<MirrorId>, StoreError> {
        read::get(self, Tree::ReactionIds, &keys::message(room, id))
    }

    /// Every reaction record naming `user` as a reactor: a scan, as for erasure of messages.
    fn reactions_by(&self, user: &UserKey) -> Result<Vec<ReactionRecord>, StoreError> {
        Ok(read::all::<ReactionRecord>(self, Tree::Reactions)?
            .into_iter()
            .filter(|r| r.mentions(user))
            .collect())
    }
}

impl<R: Read + ?Sized> ReactionReads for R {}

impl Tx<'_> {
    /// Writes a message's reactions, keeping the reaction-id index in step: ids that `old`
    /// had and `new` has not are unindexed, new ones indexed.
    pub fn put_reactions(
        &mut self,
        old: Option<&ReactionRecord>,
        new: &ReactionRecord,
    ) -> Result<(), TxError> {
        let ids = |r: &ReactionRecord| -> Vec<(RoomRef, RemoteMsgId)> {
            r.rooms
                .iter()
                .flat_map(|room| {
                    room.people
                        .iter()
                        .filter_map(|p| p.id.clone().map(|id| (room.room.clone(), id)))
                })
                .collect()
        };
        let before = old.map(ids).unwrap_or_default();
        let after = ids(new);
        for (room, id) in before.iter().filter(|x| !after.contains(x)) {
            self.remove(Tree::ReactionIds, &keys::message(room, id))?;
        }
        for (room, id) in after.iter().filter(|x| !before.contains(x)) {
            self.put(Tree::ReactionIds, &keys::message(room, id), &new.mirror)?;
        }
        self.put(Tree::Reactions, &keys::id(new.mirror.0), new)
    }

    /// Removes a message's reactions and their ids (its record is pruned or erased).
    pub fn remove_reactions(&mut self, mirror: MirrorId) -> Result<(), TxError> {
        if let Some(old) = self.reactions(mirror)? {
            let empty = ReactionRecord::new(mirror, old.link.clone());
            self.put_reactions(Some(&old), &empty)?;
            self.remove(Tree::Reactions, &keys::id(mirror.0))?;
        }
        Ok(())
    }
}
