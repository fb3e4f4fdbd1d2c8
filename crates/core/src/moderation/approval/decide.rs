//! Decisions on held items: approve, reject or edit-and-approve, on the revision the moderator
//! saw, with the card set to show the outcome.

use super::*;

/// Applies `decision`, taken on version `seen`, to item `id` on behalf of `actor`, inside `tx`.
/// A refusal by permission or by version is audited; the caller reports refusals to the
/// moderation room (except a non-moderator's, see `moderation::room`).
pub fn decide(
    tx: &mut Tx<'_>,
    id: PendingId,
    decision: &Decision,
    seen: Seen,
    actor: &Actor,
) -> Result<Result<Decided, Refusal>, TxError> {
    let Some(item) = tx.pending_item(id)? else {
        return Ok(Err(Refusal::NoSuchItem(id)));
    };
    let link: LinkRecord = tx
        .link(&item.link)?
        .ok_or_else(|| StoreError::NotFound(format!("link `{}`", item.link)))?;
    if let Some(refusal) = refused(tx, &link, &item, decision, seen, actor)? {
        return Ok(Err(refusal));
    }
    let mut mirror = tx.mirror_required(item.mirror)?;
    let original = item.text(&mirror).clone();
    let attachments: Vec<Attachment> = item.attachments(&mirror).to_vec();
    // A reason typed by its code reads as the link's label for it (`reasons` in the rules).
    let rules = tx.rules(&link.id)?.unwrap_or_default();
    let (reason, reason_text) = match decision {
        Decision::Reject(Some(typed)) => {
            let (r, text) = crate::moderation::rules::Reason::resolve(&rules.reasons, typed);
            (r.cloned(), Some(text))
        }
        _ => (None, None),
    };
    // The decided card shows the message as it was held, before this decision changes it.
    let outcome = match decision {
        Decision::Approve => Outcome::Approved,
        Decision::ApproveEdited(t) => Outcome::ApprovedEdited(t.clone()),
        Decision::Reject(_) => Outcome::Rejected(reason_text.clone()),
    };
    let now = tx.now_ms();
    let card = card_text(tx, &link, &item, &mirror, |v| {
        cards::decided(v, &outcome, actor.display(), now)
    })?;
    tx.remove_pending(id)?;
    mirror.held.retain(|p| *p != id);
    let (action, mut jobs) = match decision {
        Decision::Reject(_) => (AuditAction::Rejected, Vec::new()),
        Decision::Approve => approve(
            tx,
            &item,
            &mut mirror,
            decision,
            original.clone(),
            attachments,
        )?,
        Decision::ApproveEdited(t) => {
            approve(tx, &item, &mut mirror, decision, t.clone(), attachments)?
        }
    };
    tx.put_mirror(&mirror)?;
    observe_decision(tx, &link, &item, &mirror, decision);
    audit_about(
        tx,
        &actor.audit(),
        action,
        &item.link,
        id.to_string(),
        &mirror,
        serde_json::json!({
            "source": mirror.source,
            "revision": item.revision,
            // The text the moderator replaced, as a hash like every text in the log: the
            // chain cannot be rewritten, so words in it would outlive erasure and retention.
            "original_sha256": matches!(decision, Decision::ApproveEdited(_))
                .then(|| crate::privacy::content_hash(&original)),
            // A hash, never the text: the log outlives retention and erasure.
            "text_sha256": crate::privacy::content_hash(match decision {
                Decision::Reject(_) => &original,
                _ => &mirror.text,
            }),
            "targets": item.targets,
            "reason": reason_text,
            "reason_code": reason.as_ref().map(|r| &r.code),
            "harm": reason.as_ref().and_then(|r| r.harm.as_ref()),
        }),
    )?;
    if let Some(job) = show_on_card(tx, &item, card)? {
        jobs.push(job);
    }
    // The resident hears of a rejection from the team, with the reason's public label only:
    // the moderator's own words stay on the card.
    if matches!(decision, Decision::Reject(_))
        && item.kind == PendingKind::Message
        && !mirror.deleted
    {
        let label = reason.as_ref().map(|r| r.label.as_str());
        let told = crate::moderation::tell::Told::Rejected;
        jobs.extend(crate::moderation::tell::queue(
            tx, &link, &rules, &mirror, told, label,
        )?);
    }
    Ok(Ok(Decided { item, jobs }))
}

/// Why `actor` may not take `decision` on `item` now, audited: they do not moderate its link,
/// or they decided on a revision that is no longer the current one.
fn refused(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    item: &PendingItem,
    decision: &Decision,
    seen: Seen,
    actor: &Actor,
) -> Result<Option<Refusal>, TxError> {
    let id = item.id;
    if role(link, actor) < Role::Moderator {
        let content = format!("{decision:?}");
        let attempted = Attempt {
            kind: decision.kind(),
            content: &content,
        };
        audit_refusal(
            tx,
            actor,
            link,
            Some(id.to_string()),
            attempted,
            Role::Moderator,
        )?;
        return Ok(Some(Refusal::NotAModerator));
    }
    let outdated = match seen {
        Seen::Revision(r) => r != item.revision,
        Seen::Superseded => true,
        Seen::Any => false,
    };
    if !outdated {
        return Ok(None);
    }
    tx.audit(AuditDraft {
        actor: actor.audit(),
        action: AuditAction::Refused,
        link: Some(link.id.clone()),
        subject: Some(id.to_string()),
        detail: serde_json::json!({
            "attempted": decision.verb(),
            "why": "outdated revision",
            "seen": match seen { Seen::Revision(r) => Some(r), _ => None },
            "current": item.revision,
        }),
    })?;
    Ok(Some(Refusal::Outdated {
        id,
        current: item.revision,
        reference: item.reference(),
    }))
}

/// Sends exactly the revision approved (`text`, the held one or the moderator's, with the
/// held `attachments`) to the item's targets; returns what to audit and the jobs queued.
fn approve(
    tx: &mut Tx<'_>,
    item: &PendingItem,
    mirror: &mut MirrorRecord,
    decision: &Decision,
    text: RichText,
    attachments: Vec<Attachment>,
) -> Result<(AuditAction, Vec<Job>), TxError> {
    let mut jobs = Vec::new();
    mirror.text = text;
    match &item.kind {
        PendingKind::Message => {
            mirror.attachments = attachments;
            if !mirror.deleted {
                // Reactions people made while it was held follow the copies, in the same
                // lanes, after them.
                let reacted = tx.reactions(mirror.id)?.is_some();
                for target in &item.targets {
                    let send = JobKind::send(mirror.id, mirror.text.clone());
                    jobs.push(tx.push_job(&item.link, target, send)?);
                    if reacted {
                        let reactions = JobKind::Reactions { mirror: mirror.id };
                        jobs.push(tx.push_job(&item.link, target, reactions)?);
                    }
                    release(mirror, target);
                }
            }
            // Approving a thread root publishes its thread.
            if mirror.thread_root.is_none() {
                mirror.published = true;
                mirror.unpublished = false;
            }
        }
        PendingKind::Edit { .. } => {
            for target in &item.targets {
                let edit = JobKind::edit(mirror.id, mirror.text.clone());
                jobs.push(tx.push_job(&item.link, target, edit)?);
            }
        }
    }
    let action = match (&item.kind, decision) {
        (PendingKind::Message, Decision::Approve) => AuditAction::Approved,
        (PendingKind::Edit { .. }, Decision::Approve) => AuditAction::EditApproved,
        _ => AuditAction::EditedAndApproved,
    };
    Ok((action, jobs))
}

/// Notes the decision for the metrics: one moderator's verdict per target room, and how long
/// the item waited.
fn observe_decision(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    item: &PendingItem,
    mirror: &MirrorRecord,
    decision: &Decision,
) {
    use crate::store::observe::Observation;
    let verdict = match decision {
        Decision::Reject(_) => "rejected",
        Decision::Approve | Decision::ApproveEdited(_) => "approved",
    };
    if let Some(from) = link.side_of(&mirror.source) {
        for to in item.targets.iter().filter_map(|t| link.side_of(t)) {
            tx.observe(Observation::Verdict {
                link: link.id.clone(),
                from,
                to,
                verdict,
                rule: "moderator",
            });
        }
    }
    let waited_ms = tx.now_ms().saturating_sub(item.held_at_ms);
    tx.observe(Observation::Decided {
        link: link.id.clone(),
        waited_ms,
    });
}

/// Records that a copy of `mirror` is on its way to `room`.
pub fn release(mirror: &mut MirrorRecord, room: &RoomRef) {
    if !mirror.released.contains(room) {
        mirror.released.push(room.clone());
    }
}

/// Makes the item's current card show `text`: an edit of the posted card, or, if the card is
/// not out yet, a rewrite of the job that will post it (so it appears already decided).
pub(super) fn show_on_card(
    tx: &mut Tx<'_>,
    item: &PendingItem,
    text: RichText,
) -> Result<Option<Job>, TxError> {
    if let Some((room, message)) = &item.card {
        let kind = JobKind::EditNotice {
            message: message.clone(),
            text,
            about: Some(item.mirror),
        };
        return Ok(Some(tx.push_job(&item.link, room, kind)?));
    }
    if let Some(mut job) = item.card_job.map(|j| tx.job(j)).transpose()?.flatten() {
        if let JobKind::Notice { card, about, .. } = job.kind {
            job.kind = JobKind::Notice { text, card, about };
            tx.update_job(&job)?;
        }
    }
    Ok(None)
}
