//! `!claim ID` and `!release ID`: a moderator takes a held item so the others leave it to them
//! (see `approval::claim`); 🙋 on the card claims it too.

use super::{Ctx, Outcome};
use crate::moderation::approval::{self, ClaimRefusal, ItemRef};
use crate::store::{Tx, TxError};

pub fn claim(tx: &mut Tx<'_>, ctx: &Ctx<'_>, item: ItemRef) -> Result<Outcome, TxError> {
    Ok(match approval::claim(tx, item.id, &ctx.actor)? {
        Ok(jobs) => Outcome {
            jobs,
            ..Outcome::reply(format!("{} claimed by {}", item.id, ctx.actor.display()))
        },
        Err(r) => answer(&r, ctx),
    })
}

pub fn release(tx: &mut Tx<'_>, ctx: &Ctx<'_>, item: ItemRef) -> Result<Outcome, TxError> {
    Ok(match approval::release_claim(tx, item.id, &ctx.actor)? {
        Ok(jobs) => Outcome {
            jobs,
            ..Outcome::reply(format!("{} is free again", item.id))
        },
        Err(r) => answer(&r, ctx),
    })
}

/// The answer to a claim or release not made.
pub fn answer(r: &ClaimRefusal, ctx: &Ctx<'_>) -> Outcome {
    match r {
        ClaimRefusal::NotAModerator => Outcome::refusal(r.text(&ctx.link.id)),
        _ => Outcome::declined(r.text(&ctx.link.id)),
    }
}
