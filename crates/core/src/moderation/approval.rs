//! Held items and decisions on them, by any route (✅/❌ on a card, `!approve`/`!reject`/`!edit`,
//! the CLI). Everything here runs inside the caller's store transaction: the item changes or
//! leaves the pending tree, its jobs enter the outbox, its card is set to show the outcome, and
//! the audit entry is written, all or nothing.
//!
//! **Held means held, in the version shown.** A held item has a revision: 1 when held, one more
//! each time its author edits it while it waits ([`revise`]: the filters run again on the new
//! text, which may now be dropped or held for another reason). Each revision gets a card of its
//! own and the previous card is edited to say it is superseded. A fresh card rather than an edit
//! of the old one, because a Matrix reaction names an event, not a version: a ✅ on a card can
//! only mean the version that card showed, so every card shows one version for good.
//!
//! **A decision applies to the version the moderator saw** ([`Seen`]): a ✅ or ❌ on a card
//! decides that card's revision, `!approve #3v2` names revision 2, and a bare `#3` names
//! revision 1 (what every card of an unrevised item shows). A decision on any other revision is
//! refused with a reply naming the current one. The rule compares revisions, never clocks: the
//! moderator's command carries their homeserver's timestamp, the bridge has its own clock on
//! another machine, and a newer card may still be waiting in the outbox, so "sent after the
//! moderators could have seen the new card" cannot be established by time. A decision that
//! arrives before the edit applies to the version it named, and the edit then counts as an
//! edit of an approved message (its own policy, usually back to the queue). An approval sends
//! exactly the approved revision's text and attachments.
//!
//! A deletion at the source withdraws the item ([`withdraw`]) and marks its card.

use crate::moderation::audit::{AuditAction, AuditDraft};
use crate::moderation::cards::{self, CardView, Outcome, ReplyShown, SenderStanding, Withdrawal};
use crate::moderation::commands::permissions::{role, Role};
use crate::store::prelude::*;
use crate::store::{
    HeldContent, IndexEntry, Job, JobKind, LinkRecord, MirrorRecord, PendingItem, PendingKind,
    StoreError, Tx, TxError,
};
use civicbridge_api::{Attachment, LinkId, PendingId, RemoteMsgId, RichText, RoomRef};

pub use crate::moderation::commands::permissions::Actor;

/// A moderator's decision on one held item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve,
    /// Approve, but with this text instead of the held one (the original stays in the audit).
    ApproveEdited(RichText),
    Reject(Option<String>),
}

impl Decision {
    /// The decision's name in the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::ApproveEdited(_) => "edit",
            Decision::Reject(_) => "reject",
        }
    }

    pub fn verb(&self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::ApproveEdited(_) => "approved with edits",
            Decision::Reject(_) => "rejected",
        }
    }
}

/// Which version of a held item a decision was taken on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// This revision: the card's, or the one a command names.
    Revision(u32),
    /// A card of an earlier revision (it is marked superseded): always refused.
    Superseded,
    /// Whatever is current. Only for removals that send nothing and judge the message rather
    /// than one text of it (a takedown rejects its held item this way).
    Any,
}

/// A held item as moderators name it: `#3` (revision 1) or `#3v2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRef {
    pub id: PendingId,
    pub revision: Option<u32>,
}

impl ItemRef {
    pub fn first(id: PendingId) -> ItemRef {
        ItemRef { id, revision: None }
    }

    /// The version this names: a bare id is the first revision.
    pub fn seen(&self) -> Seen {
        Seen::Revision(self.revision.unwrap_or(1))
    }
}

impl std::str::FromStr for ItemRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a held item (e.g. #12, or #12v2 for its revision 2)");
        let (id, revision) = match s.find(['v', 'V']) {
            Some(i) => {
                let r: u32 = s[i + 1..].parse().map_err(|_| bad())?;
                if r == 0 {
                    return Err(bad());
                }
                (&s[..i], Some(r))
            }
            None => (s, None),
        };
        Ok(ItemRef {
            id: id.parse().map_err(|_| bad())?,
            revision,
        })
    }
}

impl std::fmt::Display for ItemRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.revision {
            Some(r) => write!(f, "{}v{r}", self.id),
            None => write!(f, "{}", self.id),
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
    /// The item changed after the version the decision was taken on.
    #[error("{id} changed after it was held: it is now revision {current} ({reference})")]
    Outdated {
        id: PendingId,
        current: u32,
        /// How to name the current revision (`#3v2`).
        reference: String,
    },
}

/// Whether the author of `mirror` is on the link's trusted list.
pub fn standing(tx: &Tx<'_>, mirror: &MirrorRecord) -> Result<SenderStanding, TxError> {
    let trusted = tx
        .rules(&mirror.link)?
        .is_some_and(|r| r.trusted.contains(&mirror.author.key()));
    Ok(if trusted {
        SenderStanding::Trusted
    } else {
        SenderStanding::New
    })
}

/// What someone without the role tried, as the audit log records it: the kind of command and a
/// hash of all of it. The command itself may carry words (`!edit #3 …`) or people (`!trust
/// telegram:42`) that must not outlive an erasure in the log.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// `approve`, `edit`, `trust` …
    pub kind: &'a str,
    /// Everything the attempt said, hashed before it is written.
    pub content: &'a str,
}

/// Audits a refused attempt (a command or decision from someone without the role it needs). The
/// actor is named by their keyed hash: by definition they hold no role on the link.
pub fn audit_refusal(
    tx: &mut Tx<'_>,
    actor: &Actor,
    link: &LinkRecord,
    subject: Option<String>,
    attempted: Attempt<'_>,
    needed: Role,
) -> Result<(), TxError> {
    let actor = match actor {
        Actor::Cli => actor.audit(),
        Actor::Person { key, .. } => crate::privacy::person_ref_in(tx, key)?.into(),
    };
    tx.audit(AuditDraft {
        actor,
        action: AuditAction::Refused,
        link: Some(link.id.clone()),
        subject,
        detail: serde_json::json!({
            "attempted": attempted.kind,
            "attempt_sha256": crate::privacy::content_hash(&RichText::plain(attempted.content)),
            "why": format!("not {}", needed.name()),
        }),
    })?;
    Ok(())
}

/// The held items about `mirror` (the message itself, or an edit of it), oldest first.
pub fn held_items(tx: &Tx<'_>, mirror: &MirrorRecord) -> Result<Vec<PendingItem>, TxError> {
    let mut out = Vec::new();
    for id in &mirror.held {
        if let Some(item) = tx.pending_item(*id)?.filter(|i| i.mirror == mirror.id) {
            out.push(item);
        }
    }
    Ok(out)
}

/// What each target's copy of `mirror` will show of the message it answers: a quote only where
/// that message crossed itself (see `MirrorRecord::shared_in`), as the outbox renders it.
fn reply_context(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    mirror: &MirrorRecord,
    targets: &[RoomRef],
) -> Result<Vec<(RoomRef, ReplyShown)>, TxError> {
    let Some(parent) = mirror.reply_to.map(|p| tx.mirror(p)).transpose()?.flatten() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for t in targets {
        let shown = if parent.shared_in(t) {
            // Named as the moderation room may see them (a pseudonym, per link).
            let room = link.moderation_room.as_ref().unwrap_or(t);
            ReplyShown::Shared {
                author: crate::privacy::shown_author(tx, &parent, room)?.name,
                excerpt: crate::pipeline::render::excerpt(&parent.text),
            }
        } else {
            ReplyShown::NotShared
        };
        out.push((t.clone(), shown));
    }
    Ok(out)
}

/// Builds a card's text for `item` with `f`, from what the moderation room may see.
fn card_text(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    item: &PendingItem,
    mirror: &MirrorRecord,
    f: impl FnOnce(&CardView<'_>) -> RichText,
) -> Result<RichText, TxError> {
    let mut shown = mirror.clone();
    if let Some(room) = &link.moderation_room {
        shown.author.display_name = crate::privacy::shown_author(tx, mirror, room)?.name;
    }
    let standing = standing(tx, mirror)?;
    let reply = reply_context(tx, link, mirror, &item.targets)?;
    Ok(f(&CardView {
        item,
        mirror: &shown,
        standing,
        reply,
    }))
}

/// Applies `decision`, taken on version `seen`, to item `id` on behalf of `actor`, inside `tx`.
/// A refusal by permission or by version is audited; the caller reports refusals to the
/// moderation room (except a non-moderator's, see `moderation_room`).
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
    if role(&link, actor) < Role::Moderator {
        let content = format!("{decision:?}");
        let attempted = Attempt {
            kind: decision.kind(),
            content: &content,
        };
        audit_refusal(
            tx,
            actor,
            &link,
            Some(id.to_string()),
            attempted,
            Role::Moderator,
        )?;
        return Ok(Err(Refusal::NotAModerator));
    }
    let outdated = match seen {
        Seen::Revision(r) => r != item.revision,
        Seen::Superseded => true,
        Seen::Any => false,
    };
    if outdated {
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
        return Ok(Err(Refusal::Outdated {
            id,
            current: item.revision,
            reference: item.reference(),
        }));
    }
    let mut mirror = tx.mirror_required(item.mirror)?;
    let original = item.text(&mirror).clone();
    let attachments: Vec<Attachment> = item.attachments(&mirror).to_vec();
    // The decided card shows the message as it was held, before this decision changes it.
    let outcome = match decision {
        Decision::Approve => Outcome::Approved,
        Decision::ApproveEdited(t) => Outcome::ApprovedEdited(t.clone()),
        Decision::Reject(r) => Outcome::Rejected(r.clone()),
    };
    let now = tx.now_ms();
    let card = card_text(tx, &link, &item, &mirror, |v| {
        cards::decided(v, &outcome, actor.display(), now)
    })?;
    tx.remove_pending(id)?;
    mirror.held.retain(|p| *p != id);
    let mut jobs = Vec::new();
    let approved_text = match decision {
        Decision::Reject(_) => None,
        Decision::Approve => Some(original.clone()),
        Decision::ApproveEdited(t) => Some(t.clone()),
    };
    let action = match approved_text {
        None => AuditAction::Rejected,
        Some(text) => {
            // Exactly the revision approved: its text (or the moderator's) and its attachments.
            mirror.text = text;
            match &item.kind {
                PendingKind::Message => {
                    mirror.attachments = attachments;
                    if !mirror.deleted {
                        for target in &item.targets {
                            jobs.push(tx.push_job(
                                &item.link,
                                target,
                                JobKind::send(mirror.id, mirror.text.clone()),
                            )?);
                            release(&mut mirror, target);
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
                        jobs.push(tx.push_job(
                            &item.link,
                            target,
                            JobKind::edit(mirror.id, mirror.text.clone()),
                        )?);
                    }
                }
            }
            match (&item.kind, decision) {
                (PendingKind::Message, Decision::Approve) => AuditAction::Approved,
                (PendingKind::Edit { .. }, Decision::Approve) => AuditAction::EditApproved,
                _ => AuditAction::EditedAndApproved,
            }
        }
    };
    tx.put_mirror(&mirror)?;
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
            "reason": match decision { Decision::Reject(r) => r.clone(), _ => None },
        }),
    )?;
    if let Some(job) = show_on_card(tx, &item, card)? {
        jobs.push(job);
    }
    Ok(Ok(Decided { item, jobs }))
}

/// Records that a copy of `mirror` is on its way to `room`.
pub fn release(mirror: &mut MirrorRecord, room: &RoomRef) {
    if !mirror.released.contains(room) {
        mirror.released.push(room.clone());
    }
}

/// Makes the item's current card show `text`: an edit of the posted card, or, if the card is
/// not out yet, a rewrite of the job that will post it (so it appears already decided).
fn show_on_card(
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

/// Queues a card for `item` into the link's moderation room; returns its job.
fn queue_card(
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
        serde_json::json!({ "reason": item.reason }),
    )?;
    let mut jobs = Vec::new();
    if let Some(room) = &link.moderation_room {
        let job = queue_card(tx, link, &item, mirror, room)?;
        item.card_job = Some(job.id);
        item = tx.put_pending(item)?;
        jobs.push(job);
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
    pub held: Vec<(RoomRef, String)>,
    /// The targets the rules now drop it for, with the reason.
    pub dropped: Vec<(RoomRef, String)>,
}

/// Joins reasons, each once.
pub fn reasons<'a>(per_target: impl IntoIterator<Item = &'a (RoomRef, String)>) -> String {
    let mut out: Vec<&str> = Vec::new();
    for (_, r) in per_target {
        if !out.contains(&r.as_str()) {
            out.push(r);
        }
    }
    out.join("; ")
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
            reason: reasons(&rev.dropped),
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
    item.reason = reasons(&rev.held);
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
fn audit_about(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_refs_name_a_revision_and_a_bare_id_means_the_first() {
        let r: ItemRef = "#3v2".parse().expect("parses");
        assert_eq!((r.id, r.revision), (PendingId(3), Some(2)));
        assert_eq!(r.seen(), Seen::Revision(2));
        assert_eq!(r.to_string(), "#3v2");
        let r: ItemRef = "3".parse().expect("parses");
        assert_eq!(r.seen(), Seen::Revision(1));
        assert_eq!(r.to_string(), "#3");
        assert_eq!("#4V7".parse::<ItemRef>().map(|r| r.revision), Ok(Some(7)));
        for bad in ["#3v", "#3v0", "v2", "#x", "#3v99999999999", "#3v-1", ""] {
            assert!(bad.parse::<ItemRef>().is_err(), "{bad:?}");
        }
    }
}
