//! serenity's gateway models → the bridge's `Event`s. Pure: every lookup (is this channel a
//! thread, is this webhook ours) is resolved by the caller and passed in as a [`Place`] and a flag.

use crate::format;
use crate::ids;
use civicbridge_api::{
    Attachment, AttachmentKind, Authority, Event, EventKind, Message, RemoteUserId, RichText,
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
    RoomRef::new(crate::PLATFORM, p.room.get().to_string())
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
        standing: None,
        authority: Authority::Member,
        language: None,
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

fn attachment(a: &DAttachment, voice: bool, msg: MessageId) -> Attachment {
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
        url: attachment_ref(&a.url, msg),
    }
}

fn attachments(
    list: &[DAttachment],
    flags: Option<MessageFlags>,
    msg: MessageId,
) -> Vec<Attachment> {
    let voice = flags.is_some_and(|f| f.contains(MessageFlags::IS_VOICE_MESSAGE));
    list.iter().map(|a| attachment(a, voice, msg)).collect()
}

/// The reference an `Attachment` carries: Discord's CDN URL (fetchable without the token, so no
/// secret in it) with the message id in the fragment, because CDN links expire after about a day
/// and a message held for approval may be fetched later: the message gives fresh links.
pub fn attachment_ref(cdn_url: &str, msg: MessageId) -> String {
    format!("{cdn_url}#message={msg}")
}

/// `(download URL, channel, attachment id, message)` from a reference made by `attachment_ref`.
pub fn parse_attachment_ref(r: &str) -> Option<(String, u64, u64, Option<u64>)> {
    let (url, fragment) = match r.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (r, None),
    };
    let path = url.split("/attachments/").nth(1)?;
    let mut parts = path.split('/');
    let channel = parts.next()?.parse().ok()?;
    let id = parts.next()?.parse().ok()?;
    let msg = fragment
        .and_then(|f| f.strip_prefix("message="))
        .and_then(|m| m.parse().ok());
    Some((url.to_owned(), channel, id, msg))
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
            attachments: attachments(&m.attachments, m.flags, m.id),
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
        // Discord only lets authors edit their messages.
        None => Sender {
            is_bridge,
            authority: Authority::PlatformChecked,
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
                    .map(|a| attachments(a, flags, e.id))
                    .unwrap_or_default(),
            },
        },
    })
}

/// A deletion. Discord does not say who deleted (only the author or a member with Manage
/// Messages can), so the sender is nobody, vouched for by the platform; `is_bridge` is set when
/// the bridge did.
pub fn delete_event(message: MessageId, place: &Place, is_bridge: bool, now_ms: u64) -> Event {
    Event {
        id: ids::inbound_delete(message),
        room: room(place),
        sender: Sender {
            is_bridge,
            authority: Authority::PlatformChecked,
            ..Sender::person("0", "unknown")
        },
        at_ms: now_ms,
        kind: EventKind::Delete {
            target: ids::msg_id(message),
        },
    }
}

/// A reaction added (MESSAGE_REACTION_ADD) or removed (MESSAGE_REACTION_REMOVE), with
/// `occurrence` from [`ids::occurrence`] to tell repeated occurrences apart. The key is the
/// Unicode emoji, or `:name:` for a custom one, for adds and removes alike. The sender is the
/// user whose reaction it is (for a removal: whose reaction went, whether they took it back or
/// a moderator removed it); an add carries the member, a removal only the user's id, which is
/// then the display name too. `is_bridge` when it is the bot's.
///
/// Not reported: MESSAGE_REACTION_REMOVE_ALL and MESSAGE_REACTION_REMOVE_EMOJI (a moderator
/// clearing a message's reactions, or one emoji's). They do not say whose reactions went, and
/// `ReactionRemoved` needs the reactor; the connector keeps no reaction state to name them. The
/// bridged copies then keep the bot's reactions for them until the message is gone.
pub fn reaction_event(
    r: &Reaction,
    change: ids::ReactionChange,
    place: &Place,
    is_bridge: bool,
    now_ms: u64,
    occurrence: &str,
) -> Option<Event> {
    let user = r.user_id?;
    let key = reaction_key(&r.emoji)?;
    let sender = match &r.member {
        Some(m) => sender(&m.user, m.nick.as_deref(), is_bridge),
        None => Sender {
            is_bridge,
            ..Sender::person(user.get().to_string(), user.get().to_string())
        },
    };
    let target = ids::msg_id(r.message_id);
    let id = ids::inbound_reaction(r.message_id, user.get(), &key, change, occurrence);
    let kind = match change {
        ids::ReactionChange::Added => EventKind::Reaction {
            target,
            key,
            id: None,
        },
        ids::ReactionChange::Removed => EventKind::ReactionRemoved { target, key },
    };
    Some(Event {
        id,
        room: room(place),
        sender,
        at_ms: now_ms,
        kind,
    })
}

/// A reaction's key: the Unicode emoji, or `:name:` for a custom one (`:id:` if nameless).
pub fn reaction_key(emoji: &ReactionType) -> Option<String> {
    match emoji {
        ReactionType::Unicode(s) => Some(s.clone()),
        ReactionType::Custom { name, id, .. } => Some(format!(
            ":{}:",
            name.clone().unwrap_or_else(|| id.get().to_string())
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    //! Conversions of payloads as the local Discord builds them (the same JSON the gateway
    //! sends), parsed by serenity's own models.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use civicbridge_api::Span;
    use civicbridge_testkit::discord::payloads;
    use civicbridge_testkit::discord::state::{Author, State, GUILD_TEXT, PUBLIC_THREAD};
    use serenity::model::prelude::{Guild, Ready};

    fn world() -> (State, u64, u64, u64) {
        let mut st = State::new("t".into(), "http://127.0.0.1:1".into());
        let g = st.add_guild("Council");
        let c = st.add_channel(g, "general", GUILD_TEXT, None, None);
        let u = st.add_user("ada", Some("Ada"), Some("0123456789abcdef0123456789abcdef"));
        (st, g, c, u)
    }

    fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v.clone())
            .unwrap_or_else(|e| panic!("serenity cannot parse: {e}\n{v:#}"))
    }

    /// Discord's MESSAGE_DELETE names nobody; only the author or a member with Manage
    /// Messages can delete, so the event is vouched for by the platform, with no person.
    #[test]
    fn a_deletion_names_nobody_and_is_vouched_for_by_the_platform() {
        let place = Place::of(ChannelId::new(5), None, None);
        let e = delete_event(MessageId::new(9), &place, false, 0);
        assert_eq!(e.sender.authority, Authority::PlatformChecked);
        assert_eq!(e.sender.id.as_str(), "0");
        assert_eq!(
            e.kind,
            EventKind::Delete {
                target: ids::msg_id(MessageId::new(9))
            }
        );
    }

    #[test]
    fn ready_and_guild_create_parse_in_serenity() {
        let (st, g, c, _) = world();
        let ready: Ready = parse(payloads::ready(&st, "s1"));
        assert_eq!(ready.user.id.get(), st.bot_id);
        let guild: Guild = parse(payloads::guild_create(&st, g));
        assert!(guild.channels.contains_key(&ChannelId::new(c)));
    }

    #[test]
    fn a_message_with_mention_reply_and_file_becomes_an_event() {
        let (mut st, _, c, u) = world();
        let root = st.add_message(c, Author::User(u), "root", None, Vec::new(), None, None);
        let files = vec![(
            "v.ogg".to_owned(),
            Some("audio/ogg".to_owned()),
            b"x".to_vec(),
        )];
        let text = format!("hi <@{u}> **there**");
        let m = st.add_message(c, Author::User(u), &text, Some(root), files, None, None);
        let msg: DMessage = parse(payloads::message_dispatch(&st, m));
        let place = Place::of(msg.channel_id, None, Some(msg.id));
        let e = message_event(&msg, &place, false);
        assert_eq!(e.id.as_str(), format!("discord:msg:{m}"));
        assert_eq!(e.sender.display_name, "Ada");
        assert!(e
            .sender
            .avatar_url
            .unwrap()
            .contains("0123456789abcdef0123456789abcdef"));
        let EventKind::Message(body) = e.kind else {
            panic!()
        };
        assert_eq!(body.reply_to.unwrap().as_str(), root.to_string());
        assert_eq!(
            body.text.spans,
            vec![
                Span::Text("hi ".into()),
                Span::Mention {
                    user: Some(RemoteUserId::new(u.to_string())),
                    name: "Ada".into()
                },
                Span::Text(" ".into()),
                Span::Bold(vec![Span::Text("there".into())]),
            ]
        );
        assert_eq!(body.attachments[0].kind, AttachmentKind::Audio);
        let (url, channel, _, msg) = parse_attachment_ref(&body.attachments[0].url).unwrap();
        assert!(url.contains("/v.ogg?"));
        assert_eq!((channel, msg), (c, Some(m)));
    }

    #[test]
    fn thread_messages_belong_to_the_thread_and_roots_do_not() {
        let (mut st, g, c, u) = world();
        let root = st.add_message(c, Author::User(u), "root", None, Vec::new(), None, None);
        st.insert_channel(root, g, "t", PUBLIC_THREAD, Some(c), Some(u));
        let inner = st.add_message(root, Author::User(u), "in", None, Vec::new(), None, None);
        let thread = ChannelId::new(root);
        let p = Place::of(thread, Some(ChannelId::new(c)), Some(MessageId::new(inner)));
        assert_eq!(
            p,
            Place {
                room: ChannelId::new(c),
                thread: Some(thread)
            }
        );
        // A forum post's starter shares the thread's id: it is the root.
        let p = Place::of(thread, Some(ChannelId::new(c)), Some(MessageId::new(root)));
        assert_eq!(p.thread, None);
    }

    #[test]
    fn edits_without_text_are_not_edits_and_webhook_posts_use_their_name() {
        let (mut st, _, c, u) = world();
        let m = st.add_message(c, Author::User(u), "before", None, Vec::new(), None, None);
        st.edit_message(m, "after", None);
        let upd: MessageUpdateEvent = parse(payloads::message_dispatch(&st, m));
        let place = Place::of(upd.channel_id, None, None);
        let e = edit_event(&upd, &place, false).unwrap();
        assert!(e.id.as_str().starts_with(&format!("discord:edit:{m}:")));
        // An embed-only update carries no content.
        let mut bare = payloads::message_dispatch(&st, m);
        bare.as_object_mut().unwrap().remove("content");
        let upd: MessageUpdateEvent = parse(bare);
        assert!(edit_event(&upd, &place, false).is_none());

        let hook = st.add_webhook(c, 0, "civicbridge", st.bot_id);
        let author = Author::Webhook {
            webhook_id: hook,
            username: "Tom (Telegram)".into(),
            avatar_url: None,
        };
        let w = st.add_message(c, author, "relayed", None, Vec::new(), None, None);
        let msg: DMessage = parse(payloads::message_dispatch(&st, w));
        assert_eq!(msg.webhook_id.map(|h| h.get()), Some(hook));
        let e = message_event(&msg, &Place::of(msg.channel_id, None, None), true);
        assert_eq!(e.sender.display_name, "Tom (Telegram)");
        assert!(e.sender.is_bridge);
    }
}
