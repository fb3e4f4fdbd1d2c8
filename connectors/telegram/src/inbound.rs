//! Telegram updates → civicbridge `Event`s. Pure: no I/O, so every rule here is unit-tested on
//! recorded JSON.
//!
//! - `message` → `EventKind::Message`; `edited_message` → `EventKind::Edit`.
//! - A forum topic (`is_topic_message` with `message_thread_id`) is the message's thread. In a
//!   topic, a message that answers nothing carries the topic's creation message as its
//!   `reply_to_message`; that is membership, not a reply, so it is dropped.
//! - Photos (largest size), documents, voice notes, stickers, audio and video become attachments
//!   referenced by `file_id`; the caption is the text.
//! - Messages, edits and reactions in a private chat with the bot (`/start`, anything a person
//!   writes to it) map to nothing: they are not any link's, and never bridged.
//! - Service messages (joins, pins, topic changes) and empty messages map to nothing. Other update
//!   kinds map to nothing. Telegram never reports deletions to bots: takedown from the moderation
//!   side is the removal path.
//! - A message whose sender is the bot itself is marked `is_bridge`.
//! - `message_reaction` (a person's reactions on a message, old and new) → one `Reaction` per
//!   emoji added and one `ReactionRemoved` per emoji removed (removals first), from `user`, or
//!   from `actor_chat` (an anonymous admin or a channel: the sender is that chat). Custom emoji
//!   and paid reactions are not carried. Reactions of the bot itself would be `is_bridge`
//!   (Telegram does not send them). At most [`MAX_REACTIONS`] keys are read from each side.
//! - `message_reaction_count` (anonymous reactions) → `ReactionCounts` with the emoji totals;
//!   the sender is the chat.
//! - Event ids are `tg:<chat>:<message>:react:<update_id>:<n>` and
//!   `tg:<chat>:<message>:counts:<update_id>`: unique per event, the same on a replay.
//! - [`parse_update`] reads one update from JSON without trusting its shape: teloxide's parser
//!   panics on a `message_reaction` naming neither `user` nor `actor_chat`.

use crate::format::from_telegram;
use crate::ids;
use civicbridge_api::{
    Attachment, AttachmentKind, Event, EventKind, Message, ReactionCount, RemoteUserId, RoomRef,
    Sender,
};
use teloxide::types::{
    AllowedUpdate, Chat, MaybeAnonymousUser, Message as TgMessage, MessageKind,
    MessageReactionCountUpdated, MessageReactionUpdated, ReactionType, Update, UpdateKind, UserId,
};

/// The update types the connector asks Telegram for, polling and webhook alike.
pub const ALLOWED_UPDATES: [AllowedUpdate; 4] = [
    AllowedUpdate::Message,
    AllowedUpdate::EditedMessage,
    AllowedUpdate::MessageReaction,
    AllowedUpdate::MessageReactionCount,
];

/// The most reaction keys read from one list of an update (a person holds a few; a message
/// shows at most the 73 of Telegram's set). More is hostile and cut.
pub const MAX_REACTIONS: usize = 80;

/// One update from its JSON, or why it cannot be read. Never panics: teloxide's own parser
/// does on a `message_reaction` without `user` and `actor_chat`, which is refused here first.
pub fn parse_update(raw: &serde_json::Value) -> Result<Update, String> {
    if let Some(r) = raw.get("message_reaction") {
        let named = |k: &str| r.get(k).is_some_and(serde_json::Value::is_object);
        if !named("user") && !named("actor_chat") {
            return Err("a message_reaction naming neither user nor actor_chat".into());
        }
    }
    // From text, not from the value: teloxide reads an update's kind as a borrowed key, which
    // a `Value` cannot lend (every update would then read as `UpdateKind::Error`).
    let text = raw.to_string();
    let parsed = std::panic::catch_unwind(|| serde_json::from_str::<Update>(&text));
    match parsed {
        Ok(Ok(u)) => Ok(u),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the update's parser panicked".into()),
    }
}

/// Every event an update means, in order (a reaction update may mean several). Nothing from a
/// private chat: people write to the bot there to start it (`/start`), and that is never
/// bridged; no link can name a private chat either (the bot cannot be added to one).
pub fn to_events(update: &Update, bot: UserId) -> Vec<Event> {
    if in_private_chat(update) {
        return Vec::new();
    }
    match &update.kind {
        UpdateKind::MessageReaction(r) => reaction_events(update.id.0, r, bot),
        UpdateKind::MessageReactionCount(c) => vec![counts_event(update.id.0, c)],
        _ => to_event(update, bot).into_iter().collect(),
    }
}

/// The emoji of a reaction list, each once, in order, at most [`MAX_REACTIONS`].
fn emoji_keys(list: &[ReactionType]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for e in list.iter().filter_map(ReactionType::emoji) {
        if out.len() >= MAX_REACTIONS {
            break;
        }
        if !e.is_empty() && !out.contains(&e.as_str()) {
            out.push(e);
        }
    }
    out
}

fn room(chat: &Chat) -> RoomRef {
    RoomRef {
        platform: crate::PLATFORM,
        room: ids::room_id(chat.id),
    }
}

/// A chat acting as a sender (an anonymous admin, a channel, or the chat counting).
fn chat_sender(chat: &Chat) -> Sender {
    Sender::person(chat.id.0.to_string(), chat.title().unwrap_or("Group admin"))
}

fn reaction_events(update: u32, r: &MessageReactionUpdated, bot: UserId) -> Vec<Event> {
    let sender = match &r.actor {
        MaybeAnonymousUser::User(u) => Sender {
            is_bridge: u.id == bot,
            ..Sender::person(u.id.0.to_string(), u.full_name())
        },
        MaybeAnonymousUser::Chat(c) => chat_sender(c),
    };
    let old = emoji_keys(&r.old_reaction);
    let new = emoji_keys(&r.new_reaction);
    let target = ids::remote_msg_id(r.message_id);
    let removed = old
        .iter()
        .filter(|k| !new.contains(k))
        .map(|k| EventKind::ReactionRemoved {
            target: target.clone(),
            key: (*k).to_owned(),
        });
    let added = new
        .iter()
        .filter(|k| !old.contains(k))
        .map(|k| EventKind::Reaction {
            target: target.clone(),
            key: (*k).to_owned(),
            id: None,
        });
    removed
        .chain(added)
        .enumerate()
        .map(|(n, kind)| Event {
            id: ids::inbound_reaction(r.chat.id, r.message_id, update, n),
            room: room(&r.chat),
            sender: sender.clone(),
            at_ms: u64::try_from(r.date.timestamp_millis()).unwrap_or(0),
            kind,
        })
        .collect()
}

fn counts_event(update: u32, c: &MessageReactionCountUpdated) -> Event {
    let mut counts: Vec<ReactionCount> = Vec::new();
    for r in &c.reactions {
        let Some(key) = r.r#type.emoji().filter(|e| !e.is_empty()) else {
            continue;
        };
        let n = u32::try_from(r.total_count).unwrap_or(u32::MAX);
        if let Some(k) = counts.iter_mut().find(|k| k.key == *key) {
            k.count = k.count.saturating_add(n);
        } else if counts.len() < MAX_REACTIONS {
            counts.push(ReactionCount {
                key: key.clone(),
                count: n,
            });
        }
    }
    Event {
        id: ids::inbound_counts(c.chat.id, c.message_id, update),
        room: room(&c.chat),
        sender: chat_sender(&c.chat),
        at_ms: u64::try_from(c.date.timestamp_millis()).unwrap_or(0),
        kind: EventKind::ReactionCounts {
            target: ids::remote_msg_id(c.message_id),
            counts,
        },
    }
}

/// Whether the update happened in a private chat with the bot (see [`to_events`]).
fn in_private_chat(update: &Update) -> bool {
    update.chat().is_some_and(Chat::is_private)
}

/// The event a message or edit update means, if any (see [`to_events`] for every kind).
pub fn to_event(update: &Update, bot: UserId) -> Option<Event> {
    if in_private_chat(update) {
        return None;
    }
    match &update.kind {
        UpdateKind::Message(m) => {
            let msg = message(m)?;
            Some(event(
                m,
                bot,
                ids::inbound_message(m.chat.id, m.id),
                EventKind::Message(msg),
            ))
        }
        UpdateKind::EditedMessage(m) => {
            let new = message(m)?;
            Some(event(
                m,
                bot,
                ids::inbound_edit(m.chat.id, m.id, update.id.0),
                EventKind::Edit {
                    target: ids::remote_msg_id(m.id),
                    new,
                },
            ))
        }
        _ => None,
    }
}

fn event(m: &TgMessage, bot: UserId, id: civicbridge_api::InboundId, kind: EventKind) -> Event {
    let when = m.edit_date().copied().unwrap_or(m.date);
    Event {
        id,
        room: RoomRef {
            platform: crate::PLATFORM,
            room: ids::room_id(m.chat.id),
        },
        sender: sender(m, bot),
        at_ms: u64::try_from(when.timestamp_millis()).unwrap_or(0),
        kind,
    }
}

fn sender(m: &TgMessage, bot: UserId) -> Sender {
    match (&m.from, &m.sender_chat) {
        // A message "on behalf of" a chat (anonymous admin, linked channel) names the chat.
        (_, Some(chat)) => Sender {
            id: RemoteUserId::new(chat.id.0.to_string()),
            display_name: chat.title().unwrap_or("Group admin").to_owned(),
            avatar_url: None,
            is_bridge: false,
            standing: None,
            authority: Default::default(),
            language: None,
        },
        (Some(u), None) => Sender {
            id: RemoteUserId::new(u.id.0.to_string()),
            display_name: u.full_name(),
            avatar_url: None,
            is_bridge: u.id == bot,
            standing: None,
            authority: Default::default(),
            language: u.language_code.clone(),
        },
        (None, None) => Sender::person("0", "Unknown"),
    }
}

/// The message's content, or `None` for service messages and content the bridge cannot carry.
pub fn message(m: &TgMessage) -> Option<Message> {
    if !matches!(m.kind, MessageKind::Common(_)) {
        return None;
    }
    let text = match (m.text(), m.caption()) {
        (Some(t), _) => from_telegram(t, m.entities().unwrap_or_default()),
        (None, Some(c)) => from_telegram(c, m.caption_entities().unwrap_or_default()),
        (None, None) => Default::default(),
    };
    let attachments = attachments(m);
    if text.is_empty() && attachments.is_empty() {
        return None;
    }
    let thread = m.thread_id.filter(|_| m.is_topic_message);
    let reply_to = m
        .reply_to_message()
        .filter(|r| thread.is_none_or(|t| t.0 != r.id))
        .map(|r| ids::remote_msg_id(r.id));
    Some(Message {
        id: ids::remote_msg_id(m.id),
        text,
        reply_to,
        thread: thread.map(ids::thread),
        attachments,
    })
}

fn attachments(m: &TgMessage) -> Vec<Attachment> {
    let mut out = Vec::new();
    let mut push = |kind, name: String, mime: Option<String>, meta: &teloxide::types::FileMeta| {
        out.push(Attachment {
            kind,
            name,
            mime,
            // `u32::MAX` is teloxide's stand-in for a size Telegram left out.
            size: (meta.size != u32::MAX).then_some(u64::from(meta.size)),
            url: ids::file_ref(&meta.id.0),
        })
    };
    if let Some(sizes) = m.photo() {
        if let Some(p) = sizes
            .iter()
            .max_by_key(|p| (p.width * p.height, p.file.size))
        {
            push(
                AttachmentKind::Image,
                "photo.jpg".into(),
                Some("image/jpeg".into()),
                &p.file,
            );
        }
    }
    if let Some(d) = m.document() {
        let name = d.file_name.clone().unwrap_or_else(|| "file".into());
        push(
            AttachmentKind::File,
            name,
            d.mime_type.as_ref().map(|m| m.to_string()),
            &d.file,
        );
    }
    if let Some(v) = m.voice() {
        let mime = v.mime_type.as_ref().map(|m| m.to_string());
        push(AttachmentKind::Voice, "voice.ogg".into(), mime, &v.file);
    }
    if let Some(s) = m.sticker() {
        push(
            AttachmentKind::Sticker,
            "sticker.webp".into(),
            Some("image/webp".into()),
            &s.file,
        );
    }
    if let Some(a) = m.audio() {
        let name = a.file_name.clone().unwrap_or_else(|| "audio".into());
        push(
            AttachmentKind::Audio,
            name,
            a.mime_type.as_ref().map(|m| m.to_string()),
            &a.file,
        );
    }
    if let Some(v) = m.video() {
        let name = v.file_name.clone().unwrap_or_else(|| "video.mp4".into());
        push(
            AttachmentKind::Video,
            name,
            v.mime_type.as_ref().map(|m| m.to_string()),
            &v.file,
        );
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use civicbridge_api::{RemoteMsgId, ThreadId};

    const BOT: UserId = UserId(5_000_000_001);

    fn update(json: &str) -> Update {
        serde_json::from_str(json).expect("a recorded update parses")
    }

    const CHAT: &str =
        r#""chat":{"id":-1001234567890,"title":"Residents","type":"supergroup","is_forum":true}"#;
    const ADA: &str =
        r#""from":{"id":42,"is_bot":false,"first_name":"Ada","last_name":"L","username":"ada"}"#;

    #[test]
    fn nothing_in_a_private_chat_is_an_event() {
        let private = r#""chat":{"id":42,"first_name":"Ada","username":"ada","type":"private"}"#;
        for body in [
            format!(
                r#"{{"update_id":11,"message":{{"message_id":1,{ADA},{private},"date":1700000000,
                "text":"/start","entities":[{{"type":"bot_command","offset":0,"length":6}}]}}}}"#
            ),
            format!(
                r#"{{"update_id":12,"edited_message":{{"message_id":2,{ADA},{private},"date":1700000000,
                "edit_date":1700000001,"text":"please relay this"}}}}"#
            ),
            format!(
                r#"{{"update_id":13,"message_reaction":{{{private},"message_id":3,"user":{{"id":42,"is_bot":false,"first_name":"Ada"}},
                "date":1700000000,"old_reaction":[],"new_reaction":[{{"type":"emoji","emoji":"👍"}}]}}}}"#
            ),
        ] {
            let u = update(&body);
            assert!(!matches!(u.kind, UpdateKind::Error(_)), "{body}");
            assert!(to_events(&u, BOT).is_empty(), "{body}");
            assert!(to_event(&u, BOT).is_none(), "{body}");
        }
    }

    #[test]
    fn topic_message_with_reply_and_entities() {
        let u = update(&format!(
            r#"{{"update_id":10,"message":{{"message_id":20,{ADA},{CHAT},"date":1700000000,
            "message_thread_id":5,"is_topic_message":true,
            "reply_to_message":{{"message_id":18,{ADA},{CHAT},"date":1699999990,"message_thread_id":5,"is_topic_message":true,"text":"earlier"}},
            "text":"hi <b> all","entities":[{{"type":"bold","offset":3,"length":3}}]}}}}"#
        ));
        let e = to_event(&u, BOT).expect("a message");
        assert_eq!(e.id.as_str(), "tg:-1001234567890:20");
        assert_eq!(e.room.room.as_str(), "-1001234567890");
        assert_eq!(e.sender.display_name, "Ada L");
        assert_eq!(e.sender.id.as_str(), "42");
        assert!(!e.sender.is_bridge);
        assert_eq!(e.at_ms, 1_700_000_000_000);
        let EventKind::Message(m) = e.kind else {
            panic!("message expected")
        };
        assert_eq!(m.text.to_plain(), "hi <b> all");
        assert!(matches!(&m.text.spans[1], civicbridge_api::Span::Bold(_)));
        assert_eq!(m.reply_to, Some(RemoteMsgId::new("18")));
        assert_eq!(m.thread, Some(ThreadId::new("5")));
    }

    #[test]
    fn topic_root_is_membership_not_a_reply() {
        let u = update(&format!(
            r#"{{"update_id":11,"message":{{"message_id":21,{ADA},{CHAT},"date":1700000000,
            "message_thread_id":5,"is_topic_message":true,
            "reply_to_message":{{"message_id":5,{ADA},{CHAT},"date":1699990000,"message_thread_id":5,"is_topic_message":true,
              "forum_topic_created":{{"name":"Roads","icon_color":7322096}}}},
            "text":"in the topic"}}}}"#
        ));
        let EventKind::Message(m) = to_event(&u, BOT).expect("message").kind else {
            panic!()
        };
        assert_eq!(m.reply_to, None);
        assert_eq!(m.thread, Some(ThreadId::new("5")));
    }

    #[test]
    fn plain_group_reply_has_no_thread() {
        let u = update(&format!(
            r#"{{"update_id":12,"message":{{"message_id":30,{ADA},{CHAT},"date":1700000000,"message_thread_id":29,
            "reply_to_message":{{"message_id":29,{ADA},{CHAT},"date":1699999990,"text":"q"}},"text":"a"}}}}"#
        ));
        let EventKind::Message(m) = to_event(&u, BOT).expect("message").kind else {
            panic!()
        };
        assert_eq!(m.thread, None);
        assert_eq!(m.reply_to, Some(RemoteMsgId::new("29")));
    }

    #[test]
    fn edits_photos_own_messages_and_service_messages() {
        let edit = update(&format!(
            r#"{{"update_id":13,"edited_message":{{"message_id":20,{ADA},{CHAT},"date":1700000000,"edit_date":1700000100,"text":"fixed"}}}}"#
        ));
        let e = to_event(&edit, BOT).expect("edit");
        assert_eq!(e.id.as_str(), "tg:-1001234567890:20:edit:13");
        assert_eq!(e.at_ms, 1_700_000_100_000);
        assert!(
            matches!(e.kind, EventKind::Edit { ref target, ref new } if target.as_str() == "20" && new.text.to_plain() == "fixed")
        );

        let photo = update(&format!(
            r#"{{"update_id":14,"message":{{"message_id":22,{ADA},{CHAT},"date":1700000000,
            "photo":[{{"file_id":"small","file_unique_id":"s","width":90,"height":60,"file_size":900}},
                     {{"file_id":"big","file_unique_id":"b","width":1280,"height":960,"file_size":90000}}],
            "caption":"look"}}}}"#
        ));
        let EventKind::Message(m) = to_event(&photo, BOT).expect("photo").kind else {
            panic!()
        };
        assert_eq!(m.text.to_plain(), "look");
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].kind, AttachmentKind::Image);
        assert_eq!(m.attachments[0].url, "telegram-file:big");
        assert_eq!(m.attachments[0].size, Some(90000));

        let own = update(&format!(
            r#"{{"update_id":15,"message":{{"message_id":23,"from":{{"id":5000000001,"is_bot":true,"first_name":"Civic Bridge","username":"cb_bot"}},{CHAT},"date":1700000000,"text":"echo"}}}}"#
        ));
        assert!(to_event(&own, BOT).expect("own message").sender.is_bridge);

        let join = update(&format!(
            r#"{{"update_id":16,"message":{{"message_id":24,{ADA},{CHAT},"date":1700000000,
            "new_chat_members":[{{"id":42,"is_bot":false,"first_name":"Ada"}}]}}}}"#
        ));
        assert_eq!(to_event(&join, BOT), None);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod reaction_tests {
    use super::*;
    use civicbridge_api::RemoteMsgId;
    use serde_json::json;

    const BOT: UserId = UserId(5_000_000_001);

    fn chat() -> serde_json::Value {
        json!({"id": -1001234567890_i64, "title": "Residents", "type": "supergroup"})
    }

    fn emoji(e: &str) -> serde_json::Value {
        json!({"type": "emoji", "emoji": e})
    }

    fn events(raw: serde_json::Value) -> Vec<Event> {
        to_events(&parse_update(&raw).unwrap(), BOT)
    }

    #[test]
    fn a_change_is_removals_then_additions_with_ids_of_their_own() {
        let e = events(json!({"update_id": 900, "message_reaction": {
            "chat": chat(), "message_id": 20, "date": 1_700_000_000,
            "user": {"id": 42, "is_bot": false, "first_name": "Ada", "last_name": "L"},
            "old_reaction": [emoji("👍"), emoji("🔥")],
            "new_reaction": [emoji("🔥"), emoji("❤"), {"type": "custom_emoji", "custom_emoji_id": "1"}, {"type": "paid"}]
        }}));
        let kinds: Vec<EventKind> = e.iter().map(|e| e.kind.clone()).collect();
        let target = RemoteMsgId::new("20");
        assert_eq!(
            kinds,
            [
                EventKind::ReactionRemoved {
                    target: target.clone(),
                    key: "👍".into()
                },
                EventKind::Reaction {
                    target,
                    key: "❤".into(),
                    id: None
                },
            ]
        );
        assert_eq!(e[0].id.as_str(), "tg:-1001234567890:20:react:900:0");
        assert_eq!(e[1].id.as_str(), "tg:-1001234567890:20:react:900:1");
        assert_eq!(e[0].sender.id.as_str(), "42");
        assert_eq!(e[0].sender.display_name, "Ada L");
        assert_eq!(e[0].at_ms, 1_700_000_000_000);
        assert!(!e[0].sender.is_bridge);
    }

    #[test]
    fn actor_chats_the_bot_and_counts() {
        let anon = events(json!({"update_id": 901, "message_reaction": {
            "chat": chat(), "message_id": 20, "date": 1, "actor_chat": chat(),
            "old_reaction": [], "new_reaction": [emoji("🎉")]
        }}));
        assert_eq!(anon[0].sender.id.as_str(), "-1001234567890");
        assert_eq!(anon[0].sender.display_name, "Residents");

        let own = events(json!({"update_id": 902, "message_reaction": {
            "chat": chat(), "message_id": 20, "date": 1,
            "user": {"id": 5_000_000_001_i64, "is_bot": true, "first_name": "Civic Bridge"},
            "old_reaction": [emoji("👍")], "new_reaction": []
        }}));
        assert!(own[0].sender.is_bridge);

        let counts = events(json!({"update_id": 903, "message_reaction_count": {
            "chat": chat(), "message_id": 20, "date": 1,
            "reactions": [
                {"type": emoji("👍"), "total_count": 5},
                {"type": {"type": "custom_emoji", "custom_emoji_id": "1"}, "total_count": 2},
                {"type": emoji("👍"), "total_count": 1},
                {"type": emoji("🔥"), "total_count": 99_999_999_999_u64}
            ]
        }}));
        assert_eq!(counts.len(), 1);
        assert_eq!(counts[0].id.as_str(), "tg:-1001234567890:20:counts:903");
        let EventKind::ReactionCounts { counts, .. } = &counts[0].kind else {
            panic!("{counts:?}")
        };
        assert_eq!(
            counts,
            &[
                ReactionCount {
                    key: "👍".into(),
                    count: 6
                },
                ReactionCount {
                    key: "🔥".into(),
                    count: u32::MAX
                },
            ]
        );
    }

    #[test]
    fn hostile_updates_are_refused_or_bounded_without_panicking() {
        let nobody = json!({"update_id": 904, "message_reaction": {
            "chat": chat(), "message_id": 20, "date": 1, "old_reaction": [], "new_reaction": []
        }});
        assert!(parse_update(&nobody).is_err());
        let null_user = json!({"update_id": 905, "message_reaction": {
            "chat": chat(), "message_id": 20, "date": 1, "user": null, "old_reaction": [], "new_reaction": []
        }});
        assert!(parse_update(&null_user).is_err());
        let wrong = json!({"update_id": 906, "message_reaction": {"chat": 1, "user": {"id": 1}}});
        assert!(parse_update(&wrong).is_ok_and(|u| matches!(u.kind, UpdateKind::Error(_))));
        assert!(parse_update(&json!("not an update")).is_err());

        let many: Vec<_> = (0..10_000)
            .map(|i| emoji(&format!("e{}", i % 500)))
            .collect();
        let e = events(json!({"update_id": 907, "message_reaction": {
            "chat": chat(), "message_id": 20, "date": 1,
            "user": {"id": 42, "is_bot": false, "first_name": "Ada"},
            "old_reaction": many, "new_reaction": []
        }}));
        assert_eq!(e.len(), MAX_REACTIONS);
        let empty = events(json!({"update_id": 908, "message_reaction": {
            "chat": chat(), "message_id": 20, "date": 1,
            "user": {"id": 42, "is_bot": false, "first_name": "Ada"},
            "old_reaction": [], "new_reaction": []
        }}));
        assert!(empty.is_empty());
    }
}
