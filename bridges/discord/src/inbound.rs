//! serenity's gateway models → the bridge's `Event`s. Pure: every lookup (is this channel a
//! thread, is this webhook ours) is resolved by the caller and passed in as a [`Place`] and a flag.

use crate::format;
use crate::ids;
use civicbridge_api::{
    Attachment, AttachmentKind, Event, EventKind, Message, Platform, RemoteUserId, RichText,
    RoomRef, Sender,
};
use serenity::model::channel::{
    Attachment as DAttachment, Message as DMessage, MessageFlags, Reaction, ReactionType,
};
use serenity::model::event::MessageUpdateEvent;
use serenity::model::id::{ChannelId, MessageId};
use serenity::model::user::User;

/// Where a message lives, as the bridge sees it: the room is the text or forum channel; a message
/// in a thread channel belongs to that thread (its room is the thread's parent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub room: ChannelId,
    pub thread: Option<ChannelId>,
}

impl Place {
    /// `channel` with its parent if it is a thread. A thread's root (the message the thread was
    /// started from, or a forum post's first message: same id as the thread) has no thread.
    pub fn of(
        channel: ChannelId,
        parent_if_thread: Option<ChannelId>,
        msg: Option<MessageId>,
    ) -> Place {
        match parent_if_thread {
            Some(parent) if msg.map(MessageId::get) == Some(channel.get()) => Place {
                room: parent,
                thread: None,
            },
            Some(parent) => Place {
                room: parent,
                thread: Some(channel),
            },
            None => Place {
                room: channel,
                thread: None,
            },
        }
    }
}

fn room(p: &Place) -> RoomRef {
    RoomRef::new(Platform::Discord, p.room.get().to_string())
}

/// The name Discord shows: the server nickname, else the global display name, else the username.
pub fn sender(user: &User, nick: Option<&str>, is_bridge: bool) -> Sender {
    let display_name = nick
        .filter(|n| !n.is_empty())
        .or(user.global_name.as_deref().filter(|n| !n.is_empty()))
        .unwrap_or(&user.name)
        .to_owned();
    Sender {
        id: RemoteUserId::new(user.id.get().to_string()),
        display_name,
        avatar_url: user.avatar_url(),
        is_bridge,
    }
}

fn text(content: &str, mentions: &[User]) -> RichText {
    let name_of = |id: u64| {
        mentions
            .iter()
            .find(|u| u.id.get() == id)
            .map(|u| u.global_name.clone().unwrap_or_else(|| u.name.clone()))
    };
    format::parse(content, &name_of)
}

fn attachment(a: &DAttachment, voice: bool) -> Attachment {
    let mime = a.content_type.clone();
    let major = mime
        .as_deref()
        .and_then(|m| m.split('/').next())
        .unwrap_or("");
    let kind = match major {
        _ if voice => AttachmentKind::Voice,
        "image" => AttachmentKind::Image,
        "video" => AttachmentKind::Video,
        "audio" => AttachmentKind::Audio,
        _ => AttachmentKind::File,
    };
    Attachment {
        kind,
        name: a.filename.clone(),
        mime,
        size: Some(u64::from(a.size)),
        // Discord's CDN URL: fetchable without the token, so it carries no secret.
        url: a.url.clone(),
    }
}

fn attachments(list: &[DAttachment], flags: Option<MessageFlags>) -> Vec<Attachment> {
    let voice = flags.is_some_and(|f| f.contains(MessageFlags::IS_VOICE_MESSAGE));
    list.iter().map(|a| attachment(a, voice)).collect()
}

/// A new message.
pub fn message_event(m: &DMessage, place: &Place, is_bridge: bool) -> Event {
    let nick = m.member.as_ref().and_then(|mem| mem.nick.as_deref());
    let reply_to = m
        .message_reference
        .as_ref()
        .and_then(|r| r.message_id)
        .map(ids::msg_id);
    Event {
        id: ids::inbound_message(m.id),
        room: room(place),
        sender: sender(&m.author, nick, is_bridge),
        at_ms: ids::snowflake_ms(m.id.get()),
        kind: EventKind::Message(Message {
            id: ids::msg_id(m.id),
            text: text(&m.content, &m.mentions),
            reply_to,
            thread: place.thread.map(ids::thread_id),
            attachments: attachments(&m.attachments, m.flags),
        }),
    }
}

/// An edit; `None` for updates that change no text (embeds resolving, pins).
pub fn edit_event(e: &MessageUpdateEvent, place: &Place, is_bridge: bool) -> Option<Event> {
    let content = e.content.as_ref()?;
    let edited = e.edited_timestamp?;
    let edited_key = edited
        .to_rfc3339()
        .unwrap_or_else(|| edited.unix_timestamp().to_string());
    let nick = e
        .member
        .as_ref()
        .and_then(|m| m.as_ref())
        .and_then(|m| m.nick.as_deref());
    let sender = match &e.author {
        Some(u) => sender(u, nick, is_bridge),
        None => Sender {
            is_bridge,
            ..Sender::person("0", "unknown")
        },
    };
    let mentions = e.mentions.clone().unwrap_or_default();
    let flags = e.flags.flatten();
    Some(Event {
        id: ids::inbound_edit(e.id, &edited_key),
        room: room(place),
        sender,
        at_ms: u64::try_from(edited.unix_timestamp()).unwrap_or(0) * 1000,
        kind: EventKind::Edit {
            target: ids::msg_id(e.id),
            new: Message {
                id: ids::msg_id(e.id),
                text: text(content, &mentions),
                reply_to: None,
                thread: place.thread.map(ids::thread_id),
                attachments: e
                    .attachments
                    .as_deref()
                    .map(|a| attachments(a, flags))
                    .unwrap_or_default(),
            },
        },
    })
}

/// A deletion. Discord does not say who deleted; `is_bridge` is set when the bridge did.
pub fn delete_event(message: MessageId, place: &Place, is_bridge: bool, now_ms: u64) -> Event {
    Event {
        id: ids::inbound_delete(message),
        room: room(place),
        sender: Sender {
            is_bridge,
            ..Sender::person("0", "unknown")
        },
        at_ms: now_ms,
        kind: EventKind::Delete {
            target: ids::msg_id(message),
        },
    }
}

/// A reaction added; the key is the unicode emoji, or `:name:` for a custom one.
pub fn reaction_event(r: &Reaction, place: &Place, is_bridge: bool, now_ms: u64) -> Option<Event> {
    let user = r.user_id?;
    let key = match &r.emoji {
        ReactionType::Unicode(s) => s.clone(),
        ReactionType::Custom { name, id, .. } => {
            format!(":{}:", name.clone().unwrap_or_else(|| id.get().to_string()))
        }
        _ => return None,
    };
    let sender = match &r.member {
        Some(m) => sender(&m.user, m.nick.as_deref(), is_bridge),
        None => Sender {
            is_bridge,
            ..Sender::person(user.get().to_string(), user.get().to_string())
        },
    };
    Some(Event {
        id: ids::inbound_reaction(r.message_id, user.get(), &key),
        room: room(place),
        sender,
        at_ms: now_ms,
        kind: EventKind::Reaction {
            target: ids::msg_id(r.message_id),
            key,
        },
    })
}
