//! Reactions in bridged rooms: the worker keeps each message's tallies (`store::reactions`) and
//! queues a `Reactions` job for every other room the message is in, whose run brings the bot's
//! reactions there in line (`pipeline::reactions::wanted`).
//!
//! The same rules as for messages: a blocked sender's reactions are ignored, a reaction only
//! counts on a message the bridge carried (source or copy, not deleted), a removal counts only
//! for the reactor's own reaction (Discord and Telegram report it so) or, where a platform
//! removes a reaction by deleting it (a Matrix redaction), from the reactor or a sender who may
//! remove others' messages. Each person counts once per key and room, so a replayed event
//! changes nothing.

use super::{Effects, LinkWorker};
use crate::store::prelude::*;
use crate::store::reactions::{
    Reaction, ReactionRecord, MAX_KEYS_PER_ROOM, MAX_REACTIONS_PER_ROOM, QUEUED_FOR_AT_MOST_MS,
};
use crate::store::{JobKind, Tx, TxError};
use civicbridge_api::{Authority, Event, ReactionCount, RemoteMsgId};

/// A change to the reactions on one message, as an event reports it.
pub(super) enum Change<'a> {
    Added {
        target: &'a RemoteMsgId,
        key: &'a str,
        id: Option<&'a RemoteMsgId>,
    },
    Removed {
        target: &'a RemoteMsgId,
        key: &'a str,
    },
    /// A deletion of the reaction `id` (a Matrix redaction).
    Deleted { id: &'a RemoteMsgId },
    Counted {
        target: &'a RemoteMsgId,
        counts: &'a [ReactionCount],
    },
}

impl LinkWorker {
    /// Whether `id` in `ev.room` is a reaction the bridge counted: its deletion is then a
    /// removal, handled by [`LinkWorker::reaction`].
    pub(super) fn is_reaction(
        &self,
        tx: &Tx<'_>,
        ev: &Event,
        id: &RemoteMsgId,
    ) -> Result<bool, TxError> {
        Ok(tx.reaction_target(&ev.room, id)?.is_some())
    }

    pub(super) fn reaction(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        change: Change<'_>,
        fx: &mut Effects,
    ) -> Result<(), TxError> {
        let mirror = match &change {
            Change::Added { target, .. }
            | Change::Removed { target, .. }
            | Change::Counted { target, .. } => tx.mirror_of(&ev.room, target)?,
            Change::Deleted { id } => tx.reaction_target(&ev.room, id)?,
        };
        let Some(m) = mirror.map(|id| tx.mirror(id)).transpose()?.flatten() else {
            return Ok(());
        };
        if m.deleted || m.link != self.link.id || !m.shared_in(&ev.room) {
            return Ok(());
        }
        let sender = ev.sender_key();
        if matches!(change, Change::Added { .. }) && self.rules.rules.blocked.contains(&sender) {
            tracing::debug!(%sender, "a blocked sender's reaction was ignored");
            return Ok(());
        }
        let old = tx.reactions(m.id)?;
        let mut new = old
            .clone()
            .unwrap_or_else(|| ReactionRecord::new(m.id, self.link.id.clone()));
        let room = new.room_mut(&ev.room);
        match change {
            Change::Added { key, id, .. } => {
                if key.is_empty() || room.people.iter().any(|r| r.key == key && r.by == sender) {
                    return Ok(());
                }
                let new_key = !room.keys().contains(&key);
                if room.people.len() >= MAX_REACTIONS_PER_ROOM
                    || (new_key && room.keys().len() >= MAX_KEYS_PER_ROOM)
                {
                    tracing::debug!(mirror = %m.id, room = %ev.room, "reaction over the limits ignored");
                    return Ok(());
                }
                room.people.push(Reaction {
                    key: key.to_owned(),
                    by: sender,
                    id: id.cloned(),
                });
            }
            Change::Removed { key, .. } => {
                room.people.retain(|r| !(r.key == key && r.by == sender));
            }
            Change::Deleted { id } => {
                let allowed =
                    |r: &Reaction| r.by == sender || ev.sender.authority != Authority::Member;
                let before = room.people.len();
                room.people
                    .retain(|r| !(r.id.as_ref() == Some(id) && allowed(r)));
                if room.people.len() == before {
                    tracing::warn!(%sender, mirror = %m.id, "a deletion of someone else's reaction by a member was ignored");
                }
            }
            Change::Counted { counts, .. } => {
                let mut kept: Vec<ReactionCount> = Vec::new();
                for c in counts.iter().filter(|c| !c.key.is_empty() && c.count > 0) {
                    if kept.len() < MAX_KEYS_PER_ROOM && !kept.iter().any(|k| k.key == c.key) {
                        kept.push(c.clone());
                    }
                }
                room.counted = kept;
                room.counted_shown = room.shown.clone();
            }
        }
        if old.as_ref() == Some(&new) {
            return Ok(());
        }
        self.queue_reactions(tx, &m, &ev.room, &mut new, fx)?;
        tx.put_reactions(old.as_ref(), &new)
    }

    /// A `Reactions` job for every other room of the link the message is in (or on its way
    /// to), where reactions from `from` may show or the bot shows some already, unless one is
    /// queued there and has not started (`RoomReactions::queued`).
    fn queue_reactions(
        &self,
        tx: &mut Tx<'_>,
        m: &crate::store::MirrorRecord,
        from: &civicbridge_api::RoomRef,
        rec: &mut ReactionRecord,
        fx: &mut Effects,
    ) -> Result<(), TxError> {
        let Some(from_side) = self.link.side_of(from) else {
            return Ok(());
        };
        for target in self.link.rooms.iter().filter(|r| &r.room != from) {
            let here = m.shared_in(&target.room) || m.released.contains(&target.room);
            let may_show = self.rules.rules.reactions_cross(from_side, target.side);
            let shows = rec.room(&target.room).is_some_and(|r| !r.shown.is_empty());
            let now = tx.now_ms();
            let queued = rec.room(&target.room).is_some_and(|r| {
                r.queued_at_ms > 0 && now.saturating_sub(r.queued_at_ms) < QUEUED_FOR_AT_MOST_MS
            });
            if !here || !(may_show || shows) || queued {
                continue;
            }
            rec.room_mut(&target.room).queued_at_ms = now.max(1);
            fx.jobs.push(tx.push_job(
                &self.link.id,
                &target.room,
                JobKind::Reactions { mirror: m.id },
            )?);
        }
        Ok(())
    }
}
