//! Matrix timeline events (as JSON, already decrypted by the SDK) -> `civicbridge_api::Event`.
//!
//! Pure: no I/O, so it is tested on recorded event JSON. Working on the JSON rather than ruma's
//! typed events keeps every relation shape (threads with or without a reply fallback, replies,
//! edits, annotations, redactions in old and new room versions) under this module's control.

use crate::format;
use civicbridge_api::{
    Attachment, AttachmentKind, Authority, Event, EventKind, InboundId, Message, RemoteMsgId,
    RemoteUserId, RichText, RoomRef, Sender, Span, Standing, ThreadId,
};
use serde_json::Value;

/// What the conversion needs besides the event.
#[derive(Debug, Clone)]
pub struct InboundContext<'a> {
    pub room: &'a str,
    /// The bot's user id: its events are echoes (`Sender::is_bridge`).
    pub own_user: &'a str,
    /// The sender's display name in this room, when the SDK knows it.
    pub sender_name: Option<String>,
    pub sender_avatar: Option<String>,
    /// The sender's standing in the room, from their power level as the SDK knows it when the
    /// event is converted (the room's current `m.room.power_levels`; see [`standing_of`]);
    /// `None` when the member is unknown.
    pub sender_power: Option<Standing>,
    /// Whether the sender's power level reaches the room's `redact` level (they may remove
    /// other people's events), as the SDK knows the room's power levels at conversion.
    pub sender_may_redact_others: bool,
}

/// Prefix of an attachment reference that names the event carrying an encrypted file: the
/// file's key stays in the (encrypted) event and never enters the bridge's store.
pub const EVENT_REF_PREFIX: &str = "mxevent:";

/// A Matrix power level as a standing: 100 or more makes an admin (Element's "Admin"), 50 or
/// more a moderator (Element's "Moderator").
pub fn standing_of(level: i64) -> Standing {
    match level {
        l if l >= 100 => Standing::Admin,
        l if l >= 50 => Standing::Moderator,
        _ => Standing::Member,
    }
}

/// Converts one timeline event; `None` for everything the core does not handle (state events,
/// redacted messages, undecryptable events, unknown types).
pub fn to_event(ev: &Value, ctx: &InboundContext<'_>) -> Option<Event> {
    let event_id = ev.get("event_id")?.as_str()?;
    let sender = ev.get("sender")?.as_str()?;
    let at_ms = ev
        .get("origin_server_ts")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let content = ev.get("content")?;
    let kind = match ev.get("type")?.as_str()? {
        "m.room.message" | "m.sticker" => message_kind(ev, content, event_id, ctx)?,
        "m.room.redaction" => EventKind::Delete {
            target: RemoteMsgId::new(
                content
                    .get("redacts")
                    .or_else(|| ev.get("redacts"))?
                    .as_str()?,
            ),
        },
        "m.reaction" => {
            let rel = content.get("m.relates_to")?;
            if rel.get("rel_type")?.as_str()? != "m.annotation" {
                return None;
            }
            EventKind::Reaction {
                target: RemoteMsgId::new(rel.get("event_id")?.as_str()?),
                key: rel.get("key")?.as_str()?.to_owned(),
                id: Some(RemoteMsgId::new(event_id)),
            }
        }
        _ => return None,
    };
    let display_name = ctx
        .sender_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| localpart(sender).to_owned());
    Some(Event {
        id: InboundId::new(event_id),
        room: RoomRef::new(crate::PLATFORM, ctx.room),
        sender: Sender {
            id: RemoteUserId::new(sender),
            display_name,
            avatar_url: ctx.sender_avatar.clone(),
            is_bridge: sender == ctx.own_user,
            standing: ctx.sender_power,
            // Matrix servers let anyone send an `m.replace` or a redaction event: the core
            // decides what counts, from the author and this.
            authority: if ctx.sender_may_redact_others {
                Authority::Moderator
            } else {
                Authority::Member
            },
            language: None,
        },
        at_ms,
        kind,
    })
}

fn localpart(user: &str) -> &str {
    let s = user.strip_prefix('@').unwrap_or(user);
    s.split(':').next().unwrap_or(s)
}

fn message_kind(
    ev: &Value,
    content: &Value,
    event_id: &str,
    ctx: &InboundContext<'_>,
) -> Option<EventKind> {
    let rel = content.get("m.relates_to");
    let rel_type = rel.and_then(|r| r.get("rel_type")).and_then(Value::as_str);
    if rel_type == Some("m.replace") {
        let target = rel?.get("event_id")?.as_str()?;
        let new_content = content.get("m.new_content")?;
        let mut new = message(ev, new_content, event_id, ctx)?;
        // The new content carries no relations of its own.
        new.reply_to = None;
        new.thread = None;
        return Some(EventKind::Edit {
            target: RemoteMsgId::new(target),
            new,
        });
    }
    let mut m = message(ev, content, event_id, ctx)?;
    if let Some(rel) = rel {
        let in_reply_to = rel
            .get("m.in_reply_to")
            .and_then(|r| r.get("event_id"))
            .and_then(Value::as_str);
        if rel_type == Some("m.thread") {
            m.thread = rel
                .get("event_id")
                .and_then(Value::as_str)
                .map(ThreadId::new);
            let falling_back = rel
                .get("is_falling_back")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if !falling_back {
                m.reply_to = in_reply_to.map(RemoteMsgId::new);
            }
        } else {
            m.reply_to = in_reply_to.map(RemoteMsgId::new);
        }
    }
    Some(EventKind::Message(m))
}

fn message(
    ev: &Value,
    content: &Value,
    event_id: &str,
    ctx: &InboundContext<'_>,
) -> Option<Message> {
    // A redacted message has an empty content: nothing to bridge.
    let body = content.get("body")?.as_str()?;
    let msgtype = if ev.get("type").and_then(Value::as_str) == Some("m.sticker") {
        "m.sticker"
    } else {
        content.get("msgtype")?.as_str()?
    };
    let html = (content.get("format").and_then(Value::as_str) == Some("org.matrix.custom.html"))
        .then(|| content.get("formatted_body").and_then(Value::as_str))
        .flatten();
    let mut text = format::from_matrix(body, html);
    let mut attachments = Vec::new();
    match msgtype {
        "m.text" | "m.notice" => {}
        "m.emote" => {
            let name = ctx
                .sender_name
                .clone()
                .unwrap_or_else(|| localpart(ev["sender"].as_str().unwrap_or_default()).into());
            text.prepend([Span::Text(format!("* {name} "))]);
        }
        "m.image" | "m.file" | "m.audio" | "m.video" | "m.sticker" => {
            let kind = match msgtype {
                "m.image" => AttachmentKind::Image,
                "m.audio" if content.get("org.matrix.msc3245.voice").is_some() => {
                    AttachmentKind::Voice
                }
                "m.audio" => AttachmentKind::Audio,
                "m.video" => AttachmentKind::Video,
                "m.sticker" => AttachmentKind::Sticker,
                _ => AttachmentKind::File,
            };
            let filename = content.get("filename").and_then(Value::as_str);
            // With a `filename`, `body` is a caption (unless it only repeats the name).
            text = match filename {
                Some(f) if f != body => text,
                _ => RichText::default(),
            };
            let info = content.get("info");
            let url = match content.get("url").and_then(Value::as_str) {
                Some(mxc) => mxc.to_owned(),
                None if content.get("file").is_some() => {
                    format!("{EVENT_REF_PREFIX}{}|{event_id}", ctx.room)
                }
                None => return None,
            };
            attachments.push(Attachment {
                kind,
                name: filename.unwrap_or(body).to_owned(),
                mime: info
                    .and_then(|i| i.get("mimetype"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                size: info.and_then(|i| i.get("size")).and_then(Value::as_u64),
                url,
            });
        }
        // Locations, polls, verification requests and unknown types are not bridged.
        _ => return None,
    }
    Some(Message {
        id: RemoteMsgId::new(event_id),
        text,
        reply_to: None,
        thread: None,
        attachments,
    })
}

#[cfg(test)]
mod tests;
