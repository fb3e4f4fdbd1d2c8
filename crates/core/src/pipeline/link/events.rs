//! What the worker does with each event in its transaction: moderation-room events go to
//! `moderation::room`; a new message in a bridged room is judged per target room and copied,
//! held for a moderator, or dropped (`message`, `hold`).

use super::reactions::Change;
use super::*;
use crate::store::observe::Observation;

impl LinkWorker {
    pub(super) fn handle(
        &self,
        tx: &mut Tx<'_>,
        work: &Work,
        fx: &mut Effects,
    ) -> Result<(), TxError> {
        let ev = &work.submission().event;
        let _span =
            tracing::debug_span!("event", link = %self.link.id, event = %ev.id, room = %ev.room)
                .entered();
        if !tx.mark_seen(ev.room.platform, &ev.id)? {
            tracing::debug!("replayed event dropped");
            return Ok(());
        }
        match work {
            Work::Bridged { hidden_in_name, .. } => self.bridged(tx, ev, *hidden_in_name, fx),
            Work::Moderation(_) => {
                self.note_staff_name(tx, ev)?;
                let env = room::Env {
                    platforms: &self.platforms,
                    links: Some(&self.links),
                };
                let after = room::handle(tx, &self.link, ev, &env, &mut fx.jobs)?;
                fx.links_changed |= after.links_changed;
                if let Some(actor) = after.weblogin {
                    fx.weblogins.push(crate::ops::console::WebLoginAsk {
                        link: self.link.id.clone(),
                        room: ev.room.clone(),
                        actor,
                    });
                }
                Ok(())
            }
        }
    }

    // ---- events in bridged rooms ------------------------------------------------------------

    pub(super) fn bridged(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        hidden_in_name: bool,
        fx: &mut Effects,
    ) -> Result<(), TxError> {
        if let Some(asked) = super::reports::asked(ev) {
            return self.report(tx, ev, asked, fx);
        }
        match &ev.kind {
            EventKind::Message(m)
                if self.link.side_of(&ev.room) == Some(Side::Staff)
                    && room::staff_command(tx, &self.link, ev, m, &mut fx.jobs)? =>
            {
                Ok(())
            }
            EventKind::Message(m) => self.message(tx, ev, m, hidden_in_name, fx),
            EventKind::Edit { target, new } => self.edit(tx, ev, target, new, fx),
            EventKind::Delete { target } if self.is_reaction(tx, ev, target)? => {
                self.reaction(tx, ev, Change::Deleted { id: target }, fx)
            }
            EventKind::Delete { target } => self.delete(tx, ev, target, fx),
            EventKind::Reaction { target, key, id } => self.reaction(
                tx,
                ev,
                Change::Added {
                    target,
                    key,
                    id: id.as_ref(),
                },
                fx,
            ),
            EventKind::ReactionRemoved { target, key } => {
                self.reaction(tx, ev, Change::Removed { target, key }, fx)
            }
            EventKind::ReactionCounts { target, counts } => {
                self.reaction(tx, ev, Change::Counted { target, counts }, fx)
            }
        }
    }

    pub(super) fn message(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        m: &Message,
        hidden_in_name: bool,
        fx: &mut Effects,
    ) -> Result<(), TxError> {
        if tx.lookup_message(&ev.room, &m.id)?.is_some() {
            // Our own copy reported back (an echo the connector could not flag), or a replay
            // under a different event id.
            return Ok(());
        }
        let Some(from) = self.link.side_of(&ev.room) else {
            return Ok(());
        };
        tx.observe(Observation::Received {
            link: self.link.id.clone(),
            platform: ev.room.platform,
        });
        let sender = ev.sender_key();
        let reply_to = match &m.reply_to {
            Some(r) => tx
                .mirror_of(&ev.room, r)?
                .map(|id| tx.mirror(id))
                .transpose()?
                .flatten(),
            None => None,
        };
        let reply_to_unbridged =
            replies_to_unshared(m.reply_to.is_some(), reply_to.as_ref(), &ev.room);
        let mut thread_root = match &m.thread {
            Some(t) => tx
                .thread_root(&ev.room, t)?
                .map(|id| tx.mirror(id))
                .transpose()?
                .flatten(),
            None => None,
        };
        let thread = thread_state(m.thread.is_some(), thread_root.as_ref());
        // Remember which thread a root heads in its own room, so replies from elsewhere go there.
        if let (Some(t), Some(root)) = (&m.thread, thread_root.as_mut()) {
            if root.source == ev.room && root.source_thread.is_none() {
                root.source_thread = Some(t.clone());
                tx.put_mirror(root)?;
                tx.put_thread(&ev.room, t, root.id)?;
            }
        }
        let since_last_ms = fx
            .relayed
            .get(&sender)
            .or_else(|| self.last_relayed.get(&sender))
            .map(|t| tx.now_ms().saturating_sub(*t));

        let mut forward = Vec::new();
        let mut hold: Vec<(RoomRef, HoldReason)> = Vec::new();
        let mut candidate_root = false;
        for target in self.link.rooms.iter().filter(|r| r.room != ev.room) {
            let c = Candidate {
                from,
                to: target.side,
                message: m,
                sender: &sender,
                thread,
                reply_to_unbridged,
                since_last_ms,
            };
            let verdict = moderation::evaluate(&self.rules, &c);
            let (name, rule) = match &verdict {
                Verdict::Forward => ("forward", "none"),
                Verdict::Hold(why) => ("hold", why.kind()),
                Verdict::Drop(why) => ("drop", why.kind()),
            };
            tx.observe(Observation::Verdict {
                link: self.link.id.clone(),
                from,
                to: target.side,
                verdict: name,
                rule,
            });
            match verdict {
                Verdict::Forward => forward.push(target.room.clone()),
                Verdict::Hold(why) => hold.push((target.room.clone(), why)),
                Verdict::Drop(why) => {
                    // Under scope `on_request`, a message outside a thread may be published
                    // later (`!publish`): keep it, uncopied.
                    candidate_root |= why == DropReason::NotPublished && m.thread.is_none();
                    tracing::info!(target = %target.room, reason = %why, "not relayed")
                }
            }
        }
        // What moderation saw, for dry runs of later rule changes.
        let seen = crate::store::history::Seen {
            seq: 0,
            at_ms: tx.now_ms(),
            from,
            sender: sender.clone(),
            message: m.clone(),
            thread,
            reply_to_unbridged,
            since_last_ms,
            to: self
                .link
                .rooms
                .iter()
                .filter(|r| r.room != ev.room)
                .map(|r| r.side)
                .collect(),
        };
        tx.remember_seen(&self.link.id, seen, self.rules.rules.history_size)?;
        if self.rules.rules.mode == crate::moderation::rules::LinkMode::DryRun {
            return self.tell_dry_run(tx, ev, from, &forward, &hold, fx);
        }
        if forward.is_empty() && hold.is_empty() && !candidate_root {
            return Ok(());
        }
        let id = tx.new_mirror_id()?;
        let unverified = self.screen_name(tx, ev, from, hidden_in_name, id, fx)?;
        let mut mirror = MirrorRecord::new(
            id,
            self.link.id.clone(),
            ev.room.clone(),
            m.id.clone(),
            Author {
                platform: ev.room.platform,
                id: ev.sender.id.clone(),
                display_name: ev.sender.display_name.clone(),
                avatar_url: ev.sender.avatar_url.clone(),
                unverified,
                language: ev.sender.language.clone(),
            },
            m.text.clone(),
        );
        mirror.attachments = m.attachments.clone();
        mirror.reply_to = reply_to.map(|r| r.id);
        mirror.thread_root = thread_root.map(|r| r.id);
        mirror.at_ms = ev.at_ms;
        // A message in a thread whose start never crossed (a resident's own forum topic, a
        // Discord thread on an unbridged message) heads that thread for the bridge: answers to
        // its copies go back into the same topic or thread, not into a new one.
        if let (Some(t), None) = (&m.thread, mirror.thread_root) {
            mirror.source_thread = Some(t.clone());
            tx.put_thread(&ev.room, t, mirror.id)?;
        }
        if !forward.is_empty() {
            // A root that crosses on its own publishes its thread.
            mirror.published = mirror.thread_root.is_none();
            fx.relayed.insert(sender.clone(), tx.now_ms());
        }
        for target in &forward {
            approval::release(&mut mirror, target);
        }
        tx.insert_mirror(&mirror)?;
        for target in &forward {
            fx.jobs.push(tx.push_job(
                &self.link.id,
                target,
                JobKind::send(mirror.id, mirror.text.clone()),
            )?);
        }
        if !hold.is_empty() {
            let item = self.held_item(tx, mirror.id, PendingKind::Message, &hold);
            self.hold(tx, item, &mut mirror, fx)?;
        }
        Ok(())
    }

    /// A new pending item for `mirror`, held for these targets. Targets may be held for
    /// different reasons; each reason is listed once.
    pub(super) fn held_item(
        &self,
        tx: &Tx<'_>,
        mirror: MirrorId,
        kind: PendingKind,
        held: &[(RoomRef, HoldReason)],
    ) -> PendingItem {
        PendingItem::new(
            self.link.id.clone(),
            mirror,
            kind,
            held.iter().map(|(r, _)| r.clone()).collect(),
            HoldReasons::of(held),
            tx.now_ms(),
        )
    }

    pub(super) fn hold(
        &self,
        tx: &mut Tx<'_>,
        item: PendingItem,
        mirror: &mut MirrorRecord,
        fx: &mut Effects,
    ) -> Result<(), TxError> {
        let (_, jobs) = approval::hold(tx, &self.link, item, mirror)?;
        fx.jobs.extend(jobs);
        Ok(())
    }

    /// The bridged message whose source is `msg` in `room` (edits and deletes of copies are the
    /// bridge's own doing and are ignored).
    pub(super) fn own_source(
        &self,
        tx: &Tx<'_>,
        room: &RoomRef,
        msg: &RemoteMsgId,
    ) -> Result<Option<MirrorRecord>, TxError> {
        let Some(id) = tx.mirror_of(room, msg)? else {
            return Ok(None);
        };
        Ok(tx.mirror(id)?.filter(|m| &m.source == room && !m.deleted))
    }
}
