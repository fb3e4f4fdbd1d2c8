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
//! A deletion at the source withdraws the item ([`withdraw`]) and marks its card. A moderator
//! may claim an item ([`claim`]) so that the others leave it to them.

mod claim;
mod decide;
mod hold;
mod withdraw;
pub use claim::*;
pub use decide::*;
pub use hold::*;
pub use withdraw::*;

use crate::moderation::audit::{AuditAction, AuditDraft};
use crate::moderation::cards::{self, CardView, Outcome, ReplyShown, SenderStanding, Withdrawal};
use crate::moderation::commands::permissions::{role, Role};
use crate::moderation::{HoldReason, HoldReasons};
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
        // Named: the command line and the admin API's tokens are the council's own.
        Actor::Cli | Actor::Token { .. } => actor.audit(),
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
    let rooms = std::iter::once(&mirror.source)
        .chain(&item.targets)
        .map(|r| (r.clone(), tx.room_label(r)))
        .collect();
    let notes = tx
        .notes(&link.id, &mirror.author.key())?
        .iter()
        .map(crate::moderation::commands::notes::line)
        .collect();
    Ok(f(&CardView {
        item,
        mirror: &shown,
        standing,
        reply,
        rooms,
        notes,
    }))
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
