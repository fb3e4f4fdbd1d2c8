//! `!approve`, `!reject`, `!edit`: decisions by command (✅/❌ on a card take the same path).

use super::{Ctx, Outcome};
use crate::approval::{self, Decision, Refusal};
use crate::store::{Tx, TxFailure};
use civicbridge_api::{PendingId, RichText};

pub fn approve(tx: &mut Tx<'_>, ctx: &Ctx<'_>, id: PendingId) -> Result<Outcome, TxFailure> {
    decide(tx, ctx, id, Decision::Approve)
}

pub fn reject(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    id: PendingId,
    reason: Option<String>,
) -> Result<Outcome, TxFailure> {
    decide(tx, ctx, id, Decision::Reject(reason))
}

/// Approves a held item with the moderator's text. The text is taken as typed (plain text).
pub fn edit(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    id: PendingId,
    text: String,
) -> Result<Outcome, TxFailure> {
    decide(tx, ctx, id, Decision::ApproveEdited(RichText::plain(text)))
}

fn decide(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    id: PendingId,
    d: Decision,
) -> Result<Outcome, TxFailure> {
    Ok(match approval::decide(tx, id, &d, &ctx.actor)? {
        Ok(decided) => Outcome {
            reply: format!("{id} {} by {}", d.verb(), ctx.actor.display()),
            jobs: decided.jobs,
        },
        Err(r) => Outcome::reply(refusal(&r, ctx)),
    })
}

/// The polite answer to a refused decision.
pub fn refusal(r: &Refusal, ctx: &Ctx<'_>) -> String {
    match r {
        Refusal::NoSuchItem(id) => format!("There is no held item {id} (already decided?)"),
        Refusal::NotAModerator => {
            format!(
                "Sorry, only moderators of link {} can do that.",
                ctx.link.id
            )
        }
    }
}
