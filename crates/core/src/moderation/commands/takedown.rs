//! `!takedown WHAT`: deletes every copy the bridge made of a message (the source stays: it is
//! the author's, in their own room), and marks the message deleted so nothing held or queued for
//! it is sent later. Its held items are withdrawn at the same time (`approval::take_down`).

use super::{Ctx, Outcome};
use crate::moderation::approval;
use crate::moderation::commands::permissions::{role, Role};
use crate::store::prelude::*;
use crate::store::{Tx, TxError};
use civicbridge_api::{MirrorId, PendingId, Platform, RemoteMsgId, RoomRef};

/// What `!takedown` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A bridged message by its id (`m7`, shown on decided cards).
    Mirror(MirrorId),
    /// A pending id (`#12`): a held item, or a decided one (found through the audit log).
    Pending(PendingId),
    /// A link to a message (source or copy), read by the configured platforms' factories.
    Link(String),
    /// A message (source or copy) by platform id, from a link or typed bare: looked up in `room`
    /// if known, else in the link's rooms (of `platform`, if known).
    Message {
        platform: Option<Platform>,
        room: Option<RoomRef>,
        msg: RemoteMsgId,
    },
}

fn resolve(tx: &mut Tx<'_>, ctx: &Ctx<'_>, t: &Target) -> Result<Option<MirrorId>, TxError> {
    if let Target::Link(url) = t {
        let read = ctx.platforms.iter().find_map(|f| {
            let platform = f.platform();
            f.message_link(url).map(|l| Target::Message {
                platform: Some(platform),
                room: l.room.map(|room| RoomRef { platform, room }),
                msg: l.msg,
            })
        });
        return match read {
            Some(t) => resolve(tx, ctx, &t),
            None => Ok(None),
        };
    }
    Ok(match t {
        Target::Link(_) => None,
        Target::Mirror(m) => Some(*m),
        Target::Pending(p) => match tx.pending_item(*p)? {
            Some(item) => Some(item.mirror),
            None => super::info::decided(tx, ctx.room, *p),
        },
        Target::Message {
            platform,
            room,
            msg,
        } => {
            let mut rooms: Vec<RoomRef> = room.iter().cloned().collect();
            rooms.extend(
                ctx.link
                    .rooms
                    .iter()
                    .map(|r| r.room.clone())
                    .filter(|r| platform.is_none_or(|p| r.platform == p)),
            );
            let mut found = None;
            for r in &rooms {
                if let Some(m) = tx.mirror_of(r, msg)? {
                    found = Some(m);
                    break;
                }
            }
            found
        }
    })
}

pub fn run(tx: &mut Tx<'_>, ctx: &Ctx<'_>, t: &Target) -> Result<Outcome, TxError> {
    let Some(mut mirror) = resolve(tx, ctx, t)?
        .map(|m| tx.mirror(m))
        .transpose()?
        .flatten()
    else {
        return Ok(Outcome::reply(
            "I know no bridged message by that; use its id (m7), its pending id (#12) or a link to one of its copies.",
        ));
    };
    // The message's own link must be moderated from here, by this person.
    let link = tx.link(&mirror.link)?;
    let Some(link) = link.filter(|l| ctx.governs(l)) else {
        return Ok(Outcome::reply(format!(
            "{} belongs to a link not moderated from this room.",
            mirror.id
        )));
    };
    if role(&link, &ctx.actor) < Role::Moderator {
        approval::audit_refusal(
            tx,
            &ctx.actor,
            &link,
            Some(mirror.id.to_string()),
            approval::Attempt {
                kind: "takedown",
                content: &mirror.id.to_string(),
            },
            Role::Moderator,
        )?;
        return Ok(Outcome::reply(format!(
            "Sorry, only moderators of link {} can do that.",
            link.id
        )));
    }
    // Every held item of the message is withdrawn with it, whatever its revision: a takedown
    // judges the message, and sends nothing.
    let (jobs, copies) = approval::take_down(
        tx,
        &link,
        &mut mirror,
        &ctx.actor.audit(),
        ctx.actor.display(),
        "!takedown",
    )?;
    let mut jobs = jobs;
    // A report on it is answered by the takedown.
    jobs.extend(crate::moderation::reports::close_after_takedown(
        tx,
        &link,
        &mirror,
        ctx.actor.display(),
    )?);
    let mut out = Outcome {
        jobs,
        ..Outcome::default()
    };
    out.reply = format!(
        "{} taken down by {}: removing {} cop{}",
        mirror.id,
        ctx.actor.display(),
        copies.len(),
        if copies.len() == 1 { "y" } else { "ies" }
    );
    Ok(out)
}
