//! `!queue`, `!parked` and `!audit`, and the lookups `!takedown #N` and `!publish` need: scans
//! of the store, read inside the transaction that handles the command, so a command sees what
//! the commands before it in the same batch did (`!queue` right after `!approve #1` no longer
//! lists #1). Only what belongs to links moderated from the asking room is shown: other links'
//! queues and logs are not this room's business.

use crate::moderation::audit::AuditEntry;
use crate::privacy::KeyedRead;
use crate::store::prelude::*;
use crate::store::PendingItem;
use civicbridge_api::{LinkId, MirrorId, PendingId, RoomRef};

/// The held items `items`, a line each after a count: `#3 [link] who: text — reason`. In a
/// moderation room (`shown_in`), people are named as that room may see them (a pseudonym, per
/// link) with an excerpt; for the admin's command line (`None`), by name with the whole text.
pub fn queue_listing(
    s: &mut impl KeyedRead,
    items: &[PendingItem],
    shown_in: Option<&RoomRef>,
) -> Vec<String> {
    let mut lines = vec![format!("{} held item(s)", items.len())];
    for item in items {
        let (who, from) = match s.mirror(item.mirror) {
            Ok(Some(m)) => {
                let who = match shown_in {
                    Some(room) => {
                        let who = crate::privacy::shown_author(s, &m, room)
                            .map_or_else(|_| m.author.display_name.clone(), |s| s.name);
                        format!("{who}: {}", crate::pipeline::render::excerpt(item.text(&m)))
                    }
                    None => format!(
                        "{} {}",
                        crate::pipeline::render::attribution(&m),
                        item.text(&m).to_plain()
                    ),
                };
                (who, format!(" · in {}", s.room_label(&m.source)))
            }
            Ok(None) => (format!("(message {} is gone)", item.mirror), String::new()),
            // Say so rather than show a blank line: the item is there and can be decided.
            Err(e) => (
                format!("(message {} cannot be read: {e})", item.mirror),
                String::new(),
            ),
        };
        lines.push(format!(
            "{} [{}] {} — {}{from}",
            item.reference(),
            item.link,
            who,
            item.reason
        ));
    }
    lines
}

/// How many recent audit entries `!audit` can show.
const AUDIT_TAIL: usize = 100;

/// The links moderated from `here`. A read error counts as none (the commands then say they
/// found nothing) rather than failing the batch.
fn links_here(r: &impl Read, here: &RoomRef) -> Vec<LinkId> {
    r.links()
        .unwrap_or_default()
        .into_iter()
        .filter(|l| l.moderation_room.as_ref() == Some(here))
        .map(|l| l.id)
        .collect()
}

/// The held items of the links moderated from `here`, oldest first.
fn held_here(r: &impl Read, here: &RoomRef) -> Vec<PendingItem> {
    let links = links_here(r, here);
    r.pending()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| links.contains(&i.link))
        .collect()
}

/// The `!queue` listing for the moderation room `here`: its held items, then its parked items
/// when there are any.
pub fn queue(s: &mut impl KeyedRead, here: &RoomRef) -> String {
    let items = held_here(s, here);
    let mut lines = queue_listing(s, &items, Some(here));
    let parked = parked_lines(s, here);
    if parked.len() > 1 {
        lines.extend(parked);
    }
    lines.join("\n")
}

/// The `!parked` listing for the moderation room `here`.
pub fn parked(r: &impl Read, here: &RoomRef) -> String {
    parked_lines(r, here).join("\n")
}

fn parked_lines(r: &impl Read, here: &RoomRef) -> Vec<String> {
    let links = links_here(r, here);
    let parked: Vec<_> = match r.parked() {
        Ok(all) => all
            .into_iter()
            .filter(|p| p.link.as_ref().is_none_or(|l| links.contains(l)))
            .map(|p| p.line())
            .collect(),
        Err(e) => vec![format!("(the parked items cannot be read: {e})")],
    };
    let mut lines = vec![format!("{} parked item(s)", parked.len())];
    lines.extend(parked);
    lines
}

/// The audit entries of the links moderated from `here`, newest first, read a block at a time
/// (a store error ends the walk: these are answers to a command, not checks).
fn log_here<'a, R: Read>(r: &'a R, here: &RoomRef) -> impl Iterator<Item = AuditEntry> + 'a {
    let links = links_here(r, here);
    r.audit_backward(None)
        .into_iter()
        .flatten()
        .map_while(Result::ok)
        .filter(move |e| e.link.as_ref().is_some_and(|l| links.contains(l)))
}

/// For a decided item of a link moderated from `here`: the message it was about (from the
/// audit log), for `!takedown #N`.
pub fn decided(r: &impl Read, here: &RoomRef, id: PendingId) -> Option<MirrorId> {
    log_here(r, here).find_map(|e| {
        let subject = e.subject.as_deref()?.parse::<PendingId>().ok()?;
        let m = e.detail.get("mirror")?.as_u64()?;
        (subject == id).then_some(MirrorId(m))
    })
}

/// The item holding message `root`, if one waits among the held items of the links moderated
/// from `here` (for `!publish`: no second item for the same root).
pub fn held_item_for(r: &impl Read, here: &RoomRef, root: MirrorId) -> Option<PendingId> {
    held_here(r, here)
        .iter()
        .rev()
        .find(|i| i.mirror == root)
        .map(|i| i.id)
}

/// The last `n` (at most [`AUDIT_TAIL`]) audit entries of the links moderated from `here`, one
/// line each.
pub fn audit_tail(r: &impl Read, here: &RoomRef, n: usize) -> String {
    let mut log: Vec<AuditEntry> = log_here(r, here).take(n.min(AUDIT_TAIL)).collect();
    log.reverse();
    let mut lines = vec![format!("Last {} audit entries:", log.len())];
    for e in &log {
        let when = chrono::DateTime::from_timestamp_millis(e.at_ms as i64)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        let action = serde_json::to_value(e.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        lines.push(format!(
            "{} {when} {} {action} {} {}",
            e.seq,
            e.actor,
            e.link.as_ref().map(|l| l.as_str()).unwrap_or("-"),
            e.subject.as_deref().unwrap_or(""),
        ));
    }
    lines.join("\n")
}
