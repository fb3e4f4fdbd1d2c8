//! Claims: a moderator takes a held item (`!claim #12`, 🙋 on its card) so that the others
//! leave it to them. The card says who took it and until when; a claim lapses by itself after
//! the link's `claim_minutes`, is given up with `!release` (by the claimant, or an admin), and
//! ends with the item's decision. A claim does not lock the item: a decision by someone else
//! still counts (a claim coordinates people, it is not a permission).

use super::*;
use crate::store::Claim;

/// Why a claim or a release was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRefusal {
    NoSuchItem(PendingId),
    NotAModerator,
    /// Someone else holds it until `until_ms`.
    Taken {
        id: PendingId,
        name: String,
        until_ms: u64,
    },
    /// `!release` of an item nobody claimed, or someone else's claim by a non-admin.
    NotYours(PendingId),
}

impl ClaimRefusal {
    /// What the moderation room is told.
    pub fn text(&self, link: &LinkId) -> String {
        match self {
            ClaimRefusal::NotAModerator => {
                format!("Sorry, only moderators of link {link} can do that.")
            }
            ClaimRefusal::NoSuchItem(id) => format!("There is no held item {id} (already decided?)"),
            ClaimRefusal::Taken { id, name, until_ms } => format!(
                "{id} is claimed by {name} until {}: leave it to them, or ask them to !release {id}.",
                cards::when(*until_ms)
            ),
            ClaimRefusal::NotYours(id) => format!(
                "{id} is not claimed by you (only its claimant or an admin can release it)."
            ),
        }
    }
}

/// Claims item `id` for `actor` (again: extends their own claim). Returns the card's edit.
pub fn claim(
    tx: &mut Tx<'_>,
    id: PendingId,
    actor: &Actor,
) -> Result<Result<Vec<Job>, ClaimRefusal>, TxError> {
    let (mut item, link) = match item_and_role(tx, id, actor, "claim")? {
        Ok(found) => found,
        Err(r) => return Ok(Err(r)),
    };
    let now = tx.now_ms();
    let me = actor.audit().to_string();
    if let Some(c) = item.claimed(now).filter(|c| c.actor != me) {
        return Ok(Err(ClaimRefusal::Taken {
            id,
            name: c.name.clone(),
            until_ms: c.until_ms,
        }));
    }
    let minutes = tx.rules(&link.id)?.unwrap_or_default().claim_minutes;
    item.claim = Some(Claim {
        actor: me,
        name: actor.display().to_owned(),
        until_ms: now.saturating_add(minutes.saturating_mul(60_000)),
    });
    changed(tx, &link, item, actor, AuditAction::Claimed)
}

/// Gives up the claim on item `id`: the claimant may, and so may an admin of its link.
pub fn release_claim(
    tx: &mut Tx<'_>,
    id: PendingId,
    actor: &Actor,
) -> Result<Result<Vec<Job>, ClaimRefusal>, TxError> {
    let (mut item, link) = match item_and_role(tx, id, actor, "release")? {
        Ok(found) => found,
        Err(r) => return Ok(Err(r)),
    };
    let now = tx.now_ms();
    let mine = item.claimed(now).is_some_and(|c| actor.audit() == c.actor);
    if item.claimed(now).is_none() || !(mine || role(&link, actor) >= Role::Admin) {
        return Ok(Err(ClaimRefusal::NotYours(id)));
    }
    item.claim = None;
    changed(tx, &link, item, actor, AuditAction::ClaimReleased)
}

/// The item and its link, if `actor` moderates it; a non-moderator's attempt (`kind`) is
/// audited.
fn item_and_role(
    tx: &mut Tx<'_>,
    id: PendingId,
    actor: &Actor,
    kind: &'static str,
) -> Result<Result<(PendingItem, LinkRecord), ClaimRefusal>, TxError> {
    let Some(item) = tx.pending_item(id)? else {
        return Ok(Err(ClaimRefusal::NoSuchItem(id)));
    };
    let link: LinkRecord = tx
        .link(&item.link)?
        .ok_or_else(|| StoreError::NotFound(format!("link `{}`", item.link)))?;
    if role(&link, actor) < Role::Moderator {
        let attempted = Attempt {
            kind,
            content: kind,
        };
        audit_refusal(
            tx,
            actor,
            &link,
            Some(id.to_string()),
            attempted,
            Role::Moderator,
        )?;
        return Ok(Err(ClaimRefusal::NotAModerator));
    }
    Ok(Ok((item, link)))
}

/// Stores the item, audits the change and shows it on the current card.
fn changed(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    item: PendingItem,
    actor: &Actor,
    action: AuditAction,
) -> Result<Result<Vec<Job>, ClaimRefusal>, TxError> {
    let item = tx.put_pending(item)?;
    tx.audit(AuditDraft {
        actor: actor.audit(),
        action,
        link: Some(link.id.clone()),
        subject: Some(item.id.to_string()),
        detail: serde_json::json!({ "until_ms": item.claim.as_ref().map(|c| c.until_ms) }),
    })?;
    let mirror = tx.mirror_required(item.mirror)?;
    let text = card_text(tx, link, &item, &mirror, cards::held)?;
    Ok(Ok(show_on_card(tx, &item, text)?.into_iter().collect()))
}
