//! `!export WHO` (admins): everything the store holds about a person on the links this admin
//! administers from this room, sent to the admin privately as files (the `Export` job in
//! `pipeline::outbox::export`), never into the room. WHO is `platform:id`, or a held item
//! (`#12`) for its author. The export itself is audited when it is handed over; the request
//! is the job, and the reply in the room names nobody.

use super::notes::About;
use super::permissions::{role, Actor, Role};
use super::{Ctx, Outcome};
use crate::store::prelude::*;
use crate::store::{JobKind, Tx, TxError};

pub fn export(tx: &mut Tx<'_>, ctx: &Ctx<'_>, about: &About) -> Result<Outcome, TxError> {
    let Actor::Person { key: admin, .. } = &ctx.actor else {
        return Ok(Outcome::declined(
            "An export is sent in a direct message: ask in the moderation room, or run \
             `civicbridge export` on the server.",
        ));
    };
    if admin.platform != ctx.room.platform {
        return Ok(Outcome::declined(
            "An export is sent in a direct message on this room's platform.",
        ));
    }
    let subject = match about {
        About::User(u) => u.clone(),
        About::Item(item) => {
            let author = tx
                .pending_item(item.id)?
                .filter(|p| p.link == ctx.link.id)
                .map(|p| tx.mirror(p.mirror))
                .transpose()?
                .flatten()
                .map(|m| m.author.key());
            match author {
                Some(a) => a,
                None => {
                    return Ok(Outcome::declined(format!(
                        "There is no held item {} on link {}.",
                        item.id, ctx.link.id
                    )))
                }
            }
        }
    };
    // Every link moderated from here that this person administers: what they may see.
    let links: Vec<_> = tx
        .links()?
        .into_iter()
        .filter(|l| ctx.governs(l) && role(l, &ctx.actor) >= Role::Admin)
        .map(|l| l.id)
        .collect();
    let kind = JobKind::Export {
        subject,
        to: admin.id.clone(),
        links,
        by: ctx.actor.audit(),
    };
    let job = tx.push_job(&ctx.link.id, ctx.room, kind)?;
    Ok(Outcome {
        jobs: vec![job],
        ..Outcome::reply("I will send you the export in a direct message.")
    })
}
