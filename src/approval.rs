//! Decisions on held items, by any route (✅/❌ on a card, `!approve`/`!reject`/`!edit`, the
//! CLI). A decision is taken inside the caller's store transaction: the item leaves the pending
//! tree, its jobs enter the outbox, its card is set to show the outcome, and the audit entry is
//! written, all or nothing.

use crate::audit::{AuditAction, AuditDraft};
use crate::cards::{self, Outcome, SenderStanding};
use crate::commands::permissions::{role, Role};
use crate::store::{
    Job, JobKind, LinkRecord, MirrorRecord, PendingItem, PendingKind, StoreError, Tx, TxFailure,
};
use civicbridge_api::{PendingId, RichText};

pub use crate::commands::permissions::Actor;

/// A moderator's decision on one held item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve,
    /// Approve, but with this text instead of the held one (the original stays in the audit).
    ApproveEdited(RichText),
    Reject(Option<String>),
}

impl Decision {
    pub fn verb(&self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::ApproveEdited(_) => "approved with edits",
            Decision::Reject(_) => "rejected",
        }
    }
}

/// What a decision produced.
#[derive(Debug)]
pub struct Decided {
    pub item: PendingItem,
    pub jobs: Vec<Job>,
}

/// Why a decision was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("there is no held item {0} (already decided?)")]
    NoSuchItem(PendingId),
    #[error("only the link's moderators can decide")]
    NotAModerator,
}

/// Whether the author of `mirror` is on the link's trusted list.
pub fn standing(tx: &Tx<'_>, mirror: &MirrorRecord) -> Result<SenderStanding, TxFailure> {
    let trusted = tx
        .rules(&mirror.link)?
        .is_some_and(|r| r.trusted.contains(&mirror.author.key()));
    Ok(if trusted {
        SenderStanding::Trusted
    } else {
        SenderStanding::New
    })
}

/// Audits a refused attempt (a command or decision from someone without the role it needs).
pub fn audit_refusal(
    tx: &mut Tx<'_>,
    actor: &Actor,
    link: &LinkRecord,
    subject: Option<String>,
    attempted: &str,
    needed: Role,
) -> Result<(), TxFailure> {
    tx.audit(AuditDraft {
        actor: actor.name().to_owned(),
        action: AuditAction::Refused,
        link: Some(link.id.clone()),
        subject,
        detail: serde_json::json!({ "attempted": attempted, "why": format!("not {}", needed.name()) }),
    })?;
    Ok(())
}

/// Applies `decision` to item `id` on behalf of `actor`, inside `tx`.
/// A refusal by permission is audited; the caller reports refusals to the moderation room.
pub fn decide(
    tx: &mut Tx<'_>,
    id: PendingId,
    decision: &Decision,
    actor: &Actor,
) -> Result<Result<Decided, Refusal>, TxFailure> {
    let Some(item) = tx.pending(id)? else {
        return Ok(Err(Refusal::NoSuchItem(id)));
    };
    let link: LinkRecord = tx
        .link(&item.link)?
        .ok_or_else(|| StoreError::NotFound(format!("link `{}`", item.link)))?;
    if role(&link, actor) < Role::Moderator {
        let attempted = format!("{decision:?}");
        audit_refusal(
            tx,
            actor,
            &link,
            Some(id.to_string()),
            &attempted,
            Role::Moderator,
        )?;
        return Ok(Err(Refusal::NotAModerator));
    }
    let mut mirror = tx.mirror_required(item.mirror)?;
    let original = cards::held_text(&item, &mirror).clone();
    // The card names the author as the moderation room may see them (a pseudonym, per link).
    let mut card_view = mirror.clone();
    if let Some(room) = &link.moderation_room {
        card_view.author.display_name = tx.shown_author(&mirror, room)?.name;
    }
    tx.remove_pending(id)?;
    let mut jobs = Vec::new();
    let approved_text = match decision {
        Decision::Reject(_) => None,
        Decision::Approve => Some(original.clone()),
        Decision::ApproveEdited(t) => Some(t.clone()),
    };
    let action = match approved_text {
        None => AuditAction::Rejected,
        Some(text) => {
            match &item.kind {
                PendingKind::Message => {
                    mirror.text = text;
                    if !mirror.deleted {
                        for target in &item.targets {
                            jobs.push(tx.push_job(
                                &item.link,
                                target,
                                JobKind::Send { mirror: mirror.id },
                            )?);
                        }
                    }
                    // Approving a thread root publishes its thread.
                    if mirror.thread_root.is_none() {
                        mirror.published = true;
                        mirror.unpublished = false;
                    }
                }
                PendingKind::Edit { .. } => {
                    mirror.text = text;
                    for target in &item.targets {
                        jobs.push(tx.push_job(
                            &item.link,
                            target,
                            JobKind::Edit { mirror: mirror.id },
                        )?);
                    }
                }
            }
            tx.put_mirror(&mirror)?;
            match (&item.kind, decision) {
                (PendingKind::Message, Decision::Approve) => AuditAction::Approved,
                (PendingKind::Edit { .. }, Decision::Approve) => AuditAction::EditApproved,
                _ => AuditAction::EditedAndApproved,
            }
        }
    };
    tx.audit(AuditDraft {
        actor: actor.name().to_owned(),
        action,
        link: Some(item.link.clone()),
        subject: Some(id.to_string()),
        detail: serde_json::json!({
            "mirror": mirror.id,
            "author": mirror.author.key(),
            "source": mirror.source,
            // The text the moderator replaced, as a hash like every text in the log: the
            // chain cannot be rewritten, so words in it would outlive erasure and retention.
            "original_sha256": matches!(decision, Decision::ApproveEdited(_))
                .then(|| crate::privacy::content_hash(&original)),
            // A hash, never the text: the log outlives retention and erasure.
            "text_sha256": crate::privacy::content_hash(&mirror.text),
            "targets": item.targets,
            "reason": match decision { Decision::Reject(r) => r.clone(), _ => None },
        }),
    })?;
    let outcome = match decision {
        Decision::Approve => Outcome::Approved,
        Decision::ApproveEdited(t) => Outcome::ApprovedEdited(t.clone()),
        Decision::Reject(r) => Outcome::Rejected(r.clone()),
    };
    let standing = standing(tx, &card_view)?;
    let text = cards::decided(
        &item,
        &card_view,
        standing,
        &outcome,
        actor.display(),
        tx.now_ms(),
    );
    if let Some(job) = show_on_card(tx, &item, text)? {
        jobs.push(job);
    }
    Ok(Ok(Decided { item, jobs }))
}

/// Makes the item's card show `text`: an edit of the posted card, or, if the card is not out
/// yet, a rewrite of the job that will post it (so it appears already decided).
fn show_on_card(
    tx: &mut Tx<'_>,
    item: &PendingItem,
    text: RichText,
) -> Result<Option<Job>, TxFailure> {
    if let Some((room, message)) = &item.card {
        let kind = JobKind::EditNotice {
            message: message.clone(),
            text,
        };
        return Ok(Some(tx.push_job(&item.link, room, kind)?));
    }
    if let Some(mut job) = item.card_job.map(|j| tx.job(j)).transpose()?.flatten() {
        if let JobKind::Notice { card, .. } = job.kind {
            job.kind = JobKind::Notice { text, card };
            tx.update_job(&job)?;
        }
    }
    Ok(None)
}

/// Holds `item` (a new one: id 0) for the moderators: records it, audits it, and queues its
/// card to the link's moderation room. Returns the jobs to hand to the outbox.
pub fn hold(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    item: PendingItem,
    mirror: &MirrorRecord,
) -> Result<(PendingItem, Vec<Job>), TxFailure> {
    let mut item = tx.put_pending(item)?;
    tx.audit(AuditDraft {
        actor: "bridge".into(),
        action: AuditAction::Held,
        link: Some(link.id.clone()),
        subject: Some(item.id.to_string()),
        detail: serde_json::json!({ "mirror": mirror.id, "author": mirror.author.key(), "reason": item.reason }),
    })?;
    let mut jobs = Vec::new();
    if let Some(room) = &link.moderation_room {
        let standing = standing(tx, mirror)?;
        let job = crate::outbox::queue_card(tx, &item, mirror, room, standing)?;
        item.card_job = Some(job.id);
        item = tx.put_pending(item)?;
        jobs.push(job);
    }
    tracing::info!(pending = %item.id, reason = %item.reason, "held for approval");
    Ok((item, jobs))
}
