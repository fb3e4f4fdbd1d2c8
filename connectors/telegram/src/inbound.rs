//! Telegram updates → civicbridge `Event`s. Pure: no I/O, so every rule here is unit-tested on
//! recorded JSON.
//!
//! - `message` → `EventKind::Message`; `edited_message` → `EventKind::Edit`.
//! - A forum topic (`is_topic_message` with `message_thread_id`) is the message's thread. In a
//!   topic, a message that answers nothing carries the topic's creation message as its
//!   `reply_to_message`; that is membership, not a reply, so it is dropped.
//! - Photos (largest size), documents, voice notes, stickers, audio and video become attachments
//!   referenced by `file_id`; the caption is the text.
//! - Service messages (joins, pins, topic changes) and empty messages map to nothing. Other update
//!   kinds map to nothing. Telegram never reports deletions to bots: takedown from the moderation
//!   side is the removal path.
//! - A message whose sender is the bot itself is marked `is_bridge`.

use crate::format::from_telegram;
use crate::ids;
use civicbridge_api::{
    Attachment, AttachmentKind, Event, EventKind, Message, RemoteUserId, RoomRef, Sender,
};
use teloxide::types::{Message as TgMessage, MessageKind, Update, UpdateKind, UserId};

/// The event an update means, if any.
pub fn to_event(update: &Update, bot: UserId) -> Option<Event> {
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
        },
        (Some(u), None) => Sender {
            id: RemoteUserId::new(u.id.0.to_string()),
            display_name: u.full_name(),
            avatar_url: None,
            is_bridge: u.id == bot,
            standing: None,
            authority: Default::default(),
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
