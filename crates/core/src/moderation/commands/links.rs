//! `!link` and `!unlink`: changing the links while the bridge runs. The change is stored and
//! audited in the command's transaction (`store/runtime_links.rs` keeps the merge rule with the
//! config); the caller then asks for it to be put in force, and the running links join the new
//! rooms and say in this room what the bot could not do there.

use super::{Ctx, Outcome};
use crate::ops::links::LinksView;
use crate::store::runtime_links::LinkOverride;
use crate::store::{LinkRecord, LinkRoom, Tx, TxError};
use civicbridge_api::LinkId;

const NOT_RUNNING: &str =
    "Links can be changed here only while the bridge runs (or in the config file, then reload).";

/// `!link ID ROOMS`: link `id` with `rooms`. A new link is moderated from the same room, by the
/// same people, as `base` (the link of the room the command was typed in); a link in force
/// (then `base`) keeps its moderation room and people and gets the new rooms.
pub fn link(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    base: &LinkRecord,
    id: LinkId,
    rooms: Vec<LinkRoom>,
) -> Result<Outcome, TxError> {
    let Some(view) = ctx.links else {
        return Ok(Outcome::declined(NOT_RUNNING));
    };
    let existing = view.get(&id);
    let record = LinkRecord {
        id: id.clone(),
        rooms,
        moderation_room: base.moderation_room.clone(),
        moderators: base.moderators.clone(),
        admins: base.admins.clone(),
    };
    if let Err(why) = check(view, &record) {
        return Ok(Outcome::declined(format!("Not linked: {why}.")));
    }
    if existing.as_ref() == Some(&record) {
        return Ok(Outcome::declined(format!(
            "Link {id} already joins exactly these rooms."
        )));
    }
    let config_then = view.in_config(&id);
    // A new link the config does not name starts on the default rules, whatever an earlier
    // link of that name had.
    let fresh = existing.is_none() && config_then.is_none();
    let change = LinkOverride {
        id: id.clone(),
        config_then,
        link: Some(record.clone()),
    };
    tx.set_link_override(&change, &ctx.actor.audit(), fresh)?;
    let rooms: Vec<String> = record
        .rooms
        .iter()
        .map(|r| format!("{} ({})", r.room, side(r)))
        .collect();
    let verb = if existing.is_some() {
        "now joins"
    } else {
        "created: it joins"
    };
    Ok(Outcome {
        links_changed: true,
        ..Outcome::reply(format!(
            "Link {id} {verb} {}. It is moderated here; the bot is taking its place in the rooms and says here what it cannot do.",
            rooms.join(", ")
        ))
    })
}

/// `!unlink ID`: takes `link` out of service.
pub fn unlink(tx: &mut Tx<'_>, ctx: &Ctx<'_>, link: &LinkRecord) -> Result<Outcome, TxError> {
    let Some(view) = ctx.links else {
        return Ok(Outcome::declined(NOT_RUNNING));
    };
    if view.get(&link.id).is_none() {
        return Ok(Outcome::declined(format!(
            "Link {} is not in force.",
            link.id
        )));
    }
    let change = LinkOverride {
        id: link.id.clone(),
        config_then: view.in_config(&link.id),
        link: None,
    };
    tx.set_link_override(&change, &ctx.actor.audit(), false)?;
    // Commands are read in a room only while a link is moderated from it.
    let last_here = link.moderation_room.is_some()
        && !view
            .in_force()
            .iter()
            .any(|l| l.id != link.id && l.moderation_room == link.moderation_room);
    let warning = if last_here {
        " It was the last link moderated from its moderation room: commands there are no longer read (link again through the admin API or the config file)."
    } else {
        ""
    };
    Ok(Outcome {
        links_changed: true,
        ..Outcome::reply(format!(
            "Link {} is unlinked: its rooms no longer cross. Held items stay in the queue. It stays unlinked across restarts until someone links it again or the config file changes it.{warning}",
            link.id
        ))
    })
}

/// `!rooms`: the links moderated from here, each room by name and id.
pub fn rooms(tx: &Tx<'_>, ctx: &Ctx<'_>) -> Outcome {
    use crate::store::prelude::*;
    let links: Vec<LinkRecord> = match ctx.links {
        Some(view) => view.in_force().to_vec(),
        None => tx.links().unwrap_or_default(),
    };
    let mut lines = Vec::new();
    for l in links.iter().filter(|l| ctx.governs(l)) {
        lines.push(format!("Link {}:", l.id));
        for r in &l.rooms {
            let label = tx.room_label(&r.room);
            let id = r.room.to_string();
            let named = if label == id {
                id
            } else {
                format!("{label} — {id}")
            };
            lines.push(format!("  {} room: {named}", side(r)));
        }
        if let Some(m) = &l.moderation_room {
            lines.push(format!("  moderated in: {}", tx.room_label(m)));
        }
    }
    if lines.is_empty() {
        lines.push("No link is moderated from this room.".to_owned());
    }
    Outcome::reply(lines.join("\n"))
}

fn side(r: &LinkRoom) -> &'static str {
    match r.side {
        crate::moderation::rules::Side::Staff => "staff",
        crate::moderation::rules::Side::Public => "public",
    }
}

/// Why `record` cannot be in force beside the other links, if it cannot.
fn check(view: &LinksView, record: &LinkRecord) -> Result<(), String> {
    let moderation = record.moderation_room.as_ref();
    for r in &record.rooms {
        if !view.serves(r.room.platform) {
            return Err(format!(
                "{} has no connector in this bridge (no [{}] section)",
                r.room.platform, r.room.platform
            ));
        }
        if Some(&r.room) == moderation {
            return Err(format!(
                "{} is the moderation room; it cannot also be bridged",
                r.room
            ));
        }
    }
    for other in view.in_force().iter().filter(|l| l.id != record.id) {
        for r in &record.rooms {
            let bridged = other.rooms.iter().any(|o| o.room == r.room);
            if bridged || other.moderation_room.as_ref() == Some(&r.room) {
                return Err(format!("{} is already used by link {}", r.room, other.id));
            }
        }
    }
    Ok(())
}
