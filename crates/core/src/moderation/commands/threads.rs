//! `!publish` and `!unpublish`, typed by staff in a staff room as a reply inside a thread (or as
//! a reply to the thread's first message).
//!
//! `!publish` holds the thread's root for the public rooms it has not reached, with a card like
//! any held message; a moderator's approval sends it and publishes the thread (later messages in
//! it follow the link's `in_thread` policy). `!unpublish` stops the thread crossing, both ways,
//! whatever the scope; the copies already made stay (use `!takedown` to remove them).

use super::{info, Outcome};
use crate::moderation::approval;
use crate::moderation::audit::{AuditAction, AuditDraft};
use crate::moderation::commands::permissions::Actor;
use crate::moderation::rules::Side;
use crate::moderation::{HoldReason, HoldReasons};
use crate::store::prelude::*;
use crate::store::{LinkRecord, MirrorRecord, PendingItem, PendingKind, Tx, TxError};
use civicbridge_api::{Message, RoomRef};

/// The root of the thread `m` is in (or replies to), if the bridge knows it.
fn root_of(tx: &Tx<'_>, room: &RoomRef, m: &Message) -> Result<Option<MirrorRecord>, TxError> {
    let by_thread = match &m.thread {
        Some(t) => tx.thread_root(room, t)?,
        None => None,
    };
    let id = match (by_thread, &m.reply_to) {
        (Some(id), _) => Some(id),
        (None, Some(r)) => match tx.mirror_of(room, r)? {
            // A reply to a message inside a thread means that thread.
            Some(id) => Some(tx.mirror(id)?.and_then(|x| x.thread_root).unwrap_or(id)),
            None => None,
        },
        (None, None) => None,
    };
    Ok(id.map(|id| tx.mirror(id)).transpose()?.flatten())
}

const WHERE: &str =
    "Send !publish or !unpublish as a reply inside the thread, or as a reply to its first message.";

pub fn publish(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    room: &RoomRef,
    actor: &Actor,
    m: &Message,
) -> Result<Outcome, TxError> {
    if m.thread.is_none() && m.reply_to.is_none() {
        return Ok(Outcome::reply(WHERE));
    }
    let Some(root) = root_of(tx, room, m)? else {
        return Ok(Outcome::reply(
            "I cannot publish this thread: its first message was not kept by the bridge (a rule dropped it).",
        ));
    };
    if root.published && !root.unpublished {
        return Ok(Outcome::reply("This thread is already published."));
    }
    let held = match &link.moderation_room {
        Some(here) => info::held_item_for(tx, here, root.id),
        None => None,
    };
    if let Some(id) = held {
        return Ok(Outcome::reply(format!(
            "This thread's first message is already waiting for the moderators as {id}."
        )));
    }
    let targets: Vec<RoomRef> = link
        .rooms
        .iter()
        .filter(|r| r.side == Side::Public && r.room != root.source)
        .filter(|r| root.copy_in(&r.room).is_none_or(|c| c.ids.is_empty()))
        .map(|r| r.room.clone())
        .collect();
    if targets.is_empty() {
        // Every public room has the root already: publishing again only reopens the thread.
        let mut root = root;
        root.published = true;
        root.unpublished = false;
        tx.put_mirror(&root)?;
        audit(tx, link, actor, &root, AuditAction::PublishRequested)?;
        return Ok(Outcome::reply("This thread crosses again."));
    }
    let item = PendingItem::new(
        link.id.clone(),
        root.id,
        PendingKind::Message,
        targets,
        HoldReasons::one(HoldReason::PublishRequested {
            by: actor.display().to_owned(),
        }),
        tx.now_ms(),
    );
    audit(tx, link, actor, &root, AuditAction::PublishRequested)?;
    let mut root = root;
    let (item, jobs) = approval::hold(tx, link, item, &mut root)?;
    Ok(Outcome {
        reply: format!("Asked the moderators to publish this thread ({}).", item.id),
        jobs,
        ..Outcome::default()
    })
}

pub fn unpublish(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    room: &RoomRef,
    actor: &Actor,
    m: &Message,
) -> Result<Outcome, TxError> {
    if m.thread.is_none() && m.reply_to.is_none() {
        return Ok(Outcome::reply(WHERE));
    }
    let Some(mut root) = root_of(tx, room, m)? else {
        return Ok(Outcome::reply("This thread was never published."));
    };
    if root.unpublished || !root.published {
        return Ok(Outcome::reply("This thread is not published."));
    }
    root.unpublished = true;
    tx.put_mirror(&root)?;
    audit(tx, link, actor, &root, AuditAction::Unpublished)?;
    Ok(Outcome::reply(
        "This thread no longer crosses. Copies already made stay (a moderator can !takedown them).",
    ))
}

fn audit(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    actor: &Actor,
    root: &MirrorRecord,
    action: AuditAction,
) -> Result<(), TxError> {
    tx.audit(AuditDraft {
        actor: actor.audit(),
        action,
        link: Some(link.id.clone()),
        subject: Some(root.id.to_string()),
        detail: serde_json::json!({ "root": root.id, "text_sha256": crate::privacy::content_hash(&root.text) }),
    })?;
    Ok(())
}
