//! `!approve`, `!reject`, `!edit`: decisions by command (✅/❌ on a card take the same path).
//! Each names the revision it decides (`#3v2`; a bare `#3` is revision 1): see `approval`.
//! `!approve` and `!reject` take several items (`#3 #4 #7`, `#3-#9`): each is decided on its
//! own, as if typed alone, and the reply has a line per item.

use super::{Ctx, Outcome};
use crate::moderation::approval::{self, Decision, ItemRef, Refusal};
use crate::store::{Tx, TxError};
use civicbridge_api::{LinkId, RichText};

pub fn approve(tx: &mut Tx<'_>, ctx: &Ctx<'_>, items: Vec<ItemRef>) -> Result<Outcome, TxError> {
    decide_each(tx, ctx, items, &Decision::Approve)
}

pub fn reject(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    items: Vec<ItemRef>,
    reason: Option<String>,
) -> Result<Outcome, TxError> {
    decide_each(tx, ctx, items, &Decision::Reject(reason))
}

/// Decides every item in turn. Someone who may not decide is told once (the refusal is the
/// same for every item of a link, and is audited per item by `approval::decide`). The outcome
/// is declined only if every item was.
fn decide_each(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    items: Vec<ItemRef>,
    d: &Decision,
) -> Result<Outcome, TxError> {
    let mut all = Outcome {
        declined: true,
        ..Outcome::default()
    };
    let mut lines = Vec::new();
    for item in items {
        let one = decide(tx, ctx, item, d.clone())?;
        if one.refused {
            return Ok(one);
        }
        all.declined &= one.declined;
        all.jobs.extend(one.jobs);
        lines.push(one.reply);
    }
    all.reply = lines.join("\n");
    Ok(all)
}

/// Approves a held item with the moderator's text. The text is taken as typed (plain text).
pub fn edit(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    item: ItemRef,
    text: String,
) -> Result<Outcome, TxError> {
    decide(
        tx,
        ctx,
        item,
        Decision::ApproveEdited(RichText::plain(text)),
    )
}

fn decide(tx: &mut Tx<'_>, ctx: &Ctx<'_>, item: ItemRef, d: Decision) -> Result<Outcome, TxError> {
    Ok(
        match approval::decide(tx, item.id, &d, item.seen(), &ctx.actor)? {
            Ok(decided) => Outcome {
                reply: format!(
                    "{} {} by {}",
                    decided.item.reference(),
                    d.verb(),
                    ctx.actor.display()
                ),
                jobs: decided.jobs,
                ..Outcome::default()
            },
            Err(r @ Refusal::NotAModerator) => Outcome::refusal(refusal(&r, ctx)),
            Err(r) => Outcome::declined(refusal(&r, ctx)),
        },
    )
}

/// The polite answer to a refused decision.
pub fn refusal(r: &Refusal, ctx: &Ctx<'_>) -> String {
    refusal_text(r, &ctx.link.id)
}

/// The answer to a refused decision on an item of `link`.
pub fn refusal_text(r: &Refusal, link: &LinkId) -> String {
    match r {
        Refusal::NoSuchItem(id) => format!("There is no held item {id} (already decided?)"),
        Refusal::NotAModerator => {
            format!("Sorry, only moderators of link {link} can do that.")
        }
        Refusal::Outdated {
            id,
            current,
            reference,
        } => format!(
            "Not decided: {id} changed after it was held: its author edited it, and it is now \
             revision {current}, with a card of its own. Decide on that card, or with \
             !approve {reference} / !reject {reference}."
        ),
    }
}
