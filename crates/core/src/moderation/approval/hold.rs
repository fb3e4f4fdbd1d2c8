//! Holding: a new held item and its card, and a new revision when its author edits it while
//! it waits (the filters run again; the old card is marked superseded).

use super::*;

/// Queues a card for `item` into the link's moderation room; returns its job.
pub(super) fn queue_card(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    item: &PendingItem,
    mirror: &MirrorRecord,
    room: &RoomRef,
) -> Result<Job, TxError> {
    let text = card_text(tx, link, item, mirror, cards::held)?;
    tx.push_job(
        &item.link,
        room,
        JobKind::Notice {
            text,
            card: Some(item.id),
            about: Some(mirror.id),
        },
    )
}

/// Holds `item` (a new one: id 0) for the moderators: records it (with a snapshot of the
/// message's content, the version its card shows), links it from `mirror` (saved here), audits
/// it, and queues its card to the link's moderation room. Returns the jobs for the outbox.
pub fn hold(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    mut item: PendingItem,
    mirror: &mut MirrorRecord,
) -> Result<(PendingItem, Vec<Job>), TxError> {
    if item.kind == PendingKind::Message && item.content.is_none() {
        item.content = Some(HeldContent {
            text: mirror.text.clone(),
            attachments: mirror.attachments.clone(),
        });
    }
    let mut item = tx.put_pending(item)?;
    mirror.held.push(item.id);
    tx.put_mirror(mirror)?;
    audit_about(
        tx,
        &crate::moderation::audit::AuditActor::Bridge,
        AuditAction::Held,
        &link.id,
        item.id.to_string(),
        mirror,
        // Where from and where to: the transparency report counts by direction.
        serde_json::json!({
            "reason": item.reason,
            "source": mirror.source,
            "targets": item.targets,
        }),
    )?;
    let mut jobs = Vec::new();
    if let Some(room) = &link.moderation_room {
        let job = queue_card(tx, link, &item, mirror, room)?;
        item.card_job = Some(job.id);
        item = tx.put_pending(item)?;
        jobs.push(job);
    }
    // Held because a staff member asked to publish it is not news for its author (and the
    // reason names that staff member).
    let requested = matches!(&item.reason, HoldReasons::Typed(r)
        if r.iter().any(|r| matches!(r, HoldReason::PublishRequested { .. })));
    if item.kind == PendingKind::Message && !requested {
        let rules = tx.rules(&link.id)?.unwrap_or_default();
        let reason = crate::moderation::tell::held_reason(&item.reason);
        let told = crate::moderation::tell::Told::Held;
        jobs.extend(crate::moderation::tell::queue(
            tx,
            link,
            &rules,
            mirror,
            told,
            Some(&reason),
        )?);
    }
    tracing::info!(pending = %item.id, reason = %item.reason, "held for approval");
    Ok((item, jobs))
}

/// How many versions a held item may have; the edit that would make one more withdraws it.
pub const MAX_REVISIONS: u32 = 10;

/// A held item's next version, after its author edited it.
#[derive(Debug, Clone)]
pub struct Revision {
    pub text: RichText,
    /// New attachments, if the edit carried any (an edit never removes the held ones).
    pub attachments: Option<Vec<Attachment>>,
    /// The targets it stays held for, with the reason for each (the filters ran again).
    pub held: Vec<(RoomRef, HoldReason)>,
    /// The targets the rules now drop it for, with the reason.
    pub dropped: Vec<(RoomRef, String)>,
}

/// Moves a held item to its next revision: new content, new targets and reasons, audited; the
/// card of the previous revision is marked superseded and the new revision gets its own card.
/// Held for no target any more, it is withdrawn instead. Returns the jobs for the outbox.
pub fn revise(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    mut item: PendingItem,
    mirror: &mut MirrorRecord,
    rev: Revision,
) -> Result<Vec<Job>, TxError> {
    if rev.held.is_empty() {
        let why = Withdrawal::Dropped {
            reason: crate::moderation::distinct(rev.dropped.iter().map(|(_, r)| r.as_str()))
                .join("; "),
        };
        return withdraw(
            tx,
            link,
            item,
            mirror,
            &why,
            &crate::moderation::audit::AuditActor::Bridge,
        );
    }
    // Every revision posts a card and marks the last one superseded (a card is never rewritten
    // into a version other than the one a moderator may be reacting to): bounded here.
    if item.revision >= MAX_REVISIONS {
        let why = Withdrawal::TooManyRevisions { max: MAX_REVISIONS };
        return withdraw(
            tx,
            link,
            item,
            mirror,
            &why,
            &crate::moderation::audit::AuditActor::Bridge,
        );
    }
    let before = item.clone();
    item.revision = item.revision.saturating_add(1);
    item.revised_at_ms = Some(tx.now_ms());
    match &mut item.kind {
        PendingKind::Message => {
            let attachments = rev
                .attachments
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| before.attachments(mirror).to_vec());
            item.content = Some(HeldContent {
                text: rev.text.clone(),
                attachments,
            });
        }
        PendingKind::Edit { text } => *text = rev.text.clone(),
    }
    item.targets = rev.held.iter().map(|(r, _)| r.clone()).collect();
    item.reason = HoldReasons::of(&rev.held);
    audit_about(
        tx,
        &crate::moderation::audit::AuditActor::Bridge,
        AuditAction::HeldRevised,
        &link.id,
        item.id.to_string(),
        mirror,
        serde_json::json!({
            "revision": item.revision,
            "text_sha256": crate::privacy::content_hash(&rev.text),
            "reason": item.reason,
            "targets": item.targets,
            "dropped_for": rev.dropped.iter().map(|(r, _)| r).collect::<Vec<_>>(),
        }),
    )?;
    let mut jobs = Vec::new();
    let current = item.revision;
    let old_card = card_text(tx, link, &before, mirror, |v| cards::superseded(v, current))?;
    if let Some((room, message)) = item.card.take() {
        jobs.push(tx.push_job(
            &item.link,
            &room,
            JobKind::EditNotice {
                message: message.clone(),
                text: old_card,
                about: Some(item.mirror),
            },
        )?);
        item.superseded.push((room, message));
    } else if let Some(j) = item.card_job.take() {
        // Not out yet: it goes out marked superseded (or is edited so, if it is on its way),
        // and `card_posted` files it under the superseded cards.
        if let Some(mut job) = tx.job(j)? {
            if let JobKind::Notice { card, about, .. } = job.kind {
                job.kind = JobKind::Notice {
                    text: old_card,
                    card,
                    about,
                };
                tx.update_job(&job)?;
            }
        }
    }
    if let Some(room) = &link.moderation_room {
        let job = queue_card(tx, link, &item, mirror, room)?;
        item.card_job = Some(job.id);
        jobs.push(job);
    }
    tx.put_pending(item)?;
    tracing::info!(pending = %before.id, revision = current, "held item revised by its author");
    Ok(jobs)
}
