//! Items leaving the queue without a decision (withdrawn, removed, taken down), their audit
//! entries, and the bookkeeping of cards once posted.

use super::*;

/// Takes a held item out of the queue without a decision (its message was deleted or taken
/// down at the source, or an edit made the rules drop it), audited as `actor`, and marks its
/// card. Saves `mirror`. Returns the jobs for the outbox.
pub fn withdraw(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    item: PendingItem,
    mirror: &mut MirrorRecord,
    why: &Withdrawal,
    actor: &crate::moderation::audit::AuditActor,
) -> Result<Vec<Job>, TxError> {
    tx.remove_pending(item.id)?;
    mirror.held.retain(|p| *p != item.id);
    tx.put_mirror(mirror)?;
    let action = match why {
        Withdrawal::Expired { .. } => AuditAction::Expired,
        _ => AuditAction::Withdrawn,
    };
    audit_about(
        tx,
        actor,
        action,
        &link.id,
        item.id.to_string(),
        mirror,
        serde_json::json!({ "revision": item.revision, "reason": why.reason() }),
    )?;
    let now = tx.now_ms();
    let text = card_text(tx, link, &item, mirror, |v| cards::withdrawn(v, why, now))?;
    tracing::info!(pending = %item.id, reason = %why.reason(), "held item withdrawn");
    Ok(show_on_card(tx, &item, text)?.into_iter().collect())
}

/// Removes a bridged message everywhere the bridge put it: its held items are withdrawn (their
/// cards say `why`), the message is marked deleted so nothing queued for it is sent, and every
/// copy gets a delete job. Saves `mirror`. Returns the jobs and the rooms whose copies go.
pub fn remove(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    mirror: &mut MirrorRecord,
    why: &Withdrawal,
    actor: &crate::moderation::audit::AuditActor,
) -> Result<(Vec<Job>, Vec<RoomRef>), TxError> {
    let mut jobs = Vec::new();
    for item in held_items(tx, mirror)? {
        jobs.extend(withdraw(tx, link, item, mirror, why, actor)?);
    }
    mirror.deleted = true;
    tx.put_mirror(mirror)?;
    let copies: Vec<RoomRef> = mirror.copies.iter().map(|c| c.room.clone()).collect();
    for room in &copies {
        jobs.push(tx.push_job(&link.id, room, JobKind::Delete { mirror: mirror.id })?);
    }
    Ok((jobs, copies))
}

/// A takedown: [`remove`] on a moderator's word, audited as theirs (`actor` for the log,
/// `display` for the cards), `via` saying how it was asked for. The one path for `!takedown`,
/// the CLI and a removal at the source by someone who may remove others' messages there.
pub fn take_down(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    mirror: &mut MirrorRecord,
    actor: &crate::moderation::audit::AuditActor,
    display: &str,
    via: &str,
) -> Result<(Vec<Job>, Vec<RoomRef>), TxError> {
    let why = Withdrawal::TakenDown {
        by: display.to_owned(),
    };
    let (jobs, copies) = remove(tx, link, mirror, &why, actor)?;
    audit_about(
        tx,
        actor,
        AuditAction::Takedown,
        &link.id,
        mirror.id.to_string(),
        mirror,
        serde_json::json!({
            "source": mirror.source,
            "via": via,
            "text_sha256": crate::privacy::content_hash(&mirror.text),
            "copies": copies,
        }),
    )?;
    Ok((jobs, copies))
}

/// Audits `action` on `subject` (a held item or a message) of `mirror`: `detail`, with the
/// message's id and its author as the keyed hash the log names people by.
pub(super) fn audit_about(
    tx: &mut Tx<'_>,
    actor: &crate::moderation::audit::AuditActor,
    action: AuditAction,
    link: &LinkId,
    subject: String,
    mirror: &MirrorRecord,
    mut detail: serde_json::Value,
) -> Result<(), TxError> {
    let author = crate::privacy::person_ref_in(tx, &mirror.author.key())?;
    if let Some(d) = detail.as_object_mut() {
        d.insert("mirror".into(), serde_json::json!(mirror.id));
        d.insert("author".into(), serde_json::json!(author));
    }
    tx.audit(AuditDraft {
        actor: actor.clone(),
        action,
        link: Some(link.clone()),
        subject: Some(subject),
        detail,
    })?;
    Ok(())
}

/// Records that the card job `job` (of item `pid`) was posted as `message` in its target room,
/// in the transaction that finishes the job's first part. The item's current card is filed as
/// such; a card of an earlier revision among the superseded ones. When the job's text changed
/// in the store while it was on its way (a decision, a newer revision), returns an edit that
/// brings the posted card up to date.
pub fn card_posted(
    tx: &mut Tx<'_>,
    job: &Job,
    sent: &RichText,
    pid: PendingId,
    message: &RemoteMsgId,
) -> Result<Option<Job>, TxError> {
    tx.index(&job.target, message, IndexEntry::Card(pid))?;
    if let Some(mut item) = tx.pending_item(pid)? {
        // An item from before `card_job` existed has neither: this is its card.
        let current =
            item.card_job == Some(job.id) || (item.card_job.is_none() && item.card.is_none());
        if current {
            item.card = Some((job.target.clone(), message.clone()));
            item.card_job = None;
            tx.put_pending(item)?;
            return Ok(None);
        }
        item.superseded.push((job.target.clone(), message.clone()));
        tx.put_pending(item)?;
    }
    // Decided or superseded while this card was on its way: the decision rewrote this job's
    // text in the store, after this attempt had read it.
    if let Some(JobKind::Notice {
        text: now, about, ..
    }) = tx.job(job.id)?.map(|j| j.kind)
    {
        if &now != sent {
            let kind = JobKind::EditNotice {
                message: message.clone(),
                text: now,
                about,
            };
            return Ok(Some(tx.push_job(&job.link, &job.target, kind)?));
        }
    }
    Ok(None)
}

/// Which revision a reaction on `message` (a card of `item` in `room`) decides.
pub fn seen_on_card(item: &PendingItem, room: &RoomRef, message: &RemoteMsgId) -> Seen {
    match &item.card {
        Some((r, m)) if r == room && m == message => Seen::Revision(item.revision),
        // An item from before revisions: its only card.
        None if item.card_job.is_none() && item.superseded.is_empty() => {
            Seen::Revision(item.revision)
        }
        _ => Seen::Superseded,
    }
}
