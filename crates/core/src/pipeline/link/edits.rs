//! Edits and deletions at the source: only the author's count; a held message gets a new
//! revision, a crossed one follows under the link's edit policy, a deletion withdraws or
//! deletes the copies.

use super::*;

impl LinkWorker {
    /// An edit at the source. It counts only from the message's author (Matrix lets anyone in
    /// the room send an `m.replace`); an edit with nothing in it is ignored (Discord sends empty
    /// text to a bot without the Message Content intent). Then, in this order:
    /// - a held item about the message (the message itself, or an earlier edit of it) gets a new
    ///   revision: the filters run again on the new text and the moderators get a new card;
    /// - for every room a copy is in or on its way to, and not covered by a held item, the edit
    ///   policy of that direction decides: follow now, back to the queue, or not at all;
    /// - a message neither held nor crossing (kept for a later `!publish`) takes the new text.
    pub(super) fn edit(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        target: &RemoteMsgId,
        new: &Message,
        fx: &mut Effects,
    ) -> Result<(), TxError> {
        let Some(mut mirror) = self.own_source(tx, &ev.room, target)? else {
            return Ok(());
        };
        if !by_author(ev, &mirror) {
            tracing::warn!(
                sender = %ev.sender_key(), mirror = %mirror.id,
                "an edit of someone else's message was ignored (only the author edits)"
            );
            return Ok(());
        }
        if moderation::is_blank(new) {
            tracing::info!(mirror = %mirror.id, "an empty edit was ignored");
            return Ok(());
        }
        let from = self.link.side_of(&ev.room).unwrap_or(Side::Public);
        // The rules judge the author (the platform may vouch for an edit without naming them).
        let author = mirror.author.key();
        let in_thread = mirror.thread_root.is_some();

        let mut covered: Vec<RoomRef> = Vec::new();
        let mut revised = false;
        for item in approval::held_items(tx, &mirror)? {
            covered.extend(item.targets.iter().cloned());
            let rev = self.revision(tx, &item, &mirror, new, from, &author)?;
            fx.jobs
                .extend(approval::revise(tx, &self.link, item, &mut mirror, rev)?);
            revised = true;
        }

        let crossing: Vec<RoomRef> = mirror
            .crossed_rooms()
            .into_iter()
            .filter(|r| !covered.contains(r))
            .collect();
        let mut follow = Vec::new();
        let mut held: Vec<(RoomRef, HoldReason)> = Vec::new();
        for room in &crossing {
            let to = self.link.side_of(room).unwrap_or(Side::Public);
            match moderation::evaluate_edit(&self.rules, from, to, in_thread, &author, new) {
                Verdict::Forward => follow.push(room.clone()),
                Verdict::Hold(why) => held.push((room.clone(), why)),
                Verdict::Drop(why) => {
                    tracing::info!(target = %room, reason = %why, "edit not relayed")
                }
            }
        }
        if !follow.is_empty() || (crossing.is_empty() && !revised) {
            mirror.text = new.text.clone();
        }
        tx.put_mirror(&mirror)?;
        for room in &follow {
            fx.jobs.push(tx.push_job(
                &self.link.id,
                room,
                JobKind::edit(mirror.id, new.text.clone()),
            )?);
        }
        if !held.is_empty() {
            let kind = PendingKind::Edit {
                text: new.text.clone(),
            };
            let item = self.held_item(tx, mirror.id, kind, &held);
            self.hold(tx, item, &mut mirror, fx)?;
        }
        Ok(())
    }

    /// What an edit makes of a held item: the filters run again, per target, as for a new
    /// message (for an edit of a crossed message: as for an edit). A target the rules would now
    /// let through stays held: a moderator already has the item in front of them.
    pub(super) fn revision(
        &self,
        tx: &Tx<'_>,
        item: &PendingItem,
        mirror: &MirrorRecord,
        new: &Message,
        from: Side,
        author: &UserKey,
    ) -> Result<approval::Revision, TxError> {
        let parent = mirror.reply_to.map(|p| tx.mirror(p)).transpose()?.flatten();
        let root = mirror
            .thread_root
            .map(|r| tx.mirror(r))
            .transpose()?
            .flatten();
        let mut content = new.clone();
        if content.attachments.is_empty() {
            content.attachments = item.attachments(mirror).to_vec();
        }
        let mut rev = approval::Revision {
            text: new.text.clone(),
            attachments: Some(content.attachments.clone()),
            held: Vec::new(),
            dropped: Vec::new(),
        };
        for target in &item.targets {
            let to = self.link.side_of(target).unwrap_or(Side::Public);
            let verdict = match item.kind {
                PendingKind::Message => moderation::evaluate(
                    &self.rules,
                    &Candidate {
                        from,
                        to,
                        message: &content,
                        sender: author,
                        thread: thread_state(mirror.thread_root.is_some(), root.as_ref()),
                        reply_to_unbridged: replies_to_unshared(
                            mirror.reply_to.is_some(),
                            parent.as_ref(),
                            &mirror.source,
                        ),
                        since_last_ms: None,
                    },
                ),
                PendingKind::Edit { .. } => moderation::evaluate_edit(
                    &self.rules,
                    from,
                    to,
                    mirror.thread_root.is_some(),
                    author,
                    &content,
                ),
            };
            match verdict {
                Verdict::Forward => rev.held.push((target.clone(), HoldReason::EditedWhileHeld)),
                Verdict::Hold(why) => rev.held.push((target.clone(), why)),
                Verdict::Drop(why) => rev.dropped.push((target.clone(), why.to_string())),
            }
        }
        Ok(rev)
    }

    /// A deletion at the source. It counts from the author, or when the platform vouches for
    /// it (Discord only lets the author or a moderator delete, and does not say who): the held
    /// items are withdrawn and every copy removed. From someone who may remove other people's
    /// messages in that room (Matrix: power level at least the room's `redact` level) it is a
    /// takedown, audited as theirs. Anyone else's is ignored and logged.
    pub(super) fn delete(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        target: &RemoteMsgId,
        fx: &mut Effects,
    ) -> Result<(), TxError> {
        let Some(mut mirror) = self.own_source(tx, &ev.room, target)? else {
            return Ok(());
        };
        let takedown = match (by_author(ev, &mirror), ev.sender.authority) {
            (true, _) => false,
            (false, Authority::Moderator) => true,
            (false, Authority::PlatformChecked) => false,
            (false, Authority::Member) => {
                tracing::warn!(
                    sender = %ev.sender_key(), mirror = %mirror.id,
                    "a deletion of someone else's message by a member who may not remove it was ignored"
                );
                return Ok(());
            }
        };
        let (jobs, _) = if takedown {
            approval::take_down(
                tx,
                &self.link,
                &mut mirror,
                &crate::moderation::audit::AuditActor::Person(ev.sender_key()),
                &ev.sender.display_name,
                "deleted in its own room by someone who may remove others' messages",
            )?
        } else {
            approval::remove(
                tx,
                &self.link,
                &mut mirror,
                &Withdrawal::Deleted,
                &crate::moderation::audit::AuditActor::Bridge,
            )?
        };
        fx.jobs.extend(jobs);
        Ok(())
    }
}
