//! Telegram ids inside civicbridge's opaque ids. Only this connector builds or parses them.
//!
//! - `RoomId`: the chat id as a decimal integer (`-1001234567890`).
//! - `RemoteMsgId`: the message id within its chat (`42`).
//! - `ThreadId`: the forum topic's `message_thread_id` (`7`).
//! - `InboundId`: `tg:<chat>:<message>` for a message, `tg:<chat>:<message>:edit:<update_id>` for
//!   an edit, so a replayed update carries the same id and two edits differ;
//!   `tg:<chat>:<message>:react:<update_id>:<n>` for the `n`th reaction change of an update and
//!   `tg:<chat>:<message>:counts:<update_id>` for anonymous counts.
//! - `Attachment::url`: `telegram-file:<file_id>`; never a download URL (that embeds the token).
//! - `RemoteUserId`: the user id (`Sender::id`), a positive integer; the private chat with a
//!   user has the same id ([`user_chat`]).

use civicbridge_api::{ConnectorError, InboundId, RemoteMsgId, RemoteUserId, RoomId, ThreadId};
use teloxide::types::{ChatId, MessageId, ThreadId as TgThreadId};

const FILE_PREFIX: &str = "telegram-file:";

pub fn chat_id(room: &RoomId) -> Result<ChatId, ConnectorError> {
    room.as_str()
        .parse()
        .map(ChatId)
        .map_err(|_| ConnectorError::Rejected(format!("`{room}` is not a Telegram chat id")))
}

/// The private chat with a person: Telegram gives it the user's id. A chat acting as a sender
/// (an anonymous admin, a channel: a negative id) has no private chat, so it is refused here.
pub fn user_chat(user: &RemoteUserId) -> Result<ChatId, ConnectorError> {
    match user.as_str().parse::<i64>() {
        Ok(id) if id > 0 => Ok(ChatId(id)),
        _ => Err(ConnectorError::Rejected(format!(
            "`{user}` is not a Telegram user id: only people have private chats"
        ))),
    }
}

pub fn room_id(chat: ChatId) -> RoomId {
    RoomId::new(chat.0.to_string())
}

/// `https://t.me/c/CHAT/MSG` for a supergroup `-100CHAT` (what Telegram's "copy link" gives
/// its members); ordinary groups and private chats have no message links.
pub fn message_url(room: &RoomId, id: &RemoteMsgId) -> Option<String> {
    let chat = room.as_str().strip_prefix("-100")?;
    let chat: u64 = chat.parse().ok()?;
    let msg: u64 = id.as_str().parse().ok()?;
    Some(format!("https://t.me/c/{chat}/{msg}"))
}

pub fn message_id(id: &RemoteMsgId) -> Result<MessageId, ConnectorError> {
    id.as_str()
        .parse()
        .map(MessageId)
        .map_err(|_| ConnectorError::Rejected(format!("`{id}` is not a Telegram message id")))
}

pub fn remote_msg_id(id: MessageId) -> RemoteMsgId {
    RemoteMsgId::new(id.0.to_string())
}

pub fn thread_id(id: &ThreadId) -> Result<TgThreadId, ConnectorError> {
    id.as_str()
        .parse()
        .map(|n| TgThreadId(MessageId(n)))
        .map_err(|_| ConnectorError::Rejected(format!("`{id}` is not a Telegram topic id")))
}

pub fn thread(id: TgThreadId) -> ThreadId {
    ThreadId::new(id.0 .0.to_string())
}

pub fn inbound_message(chat: ChatId, id: MessageId) -> InboundId {
    InboundId::new(format!("tg:{}:{}", chat.0, id.0))
}

pub fn inbound_edit(chat: ChatId, id: MessageId, update: u32) -> InboundId {
    InboundId::new(format!("tg:{}:{}:edit:{update}", chat.0, id.0))
}

pub fn inbound_reaction(chat: ChatId, id: MessageId, update: u32, n: usize) -> InboundId {
    InboundId::new(format!("tg:{}:{}:react:{update}:{n}", chat.0, id.0))
}

pub fn inbound_counts(chat: ChatId, id: MessageId, update: u32) -> InboundId {
    InboundId::new(format!("tg:{}:{}:counts:{update}", chat.0, id.0))
}

pub fn file_ref(file_id: &str) -> String {
    format!("{FILE_PREFIX}{file_id}")
}

pub fn file_id(reference: &str) -> Option<&str> {
    reference
        .strip_prefix(FILE_PREFIX)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_supergroup_message_url_reads_back_as_the_same_message() {
        use civicbridge_api::PlatformFactory;
        let room = RoomId::new("-1001234567890");
        let id = RemoteMsgId::new("45");
        let url = message_url(&room, &id).unwrap();
        assert_eq!(url, "https://t.me/c/1234567890/45");
        let back = crate::TelegramFactory.message_link(&url).unwrap();
        assert_eq!((back.room, back.msg), (Some(room), id));
        // An ordinary group, a private chat and hostile ids have no link.
        assert_eq!(
            message_url(&RoomId::new("-4567"), &RemoteMsgId::new("1")),
            None
        );
        assert_eq!(
            message_url(&RoomId::new("42"), &RemoteMsgId::new("1")),
            None
        );
        assert_eq!(
            message_url(&RoomId::new("-100/../x"), &RemoteMsgId::new("1")),
            None
        );
        assert_eq!(
            message_url(&RoomId::new("-1001"), &RemoteMsgId::new("1/../../x")),
            None
        );
    }

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let room = room_id(ChatId(-1001));
        assert_eq!(chat_id(&room), Ok(ChatId(-1001)));
        assert!(matches!(
            chat_id(&RoomId::new("!x:y")),
            Err(ConnectorError::Rejected(_))
        ));
        assert_eq!(message_id(&remote_msg_id(MessageId(7))), Ok(MessageId(7)));
        assert_eq!(
            thread_id(&thread(TgThreadId(MessageId(3)))),
            Ok(TgThreadId(MessageId(3)))
        );
        assert_eq!(file_id(&file_ref("AgAC")), Some("AgAC"));
        assert_eq!(file_id("https://api.telegram.org/file/bot1:x/a"), None);
    }

    #[test]
    fn only_people_have_private_chats() {
        assert_eq!(user_chat(&RemoteUserId::new("42")), Ok(ChatId(42)));
        for not_a_person in ["-1001", "0", "", "ada", "99999999999999999999"] {
            assert!(
                matches!(
                    user_chat(&RemoteUserId::new(not_a_person)),
                    Err(ConnectorError::Rejected(_))
                ),
                "{not_a_person:?}"
            );
        }
    }
}
