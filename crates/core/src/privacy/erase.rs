//! Erasure of one person: `civicbridge erase --user PLATFORM:ID`.
//!
//! For every message they wrote that the bridge knows, in bounded batches (one transaction
//! each, audited in the same transaction):
//! - a `Delete` job is queued for each copy, for the source message itself, and for approval
//!   cards that quoted it. Jobs are durable: when the CLI runs with the bridge stopped (sled
//!   allows one process per data directory), the daemon runs them when it next starts, as it
//!   re-drives the outbox first. Each platform deletes what the bot is allowed to (its own copies
//!   always; a resident's original where the bot is an admin); refusals are audited and reported
//!   to the moderators like any refused job;
//! - their held items are discarded, with queued sends, edits and unsent cards of those messages;
//! - the mirror record becomes a tombstone: text, attachments, display name, avatar and id are
//!   replaced by [`TOMBSTONE`], and it is marked deleted so nothing is ever sent from it again.
//!   The record itself stays (with the copies' ids, until their delete jobs have run) so that the
//!   deletes can find the copies and other people's replies and threads keep their structure;
//! - moderators' notes about them (`!note`) are removed, and so are their reports;
//! - their reactions on other messages leave the tallies, and the bot's reactions that counted
//!   them follow (`Reactions` jobs); the reactions on their own messages go with the records;
//! - the message-index entries of its source and copies are removed at once: the delete jobs work
//!   from the record, and nothing else should map a platform message to this person any more.
//!
//! The audit entry names the actor and a keyed hash of the person's id (never the id or text),
//! with counts.

use super::TOMBSTONE;
use crate::moderation::audit::{AuditAction, AuditDraft};
use crate::store::prelude::*;
use crate::store::{Job, JobKind, MirrorRecord, Store, StoreError};
use civicbridge_api::{MirrorId, PendingId, RemoteUserId, RichText, RoomRef, UserKey};
use std::collections::HashSet;

/// Mirror records erased per transaction.
const BATCH: usize = 128;

/// What an erasure did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Erased {
    /// Messages (mirror records) replaced by tombstones.
    pub messages: usize,
    /// Delete jobs queued: the caller hands them to a running outbox, or they wait for the next
    /// start.
    pub deletes: Vec<Job>,
    /// Held items discarded.
    pub held_discarded: usize,
    /// Queued sends, edits and cards cancelled.
    pub jobs_cancelled: usize,
    /// Dead letters (parked jobs and events) that carried the person, dropped.
    pub parked_dropped: usize,
    /// Message records that no longer decode and mention the person's id, removed whole.
    pub unreadable_removed: usize,
    /// Their reactions on other people's messages, removed from the tallies.
    pub reactions_removed: usize,
    /// Jobs that take the bot's reactions that showed theirs off the other rooms: handed to a
    /// running outbox like `deletes`, or run at the next start.
    pub reaction_jobs: Vec<Job>,
    /// Moderators' notes about them (`!note`), removed.
    pub notes_removed: usize,
}

/// Erases `user` on behalf of `actor`. The caller
/// flushes the store before reporting success.
pub fn erase(
    store: &Store,
    user: &UserKey,
    actor: &crate::moderation::audit::AuditActor,
) -> Result<Erased, StoreError> {
    let key = store.privacy_key()?;
    let user_hash = key.user_hash(user);
    let mirrors: Vec<MirrorId> = store.mirrors_by(user)?.iter().map(|m| m.id).collect();
    let pending = store.pending()?;
    let jobs = store.outbox()?;
    let mut total = Erased::default();
    let batches: Vec<&[MirrorId]> = if mirrors.is_empty() {
        // Record the request even when there is nothing to erase.
        vec![&[]]
    } else {
        mirrors.chunks(BATCH).collect()
    };
    let of = batches.len();
    for (i, batch) in batches.into_iter().enumerate() {
        let done = store.transact(|tx| {
            let mut done = Erased::default();
            for &id in batch {
                let Some(mut m) = tx.mirror(id)? else {
                    continue;
                };
                if m.author.key() != *user {
                    continue;
                }
                // Held items: discarded; a posted card quoted the message, so it goes too.
                let mut discarded: HashSet<PendingId> = HashSet::new();
                for item in pending.iter().filter(|p| p.mirror == id) {
                    let Some(item) = tx.pending_item(item.id)? else {
                        continue;
                    };
                    tx.remove_pending(item.id)?;
                    discarded.insert(item.id);
                    if let Some((room, msg)) = &item.card {
                        tx.unindex(room, msg)?;
                        m.copy_in_mut(room).ids.push(msg.clone());
                    }
                }
                done.held_discarded += discarded.len();
                // Cards of decided items quote the message and name its author as well.
                for (room, msg) in std::mem::take(&mut m.cards) {
                    if tx.lookup_message(&room, &msg)?.is_some() {
                        tx.unindex(&room, &msg)?;
                    }
                    let copy = m.copy_in_mut(&room);
                    if !copy.ids.contains(&msg) {
                        copy.ids.push(msg);
                    }
                }
                // Queued work that would show the message again.
                let mut deleting: HashSet<RoomRef> = HashSet::new();
                for job in &jobs {
                    let cancel = match &job.kind {
                        JobKind::Send { mirror, .. }
                        | JobKind::Edit { mirror, .. }
                        | JobKind::Reactions { mirror }
                        | JobKind::ReportCard { mirror, .. }
                        | JobKind::Tell { mirror, .. } => *mirror == id,
                        // Anything the bridge would still post or edit that shows the message:
                        // its cards, held or decided, their edits, and notices about it.
                        JobKind::Notice { about: Some(m), .. }
                        | JobKind::EditNotice { about: Some(m), .. } => *m == id,
                        JobKind::Notice {
                            card: Some(pid), ..
                        } => discarded.contains(pid),
                        JobKind::Delete { mirror } => {
                            if *mirror == id && tx.job(job.id)?.is_some() {
                                deleting.insert(job.target.clone());
                            }
                            false
                        }
                        // An export about them is cancelled with the first batch
                        // (`erase_records_about`). Deleting a notice to them shows nothing.
                        JobKind::Notice { .. }
                        | JobKind::EditNotice { .. }
                        | JobKind::Unsay { .. }
                        | JobKind::Export { .. } => false,
                    };
                    if cancel && tx.job(job.id)?.is_some() {
                        tx.finish_job(job.id)?;
                        done.jobs_cancelled += 1;
                    }
                }
                // The original too, unless it is already gone.
                if !m.deleted && m.copy_in(&m.source).is_none() {
                    let (source, msg) = (m.source.clone(), m.source_msg.clone());
                    m.copy_in_mut(&source).ids.push(msg);
                } else if tx.mirror_of(&m.source, &m.source_msg)? == Some(id) {
                    tx.unindex(&m.source, &m.source_msg.clone())?;
                }
                for c in &m.copies {
                    for msg in &c.ids {
                        if tx.mirror_of(&c.room, msg)? == Some(id) {
                            tx.unindex(&c.room, msg)?;
                        }
                    }
                }
                let rooms: Vec<RoomRef> = m
                    .copies
                    .iter()
                    .filter(|c| !c.ids.is_empty() && !deleting.contains(&c.room))
                    .map(|c| c.room.clone())
                    .collect();
                for room in rooms {
                    done.deletes.push(tx.push_job(
                        &m.link,
                        &room,
                        JobKind::Delete { mirror: id },
                    )?);
                }
                tombstone(&mut m);
                tx.put_mirror(&m)?;
                // Who reacted to it, and how: the copies (and the bot's reactions on them) go.
                tx.remove_reactions(id)?;
                tx.remove_report(id)?;
                done.messages += 1;
            }
            // With the first batch: what is kept about them besides their messages.
            let about = match i {
                0 => erase_records_about(tx, user, &jobs)?,
                _ => About::default(),
            };
            done.notes_removed = about.notes;
            done.jobs_cancelled += about.exports;
            tx.audit(AuditDraft {
                actor: actor.clone(),
                action: AuditAction::Erased,
                link: None,
                subject: None,
                detail: serde_json::json!({
                    "user_hash": user_hash,
                    "messages": done.messages,
                    "deletes_queued": done.deletes.len(),
                    "held_discarded": done.held_discarded,
                    "jobs_cancelled": done.jobs_cancelled,
                    "notes_removed": about.notes,
                    "reports_removed": about.reports,
                    "history_removed": about.history,
                    "batch": i + 1,
                    "batches": of,
                }),
            })?;
            Ok(done)
        })?;
        total.messages += done.messages;
        total.deletes.extend(done.deletes);
        total.held_discarded += done.held_discarded;
        total.notes_removed += done.notes_removed;
        total.jobs_cancelled += done.jobs_cancelled;
    }
    total.parked_dropped = erase_parked(store, user, &mirrors, &user_hash, actor)?;
    (total.reactions_removed, total.reaction_jobs) =
        erase_reactions(store, user, &user_hash, actor)?;
    let unreadable = store.unreadable_mirrors_mentioning(user.id.as_str())?;
    if !unreadable.is_empty() {
        total.unreadable_removed = store.transact(|tx| {
            for k in &unreadable {
                tx.remove_mirror_key(k)?;
            }
            tx.audit(AuditDraft {
                actor: actor.clone(),
                action: AuditAction::Erased,
                link: None,
                subject: None,
                detail: serde_json::json!({
                    "user_hash": user_hash,
                    "unreadable_removed": unreadable.len(),
                }),
            })?;
            Ok(unreadable.len())
        })?;
    }
    tracing::info!(
        messages = total.messages,
        deletes = total.deletes.len(),
        held = total.held_discarded,
        "erased a person's content"
    );
    Ok(total)
}

/// What [`erase_records_about`] removed.
#[derive(Debug, Default)]
struct About {
    notes: usize,
    reports: usize,
    history: usize,
    /// Exports of their data still waiting to be sent (`!export`).
    exports: usize,
}

/// What the bridge keeps about `user` besides their messages: their name as a staff member
/// (look-alike check), their words in the dry-run history, their reports on others' messages
/// (the count on a posted card stays as it was), the moderators' notes about them, and exports
/// of their data not sent yet (`jobs`: the outbox as read before the erasure). In the
/// transaction of erasure's first batch, whose audit entry counts them.
fn erase_records_about(
    tx: &mut crate::store::Tx<'_>,
    user: &UserKey,
    jobs: &[Job],
) -> Result<About, crate::store::TxError> {
    let mut exports = 0;
    for job in jobs {
        if matches!(&job.kind, JobKind::Export { subject, .. } if subject == user)
            && tx.job(job.id)?.is_some()
        {
            tx.finish_job(job.id)?;
            exports += 1;
        }
    }
    tx.forget_staff_name(user)?;
    let history = tx.forget_seen(None, 0, Some(user))?;
    let mut reports = 0;
    for mut r in tx.reports_by(user)? {
        r.reports.retain(|p| &p.by != user);
        reports += 1;
        match r.reports.is_empty() {
            true => tx.remove_report(r.mirror)?,
            false => tx.put_report(&r)?,
        }
    }
    let notes = tx.remove_notes_about(user)?;
    Ok(About {
        notes,
        reports,
        history,
        exports,
    })
}

/// Removes `user`'s reactions from every message's tallies and queues a `Reactions` job for
/// each room of those messages, so the bot's reactions that counted them follow. One audited
/// transaction (a person's reactions are few; the scan is over the reactions tree).
fn erase_reactions(
    store: &Store,
    user: &UserKey,
    user_hash: &str,
    actor: &crate::moderation::audit::AuditActor,
) -> Result<(usize, Vec<Job>), StoreError> {
    let records = store.reactions_by(user)?;
    if records.is_empty() {
        return Ok((0, Vec::new()));
    }
    store.transact(|tx| {
        let mut removed = 0;
        let mut jobs = Vec::new();
        for old in &records {
            let mut new = old.clone();
            for room in &mut new.rooms {
                let before = room.people.len();
                room.people.retain(|r| &r.by != user);
                removed += before - room.people.len();
            }
            tx.put_reactions(Some(old), &new)?;
            for room in &new.rooms {
                jobs.push(tx.push_job(
                    &new.link,
                    &room.room,
                    JobKind::Reactions { mirror: new.mirror },
                )?);
            }
        }
        tx.audit(AuditDraft {
            actor: actor.clone(),
            action: AuditAction::Erased,
            link: None,
            subject: None,
            detail: serde_json::json!({ "user_hash": user_hash, "reactions_removed": removed }),
        })?;
        Ok((removed, jobs))
    })
}

/// Drops the dead letters that carry `user`: a parked event holds its text and the sender's
/// name verbatim, a parked card quotes them. In records that no longer decode, their id and the
/// names found on their parked events are looked for. One audited transaction.
fn erase_parked(
    store: &Store,
    user: &UserKey,
    mirrors: &[MirrorId],
    user_hash: &str,
    actor: &crate::moderation::audit::AuditActor,
) -> Result<usize, StoreError> {
    let parked = store.parked()?;
    if parked.is_empty() {
        return Ok(0);
    }
    let mine: HashSet<MirrorId> = mirrors.iter().copied().collect();
    let mut needles: Vec<String> = vec![user.id.to_string()];
    for p in &parked {
        if let crate::store::ParkedWhat::Event { event, .. } = &p.what {
            if let Ok(ev) = serde_json::from_str::<civicbridge_api::Event>(event) {
                if ev.sender_key() == *user && ev.sender.display_name.chars().count() >= 3 {
                    needles.push(ev.sender.display_name.clone());
                }
            }
        }
    }
    let doomed: Vec<_> = parked
        .iter()
        .filter(|p| p.concerns(user, &mine, &needles))
        .map(|p| p.id)
        .collect();
    if doomed.is_empty() {
        return Ok(0);
    }
    store.transact(|tx| {
        for id in &doomed {
            tx.drop_parked(*id)?;
        }
        tx.audit(AuditDraft {
            actor: actor.clone(),
            action: AuditAction::ParkedDropped,
            link: None,
            subject: None,
            detail: serde_json::json!({ "user_hash": user_hash, "erased": doomed.len() }),
        })?;
        Ok(())
    })?;
    Ok(doomed.len())
}

/// Replaces everything a record says about its author and their words.
fn tombstone(m: &mut MirrorRecord) {
    m.text = RichText::plain(TOMBSTONE);
    m.attachments.clear();
    m.author.display_name = TOMBSTONE.to_owned();
    m.author.avatar_url = None;
    m.author.id = RemoteUserId::new(TOMBSTONE);
    m.deleted = true;
}
